"""Helpers of the booking engine's tests: a practice with a Madrid therapist, a service and hours."""

from __future__ import annotations

import datetime
from dataclasses import dataclass
from typing import Any

from tests.conftest import Org, add_member, bearer, signup

UTC = datetime.UTC


@dataclass
class Practice:
    org: Org
    base: str
    therapist_id: str
    therapist: dict[str, str]
    assistant: dict[str, str]
    service: dict[str, Any]
    patients: list[str]


async def patient(client, org: Org, name: str = "Eva") -> str:
    created = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": name}, headers=org.headers)
    assert created.status_code == 201, created.text
    return created.json()["id"]


async def practice(client, db, *, patients: int = 2, tier: str = "CENTER", **service: Any) -> Practice:
    """A practice (zone Europe/Madrid, the therapist's too: they have no zone of their own) whose therapist works 09:00–17:00 local every day on a
    50-minute CALENDAR service (30-minute step, 10-minute buffers, 60 minutes' notice, 200 days)."""
    org = await signup(client, tier=tier)
    base = f"/api/v1/orgs/{org.slug}"
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    _, therapist, therapist_id = await add_member(client, db, org, "THERAPIST")
    body = {"name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
            "currency": "EUR", "location": "ONLINE", "therapist_ids": [therapist_id], "buffer_before_minutes": 10,
            "buffer_after_minutes": 10, "min_notice_minutes": 60, "horizon_days": 200, "slot_step_minutes": 30, **service}
    created = await client.post(f"{base}/services", json=body, headers=org.headers)
    assert created.status_code == 201, created.text
    practice_zone = await client.patch(f"{base}/settings", json={"timezone": "Europe/Madrid"}, headers=org.headers)
    assert practice_zone.status_code == 200, practice_zone.text
    zone = await client.get(f"{base}/availability/therapists/{therapist_id}", headers=org.headers)
    assert zone.json() == {"therapist_id": therapist_id, "time_zone": "Europe/Madrid", "own_zone": False}, zone.text
    for weekday in range(7):
        rule = await client.post(f"{base}/availability/rules", json={"therapist_id": therapist_id, "weekday": weekday,
                                                                     "start_time": "09:00", "end_time": "17:00"}, headers=org.headers)
        assert rule.status_code == 201, rule.text
    ids = [await patient(client, org, f"P{i}") for i in range(patients)]
    return Practice(org, base, therapist_id, bearer(therapist["access_token"]), bearer(assistant["access_token"]), created.json(), ids)


def day_ahead(days: int) -> datetime.date:
    return (datetime.datetime.now(UTC) + datetime.timedelta(days=days)).date()


async def slots(client, p: Practice, day: datetime.date, zone: str = "Europe/Madrid", headers=None, **extra: str) -> list[dict[str, Any]]:
    response = await client.get(f"{p.base}/slots", params={"service_id": p.service["id"], "from": day.isoformat(),
                                                            "to": day.isoformat(), "zone": zone, **extra},
                                headers=headers or p.org.headers)
    assert response.status_code == 200, response.text
    return response.json()


async def hold(client, p: Practice, starts_at: str, patient_id: str, headers=None, **extra: Any):
    return await client.post(f"{p.base}/bookings/hold", json={"patient_id": patient_id, "service_id": p.service["id"],
                                                               "starts_at": starts_at, **extra}, headers=headers or p.org.headers)
