"""Public form submissions per second: encrypted and screened, against the same answers stored in
plain and unscreened, in the same run on the real database.

Each submission is one tenant transaction (entered as a job enters a tenant), answering the
system intake in Spanish through a public link with a long free-text answer:

* **forms** — :func:`anima.domains.forms.services.submit`: validation, the answers, the mapped
  person details and the scores sealed with the tenant's field cipher, the free text screened by
  the risk detector, the row, the audit event and ``FORM_SUBMISSION_COMPLETED`` in the outbox;
* **plain** (the baseline) — the same validation, the same answers as plain JSONB in a scratch
  table of the tenant, the same audit event and outbox event: no encryption, no screening.

Both run with the same concurrency; rounds alternate the two so drift on a noisy machine affects
both alike. Printed: submissions per second of each (median over rounds) and the ratio forms /
plain. The target is a ratio of at least 0.7.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/forms.py [--submissions 200] [--rounds 5] [--concurrency 8] [--profile]

``--profile`` prints where each path spends its time (pyinstrument, one sender) instead.

A scratch database ``anima_bench_<random>`` is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import secrets
import statistics
import sys
import time
import uuid
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anima.app import create_app  # noqa: E402
from anima.config import load_settings  # noqa: E402
from anima.db.engine import open_database  # noqa: E402
from anima.db.setup import migrate_platform  # noqa: E402
from anima.domains.audit.services import Actor, record  # noqa: E402
from anima.domains.forms import services as forms  # noqa: E402
from anima.domains.forms.answers import check_answers  # noqa: E402
from anima.events.outbox import emit  # noqa: E402
from anima.events.types import EventType  # noqa: E402
from anima.identity.rate_limit import RateLimits  # noqa: E402
from anima.jobs.runner import tenant_transaction  # noqa: E402
from anima.runtime import build_runtime  # noqa: E402
from tests.conftest import drop_database, signup, test_environ  # noqa: E402

ANSWERS = {
    "first_name": "Lucía", "last_name": "Vidal", "email": "lucia@example.org", "phone": "+34 600 111 222",
    "birth_date": "1988-04-02", "language": "es", "previous_therapy": "yes", "referral": "Instagram",
    "reason": ("Desde hace unos meses duermo mal, me cuesta concentrarme en el trabajo y discuto a menudo con mi pareja. "
               "Me gustaría entender qué me pasa y aprender a gestionar la ansiedad antes de las reuniones. ") * 6,
}
ACTOR = Actor(None, "public", None, "127.0.0.1")


async def _rate(n: int, concurrency: int, one: Callable[[], Awaitable[None]]) -> float:
    """Submissions per second for ``n`` submissions made by ``concurrency`` concurrent senders."""
    left = n

    async def sender() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    started = time.perf_counter()
    await asyncio.gather(*(sender() for _ in range(concurrency)))
    return n / (time.perf_counter() - started)


async def main(submissions: int, rounds: int, concurrency: int, profile: bool = False) -> None:
    settings = load_settings(test_environ(ANIMA_LOG_LEVEL="error", ANIMA_DB_POOL_SIZE=str(concurrency + 2)))
    db = await open_database(settings, database=f"anima_bench_{secrets.token_hex(4)}")
    try:
        await migrate_platform(db)
        app = create_app(settings, database=db, rate_limits=RateLimits().scaled(100_000))
        async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://bench") as api:
            org = await signup(api, tier="CENTER")
            made = await api.post(f"/api/v1/orgs/{org.slug}/forms/system", json={"template": "intake", "language": "es"}, headers=org.headers)
            form_id = uuid.UUID(made.json()["id"])
            linked = await api.post(f"/api/v1/orgs/{org.slug}/forms/{form_id}/public-link", headers=org.headers)
            token = linked.json()["public_url"].rsplit("/", 1)[1]
        async with db.admin.begin() as conn:
            tid, schema = (await conn.execute(sa.text("SELECT id, schema_name FROM platform.tenants WHERE slug = :s"), {"s": org.slug})).one()
            await conn.execute(sa.text(f'CREATE TABLE "{schema}".bench_plain_submissions (id uuid PRIMARY KEY, form_id uuid, answers jsonb, submitted_at timestamptz)'))
            await conn.execute(sa.text(f'GRANT ALL ON "{schema}".bench_plain_submissions TO "{db.prefix}_tenant_{tid}"'))
        runtime = build_runtime(settings, db)

        async def encrypted() -> None:
            async with tenant_transaction(runtime, tid) as tj:
                target = await forms.open_link(tj.session, token)
                await forms.submit(tj.session, tj.cipher, target, ANSWERS, actor=ACTOR)

        async def plain() -> None:
            async with tenant_transaction(runtime, tid) as tj:
                target = await forms.open_link(tj.session, token)
                answers = check_answers(target.definition, ANSWERS)
                row_id = uuid.uuid4()
                await tj.session.execute(
                    sa.text("INSERT INTO bench_plain_submissions VALUES (:i, :f, CAST(:a AS jsonb), now())"),
                    {"i": row_id, "f": target.form.id, "a": json.dumps(answers)},
                )
                await record(tj.session, ACTOR, "forms.submitted", submission_id=str(row_id), form_id=str(target.form.id))
                await emit(tj.session, EventType.FORM_SUBMISSION_COMPLETED, {"submission_id": str(row_id), "form_id": str(target.form.id)})

        await _rate(20, concurrency, encrypted)  # warm up both
        await _rate(20, concurrency, plain)
        if profile:
            from pyinstrument import Profiler  # a development tool, not a dependency: pip install pyinstrument

            for name, one in (("forms", encrypted), ("plain", plain)):
                with Profiler(async_mode="enabled") as profiler:
                    await _rate(submissions, 1, one)
                print(f"--- {name} ---")
                print(profiler.output_text(unicode=False, color=False, show_all=False))
            return
        rates: dict[str, list[float]] = {"forms": [], "plain": []}
        for _ in range(rounds):
            rates["forms"].append(await _rate(submissions, concurrency, encrypted))
            rates["plain"].append(await _rate(submissions, concurrency, plain))
        med = {k: statistics.median(v) for k, v in rates.items()}
        print(f"public submissions ({submissions} per round, {rounds} rounds, {concurrency} concurrent): "
              f"encrypted and screened {med['forms']:.1f}/s, plain and unscreened {med['plain']:.1f}/s, "
              f"ratio {med['forms'] / med['plain']:.2f} (target >= 0.7)")
    finally:
        await drop_database(db)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--submissions", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--profile", action="store_true", help="profile each path (one sender) with pyinstrument instead of measuring")
    args = parser.parse_args()
    asyncio.run(main(args.submissions, args.rounds, args.concurrency, args.profile))
