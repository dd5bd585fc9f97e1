"""Helpers of the events, queue and playbook tests: a queue per backend, an in-process worker, polling."""

from __future__ import annotations

import asyncio
import secrets
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any

import pytest
import sqlalchemy as sa

from anima.config import Settings, load_settings
from anima.db.engine import Database
from anima.jobs.queue import make_queue
from anima.jobs.relay import Relay
from anima.runtime import Runtime, build_runtime
from anima.jobs.worker import build_worker
from tests.conftest import test_environ
from tests.redis_support import REDIS_URL, needs_redis, redis_answers  # noqa: F401 - re-exported

#: a tick that never fires during a test: delays are fired by enqueueing tenant_tick directly
QUIET_TICK = "0 0 1 1 *"


BACKENDS = [
    pytest.param("postgres", id="postgres"),
    pytest.param("redis", id="redis", marks=needs_redis),
]


def queue_settings(backend: str, **extra: str) -> Settings:
    env = {"ANIMA_QUEUE_NAME": f"t{secrets.token_hex(5)}", "ANIMA_WORKER_SWEEP": "1", "ANIMA_JOB_HEARTBEAT": "2",
           "ANIMA_AUTOMATION_TICK": QUIET_TICK, "ANIMA_WORKER_CONCURRENCY": "4", **extra}
    if backend == "redis":
        env["REDIS_URL"] = REDIS_URL
    return load_settings(test_environ(**env))


async def clean_redis(name: str) -> None:
    import redis.asyncio as aioredis

    client = aioredis.from_url(REDIS_URL)
    try:
        for pattern in (f"saq:{name}:*", f"saq:job:{name}:*"):
            keys = [k async for k in client.scan_iter(match=pattern, count=500)]
            if keys:
                await client.delete(*keys)
    finally:
        await client.aclose()


@asynccontextmanager
async def services_for(settings: Settings, db: Database) -> AsyncIterator[Runtime]:
    """A worker runtime on a fresh queue; the queue (and on Redis its keys) is removed afterwards."""
    queue = await make_queue(settings, db)
    try:
        yield build_runtime(settings, db, queue=queue)
    finally:
        await queue.disconnect()
        if settings.redis_url:
            await clean_redis(settings.queue_name)


@asynccontextmanager
async def running_worker(svc: Runtime) -> AsyncIterator[Any]:
    """An in-process SAQ worker on ``svc`` (no relay: tests relay explicitly)."""
    worker = build_worker(svc, handle_signals=False)
    task = asyncio.create_task(worker.start())
    try:
        yield worker
    finally:
        await worker.stop()
        task.cancel()
        await asyncio.gather(task, return_exceptions=True)


async def eventually(check: Callable[[], Awaitable[Any]], *, timeout: float = 20.0, every: float = 0.1) -> Any:
    """Poll ``check`` until it returns something truthy; fail after ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = await check()
        if value:
            return value
        if time.monotonic() > deadline:
            raise AssertionError(f"condition not met within {timeout}s (last value {value!r})")
        await asyncio.sleep(every)


async def tenant_id_of(db: Database, slug: str) -> int:
    async with db.admin.connect() as conn:
        return (await conn.execute(sa.text("SELECT id FROM platform.tenants WHERE slug = :s"), {"s": slug})).scalar_one()


async def in_tenant(db: Database, slug: str, sql: str, params: dict[str, Any] | None = None) -> list[Any]:
    """Run ``sql`` in the tenant's schema as the admin role (test inspection only) and return the rows."""
    async with db.admin.begin() as conn:
        schema = (await conn.execute(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": slug})).scalar_one()
        await conn.execute(sa.text("SELECT set_config('search_path', :p, true)"), {"p": f'"{schema}"'})
        result = await conn.execute(sa.text(sql), params or {})
        return list(result.all()) if result.returns_rows else []


__all__ = ["BACKENDS", "Relay", "eventually", "in_tenant", "queue_settings", "running_worker", "services_for", "tenant_id_of"]
