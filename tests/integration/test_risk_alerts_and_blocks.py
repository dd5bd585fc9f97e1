"""HIGH risk alerts on every tier, once per entry; the Escudo block, visible on the patient and lifted
by a clinician with a reason; all of it in the audit trail.

Through HTTP, the real outbox relay and an in-process SAQ worker on PostgreSQL, as a deployment runs.
"""

from __future__ import annotations

import pytest

from anima.jobs.queue import job_options
from tests.conftest import add_member, bearer, signup
from tests.integration.events_support import eventually, in_tenant, tenant_id_of
from tests.integration.forms_support import submit_intake
from tests.integration.test_playbooks_e2e import install, pipeline, relay_until

HIGH = "<p>Quiero suicidarme, tengo un plan para esta noche.</p>"


def purl(org, pid: str, rest: str = "") -> str:
    return f"/api/v1/orgs/{org.slug}/patients/{pid}{rest}"


async def alerts_of(client, org, headers) -> list[dict]:
    response = await client.get(f"/api/v1/orgs/{org.slug}/alerts", headers=headers)
    assert response.status_code == 200, response.text
    return response.json()["items"]


async def _complete(queue, key):
    job = await queue.job(key)
    return job if job is not None and job.status == "complete" else None


async def screened(svc, relay, tid: int, db, slug: str, count: int) -> None:
    """Relay until ``count`` entries were screened (their ``insights.screened`` audit lines)."""

    async def check():
        await relay.relay_tenant(tid)
        rows = await in_tenant(db, slug, "SELECT count(*) FROM audit_events WHERE action = 'insights.screened'")
        return rows[0][0] >= count

    await eventually(check, timeout=40, every=0.3)


@pytest.mark.parametrize("tier", ["BUILDER", "PRO", "CENTER"])
async def test_high_risk_alerts_the_care_team_and_owners_without_any_playbook(client, db, tier):
    org = await signup(client, tier=tier)
    tid = await tenant_id_of(db, org.slug)
    _, assigned, assigned_id = await add_member(client, db, org, "THERAPIST")
    _, author, author_id = await add_member(client, db, org, "THERAPIST")
    # BUILDER has three seats: the owner and the two therapists; elsewhere an assistant looks on
    bystander = (await add_member(client, db, org, "ASSISTANT"))[1] if tier != "BUILDER" else None
    created = await client.post(
        f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Luz", "last_name": "Mar", "therapist_ids": [assigned_id]},
        headers=org.headers,
    )
    pid = created.json()["id"]
    note = await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": HIGH}, headers=bearer(author["access_token"]))
    await submit_intake(client, org, pid, "Quiero suicidarme, tengo un plan para esta noche")  # the forms' own path
    calm = await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": "<p>A calm week.</p>"}, headers=org.headers)
    assert note.status_code == calm.status_code == 201
    note_id = note.json()["id"]
    form_id = str((await in_tenant(db, org.slug, "SELECT id FROM journal_entries WHERE kind = 'form_submission'"))[0][0])

    async with pipeline(db) as (svc, relay):
        await screened(svc, relay, tid, db, org.slug, 3)
        # the screening job runs again (at-least-once delivery): no second alert
        again = await svc.queue.enqueue(
            "analyze_journal_entry", key=f"again-{note_id}", tenant_id=tid, entry_id=note_id, **job_options(svc.settings)
        )
        done = await eventually(lambda: _complete(svc.queue, again.key))
        assert done.result["level"] == "HIGH" and done.result["alerted"] == 0

    both = sorted([("note", note_id), ("form_submission", form_id)])
    expected = [(bearer(assigned["access_token"]), both), (bearer(author["access_token"]), [("note", note_id)]), (org.headers, both)]
    for who, sources in expected:
        items = await alerts_of(client, org, who)
        assert sorted((a["source_kind"], a["source_id"]) for a in items) == sources
        assert all(a["severity"] == "critical" and a["kind"] == "risk" and a["patient_id"] == pid for a in items)
        assert all("Luz Mar" in a["message"] and "suicid" not in a["message"].lower() for a in items)
    if bystander is not None:
        assert await alerts_of(client, org, bearer(bystander["access_token"])) == []
    audited = await in_tenant(
        db, org.slug, "SELECT entry_id::text, detail->'recipients' FROM audit_events WHERE action = 'staff.alerted' ORDER BY entry_id"
    )
    assert {row[0] for row in audited} == {note_id, form_id} and len(audited) == 2
    recipients = {row[0]: len(row[1]) for row in audited}
    assert recipients == {note_id: 3, form_id: 2}  # assigned therapist, the note's author, the owner (who wrote the form)
    # the patient is not blocked: only Escudo blocks, and only where the plan has risk_auto_block
    assert (await client.get(purl(org, pid), headers=org.headers)).json()["blocked"] is False


