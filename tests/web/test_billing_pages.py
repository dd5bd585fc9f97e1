"""The billing pages: plan and usage against every limit, Checkout and the Portal through the same
services as the API (the Stripe SDK against the stub), the user menu's usage fragment, refusals."""

from __future__ import annotations

import secrets
import time

from tests.conftest import PASSWORD, add_member, signup
from tests.integration.billing_support import post_event
from tests.stripe_stub import PRICE_PRO, checkout_completed_object, event, subscription_object
from tests.web.account_support import paid_browser, scalar, stripe_settings, stripe_stub  # noqa: F401 - fixtures
from tests.web.conftest import Browser


async def _patients(client, org, n: int) -> None:
    for i in range(n):
        response = await client.post(f"/api/v1/orgs/{org.slug}/patients", json={"first_name": f"P{i}"}, headers=org.headers)
        assert response.status_code == 201, response.text


async def test_owners_see_the_plan_and_usage_against_every_limit(client, browser: Browser, db):
    org = await signup(client)
    await _patients(client, org, 3)
    await browser.login(org.owner_email)
    page = await browser.get(f"/o/{org.slug}/billing")
    assert page.status_code == 200, page.text
    text = page.text
    assert "<h1>Plan and billing</h1>" in text and 'aria-current="page">Billing' in text
    assert "3 of 3 used" in text and "1 of 3 used" in text  # people in care, staff seats
    assert 'aria-labelledby="limit-patients"' in text and "<meter" in text
    assert "Limit reached." in text and "PRO allows 50." in text  # the upgrade path beside the reached limit
    assert "Online payments are not configured on this server" in text  # and what lifts it otherwise
    fragment = await browser.get(f"/o/{org.slug}/billing/usage", headers={"HX-Request": "true"})
    assert fragment.status_code == 200 and "<html" not in fragment.text
    assert "3 / 3" in fragment.text and "PRO raises it" in fragment.text and f'href="/o/{org.slug}/billing"' in fragment.text


async def test_other_roles_are_refused_and_non_members_learn_nothing(client, browser: Browser, other_browser: Browser, db):
    org = await signup(client)
    email, _, _ = await add_member(client, db, org, "THERAPIST")
    await browser.login(email)
    for path in ("billing", "billing/usage"):
        assert (await browser.get(f"/o/{org.slug}/{path}")).status_code == 403
    for path in ("billing/checkout", "billing/portal"):
        response = await browser.submit(f"/o/{org.slug}/{path}", {"tier": "PRO"}, form_page=f"/o/{org.slug}/")
        assert response.status_code == 403
    outsider = await signup(client)
    await other_browser.login(outsider.owner_email)
    assert (await other_browser.get(f"/o/{org.slug}/billing")).status_code == 404
    response = await other_browser.submit(f"/o/{org.slug}/billing/checkout", {"tier": "PRO"}, form_page=f"/o/{outsider.slug}/")
    assert response.status_code == 404


async def test_without_payments_checkout_says_so_and_changes_nothing(client, browser: Browser, db):
    org = await signup(client)
    await browser.login(org.owner_email)
    response = await browser.submit(f"/o/{org.slug}/billing/checkout", {"tier": "PRO"}, form_page=f"/o/{org.slug}/billing")
    assert response.status_code == 503 and "Payments are not configured" in response.text
    portal = await browser.submit(f"/o/{org.slug}/billing/portal", {}, form_page=f"/o/{org.slug}/billing")
    assert portal.status_code == 503
    assert await scalar(db, "SELECT tier FROM platform.tenants WHERE slug = :s", s=org.slug) == "BUILDER"


