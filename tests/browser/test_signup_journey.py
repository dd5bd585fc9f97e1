"""Organizations sign up in a real browser: one pays for PRO through (the stub's) Stripe Checkout
and lands in its workspace on PRO, one starts on BUILDER, reaches the patient limit and finds the
way up; and a forgotten password is reset through the emailed link."""

from __future__ import annotations

import re

import httpx
import pytest

from tests.browser.conftest import Server, visit_check
from tests.browser.stripe_server import PaidServer, paid_server  # noqa: F401 - fixture
from tests.conftest import PASSWORD, unique_email, unique_slug

pytestmark = pytest.mark.browser


def _tier(server: Server, slug: str) -> str:
    return server.sql("SELECT tier FROM platform.tenants WHERE slug = %(s)s", {"s": slug})[0][0]


def _fill_signup(page, *, name: str, slug: str, email: str, password: str) -> None:
    page.get_by_label("Organization name").fill(name)
    suggested = page.get_by_label("Workspace address").input_value()
    assert suggested == re.sub(r"[^a-z0-9]+", "-", name.lower()).strip("-")  # suggested from the name
    page.get_by_label("Workspace address").fill(slug)
    page.get_by_label("Your name").fill("Dana Ortiz")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(password)


def test_a_practice_signs_up_on_pro_pays_through_checkout_and_lands_on_pro(new_page, paid_server: PaidServer, request):
    server = paid_server.server
    page = new_page()
    slug, email = unique_slug("harbour"), unique_email("dana")
    page.goto(f"{server.base}/")
    page.get_by_role("link", name="Choose PRO").click()
    page.wait_for_url(re.compile(r"/signup\?tier=PRO$"))
    assert page.get_by_role("radio", name=re.compile("PRO")).is_checked()
    visit_check(page, "signup-pro", request=request)

    _fill_signup(page, name="Quiet Harbour Therapy", slug=slug, email=email, password=PASSWORD)
    page.get_by_role("button", name="Create my practice").click()
    page.wait_for_url(re.compile(r"/c/pay/cs_test_"))
    assert page.url.startswith(paid_server.stripe.url)
    assert _tier(server, slug) == "BUILDER"  # nothing is granted before Stripe says it is paid
    visit_check(page, "stripe-checkout-stub", request=request)

    page.get_by_role("button", name="Pay").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/billing\?checkout=success"))
    assert [kind for kind, status in paid_server.stripe.delivered if status == 200][-3:] == [
        "checkout.session.completed", "customer.subscription.created", "invoice.paid"]
    assert _tier(server, slug) == "PRO"
    assert "Your organization is on PRO" in page.get_by_role("status").first.inner_text()
    assert page.locator(".plan-name").inner_text() == "PRO"
    assert page.get_by_role("button", name="Manage the subscription").is_visible()
    visit_check(page, "billing-after-payment", request=request)

    # the address is not confirmed yet: a gentle reminder, nothing blocked
    page.get_by_role("link", name="Today").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    assert page.locator("#verify-banner").is_visible()
    page.get_by_role("button", name="Send the link again").click()
    page.locator("#verify-banner[role=status]").wait_for()
    assert "We sent a new confirmation link" in page.locator("#verify-banner").inner_text()
    visit_check(page, "workspace-verification-sent", request=request)
    page.goto(server.link_in_latest_email(email, "/verify-email/"))
    assert page.get_by_role("heading", level=1).inner_text() == "Email confirmed"
    visit_check(page, "email-confirmed", request=request)
    page.get_by_role("link", name="Open your workspace").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    assert page.locator("#verify-banner").count() == 0

    # another practice signs up on BUILDER; a common password is refused beside its field first
    other = new_page()
    other_slug, other_email = unique_slug("cedar"), unique_email("lee")
    other.goto(f"{server.base}/signup")
    assert other.get_by_role("radio", name=re.compile("BUILDER")).is_checked()
    _fill_signup(other, name="Cedar Room", slug=other_slug, email=other_email, password="password123")
    other.get_by_role("button", name="Create my practice").click()
    other.locator("#e-password").wait_for()
    assert other.get_by_label("Email").input_value() == other_email  # nothing typed is lost…
    assert other.get_by_label("Password").input_value() == ""  # …but the password
    visit_check(other, "signup-error", request=request)
    other.get_by_label("Password").fill(PASSWORD)
    other.get_by_role("button", name="Create my practice").click()
    other.wait_for_url(re.compile(rf"/o/{other_slug}/?$"))
    assert _tier(server, other_slug) == "BUILDER"
    visit_check(other, "builder-workspace", request=request)

    # the signup page in Catalan: every sentence translated
    visitor = new_page(locale="ca-ES")
    visitor.goto(f"{server.base}/signup?tier=CENTER")
    assert visitor.get_by_role("heading", level=1).inner_text() == "Crea la teva consulta"
    text = visitor.locator("main").inner_text()
    assert "Persones ateses" in text and "Your organization" not in text and "Password" not in text
    visit_check(visitor, "signup-ca", request=request)
    assert not server.notes, server.notes


