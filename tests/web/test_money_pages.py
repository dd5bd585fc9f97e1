"""The money page: online payments off without Stripe settings; connecting the practice's Stripe
account from the page (the SDK against the stub); packages and invoices listed, PDFs downloaded;
owners only."""

from __future__ import annotations

from tests.conftest import add_member, signup
from tests.integration.billing_support import paid_client  # noqa: F401 - fixture
from tests.integration.test_practice_payments import post_connect
from tests.stripe_stub import account_object, event
from tests.web.account_support import paid_browser, stripe_settings, stripe_stub  # noqa: F401 - fixtures
from tests.web.conftest import Browser


async def test_without_stripe_the_page_says_payments_are_off_and_lists_packages_and_invoices(client, browser: Browser, db):
    org = await signup(client)
    patient = (await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": "Lia"}, headers=org.headers)).json()
    await client.post(f"/api/v1/orgs/{org.slug}/packages", json={"name": "Ten sessions", "sessions": 10, "validity_days": 90,
                      "prices": [{"currency": "USD", "amount_minor": 50000}, {"currency": "CAD", "amount_minor": 68000}]}, headers=org.headers)
    draft = (await client.post(f"/api/v1/orgs/{org.slug}/invoices", json={"patient_id": patient["id"], "currency": "EUR",
                               "lines": [{"description": "Session", "unit_minor": 6000}]}, headers=org.headers)).json()
    issued = (await client.post(f"/api/v1/orgs/{org.slug}/invoices/{draft['id']}/issue", headers=org.headers)).json()
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/money")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Online payments</h1>" in text and 'aria-current="page">Online payments' in text
    assert "Online payments are off" in text and "record cash and bank transfers" in text and "Connect Stripe" not in text
    assert "Ten sessions" in text and "90 days" in text and "$500.00" in text and "CA$680.00" in text
    assert issued["number"] in text and "€60.00" in text
    pdf = await browser.get(f"/o/{org.slug}/money/invoices/{draft['id']}/pdf")
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF-")
    refused = await browser.submit(f"/o/{org.slug}/money/connect", {}, form_page=f"/o/{org.slug}/money")
    assert refused.status_code == 503 and "Payments are not configured" in refused.text


async def test_owners_connect_stripe_from_the_page_and_others_are_refused(paid_client, paid_browser: Browser, stripe_stub, db):
    org = await signup(paid_client)
    await paid_browser.login(org.owner_email)
    page = (await paid_browser.get(f"/o/{org.slug}/money")).text
    assert "Connect Stripe" in page and "1.5% of each online payment" in page
    sent = await paid_browser.submit(f"/o/{org.slug}/money/connect", {}, form_page=f"/o/{org.slug}/money")
    assert sent.status_code == 303 and sent.headers["location"].startswith("https://connect.stripe.com/setup/")
    again = (await paid_browser.get(f"/o/{org.slug}/money?stripe=connected")).text
    assert "Stripe still needs some details" in again and "Continue on Stripe" in again and "Back from Stripe" in again
    account = (await paid_client.get(f"/api/v1/orgs/{org.slug}/payments-account", headers=org.headers)).json()["account_id"]
    await post_connect(paid_client, event("account.updated", account_object(account, charges_enabled=True, payouts_enabled=True,
                                                                            details_submitted=True), created=2_000_000_000, account=account))
    assert "Patients can pay online" in (await paid_browser.get(f"/o/{org.slug}/money")).text
    email, _, _ = await add_member(paid_client, db, org, "ASSISTANT")
    await paid_browser.get("/logout")
    await paid_browser.login(email)
    assert (await paid_browser.get(f"/o/{org.slug}/money")).status_code == 403
