"""The people-in-care pages and the Soul Record over HTTP: roles, forms, hostile input, the plan's
limit, the journal (write, sign, amend) and what an assistant never sees."""

from __future__ import annotations

import re
import uuid

import pytest

from tests.conftest import Org, add_member, bearer, signup
from tests.web.conftest import Browser

#: the headings and words of the clinical parts of the person's page (never on an assistant's page)
CLINICAL_WORDS = ("Clinical profile", "Journal", "AI analyses", "Medical history", "Risk notes", "Write a journal entry",
                  "Sign and lock", "/journal", "/analyses", "/export", "/clinical")


async def _patient(client, org: Org, first: str = "Ada", last: str = "Lovelace", **extra) -> str:
    response = await client.post(
        f"/api/v1/orgs/{org.slug}/patients", json={"first_name": first, "last_name": last, **extra}, headers=org.headers
    )
    assert response.status_code == 201, response.text
    return response.json()["id"]


async def _total(client, org: Org, **params) -> int:
    response = await client.get(f"/api/v1/orgs/{org.slug}/patients", params=params, headers=org.headers)
    assert response.status_code == 200, response.text
    return response.json()["total"]


@pytest.fixture
async def team(client, db):
    """A PRO organization with a therapist and an assistant: (org, {role: (email, headers, user_id)})."""
    org = await signup(client, tier="PRO")
    members = {}
    for role in ("THERAPIST", "ASSISTANT"):
        email, tokens, user_id = await add_member(client, db, org, role)
        members[role] = (email, bearer(tokens["access_token"]), user_id)
    return org, members


# -- list and creation ----------------------------------------------------------------------------


async def test_an_empty_list_says_what_to_do_first(client, browser: Browser):
    org = await signup(client)
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/people")
    assert page.status_code == 200, page.text
    assert "No patients yet — add one." in page.text
    assert f'href="/o/{org.slug}/people/new"' in page.text


async def test_the_owner_adds_a_patient_through_the_form(client, browser: Browser):
    org = await signup(client)
    await browser.login(org.owner_email)
    response = await browser.submit(
        f"/o/{org.slug}/people",
        {"first_name": "Grace", "last_name": "Hopper", "email": "grace@example.org", "tags": "navy, cobol", "journey_stage": "intake"},
        form_page=f"/o/{org.slug}/people/new",
    )
    assert response.status_code == 303, response.text
    location = response.headers["location"]
    assert re.match(rf"^/o/{org.slug}/people/[0-9a-f-]{{36}}\?done=created$", location)
    person = await browser.get(location)
    assert person.status_code == 200
    assert "<h1>Grace Hopper</h1>" in person.text and "grace@example.org" in person.text and "cobol" in person.text
    listing = await browser.get(f"/o/{org.slug}/people")
    assert "Grace" in listing.text and "Intake" in listing.text and 'data-label="Name"' in listing.text


async def test_a_validation_error_is_shown_beside_the_field_with_the_values_kept(client, browser: Browser):
    org = await signup(client)
    await browser.login(org.owner_email)
    response = await browser.submit(
        f"/o/{org.slug}/people", {"first_name": "", "last_name": "Kept-Name", "email": "x"},
        form_page=f"/o/{org.slug}/people/new",
    )
    assert response.status_code == 422
    assert 'id="e-first_name"' in response.text and 'id="e-email"' in response.text
    assert 'value="Kept-Name"' in response.text
    assert await _total(client, org) == 0


@pytest.mark.parametrize(
    "data",
    [
        {"first_name": "Nul\x00Name"},
        {"first_name": "x" * 10_000},
        {"first_name": "Ok", "birth_date": "abc"},
        {"first_name": "Ok", "tags": ",".join(["t"] * 31)},
        {"first_name": "Ok", "journey_stage": "no-such-stage"},
        {"first_name": "Ok", "unexpected": "field"},
        {"first_name": ["One", "Two"], "last_name": "x" * 10_000},
    ],
    ids=["nul", "huge", "wrong-type-date", "too-many-tags", "unknown-stage", "unknown-field", "repeated-and-huge"],
)
async def test_hostile_input_to_the_new_form_is_a_4xx_and_creates_nothing(client, browser: Browser, data):
    org = await signup(client)
    await browser.login(org.owner_email)
    response = await browser.submit(f"/o/{org.slug}/people", data, form_page=f"/o/{org.slug}/people/new")
    assert 400 <= response.status_code < 500, response.text
    assert "\x00" not in response.text
    assert await _total(client, org) == 0