async def test_checkout_and_portal_send_the_owner_to_stripe_and_the_webhook_raises_the_tier(client, paid_browser: Browser, stripe_stub, db):
    org = await signup(client)
    await paid_browser.login(org.owner_email)
    billing = f"/o/{org.slug}/billing"
    page = await paid_browser.get(billing)
    assert "Upgrade to PRO" in page.text and "Upgrade to CENTER" in page.text
    none_yet = await paid_browser.submit(f"{billing}/portal", {}, form_page=billing)
    assert none_yet.status_code == 409 and "no subscription yet" in none_yet.text
    response = await paid_browser.submit(f"{billing}/checkout", {"tier": "PRO"}, form_page=billing)
    assert response.status_code == 303 and response.headers["location"].startswith("https://checkout.stripe.com/c/pay/cs_test_")
    sent = stripe_stub.calls("/v1/checkout/sessions")[-1]
    assert sent.form["line_items[0][price]"] == PRICE_PRO
    assert sent.form["cancel_url"].endswith(f"{billing}?checkout=cancel")
    assert await scalar(db, "SELECT tier FROM platform.tenants WHERE slug = :s", s=org.slug) == "BUILDER"
    cancelled = await paid_browser.get(f"{billing}?checkout=cancel")
    assert "Nothing was charged" in cancelled.text

    tenant_id = await scalar(db, "SELECT id FROM platform.tenants WHERE slug = :s", s=org.slug)
    customer = sent.form["customer"]
    sub = "sub_" + secrets.token_hex(8)
    now = int(time.time())
    for kind, obj in (
        ("checkout.session.completed", checkout_completed_object(customer, sub, tenant_id=tenant_id, tier="PRO", created=now)),
        ("customer.subscription.created", subscription_object(sub, customer, "active", PRICE_PRO, created=now, tenant_id=tenant_id)),
    ):
        assert (await post_event(paid_browser.http, event(kind, obj, created=now))).status_code == 200
    paid = await paid_browser.get(f"{billing}?checkout=success&session_id=cs_test_x")
    assert "Your organization is on PRO" in paid.text and "50" in paid.text
    assert "Manage the subscription" in paid.text and "Upgrade to CENTER" not in paid.text
    assert "<th scope=\"col\">Status</th>" in paid.text and ">active<" in paid.text
    again = await paid_browser.submit(f"{billing}/checkout", {"tier": "CENTER"}, form_page=billing)
    assert again.status_code == 409  # a live subscription changes plan in the portal
    portal = await paid_browser.submit(f"{billing}/portal", {}, form_page=billing)
    assert portal.status_code == 303 and portal.headers["location"].startswith("https://billing.stripe.com/")
    assert stripe_stub.calls("/v1/billing_portal/sessions")[-1].form["return_url"].endswith(billing)


async def test_hostile_checkout_inputs_are_refused_and_nothing_is_called(client, paid_browser: Browser, stripe_stub, db):
    org = await signup(client)
    await paid_browser.login(org.owner_email)
    billing = f"/o/{org.slug}/billing"
    before = len(stripe_stub.requests)
    for values in ({"tier": "BUILDER"}, {"tier": "abc"}, {"tier": "PRO\x00"}, {"tier": "P" * 10_000}, {}, {"tier": "PRO", "x": "1"}):
        response = await paid_browser.submit(f"{billing}/checkout", values, form_page=billing)
        assert 400 <= response.status_code < 500, (values, response.status_code)
    assert len(stripe_stub.requests) == before
    assert await scalar(db, "SELECT count(*) FROM platform.billing_accounts WHERE tenant_id = (SELECT id FROM platform.tenants WHERE slug = :s)", s=org.slug) == 0
    form = await paid_browser.submit(f"{billing}/checkout", {"tier": "abc"}, form_page=billing)
    assert form.status_code == 422 and "Some fields need your attention" in form.text and "<h1>Plan and billing</h1>" in form.text


async def test_billing_forms_refuse_a_missing_csrf_token(client, paid_browser: Browser, stripe_stub):
    org = await signup(client)
    await paid_browser.login(org.owner_email)
    before = len(stripe_stub.requests)
    await paid_browser.get(f"/o/{org.slug}/billing")
    for path in ("checkout", "portal"):
        assert (await paid_browser.http.post(f"/o/{org.slug}/billing/{path}", data={"tier": "PRO"})).status_code == 403
    assert len(stripe_stub.requests) == before


async def test_the_user_menu_loads_the_usage_for_owners_only(client, browser: Browser, db):
    org = await signup(client)
    await browser.login(org.owner_email, PASSWORD)
    workspace = await browser.get(f"/o/{org.slug}/")
    assert f'hx-get="/o/{org.slug}/billing/usage"' in workspace.text
