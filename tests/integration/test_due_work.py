"""The platform's due-work index: what the relay sweep and the automation tick visit.

* An event's transaction notes its tenant (``relay``); the sweep, with nobody listening, relays
  it and clears the row; tenants without events are never visited. An event still uncommitted
  while a pass runs is not lost: its row appears at commit and the next sweep takes it.
* A patient entering a stage with ``timeout_days`` notes ``tick`` at the moment it would time
  out; the tick's claim includes the tenant only once that moment has passed, and the tenant's
  pass clears what it did.
* Isolation (property-based): whatever sequence of notes and takes tenants make, each tenant's
  calls change only its own rows; a tenant transaction cannot read or write the table directly,
  and outside a tenant the functions refuse.
"""

from __future__ import annotations

import datetime

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.exc import DBAPIError

from anima.events.due_work import WorkKind, claim_due, note_due, take_due
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.jobs.handlers import automation_tick
from anima.tenancy.scope import enter_tenant
from tests.conftest import signup
from tests.integration.events_support import in_tenant, queue_settings, services_for, tenant_id_of
from tests.integration.test_event_sources import new_patient, set_stage


async def work_rows(db, tenant_ids: list[int], kind: str) -> dict[int, list[datetime.datetime]]:
    """tenant id -> due times of its rows of ``kind`` (admin inspection)."""
    async with db.admin.connect() as conn:
        rows = (await conn.execute(
            sa.text("SELECT tenant_id, due_at FROM platform.tenant_work WHERE kind = :k AND tenant_id = ANY(:t) ORDER BY due_at"),
            {"k": kind, "t": tenant_ids},
        )).all()
    out: dict[int, list[datetime.datetime]] = {t: [] for t in tenant_ids}
    for r in rows:
        out[r.tenant_id].append(r.due_at)
    return out


async def unrelayed(db, slug: str) -> int:
    return (await in_tenant(db, slug, "SELECT count(*) FROM outbox_events WHERE relayed_at IS NULL"))[0][0]


async def test_sweep_visits_only_tenants_with_events_and_clears_them(client, db):
    busy, idle = await signup(client), await signup(client)
    ids = [await tenant_id_of(db, busy.slug), await tenant_id_of(db, idle.slug)]
    async with services_for(queue_settings("postgres"), db) as svc:
        from anima.jobs.relay import Relay

        relay = Relay(svc)
        await relay.relay_all()  # whatever signup left
        assert await work_rows(db, ids, "relay") == {ids[0]: [], ids[1]: []}

        await new_patient(client, busy)  # emits PATIENT_CREATED
        rows = await work_rows(db, ids, "relay")
        assert len(rows[ids[0]]) == 1 and rows[ids[1]] == []
        assert await unrelayed(db, busy.slug) >= 1

        visited: list[int] = []
        original = relay.relay_tenant

        async def spy(tenant_id: int) -> int:
            visited.append(tenant_id)
            return await original(tenant_id)

        relay.relay_tenant = spy  # type: ignore[method-assign]
        assert await relay.relay_all() >= 1
        assert ids[0] in visited and ids[1] not in visited
        assert await unrelayed(db, busy.slug) == 0
        assert await work_rows(db, ids, "relay") == {ids[0]: [], ids[1]: []}


async def test_an_event_committed_during_a_pass_is_swept_later(client, db):
    org = await signup(client)
    tid = await tenant_id_of(db, org.slug)
    async with services_for(queue_settings("postgres"), db) as svc:
        from anima.jobs.relay import Relay

        relay = Relay(svc)
        await relay.relay_all()
        async with svc.sessionmaker() as session, session.begin():
            await enter_tenant(session, tid)
            await emit(session, EventType.PATIENT_CREATED, {"patient_id": "00000000-0000-0000-0000-000000000001"})
            # the pass runs while the event's transaction is open: it sees neither row nor event
            assert await relay.relay_tenant(tid) == 0
            assert tid not in await _due_tenants(svc, WorkKind.RELAY)
        assert (await work_rows(db, [tid], "relay"))[tid], "the committed event's row is listed"
        assert await relay.relay_all() == 1
        assert await unrelayed(db, org.slug) == 0
        assert (await work_rows(db, [tid], "relay"))[tid] == []


async def _due_tenants(svc, kind: WorkKind) -> list[int]:
    """Due tenants as a claim would see them, without keeping the claim (rolled back)."""
    async with svc.sessionmaker() as session:
        async with session.begin():
            ids = await claim_due(session, kind, lease=1)
            await session.rollback()
    return ids


