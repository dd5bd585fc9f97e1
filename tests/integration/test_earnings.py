"""Therapists' earnings: per therapist and currency, over a period in the practice's zone; owners see
all, a therapist only their own; CSV export."""

from __future__ import annotations

import datetime
import uuid

from anima.domains.payments.services import request_payment
from tests import clock
from tests.conftest import add_member, bearer, signup
from tests.integration.billing_support import tenant_row
from tests.integration.test_packages_credits import tenant_session


async def test_earnings_per_therapist_and_currency_never_mixed(client, db):
    org = await signup(client, tier="PRO")
    _, t1_tokens, t1 = await add_member(client, db, org, "THERAPIST")
    _, t2_tokens, t2 = await add_member(client, db, org, "THERAPIST")
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Aina"}, headers=org.headers)).json()
    service = (await client.post(f"/api/v1/orgs/{org.slug}/services", json={
        "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE", "therapist_ids": [t1, t2]}, headers=org.headers)).json()
    bookings = []
    for i, therapist in enumerate([t1, t1, t2]):
        made = await client.post(f"/api/v1/orgs/{org.slug}/bookings", json={
            "patient_id": patient["id"], "service_id": service["id"], "starts_at": clock.iso(days=30 + i), "therapist_id": therapist},
            headers=org.headers)
        assert made.status_code == 201, made.text
        bookings.append(made.json()["id"])
    tenant = await tenant_row(db, org.slug)
    payments = []
    async with tenant_session(db, tenant.id) as s:
        for booking, amount, currency in ((bookings[0], 6000, "EUR"), (bookings[1], 7000, "USD"), (bookings[1], 1000, "EUR"),
                                          (bookings[2], 5000, "EUR")):
            p = await request_payment(s, patient_id=uuid.UUID(patient["id"]), amount_minor=amount, currency=currency,
                                      booking_id=uuid.UUID(booking))
            payments.append(str(p.id))
    for pid in payments:
        assert (await client.post(f"/api/v1/orgs/{org.slug}/payments/{pid}/succeed", headers=org.headers)).status_code == 200
    await client.post(f"/api/v1/orgs/{org.slug}/payments/{payments[0]}/refunds", json={"reason": "late", "amount_minor": 500}, headers=org.headers)
    today = datetime.date.today()
    query = f"start={today - datetime.timedelta(days=1)}&end={today + datetime.timedelta(days=1)}"
    rows = (await client.get(f"/api/v1/orgs/{org.slug}/earnings?{query}", headers=org.headers)).json()
    got = {(r["therapist_id"], r["currency"]): (r["sessions"], r["gross_minor"], r["refunds_minor"], r["net_minor"]) for r in rows}
    assert got == {(t1, "EUR"): (2, 7000, 500, 6500), (t1, "USD"): (1, 7000, 0, 7000), (t2, "EUR"): (1, 5000, 0, 5000)}
    mine = (await client.get(f"/api/v1/orgs/{org.slug}/earnings?{query}&therapist_id={t1}", headers=bearer(t2_tokens["access_token"]))).json()
    assert [(r["therapist_id"], r["gross_minor"]) for r in mine] == [(t2, 5000)]  # a therapist sees only their own
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    assert (await client.get(f"/api/v1/orgs/{org.slug}/earnings?{query}", headers=bearer(assistant["access_token"]))).status_code == 403
    csv_text = (await client.get(f"/api/v1/orgs/{org.slug}/earnings/csv?{query}", headers=bearer(t1_tokens["access_token"]))).text
    lines = csv_text.splitlines()
    assert lines[0] == "therapist_id,currency,sessions,gross_minor,fees_minor,refunds_minor,net_minor,paid_out_minor,pending_minor"
    assert len(lines) == 5 and lines[3:] == ["total,EUR,2,7000,0,500,6500,0,0", "total,USD,1,7000,0,0,7000,0,0"]  # one total per currency
    for bad in (f"start={today}&end={today - datetime.timedelta(days=1)}", f"start={today}&end={today + datetime.timedelta(days=400)}",
                "start=2026-02-30&end=2026-03-01", "start=yesterday&end=2026-03-01", "start=0001-01-01&end=0001-01-02",
                "start=9999-12-30&end=9999-12-31"):
        refused = await client.get(f"/api/v1/orgs/{org.slug}/earnings?{bad}", headers=org.headers)
        assert refused.status_code in (400, 422), (bad, refused.text)
    recent = (await client.get(f"/api/v1/orgs/{org.slug}/earnings", headers=org.headers)).json()  # default: the last 30 days
    assert {(r["therapist_id"], r["currency"]) for r in recent} == set(got)
    past = (await client.get(f"/api/v1/orgs/{org.slug}/earnings?start=2020-01-01&end=2020-12-31", headers=org.headers)).json()
    assert past == []
