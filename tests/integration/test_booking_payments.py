"""Paying for a booking online, through the real path: the service's setting, the wizard holding
the slot and sending the client through the pay link to Checkout (the real ``stripe`` SDK against
tests/stripe_stub.py), signed Connect webhooks confirming the booking (in any order, duplicated),
a lapsed hold's Checkout expired and a late success refunded, the saved card with its consent,
and fees collected once by the tick's job — also when it dies after Stripe charged."""

from __future__ import annotations

import datetime
import itertools
import json
from collections.abc import AsyncIterator
from urllib.parse import quote

import httpx
import pytest

from anima.app import create_app
from anima.domains.payments import booking_checkout, fees
from anima.identity.rate_limit import RateLimits
from anima.jobs.runner import tenant_transaction
from tests.integration.billing_support import now, paid_client, stripe_settings, stripe_stub  # noqa: F401 - fixtures
from tests.integration.booking_support import UTC, day_ahead, practice, slots
from tests.integration.events_support import in_tenant, queue_settings, services_for, tenant_id_of
from tests.stripe_stub import account_object, event, payment_checkout_completed_object, payment_intent_object, sign, stripe_environ
from tests.web.conftest import Browser, browser  # noqa: F401 - the plain app's browser fixture

CONNECT_WEBHOOK = "/api/v1/payments/webhooks/stripe"


@pytest.fixture
async def paid_browser(stripe_settings, db) -> AsyncIterator[Browser]:  # noqa: F811 - the fixture above
    app = create_app(stripe_settings, database=db, rate_limits=RateLimits().scaled(1000))
    transport = httpx.ASGITransport(app=app, client=("127.0.0.1", 50002))
    async with httpx.AsyncClient(transport=transport, base_url="http://testserver", follow_redirects=False) as http:
        yield Browser(http)


