"""Earnings against a model, over random sets of bookings, payments, refunds and transfers.

Each example writes random payment requests (three currencies with 0 and 2 decimals, any
status, settled inside or outside the period, fees, refunds) and random therapists' shares
(pending, transferred, partly or wholly returned, outside) on a fixed set of bookings of two
therapists, then compares :func:`anima.domains.payments.earnings.earnings` with a model computed
here: every row, each therapist's own rows, and the per-currency totals (the sum of the rows,
currencies never mixed).
"""

from __future__ import annotations

import datetime
import uuid
from collections import defaultdict

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anima.domains.payments.earnings import earnings, to_csv, totals
from anima.domains.payments.models import BookingTransfer, PaymentRequest
from tests import clock
from tests.conftest import add_member, signup
from tests.integration.billing_support import tenant_row
from tests.integration.test_packages_credits import tenant_session

CURRENCIES = ("EUR", "USD", "JPY")


@pytest.fixture(scope="module")
async def books(client, db):
    """A practice with two therapists and three past bookings each: (tenant id, patient, [(booking, therapist)])."""
    org = await signup(client, tier="PRO")
    therapists = [(await add_member(client, db, org, "THERAPIST"))[2] for _ in range(2)]
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Iu"}, headers=org.headers)).json()["id"]
    service = (await client.post(f"/api/v1/orgs/{org.slug}/services", json={
        "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE", "therapist_ids": therapists}, headers=org.headers)).json()
    bookings = []
    for i in range(6):
        therapist = therapists[i % 2]
        made = await client.post(f"/api/v1/orgs/{org.slug}/bookings", json={
            "patient_id": patient, "service_id": service["id"], "starts_at": clock.iso(days=-(2 + i)), "therapist_id": therapist},
            headers=org.headers)
        assert made.status_code == 201, made.text
        bookings.append((made.json()["id"], therapist))
    return (await tenant_row(db, org.slug)).id, patient, bookings


payments = st.lists(st.fixed_dictionaries({
    "booking": st.integers(0, 5), "currency": st.sampled_from(CURRENCIES), "amount": st.integers(1, 1_000_000),
    "status": st.sampled_from(["SUCCEEDED", "SUCCEEDED", "PENDING", "FAILED"]), "inside": st.booleans(),
    "fee_share": st.sampled_from([None, 0.0, 0.015, 0.5]), "refund_share": st.sampled_from([0.0, 0.0, 0.3, 1.0]),
}), max_size=12)
shares = st.dictionaries(st.integers(0, 5), st.fixed_dictionaries({
    "currency": st.sampled_from(CURRENCIES), "status": st.sampled_from(["pending", "transferred", "returned", "outside"]),
    "amount": st.integers(0, 500_000), "reversed_share": st.sampled_from([0.0, 0.5, 1.0]), "due": st.integers(0, 500_000),
}), max_size=6)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(paid=payments, transfers=shares)
async def test_earnings_rows_and_totals_follow_the_model(db, books, paid, transfers):
    tenant_id, patient, bookings = books
    now = clock.now()
    lower, upper = now - datetime.timedelta(days=1), now + datetime.timedelta(days=1)
    async with tenant_session(db, tenant_id) as s:
        ids = [uuid.UUID(b) for b, _ in bookings]
        await s.execute(sa.delete(BookingTransfer).where(BookingTransfer.booking_id.in_(ids)))
        await s.execute(sa.delete(PaymentRequest).where(PaymentRequest.booking_id.in_(ids)))
        model: dict[tuple[str, str], dict[str, int]] = defaultdict(lambda: defaultdict(int))
        sessions: dict[tuple[str, str], set[str]] = defaultdict(set)
        counted: set[int] = set()
        for i, p in enumerate(paid):
            booking, therapist = bookings[p["booking"]]
            fee = None if p["fee_share"] is None else int(p["amount"] * p["fee_share"])
            refunded = int(p["amount"] * p["refund_share"])
            settled = (now - datetime.timedelta(hours=i + 1)) if p["inside"] else (now - datetime.timedelta(days=3, hours=i))
            s.add(PaymentRequest(
                id=uuid.uuid4(), patient_id=uuid.UUID(patient), amount_minor=p["amount"], currency=p["currency"], status=p["status"],
                settled_at=None if p["status"] == "PENDING" else settled, booking_id=uuid.UUID(booking), application_fee_minor=fee,
                refunded_minor=refunded if p["status"] == "SUCCEEDED" else 0, pay_token=uuid.uuid4().hex,
                method="stripe" if p["status"] == "SUCCEEDED" else None,
            ))
            if p["status"] == "SUCCEEDED" and p["inside"]:
                key = (therapist, p["currency"])
                sessions[key].add(booking)
                counted.add(p["booking"])
                row = model[key]
                row["gross_minor"] += p["amount"]
                row["fees_minor"] += fee or 0
                row["refunds_minor"] += refunded
        for index, t in transfers.items():
            booking, therapist = bookings[index]
            reversed_minor = int(t["amount"] * t["reversed_share"]) if t["status"] in ("transferred", "returned") else 0
            amount = t["amount"] if t["status"] in ("transferred", "returned") else 0
            s.add(BookingTransfer(
                booking_id=uuid.UUID(booking), therapist_id=uuid.UUID(therapist), currency=t["currency"], share_bps=5000,
                due_minor=t["due"], amount_minor=amount, reversed_minor=reversed_minor, reversals=0, status=t["status"],
            ))
            key = (therapist, t["currency"])
            if index in counted and key in model:
                model[key]["paid_out_minor"] += amount - reversed_minor if t["status"] in ("transferred", "returned") else 0
                model[key]["pending_minor"] += t["due"] if t["status"] == "pending" else 0
        await s.flush()

        expected = {
            key: (len(sessions[key]), r["gross_minor"], r["fees_minor"], r["refunds_minor"],
                  r["gross_minor"] - r["fees_minor"] - r["refunds_minor"], r["paid_out_minor"], r["pending_minor"])
            for key, r in model.items()
        }
        rows = await earnings(s, lower=lower, upper=upper)
        got = {(str(r.therapist_id), r.currency): (r.sessions, r.gross_minor, r.fees_minor, r.refunds_minor, r.net_minor,
                                                   r.paid_out_minor, r.pending_minor) for r in rows}
        assert got == expected
        assert len(got) == len(rows)  # one row per therapist and currency
        # a therapist's own view is exactly their rows
        for _, therapist in bookings[:2]:
            mine = await earnings(s, lower=lower, upper=upper, therapist_id=uuid.UUID(therapist))
            assert {(str(r.therapist_id), r.currency) for r in mine} == {k for k in expected if k[0] == therapist}
        # totals: the sum of the rows per currency, never across currencies
        summed = {t.currency: t for t in totals(rows)}
        assert set(summed) == {c for _, c in expected}
        for currency, total in summed.items():
            of = [v for (_, c), v in expected.items() if c == currency]
            assert (total.sessions, total.gross_minor, total.fees_minor, total.refunds_minor, total.net_minor, total.paid_out_minor,
                    total.pending_minor) == tuple(sum(v[i] for v in of) for i in range(7))
        lines = to_csv(rows).splitlines()
        assert len(lines) == 1 + len(rows) + len(summed) and all(line.startswith("total,") for line in lines[1 + len(rows):])
        await s.execute(sa.delete(BookingTransfer).where(BookingTransfer.booking_id.in_(ids)))
        await s.execute(sa.delete(PaymentRequest).where(PaymentRequest.booking_id.in_(ids)))
