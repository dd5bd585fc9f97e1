"""bench/due_work.py's core at a small scale: 200 tenants, 3 busy.

One sweep plus one tick pass names busy tenants only (every tenant id among the statements'
parameters), relays each busy tenant's event and ticks each busy tenant, and sends as many
statements with 400 tenants as with 200. Not a timing test. Runs in a database of its own.
"""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
import sqlalchemy as sa

from anima.jobs.queue import make_queue
from anima.runtime import build_runtime
from bench.due_work import add_idle_tenants, one_pass, provision_busy, run_size
from bench.tenancy import bench_settings, drop_bench_database, open_bench_database
from tests import conftest


@pytest.fixture(scope="module")
async def setup() -> AsyncIterator[tuple]:
    settings = bench_settings(conftest.test_environ(), workers=2)
    db = await open_bench_database(settings)
    try:
        queue = await make_queue(settings, db)
        try:
            svc = build_runtime(settings, db, queue=queue)
            busy = await provision_busy(db, 3)
            await one_pass(svc)  # what provisioning left
            await add_idle_tenants(db, 197)
            yield db, svc, busy
        finally:
            await queue.disconnect()
    finally:
        await drop_bench_database(db)


async def test_a_pass_names_only_busy_tenants_and_costs_the_same_with_more_idle_ones(setup):
    db, svc, busy = setup
    async with db.admin.connect() as conn:
        assert await conn.scalar(sa.text("SELECT count(*) FROM platform.tenants WHERE state = 'active'")) == 200
    small = await run_size(db, svc, busy, rounds=1)  # raises when a statement names an idle tenant
    assert small[0].tenant_ids == set(busy) and small[0].ticked == set(busy) and small[0].relayed == 3

    await add_idle_tenants(db, 200)
    large = await run_size(db, svc, busy, rounds=1)
    assert large[0].statements == small[0].statements
    assert large[0].tenant_ids == set(busy)


async def test_an_idle_tenant_given_due_work_is_visited(setup):
    """The converse: a due row is what makes a pass reach a tenant. An idle registry row has no
    role, so the visit fails (logged, the other tenants go on) and its row stays listed."""
    db, svc, _ = setup
    async with db.admin.connect() as conn:
        idle = (await conn.execute(sa.text("SELECT id FROM platform.tenants WHERE slug LIKE 'idle-%' ORDER BY id LIMIT 1"))).scalar_one()
    async with db.admin.begin() as conn:
        await conn.execute(sa.text("INSERT INTO platform.tenant_work (tenant_id, kind, due_at) VALUES (:t, 'relay', now())"), {"t": idle})
    try:
        result = await one_pass(svc)
        assert result.tenant_ids == {idle}  # nothing else was due
        async with db.admin.connect() as conn:
            left = await conn.scalar(sa.text("SELECT count(*) FROM platform.tenant_work WHERE tenant_id = :t"), {"t": idle})
        assert left == 1
    finally:
        async with db.admin.begin() as conn:
            await conn.execute(sa.text("DELETE FROM platform.tenant_work WHERE tenant_id = :t"), {"t": idle})
