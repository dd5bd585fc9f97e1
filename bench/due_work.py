"""Periodic work at many tenants: one relay sweep plus one automation tick pass, few of them busy.

Run::

    .venv/bin/python bench/due_work.py [--tenants 200,10000] [--busy 10] [--rounds 5]

It uses ``DATABASE_URL`` (or the embedded PostgreSQL), creates a database ``anima_bench_<random>``
of its own and drops it (and its roles) at the end.

Setup per size: ``--busy`` tenants are provisioned for real (role, schema, tables); the others are
**registry rows only** (``platform.tenants``, state ``active``, schema and role names set, no
schema or role behind them). The sweep and the tick read the due-work index
(``platform.tenant_work``) and never the registry, so idle tenants cost them nothing whether or not
their schemas exist; an idle tenant the passes did visit would fail loudly (no such role), and the
statement log below would name it. Creating 10,000 real tenants takes about 20 minutes here
(``bench/tenancy.py --curve`` does it).

Each round makes every busy tenant busy — one event in its outbox (noted ``relay`` by ``emit``)
and a ``tick`` row due — then runs, on the real code with a PostgreSQL queue:
:meth:`anima.jobs.relay.Relay.relay_all` (the sweep) and
:func:`anima.jobs.handlers.automation_tick` followed by the ``tenant_tick`` it fanned out for each
tenant (run in process, four at a time as a worker would run them, rather than on a worker, so
the time is the pass's own). Every statement
the app engine sends during the pass is recorded (SQLAlchemy ``before_cursor_execute``); the
bench checks that every tenant id among the statements' parameters is a busy one and reports
statements per pass, per busy tenant, and the pass time (median of ``--rounds``). The queue's
own statements (SAQ, its own connections) are not in the count: one job per event and per
busy tenant's tick.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import statistics
import sys
import time
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy import event

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import anima.models  # noqa: E402,F401  (metadata complete)
from anima.db.engine import Database  # noqa: E402
from anima.events.due_work import WorkKind, note_due  # noqa: E402
from anima.events.outbox import emit  # noqa: E402
from anima.events.types import EventType  # noqa: E402
from anima.jobs.handlers import automation_tick, tenant_tick  # noqa: E402
from anima.jobs.queue import make_queue  # noqa: E402
from anima.jobs.relay import Relay  # noqa: E402
from anima.runtime import Runtime, build_runtime  # noqa: E402
from anima.tenancy.provisioning import provision_tenant  # noqa: E402
from anima.tenancy.scope import enter_tenant  # noqa: E402
from bench.tenancy import bench_settings, drop_bench_database, open_bench_database  # noqa: E402


#: tenant ticks run at once, as a worker runs its jobs (below the default worker concurrency of
#: 10 and the bench's pool of 4 connections + 4 overflow)
TICK_CONCURRENCY = 4


@dataclass
class Statements:
    """What the app engine sent during a pass: SQL text and parameters, in order."""

    sent: list[tuple[str, Any]] = field(default_factory=list)

    def tenant_ids(self) -> set[int]:
        """Every ``tenant_id`` parameter among the statements (the scope statement names its tenant)."""
        ids: set[int] = set()
        for _, params in self.sent:
            for p in params if isinstance(params, list) else [params]:
                if isinstance(p, dict) and isinstance(p.get("tenant_id"), int):
                    ids.add(p["tenant_id"])
        return ids


@contextmanager
def recording(db: Database) -> Iterator[Statements]:
    """Record the statements the app engine sends inside the block."""
    log = Statements()

    def before(conn: Any, cursor: Any, statement: str, parameters: Any, context: Any, executemany: bool) -> None:  # noqa: ARG001
        named = getattr(context, "compiled_parameters", None)  # the bind names (the driver's are positional)
        log.sent.append((statement, named if named is not None else parameters))

    event.listen(db.app.sync_engine, "before_cursor_execute", before)
    try:
        yield log
    finally:
        event.remove(db.app.sync_engine, "before_cursor_execute", before)


@dataclass(frozen=True)
class PassResult:
    """One sweep + tick pass: seconds, statements, the tenants the statements named, events relayed."""

    seconds: float
    statements: int
    tenant_ids: frozenset[int]
    relayed: int
    ticked: frozenset[int]


async def add_idle_tenants(db: Database, count: int) -> None:
    """Add ``count`` active registry rows with schema and role names but no schema or role."""
    async with db.admin.begin() as conn:
        await conn.execute(sa.text(
            "INSERT INTO platform.tenants (slug, name, tier, state, created_at, updated_at) "
            "SELECT 'idle-' || g, 'Idle ' || g, 'BUILDER', 'active', now(), now() "
            "FROM generate_series((SELECT count(*) FROM platform.tenants) + 1, "
            "(SELECT count(*) FROM platform.tenants) + :n) AS g"
        ), {"n": count})
        await conn.execute(sa.text(
            "UPDATE platform.tenants SET schema_name = 'tenant_' || id, db_role = :prefix || '_tenant_' || id "
            "WHERE schema_name IS NULL"
        ), {"prefix": db.prefix})
    async with db.admin.connect() as conn:  # what autovacuum does after a bulk insert
        await conn.execute(sa.text("ANALYZE platform.tenants"))


async def provision_busy(db: Database, count: int, prefix: str = "busy") -> list[int]:
    """Provision ``count`` real tenants; returns their ids."""
    return [(await provision_tenant(db, slug=f"{prefix}-{i:04d}")).id for i in range(count)]


async def make_busy(svc: Runtime, tenant_ids: list[int]) -> None:
    """Give each tenant one committed outbox event and a tick row due a second ago."""
    due = datetime.datetime.now(datetime.UTC) - datetime.timedelta(seconds=1)
    for tenant_id in tenant_ids:
        async with svc.sessionmaker() as session, session.begin():
            await enter_tenant(session, tenant_id)
            await emit(session, EventType.PATIENT_CREATED, {"patient_id": str(uuid.uuid4())})
            await note_due(session, WorkKind.TICK, due)


async def one_pass(svc: Runtime) -> PassResult:
    """One relay sweep and one automation tick (its tenant ticks run in process), recorded."""
    ctx = {"anima": svc}
    with recording(svc.db) as log:
        started = time.perf_counter()
        relayed = await Relay(svc).relay_all()
        ticked = await automation_tick(ctx)
        gate = asyncio.Semaphore(TICK_CONCURRENCY)

        async def tick(tenant_id: int) -> None:
            async with gate:
                await tenant_tick(ctx, tenant_id=tenant_id)

        await asyncio.gather(*(tick(t) for t in ticked))
        seconds = time.perf_counter() - started
    return PassResult(seconds, len(log.sent), frozenset(log.tenant_ids()), relayed, frozenset(ticked))


async def run_size(db: Database, svc: Runtime, busy: list[int], rounds: int) -> list[PassResult]:
    """``rounds`` passes, each after making every busy tenant busy again; checks the passes named
    busy tenants only, and every one of them."""
    results = []
    for _ in range(rounds):
        await make_busy(svc, busy)
        result = await one_pass(svc)
        stray = result.tenant_ids - set(busy)
        if stray or result.ticked != set(busy) or result.relayed != len(busy):
            raise AssertionError(f"pass touched {sorted(stray)[:5]}…, ticked {len(result.ticked)}, relayed {result.relayed}")
        results.append(result)
    return results


async def bench(sizes: list[int], busy_count: int, rounds: int) -> dict[int, list[PassResult]]:
    """Run every size in one database (idle rows added between sizes); returns results by size."""
    settings = bench_settings(workers=4)
    db = await open_bench_database(settings)
    out: dict[int, list[PassResult]] = {}
    try:
        queue = await make_queue(settings, db)
        svc = build_runtime(settings, db, queue=queue)
        try:
            started = time.perf_counter()
            busy = await provision_busy(db, busy_count)
            print(f"provisioned {busy_count} busy tenants in {time.perf_counter() - started:.1f} s", flush=True)
            existing = busy_count
            await one_pass(svc)  # settle what provisioning left (and warm the pool)
            for size in sizes:
                if size > existing:
                    started = time.perf_counter()
                    await add_idle_tenants(db, size - existing)
                    existing = size
                    print(f"{size} tenants registered ({time.perf_counter() - started:.1f} s)", flush=True)
                out[size] = await run_size(db, svc, busy, rounds)
        finally:
            await queue.disconnect()
    finally:
        await drop_bench_database(db)
    return out


def report(results: dict[int, list[PassResult]], busy: int) -> None:
    """Print the per-size figures and the ratio of the largest size to the smallest."""
    medians = {}
    print("\n| tenants | busy | statements per pass | per busy tenant | pass median (ms) | pass max (ms) |")
    print("|---|---|---|---|---|---|")
    for size, runs in results.items():
        med = statistics.median(r.seconds for r in runs)
        medians[size] = med
        stmts = statistics.median(r.statements for r in runs)
        print(f"| {size:,} | {busy} | {stmts:.0f} | {stmts / busy:.1f} | {med * 1000:.0f} | {max(r.seconds for r in runs) * 1000:.0f} |")
    sizes = sorted(results)
    if len(sizes) > 1:
        print(f"\npass time at {sizes[-1]:,} / at {sizes[0]:,} tenants: {medians[sizes[-1]] / medians[sizes[0]]:.2f}")
    print("every statement's tenant parameter named a busy tenant (checked each round)")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--tenants", default="200,10000", help="comma-separated tenant counts, ascending")
    parser.add_argument("--busy", type=int, default=10)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    sizes = [int(x) for x in args.tenants.split(",")]
    results = asyncio.run(bench(sizes, args.busy, args.rounds))
    report(results, args.busy)


if __name__ == "__main__":
    main()
