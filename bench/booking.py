"""The booking engine's cost: slot search over 30 days for a busy therapist, and holds under contention.

1. **Slot search.** A therapist (zone Europe/Madrid, 08:00–20:00 every day) with 200 bookings and
   10 date overrides in the next 30 days; ``GET …/slots`` for a 50-minute service over those 30
   days (15-minute step, 10-minute buffers), through HTTP in process on the real database. The
   baseline in the same run is the same search for a therapist with an empty calendar; printed:
   p50 and p95 of each and the ratio busy / empty (the target is a p95 under 50 ms).
2. **Holds.** Rounds of 50 concurrent ``POST …/bookings/hold``: *contended*, all 50 for one slot
   (one wins, the exclusion constraint refuses 49 with 409); *uncontended*, 50 for 50 distinct
   free slots (all win). Printed: requests per second of each and the ratio contended /
   uncontended (a 409 should cost no more than a success: no retries, no lock waits beyond the
   constraint's).

    DATABASE_URL=postgresql://postgres@127.0.0.1:5432/postgres python bench/booking.py [--searches 40] [--rounds 4]

A scratch database ``anima_bench_<random>`` is created and dropped.
"""

from __future__ import annotations

import argparse
import asyncio
import datetime
import secrets
import statistics
import sys
import time
from pathlib import Path
from zoneinfo import ZoneInfo

import httpx

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from anima.app import create_app  # noqa: E402
from anima.config import load_settings  # noqa: E402
from anima.db.engine import open_database  # noqa: E402
from anima.db.setup import migrate_platform  # noqa: E402
from anima.identity.rate_limit import RateLimits  # noqa: E402
from tests.conftest import drop_database, signup, test_environ  # noqa: E402

MADRID = ZoneInfo("Europe/Madrid")
BOOKINGS, OVERRIDES, DAYS, CONCURRENCY = 200, 10, 30, 50


def p95(values: list[float]) -> float:
    return statistics.quantiles(values, n=20)[-1]


async def _practice(api: httpx.AsyncClient, patients: int) -> tuple[str, dict[str, str], str, str, list[str]]:
    """An organization whose owner is the therapist: service, zone, hours and patients."""
    org = await signup(api, tier="CENTER")
    base = f"/api/v1/orgs/{org.slug}"
    service = await api.post(f"{base}/services", json={
        "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000, "currency": "EUR",
        "location": "ONLINE", "therapist_ids": [org.owner_id], "buffer_before_minutes": 10, "buffer_after_minutes": 10,
        "min_notice_minutes": 0, "horizon_days": 60, "slot_step_minutes": 15}, headers=org.headers)
    assert service.status_code == 201, service.text
    await api.patch(f"{base}/settings", json={"timezone": "Europe/Madrid"}, headers=org.headers)
    for weekday in range(7):
        r = await api.post(f"{base}/availability/rules", json={"therapist_id": org.owner_id, "weekday": weekday, "start_time": "08:00",
                                                                 "end_time": "20:00"}, headers=org.headers)
        assert r.status_code == 201, r.text
    ids = []
    for i in range(patients):
        created = await api.post(f"{base}/patients", json={"first_name": f"P{i}"}, headers=org.headers)
        assert created.status_code == 201, created.text
        ids.append(created.json()["id"])
    return base, org.headers, service.json()["id"], org.owner_id, ids