async def test_the_plan_limit_shows_the_tier_that_lifts_it_and_creates_nothing(client, browser: Browser):
    org = await signup(client)  # BUILDER: 3 patients
    for i in range(3):
        await _patient(client, org, f"P{i}")
    await browser.login(org.owner_email)
    response = await browser.submit(
        f"/o/{org.slug}/people", {"first_name": "Fourth", "last_name": "Person"}, form_page=f"/o/{org.slug}/people/new"
    )
    assert response.status_code == 403
    assert "People in care" in response.text and "The PRO plan lifts this limit." in response.text
    assert f'href="/o/{org.slug}/billing"' in response.text
    assert 'value="Fourth"' in response.text  # nothing typed is lost
    assert await _total(client, org) == 3
    listing = await browser.get(f"/o/{org.slug}/people")
    assert "Fourth" not in listing.text


async def test_search_filters_and_pagination(client, browser: Browser):
    org = await signup(client, tier="PRO")
    for name in ("Alba", "Bruno", "Carla", "Dario", "Elena"):
        await _patient(client, org, name, "Sol")
    await _patient(client, org, "Zoe", "Mar", journey_stage="active")
    await browser.login(org.owner_email)
    first = await browser.get(f"/o/{org.slug}/people", params={"limit": 2})
    assert "1–2 of 6" in first.text and 'rel="next"' in first.text and 'rel="prev"' not in first.text
    second = await browser.get(f"/o/{org.slug}/people", params={"limit": 2, "offset": 2})
    assert "3–4 of 6" in second.text and 'rel="prev"' in second.text
    found = await browser.get(f"/o/{org.slug}/people", params={"q": "carl"})
    assert "Carla" in found.text and "Bruno" not in found.text and "1–1 of 1" in found.text
    staged = await browser.get(f"/o/{org.slug}/people", params={"stage": "active"})
    assert "Zoe" in staged.text and "Alba" not in staged.text
    none = await browser.get(f"/o/{org.slug}/people", params={"q": "nobody-here"})
    assert "No one matches these filters." in none.text
    archived = await browser.get(f"/o/{org.slug}/people", params={"status": "archived"})
    assert "No one matches these filters." in archived.text
    for params in ({"q": "a\x00b"}, {"q": "x" * 500}, {"status": "deleted"}, {"limit": "abc"}, {"offset": "-1"}):
        response = await browser.get(f"/o/{org.slug}/people", params=params)
        assert 400 <= response.status_code < 500, (params, response.status_code)


async def test_a_random_or_foreign_patient_id_is_not_found(client, browser: Browser):
    org, other = await signup(client), await signup(client)
    theirs = await _patient(client, other, "Foreign")
    await browser.login(org.owner_email)
    for pid in (uuid.uuid4(), theirs):
        response = await browser.get(f"/o/{org.slug}/people/{pid}")
        assert response.status_code == 404
        assert "Foreign" not in response.text


# -- the person's page -----------------------------------------------------------------------------


