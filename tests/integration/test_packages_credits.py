"""Packages and the credit ledger: definitions and sales through HTTP; the ledger's service
functions (what the booking engine calls) in real tenant transactions — append-only at the
database, never negative under concurrency, replay-safe (hypothesis over operation sequences)."""

from __future__ import annotations

import asyncio
import contextlib
import datetime
import uuid

import pytest
import sqlalchemy as sa
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.packages import ledger
from anima.tenancy.scope import enter_tenant
from tests.conftest import add_member, bearer, signup
from tests.integration.billing_support import now, paid_client, stripe_settings, stripe_stub, tenant_row  # noqa: F401
from tests.integration.test_practice_payments import connected_practice, post_connect
from tests.stripe_stub import event, payment_checkout_completed_object


@contextlib.asynccontextmanager
async def tenant_session(db, tenant_id: int):
    """A transaction entered into the tenant, as the booking engine's would be; commits on success."""
    async with db.app.connect() as conn:
        async with conn.begin():
            session = AsyncSession(bind=conn, expire_on_commit=False)
            assert await enter_tenant(session, tenant_id) is not None
            yield session
            await session.flush()


async def _practice(client, db):
    org = await signup(client, tier="PRO")
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Joan"}, headers=org.headers)).json()
    service = (await client.post(f"/api/v1/orgs/{org.slug}/services", json={
        "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE"}, headers=org.headers)).json()
    return org, patient, service


async def _package(client, org, service, *, sessions: int = 10, validity_days: int = 90) -> dict:
    created = await client.post(f"/api/v1/orgs/{org.slug}/packages", json={
        "name": f"{sessions} sessions", "sessions": sessions, "validity_days": validity_days, "service_ids": [service["id"]],
        "prices": [{"currency": "USD", "amount_minor": 50000}, {"currency": "CAD", "amount_minor": 68000}]}, headers=org.headers)
    assert created.status_code == 201, created.text
    return created.json()


async def test_owners_define_packages_with_prices_per_currency_and_bad_input_is_refused(client, db):
    org, patient, service = await _practice(client, db)
    base = f"/api/v1/orgs/{org.slug}/packages"
    good = {"name": "Five", "sessions": 5, "validity_days": 90, "prices": [{"currency": "EUR", "amount_minor": 25000}]}
    for change, field in (
        ({"sessions": 0}, "sessions"), ({"sessions": 1001}, "sessions"), ({"validity_days": 0}, "validity_days"),
        ({"validity_days": "90"}, "validity_days"), ({"name": "a\x00b"}, "name"), ({"name": ""}, "name"), ({"prices": []}, "prices"),
        ({"prices": [{"currency": "XYZ", "amount_minor": 100}]}, "prices[0].currency"),
        ({"prices": [{"currency": "EUR", "amount_minor": 100}, {"currency": "EUR", "amount_minor": 200}]}, "prices[1].currency"),
        ({"prices": [{"currency": "EUR", "amount_minor": 10**12}]}, "amount_minor"), ({"service_ids": [str(uuid.uuid4())]}, "service_ids"),
    ):
        bad = await client.post(base, json={**good, **change}, headers=org.headers)
        assert bad.status_code in (400, 422) and field in bad.text, (change, bad.text)
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    assert (await client.post(base, json=good, headers=bearer(assistant["access_token"]))).status_code == 403
    package = await _package(client, org, service)
    assert [p["currency"] for p in package["prices"]] == ["CAD", "USD"] and package["service_ids"] == [service["id"]]
    assert [p["id"] for p in (await client.get(base, headers=bearer(assistant["access_token"]))).json()] == [package["id"]]
    # an assistant records a sale paid in cash: 10 credits at once, in the currency asked
    sale = await client.post(f"{base}/{package['id']}/sales", json={"patient_id": patient["id"], "currency": "CAD"},
                             headers=bearer(assistant["access_token"]))
    assert sale.status_code == 201 and (sale.json()["amount_minor"], sale.json()["balance"], sale.json()["status"]) == (68000, 10, "ACTIVE")
    expires = datetime.datetime.fromisoformat(sale.json()["expires_at"])
    assert abs((expires - datetime.datetime.now(datetime.UTC)) - datetime.timedelta(days=90)) < datetime.timedelta(minutes=5)
    no_price = await client.post(f"{base}/{package['id']}/sales", json={"patient_id": patient["id"], "currency": "EUR"}, headers=org.headers)
    assert no_price.status_code == 422 and "currency" in no_price.text
    credits = (await client.get(f"/api/v1/orgs/{org.slug}/credits/patients/{patient['id']}", headers=org.headers)).json()
    assert credits["balance"] == 10 and [e["kind"] for e in credits["entries"]] == ["purchase"]
    # owners adjust with a reason, never below zero, replay-safe with an Idempotency-Key
    adjust = f"/api/v1/orgs/{org.slug}/credits/sales/{sale.json()['id']}/adjustments"
    assert (await client.post(adjust, json={"delta": -11, "reason": "typo"}, headers=org.headers)).status_code == 422
    key = {"Idempotency-Key": "adjust-once-1234", **org.headers}
    one = await client.post(adjust, json={"delta": -2, "reason": "two sessions given before the app"}, headers=key)
    two = await client.post(adjust, json={"delta": -2, "reason": "two sessions given before the app"}, headers=key)
    assert one.status_code == two.status_code == 201 and one.json()["id"] == two.json()["id"]
    assert (await client.get(f"/api/v1/orgs/{org.slug}/credits/patients/{patient['id']}", headers=org.headers)).json()["balance"] == 8
    assert (await client.post(adjust, json={"delta": 1, "reason": "x"}, headers=bearer(assistant["access_token"]))).status_code == 403


