"""The leads pages over HTTP: the board by stage with freshness as icon and word, a new lead, moves
from a card, conversion (and its refusal at the patient limit), duplicates, roles, Catalan."""

from __future__ import annotations

import re

from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import in_tenant
from tests.web.conftest import Browser


def column(html: str, stage: str) -> str:
    """The HTML of one board column."""
    match = re.search(rf'<section class="board-column" data-stage="{stage}".*?</section>', html, re.S)
    assert match, stage
    return match.group(0)


async def test_board_new_lead_move_and_convert(client, db, browser: Browser):
    org = await signup(client, tier="BUILDER")
    await browser.login(org.owner_email)
    board = await browser.get(f"/o/{org.slug}/leads")
    assert board.status_code == 200 and "No leads yet" in board.text
    assert f'href="/o/{org.slug}/leads"' in board.text  # in the navigation

    new = f"/o/{org.slug}/leads/new"
    refused = await browser.submit(new, {"first_name": "Nora", "last_name": "Puig", "phone": "12", "source": "AD",
                                         "email": "", "language": "", "time_zone": "", "notes": "", "assigned_to": ""})
    assert refused.status_code == 422 and 'value="Nora"' in refused.text and 'id="e-phone"' in refused.text  # nothing typed lost
    created = await browser.submit(new, {"first_name": "Nora", "last_name": "Puig", "phone": "+34 655 44 33 22", "source": "AD",
                                         "email": "nora@example.org", "language": "", "time_zone": "", "notes": "Asked about groups",
                                         "assigned_to": ""})
    assert created.status_code == 303, created.text
    lead_id = created.headers["location"].rsplit("/", 1)[1]
    detail = await browser.get(created.headers["location"])
    assert detail.status_code == 200 and "Nora Puig" in detail.text and "https://wa.me/34655443322?text=" in detail.text

    board = await browser.get(f"/o/{org.slug}/leads")
    new_column = column(board.text, "NEW")
    assert "Nora Puig" in new_column and "Advert" in new_column
    assert 'class="badge fresh fresh-green"' in new_column and "Fresh" in new_column  # icon + word, not colour alone
    assert 'draggable="true"' in new_column and 'name="stage"' in new_column and "leads-board.js" in board.text

    moved = await browser.submit(f"/o/{org.slug}/leads/{lead_id}/move", {"stage": "QUALIFIED", "reason": ""}, form_page=f"/o/{org.slug}/leads")
    assert moved.status_code == 303
    board = await browser.get(f"/o/{org.slug}/leads")
    assert "Nora Puig" in column(board.text, "QUALIFIED") and "Nora Puig" not in column(board.text, "NEW")
    lost = await browser.submit(f"/o/{org.slug}/leads/{lead_id}/move", {"stage": "LOST", "reason": ""}, form_page=f"/o/{org.slug}/leads")
    assert lost.status_code == 422 and "reason" in lost.text.lower()

    # at the patient limit the conversion is refused with the reason, and nothing changes
    for i in range(3):
        assert (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": f"P{i}"}, headers=org.headers)).status_code == 201
    at_limit = await browser.submit(f"/o/{org.slug}/leads/{lead_id}/convert", {"back": "detail"}, form_page=f"/o/{org.slug}/leads/{lead_id}")
    assert at_limit.status_code == 403 and "BUILDER" in at_limit.text and "Nora Puig" in at_limit.text
    assert (await in_tenant(db, org.slug, "SELECT stage FROM leads WHERE id = :i", {"i": lead_id})) == [("QUALIFIED",)]
    patients = (await client.get(f"/api/v1/orgs/{org.slug}/patients", headers=org.headers)).json()["items"]
    await client.post(f"/api/v1/orgs/{org.slug}/patients/{patients[0]['id']}/archive", headers=org.headers)
    converted = await browser.submit(f"/o/{org.slug}/leads/{lead_id}/convert", {}, form_page=f"/o/{org.slug}/leads")
    assert converted.status_code == 303 and f"/o/{org.slug}/people/" in converted.headers["location"]
    person = await browser.get(converted.headers["location"])
    assert person.status_code == 200 and "Nora" in person.text and "Asked about groups" in person.text  # intake notes


async def test_duplicates_on_the_detail_page_and_roles(client, db, browser: Browser):
    org = await signup(client, tier="PRO")
    _, _, _ = await add_member(client, db, org, "ASSISTANT")
    therapist_email, therapist, _ = await add_member(client, db, org, "THERAPIST")
    base = f"/api/v1/orgs/{org.slug}/leads"
    older = (await client.post(base, json={"first_name": "Eva", "email": "eva@example.org"}, headers=org.headers)).json()
    newer = (await client.post(base, json={"first_name": "Eva M", "email": "EVA@example.org", "notes": "web"}, headers=org.headers)).json()
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/leads/{newer['id']}")
    assert "Possible duplicates" in page.text and "same email" in page.text and "Merge into the older lead" in page.text
    dup = newer["duplicates"][0]["id"]
    merged = await browser.submit(f"/o/{org.slug}/leads/{newer['id']}/duplicates/{dup}/merge", {}, form_page=f"/o/{org.slug}/leads/{newer['id']}")
    assert merged.status_code == 303 and merged.headers["location"].endswith(older["id"])
    board = await browser.get(f"/o/{org.slug}/leads")
    assert "Eva M" not in board.text and board.text.count('<li class="lead-card') == 1

    therapist_browser = Browser(browser.http)
    await browser.http.post("/logout", data={"_csrf_token": await browser.csrf(f"/o/{org.slug}/leads")})
    await therapist_browser.login(therapist_email)
    assert (await therapist_browser.get(f"/o/{org.slug}/leads")).status_code == 403
    dashboard = await therapist_browser.get(f"/o/{org.slug}/")
    assert f'href="/o/{org.slug}/leads"' not in dashboard.text  # the navigation offers no locked link


async def test_board_in_catalan(client, db, browser: Browser):
    org = await signup(client)
    await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"locale": "ca"}, headers=org.headers)
    ghost = (await client.post(f"/api/v1/orgs/{org.slug}/leads", json={"first_name": "Pau", "phone": "612 34 56 78"},
                               headers=org.headers)).json()
    await in_tenant(db, org.slug, "UPDATE leads SET created_at = now() - interval '8 days' WHERE id = :i", {"i": ghost["id"]})
    await browser.login(org.owner_email)
    await browser.submit(f"/o/{org.slug}/profile", {"display_name": "Owner", "language": "ca", "time_zone": ""})
    board = await browser.get(f"/o/{org.slug}/leads")
    assert board.status_code == 200
    assert "Fantasma" in board.text and "Nou" in column(board.text, "NEW")
    assert "https://wa.me/34612345678?text=Hola%20Pau" in board.text


