"""Events per second through outbox -> relay -> worker, against enqueueing the same jobs directly.

    DATABASE_URL=postgresql://... python bench/events.py [--events 500] [--backend postgres|redis]

Both paths run the same no-op job function (``bench_noop``) in one worker process of this
program on the same queue backend; the outbox path adds ``emit`` in a tenant transaction per
event, the relay's ``FOR UPDATE SKIP LOCKED`` batches and the per-event key. Prints both rates
and their ratio. Uses a scratch database ``anima_bench_events_<random>`` that it drops at the end.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import secrets
import sys
import time
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import sqlalchemy as sa  # noqa: E402

from anima.config import load_settings  # noqa: E402
from anima.db.engine import open_database  # noqa: E402
from anima.db.setup import migrate_platform  # noqa: E402
from anima.events.outbox import emit  # noqa: E402
from anima.jobs.queue import job_options, make_queue  # noqa: E402
from anima.jobs.relay import Relay  # noqa: E402
from anima.runtime import build_runtime  # noqa: E402
from anima.events.types import EventType  # noqa: E402
from anima.tenancy.provisioning import provision_tenant  # noqa: E402
from anima.tenancy.scope import enter_tenant  # noqa: E402

DONE: dict[str, int] = {"n": 0}


async def bench_noop(ctx: dict[str, Any], **kwargs: Any) -> None:
    DONE["n"] += 1


async def wait_for(n: int) -> None:
    while DONE["n"] < n:
        await asyncio.sleep(0.005)


async def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--events", type=int, default=500)
    parser.add_argument("--backend", choices=("postgres", "redis"), default="postgres")
    args = parser.parse_args()
    env = dict(os.environ)
    env.setdefault("ANIMA_SECRET_KEY", "bench-secret-" + "x" * 32)
    env.setdefault("ANIMA_MASTER_KEY", "AAECAwQFBgcICQoLDA0ODxAREhMUFRYXGBkaGxwdHh8=")
    env["ANIMA_LOG_LEVEL"] = "error"
    env["ANIMA_QUEUE_NAME"] = f"bench{secrets.token_hex(4)}"
    if args.backend == "redis":
        env.setdefault("REDIS_URL", "redis://127.0.0.1:6379/0")
    else:
        env.pop("REDIS_URL", None)
    settings = load_settings(env)
    name = f"anima_bench_events_{secrets.token_hex(4)}"
    db = await open_database(settings, database=name)
    try:
        await migrate_platform(db)
        ref = await provision_tenant(db, slug=f"bench-{secrets.token_hex(3)}", name="Bench", tier="CENTER", owner_email=None, actor="bench")
        queue = await make_queue(settings, db)
        svc = build_runtime(settings, db, queue=queue)
        from saq import Worker

        # handle_event is replaced by the no-op under the same name, so both paths run the same job
        worker = Worker(queue, functions=[("handle_event", bench_noop), ("bench_noop", bench_noop)], concurrency=20)
        worker.SIGNALS = []
        task = asyncio.create_task(worker.start())
        n = args.events
        options = job_options(settings)

        start = time.perf_counter()
        await asyncio.gather(*(queue.enqueue("bench_noop", key=f"direct-{i}", i=i, **options) for i in range(n)))
        await wait_for(n)
        direct = n / (time.perf_counter() - start)

        relay = Relay(svc)
        start = time.perf_counter()
        maker = db.sessionmaker()

        async def one(i: int) -> None:
            async with maker() as s, s.begin():
                await enter_tenant(s, ref.id)
                await emit(s, EventType.PATIENT_CREATED, {"patient_id": str(i)})

        sem = asyncio.Semaphore(10)

        async def bounded(i: int) -> None:
            async with sem:
                await one(i)

        await asyncio.gather(*(bounded(i) for i in range(n)))
        await relay.relay_tenant(ref.id)
        await wait_for(2 * n)
        outbox = n / (time.perf_counter() - start)
        print(f"backend={args.backend} events={n}")
        print(f"direct enqueue -> worker:          {direct:8.1f} jobs/s")
        print(f"outbox emit -> relay -> worker:    {outbox:8.1f} events/s")
        print(f"ratio outbox/direct:               {outbox / direct:8.2f}")
        await worker.stop()
        task.cancel()
        await queue.disconnect()
    finally:
        await db.dispose()
        from sqlalchemy.ext.asyncio import create_async_engine

        server = create_async_engine(db.admin_url.set(database="postgres"), isolation_level="AUTOCOMMIT", poolclass=sa.NullPool)
        async with server.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            for role in (await conn.execute(sa.text("SELECT rolname FROM pg_roles WHERE rolname LIKE :p"), {"p": db.prefix + "\\_%"})).scalars().all():
                await conn.execute(sa.text(f'DROP ROLE IF EXISTS "{role}"'))
        await server.dispose()


if __name__ == "__main__":
    asyncio.run(main())
