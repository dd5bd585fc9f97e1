"""The audit trail: who/when/what/which request for every clinical read and write; append-only by
privilege; owners list and export it; erasure leaves the trail with ids and counts only."""

from __future__ import annotations

import sqlalchemy as sa

from anima.tenancy.scope import enter_tenant
from tests.conftest import add_member, bearer, signup
from tests.integration.forms_support import submit_intake

MARK = "ZZAUDITMARKZZ"


async def _tenant(db, slug):
    async with db.admin.connect() as conn:
        row = (await conn.execute(sa.text("SELECT id, schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})).one()
    return row.id, row.schema_name


async def test_reads_and_writes_are_recorded_with_the_request(client, db):
    org = await signup(client, tier="PRO")
    _, tokens, therapist_id = await add_member(client, db, org, "THERAPIST")
    therapist = bearer(tokens["access_token"])
    base = f"/api/v1/orgs/{org.slug}/patients"
    pid = (await client.post(base, json={"first_name": "Au", "clinical": {"risk_notes": MARK}}, headers=org.headers)).json()["id"]
    entry = await client.post(f"{base}/{pid}/journal", json={"kind": "note", "html": f"<p>{MARK}</p>", "visibility": "shared"},
                              headers={**therapist, "X-Request-ID": "req-audit-0001"})
    eid = entry.json()["id"]
    await client.get(f"{base}/{pid}/journal/{eid}", headers={**org.headers, "X-Request-ID": "req-audit-0002"})
    await client.get(f"{base}/{pid}/journal", headers=therapist)
    await client.get(f"{base}/{pid}", headers=therapist)

    trail = await client.get(f"{base}/{pid}/audit", headers=org.headers)
    assert trail.status_code == 200
    events = trail.json()["items"]
    assert [e["action"] for e in events] == ["patient.created", "journal.created", "journal.read", "journal.listed", "patient.read"]
    created, read = events[1], events[2]
    assert created["actor_id"] == therapist_id and created["actor_role"] == "THERAPIST"
    assert created["request_id"] == "req-audit-0001" and created["client_address"] == "127.0.0.1"
    assert created["entry_id"] == eid and created["patient_id"] == pid
    assert read["actor_id"] == org.owner_id and read["request_id"] == "req-audit-0002"
    assert events[3]["detail"]["entry_ids"] == [eid]
    assert MARK not in trail.text

    assert (await client.get(f"{base}/{pid}/audit", headers=therapist)).status_code == 403
    exported = await client.get(f"{base}/{pid}/audit/export", headers=org.headers)
    assert exported.status_code == 200 and len(exported.json()["events"]) == 5
    assert (await client.get(f"{base}/{pid}/audit", headers=org.headers)).json()["items"][-1]["action"] == "audit.exported"


async def test_trail_is_append_only_for_the_tenant_role(client, db):
    org = await signup(client, tier="PRO")
    base = f"/api/v1/orgs/{org.slug}/patients"
    pid = (await client.post(base, json={"first_name": "Ap", "email": "ap@example.org"}, headers=org.headers)).json()["id"]
    tenant_id, _ = await _tenant(db, org.slug)
    for statement in (
        "UPDATE audit_events SET action = 'forged'",
        "DELETE FROM audit_events",
        "TRUNCATE audit_events",
        "INSERT INTO data_keys (purpose, version, wrapped_key, master_fingerprint) VALUES ('data', 99, 'x', 'x')",
        "UPDATE data_keys SET retired_at = now()",
        "DELETE FROM data_keys",
    ):
        async with db.app.connect() as conn:
            async with conn.begin():
                from sqlalchemy.ext.asyncio import AsyncSession

                session = AsyncSession(bind=conn)
                assert await enter_tenant(session, tenant_id) is not None
                try:
                    await session.execute(sa.text(statement))
                except sa.exc.DBAPIError as exc:
                    assert "permission denied" in str(exc), statement
                else:
                    raise AssertionError(f"tenant role could run: {statement}")
    # and it can still insert and read
    async with db.app.connect() as conn:
        async with conn.begin():
            from sqlalchemy.ext.asyncio import AsyncSession

            session = AsyncSession(bind=conn)
            await enter_tenant(session, tenant_id)
            assert (await session.execute(sa.text("SELECT count(*) FROM audit_events WHERE patient_id = :p"), {"p": pid})).scalar_one() == 1
            assert (await session.execute(sa.text("SELECT count(*) FROM data_keys"))).scalar_one() == 2


async def test_export_and_erasure(client, db):
    org = await signup(client, tier="PRO")
    _, tokens, therapist_id = await add_member(client, db, org, "THERAPIST")
    therapist = bearer(tokens["access_token"])
    base = f"/api/v1/orgs/{org.slug}/patients"
    pid = (await client.post(base, json={"first_name": "Er", "email": "er@example.org", "therapist_ids": [therapist_id],
                                         "clinical": {"medical_history": MARK}}, headers=org.headers)).json()["id"]
    e1 = (await client.post(f"{base}/{pid}/journal", json={"kind": "note", "html": f"<p>{MARK}</p>"}, headers=therapist)).json()["id"]
    await client.post(f"{base}/{pid}/journal/{e1}/sign", headers=therapist)
    await client.post(f"{base}/{pid}/journal/{e1}/amendments", json={"reason": "more", "html": "<p>more</p>"}, headers=therapist)
    await submit_intake(client, org, pid, MARK)

    export = await client.get(f"{base}/{pid}/export", headers=org.headers)
    assert export.status_code == 200
    record = export.json()
    assert record["format"] == "anima.patient-export/1"
    assert record["patient"]["clinical"]["medical_history"] == MARK and record["patient"]["email"] == "er@example.org"
    assert len(record["journal"]) == 2  # the therapist's private note included for the owner
    assert record["journal"][0]["amendments"][0]["html"] == "<p>more</p>"
    assert record["patient"]["therapist_ids"] == [therapist_id]

    assert (await client.delete(f"{base}/{pid}", headers=therapist)).status_code == 403
    erased = await client.delete(f"{base}/{pid}", headers=org.headers)
    assert erased.status_code == 204
    assert (await client.get(f"{base}/{pid}", headers=org.headers)).status_code == 404

    _, schema = await _tenant(db, org.slug)
    async with db.admin.connect() as conn:
        for table, column in (("patients", "id"), ("journal_entries", "patient_id"), ("patient_therapists", "patient_id")):
            count = await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}".{table} WHERE {column} = :p'), {"p": pid})
            assert count == 0, table
        assert await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}".journal_amendments')) == 0
        trail_text = await conn.scalar(sa.text(f'SELECT string_agg(t::text, \' \') FROM "{schema}".audit_events t'))
    assert MARK not in trail_text and "er@example.org" not in trail_text

    trail = (await client.get(f"{base}/{pid}/audit", headers=org.headers)).json()["items"]
    erasure = trail[-1]
    assert erasure["action"] == "patient.erased" and erasure["actor_id"] == org.owner_id
    assert erasure["detail"] == {"journal_entries": 2, "amendments": 1}
    assert "patient.exported" in [e["action"] for e in trail]