def test_a_builder_practice_reaches_the_patient_limit_and_finds_the_way_up(page, paid_server: PaidServer, request):
    server = paid_server.server
    slug, email = unique_slug("limit"), unique_email("owner")
    signed = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Small Steps", "slug": slug, "email": email, "password": PASSWORD, "display_name": "Ana Ruiz",
    }, timeout=30)
    assert signed.status_code == 201, signed.text
    token = httpx.post(f"{server.base}/api/v1/auth/login", json={"email": email, "password": PASSWORD}, timeout=30).json()["access_token"]
    headers = {"Authorization": f"Bearer {token}"}
    for i in range(3):
        created = httpx.post(f"{server.base}/api/v1/orgs/{slug}/patients", json={"first_name": f"Patient {i}"}, headers=headers, timeout=30)
        assert created.status_code == 201, created.text
    refused = httpx.post(f"{server.base}/api/v1/orgs/{slug}/patients", json={"first_name": "One more"}, headers=headers, timeout=30)
    assert refused.status_code == 403 and refused.json()["type"].endswith("/plan-limit-reached")

    page.goto(f"{server.base}/login")
    page.get_by_label("Email").fill(email)
    page.get_by_label("Password").fill(PASSWORD)
    page.get_by_role("button", name="Log in").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    # a fourth person, typed on the people page, is refused with the limit and the tier that lifts it
    page.goto(f"{server.base}/o/{slug}/people/new")
    page.get_by_label("First name").fill("Marta")
    page.get_by_label("Last name").fill("Vidal")
    page.locator("form.form-card button[type=submit]").click()
    refusal = page.get_by_role("alert").first.inner_text()
    assert "Your plan's limit is reached" in refusal and "The PRO plan lifts this limit." in refusal
    assert page.get_by_label("Last name").input_value() == "Vidal"  # nothing typed is lost
    visit_check(page, "new-person-at-limit", request=request)
    page.get_by_role("link", name="Change the plan").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/billing$"))
    page.locator("details.user-menu summary").click()
    page.locator(".usage-summary").wait_for()
    menu = page.locator(".usage-summary").inner_text()
    assert "3 / 3" in menu and "PRO raises it" in menu
    visit_check(page, "user-menu-usage", request=request)

    page.locator(".usage-summary").get_by_role("link", name="Upgrade").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/billing$"))
    page.locator(".usage-row").first.wait_for()
    usage = page.locator(".usage-row").first.inner_text()
    assert "3 of 3 used" in usage and "Limit reached." in usage and "PRO allows 50." in usage
    visit_check(page, "billing-at-limit", request=request)
    page.get_by_role("button", name="Upgrade to PRO").click()
    page.wait_for_url(re.compile(r"/c/pay/cs_test_"))
    page.get_by_role("button", name="Cancel").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/billing\?checkout=cancel"))
    assert "Nothing was charged" in page.get_by_role("status").first.inner_text()
    visit_check(page, "billing-checkout-cancelled", request=request)
    assert _tier(server, slug) == "BUILDER"
    count = server.sql(
        "SELECT schema_name FROM platform.tenants WHERE slug = %(s)s", {"s": slug})[0][0]
    assert server.sql(f'SELECT count(*) FROM "{count}".patients')[0][0] == 3  # nothing half-created
    assert not server.notes, server.notes


def test_a_forgotten_password_is_reset_through_the_emailed_link(new_page, server: Server, request):
    slug, email = unique_slug("reset"), unique_email("sam")
    signed = httpx.post(f"{server.base}/api/v1/signup", json={
        "organization_name": "Willow Practice", "slug": slug, "email": email, "password": PASSWORD, "display_name": "Sam Lee",
    }, timeout=30)
    assert signed.status_code == 201, signed.text
    elsewhere = new_page()  # a device still signed in with the old password
    elsewhere.goto("/login")
    elsewhere.get_by_label("Email").fill(email)
    elsewhere.get_by_label("Password").fill(PASSWORD)
    elsewhere.get_by_role("button", name="Log in").click()
    elsewhere.wait_for_url(re.compile(rf"/o/{slug}/?$"))

    page = new_page()
    page.goto("/login")
    page.get_by_role("link", name="Forgot your password?").click()
    page.wait_for_url(re.compile(r"/password/reset$"))
    visit_check(page, "reset-ask", request=request)
    page.get_by_label("Email").fill(email)
    page.get_by_role("button", name="Send me a link").click()
    page.get_by_role("heading", name="Check your inbox").wait_for()
    visit_check(page, "reset-sent", request=request)

    link = server.link_in_latest_email(email, "/password/reset/")
    page.goto(link)
    visit_check(page, "reset-choose", request=request)
    page.get_by_label("New password").fill("short")
    page.get_by_role("button", name="Save the new password").click()
    page.locator("#e-password").wait_for()
    visit_check(page, "reset-choose-error", request=request)
    page.get_by_label("New password").fill("Another-tidal-lantern-42")
    page.get_by_role("button", name="Save the new password").click()
    page.wait_for_url(re.compile(rf"/o/{slug}/?$"))
    visit_check(page, "reset-signed-in", request=request)

    elsewhere.reload()
    elsewhere.wait_for_url(re.compile(r"/login"))  # every other session ended

    page.goto(link)
    assert page.get_by_role("heading", level=1).inner_text() == "This link can no longer be used"
    assert page.locator("input[type=password]").count() == 0
    visit_check(page, "reset-link-used", request=request)
    assert not server.notes, server.notes
