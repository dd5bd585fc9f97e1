"""The alerts page: each member's own alerts, unread first, marked read by HTMX or a plain form; a HIGH
risk alert carries an icon, the words and its source, and links to the patient for clinicians only."""

from __future__ import annotations

import uuid

from anima.domains.audit.services import Actor
from anima.domains.automations.alerts import AlertSource, add_alerts, raise_risk_alert
from anima.jobs.runner import tenant_transaction
from anima.runtime import runtime_of
from tests.conftest import add_member, signup
from tests.integration.events_support import tenant_id_of
from tests.web.conftest import Browser


async def _setup(client, db, app):
    org = await signup(client, tier="PRO")
    therapist, _, therapist_id = await add_member(client, db, org, "THERAPIST")
    assistant, _, assistant_id = await add_member(client, db, org, "ASSISTANT")
    patient = await client.post(f"/api/v1/orgs/{org.slug}/patients", headers=org.headers,
                                json={"first_name": "Rosa", "last_name": "Prat", "therapist_ids": [therapist_id]})
    assert patient.status_code == 201, patient.text
    pid = patient.json()["id"]
    entry = await client.post(f"/api/v1/orgs/{org.slug}/patients/{pid}/journal", headers=org.headers,
                              json={"kind": "note", "html": "<p>Difficult week.</p>"})
    entry_id = uuid.UUID(entry.json()["id"])
    # through the alert services, as the screening and the playbooks raise them
    async with tenant_transaction(runtime_of(app.state), await tenant_id_of(db, org.slug)) as tx:
        actor = Actor(None, "system", "test", None)
        await raise_risk_alert(tx.session, actor, patient_id=uuid.UUID(pid), author_id=uuid.UUID(org.owner_id),
                               source=AlertSource("note", entry_id))
        await add_alerts(tx.session, actor, [uuid.UUID(assistant_id), uuid.UUID(org.owner_id)], patient_id=uuid.UUID(pid),
                         kind="playbook", severity="warning", message="Payment reminder sent to the patient.")
    return org, therapist, assistant, pid


async def test_alerts_unread_first_with_risk_marked_and_read_by_htmx(client, db, app, browser: Browser):
    org, therapist, _, pid = await _setup(client, db, app)
    await browser.login(therapist)
    page = await browser.get(f"/o/{org.slug}/alerts")
    assert page.status_code == 200
    text = page.text
    assert "⚠</span> High risk" in text and "Source: a journal note" in text  # icon, word and source
    assert f'href="/o/{org.slug}/people/{pid}"' in text
    assert "Payment reminder" not in text  # another member's alert
    alert_id = (await client.get(f"/api/v1/orgs/{org.slug}/alerts",
                                 headers={"authorization": f"Bearer {(await _token(client, therapist))}"})).json()["items"][0]["id"]
    token = await browser.csrf(f"/o/{org.slug}/alerts")
    partial = await browser.http.post(f"/o/{org.slug}/alerts/{alert_id}/read", data={"_csrf_token": token},
                                      headers={"hx-request": "true"})
    assert partial.status_code == 200
    assert partial.text.lstrip().startswith(f'<li id="alert-{alert_id}"') and "<html" not in partial.text
    assert "Unread</span>" not in partial.text and "Mark as read" not in partial.text
    after = await browser.get(f"/o/{org.slug}/alerts")
    unread_part, read_part = after.text.split('id="read-title"')
    assert f"alert-{alert_id}" in read_part and "You are all caught up" in unread_part


async def test_no_js_fallback_and_the_assistant_gets_no_clinical_link(client, db, app, browser: Browser):
    org, _, assistant, pid = await _setup(client, db, app)
    await browser.login(assistant)
    page = await browser.get(f"/o/{org.slug}/alerts")
    assert page.status_code == 200
    assert "Payment reminder sent to the patient." in page.text
    assert f"/people/{pid}" not in page.text and "/people/" not in page.text
    assert "High risk" not in page.text  # risk alerts go to clinicians only (the API's answer)
    items = (await client.get(f"/api/v1/orgs/{org.slug}/alerts",
                              headers={"authorization": f"Bearer {await _token(client, assistant)}"})).json()["items"]
    assert len(items) == 1
    read = await browser.submit(f"/o/{org.slug}/alerts/{items[0]['id']}/read", {}, form_page=f"/o/{org.slug}/alerts")
    assert read.status_code == 303 and read.headers["location"] == f"/o/{org.slug}/alerts"
    assert "You are all caught up" in (await browser.get(read.headers["location"])).text


async def test_another_members_alert_and_hostile_ids(client, db, app, browser: Browser):
    org, therapist, assistant, _ = await _setup(client, db, app)
    owner_alerts = (await client.get(f"/api/v1/orgs/{org.slug}/alerts", headers=org.headers)).json()["items"]
    await browser.login(assistant)
    base = f"/o/{org.slug}/alerts"
    stolen = await browser.submit(f"{base}/{owner_alerts[0]['id']}/read", {}, form_page=base)
    assert stolen.status_code == 404
    assert all(a["read_at"] is None for a in (await client.get(base.replace("/o/", "/api/v1/orgs/"), headers=org.headers)).json()["items"])
    for path, data in ((f"{base}/not-a-uuid/read", {}), (f"{base}/{owner_alerts[0]['id']}/read", {"x": "\x00"}),
                       (f"{base}/{owner_alerts[0]['id']}/read", {"x": "y" * 10_000})):
        answer = await browser.submit(path, data, form_page=base)
        assert 400 <= answer.status_code < 500, (path, answer.status_code)
    for offset in ("abc", "-1"):
        assert 400 <= (await browser.get(base, params={"offset": offset})).status_code < 500


async def test_the_owner_sees_both_and_in_spanish(client, db, app, browser: Browser):
    org, _, _, pid = await _setup(client, db, app)
    await client.patch(f"/api/v1/orgs/{org.slug}/settings", headers=org.headers, json={"locale": "es"})
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/alerts")
    assert "Riesgo alto" in page.text and "Origen: una nota del diario" in page.text and "Advertencia" in page.text
    assert f'href="/o/{org.slug}/people/{pid}"' in page.text and "Marcar como leído" in page.text


async def _token(client, email: str) -> str:
    from tests.conftest import login

    return (await login(client, email))["access_token"]