async def post_connect(client, body: dict) -> dict:
    payload = json.dumps(body)
    response = await client.post(CONNECT_WEBHOOK, content=payload, headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"})
    assert response.status_code == 200, response.text
    return response.json()


async def connect(client, org) -> str:
    started = await client.post(f"/api/v1/orgs/{org.slug}/payments-account/onboarding", json={}, headers=org.headers)
    assert started.status_code == 200, started.text
    account = started.json()["account_id"]
    await post_connect(client, event("account.updated", account_object(account, charges_enabled=True, payouts_enabled=True,
                                                                        details_submitted=True), created=now(), account=account))
    return account


def details(service_id: str, start: str, **extra: str) -> dict[str, str]:
    return {"service": service_id, "therapist": "any", "zone": "America/New_York", "start": start, "first_name": "Nora",
            "last_name": "Vidal", "email": f"nora{now()}{id(extra)}@example.org", "phone": "", "time_zone": "America/New_York",
            "consent": "1", "website": "", **extra}


def form_page(slug: str, data: dict[str, str]) -> str:
    return f"/p/{slug}/book?service={data['service']}&therapist=any&zone={quote(data['zone'])}&start={quote(data['start'])}"


async def book(browser: Browser, slug: str, data: dict[str, str]) -> httpx.Response:
    return await browser.submit(f"/p/{slug}/book", data, form_page=form_page(slug, data))


async def paid_practice(client, db, **service):
    p = await practice(client, db, patients=0, pay_online="DEPOSIT", deposit_share_bp=3000, **service)
    account = await connect(client, p.org)
    return p, account


def paid_events(stub, payment_id: str, account: str, *, customer: str | None = "cus_saved", method: str = "pm_saved"):
    session_id = next(k for k, s in stub.sessions.items() if s["metadata"].get("payment_id") == payment_id)
    session = stub.sessions[session_id]
    intent, t = f"pi_{session_id[-12:]}", now()
    completed = payment_checkout_completed_object(session_id, payment_intent=intent, amount=session["amount_total"],
                                                  currency=session["currency"], metadata=session["metadata"], created=t)
    completed["customer"] = customer
    succeeded = payment_intent_object(intent, status="succeeded", amount=session["amount_total"], currency=session["currency"],
                                      metadata=session["metadata"], created=t)
    succeeded["customer"], succeeded["payment_method"] = customer, method
    return (event("checkout.session.completed", completed, created=t, account=account),
            event("payment_intent.succeeded", succeeded, created=t, account=account))


async def test_service_payment_setting_is_validated_by_field(paid_client, db):
    p = await practice(paid_client, db, patients=0)
    url = f"{p.base}/services/{p.service['id']}"
    assert p.service["pay_online"] == "NONE" and p.service["deposit_minor"] is None
    for body, field, rule in (
        ({"pay_online": "DEPOSIT"}, "deposit_minor", "one-deposit"),
        ({"pay_online": "DEPOSIT", "deposit_minor": 6001}, "deposit_minor", "within-price"),
        ({"pay_online": "DEPOSIT", "deposit_minor": 100, "deposit_share_bp": 100}, "deposit_minor", "one-deposit"),
        ({"pay_online": "FULL", "deposit_minor": 100}, "deposit_minor", "deposit-only"),
        ({"pay_online": "NONE", "deposit_share_bp": 100}, "deposit_share_bp", "deposit-only"),
        ({"pay_online": "FULL", "price_minor": 0}, "pay_online", "priced"),
    ):
        bad = await paid_client.patch(url, json=body, headers=p.org.headers)
        assert bad.status_code == 422, (body, bad.text)
        assert any(e["field"] == field and e["rule"] == rule for e in bad.json()["errors"]), (body, bad.text)
    for body, field in (({"pay_online": "DEPOSIT", "deposit_share_bp": 0}, "deposit_share_bp"),
                        ({"pay_online": "DEPOSIT", "deposit_share_bp": 10001}, "deposit_share_bp"),
                        ({"pay_online": "DEPOSIT", "deposit_minor": "12"}, "deposit_minor"),
                        ({"pay_online": "SOME"}, "pay_online"),
                        ({"pay_online": "DEPOSIT\u0000"}, "pay_online"),
                        ({"pay_online": "DEPOSIT", "deposit_minor": 10**12}, "deposit_minor")):
        bad = await paid_client.patch(url, json=body, headers=p.org.headers)
        assert bad.status_code in (400, 422) and field in bad.text, (body, bad.text)
    share = await paid_client.patch(url, json={"pay_online": "DEPOSIT", "deposit_share_bp": 2500}, headers=p.org.headers)
    assert share.status_code == 200 and share.json()["deposit_share_bp"] == 2500 and share.json()["deposit_minor"] is None
    fixed = await paid_client.patch(url, json={"deposit_minor": 2000}, headers=p.org.headers)  # another kind replaces it
    assert fixed.status_code == 200 and (fixed.json()["deposit_minor"], fixed.json()["deposit_share_bp"]) == (2000, None)
    lower = await paid_client.patch(url, json={"price_minor": 1000}, headers=p.org.headers)
    assert lower.status_code == 422 and "within-price" in lower.text  # a price under the deposit is refused too
    full = await paid_client.patch(url, json={"pay_online": "FULL"}, headers=p.org.headers)
    assert full.status_code == 200 and (full.json()["pay_online"], full.json()["deposit_minor"]) == ("FULL", None)


async def test_a_deposit_booking_is_held_paid_through_checkout_and_confirmed(paid_client, paid_browser, stripe_stub, db):
    p, account = await paid_practice(paid_client, db)
    policy = await paid_client.put(f"{p.base}/cancellation-policies/organization", json={
        "window_hours": 48, "late_cancel_kind": "FIXED", "late_cancel_value": 2500, "no_show_kind": "SHARE", "no_show_value": 5000},
        headers=p.org.headers)
    assert policy.status_code == 200, policy.text
    slug, service_id = p.org.slug, p.service["id"]
    free = await slots(paid_client, p, day_ahead(6))
    start = free[0]["starts_at"].replace("+00:00", "Z")
    page = await paid_browser.get(form_page(slug, details(service_id, start)))
    assert page.status_code == 200 and "Deposit to pay now" in page.text and "€18.00" in page.text
    assert 'name="save_card"' in page.text and 'name="save_card" type="checkbox" value="1" aria' in page.text  # unticked
    assert "€25.00" in page.text and "€30.00" in page.text and "48 hours" in page.text  # the policy's fees beside the box

    before = datetime.datetime.now(UTC)
    booked = await book(paid_browser, slug, details(service_id, start, save_card="1"))
    assert booked.status_code == 303, booked.text
    pay_path = booked.headers["location"]
    assert pay_path.startswith(f"/api/v1/pay/{slug}/")
    [(booking_id, status, expires, payment_id)] = await in_tenant(db, slug, "SELECT id::text, status, expires_at, payment_id::text FROM bookings")
    assert status == "HELD" and datetime.timedelta(minutes=29) < expires - before <= datetime.timedelta(minutes=31)
    [(amount, currency, linked, pstatus)] = await in_tenant(db, slug, "SELECT amount_minor, currency, booking_id::text, status FROM payment_requests")
    assert (amount, currency, linked, pstatus) == (1800, "EUR", booking_id, "PENDING")
    [(version, consented)] = await in_tenant(db, slug, "SELECT consent_version, consented_at FROM saved_cards")
    assert version == booking_checkout.CONSENT_VERSION and consented >= before

    checkout = await paid_browser.get(pay_path)
    assert checkout.status_code == 303 and checkout.headers["location"].startswith("https://checkout.stripe.com/c/pay/")
    [call] = [r for r in stripe_stub.calls("/v1/checkout/sessions") if r.form.get("metadata[payment_id]") == payment_id]
    assert call.headers["stripe-account"] == account
    assert call.form["payment_intent_data[setup_future_usage]"] == "off_session" and call.form["customer_creation"] == "always"
    assert int(call.form["expires_at"]) >= int(expires.timestamp()) and call.form["success_url"].endswith("/paid")
    assert call.form["cancel_url"].endswith("/unpaid") and call.form["line_items[0][price_data][unit_amount]"] == "1800"

    # the cancel page offers to try again while the hold lives
    manage = call.form["success_url"].removesuffix("/paid").split("testserver", 1)[-1]
    manage = manage[manage.index("/p/"):]
    unpaid = await paid_browser.get(f"{manage}/unpaid")
    assert unpaid.status_code == 200 and "Try paying again" in unpaid.text and pay_path in unpaid.text
    waiting = await paid_browser.get(f"{manage}/paid")
    assert "we are confirming your booking" in waiting.text

    completed, succeeded = paid_events(stripe_stub, payment_id, account)
    for body in (succeeded, completed, succeeded, completed):  # out of order, duplicated
        await post_connect(paid_client, body)
    assert await in_tenant(db, slug, "SELECT status FROM bookings") == [("CONFIRMED",)]
    assert await in_tenant(db, slug, "SELECT status, refunded_minor FROM payment_requests") == [("SUCCEEDED", 0)]
    assert await in_tenant(db, slug, "SELECT customer_id, payment_method_id, stripe_account_id FROM saved_cards") == [
        ("cus_saved", "pm_saved", account)]
    paid = await paid_browser.get(f"{manage}/paid")
    assert paid.status_code == 200 and "your booking is confirmed" in paid.text and "America/New York" in paid.text
    assert paid.headers["cache-control"] == "no-store" and manage in paid.text
    staff = await paid_client.get(f"{p.base}/bookings/{booking_id}", headers=p.org.headers)
    assert staff.json()["status"] == "CONFIRMED" and staff.json()["payment_id"] == payment_id

    # rescheduling a paid booking never asks for money again
    sessions_before = len(stripe_stub.calls("/v1/checkout/sessions"))
    other = free[6]["starts_at"]
    moved = await paid_client.post(f"{p.base}/bookings/{booking_id}/reschedule", json={"starts_at": other}, headers=p.org.headers)
    assert moved.status_code == 200, moved.text
    assert await in_tenant(db, slug, "SELECT count(*) FROM payment_requests") == [(1,)]
    assert len(stripe_stub.calls("/v1/checkout/sessions")) == sessions_before
    assert await in_tenant(db, slug, "SELECT status, payment_id::text FROM bookings") == [("CONFIRMED", payment_id)]


async def test_webhook_orders_end_in_the_same_state(paid_client, paid_browser, stripe_stub, db):
    """Every order of the success events, each duplicated, confirms the booking once."""
    p, account = await paid_practice(paid_client, db)
    free = await slots(paid_client, p, day_ahead(7))
    outcomes = set()
    for n, order in enumerate(itertools.permutations(range(4))):
        if n % 6:  # 4 of the 24 orders: each event first once
            continue
        start = free[n // 6 * 3]["starts_at"].replace("+00:00", "Z")
        booked = await book(paid_browser, p.org.slug, details(p.service["id"], start, email="same.client@example.org"))
        assert booked.status_code == 303, booked.text
        await paid_browser.get(booked.headers["location"])
        [(booking_id, payment_id)] = await in_tenant(db, p.org.slug, "SELECT id::text, payment_id::text FROM bookings "
                                                     "WHERE status = 'HELD'")
        completed, succeeded = paid_events(stripe_stub, payment_id, account, customer=None)
        bodies = [completed, succeeded, completed, succeeded]
        for i in order:
            await post_connect(paid_client, bodies[i])
        outcomes.add(tuple(await in_tenant(db, p.org.slug, "SELECT b.status, r.status, r.refunded_minor FROM bookings b "
                                           "JOIN payment_requests r ON r.id = b.payment_id WHERE b.id = :b", {"b": booking_id})))
    assert outcomes == {(("CONFIRMED", "SUCCEEDED", 0),)}


async def test_a_lapsed_hold_expires_its_checkout_and_a_late_success_is_refunded(paid_client, paid_browser, stripe_stub, stripe_settings, db):
    p, account = await paid_practice(paid_client, db)
    slug = p.org.slug
    start = (await slots(paid_client, p, day_ahead(8)))[0]["starts_at"].replace("+00:00", "Z")
    booked = await book(paid_browser, slug, details(p.service["id"], start))
    await paid_browser.get(booked.headers["location"])
    [(booking_id, payment_id)] = await in_tenant(db, slug, "SELECT id::text, payment_id::text FROM bookings")
    session_id = next(k for k, s in stripe_stub.sessions.items() if s["metadata"].get("payment_id") == payment_id)
    # the hold lapses; the tick expires it and its Checkout (no charge can follow)
    await in_tenant(db, slug, "UPDATE bookings SET expires_at = now() - interval '1 second'")
    tid = await tenant_id_of(db, slug)
    settings = queue_settings("postgres", **stripe_environ(), STRIPE_API_BASE=stripe_settings.stripe_api_base)
    async with services_for(settings, db) as svc:
        async with tenant_transaction(svc, tid) as tj:
            counts = await fees.payments_tick(tj, svc.settings)
    assert counts["checkouts_expired"] == 1 and stripe_stub.sessions[session_id]["status"] == "expired"
    assert await in_tenant(db, slug, "SELECT b.status, r.status FROM bookings b JOIN payment_requests r ON r.id = b.payment_id") == [
        ("EXPIRED", "FAILED")]
    expired = await paid_browser.get(booked.headers["location"])
    assert expired.status_code == 409  # the pay link opens nothing any more
    # the slot is free again; someone else takes it
    other = await book(paid_browser, slug, details(p.service["id"], start, email="other@example.org"))
    assert other.status_code == 303
    # a success that still arrives (paid just before the expiry) is refunded at once, in full, and audited
    completed, succeeded = paid_events(stripe_stub, payment_id, account, customer=None)
    await post_connect(paid_client, completed)
    await post_connect(paid_client, succeeded)
    assert await in_tenant(db, slug, "SELECT b.status, r.status, r.refunded_minor, r.amount_minor FROM bookings b "
                           "JOIN payment_requests r ON r.id = b.payment_id WHERE b.id = :b", {"b": booking_id}) == [
        ("EXPIRED", "SUCCEEDED", 1800, 1800)]
    refunds = [r for r in stripe_stub.calls("/v1/refunds") if r.form.get("metadata[payment_id]") == payment_id]
    assert len(refunds) == 1 and refunds[0].form["amount"] == "1800" and refunds[0].headers["stripe-account"] == account
    audit = await in_tenant(db, slug, "SELECT count(*) FROM audit_events WHERE action = 'booking.payment_refunded_late'")
    assert audit == [(1,)]


async def test_without_payments_the_service_books_as_pay_later(client, db, browser: Browser):
    p = await practice(client, db, patients=0, pay_online="FULL")
    start = (await slots(client, p, day_ahead(5)))[0]["starts_at"].replace("+00:00", "Z")
    data = details(p.service["id"], start)
    page = await browser.get(form_page(p.org.slug, data))
    assert "You pay later, at the practice" in page.text and 'name="save_card"' not in page.text
    booked = await book(browser, p.org.slug, data)
    assert booked.status_code == 303 and "/b/" in booked.headers["location"]
    assert await in_tenant(db, p.org.slug, "SELECT status, payment_id FROM bookings") == [("CONFIRMED", None)]
    assert await in_tenant(db, p.org.slug, "SELECT count(*) FROM payment_requests") == [(0,)]


async def _tick(stripe_settings, db, slug: str, **kw):
    settings = queue_settings("postgres", **stripe_environ(), STRIPE_API_BASE=stripe_settings.stripe_api_base)
    async with services_for(settings, db) as svc:
        async with tenant_transaction(svc, await tenant_id_of(db, slug)) as tj:
            return await fees.payments_tick(tj, svc.settings, **kw)


async def _paid_booking(client, browser, stub, db, p, account, start: str, *, email: str, save_card: bool, method: str = "pm_saved"):
    extra = {"save_card": "1"} if save_card else {}
    booked = await book(browser, p.org.slug, details(p.service["id"], start, email=email, **extra))
    assert booked.status_code == 303, booked.text
    await browser.get(booked.headers["location"])
    [(booking_id, payment_id)] = await in_tenant(db, p.org.slug, "SELECT id::text, payment_id::text FROM bookings WHERE status = 'HELD'")
    for body in paid_events(stub, payment_id, account, customer="cus_" + email.split("@")[0], method=method):
        await post_connect(client, body)
    return booking_id


async def _late_fee_policy(client, p) -> None:
    policy = await client.put(f"{p.base}/cancellation-policies/organization", json={
        "window_hours": 2000, "late_cancel_kind": "FIXED", "late_cancel_value": 2500, "no_show_kind": "NONE", "no_show_value": 0},
        headers=p.org.headers)
    assert policy.status_code == 200, policy.text


class Crash(Exception):
    """The job dying after Stripe charged and before our commit."""


async def test_a_fee_is_charged_off_session_once_even_when_the_job_dies_after_stripe(
        paid_client, paid_browser, stripe_stub, stripe_settings, db):
    p, account = await paid_practice(paid_client, db)
    await _late_fee_policy(paid_client, p)
    start = (await slots(paid_client, p, day_ahead(9)))[0]["starts_at"].replace("+00:00", "Z")
    booking_id = await _paid_booking(paid_client, paid_browser, stripe_stub, db, p, account, start, email="kept.card@example.org",
                                     save_card=True)
    cancelled = await paid_client.post(f"{p.base}/bookings/{booking_id}/cancellation", json={"by": "client", "reason": ""}, headers=p.org.headers)
    assert cancelled.status_code == 200, cancelled.text
    assert await in_tenant(db, p.org.slug, "SELECT reason, amount_minor, status FROM booking_charges") == [("LATE_CANCEL", 2500, "TO_COLLECT")]
    key = f"anima-fee-{booking_id}-LATE_CANCEL"

    async def crash() -> None:
        raise Crash()

    with pytest.raises(Crash):
        await _tick(stripe_settings, db, p.org.slug, after_charge=crash)
    charges = [i for i in stripe_stub.payment_intents.values() if i["metadata"].get("booking_id") == booking_id]
    assert len(charges) == 1 and charges[0]["status"] == "succeeded"  # Stripe charged; our transaction rolled back
    assert await in_tenant(db, p.org.slug, "SELECT status, payment_id FROM booking_charges") == [("TO_COLLECT", None)]

    counts = await _tick(stripe_settings, db, p.org.slug)  # the retry
    assert counts["charged"] == 1 and counts["links"] == 0
    charges = [i for i in stripe_stub.payment_intents.values() if i["metadata"].get("booking_id") == booking_id]
    assert len(charges) == 1, "exactly one charge on Stripe"
    calls = [r for r in stripe_stub.calls("/v1/payment_intents") if r.headers.get("idempotency-key") == key]
    assert len(calls) == 2 and all(c.form["off_session"] == "true" and c.form["confirm"] == "true" for c in calls)
    assert calls[0].form["customer"] == "cus_kept.card" and calls[0].form["payment_method"] == "pm_saved"
    assert calls[0].headers["stripe-account"] == account and calls[0].form["amount"] == "2500"
    rows = await in_tenant(db, p.org.slug, "SELECT c.status, r.status, r.method, r.payment_intent_id, r.amount_minor FROM booking_charges c "
                           "JOIN payment_requests r ON r.id = c.payment_id")
    assert rows == [("COLLECTED", "SUCCEEDED", "stripe", charges[0]["id"], 2500)]
    again = await _tick(stripe_settings, db, p.org.slug)
    assert again["charged"] == 0 and again["links"] == 0
    # Stripe's own event of the fee's PaymentIntent changes nothing (and refunds nothing)
    intent = charges[0]
    await post_connect(paid_client, event("payment_intent.succeeded", payment_intent_object(
        intent["id"], status="succeeded", amount=2500, currency="eur", metadata=intent["metadata"], created=now()),
        created=now(), account=account))
    assert [r for r in stripe_stub.calls("/v1/refunds") if r.form.get("payment_intent") == intent["id"]] == []
    assert await in_tenant(db, p.org.slug, "SELECT status, refunded_minor FROM payment_requests WHERE payment_intent_id = :i",
                           {"i": intent["id"]}) == [("SUCCEEDED", 0)]
    assert len([i for i in stripe_stub.payment_intents.values() if i["metadata"].get("booking_id") == booking_id]) == 1


async def test_without_a_kept_card_or_when_it_is_declined_the_fee_gets_a_pay_link_by_email(
        paid_client, paid_browser, stripe_stub, stripe_settings, db):
    p, account = await paid_practice(paid_client, db)
    await _late_fee_policy(paid_client, p)
    free = await slots(paid_client, p, day_ahead(10))
    no_card = await _paid_booking(paid_client, paid_browser, stripe_stub, db, p, account, free[0]["starts_at"].replace("+00:00", "Z"),
                                  email="no.card@example.org", save_card=False)
    declined = await _paid_booking(paid_client, paid_browser, stripe_stub, db, p, account, free[4]["starts_at"].replace("+00:00", "Z"),
                                   email="declined@example.org", save_card=True, method="pm_card_chargeDeclined")
    needs_client = await _paid_booking(paid_client, paid_browser, stripe_stub, db, p, account,
                                       free[8]["starts_at"].replace("+00:00", "Z"), email="three.ds@example.org", save_card=True,
                                       method="pm_card_authenticationRequired")
    for booking_id in (no_card, declined, needs_client):
        cancelled = await paid_client.post(f"{p.base}/bookings/{booking_id}/cancellation", json={"by": "client", "reason": ""},
                                           headers=p.org.headers)
        assert cancelled.status_code == 200, cancelled.text
    counts = await _tick(stripe_settings, db, p.org.slug)
    assert counts["charged"] == 0 and counts["links"] == 3
    declines = [i for i in stripe_stub.payment_intents.values() if i["metadata"].get("booking_id") == declined]
    assert [i["status"] for i in declines] == ["requires_payment_method"]
    actions = [i for i in stripe_stub.payment_intents.values() if i["metadata"].get("booking_id") == needs_client]
    assert [i["status"] for i in actions] == ["requires_action"]
    rows = await in_tenant(db, p.org.slug, "SELECT c.booking_id::text, c.status, r.status, r.amount_minor, r.pay_token FROM booking_charges c "
                           "JOIN payment_requests r ON r.id = c.payment_id ORDER BY c.created_at")
    assert [(r[0], r[1], r[2], r[3]) for r in rows] == [(b, "TO_COLLECT", "PENDING", 2500) for b in (no_card, declined, needs_client)]
    emails = await in_tenant(db, p.org.slug, "SELECT idempotency_key, subject, body FROM outbound_emails WHERE template = 'fee_payment'")
    assert len(emails) == 3 and all("A fee to pay to" in e[1] for e in emails)
    assert any(f"/api/v1/pay/{p.org.slug}/{rows[0][4]}" in e[2] for e in emails)
    assert (await _tick(stripe_settings, db, p.org.slug))["links"] == 0  # asked once
    # the client pays the link: the fee is COLLECTED
    fee_payment = (await in_tenant(db, p.org.slug, "SELECT id::text FROM payment_requests WHERE pay_token = :t", {"t": rows[0][4]}))[0][0]
    opened = await paid_client.get(f"/api/v1/pay/{p.org.slug}/{rows[0][4]}")
    assert opened.status_code == 303, opened.text
    [fee_call] = [r for r in stripe_stub.calls("/v1/checkout/sessions") if r.form.get("metadata[payment_id]") == fee_payment]
    assert "expires_at" not in fee_call.form and "payment_intent_data[setup_future_usage]" not in fee_call.form
    assert "/api/v1/pay/" in fee_call.form["success_url"]  # a fee returns to its pay link, not to the booking's pages
    for body in paid_events(stripe_stub, fee_payment, account, customer=None):
        await post_connect(paid_client, body)
    assert await in_tenant(db, p.org.slug, "SELECT status FROM booking_charges WHERE booking_id = :b", {"b": no_card}) == [("COLLECTED",)]


async def test_a_client_whose_package_covers_the_service_books_on_a_credit_not_through_checkout(paid_client, paid_browser, stripe_stub, db):
    p, _ = await paid_practice(paid_client, db)
    slug, service_id = p.org.slug, p.service["id"]
    free = await slots(paid_client, p, day_ahead(6))
    email = f"credit{now()}@example.org"
    first = await book(paid_browser, slug, details(service_id, free[0]["starts_at"].replace("+00:00", "Z"), email=email))
    assert first.status_code == 303 and first.headers["location"].startswith(f"/api/v1/pay/{slug}/")  # no package yet: pays
    [(patient_id,)] = await in_tenant(db, slug, "SELECT patient_id::text FROM bookings")
    package = await paid_client.post(f"{p.base}/packages", json={
        "name": "5 sessions", "sessions": 5, "validity_days": 90, "service_ids": [service_id],
        "prices": [{"currency": "EUR", "amount_minor": 25000}]}, headers=p.org.headers)
    assert package.status_code == 201, package.text
    sale = await paid_client.post(f"{p.base}/packages/{package.json()['id']}/sales", json={"patient_id": patient_id, "currency": "EUR"},
                                  headers=p.org.headers)
    assert sale.status_code == 201, sale.text

    second = await book(paid_browser, slug, details(service_id, free[6]["starts_at"].replace("+00:00", "Z"), email=email))
    assert second.status_code == 303 and "/api/v1/pay/" not in second.headers["location"], second.headers
    rows = await in_tenant(db, slug, "SELECT status, payment_id IS NULL FROM bookings ORDER BY starts_at")
    assert rows == [("HELD", False), ("CONFIRMED", True)]
    assert await in_tenant(db, slug, "SELECT count(*) FROM payment_requests WHERE booking_id IS NOT NULL") == [(1,)]
    balance = await paid_client.get(f"{p.base}/credits/patients/{patient_id}", headers=p.org.headers)
    assert balance.json()["balance"] == 4
