"""The minimal payments and bookings domains: validation, roles, transitions and their events."""

from __future__ import annotations

import uuid

from tests import clock
from tests.conftest import add_member, bearer, signup


async def _setup(client, db):
    org = await signup(client, tier="PRO")
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    _, therapist, therapist_id = await add_member(client, db, org, "THERAPIST")
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Eva"}, headers=org.headers)).json()
    return org, bearer(assistant["access_token"]), bearer(therapist["access_token"]), therapist_id, patient


async def test_payments_validation_roles_and_transitions(client, db):
    org, assistant, therapist, _, patient = await _setup(client, db)
    base = f"/api/v1/orgs/{org.slug}/payments"
    for body, field in (
        ({"patient_id": patient["id"], "amount_minor": 0, "currency": "EUR"}, "amount_minor"),
        ({"patient_id": patient["id"], "amount_minor": 100, "currency": "XYZ"}, "currency"),
        ({"patient_id": str(uuid.uuid4()), "amount_minor": 100, "currency": "EUR"}, "patient_id"),
    ):
        bad = await client.post(base, json=body, headers=assistant)
        assert bad.status_code in (400, 422) and field in bad.text, bad.text
    assert (await client.post(base, json={"patient_id": patient["id"], "amount_minor": 100, "currency": "EUR"}, headers=therapist)).status_code == 403
    created = await client.post(base, json={"patient_id": patient["id"], "amount_minor": 2500, "currency": "usd", "description": "Session"}, headers=assistant)
    assert created.status_code == 201 and created.json()["currency"] == "USD"
    pid = created.json()["id"]
    assert (await client.get(base, headers=therapist)).json()["total"] == 1
    assert (await client.post(f"{base}/{pid}/fail", json={"reason": ""}, headers=assistant)).status_code in (400, 422)
    failed = await client.post(f"{base}/{pid}/fail", json={"reason": "card declined"}, headers=assistant)
    assert failed.status_code == 200 and failed.json()["status"] == "FAILED"
    assert (await client.post(f"{base}/{pid}/succeed", headers=org.headers)).status_code == 409
    types = [e["type"] for e in (await client.get(f"/api/v1/orgs/{org.slug}/events", headers=org.headers)).json()["items"]]
    assert types[:2] == ["PAYMENT_FAILED", "PAYMENT_REQUESTED"]


async def test_bookings_validation_roles_and_transitions(client, db):
    org, assistant, therapist, therapist_id, patient = await _setup(client, db)
    service = (await client.post(
        f"/api/v1/orgs/{org.slug}/services",
        json={"name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 5000,
              "currency": "EUR", "location": "ONLINE", "therapist_ids": [therapist_id]}, headers=org.headers,
    )).json()
    base = f"/api/v1/orgs/{org.slug}/bookings"
    good = {"patient_id": patient["id"], "service_id": service["id"], "starts_at": clock.iso(days=30), "therapist_id": therapist_id}
    for change, field in (({"starts_at": clock.naive_iso(days=30)}, "starts_at"), ({"service_id": str(uuid.uuid4())}, "service_id"),
                          ({"patient_id": str(uuid.uuid4())}, "patient_id"), ({"therapist_id": str(uuid.uuid4())}, "therapist_id")):
        bad = await client.post(base, json={**good, **change}, headers=assistant)
        assert bad.status_code == 422 and field in bad.text, bad.text
    assert (await client.post(base, json=good, headers=therapist)).status_code == 403
    created = await client.post(base, json=good, headers=assistant)
    assert created.status_code == 201 and created.json()["status"] == "CONFIRMED"
    bid = created.json()["id"]
    mine = (await client.get(base, headers=therapist)).json()
    assert [b["id"] for b in mine["items"]] == [bid]
    cancelled = await client.post(f"{base}/{bid}/cancel", headers=assistant)
    assert cancelled.status_code == 200 and cancelled.json()["status"] == "CANCELLED"
    assert (await client.post(f"{base}/{bid}/complete", headers=assistant)).status_code == 409
    types = [e["type"] for e in (await client.get(f"/api/v1/orgs/{org.slug}/events", headers=org.headers)).json()["items"]]
    assert types[:2] == ["BOOKING_CANCELLED", "BOOKING_CONFIRMED"]
    # the past limit is a year (366 days) back from now: a day inside it is accepted
    within = await client.post(base, json={**good, "starts_at": clock.iso(days=-365)}, headers=assistant)
    assert within.status_code == 201, within.text
    refused = await client.post(base, json={**good, "starts_at": clock.iso(days=-367)}, headers=assistant)
    assert refused.status_code == 422, refused.text
    assert [(e["field"], e["rule"]) for e in refused.json()["errors"]] == [("starts_at", "range")]