async def test_details_stage_consent_and_clinical_profile_edits(client, browser: Browser, team):
    org, members = team
    pid = await _patient(client, org, "Iris", "Vega")
    await browser.login(members["THERAPIST"][0])
    base = f"/o/{org.slug}/people/{pid}"
    short = await browser.submit(f"{base}/details", {"first_name": "Iris", "phone": "12"}, form_page=base)
    assert short.status_code == 422 and 'id="e-phone"' in short.text and 'value="12"' in short.text
    bad = await browser.submit(f"{base}/details", {"first_name": "Iris", "email": "not-an-email"}, form_page=base)
    assert bad.status_code == 422 and 'id="e-email"' in bad.text and 'value="not-an-email"' in bad.text
    ok = await browser.submit(f"{base}/details", {"first_name": "Iris", "last_name": "Vega", "email": "iris@example.org",
                                                  "phone": "", "birth_date": "1990-05-01", "language": "es", "tags": "a, b"}, form_page=base)
    assert ok.status_code == 303
    stage = await browser.submit(f"{base}/stage", {"journey_stage": "integration"}, form_page=base)
    assert stage.status_code == 303
    unknown = await browser.submit(f"{base}/stage", {"journey_stage": "nowhere"}, form_page=base)
    assert unknown.status_code == 422
    consent = await browser.submit(f"{base}/consent", {"given": "true", "method": "written"}, form_page=base)
    assert consent.status_code == 303
    wrong = await browser.submit(f"{base}/consent", {"given": "maybe", "method": "telepathy"}, form_page=base)
    assert wrong.status_code == 422
    clinical = await browser.submit(f"{base}/clinical", {"medical_history": "Asthma since childhood", "risk_notes": ""}, form_page=base)
    assert clinical.status_code == 303
    page = await browser.get(base)
    assert "iris@example.org" in page.text and "Integration" in page.text and "Asthma since childhood" in page.text
    assert "Given" in page.text and "Written" in page.text
    huge = await browser.submit(f"{base}/clinical", {"medical_history": "x" * 20_001}, form_page=base)
    assert huge.status_code == 422
    nul = await browser.submit(f"{base}/clinical", {"medical_history": "a\x00b"}, form_page=base)
    assert nul.status_code == 422
    record = (await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}", headers=org.headers)).json()
    assert record["clinical"]["medical_history"] == "Asthma since childhood" and record["journey_stage"] == "integration"
    assert record["phone"] is None and record["tags"] == ["a", "b"] and record["birth_date"] == "1990-05-01"


async def test_the_journal_write_sign_amend_cycle(client, browser: Browser, other_browser: Browser, team):
    org, members = team
    pid = await _patient(client, org, "Noa", "Ribas")
    base = f"/o/{org.slug}/people/{pid}"
    await browser.login(members["THERAPIST"][0])
    empty = await browser.submit(f"{base}/journal", {"html": "", "format": "html", "visibility": "private"}, form_page=base)
    assert empty.status_code == 422 and 'id="entry-error"' in empty.text
    created = await browser.submit(
        f"{base}/journal", {"html": "<p>Slept <b>better</b> this week</p><script>alert(1)</script>", "format": "html", "visibility": "shared"},
        form_page=base,
    )
    assert created.status_code == 303, created.text
    entry_id = created.headers["location"].rsplit("#entry-", 1)[1]
    page = await browser.get(base)
    assert "Slept <b>better</b> this week" in page.text and "alert(1)" not in page.text
    assert "Draft, not signed" in page.text
    not_yet = await browser.submit(f"{base}/journal/{entry_id}/amend", {"reason": "typo", "html": "<p>x</p>", "format": "html"}, form_page=base)
    assert not_yet.status_code == 409
    signed = await browser.submit(f"{base}/journal/{entry_id}/sign", {}, form_page=base)
    assert signed.status_code == 303
    again = await browser.submit(f"{base}/journal/{entry_id}/sign", {}, form_page=base)
    assert again.status_code == 409 and "already signed" in again.text
    no_reason = await browser.submit(f"{base}/journal/{entry_id}/amend", {"reason": "", "html": "<p>More</p>", "format": "html"}, form_page=base)
    assert no_reason.status_code == 422 and f'id="amend-{entry_id}-reason-error"' in no_reason.text
    amended = await browser.submit(
        f"{base}/journal/{entry_id}/amend", {"reason": "Added the dream", "html": "<p>Also dreamt of <i>sea</i></p>", "format": "html"},
        form_page=base,
    )
    assert amended.status_code == 303
    page = await browser.get(base)
    assert "Signed" in page.text and "Added the dream" in page.text and "Also dreamt of <i>sea</i>" in page.text
    assert page.text.index("Slept <b>better</b>") < page.text.index("Also dreamt of")  # under the entry

    # the owner reads the shared entry but may not sign or amend another's entry (audited refusal)
    await other_browser.login(org.owner_email)
    owner_view = await other_browser.get(base)
    assert "Slept <b>better</b>" in owner_view.text and "Amend this entry" not in owner_view.text
    refused = await other_browser.submit(
        f"{base}/journal/{entry_id}/amend", {"reason": "mine now", "html": "<p>x</p>", "format": "html"}, form_page=base
    )
    assert refused.status_code == 403
    trail = (await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}/audit", headers=org.headers)).json()["items"]
    actions = [e["action"] for e in trail]
    assert "journal.signed" in actions and "journal.amended" in actions and "clinical.access_denied" in actions


