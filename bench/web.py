"""What a page costs over the JSON API for the same data: the patient list (50 rows) and the
patient's page (the record and its journal), through HTTP in process, on the real database.

The JSON side is what a client needs for the same screen: the list is ``GET …/patients?limit=50``;
the patient's page is ``GET …/patients/{id}`` plus ``GET …/patients/{id}/journal``. The HTML side
is one page request each, with the browser session cookie. Rounds alternate the two so drift on a
noisy machine affects both alike; medians per request are printed with the ratio page / API.
The target is a ratio of at most 1.5.

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/web.py [--requests 50] [--rounds 5]

A scratch database ``anima_bench_<random>`` is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import re
import secrets
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anima.app import create_app  # noqa: E402
from anima.config import load_settings  # noqa: E402
from anima.db.engine import open_database  # noqa: E402
from anima.db.setup import migrate_platform  # noqa: E402
from anima.identity.rate_limit import RateLimits  # noqa: E402
from tests.conftest import PASSWORD, drop_database, signup, test_environ  # noqa: E402

ROWS = 50
ENTRIES = 10


async def _time(n: int, call: Callable[[], Awaitable[None]]) -> list[float]:
    times = []
    for _ in range(n):
        started = time.perf_counter()
        await call()
        times.append(time.perf_counter() - started)
    return times


async def main(requests: int, rounds: int) -> None:
    settings = load_settings(test_environ(ANIMA_LOG_LEVEL="error"))
    db = await open_database(settings, database=f"anima_bench_{secrets.token_hex(4)}")
    try:
        await migrate_platform(db)
        app = create_app(settings, database=db, rate_limits=RateLimits().scaled(100_000))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench") as api, httpx.AsyncClient(
            transport=transport, base_url="http://bench"
        ) as web:
            org = await signup(api, tier="CENTER")
            base = f"/api/v1/orgs/{org.slug}/patients"
            ids = []
            for i in range(ROWS):
                created = await api.post(base, json={
                    "first_name": f"Person{i}", "last_name": "Bench", "email": f"p{i}@bench.example", "phone": "+34600000000",
                }, headers=org.headers)
                assert created.status_code == 201, created.text
                ids.append(created.json()["id"])
            pid = ids[0]
            for i in range(ENTRIES):
                entry = await api.post(f"{base}/{pid}/journal", json={
                    "kind": "note", "visibility": "shared", "html": f"<p>Session {i}: <strong>steady</strong> progress, sleep better.</p>",
                }, headers=org.headers)
                assert entry.status_code == 201, entry.text
            login = await web.get("/login")
            token = re.search(r'name="_csrf_token" value="([^"]+)"', login.text).group(1)
            signed = await web.post("/login", data={"email": org.owner_email, "password": PASSWORD, "_csrf_token": token})
            assert signed.status_code == 303, signed.text

            async def api_list() -> None:
                r = await api.get(base, params={"limit": ROWS}, headers=org.headers)
                assert r.status_code == 200 and len(r.json()["items"]) == ROWS, r.text

            async def page_list() -> None:
                r = await web.get(f"/o/{org.slug}/people", params={"limit": ROWS})
                assert r.status_code == 200 and r.text.count("Bench") >= ROWS, r.status_code

            async def api_patient() -> None:
                a = await api.get(f"{base}/{pid}", headers=org.headers)
                b = await api.get(f"{base}/{pid}/journal", headers=org.headers)
                assert a.status_code == 200 and b.status_code == 200

            async def page_patient() -> None:
                r = await web.get(f"/o/{org.slug}/people/{pid}")
                assert r.status_code == 200 and "steady" in r.text, r.status_code

            results: dict[str, list[float]] = {k: [] for k in ("api_list", "page_list", "api_patient", "page_patient")}
            for call in (api_list, page_list, api_patient, page_patient):  # warm up
                await _time(3, call)
            for _ in range(rounds):
                for name, call in (("api_list", api_list), ("page_list", page_list), ("api_patient", api_patient), ("page_patient", page_patient)):
                    results[name] += await _time(requests, call)
        med = {k: statistics.median(v) * 1000 for k, v in results.items()}
        print(f"patient list ({ROWS} rows): API {med['api_list']:.2f} ms, page {med['page_list']:.2f} ms, ratio {med['page_list'] / med['api_list']:.2f}")
        print(f"patient page ({ENTRIES} journal entries): API (record + journal) {med['api_patient']:.2f} ms, page {med['page_patient']:.2f} ms, "
              f"ratio {med['page_patient'] / med['api_patient']:.2f}")
    finally:
        await drop_database(db)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--requests", type=int, default=50)
    parser.add_argument("--rounds", type=int, default=5)
    args = parser.parse_args()
    asyncio.run(main(args.requests, args.rounds))
