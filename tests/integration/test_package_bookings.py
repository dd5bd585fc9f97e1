"""Package credits in the booking flow, through the real HTTP path and PostgreSQL: a booking uses a
credit (oldest-expiring sale first), a timely cancellation returns it, a late one keeps it, a
no-show keeps it only where the rule says so; at zero credits the booking pays or is refused (409)
by the organization's rule; 20 concurrent bookings against the last 3 credits use exactly 3; and
hypothesis over sequences of book / cancel (timely, late, by the practice) / no-show keeps the
balance equal to the ledger's sum and to a model, never negative."""

from __future__ import annotations

import asyncio
import datetime
import itertools
import uuid

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.integration.booking_support import UTC, Practice, practice
from tests.integration.events_support import in_tenant

_minutes = itertools.count(1)


async def _package(client, p: Practice, *, sessions: int, validity_days: int = 90, name: str | None = None) -> dict:
    made = await client.post(f"{p.base}/packages", json={
        "name": name or f"{sessions} sessions", "sessions": sessions, "validity_days": validity_days,
        "service_ids": [p.service["id"]], "prices": [{"currency": "EUR", "amount_minor": 5000 * sessions}]}, headers=p.org.headers)
    assert made.status_code == 201, made.text
    return made.json()


async def _sell(client, p: Practice, package: dict, patient_id: str) -> dict:
    sale = await client.post(f"{p.base}/packages/{package['id']}/sales", json={"patient_id": patient_id, "currency": "EUR"},
                             headers=p.assistant)
    assert sale.status_code == 201, sale.text
    return sale.json()


def _at(hours: float) -> str:
    """A start ``hours`` from now, shifted by a fresh minute offset so staff entries never overlap."""
    start = datetime.datetime.now(UTC) + datetime.timedelta(hours=hours) + datetime.timedelta(hours=2 * next(_minutes))
    return start.isoformat()


def _exact(hours: float) -> str:
    return (datetime.datetime.now(UTC) + datetime.timedelta(hours=hours)).isoformat()


async def _book(client, p: Practice, patient_id: str, starts_at: str):
    return await client.post(f"{p.base}/bookings", json={"patient_id": patient_id, "service_id": p.service["id"], "starts_at": starts_at,
                                                         "therapist_id": p.therapist_id}, headers=p.assistant)


async def _credit(client, p: Practice, booking_id: str) -> dict:
    got = await client.get(f"{p.base}/credits/bookings/{booking_id}", headers=p.org.headers)
    assert got.status_code == 200, got.text
    return got.json()


async def _balance(client, p: Practice, patient_id: str) -> int:
    return (await client.get(f"{p.base}/credits/patients/{patient_id}", headers=p.org.headers)).json()["balance"]


