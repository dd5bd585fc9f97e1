"""A new client buys "10 sessions" (valid 90 days) on the public packages page, pays on the Checkout
page (the stub hosts it and delivers the practice's signed Connect events), lands on the success
page (sessions, the last day in their zone, named), gets the receipt naming the package, then books
a session of a deposit-priced service with the same email and is not sent to Checkout: the credit
pays (9 left on the manage page and the person page). A no-show with the credit rule off gives the
credit back; the owner marks a later one a no-show in the calendar with the rule on: 8 left.
Screenshots at phone and desktop width, light and dark, and axe-core on each page."""

from __future__ import annotations

import datetime
import json
import re
import time
from zoneinfo import ZoneInfo

import httpx
import pytest

from anima.web import formatting
from tests.browser.conftest import visit_check
from tests.browser.stripe_server import PaidServer, paid_server  # noqa: F401 - fixture
from tests.conftest import PASSWORD, unique_email, unique_slug
from tests.stripe_stub import account_object, event, sign

pytestmark = pytest.mark.browser
PHONE = {"width": 390, "height": 844}


def _practice(paid: PaidServer, owner: str) -> tuple[str, str, dict[str, str], str]:
    """A Madrid practice taking card payments: "Online first session" (60 EUR, a 30 % deposit online,
    every day 09:00–17:00) and a package "10 sessions" (450 EUR, 90 days) covering it.
    Returns the slug, the tenant's schema, the owner's headers and the service id."""
    slug = unique_slug("pkgbuy")
    signed = httpx.post(f"{paid.base}/api/v1/signup", json={
        "organization_name": "Centre Olivera", "slug": slug, "email": owner, "password": PASSWORD,
        "display_name": "Marta Vidal", "tier": "BUILDER"}, timeout=30)
    assert signed.status_code == 201, signed.text
    owner_id = signed.json()["user_id"]
    headers = {"Authorization": f"Bearer {signed.json()['tokens']['access_token']}"}
    api = f"{paid.base}/api/v1/orgs/{slug}"
    assert httpx.patch(f"{api}/settings", json={"timezone": "Europe/Madrid"}, headers=headers, timeout=30).status_code == 200
    service = httpx.post(f"{api}/services", json={
        "name": "Online first session", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR", "duration_minutes": 50, "price_minor": 6000,
        "currency": "EUR", "location": "ONLINE", "therapist_ids": [owner_id], "min_notice_minutes": 60, "horizon_days": 200,
        "slot_step_minutes": 60, "pay_online": "DEPOSIT", "deposit_share_bp": 3000}, headers=headers, timeout=30)
    assert service.status_code == 201, service.text
    for weekday in range(7):
        rule = httpx.post(f"{api}/availability/rules", json={"therapist_id": owner_id, "weekday": weekday, "start_time": "09:00",
                                                             "end_time": "17:00"}, headers=headers, timeout=30)
        assert rule.status_code == 201, rule.text
    package = httpx.post(f"{api}/packages", json={"name": "10 sessions", "sessions": 10, "validity_days": 90,
                                                  "prices": [{"currency": "EUR", "amount_minor": 45000}],
                                                  "service_ids": [service.json()["id"]]}, headers=headers, timeout=30)
    assert package.status_code == 201, package.text
    started = httpx.post(f"{api}/payments-account/onboarding", json={}, headers=headers, timeout=30)
    assert started.status_code == 200, started.text
    account = started.json()["account_id"]
    payload = json.dumps(event("account.updated", account_object(account, charges_enabled=True, payouts_enabled=True,
                                                                 details_submitted=True), created=int(time.time()), account=account))
    hook = httpx.post(f"{paid.base}/api/v1/payments/webhooks/stripe", content=payload, timeout=30,
                      headers={"Stripe-Signature": sign(payload), "Content-Type": "application/json"})
    assert hook.status_code == 200, hook.text
    schema = paid.server.sql("SELECT schema_name FROM platform.tenants WHERE slug = %(s)s", {"s": slug})[0][0]
    return slug, schema, headers, service.json()["id"]


