"""A new client books "Online first session" (a 30 % deposit), pays the deposit on the Checkout
page (the stub hosts it and sends the practice's signed Connect events), lands on the success page
saying the booking is confirmed in their zone, and the owner's calendar shows the booking.
Screenshots at phone and desktop width, light and dark, and axe-core on each page."""

from __future__ import annotations

import datetime
import json
import re
import time

import httpx
import pytest

from tests.browser.conftest import visit_check
from tests.browser.stripe_server import PaidServer, paid_server  # noqa: F401 - fixture
from tests.conftest import PASSWORD, unique_email, unique_slug
from tests.stripe_stub import account_object, event, sign

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _practice(paid: PaidServer, owner: str) -> tuple[str, str]:
    """A Madrid practice taking card payments whose owner gives "Online first session" (60 EUR,
    a 30 % deposit online) every day 09:00–17:00 Madrid time."""
    base_url = paid.base
    slug = unique_slug("deposit")
    signed = httpx.post(f"{base_url}/api/v1/signup", json={
        "organization_name": "Centre Serenitat", "slug": slug, "email": owner, "password": PASSWORD,
        "display_name": "Marta Vidal", "tier": "BUILDER"}, timeout=30)
    assert signed.status_code == 201, signed.text
    owner_id = signed.json()["user_id"]
    headers = {"Authorization": f"Bearer {signed.json()['tokens']['access_token']}"}
    base = f"{base_url}/api/v1/orgs/{slug}"
    assert httpx.patch(f"{base}/settings", json={"timezone": "Europe/Madrid"}, headers=headers, timeout=30).status_code == 200
    service = httpx.post(f"{base}/services", json={
        "name": "Online first session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE", "therapist_ids": [owner_id], "min_notice_minutes": 60, "horizon_days": 200,
        "slot_step_minutes": 60, "pay_online": "DEPOSIT", "deposit_share_bp": 3000}, headers=headers, timeout=30)
    assert service.status_code == 201, service.text
    for weekday in range(7):
        rule = httpx.post(f"{base}/availability/rules", json={"therapist_id": owner_id, "weekday": weekday, "start_time": "09:00",
                                                              "end_time": "17:00"}, headers=headers, timeout=30)
        assert rule.status_code == 201, rule.text
    started = httpx.post(f"{base}/payments-account/onboarding", json={}, headers=headers, timeout=30)
    assert started.status_code == 200, started.text
    account = started.json()["account_id"]
    payload = json.dumps(event("account.updated", account_object(account, charges_enabled=True, payouts_enabled=True,
                                                                 details_submitted=True), created=int(time.time()), account=account))
    hook = httpx.post(f"{base_url}/api/v1/payments/webhooks/stripe", content=payload, timeout=30,
                      headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"})
    assert hook.status_code == 200, hook.text
    return slug, paid.server.sql("SELECT schema_name FROM platform.tenants WHERE slug = %(s)s", {"s": slug})[0][0]


def test_a_new_client_pays_the_deposit_and_the_booking_is_confirmed(new_page, paid_server: PaidServer, request):
    owner = unique_email("owner")
    slug, schema = _practice(paid_server, owner)
    base = paid_server.base
    page = new_page()
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/p/{slug}/book")
    page.get_by_role("link", name=re.compile("Online first session")).click()
    page.get_by_role("link", name=re.compile("Any available therapist")).click()
    page.locator(".slot").first.wait_for()
    page.locator(".slot").first.click()
    page.locator('input[name="first_name"]').wait_for()
    text = page.content()
    assert "Deposit to pay now" in text and "€18.00" in text and "You pay later" not in text
    assert not page.locator('input[name="save_card"]').is_checked()
    page.locator('input[name="first_name"]').fill("Nora")
    page.locator('input[name="email"]').fill(unique_email("nora"))
    page.locator('select[name="time_zone"]').select_option("America/New_York")
    page.locator('input[name="consent"]').check()
    visit_check(page, "deposit-details", request=request)
    page.get_by_role("button", name="Continue to payment").click()

    page.wait_for_url(re.compile(re.escape(paid_server.stripe.url) + "/c/pay/"))
    assert server_rows(paid_server, f"SELECT status FROM {schema}.bookings") == [("HELD",)]
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(rf"/p/{slug}/b/[A-Za-z0-9_-]{{54}}/paid"))
    text = page.content()
    assert "Payment received: your booking is confirmed" in text and "(America/New York)" in text and "€18.00" in text
    visit_check(page, "deposit-paid", request=request)
    assert [k for k, s in paid_server.stripe.delivered if s == 200][-2:] == ["checkout.session.completed", "payment_intent.succeeded"]
    assert server_rows(paid_server, f"SELECT b.status, r.status, r.amount_minor FROM {schema}.bookings b "
                                    f"JOIN {schema}.payment_requests r ON r.id = b.payment_id") == [("CONFIRMED", "SUCCEEDED", 1800)]
    page.get_by_role("link", name="See or change your booking").click()
    assert "confirmed" in page.content().lower()

    # the owner's calendar shows the booking
    starts = server_rows(paid_server, f"SELECT starts_at FROM {schema}.bookings")[0][0]
    monday = (starts.astimezone(datetime.UTC).date() - datetime.timedelta(days=starts.weekday())).isoformat()
    staff = new_page()
    staff.goto(f"{base}/login")
    staff.locator('input[name="email"]').fill(owner)
    staff.locator('input[name="password"]').fill(PASSWORD)
    staff.get_by_role("button", name=re.compile("Log in|Sign in")).click()
    staff.wait_for_url(re.compile(r"/o/"))
    staff.goto(f"{base}/o/{slug}/calendar?week={monday}")
    assert "Online first session" in staff.content()
    visit_check(staff, "deposit-staff-calendar", request=request)


def server_rows(paid: PaidServer, sql: str) -> list[tuple]:
    return [tuple(r) for r in paid.server.sql(sql)]