async def test_stage_timeout_is_listed_for_when_it_falls_due(client, db):
    org, idle = await signup(client, tier="PRO"), await signup(client, tier="PRO")
    tid, idle_id = await tenant_id_of(db, org.slug), await tenant_id_of(db, idle.slug)
    assert (await set_stage(client, org, "intake", {"timeout_days": 3})).status_code == 200
    pid = await new_patient(client, org, journey_stage="intake")
    await new_patient(client, idle)  # a patient in a stage without a timeout: no tick work
    (entered,) = (await in_tenant(db, org.slug, "SELECT stage_entered_at FROM patients WHERE id = :p", {"p": pid}))[0]
    rows = await work_rows(db, [tid, idle_id], "tick")
    assert rows[idle_id] == []
    assert min(rows[tid]) == entered + datetime.timedelta(days=3)

    async with services_for(queue_settings("postgres"), db) as svc:
        assert tid not in await _due_tenants(svc, WorkKind.TICK)  # not due yet
        # four days pass for this patient and for its row in the index
        await in_tenant(db, org.slug, "UPDATE patients SET stage_entered_at = stage_entered_at - interval '4 days'")
        async with db.admin.begin() as conn:
            await conn.execute(
                sa.text("UPDATE platform.tenant_work SET due_at = due_at - interval '4 days' WHERE tenant_id = :t"), {"t": tid}
            )
        fanned_out = await automation_tick({"anima": svc})
        assert tid in fanned_out and idle_id not in fanned_out
        assert tid in await _claimed(db) and idle_id not in await _claimed(db)
        from anima.jobs.handlers import tenant_tick

        assert await tenant_tick({"anima": svc}, tenant_id=tid) == {
            "delays": 0, "stage_timeouts": 1, "booking_offers": 0, "lead_ghosts": 0, "booking_notices": 0,
            "checkouts_expired": 0, "charged": 0, "links": 0}
    assert (await work_rows(db, [tid], "tick"))[tid] == []  # reported: nothing left to do


async def _claimed(db) -> set[int]:
    async with db.admin.connect() as conn:
        return set((await conn.execute(
            sa.text("SELECT tenant_id FROM platform.tenant_work WHERE claimed_until > now()")
        )).scalars())


# -- isolation ------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
async def three(client, db) -> list[int]:
    return [await tenant_id_of(db, (await signup(client)).slug) for _ in range(3)]


step = st.tuples(st.integers(0, 2), st.sampled_from(["note", "take"]), st.sampled_from(list(WorkKind)), st.integers(-3600, 3600))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow])
@given(steps=st.lists(step, min_size=1, max_size=6))
async def test_a_tenant_notes_and_takes_only_its_own_work(db, three, steps):
    maker = db.sessionmaker()
    now = datetime.datetime.now(datetime.UTC)
    for actor, action, kind, offset in steps:
        before = {k: await work_rows(db, three, k) for k in WorkKind}
        async with maker() as session, session.begin():
            assert await enter_tenant(session, three[actor]) is not None
            if action == "note":
                await note_due(session, kind, now + datetime.timedelta(seconds=offset))
            else:
                await take_due(session, kind)
        after = {k: await work_rows(db, three, k) for k in WorkKind}
        for k in WorkKind:
            for i, tenant_id in enumerate(three):
                if i != actor or k != kind:
                    assert after[k][tenant_id] == before[k][tenant_id], (action, k, actor, i)
        mine_before, mine_after = before[kind][three[actor]], after[kind][three[actor]]
        if action == "note":
            assert len(mine_after) == len(mine_before) + 1
        else:
            assert all(due > now for due in mine_after) and set(mine_after) <= set(mine_before)


@pytest.mark.parametrize("sql", [
    "SELECT count(*) FROM platform.tenant_work",
    "INSERT INTO platform.tenant_work (tenant_id, kind, due_at) VALUES (1, 'relay', now())",
    "DELETE FROM platform.tenant_work",
    "SELECT work_index.caller_tenant()",
])
async def test_a_tenant_transaction_cannot_touch_the_table_directly(db, three, sql):
    async with db.sessionmaker()() as session:
        with pytest.raises(DBAPIError, match="permission denied"):
            async with session.begin():
                await enter_tenant(session, three[0])
                await session.execute(sa.text(sql))


async def test_outside_a_tenant_the_functions_refuse(db):
    async with db.sessionmaker()() as session:
        with pytest.raises(DBAPIError, match="inside a tenant transaction only"):
            async with session.begin():
                await note_due(session, WorkKind.RELAY)