async def test_text_without_the_editor_is_escaped_and_hostile_notes_write_nothing(client, browser: Browser, team):
    org, members = team
    pid = await _patient(client, org, "Leo")
    base = f"/o/{org.slug}/people/{pid}"
    await browser.login(members["THERAPIST"][0])
    plain = await browser.submit(f"{base}/journal", {"html": "First line\n<img src=x>\n\nSecond", "format": "text"}, form_page=base)
    assert plain.status_code == 303
    page = await browser.get(base)
    assert "<p>First line<br>&lt;img src=x&gt;</p><p>Second</p>" in page.text
    for data, status in (
        ({"html": "bad\x00note", "format": "html"}, 422),
        ({"html": "<p>" + "x" * 110_000 + "</p>", "format": "html"}, 413),
        ({"html": "<p>x</p>", "kind": "ai_analysis"}, 422),
        ({"html": "<p>x</p>", "visibility": "public"}, 422),
        ({"html": "<p>x</p>", "occurred_at": "yesterday"}, 422),
    ):
        response = await browser.submit(f"{base}/journal", data, form_page=base)
        assert response.status_code == status, (list(data), response.status_code)
        assert "\x00" not in response.text
    entries = (await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}/journal", headers=org.headers)).json()
    assert entries["total"] == 1


async def test_an_analysis_needs_consent_and_then_shows_its_result(client, browser: Browser, team):
    org, members = team
    pid = await _patient(client, org, "Mia")
    base = f"/o/{org.slug}/people/{pid}"
    await browser.login(members["THERAPIST"][0])
    await browser.submit(f"{base}/journal", {"html": "<p>I want to end my life, I feel hopeless</p>", "format": "html"}, form_page=base)
    refused = await browser.submit(f"{base}/analyses", {}, form_page=base)
    assert refused.status_code == 409 and "record it above" in refused.text
    await browser.submit(f"{base}/consent", {"given": "true", "method": "verbal"}, form_page=base)
    made = await browser.submit(f"{base}/analyses", {}, form_page=base)
    assert made.status_code == 303, made.text
    page = await browser.get(base)
    assert "local risk detector" in page.text and "Analysis of" in page.text
    assert "High risk" in page.text and "Source: the AI analysis of" in page.text  # first on the page: icon, word, source
    assert page.text.index("Risk and safety") < page.text.index('id="details-heading"')


async def test_an_assistant_meets_no_clinical_content_anywhere(client, browser: Browser, team):
    org, members = team
    therapist = members["THERAPIST"][1]
    pid = await _patient(client, org, "Olga", "Secret", email="olga@example.org")
    api = f"/api/v1/orgs/{org.slug}/patients/{pid}"
    await client.put(api, json={"clinical": {"medical_history": "CONFIDENTIAL-HISTORY", "risk_notes": "CONFIDENTIAL-RISK"}}, headers=therapist)
    entry = await client.post(f"{api}/journal", json={"kind": "note", "html": "<p>CONFIDENTIAL-NOTE</p>", "visibility": "shared"}, headers=therapist)
    assert entry.status_code == 201
    await client.post(f"{api}/journal/{entry.json()['id']}/sign", headers=therapist)
    await browser.login(members["ASSISTANT"][0])
    listing = await browser.get(f"/o/{org.slug}/people")
    person = await browser.get(f"/o/{org.slug}/people/{pid}")
    assert listing.status_code == 200 and person.status_code == 200
    assert "Olga" in person.text and "olga@example.org" in person.text  # what the API gives an assistant
    for html in (listing.text, person.text):
        assert "CONFIDENTIAL" not in html
        for word in CLINICAL_WORDS:
            assert word not in html, word
    for path, data in (("journal", {"html": "<p>x</p>"}), ("clinical", {"medical_history": "x"}), ("analyses", {}), ("block/lift", {"reason": "x"})):
        response = await browser.submit(f"/o/{org.slug}/people/{pid}/{path}", data, form_page=f"/o/{org.slug}/people/{pid}")
        assert response.status_code == 403, path
        assert "CONFIDENTIAL" not in response.text
    assert (await browser.get(f"/o/{org.slug}/people/{pid}/export")).status_code == 403
    assert (await browser.get(f"/o/{org.slug}/people/{pid}/audit")).status_code == 403
    # the assistant still edits the non-clinical details and records consent, like the API allows
    ok = await browser.submit(f"/o/{org.slug}/people/{pid}/details", {"first_name": "Olga", "last_name": "S."}, form_page=f"/o/{org.slug}/people/{pid}")
    assert ok.status_code == 303
    record = (await client.get(api, headers=org.headers)).json()
    assert record["clinical"]["medical_history"] == "CONFIDENTIAL-HISTORY"


