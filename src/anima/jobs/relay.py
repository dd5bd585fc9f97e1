"""The relay: moves committed outbox events of every tenant into the queue.

It listens on the ``anima_outbox`` channel (see :mod:`anima.events.outbox`): a notification names
the schema whose transaction just committed an event, and that tenant's unrelayed events are
enqueued at once. Every ``ANIMA_WORKER_SWEEP`` seconds it also sweeps the tenants that the
platform's due-work index (:mod:`anima.events.due_work`) lists with ``relay`` work — every
``emit`` notes its tenant there in the event's own transaction — which catches events committed
while no relay listened. The sweep reads only those rows (claimed ``FOR UPDATE SKIP LOCKED`` with
a lease, so several workers share them), so its cost follows the tenants with events waiting, not
the number of tenants. Relaying takes the events ``FOR UPDATE SKIP LOCKED``, so several relays (one
per worker process) share the work without blocking.

Each relaying transaction first takes (deletes) its tenant's ``relay`` rows, then reads the
events, and before committing notes the tenant again if unrelayed events remain (a full batch, or
events another relay holds): see :mod:`anima.events.due_work` for why no event can be left
unlisted.

Each event becomes a ``handle_event`` job whose **key is the event** (``event:<tenant>:<id>``) and
whose ``scheduled`` time is the event's own: relaying an event twice (a relay that died between
enqueueing and marking the row) enqueues it once, on Redis and on PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import sqlalchemy as sa

from anima.events.due_work import FUNCTION_SCHEMA, WorkKind, claim_due, take_due
from anima.events.models import OutboxEvent
from anima.events.outbox import CHANNEL
from anima.jobs.queue import job_options
from anima.runtime import Runtime
from anima.logs import get_logger
from anima.jobs.runner import TenantInactive, tenant_transaction
from anima.tenancy import registry

log = get_logger(__name__)

#: tenants one sweep relays at once (each holds one pooled connection while it does)
SWEEP_CONCURRENCY = 4

#: notes the entered tenant again when events are still unrelayed (uses the partial index)
_NOTE_IF_LEFT = sa.text(
    f"SELECT {FUNCTION_SCHEMA}.note('{WorkKind.RELAY}', now()) "
    "WHERE EXISTS (SELECT 1 FROM outbox_events WHERE relayed_at IS NULL)"
)


def event_job_key(tenant_id: int, event_id: Any) -> str:
    """The SAQ key of an event's ``handle_event`` job."""
    return f"event:{tenant_id}:{event_id}"


class Relay:
    """Outbox -> queue for every tenant (see the module docstring)."""

    def __init__(self, svc: Runtime, *, batch: int = 500) -> None:
        self.svc = svc
        self.batch = batch
        self._schemas: dict[str, int] = {}

    async def relay_tenant(self, tenant_id: int) -> int:
        """Enqueue the tenant's unrelayed events, oldest first; returns how many."""
        total = 0
        options = job_options(self.svc.settings)
        while True:
            try:
                async with tenant_transaction(self.svc, tenant_id) as tj:
                    await take_due(tj.session, WorkKind.RELAY)
                    enqueued = await self._relay_batch(tj.session, tenant_id, options)
                    await tj.session.execute(_NOTE_IF_LEFT)
            except TenantInactive:
                return total
            total += enqueued
            if enqueued < self.batch:
                return total

    async def _relay_batch(self, session: Any, tenant_id: int, options: dict[str, Any]) -> int:
        """Enqueue one batch of the entered tenant's unrelayed events and mark them relayed."""
        rows = (await session.execute(
            sa.select(OutboxEvent.id, OutboxEvent.occurred_at)
            .where(OutboxEvent.relayed_at.is_(None))
            .order_by(OutboxEvent.occurred_at)
            .limit(self.batch)
            .with_for_update(skip_locked=True)
        )).all()
        if not rows:
            return 0
        await asyncio.gather(*(
            self.svc.queue.enqueue(
                "handle_event", key=event_job_key(tenant_id, r.id), scheduled=int(r.occurred_at.timestamp()),
                tenant_id=tenant_id, event_id=str(r.id), **options,
            )
            for r in rows
        ))
        await session.execute(
            sa.update(OutboxEvent).where(OutboxEvent.id.in_([r.id for r in rows])).values(relayed_at=sa.func.now())
        )
        return len(rows)

    async def relay_all(self) -> int:
        """Relay the pending events of every tenant the due-work index lists; returns how many.

        Up to :data:`SWEEP_CONCURRENCY` tenants are relayed at once; one tenant's failure is logged
        and does not stop the others. Tenants are claimed for a lease of a few sweep intervals: a worker that dies mid-sweep
        leaves them to the next sweep after the lease, and a suspended tenant's rows wait (leased)
        until it is active again.
        """
        lease = max(60.0, 6 * float(self.svc.settings.worker_sweep))
        async with self.svc.sessionmaker() as session, session.begin():
            tenant_ids = await claim_due(session, WorkKind.RELAY, lease=lease)
        gate = asyncio.Semaphore(SWEEP_CONCURRENCY)

        async def one(tenant_id: int) -> int:
            async with gate:
                return await self.relay_tenant(tenant_id)

        outcomes = await asyncio.gather(*(one(t) for t in tenant_ids), return_exceptions=True)
        failed = [o for o in outcomes if isinstance(o, BaseException)]
        for exc in failed:  # that tenant's rows stay listed; its claim runs out and a later sweep retries
            log.warning("relay of one tenant failed", error_type=type(exc).__qualname__)
        return sum(o for o in outcomes if isinstance(o, int))

    async def _tenant_of(self, schema: str) -> int | None:
        if schema not in self._schemas:
            async with self.svc.sessionmaker() as session:
                found = await registry.id_of_schema(session, schema)
            if found is None:
                return None
            self._schemas[schema] = found
        return self._schemas[schema]

    async def run(self, stop: asyncio.Event) -> None:
        """Listen and sweep until ``stop`` is set."""
        pending: asyncio.Queue[str] = asyncio.Queue()
        url = self.svc.db.app_url.set(drivername="postgresql").render_as_string(hide_password=False)
        conn = await asyncpg.connect(url)
        await conn.add_listener(CHANNEL, lambda *args: pending.put_nowait(args[3]))
        sweep_every = self.svc.settings.worker_sweep
        loop = asyncio.get_running_loop()
        next_sweep = 0.0
        try:
            while not stop.is_set():
                try:
                    if loop.time() >= next_sweep:
                        next_sweep = loop.time() + sweep_every
                        await self.relay_all()
                    try:
                        schema = await asyncio.wait_for(pending.get(), timeout=min(1.0, sweep_every))
                    except TimeoutError:
                        continue
                    schemas = {schema}
                    while not pending.empty():
                        schemas.add(pending.get_nowait())
                    for name in schemas:
                        tenant_id = await self._tenant_of(name)
                        if tenant_id is not None:
                            await self.relay_tenant(tenant_id)
                except Exception:  # noqa: BLE001 - the next sweep catches up
                    log.exception("relay pass failed")
                    await asyncio.sleep(1)
        finally:
            await conn.close()