async def main(searches: int, rounds: int) -> None:
    settings = load_settings(test_environ(ANIMA_LOG_LEVEL="error"))
    db = await open_database(settings, database=f"anima_bench_{secrets.token_hex(4)}")
    try:
        await migrate_platform(db)
        app = create_app(settings, database=db, rate_limits=RateLimits().scaled(100_000))
        transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50000))
        async with httpx.AsyncClient(transport=transport, base_url="http://bench", timeout=120) as api:
            busy_base, busy_headers, busy_service, therapist, patients = await _practice(api, CONCURRENCY)
            empty_base, empty_headers, empty_service, _, _ = await _practice(api, 0)
            first = datetime.datetime.now(MADRID).date() + datetime.timedelta(days=1)
            # 200 bookings: 7 a day at 08:00, 09:30 … 17:00 local, over the 30 days (the last ones dropped)
            made = 0
            for d in range(DAYS):
                for hour, minute in ((8, 0), (9, 30), (11, 0), (12, 30), (14, 0), (15, 30), (17, 0)):
                    if made == BOOKINGS:
                        break
                    at = datetime.datetime.combine(first + datetime.timedelta(days=d), datetime.time(hour, minute), tzinfo=MADRID)
                    r = await api.post(f"{busy_base}/bookings", json={"patient_id": patients[made % len(patients)], "service_id": busy_service,
                                                                      "starts_at": at.isoformat(), "therapist_id": therapist}, headers=busy_headers)
                    assert r.status_code == 201, r.text
                    made += 1
            for i in range(OVERRIDES):
                day = (first + datetime.timedelta(days=3 * i)).isoformat()
                body = ({"available": False, "start_time": "18:00", "end_time": "20:00"} if i % 2
                        else {"available": True, "start_time": "20:00", "end_time": "22:00"})
                r = await api.post(f"{busy_base}/availability/overrides", json={"therapist_id": therapist, "on_date": day, **body}, headers=busy_headers)
                assert r.status_code == 201, r.text
            window = {"from": first.isoformat(), "to": (first + datetime.timedelta(days=DAYS - 1)).isoformat(), "zone": "America/New_York"}

            async def search(base: str, headers: dict[str, str], service_id: str) -> tuple[float, int]:
                started = time.perf_counter()
                r = await api.get(f"{base}/slots", params={**window, "service_id": service_id}, headers=headers)
                elapsed = time.perf_counter() - started
                assert r.status_code == 200, r.text
                return elapsed, len(r.json())

            times: dict[str, list[float]] = {"busy": [], "empty": []}
            counts = {}
            for _ in range(3):  # warm up
                await search(busy_base, busy_headers, busy_service)
                await search(empty_base, empty_headers, empty_service)
            for _ in range(searches):  # alternate so drift affects both alike
                t, counts["busy"] = await search(busy_base, busy_headers, busy_service)
                times["busy"].append(t)
                t, counts["empty"] = await search(empty_base, empty_headers, empty_service)
                times["empty"].append(t)
            ms = {k: (statistics.median(v) * 1000, p95(v) * 1000) for k, v in times.items()}
            print(f"slot search, {DAYS} days: busy therapist ({BOOKINGS} bookings, {OVERRIDES} overrides, {counts['busy']} free starts) "
                  f"p50 {ms['busy'][0]:.1f} ms, p95 {ms['busy'][1]:.1f} ms; empty calendar ({counts['empty']} starts) "
                  f"p50 {ms['empty'][0]:.1f} ms, p95 {ms['empty'][1]:.1f} ms; p95 ratio busy / empty {ms['busy'][1] / ms['empty'][1]:.2f}")

            # holds: free starts after the 30 busy days, so every round has fresh slots
            later = first + datetime.timedelta(days=DAYS + 1)
            free = (await api.get(f"{busy_base}/slots", params={"service_id": busy_service, "from": later.isoformat(),
                                                                "to": (later + datetime.timedelta(days=28)).isoformat(), "zone": "UTC"},
                                  headers=busy_headers)).json()
            # starts 90 minutes apart never overlap (50 + 2 x 10 minutes blocked)
            spaced, last = [], None
            for s in free:
                at = datetime.datetime.fromisoformat(s["starts_at"])
                if last is None or at - last >= datetime.timedelta(minutes=90):
                    spaced.append(s["starts_at"])
                    last = at
            assert len(spaced) >= rounds * (CONCURRENCY + 1), len(spaced)

            async def hold(start: str, pid: str) -> int:
                r = await api.post(f"{busy_base}/bookings/hold", json={"patient_id": pid, "service_id": busy_service, "starts_at": start,
                                                                       "therapist_id": therapist}, headers=busy_headers)
                return r.status_code

            elapsed = {"contended": 0.0, "uncontended": 0.0}
            cursor = 0
            for _ in range(rounds):
                started = time.perf_counter()
                codes = await asyncio.gather(*(hold(spaced[cursor], patients[i]) for i in range(CONCURRENCY)))
                elapsed["contended"] += time.perf_counter() - started
                assert sorted(codes) == [201] + [409] * (CONCURRENCY - 1), codes
                cursor += 1
                started = time.perf_counter()
                codes = await asyncio.gather(*(hold(spaced[cursor + i], patients[i]) for i in range(CONCURRENCY)))
                elapsed["uncontended"] += time.perf_counter() - started
                assert codes == [201] * CONCURRENCY, codes
                cursor += CONCURRENCY
            rate = {k: rounds * CONCURRENCY / v for k, v in elapsed.items()}
            print(f"holds, {rounds} rounds of {CONCURRENCY} concurrent: contended (one slot) {rate['contended']:.0f} req/s, "
                  f"uncontended (distinct slots) {rate['uncontended']:.0f} req/s; ratio contended / uncontended "
                  f"{rate['contended'] / rate['uncontended']:.2f}")
    finally:
        await drop_database(db)


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--searches", type=int, default=40)
    parser.add_argument("--rounds", type=int, default=4)
    args = parser.parse_args()
    asyncio.run(main(args.searches, args.rounds))
