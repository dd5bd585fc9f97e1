"""Exactly one, under concurrency, through the real HTTP path and PostgreSQL: 50 requests for one
slot give one booking (the exclusion constraint decides), 50 for the last 3 seats give 3 (the
occurrence's row lock decides), an offer claimed twice at once books once, and a lapsed hold
frees its slot for the next of many."""

from __future__ import annotations

import asyncio
import datetime

from tests.integration.booking_support import UTC, day_ahead, hold, patient, practice, slots
from tests.integration.events_support import in_tenant

N = 50


async def test_fifty_concurrent_holds_of_one_slot_make_exactly_one_booking(client, db):
    p = await practice(client, db, patients=N)
    start = (await slots(client, p, day_ahead(8)))[3]["starts_at"]
    # half name the therapist, half ask for any therapist who offers the service
    responses = await asyncio.gather(*(
        hold(client, p, start, p.patients[i], headers=p.assistant, **({"therapist_id": p.therapist_id} if i % 2 else {}))
        for i in range(N)
    ))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] + [409] * (N - 1), [r.text for r in responses if r.status_code not in (201, 409)]
    assert {r.json()["reason"] for r in responses if r.status_code == 409} == {"slot-taken"}
    rows = await in_tenant(db, p.org.slug, "SELECT count(*) FROM bookings WHERE status IN ('HELD','CONFIRMED')")
    assert rows[0][0] == 1


async def test_fifty_concurrent_requests_for_the_last_three_seats_get_exactly_three(client, db):
    p = await practice(client, db, patients=N + 2)
    group = await client.post(f"{p.base}/services", json={"name": "Circle", "kind": "GROUP", "scheduling": "CALENDAR", "capacity": 5,
                                                          "duration_minutes": 90, "price_minor": 2000, "currency": "EUR",
                                                          "location": "IN_PERSON"}, headers=p.org.headers)
    starts = datetime.datetime.now(UTC) + datetime.timedelta(days=5)
    occ = (await client.post(f"{p.base}/occurrences", json={"service_id": group.json()["id"], "starts_at": starts.isoformat(),
                                                            "ends_at": (starts + datetime.timedelta(minutes=90)).isoformat()},
                             headers=p.org.headers)).json()
    assert occ["capacity"] == 5
    for pid in p.patients[:2]:
        assert (await client.post(f"{p.base}/occurrences/{occ['id']}/seats", json={"patient_id": pid}, headers=p.assistant)).status_code == 201
    responses = await asyncio.gather(*(
        client.post(f"{p.base}/occurrences/{occ['id']}/seats", json={"patient_id": pid}, headers=p.assistant) for pid in p.patients[2:]
    ))
    statuses = sorted(r.status_code for r in responses)
    assert statuses == [201] * 3 + [409] * (N - 3), [r.text for r in responses if r.status_code not in (201, 409)]
    counted = await in_tenant(db, p.org.slug, "SELECT count(*) FROM bookings WHERE occurrence_id = :o AND status = 'CONFIRMED'", {"o": occ["id"]})
    assert counted[0][0] == 5


async def test_an_offer_claimed_twice_at_once_books_once(client, db):
    p = await practice(client, db, patients=2)
    retreat = await client.post(f"{p.base}/services", json={"name": "Retreat", "kind": "GROUP", "scheduling": "FIXED_DATE", "capacity": 8,
                                                            "duration_minutes": 600, "price_minor": 1000, "currency": "EUR",
                                                            "location": "IN_PERSON"}, headers=p.org.headers)
    starts = datetime.datetime.now(UTC) + datetime.timedelta(days=30)
    occ = (await client.post(f"{p.base}/occurrences", json={"service_id": retreat.json()["id"], "starts_at": starts.isoformat(),
                                                            "ends_at": (starts + datetime.timedelta(days=1)).isoformat(), "capacity": 1},
                             headers=p.org.headers)).json()
    first, second = p.patients
    seat = await client.post(f"{p.base}/occurrences/{occ['id']}/seats", json={"patient_id": first}, headers=p.assistant)
    entry = (await client.post(f"{p.base}/occurrences/{occ['id']}/waitlist", json={"patient_id": second}, headers=p.assistant)).json()
    await client.post(f"{p.base}/bookings/{seat.json()['id']}/cancellation", json={"by": "client"}, headers=p.assistant)
    claims = await asyncio.gather(*(client.post(f"{p.base}/waitlist/{entry['id']}/claim", headers=p.assistant) for _ in range(10)))
    assert sorted(r.status_code for r in claims) == [201] + [409] * 9
    booked = await in_tenant(db, p.org.slug, "SELECT count(*) FROM bookings WHERE occurrence_id = :o AND status = 'CONFIRMED'", {"o": occ["id"]})
    assert booked[0][0] == 1


async def test_an_expired_hold_frees_its_slot_for_exactly_one_of_many(client, db):
    p = await practice(client, db, patients=N + 1)
    start = (await slots(client, p, day_ahead(8)))[5]["starts_at"]
    first = await hold(client, p, start, p.patients[0], hold_minutes=1)
    assert first.status_code == 201
    await in_tenant(db, p.org.slug, "UPDATE bookings SET expires_at = now() - interval '1 second' WHERE id = :i", {"i": first.json()["id"]})
    responses = await asyncio.gather(*(hold(client, p, start, pid) for pid in p.patients[1:]))
    assert sorted(r.status_code for r in responses) == [201] + [409] * (N - 1)
    states = dict(await in_tenant(db, p.org.slug, "SELECT status, count(*) FROM bookings GROUP BY status"))
    assert states == {"EXPIRED": 1, "HELD": 1}
    assert await patient(client, p.org, "Late")  # the practice keeps working after the contention
