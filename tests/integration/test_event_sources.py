"""Two event sources: FORM_SUBMISSION_COMPLETED and JOURNEY_STAGE_TIMEOUT.

* A form submitted through its one-time link leaves one FORM_SUBMISSION_COMPLETED outbox row
  (ids, never answers) in the entry's transaction; a ``form_submission`` entry written by hand
  through the journal API is refused and leaves none. The worker screens the submission for risk once, from that event.
* A stage with ``timeout_days`` makes the per-tenant tick emit JOURNEY_STAGE_TIMEOUT once per stage
  entry of an active, unblocked patient overdue in it; a stage change starts over. Owners alone
  set thresholds, within 1..3650 whole days.
"""

from __future__ import annotations

import datetime
import json
from contextlib import asynccontextmanager

from anima.jobs.queue import job_options
from anima.jobs.relay import Relay, event_job_key
from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import eventually, in_tenant, queue_settings, running_worker, services_for, tenant_id_of
from tests.integration.forms_support import submit_intake

ANSWER = "Quiero suicidarme, tengo un plan para esta noche"


def purl(org, pid: str, path: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/patients/{pid}{path}"


async def new_patient(client, org, **extra) -> str:
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Ada", "last_name": "Paz", **extra}, headers=org.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def events(db, slug: str, type_: str) -> list[tuple]:
    return await in_tenant(db, slug, "SELECT id, payload FROM outbox_events WHERE type = :t ORDER BY occurred_at", {"t": type_})


@asynccontextmanager
async def pipeline(db):
    async with services_for(queue_settings("postgres"), db) as svc, running_worker(svc):
        yield svc, Relay(svc)


async def _finished(queue, key: str):
    job = await queue.job(key)
    return job if job is not None and job.status == "complete" else None


async def tick(svc, tid: int) -> dict:
    """Run the tenant's automation tick on the worker, as the cron fan-out would, and wait for it."""
    job = await svc.queue.enqueue(
        "tenant_tick", key=f"test-tick-{tid}-{datetime.datetime.now().timestamp()}", tenant_id=tid, **job_options(svc.settings)
    )
    done = await eventually(lambda: _finished(svc.queue, job.key))
    return done.result


# -- FORM_SUBMISSION_COMPLETED --------------------------------------------------------------------


async def test_form_submission_emits_one_event_with_ids_only(client, db):
    org = await signup(client)
    pid = await new_patient(client, org)
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    body = {"kind": "form_submission", "data": {"how_are_you": ANSWER, "sleep_hours": 4}}

    refused = await client.post(purl(org, pid, "/journal"), json=body, headers=bearer(assistant["access_token"]))
    assert refused.status_code == 403
    by_hand = await client.post(purl(org, pid, "/journal"), json=body, headers=org.headers)
    assert by_hand.status_code == 422 and [(e["field"], e["rule"]) for e in by_hand.json()["errors"]] == [("kind", "forms-service-only")]
    assert await events(db, org.slug, "FORM_SUBMISSION_COMPLETED") == []

    await submit_intake(client, org, pid, ANSWER)  # the one way in: a form assigned and submitted
    (entry_id,) = (await in_tenant(db, org.slug, "SELECT id FROM journal_entries WHERE kind = 'form_submission'"))[0]
    rows = await events(db, org.slug, "FORM_SUBMISSION_COMPLETED")
    assert len(rows) == 1
    assert rows[0][1]["entry_id"] == str(entry_id) and rows[0][1]["patient_id"] == pid and rows[0][1]["form_key"] == "intake_es"
    serialized = json.dumps([r[1] for r in await in_tenant(db, org.slug, "SELECT id, payload FROM outbox_events")])
    assert "suicid" not in serialized and "reason" not in serialized and "ana@example.org" not in serialized

    note = await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": "<p>Calm week.</p>"}, headers=org.headers)
    assert note.status_code == 201
    assert len(await events(db, org.slug, "FORM_SUBMISSION_COMPLETED")) == 1  # notes are not form submissions
    assert len(await events(db, org.slug, "JOURNAL_ENTRY_CREATED")) == 2


async def test_a_form_submission_is_screened_once(client, db):
    org = await signup(client, tier="PRO")
    tid = await tenant_id_of(db, org.slug)
    pid = await new_patient(client, org, language="es")
    await submit_intake(client, org, pid, ANSWER)
    entry_id = str((await in_tenant(db, org.slug, "SELECT id FROM journal_entries WHERE kind = 'form_submission'"))[0][0])
    by_type = {t: rows[0][0] for t in ("JOURNAL_ENTRY_CREATED", "FORM_SUBMISSION_COMPLETED") if (rows := await events(db, org.slug, t))}
    assert len(by_type) == 2

    async with pipeline(db) as (svc, relay):
        await relay.relay_tenant(tid)
        handled = {t: await eventually(lambda e=e: _finished(svc.queue, event_job_key(tid, e))) for t, e in by_type.items()}
        assert handled["FORM_SUBMISSION_COMPLETED"].result["follow_ups"] == ["analyze_journal_entry"]
        assert handled["JOURNAL_ENTRY_CREATED"].result["follow_ups"] == []
        key = f"analyze_journal_entry:{tid}:{by_type['FORM_SUBMISSION_COMPLETED']}"
        screened = await eventually(lambda: _finished(svc.queue, key))
        assert screened.result["status"] == "screened" and screened.result["level"] == "HIGH"

    audits = await in_tenant(
        db, org.slug, "SELECT count(*) FROM audit_events WHERE action = 'insights.screened' AND entry_id = :e", {"e": entry_id}
    )
    assert audits == [(1,)]
    risk = await events(db, org.slug, "RISK_DETECTED_IN_NOTE")
    assert len(risk) == 1 and risk[0][1]["entry_id"] == entry_id and risk[0][1]["kind"] == "form_submission"


# -- JOURNEY_STAGE_TIMEOUT ------------------------------------------------------------------------


async def set_stage(client, org, key: str, body: dict, headers=None):
    return await client.put(f"/api/v1/orgs/{org.slug}/journey-stages/{key}", json=body, headers=headers or org.headers)


async def move(client, org, pid: str, stage: str) -> None:
    moved = await client.put(purl(org, pid), json={"journey_stage": stage}, headers=org.headers)
    assert moved.status_code == 200, moved.text


async def backdate(db, slug: str, pid: str, days: int) -> None:
    await in_tenant(db, slug, "UPDATE patients SET stage_entered_at = now() - make_interval(days => :d) WHERE id = :p",
                    {"d": days, "p": pid})


async def test_stage_timeout_is_emitted_once_per_stage_entry(client, db):
    org = await signup(client, tier="PRO")
    tid = await tenant_id_of(db, org.slug)
    configured = await set_stage(client, org, "intake", {"timeout_days": 3})
    assert configured.status_code == 200, configured.text
    assert configured.json() == {"key": "intake", "label": "Intake", "position": 1, "timeout_days": 3}
    listed = (await client.get(f"/api/v1/orgs/{org.slug}/journey-stages", headers=org.headers)).json()
    assert {s["key"]: s["timeout_days"] for s in listed}["intake"] == 3

    pid = await new_patient(client, org)
    archived, blocked, fresh = [await new_patient(client, org, journey_stage="intake") for _ in range(3)]
    await move(client, org, pid, "intake")
    for p in (pid, archived, blocked, fresh):
        await backdate(db, org.slug, p, 4 if p != fresh else 2)
    assert (await client.post(purl(org, archived, "/archive"), headers=org.headers)).status_code == 200
    await in_tenant(db, org.slug, "UPDATE patients SET blocked_at = now() WHERE id = :p", {"p": blocked})
    before = await in_tenant(db, org.slug, "SELECT updated_at FROM patients WHERE id = :p", {"p": pid})

    async with pipeline(db) as (svc, _):
        assert (await tick(svc, tid))["stage_timeouts"] == 1
        rows = await events(db, org.slug, "JOURNEY_STAGE_TIMEOUT")
        assert [r[1] for r in rows] == [{"patient_id": pid, "stage": "intake", "days": 4, "timeout_days": 3}]
        assert await in_tenant(db, org.slug, "SELECT updated_at FROM patients WHERE id = :p", {"p": pid}) == before

        assert (await tick(svc, tid))["stage_timeouts"] == 0  # reported once per stage entry
        assert len(await events(db, org.slug, "JOURNEY_STAGE_TIMEOUT")) == 1

        await move(client, org, pid, "inquiry")
        await move(client, org, pid, "intake")  # a new entry into the stage: the clock restarts
        assert (await tick(svc, tid))["stage_timeouts"] == 0
        await backdate(db, org.slug, pid, 5)
        assert (await tick(svc, tid))["stage_timeouts"] == 1
    rows = await events(db, org.slug, "JOURNEY_STAGE_TIMEOUT")
    assert [r[1]["patient_id"] for r in rows] == [pid, pid] and rows[1][1]["days"] == 5


async def test_stage_timeout_clears_and_a_same_stage_update_keeps_the_clock(client, db):
    org = await signup(client)
    pid = await new_patient(client, org, journey_stage="active")
    entered = await in_tenant(db, org.slug, "SELECT stage_entered_at FROM patients WHERE id = :p", {"p": pid})
    assert entered[0][0] is not None
    await move(client, org, pid, "active")  # not a change of stage
    assert await in_tenant(db, org.slug, "SELECT stage_entered_at FROM patients WHERE id = :p", {"p": pid}) == entered
    assert (await set_stage(client, org, "active", {"timeout_days": 10, "label": "Working"})).json()["timeout_days"] == 10
    cleared = await set_stage(client, org, "active", {"timeout_days": None})
    assert cleared.status_code == 200 and cleared.json()["timeout_days"] is None and cleared.json()["label"] == "Working"


async def test_stage_timeout_input_and_roles(client, db):
    org = await signup(client)
    for bad in (-1, 0, 3651, 2.5, "three", True, [3]):
        response = await set_stage(client, org, "intake", {"timeout_days": bad})
        assert response.status_code == 422, (bad, response.text)
        assert [e["field"] for e in response.json()["errors"]] == ["timeout_days"], (bad, response.json())
    empty = await set_stage(client, org, "intake", {})
    assert empty.status_code == 422
    assert (await set_stage(client, org, "nowhere", {"timeout_days": 3})).status_code == 404
    for role in ("ASSISTANT", "THERAPIST"):
        _, tokens, _ = await add_member(client, db, org, role)
        denied = await set_stage(client, org, "intake", {"timeout_days": 3}, headers=bearer(tokens["access_token"]))
        assert denied.status_code == 403, role
    stages = (await client.get(f"/api/v1/orgs/{org.slug}/journey-stages", headers=org.headers)).json()
    assert all(s["timeout_days"] is None for s in stages)
