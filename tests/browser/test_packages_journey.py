"""Packages in a real browser (phone and desktop, light and dark, axe-core): the owner defines a
10-session package valid 90 days and records its sale to a client; the client attends one session
(9 left, shown on the person page); a no-show uses a credit only where the credit rule says so; the
invoices page and the public packages page (online payments off) are looked at too, and the
packages page in Catalan."""

from __future__ import annotations

import datetime

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def _past_session(api: str, headers: dict[str, str], patient_id: str, service_id: str, hours_ago: int, then: str) -> None:
    starts = datetime.datetime.now(datetime.UTC) - datetime.timedelta(hours=hours_ago)
    booked = httpx.post(f"{api}/bookings", json={"patient_id": patient_id, "service_id": service_id, "starts_at": starts.isoformat()},
                        headers=headers, timeout=30)
    assert booked.status_code == 201, booked.text
    done = httpx.post(f"{api}/bookings/{booked.json()['id']}/{then}", headers=headers, timeout=30)
    assert done.status_code == 200, done.text


def _balance(api: str, headers: dict[str, str], patient_id: str) -> int:
    return httpx.get(f"{api}/credits/patients/{patient_id}", headers=headers, timeout=30).json()["balance"]


def test_a_client_buys_ten_sessions_attends_one_and_a_no_show_follows_the_rule(server: Server, page, request):
    slug, email = unique_slug("pkgs"), unique_email("owner")
    signed = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Olive Tree Therapy", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Marta Vidal", "tier": "BUILDER"}, timeout=30)
    assert signed.status_code == 201, signed.text
    headers = {"Authorization": f"Bearer {signed.json()['tokens']['access_token']}"}
    api = f"{server.base}/api/v1/orgs/{slug}"
    service = httpx.post(f"{api}/services", json={"name": "Individual therapy", "kind": "ONE_ON_ONE", "scheduling": "CALENDAR",
                                                  "duration_minutes": 50, "price_minor": 6000, "currency": "EUR", "location": "ONLINE"},
                         headers=headers, timeout=30).json()
    patient = httpx.post(f"{api}/patients", json={"first_name": "Lia", "last_name": "Serra"}, headers=headers, timeout=30).json()

    page.goto("/login")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.get_by_role("link", name="Packages", exact=True).click()
    assert page.locator("h1").inner_text() == "Packages"
    visit_check(page, "packages-empty", request=request)

    # the owner defines the package with the form
    page.locator("#f-name").fill("Ten sessions")
    page.locator("#f-sessions").fill("10")
    page.locator("#f-validity_days").fill("90")
    page.locator("#f-amount").fill("450")
    page.get_by_label("Individual therapy").check()
    page.get_by_role("button", name="Create package").click()
    assert "Package created." in page.locator("main").inner_text()

    # and sells it to the client (paid at the desk)
    page.get_by_label("Sell to").select_option(label="Lia Serra")
    page.get_by_role("button", name="Record sale").click()
    text = page.locator("main").inner_text()
    assert "Sale recorded" in text and "10 of 10" in text and "€450.00" in text
    visit_check(page, "packages-sold", request=request)

    # the client attends one session: 9 left, on the person page
    _past_session(api, headers, patient["id"], service["id"], 30, "complete")
    assert _balance(api, headers, patient["id"]) == 9
    page.goto(f"/o/{slug}/people/{patient['id']}")
    credits = page.locator("#packages").inner_text()
    assert "9 credits left" in credits and "Ten sessions: 9 of 10" in credits and "paid by package (9 left)" in credits
    page.locator("#packages details.ledger summary").first.click()
    history = page.locator("#packages details.ledger").first.inner_text()
    assert "Purchase" in history and "+10" in history and "Used by a booking" in history and "-1" in history
    page.locator("#packages").scroll_into_view_if_needed()
    visit_check(page, "person-credits", request=request)

    # a no-show gives the credit back where the rule says a no-show does not use one ...
    page.goto(f"/o/{slug}/packages")
    page.get_by_label("A no-show uses the credit").uncheck()
    page.get_by_role("button", name="Save rules").click()
    assert "Credit rules saved." in page.locator("main").inner_text()
    _past_session(api, headers, patient["id"], service["id"], 20, "no-show")
    assert _balance(api, headers, patient["id"]) == 9
    # ... and keeps it used where it says it does
    page.get_by_label("A no-show uses the credit").check()
    page.get_by_role("button", name="Save rules").click()
    _past_session(api, headers, patient["id"], service["id"], 10, "no-show")
    assert _balance(api, headers, patient["id"]) == 8
    page.goto(f"/o/{slug}/people/{patient['id']}")
    credits = page.locator("#packages").inner_text()
    assert "8 credits left" in credits and "credit returned" in credits and "no-show" in credits

    # the invoices page, and the public page without online payments
    page.get_by_role("link", name="Invoices", exact=True).click()
    page.locator("#f-description").fill("Individual therapy, 2 sessions")
    page.locator("#f-amount").fill("60")
    page.locator("#f-quantity").fill("2")
    page.get_by_role("button", name="Save draft").click()
    page.get_by_role("button", name="Issue", exact=True).click()
    assert "Invoice issued." in page.locator("main").inner_text() and "€120.00" in page.locator("main").inner_text()
    visit_check(page, "invoices", request=request)
    page.goto(f"/p/{slug}/packages")
    assert "Online payment is not available" in page.locator("main").inner_text() and "Ten sessions" in page.locator("main").inner_text()
    visit_check(page, "public-packages", request=request)

    # in Catalan
    assert httpx.patch(f"{api}/settings", json={"locale": "ca"}, headers=headers, timeout=30).status_code == 200
    page.goto(f"/o/{slug}/packages")
    assert page.locator("h1").inner_text() == "Bons" and "Vendes i saldos" in page.locator("main").inner_text()
    visit_check(page, "packages-ca", request=request)
