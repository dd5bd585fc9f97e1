"""What the schema-driven fuzzer found, pinned as plain regression tests (each was a 500 or an undocumented status)."""

from __future__ import annotations

import datetime

import httpx

from anima.problems import MEDIA_TYPE
from tests.conftest import signup

SERVICE = {
    "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50,
    "price_minor": 6000, "currency": "EUR", "location": "ONLINE",
}


async def test_deleting_a_booked_service_is_a_conflict_not_a_server_error(client: httpx.AsyncClient) -> None:
    org = await signup(client, tier="CENTER")
    base = f"/api/v1/orgs/{org.slug}"
    patient = (await client.post(f"{base}/patients", json={"first_name": "Ada"}, headers=org.headers)).json()
    booked = (await client.post(f"{base}/services", json=SERVICE, headers=org.headers)).json()
    unbooked = (await client.post(f"{base}/services", json=SERVICE | {"name": "Other"}, headers=org.headers)).json()
    starts_at = (datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=3)).isoformat()
    booking = await client.post(
        f"{base}/bookings", json={"patient_id": patient["id"], "service_id": booked["id"], "starts_at": starts_at}, headers=org.headers
    )
    assert booking.status_code == 201, booking.text

    refused = await client.delete(f"{base}/services/{booked['id']}", headers=org.headers)
    assert refused.status_code == 409, refused.text
    assert refused.headers["content-type"] == MEDIA_TYPE
    assert "inactive" in refused.json()["detail"]
    still_there = await client.get(f"{base}/services/{booked['id']}", headers=org.headers)
    assert still_there.status_code == 200
    assert (await client.get(f"{base}/bookings/{booking.json()['id']}", headers=org.headers)).status_code == 200

    deleted = await client.delete(f"{base}/services/{unbooked['id']}", headers=org.headers)
    assert deleted.status_code == 204
    assert (await client.get(f"{base}/services/{unbooked['id']}", headers=org.headers)).status_code == 404


async def test_a_problem_status_stays_the_http_status_when_a_service_adds_members(client: httpx.AsyncClient) -> None:
    org = await signup(client)
    base = f"/api/v1/orgs/{org.slug}"
    patient = (await client.post(f"{base}/patients", json={"first_name": "Ada"}, headers=org.headers)).json()
    payment = (
        await client.post(f"{base}/payments", json={"patient_id": patient["id"], "amount_minor": 100, "currency": "EUR"}, headers=org.headers)
    ).json()
    assert (await client.post(f"{base}/payments/{payment['id']}/succeed", headers=org.headers)).status_code == 200
    again = await client.post(f"{base}/payments/{payment['id']}/succeed", headers=org.headers)
    assert again.status_code == 409
    assert again.json()["status"] == 409
    assert "SUCCEEDED" in again.json()["detail"]