async def test_a_booking_uses_a_credit_timely_cancellation_returns_it_late_keeps_it_no_show_by_rule(client, db):
    p = await practice(client, db, patients=1)
    patient = p.patients[0]
    policy = await client.put(f"{p.base}/cancellation-policies/organization", json={"window_hours": 24}, headers=p.org.headers)
    assert policy.status_code == 200, policy.text
    rule = (await client.get(f"{p.base}/credit-rules", headers=p.assistant)).json()
    assert rule == {"service_id": None, "no_show_uses_credit": True, "when_exhausted": "PAY", "own": False}  # the defaults
    later = await _package(client, p, sessions=10, validity_days=90, name="Ten")
    sooner = await _package(client, p, sessions=2, validity_days=30, name="Two")
    ten, two = await _sell(client, p, later, patient), await _sell(client, p, sooner, patient)
    assert await _balance(client, p, patient) == 12
    # oldest-expiring sale first: the 30-day package pays before the 90-day one
    first = await _book(client, p, patient, _at(24 * 10))
    assert first.status_code == 201, first.text
    c = await _credit(client, p, first.json()["id"])
    assert (c["covered"], c["sale_id"], c["package_name"], c["left"], c["returned"]) == (True, two["id"], "Two", 1, False)
    # timely cancellation by the client (10 days ahead, window 24 h) returns it
    assert (await client.post(f"{p.base}/bookings/{first.json()['id']}/cancellation", json={"by": "client"},
                              headers=p.assistant)).status_code == 200
    assert (await _credit(client, p, first.json()["id"]))["returned"] is True and await _balance(client, p, patient) == 12
    # late cancellation by the client (2 hours ahead) keeps it used; by the practice it comes back
    late = await _book(client, p, patient, _exact(2))
    assert (await client.post(f"{p.base}/bookings/{late.json()['id']}/cancellation", json={"by": "client"},
                              headers=p.assistant)).status_code == 200
    assert await _balance(client, p, patient) == 11
    practice_cancel = await _book(client, p, patient, _exact(3))
    assert (await client.post(f"{p.base}/bookings/{practice_cancel.json()['id']}/cancellation", json={"by": "practice"},
                              headers=p.assistant)).status_code == 200
    assert await _balance(client, p, patient) == 11
    # a no-show keeps its credit under the default rule ...
    missed = await _book(client, p, patient, _exact(-5))
    assert missed.status_code == 201 and await _balance(client, p, patient) == 10
    assert (await client.post(f"{p.base}/bookings/{missed.json()['id']}/no-show", headers=p.assistant)).status_code == 200
    assert await _balance(client, p, patient) == 10
    # ... and gets it back where the service's rule says a no-show does not use one
    override = await client.put(f"{p.base}/credit-rules/services/{p.service['id']}",
                                json={"no_show_uses_credit": False, "when_exhausted": "PAY"}, headers=p.org.headers)
    assert override.status_code == 200 and override.json()["own"] is True
    assert (await client.put(f"{p.base}/credit-rules/services/{p.service['id']}", json={"no_show_uses_credit": False,
                             "when_exhausted": "PAY"}, headers=p.assistant)).status_code == 403
    forgiven = await _book(client, p, patient, _exact(-7))
    assert (await client.post(f"{p.base}/bookings/{forgiven.json()['id']}/no-show", headers=p.assistant)).status_code == 200
    assert await _balance(client, p, patient) == 10
    assert (await _credit(client, p, forgiven.json()["id"]))["returned"] is True
    ledger = await in_tenant(db, p.org.slug, "SELECT sum(delta) FROM credit_entries WHERE sale_id IN (:a, :b)", {"a": ten["id"], "b": two["id"]})
    assert ledger[0][0] == 10


async def test_a_held_booking_uses_its_credit_when_confirmed_and_bad_rules_are_refused(client, db):
    p = await practice(client, db, patients=1)
    patient = p.patients[0]
    await _sell(client, p, await _package(client, p, sessions=1), patient)
    slots = (await client.get(f"{p.base}/slots", params={"service_id": p.service["id"], "zone": "Europe/Madrid",
                                                         "from": (datetime.datetime.now(UTC) + datetime.timedelta(days=3)).date().isoformat()},
                              headers=p.org.headers)).json()
    held = await client.post(f"{p.base}/bookings/hold", json={"patient_id": patient, "service_id": p.service["id"],
                                                                "starts_at": slots[0]["starts_at"]}, headers=p.assistant)
    assert held.status_code == 201 and await _balance(client, p, patient) == 1  # a hold uses nothing
    assert (await client.post(f"{p.base}/bookings/{held.json()['id']}/confirm", headers=p.assistant)).status_code == 200
    assert await _balance(client, p, patient) == 0
    for body, field in (({"no_show_uses_credit": True, "when_exhausted": "MAYBE"}, "when_exhausted"),
                        ({"no_show_uses_credit": 1, "when_exhausted": "PAY"}, "no_show_uses_credit"),
                        ({"no_show_uses_credit": True}, "when_exhausted"),
                        ({"no_show_uses_credit": True, "when_exhausted": "PAY\x00"}, "when_exhausted")):
        bad = await client.put(f"{p.base}/credit-rules", json=body, headers=p.org.headers)
        assert bad.status_code in (400, 422) and field in bad.text, (body, bad.text)
    unknown = await client.put(f"{p.base}/credit-rules/services/{uuid.uuid4()}", json={"no_show_uses_credit": True,
                               "when_exhausted": "PAY"}, headers=p.org.headers)
    assert unknown.status_code == 422 and "service_id" in unknown.text


async def _twenty_against_three(client, db, when_exhausted: str):
    p = await practice(client, db, patients=1)
    patient = p.patients[0]
    assert (await client.put(f"{p.base}/credit-rules", json={"no_show_uses_credit": True, "when_exhausted": when_exhausted},
                             headers=p.org.headers)).status_code == 200
    sale = await _sell(client, p, await _package(client, p, sessions=5), patient)
    for _ in range(2):  # two credits used before the race: 3 left
        assert (await _book(client, p, patient, _at(24 * 20))).status_code == 201
    starts = [_at(24 * 40) for _ in range(20)]
    responses = await asyncio.gather(*(_book(client, p, patient, s) for s in starts))
    made = [r.json()["id"] for r in responses if r.status_code == 201]
    covered = [b for b in made if (await _credit(client, p, b))["covered"]]
    assert len(covered) == 3
    left = await in_tenant(db, p.org.slug, "SELECT sum(delta) FROM credit_entries WHERE sale_id = :s", {"s": sale["id"]})
    assert left[0][0] == 0
    return p, responses, made


