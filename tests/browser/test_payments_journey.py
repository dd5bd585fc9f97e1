"""An owner in a real browser: records a cash payment, reads its receipt, refunds part of it after
seeing the cancellation policy, and opens the earnings page (phone and desktop, light and dark,
axe-core), then the payments page in Catalan."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def test_an_owner_records_cash_reads_the_receipt_refunds_part_and_views_earnings(server: Server, page, request):
    slug, email = unique_slug("paid"), unique_email("owner")
    signed = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Quiet Harbour Therapy", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Dana Ortiz", "tier": "BUILDER"}, timeout=30)
    assert signed.status_code == 201, signed.text
    headers = {"Authorization": f"Bearer {signed.json()['tokens']['access_token']}"}
    api = f"{server.base}/api/v1/orgs/{slug}"
    assert httpx.post(f"{api}/patients", json={"first_name": "Lia", "last_name": "Serra"}, headers=headers, timeout=30).status_code == 201
    assert httpx.put(f"{api}/cancellation-policies/organization", json={"window_hours": 24, "late_cancel_kind": "SHARE",
                     "late_cancel_value": 5000, "no_show_kind": "SHARE", "no_show_value": 10000}, headers=headers, timeout=30).status_code == 200

    page.goto("/login")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.get_by_role("link", name="Payments", exact=True).click()
    assert page.locator("h1").inner_text() == "Payment requests"
    assert "No payments yet" in page.locator("main").inner_text()
    visit_check(page, "payments-empty-en", request=request)

    # a typo first: the error shows beside the amount, what was typed stays
    page.get_by_label("Received now").check()
    page.locator("#f-amount").fill("-80")
    page.locator("#f-currency").fill("EUR")
    page.locator("#f-description").fill("Two sessions")
    page.get_by_role("button", name="Save payment").click()
    assert page.locator("#e-amount").is_visible() and page.locator("#f-description").input_value() == "Two sessions"
    page.locator("#f-amount").fill("80")
    page.get_by_role("button", name="Save payment").click()
    main = page.locator("main").inner_text()
    assert page.locator("h1").inner_text() == "Payment of €80.00" and "Receipt R-000001" in main and "Lia Serra" in main
    assert "The organization's cancellation policy" in main and "costs 50% of the price" in main
    visit_check(page, "payment-recorded-en", request=request)

    page.get_by_role("link", name="View receipt").click()
    page.wait_for_load_state()
    assert "R-000001" in page.content() and "€80.00" in page.content()
    page.screenshot(path=str(server_shot(request, "payment-receipt")), full_page=True)
    page.go_back()

    page.locator("#f-amount").fill("30")
    page.locator("#f-reason").fill("Late cancellation, half refunded")
    page.get_by_role("button", name="Review refund").click()
    assert "Refund €30.00 to Lia Serra? This cannot be undone." in page.locator("main").inner_text()
    assert "costs 50% of the price" in page.locator("main").inner_text()
    visit_check(page, "payment-refund-confirm-en", request=request)
    page.get_by_role("button", name="Confirm refund").click()
    main = page.locator("main").inner_text()
    assert "€50.00 is left to refund." in main and "Late cancellation, half refunded" in main and "R-000002" in main
    visit_check(page, "payment-refunded-en", request=request)

    page.get_by_role("link", name="Earnings", exact=True).click()
    assert page.locator("h1").inner_text() == "Earnings"
    assert "How each therapist is paid" in page.locator("main").inner_text()
    visit_check(page, "earnings-en", request=request)

    assert httpx.patch(f"{api}/settings", json={"locale": "ca"}, headers=headers, timeout=30).status_code == 200
    page.goto(f"/o/{slug}/payments")
    assert page.locator("h1").inner_text() == "Sol·licituds de pagament" and "80,00" in page.locator("main").inner_text()
    visit_check(page, "payments-ca", request=request)


def server_shot(request, name: str):
    """Where a plain screenshot goes (beside visit_check's)."""
    from tests.browser.conftest import ARTIFACTS

    ARTIFACTS.mkdir(parents=True, exist_ok=True)
    return ARTIFACTS / f"{name}.png"