async def test_the_lead_page_records_sms_consent(client, db, browser: Browser):
    org = await signup(client)
    made = await client.post(f"/api/v1/orgs/{org.slug}/leads", json={"first_name": "Nil", "phone": "+34 600 11 22 33"},
                             headers=org.headers)
    lead_id = made.json()["id"]
    await browser.login(org.owner_email)
    base = f"/o/{org.slug}/leads/{lead_id}"
    page = await browser.get(base)
    assert 'id="sms-heading"' in page.text and "Not recorded yet. Without consent no SMS is sent." in page.text
    bad = await browser.submit(f"{base}/sms-consent", {"given": "true", "method": "sms-start"}, form_page=base)
    assert bad.status_code == 422 and 'id="e-method"' in bad.text
    missing = await browser.submit(f"{base}/sms-consent", {"method": "verbal"}, form_page=base)
    assert missing.status_code == 422 and 'id="e-sms-given"' in missing.text
    saved = await browser.submit(f"{base}/sms-consent", {"given": "true", "method": "written"}, form_page=base)
    assert saved.status_code == 303 and saved.headers["location"].endswith("#sms")
    assert "<strong>Given</strong> — Written" in (await browser.get(base)).text
    withdrawn = await browser.submit(f"{base}/sms-consent", {"given": "false", "method": "verbal"}, form_page=base)
    assert withdrawn.status_code == 303
    state = (await client.get(f"/api/v1/orgs/{org.slug}/leads/{lead_id}/sms-consent", headers=org.headers)).json()
    assert [(h["given"], h["method"]) for h in state["history"]] == [(True, "written"), (False, "verbal")]
    therapist, _, _ = await add_member(client, db, org, "THERAPIST")
    await browser.login(therapist)
    assert (await browser.get(base)).status_code == 403