async def test_a_restricted_therapist_sees_only_assigned_people(client, db, browser: Browser, team):
    org, members = team
    email, headers, user_id = members["THERAPIST"]
    mine = await _patient(client, org, "Assigned", "One", therapist_ids=[user_id])
    hidden = await _patient(client, org, "Hidden", "Two")
    policy = await client.put(f"/api/v1/orgs/{org.slug}/clinical-policy", json={"restrict_therapists_to_assigned": True}, headers=org.headers)
    assert policy.status_code == 200
    await browser.login(email)
    listing = await browser.get(f"/o/{org.slug}/people")
    assert "Assigned" in listing.text and "Hidden" not in listing.text
    assert (await browser.get(f"/o/{org.slug}/people/{mine}")).status_code == 200
    assert (await browser.get(f"/o/{org.slug}/people/{hidden}")).status_code == 404
    write = await browser.submit(f"/o/{org.slug}/people/{hidden}/journal", {"html": "<p>x</p>"}, form_page=f"/o/{org.slug}/people/{mine}")
    assert write.status_code == 404


async def test_owner_record_actions_audit_export_archive_and_erase(client, browser: Browser, team):
    org, members = team
    pid = await _patient(client, org, "Pau", "Serra")
    base = f"/o/{org.slug}/people/{pid}"
    await browser.login(org.owner_email)
    therapist_id = members["THERAPIST"][2]
    assigned = await browser.submit(f"{base}/therapists", {"therapist_ids": therapist_id}, form_page=base)
    assert assigned.status_code == 303
    bad_assign = await browser.submit(f"{base}/therapists", {"therapist_ids": "not-a-uuid"}, form_page=base)
    assert bad_assign.status_code == 422
    page = await browser.get(base)
    assert "Therapist" in page.text and "Audit trail" in page.text
    audit = await browser.get(f"{base}/audit")
    assert audit.status_code == 200 and "Record created" in audit.text and "Therapists assigned" in audit.text
    export = await browser.get(f"{base}/export")
    assert export.status_code == 200 and export.headers["content-type"].startswith("application/json")
    assert export.json()["patient"]["first_name"] == "Pau" and "attachment" in export.headers["content-disposition"]
    archived = await browser.submit(f"{base}/archive", {}, form_page=base)
    assert archived.status_code == 303
    assert "Pau" not in (await browser.get(f"/o/{org.slug}/people")).text
    assert "Pau" in (await browser.get(f"/o/{org.slug}/people", params={"status": "archived"})).text
    assert (await browser.submit(f"{base}/restore", {}, form_page=base)).status_code == 303
    unconfirmed = await browser.submit(f"{base}/erase", {}, form_page=base)
    assert unconfirmed.status_code == 422 and "Tick the box" in unconfirmed.text
    erased = await browser.submit(f"{base}/erase", {"confirm": "yes"}, form_page=base)
    assert erased.status_code == 303 and erased.headers["location"] == f"/o/{org.slug}/people?done=erased"
    assert (await browser.get(base)).status_code == 404
    trail = await browser.get(f"{base}/audit")
    assert trail.status_code == 200 and "Record erased" in trail.text and "no longer exists" in trail.text
    await browser.login(members["THERAPIST"][0])
    for path in ("archive", "erase", "therapists"):
        assert (await browser.submit(f"/o/{org.slug}/people/{uuid.uuid4()}/{path}", {"confirm": "yes"}, form_page=f"/o/{org.slug}/people")).status_code == 403


async def test_the_pages_speak_spanish_and_catalan(client, browser: Browser):
    org = await signup(client)
    pid = await _patient(client, org, "Rosa")
    await browser.login(org.owner_email)
    for locale, heading, absent in (("es", "Pacientes", "Patients"), ("ca", "Pacients", "Patients")):
        response = await client.patch(f"/api/v1/orgs/{org.slug}/settings", json={"locale": locale}, headers=org.headers)
        assert response.status_code == 200, response.text
        listing = await browser.get(f"/o/{org.slug}/people")
        assert f"<h1>{heading}</h1>" in listing.text and f"<h1>{absent}</h1>" not in listing.text
        person = await browser.get(f"/o/{org.slug}/people/{pid}")
        for english in ("Clinical profile", "Journal", "AI analyses", "Details", "Consent to AI processing", "Write a journal entry"):
            assert f">{english}<" not in person.text, (locale, english)