async def test_escudo_blocks_through_the_patients_service_and_a_clinician_lifts_it(client, db):
    org = await signup(client, tier="CENTER")
    tid = await tenant_id_of(db, org.slug)
    _, therapist, therapist_id = await add_member(client, db, org, "THERAPIST")
    _, other, _ = await add_member(client, db, org, "THERAPIST")
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    await install(client, org, "escudo-de-seguridad")
    pid = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Sol", "therapist_ids": [therapist_id]},
                             headers=org.headers)).json()["id"]
    note = await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": HIGH}, headers=bearer(therapist["access_token"]))
    note_id = note.json()["id"]
    async with pipeline(db) as (svc, relay):
        await relay_until(client, org, relay, tid, lambda rs: rs and rs[0]["status"] == "SUCCEEDED")

    record = (await client.get(purl(org, pid), headers=bearer(assistant["access_token"]))).json()
    assert record["blocked"] is True
    block = record["block"]
    assert block["source_kind"] == "note" and block["source_id"] == note_id and block["since"] is not None
    assert block["reason"] == "high risk detected in a journal note"
    # one alert per member even though both the core rule and Escudo alert
    assert len(await alerts_of(client, org, bearer(therapist["access_token"]))) == 1

    lift = purl(org, pid, "/block/lift")
    assert (await client.post(lift, json={"reason": "reviewed"}, headers=bearer(assistant["access_token"]))).status_code == 403
    empty = await client.post(lift, json={"reason": ""}, headers=bearer(therapist["access_token"]))
    assert empty.status_code == 422 and empty.json()["errors"][0]["field"] == "reason"
    # a therapist the restricted policy hides the patient from cannot lift it
    await client.put(f"/api/v1/orgs/{org.slug}/clinical-policy", json={"restrict_therapists_to_assigned": True}, headers=org.headers)
    assert (await client.post(lift, json={"reason": "reviewed"}, headers=bearer(other["access_token"]))).status_code == 404
    lifted = await client.post(lift, json={"reason": "Safety plan agreed in session; crisis line given."}, headers=bearer(therapist["access_token"]))
    assert lifted.status_code == 200, lifted.text
    body = lifted.json()
    assert body["blocked"] is False and body["block"]["since"] is None
    assert body["block"]["last_lift_reason"] == "Safety plan agreed in session; crisis line given."
    assert body["block"]["last_lifted_by"] == therapist_id and body["block"]["last_lifted_at"] is not None
    assert (await client.post(lift, json={"reason": "again"}, headers=bearer(therapist["access_token"]))).status_code == 409
    # the assistant sees that the block is gone, never the clinician's reason
    assert (await client.get(purl(org, pid), headers=bearer(assistant["access_token"]))).json()["block"]["last_lift_reason"] is None
    # the reason is stored encrypted
    raw = await in_tenant(db, org.slug, "SELECT block_lift_reason_enc FROM patients WHERE id = :p", {"p": pid})
    assert raw[0][0] is not None and b"Safety plan" not in bytes(raw[0][0])

    trail = [e for e in (await client.get(purl(org, pid, "/audit"), headers=org.headers)).json()["items"]]
    actions = [e["action"] for e in trail]
    assert "staff.alerted" in actions and "patient.blocked" in actions and "patient.block_lifted" in actions
    blocked = next(e for e in trail if e["action"] == "patient.blocked")
    assert blocked["entry_id"] == note_id and blocked["actor_role"] == "system" and blocked["detail"]["source_kind"] == "note"
    lifted_line = next(e for e in trail if e["action"] == "patient.block_lifted")
    assert lifted_line["actor_role"] == "THERAPIST" and "Safety" not in str(lifted_line["detail"])
    denied = [e for e in trail if e["action"] == "clinical.access_denied"]
    assert [e["actor_role"] for e in denied] == ["ASSISTANT", "THERAPIST"]


async def test_concurrent_screenings_alert_once_and_concurrent_lifts_lift_once(client, app, db):
    """Two screenings of one entry at once (a redelivered job) alert each member once; two
    clinicians lifting one block at once: one lifts it, the other is told it is gone (409)."""
    import asyncio
    import uuid

    from anima.ai.jobs import screen_entry
    from anima.domains.audit.services import Actor
    from anima.domains.patients.blocks import BlockSource, block_patient
    from anima.jobs.runner import tenant_transaction
    from anima.runtime import RUNTIME_KEY

    org = await signup(client, tier="PRO")
    tid = await tenant_id_of(db, org.slug)
    runtime = app.state[RUNTIME_KEY]
    _, therapist, therapist_id = await add_member(client, db, org, "THERAPIST")
    pid = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Eco", "therapist_ids": [therapist_id]},
                             headers=org.headers)).json()["id"]
    note = await client.post(purl(org, pid, "/journal"), json={"kind": "note", "html": HIGH}, headers=bearer(therapist["access_token"]))
    entry_id = uuid.UUID(note.json()["id"])

    async def screen():
        async with tenant_transaction(runtime, tid) as tj:
            return await screen_entry(tj.session, tj.cipher, entry_id)

    results = await asyncio.gather(screen(), screen())
    assert sorted(r["alerted"] for r in results) == [0, 2]  # therapist (assigned and author) and owner, once
    rows = await in_tenant(db, org.slug, "SELECT staff_id::text FROM staff_alerts WHERE source_id = :e", {"e": entry_id})
    assert sorted(r[0] for r in rows) == sorted([therapist_id, org.owner_id])

    async with tenant_transaction(runtime, tid) as tj:
        _, newly = await block_patient(tj.session, Actor(None, "system", None, None), uuid.UUID(pid), "test block", BlockSource("note", entry_id))
    assert newly is True
    async with tenant_transaction(runtime, tid) as tj:  # blocking again keeps the first block
        _, newly = await block_patient(tj.session, Actor(None, "system", None, None), uuid.UUID(pid), "again", BlockSource("playbook", None))
    assert newly is False

    lift = purl(org, pid, "/block/lift")
    answers = await asyncio.gather(
        client.post(lift, json={"reason": "reviewed by the owner"}, headers=org.headers),
        client.post(lift, json={"reason": "reviewed by the therapist"}, headers=bearer(therapist["access_token"])),
    )
    assert sorted(a.status_code for a in answers) == [200, 409]
    lines = await in_tenant(db, org.slug, "SELECT action FROM audit_events WHERE patient_id = :p AND action LIKE 'patient.block%'",
                            {"p": uuid.UUID(pid)})
    assert sorted(r[0] for r in lines) == ["patient.block_lifted", "patient.blocked"]