async def test_a_package_bought_online_is_credited_when_stripe_says_it_is_paid(paid_client, stripe_stub, db):
    org, account, patient = await connected_practice(paid_client, stripe_stub, db)
    service = (await paid_client.post(f"/api/v1/orgs/{org.slug}/services", json={
        "name": "Session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "USD", "location": "ONLINE"}, headers=org.headers)).json()
    package = await _package(paid_client, org, service)
    sale = (await paid_client.post(f"/api/v1/orgs/{org.slug}/packages/{package['id']}/sales",
                                   json={"patient_id": patient["id"], "currency": "USD", "mode": "online"}, headers=org.headers)).json()
    assert sale["status"] == "PENDING_PAYMENT" and sale["balance"] == 0 and sale["payment_id"]
    payment = (await paid_client.get(f"/api/v1/orgs/{org.slug}/payments/{sale['payment_id']}", headers=org.headers)).json()
    assert (await paid_client.get(payment["pay_path"])).status_code == 303
    paid = event("checkout.session.completed", payment_checkout_completed_object(
        "cs_test_pkg", payment_intent="pi_pkg_" + uuid.uuid4().hex[:8], amount=50000, currency="usd",
        metadata={"payment_id": sale["payment_id"]}, created=now()), created=now(), account=account)
    await post_connect(paid_client, paid)
    await post_connect(paid_client, {**paid, "id": "evt_" + uuid.uuid4().hex})  # Stripe resent it as a new event
    credits = (await paid_client.get(f"/api/v1/orgs/{org.slug}/credits/patients/{patient['id']}", headers=org.headers)).json()
    assert credits["balance"] == 10 and credits["sales"][0]["status"] == "ACTIVE" and [e["kind"] for e in credits["entries"]] == ["purchase"]


async def _sold(client, db, *, sessions: int = 10, validity_days: int = 90):
    org, patient, service = await _practice(client, db)
    package = await _package(client, org, service, sessions=sessions, validity_days=validity_days)
    sale = (await client.post(f"/api/v1/orgs/{org.slug}/packages/{package['id']}/sales", json={"patient_id": patient["id"], "currency": "USD"},
                              headers=org.headers)).json()
    tenant = await tenant_row(db, org.slug)
    return org, tenant.id, uuid.UUID(patient["id"]), uuid.UUID(service["id"]), uuid.UUID(sale["id"])


async def test_booking_engine_functions_use_return_no_show_and_expiry(client, db):
    org, tenant_id, patient, service, sale = await _sold(client, db, sessions=2)
    b1, b2, b3 = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    async with tenant_session(db, tenant_id) as s:
        used = await ledger.use_credit(s, patient_id=patient, service_id=service, booking_id=b1)
        assert used is not None and used.kind == "use"
        assert (await ledger.use_credit(s, patient_id=patient, service_id=service, booking_id=b1)).id == used.id  # replay
        assert await ledger.use_credit(s, patient_id=patient, service_id=uuid.uuid4(), booking_id=b2) is None  # not covered
        assert (await ledger.use_credit(s, patient_id=patient, service_id=service, booking_id=b2, no_show=True)).kind == "no_show"
        assert await ledger.use_credit(s, patient_id=patient, service_id=service, booking_id=b3) is None  # none left
        returned = await ledger.return_credit(s, booking_id=b1)
        assert returned is not None and returned.delta == 1
        assert (await ledger.return_credit(s, booking_id=b1)).id == returned.id
        assert await ledger.return_credit(s, booking_id=b2) is None  # a no-show keeps its credit
        assert await ledger.balance(s, sale) == 1
        # past its validity, what is left expires, once
        later = datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=91)
        assert await ledger.expire_due(s, at=later) == 1 and await ledger.expire_due(s, at=later) == 0
        assert await ledger.balance(s, sale) == 0
    for statement in ("UPDATE credit_entries SET delta = 5", "DELETE FROM credit_entries"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with tenant_session(db, tenant_id) as s:
                await s.execute(sa.text(statement))
    credits = (await client.get(f"/api/v1/orgs/{org.slug}/credits/patients/{patient}", headers=org.headers)).json()
    assert sorted(e["kind"] for e in credits["entries"]) == ["expiry", "no_show", "purchase", "return", "use"]


async def test_twenty_concurrent_bookings_against_the_last_three_credits_use_exactly_three(client, db):
    _, tenant_id, patient, service, sale = await _sold(client, db, sessions=3)

    async def book() -> bool:
        async with tenant_session(db, tenant_id) as s:
            return await ledger.use_credit(s, patient_id=patient, service_id=service, booking_id=uuid.uuid4()) is not None

    results = await asyncio.gather(*(book() for _ in range(20)))
    assert results.count(True) == 3
    async with tenant_session(db, tenant_id) as s:
        assert await ledger.balance(s, sale) == 0


OPS = st.lists(st.tuples(st.sampled_from(["use", "no_show", "return", "adjust"]), st.integers(0, 4), st.integers(-3, 3)), max_size=14)


@settings(max_examples=15, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(ops=OPS, replay=st.booleans())
async def test_ledger_sequences_balance_is_the_sum_never_negative_and_replays_change_nothing(client, db, ops, replay):
    _, tenant_id, patient, service, sale = await _sold(client, db, sessions=3)
    bookings = [uuid.uuid4() for _ in range(5)]
    used: set[uuid.UUID] = set()
    returned: set[uuid.UUID] = set()
    expected = 3
    for i, (op, which, delta) in enumerate(ops):
        booking = bookings[which]
        for attempt in range(2 if replay else 1):
            async with tenant_session(db, tenant_id) as s:
                if op in ("use", "no_show"):
                    entry = await ledger.use_credit(s, patient_id=patient, service_id=service, booking_id=booking, no_show=op == "no_show")
                    if attempt == 0 and entry is not None and booking not in used:
                        used.add(booking)
                        expected -= 1
                elif op == "return":
                    entry = await ledger.return_credit(s, booking_id=booking)
                    if attempt == 0 and entry is not None and booking not in returned:
                        returned.add(booking)
                        expected += 1
                elif delta != 0:
                    try:
                        await ledger.adjust(s, sale, delta=delta, reason="property", key=f"k{i}", actor_id=None)
                        if attempt == 0:
                            expected += delta
                    except Exception as exc:  # InvalidInput: the balance would go below zero
                        assert "balance" in str(getattr(exc, "errors", exc)) or expected + delta < 0
                        assert expected + delta < 0
                total = await ledger.balance(s, sale)
                summed = await s.scalar(sa.text("SELECT coalesce(sum(delta), 0) FROM credit_entries WHERE sale_id = :s"), {"s": sale})
            assert total == summed == expected >= 0, (ops, i)


async def test_unused_credits_are_refunded_pro_rata_rounded_down(client, db):
    org, tenant_id, patient, service, sale = await _sold(client, db, sessions=3)  # 500.00 USD for 3 sessions
    async with tenant_session(db, tenant_id) as s:
        await ledger.use_credit(s, patient_id=patient, service_id=service, booking_id=uuid.uuid4())
    refund = f"/api/v1/orgs/{org.slug}/credits/sales/{sale}/refund"
    _, assistant, _ = await add_member(client, db, org, "ASSISTANT")
    assert (await client.post(refund, json={"reason": "moving away"}, headers=bearer(assistant["access_token"]))).status_code == 403
    done = await client.post(refund, json={"reason": "moving away"}, headers=org.headers)
    assert done.status_code == 200 and done.json() == {"sale_id": str(sale), "credits": 2, "amount_minor": 33333}  # 50000 × 2 / 3, down
    again = await client.post(refund, json={"reason": "moving away"}, headers=org.headers)
    assert again.json()["credits"] == 0 and again.json()["amount_minor"] == 0
    credits = (await client.get(f"/api/v1/orgs/{org.slug}/credits/patients/{patient}", headers=org.headers)).json()
    assert credits["balance"] == 0 and sorted(e["kind"] for e in credits["entries"]) == ["purchase", "refund", "use"]


async def test_the_worker_registers_the_daily_credit_expiry_and_it_expires_every_tenant(client, db):
    from croniter import croniter

    from anima.jobs import credits as credits_jobs
    from anima.jobs.worker import build_worker
    from anima.runtime import build_runtime
    from tests.integration.events_support import queue_settings

    svc = build_runtime(queue_settings("postgres"), db)
    worker = build_worker(svc, handle_signals=False)
    crons = {c.function.__qualname__: c for c in worker.cron_jobs}
    assert "expire_credits" in crons and crons["expire_credits"].unique and "expire_credits" in worker.functions
    fires = croniter(crons["expire_credits"].cron, 0)
    assert fires.get_next() - 0 < 86400 and fires.get_next() - fires.get_prev() == 86400  # daily
    _, tenant_id, _, _, sale = await _sold(client, db, sessions=4)
    done = await credits_jobs.expire_all(svc, at=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=91))
    assert done.get(tenant_id) == 1
    async with tenant_session(db, tenant_id) as s:
        assert await ledger.balance(s, sale) == 0
    assert tenant_id not in await credits_jobs.expire_all(svc, at=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=91))