async def _block(db, org: Org, patient_id: str, source_id: str) -> None:
    """Block a patient as the risk playbook does (its columns set directly: no worker runs here)."""
    import sqlalchemy as sa

    async with db.admin.begin() as conn:
        schema = (await conn.execute(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": org.slug})).scalar_one()
        await conn.execute(
            sa.text(f'UPDATE "{schema}".patients SET blocked_at = now(), blocked_reason = :r, blocked_source_kind = :k, '
                    "blocked_source_id = :i WHERE id = :p"),
            {"r": "HIGH risk found by the screening", "k": "note", "i": source_id, "p": patient_id},
        )


async def test_a_block_comes_first_and_a_clinician_lifts_it_after_review(client, db, browser: Browser, other_browser: Browser, team):
    org, members = team
    pid = await _patient(client, org, "Bea", "Roca")
    note = await client.post(f"/api/v1/orgs/{org.slug}/patients/{pid}/journal", json={"kind": "note", "html": "<p>CONFIDENTIAL-NOTE</p>"},
                             headers=members["THERAPIST"][1])
    await _block(db, org, pid, note.json()["id"])
    base = f"/o/{org.slug}/people/{pid}"
    await other_browser.login(members["ASSISTANT"][0])
    seen = await other_browser.get(base)
    assert "Blocked from new bookings" in seen.text and "a journal note" in seen.text and "HIGH risk found by the screening" in seen.text
    assert "Open the source entry" not in seen.text and "/block/lift" not in seen.text and "CONFIDENTIAL" not in seen.text
    assert "Blocked" in (await other_browser.get(f"/o/{org.slug}/people")).text
    await browser.login(members["THERAPIST"][0])
    page = await browser.get(base)
    assert page.text.index("Blocked from new bookings") < page.text.index('id="details-heading"')
    assert f'href="#entry-{note.json()["id"]}"' in page.text and "⛔" in page.text
    empty = await browser.submit(f"{base}/block/lift", {"reason": "  "}, form_page=base)
    assert empty.status_code == 422 and 'id="e-reason"' in empty.text
    lifted = await browser.submit(f"{base}/block/lift", {"reason": "Reviewed in session: safe plan agreed"}, form_page=base)
    assert lifted.status_code == 303
    after = await browser.get(base)
    assert "Blocked from new bookings" not in after.text and "safe plan agreed" in after.text
    again = await browser.submit(f"{base}/block/lift", {"reason": "twice"}, form_page=base)
    assert again.status_code == 409 and "not blocked" in again.text
    assistant_after = await other_browser.get(base)
    assert "A block was lifted on" in assistant_after.text and "safe plan agreed" not in assistant_after.text


async def test_sms_consent_is_recorded_on_the_persons_page_which_says_sms_is_off(client, browser: Browser, team):
    org, members = team
    pid = await _patient(client, org, "Luz", "Marín")
    await browser.login(members["ASSISTANT"][0])
    base = f"/o/{org.slug}/people/{pid}"
    page = await browser.get(base)
    section = page.text.split('id="sms"', 1)[1].split("</section>", 1)[0]
    assert "SMS is off on this deployment" in section and "Not recorded yet" in section  # the app under test has no Twilio
    wrong = await browser.submit(f"{base}/sms-consent", {"given": "maybe", "method": "sms-stop"}, form_page=base)
    assert wrong.status_code == 422 and 'id="e-sms-method"' in wrong.text
    given = await browser.submit(f"{base}/sms-consent", {"given": "true", "method": "verbal"}, form_page=base)
    assert given.status_code == 303 and given.headers["location"].endswith("done=sms#sms")
    section = (await browser.get(base)).text.split('id="sms"', 1)[1].split("</section>", 1)[0]
    assert "Given" in section and "Verbal" in section and "Assistant" in section
    state = (await client.get(f"/api/v1/orgs/{org.slug}/patients/{pid}/sms-consent", headers=org.headers)).json()
    assert state["given"] is True and state["history"][0]["method"] == "verbal" and state["sms_enabled"] is False