async def test_twenty_concurrent_bookings_against_the_last_three_credits_under_pay_three_are_covered_the_rest_pay(client, db):
    _, responses, made = await _twenty_against_three(client, db, "PAY")
    assert sorted(r.status_code for r in responses) == [201] * 20 and len(made) == 20


async def test_twenty_concurrent_bookings_against_the_last_three_credits_under_refuse_book_exactly_three(client, db):
    p, responses, made = await _twenty_against_three(client, db, "REFUSE")
    assert sorted(r.status_code for r in responses) == [201] * 3 + [409] * 17, [r.text for r in responses if r.status_code >= 500]
    assert {r.json()["reason"] for r in responses if r.status_code == 409} == {"no-credits"}
    refusal = next(r for r in responses if r.status_code == 409)
    assert refusal.headers["content-type"].startswith("application/problem+json") and "package" in refusal.json()["detail"]
    # nothing of a refused booking was written
    rows = await in_tenant(db, p.org.slug, "SELECT count(*) FROM bookings WHERE status = 'CONFIRMED'")
    assert rows[0][0] == 2 + 3
    # a patient with no package books as before under REFUSE
    other = (await client.post(f"{p.base}/patients", json={"first_name": "Noor"}, headers=p.org.headers)).json()["id"]
    assert (await _book(client, p, other, _at(24 * 50))).status_code == 201


STEP = st.one_of(
    st.tuples(st.just("book"), st.sampled_from(["far", "near", "past"])),
    st.tuples(st.just("cancel"), st.integers(0, 7), st.sampled_from(["client", "practice"])),
    st.tuples(st.just("no_show"), st.integers(0, 7)),
)


@settings(max_examples=8, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(steps=st.lists(STEP, max_size=10), no_show_uses=st.booleans())
async def test_sequences_of_book_cancel_and_no_show_keep_the_balance_the_ledger_sum_and_the_model(client, db, steps, no_show_uses):
    p = await practice(client, db, patients=1)
    patient = p.patients[0]
    await client.put(f"{p.base}/cancellation-policies/organization", json={"window_hours": 24}, headers=p.org.headers)
    await client.put(f"{p.base}/credit-rules", json={"no_show_uses_credit": no_show_uses, "when_exhausted": "PAY"}, headers=p.org.headers)
    sale = await _sell(client, p, await _package(client, p, sessions=3), patient)
    model = 3
    bookings: list[tuple[str, str, bool]] = []  # (id, when, covered)
    closed: set[str] = set()
    for i, step in enumerate(steps):
        if step[0] == "book":
            when = step[1]
            starts = _at(24 * 30) if when == "far" else _exact(1 + 2 * i) if when == "near" else _exact(-2 - 2 * i)
            made = await _book(client, p, patient, starts)
            assert made.status_code == 201, made.text
            covered = model > 0
            model -= covered
            bookings.append((made.json()["id"], when, covered))
            assert (await _credit(client, p, made.json()["id"]))["covered"] is covered
        elif bookings:
            booking_id, when, covered = bookings[step[1] % len(bookings)]
            if step[0] == "cancel":
                answer = await client.post(f"{p.base}/bookings/{booking_id}/cancellation", json={"by": step[2]}, headers=p.assistant)
                if booking_id in closed:
                    assert answer.status_code == 409
                    continue
                assert answer.status_code == 200, answer.text
                late = step[2] == "client" and when in ("near", "past")
                model += covered and not late
            else:
                answer = await client.post(f"{p.base}/bookings/{booking_id}/no-show", headers=p.assistant)
                if booking_id in closed or when != "past":
                    assert answer.status_code == 409
                    continue
                assert answer.status_code == 200, answer.text
                model += covered and not no_show_uses
            closed.add(booking_id)
        summed = await in_tenant(db, p.org.slug, "SELECT coalesce(sum(delta), 0) FROM credit_entries WHERE sale_id = :s", {"s": sale["id"]})
        balance = await _balance(client, p, patient)
        assert balance == summed[0][0] == model >= 0, (steps, i)
