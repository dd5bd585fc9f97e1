"""The relay: moves committed outbox events of every tenant into the queue.

It listens on the ``anima_outbox`` channel (see :mod:`anima.events.outbox`): a notification names
the schema whose transaction just committed an event, and that tenant's unrelayed events are
enqueued at once. Every ``ANIMA_WORKER_SWEEP`` seconds it also sweeps every active tenant, which
catches events committed while no relay listened. Relaying takes the rows ``FOR UPDATE SKIP
LOCKED``, so several relays (one per worker process) share the work without blocking.

Each event becomes a ``handle_event`` job whose **key is the event** (``event:<tenant>:<id>``) and
whose ``scheduled`` time is the event's own: relaying an event twice (a relay that died between
enqueueing and marking the row) enqueues it once, on Redis and on PostgreSQL alike.
"""

from __future__ import annotations

import asyncio
from typing import Any

import asyncpg
import sqlalchemy as sa

from anima.events.models import OutboxEvent
from anima.events.outbox import CHANNEL
from anima.jobs.queue import job_options
from anima.runtime import Runtime
from anima.logs import get_logger
from anima.jobs.runner import TenantInactive, tenant_transaction

log = get_logger(__name__)


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
                    enqueued = await self._relay_batch(tj.session, tenant_id, options)
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
        """Relay every active tenant's pending events; returns how many."""
        async with self.svc.sessionmaker() as session:
            rows = (await session.execute(sa.text("SELECT id, schema_name FROM platform.tenants WHERE state = 'active'"))).all()
        self._schemas.update({r.schema_name: r.id for r in rows})
        total = 0
        for r in rows:
            total += await self.relay_tenant(r.id)
        return total

    async def _tenant_of(self, schema: str) -> int | None:
        if schema not in self._schemas:
            async with self.svc.sessionmaker() as session:
                found = (await session.execute(
                    sa.text("SELECT id FROM platform.tenants WHERE schema_name = :s"), {"s": schema}
                )).scalar_one_or_none()
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
