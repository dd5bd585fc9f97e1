"""The playbook action ``assign_form`` creates a real one-time link and emails it; answering it
through the public page lands in the journal and its free text is screened by the risk pipeline
(FORM_SUBMISSION_COMPLETED -> the analysis job -> RISK_DETECTED_IN_NOTE and the core alert)."""

from __future__ import annotations

import json
import re
import uuid

import httpx

from anima.jobs.relay import Relay
from tests.conftest import signup
from tests.integration.events_support import eventually, in_tenant, queue_settings, running_worker, services_for, tenant_id_of
from tests.web.conftest import Browser

RISKY = "Quiero suicidarme, tengo un plan para esta noche"


async def test_assign_form_from_a_playbook_and_the_answer_is_screened(client, app, db):
    org = await signup(client, tier="PRO")
    tid = await tenant_id_of(db, org.slug)
    await in_tenant(
        db, org.slug,
        "INSERT INTO automation_rules (id, name, trigger, conditions, actions, enabled, created_at, updated_at) "
        "VALUES (:i, 'Intake on arrival', 'PATIENT_CREATED', '[]'::jsonb, CAST(:a AS jsonb), true, now(), now())",
        {"i": uuid.uuid4(), "a": json.dumps([{"type": "assign_form", "form": "intake"}])},
    )
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Rosa", "email": "rosa@example.org", "language": "es"},
                                headers=org.headers)
    assert created.status_code == 201, created.text
    pid = created.json()["id"]
    async with services_for(queue_settings("postgres"), db) as svc, running_worker(svc):
        relay = Relay(svc)

        async def assigned():
            await relay.relay_tenant(tid)
            rows = await in_tenant(db, org.slug, "SELECT patient_id, emailed, run_id FROM form_assignments")
            return rows or None

        rows = await eventually(assigned, timeout=30)
        assert str(rows[0][0]) == pid and rows[0][1] is True and rows[0][2] is not None
        forms = await in_tenant(db, org.slug, "SELECT key FROM forms")
        assert forms == [("intake_es",)]  # the patient's language
        body = (await in_tenant(db, org.slug, "SELECT body FROM outbound_emails WHERE template = 'form_assignment'"))[0][0]
        path = re.search(r"/p/[a-z0-9-]+/f/[A-Za-z0-9_-]{43}", body).group(0)
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver") as http:
            sent = await Browser(http).submit(path, {"first_name": "Rosa", "email": "rosa@example.org", "reason": RISKY})
        assert sent.status_code == 200, sent.text
        entry_id = (await in_tenant(db, org.slug, "SELECT journal_entry_id FROM form_submissions"))[0][0]

        async def screened():
            await relay.relay_tenant(tid)
            rows = await in_tenant(db, org.slug, "SELECT payload FROM outbox_events WHERE type = 'RISK_DETECTED_IN_NOTE'")
            return rows or None

        risk = await eventually(screened, timeout=30)
        assert risk[0][0]["entry_id"] == str(entry_id) and risk[0][0]["kind"] == "form_submission" and risk[0][0]["level"] == "HIGH"
        alerts = await eventually(lambda: _alerts(db, org.slug), timeout=30)
        assert alerts[0][0] == "form_submission" and alerts[0][1] == entry_id
    runs = await in_tenant(db, org.slug, "SELECT status FROM automation_runs")
    assert runs == [("SUCCEEDED",)]


async def _alerts(db, slug):
    return await in_tenant(db, slug, "SELECT source_kind, source_id FROM staff_alerts WHERE kind = 'risk'") or None
