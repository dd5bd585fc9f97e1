"""The owner's money page in a real browser (phone and desktop, light and dark, axe-core), in
English and in Spanish: payments off without Stripe settings, a package with two currencies, an
issued invoice."""

from __future__ import annotations

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def test_the_money_page_looks_right_in_english_and_spanish(server: Server, page, request):
    slug, email = unique_slug("money"), unique_email("owner")
    signed = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Quiet Harbour Therapy", "slug": slug, "email": email, "password": PASSWORD,
        "display_name": "Dana Ortiz", "tier": "BUILDER"}, timeout=30)
    assert signed.status_code == 201, signed.text
    headers = {"Authorization": f"Bearer {signed.json()['tokens']['access_token']}"}
    api = f"{server.base}/api/v1/orgs/{slug}"
    patient = httpx.post(f"{api}/patients", json={"first_name": "Lia", "last_name": "Serra"}, headers=headers, timeout=30).json()
    assert httpx.post(f"{api}/packages", json={"name": "Ten sessions", "sessions": 10, "validity_days": 90, "prices": [
        {"currency": "USD", "amount_minor": 50000}, {"currency": "CAD", "amount_minor": 68000}]}, headers=headers, timeout=30).status_code == 201
    draft = httpx.post(f"{api}/invoices", json={"patient_id": patient["id"], "currency": "EUR", "lines": [
        {"description": "Session 50 min", "unit_minor": 6000, "quantity": 2}]}, headers=headers, timeout=30).json()
    assert httpx.post(f"{api}/invoices/{draft['id']}/issue", headers=headers, timeout=30).status_code == 200

    page.goto("/login")
    page.locator('input[name="email"]').fill(email)
    page.locator('input[name="password"]').fill(PASSWORD)
    page.locator('form[action="/login"] button[type="submit"]').click()
    page.get_by_role("link", name="Online payments", exact=True).click()
    assert page.locator("h1").inner_text() == "Online payments"
    assert "Online payments are off" in page.locator("main").inner_text()
    visit_check(page, "money-en", request=request)

    assert httpx.patch(f"{api}/settings", json={"locale": "es"}, headers=headers, timeout=30).status_code == 200
    page.goto(f"/o/{slug}/money")
    text = page.locator("main").inner_text()
    assert page.locator("h1").inner_text() == "Pagos en línea" and "Bonos" in text and "Facturas" in text and "Emitida" in text
    visit_check(page, "money-es", request=request)
