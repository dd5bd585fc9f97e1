"""The job queue: SAQ on Redis when ``REDIS_URL`` is set, on PostgreSQL otherwise.

On PostgreSQL, SAQ's tables (``saq_jobs``, ``saq_stats``, ``saq_versions``) live in a schema of
their own, ``saq``, in Anima's database: the connections of the queue's pool carry
``search_path=saq``, so SAQ's unqualified table names land there and never among tenant or
platform tables. The embedded default therefore runs everything on one database.

:func:`job_options` gives every job what SAQ's defaults leave out: retries with exponential backoff, a timeout, a heartbeat so that a job of
a worker that died is swept and retried, and a TTL keeping finished jobs (and so their keys)
around for a week, so that re-enqueueing the same key is a no-op.
"""

from __future__ import annotations

import time
import weakref
from typing import Any

import sqlalchemy as sa
from saq import Queue
from saq.queue.redis import RedisQueue

from anima.config import Settings
from anima.db.engine import Database

QUEUE_SCHEMA = "saq"
#: first key of SAQ's advisory locks, away from the (tenant id, hash) keys of anima.billing.limits
LOCK_KEYSPACE = -0x616E696D
#: finished jobs are kept this long (seconds): their keys make re-enqueueing idempotent
FINISHED_TTL = 7 * 24 * 3600


#: a queue connection back in the pool for longer than this (seconds) is checked before it is
#: handed out again; one returned moments ago is not
CHECK_AFTER_IDLE = 5.0


class _IdleCheck:
    """The queue pool's ``check`` and ``reset`` callbacks: a connection is checked (one empty
    statement, a round trip) only when it sat idle longer than :data:`CHECK_AFTER_IDLE`.

    Checking every checkout cost a round trip per queue operation — enqueue, dequeue, each
    status update, finish: about ten per journal note, 8 % of the worker's CPU under load. A
    connection used moments ago is as good as the check would say; one that broke in between
    fails its statement, is discarded by the pool, and the job's retry takes another.
    """

    def __init__(self) -> None:
        self._returned: weakref.WeakKeyDictionary[Any, float] = weakref.WeakKeyDictionary()

    async def reset(self, conn: Any) -> None:
        self._returned[conn] = time.monotonic()

    async def check(self, conn: Any) -> None:
        from psycopg_pool import AsyncConnectionPool

        returned = self._returned.get(conn)
        if returned is None or time.monotonic() - returned > CHECK_AFTER_IDLE:
            await AsyncConnectionPool.check_connection(conn)


def job_options(settings: Settings, *, timeout: int = 300, retries: int = 6) -> dict[str, Any]:
    """SAQ job keyword arguments: ``retries`` attempts in all, backoff from 1 s up to 5 min,
    ``timeout`` seconds, heartbeat ``ANIMA_JOB_HEARTBEAT`` seconds, finished jobs kept a week."""
    return {
        "timeout": timeout,
        "heartbeat": settings.job_heartbeat,
        "retries": retries,
        "retry_delay": 1.0,
        "retry_backoff": 300,
        "ttl": FINISHED_TTL,
    }


def libpq_url(db: Database) -> str:
    """The admin URL as a plain ``postgresql://`` URL for psycopg."""
    return db.admin_url.set(drivername="postgresql").render_as_string(hide_password=False)


async def ensure_queue_schema(db: Database) -> None:
    """Create the ``saq`` schema if missing (SAQ creates its own tables in it on connect)."""
    async with db.admin.begin() as conn:
        await conn.execute(sa.text(f'CREATE SCHEMA IF NOT EXISTS "{QUEUE_SCHEMA}"'))


class SweepingRedisQueue(RedisQueue):
    """SAQ's Redis queue, sweeping a dead worker's jobs as often as ``ANIMA_WORKER_SWEEP`` says.

    SAQ rate-limits its Redis sweep with a key that lives ``lock`` seconds, and its worker calls
    ``sweep()`` without an argument, so the default of 60 s applied whatever the worker's sweep
    timer said: a job of a killed worker waited up to a minute (plus its heartbeat) before any
    worker retried it. On PostgreSQL the sweep is guarded by an advisory lock instead and runs at
    every tick of the timer. Here the key lives :attr:`sweep_every` seconds.
    """

    #: seconds between sweeps across all workers of the queue
    sweep_every: int = 60

    async def sweep(self, lock: int | None = None, abort: float = 5.0) -> list[str]:
        """SAQ's sweep with ``lock`` defaulting to :attr:`sweep_every`; the ids of the jobs swept."""
        return await super().sweep(self.sweep_every if lock is None else lock, abort)


async def make_queue(settings: Settings, db: Database, *, name: str | None = None, max_connections: int = 20) -> Queue:
    """A connected SAQ queue named ``name`` (default ``ANIMA_QUEUE_NAME``); call ``disconnect()`` when done.

    Redis when ``settings.redis_url`` is set; otherwise :class:`saq.queue.postgres.PostgresQueue`
    on the admin role's connection, in schema ``saq``.
    """
    name = name or settings.queue_name
    if settings.redis_url:
        queue = SweepingRedisQueue.from_url(settings.redis_url, name=name)
        queue.sweep_every = settings.worker_sweep
    else:
        from psycopg_pool import AsyncConnectionPool
        from saq.queue.postgres import PostgresQueue

        await ensure_queue_schema(db)
        idle = _IdleCheck()
        pool = AsyncConnectionPool(
            libpq_url(db),
            kwargs={"options": f"-c search_path={QUEUE_SCHEMA}", "application_name": "anima-queue"},
            open=False,
            check=idle.check,
            reset=idle.reset,
        )
        queue = PostgresQueue(
            pool=pool, name=name, min_size=1, max_size=max_connections,
            saq_lock_keyspace=LOCK_KEYSPACE, manage_pool_lifecycle=True,
        )
    await queue.connect()
    return queue


def backend(queue: Queue) -> str:
    """``"redis"`` or ``"postgres"``."""
    return "postgres" if type(queue).__name__ == "PostgresQueue" else "redis"