def _past_booking(api: str, headers: dict[str, str], patient_id: str, service_id: str, hours_ago: int) -> str:
    starts = datetime.datetime.now(datetime.UTC).replace(minute=0, second=0, microsecond=0) - datetime.timedelta(hours=hours_ago)
    booked = httpx.post(f"{api}/bookings", json={"patient_id": patient_id, "service_id": service_id, "starts_at": starts.isoformat()},
                        headers=headers, timeout=30)
    assert booked.status_code == 201, booked.text
    return booked.json()["id"]


def _balance(api: str, headers: dict[str, str], patient_id: str) -> int:
    return httpx.get(f"{api}/credits/patients/{patient_id}", headers=headers, timeout=30).json()["balance"]


def test_a_new_client_buys_a_package_online_and_books_on_its_credit(new_page, paid_server: PaidServer, request):
    owner, client = unique_email("owner"), unique_email("lia")
    slug, schema, headers, service_id = _practice(paid_server, owner)
    base, api = paid_server.base, f"{paid_server.base}/api/v1/orgs/{slug}"
    sql = paid_server.server.sql

    # the client buys the package on the public page
    page = new_page()
    page.set_viewport_size(PHONE)
    page.goto(f"{base}/p/{slug}/packages")
    page.get_by_label(re.compile("10 sessions")).check()
    page.locator('input[name="first_name"]').fill("Lia")
    page.locator('input[name="last_name"]').fill("Serra")
    page.locator('input[name="email"]').fill(client)
    page.locator('select[name="time_zone"]').select_option("America/New_York")
    page.locator('input[name="consent"]').check()
    visit_check(page, "buy-package", request=request)
    page.get_by_role("button", name="Buy and pay online").click()
    page.wait_for_url(re.compile(re.escape(paid_server.stripe.url) + "/c/pay/"))
    assert sql(f"SELECT status FROM {schema}.package_sales") == [("PENDING_PAYMENT",)]
    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(rf"/p/{slug}/packages/bought/"))
    text = page.locator("main").inner_text()
    (expires, patient_id), = sql(f"SELECT expires_at, patient_id FROM {schema}.package_sales WHERE status = 'ACTIVE'")
    last_day = formatting.day(expires, "en", "America/New_York")
    assert "Your package is bought" in text and "10 sessions left" in text, text
    assert f"{last_day} (America/New York)" in text and "€450.00" in text, text
    assert expires - datetime.datetime.now(datetime.UTC) > datetime.timedelta(days=89)
    visit_check(page, "package-bought", request=request)
    assert sql(f"SELECT first_name, last_name FROM {schema}.patients WHERE id = %(p)s", {"p": patient_id}) == [("Lia", "Serra")]

    # the receipt, naming the package, goes out once (the worker's job for PAYMENT_SUCCEEDED)
    deadline = time.monotonic() + 60
    while not (receipts := sql(f"SELECT body FROM {schema}.outbound_emails WHERE template = 'payment_receipt'")) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert len(receipts) == 1 and "10 sessions" in receipts[0][0] and "R-000001" in receipts[0][0], receipts

    # it books a deposit-priced session with the same email: the credit pays, no Checkout
    page.get_by_role("link", name="Book a session").click()
    page.get_by_role("link", name=re.compile("Any available therapist")).click()
    page.locator(".slot").first.wait_for()
    page.locator(".slot").first.click()
    page.locator('input[name="first_name"]').wait_for()
    details = page.locator("main").inner_text()
    assert "Deposit to pay now" in details and "If you have a package for this service, a session is taken from it" in details
    page.locator('input[name="first_name"]').fill("Lia")
    page.locator('input[name="email"]').fill(client)
    page.locator('input[name="consent"]').check()
    visit_check(page, "book-with-package", request=request)
    page.get_by_role("button", name="Continue to payment").click()
    page.wait_for_url(re.compile(rf"/p/{slug}/b/[A-Za-z0-9_-]{{54}}\?booked=1"))
    text = page.locator("main").inner_text()
    assert "Confirmed" in text and "Paid with your package — 9 sessions left" in text, text
    visit_check(page, "booked-on-package", request=request)
    assert sql(f"SELECT status, payment_id FROM {schema}.bookings") == [("CONFIRMED", None)]
    assert len(sql(f"SELECT 1 FROM {schema}.payment_requests")) == 1  # the package's only

    # staff see 9 left on the person page
    staff = new_page()
    staff.goto(f"{base}/login")
    staff.locator('input[name="email"]').fill(owner)
    staff.locator('input[name="password"]').fill(PASSWORD)
    staff.locator('form[action="/login"] button[type="submit"]').click()
    staff.wait_for_url(re.compile(r"/o/"))
    staff.goto(f"{base}/o/{slug}/people/{patient_id}")
    assert "9 credits left" in staff.locator("#packages").inner_text()

    # a no-show with the rule off gives its credit back ...
    assert httpx.put(f"{api}/credit-rules", json={"no_show_uses_credit": False, "when_exhausted": "PAY"}, headers=headers,
                     timeout=30).status_code == 200
    missed = _past_booking(api, headers, str(patient_id), service_id, 30)
    assert _balance(api, headers, str(patient_id)) == 8
    assert httpx.post(f"{api}/bookings/{missed}/no-show", headers=headers, timeout=30).status_code == 200
    assert _balance(api, headers, str(patient_id)) == 9
    # ... and with it on, the owner marks a later one a no-show in the calendar: 8 left
    assert httpx.put(f"{api}/credit-rules", json={"no_show_uses_credit": True, "when_exhausted": "PAY"}, headers=headers,
                     timeout=30).status_code == 200
    later = _past_booking(api, headers, str(patient_id), service_id, 3)
    starts = sql(f"SELECT starts_at FROM {schema}.bookings WHERE id = %(b)s", {"b": later})[0][0]
    local = starts.astimezone(ZoneInfo("Europe/Madrid")).date()
    staff.goto(f"{base}/o/{slug}/calendar?week={(local - datetime.timedelta(days=local.weekday())).isoformat()}")
    staff.locator(f"#booking-{later}").get_by_role("button", name="No-show").click()
    staff.locator(f"#booking-{later}").wait_for()
    assert sql(f"SELECT status FROM {schema}.bookings WHERE id = %(b)s", {"b": later}) == [("NO_SHOW",)]
    assert _balance(api, headers, str(patient_id)) == 8
    staff.goto(f"{base}/o/{slug}/people/{patient_id}")
    credits = staff.locator("#packages").inner_text()
    assert "8 credits left" in credits and "no-show" in credits
    staff.locator("#packages").scroll_into_view_if_needed()
    visit_check(staff, "person-credits-after-no-show", request=request)


def test_a_cancelled_checkout_returns_to_the_packages_page(new_page, paid_server: PaidServer, request):
    slug, schema, _, _ = _practice(paid_server, unique_email("owner"))
    page = new_page()
    page.goto(f"{paid_server.base}/p/{slug}/packages")
    page.get_by_label(re.compile("10 sessions")).check()
    page.locator('input[name="first_name"]').fill("Pau")
    page.locator('input[name="email"]').fill(unique_email("pau"))
    page.locator('input[name="consent"]').check()
    page.get_by_role("button", name="Buy and pay online").click()
    page.wait_for_url(re.compile(re.escape(paid_server.stripe.url) + "/c/pay/"))
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(re.compile(rf"/p/{slug}/packages\?cancelled=1"))
    assert "nothing was charged" in page.locator("main").inner_text()
    assert paid_server.server.sql(f"SELECT status FROM {schema}.package_sales") == [("PENDING_PAYMENT",)]
    visit_check(page, "checkout-cancelled", request=request)
