"""Cost of auditing a refused clinical access: an assistant's 403 on a clinical route (the journal:
audited in a transaction of its own) against an assistant's 403 on a non-clinical owners' route
(the clinical policy: same authorization statement, nothing written), through HTTP in process.

Rounds alternate the two so drift affects both alike; medians of per-request times are printed
with their ratio, and the audit lines written are counted to check each refusal left exactly one.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/denials.py [--requests 200] [--rounds 5]

A scratch database ``anima_bench_<random>`` is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import secrets
import statistics
import sys
import time
from pathlib import Path

import httpx
import sqlalchemy as sa

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anima.app import create_app  # noqa: E402
from anima.config import load_settings  # noqa: E402
from anima.db.engine import open_database  # noqa: E402
from anima.db.setup import migrate_platform  # noqa: E402
from anima.identity.rate_limit import RateLimits  # noqa: E402
from tests.conftest import add_member, drop_database, signup, test_environ  # noqa: E402


async def _timed(client: httpx.AsyncClient, method: str, url: str, headers: dict[str, str], n: int, **kw) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        response = await client.request(method, url, headers=headers, **kw)
        times.append(time.perf_counter() - started)
        assert response.status_code == 403, response.text
    return times


async def main(requests: int, rounds: int) -> None:
    settings = load_settings(test_environ(ANIMA_LOG_LEVEL="error"))
    db = await open_database(settings, database=f"anima_bench_{secrets.token_hex(4)}")
    try:
        await migrate_platform(db)
        app = create_app(settings, database=db, rate_limits=RateLimits().scaled(100_000))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as client:
            org = await signup(client)
            _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
            headers = {"Authorization": f"Bearer {assistant['access_token']}"}
            pid = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Bench"}, headers=org.headers)).json()["id"]
            audited, plain = [], []
            for _ in range(rounds):
                audited += await _timed(client, "GET", f"/api/v1/orgs/{org.slug}/patients/{pid}/journal", headers, requests)
                plain += await _timed(
                    client, "PUT", f"/api/v1/orgs/{org.slug}/clinical-policy", headers, requests,
                    json={"restrict_therapists_to_assigned": True},
                )
        async with db.admin.begin() as conn:
            schema = await conn.scalar(sa.text("SELECT schema_name FROM platform.tenants WHERE slug = :s"), {"s": org.slug})
            lines = await conn.scalar(sa.text(f'SELECT count(*) FROM "{schema}".audit_events WHERE action = \'clinical.access_denied\''))
        a, p = statistics.median(audited) * 1000, statistics.median(plain) * 1000
        print(f"refused requests: {len(audited)} audited, {len(plain)} not; denial lines written: {lines}")
        print(f"median 403, clinical route (audited): {a:.2f} ms; non-clinical route: {p:.2f} ms; ratio {a / p:.2f}")
    finally:
        await drop_database(db)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
