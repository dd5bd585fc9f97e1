"""Subscribing through Checkout and the portal (the real stripe SDK against our stub), the lifecycle
of a subscription through signed webhooks, grace periods, and running without Stripe settings."""

from __future__ import annotations

import datetime
import secrets

from anima.billing.grace import apply_expired_grace
from tests.conftest import add_member, bearer, signup
from tests.integration.billing_support import (  # noqa: F401 - fixtures
    WEBHOOK,
    now,
    operator_headers,
    paid_client,
    post_event,
    scalar,
    stripe_settings,
    stripe_stub,
    tenant_row,
)
from tests.stripe_stub import (
    PRICE_CENTER,
    PRICE_PRO,
    checkout_completed_object,
    event,
    invoice_object,
    sign,
    subscription_object,
)


async def test_checkout_and_portal_go_through_the_stripe_sdk(paid_client, stripe_stub, db):
    org = await signup(paid_client)
    tenant = await tenant_row(db, org.slug)
    portal_first = await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/portal", headers=org.headers)
    assert portal_first.status_code == 409  # nothing to manage yet
    response = await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/checkout", json={"tier": "CENTER"}, headers=org.headers)
    assert response.status_code == 200, response.text
    assert response.json()["url"].startswith("https://checkout.stripe.com/")
    sent = stripe_stub.calls("/v1/checkout/sessions")[-1]
    assert sent.headers["authorization"].startswith("Bearer sk_test_")
    assert sent.form["mode"] == "subscription" and sent.form["line_items[0][price]"] == PRICE_CENTER
    assert sent.form["client_reference_id"] == str(tenant.id) and sent.form["metadata[tenant_id]"] == str(tenant.id)
    assert sent.form["subscription_data[metadata][tier]"] == "CENTER"
    customer = sent.form["customer"]
    created = stripe_stub.calls("/v1/customers")[-1]
    assert created.form["metadata[tenant_id]"] == str(tenant.id) and created.headers.get("idempotency-key")
    assert await scalar(db, "SELECT stripe_customer_id FROM platform.billing_accounts WHERE tenant_id = :t", t=tenant.id) == customer
    assert (await tenant_row(db, org.slug)).tier == "BUILDER"  # nothing changes before Stripe says it is paid
    again = await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/checkout", json={"tier": "PRO"}, headers=org.headers)
    assert again.status_code == 200 and stripe_stub.calls("/v1/checkout/sessions")[-1].form["customer"] == customer
    portal = await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/portal", headers=org.headers)
    assert portal.status_code == 200 and portal.json()["url"].startswith("https://billing.stripe.com/")
    assert stripe_stub.calls("/v1/billing_portal/sessions")[-1].form["customer"] == customer
    bad = await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/checkout", json={"tier": "BUILDER"}, headers=org.headers)
    assert bad.status_code == 422 and bad.json()["errors"][0]["field"] == "tier"
    _, tokens, _ = await add_member(paid_client, db, org, "THERAPIST")
    therapist = bearer(tokens["access_token"])
    for path in ("checkout", "portal"):
        denied = await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/{path}", json={"tier": "PRO"}, headers=therapist)
        assert denied.status_code == 403


async def test_subscription_lifecycle_with_grace_periods(paid_client, db):
    org = await signup(paid_client)
    tenant = await tenant_row(db, org.slug)
    assert (await paid_client.post(f"/api/v1/orgs/{org.slug}/billing/checkout", json={"tier": "PRO"}, headers=org.headers)).status_code == 200
    customer = await scalar(db, "SELECT stripe_customer_id FROM platform.billing_accounts WHERE tenant_id = :t", t=tenant.id)
    sub = "sub_" + secrets.token_hex(8)
    t0 = now() - 3600

    async def send(kind: str, obj: dict, created: int) -> dict:
        response = await post_event(paid_client, event(kind, obj, created=created))
        assert response.status_code == 200, response.text
        return response.json()

    completed = event("checkout.session.completed", checkout_completed_object(customer, sub, tenant_id=tenant.id, tier="PRO", created=t0), created=t0)
    assert (await post_event(paid_client, completed)).json() == {"received": True, "result": "processed"}
    assert (await tenant_row(db, org.slug)).tier == "PRO"
    assert (await post_event(paid_client, completed)).json()["result"] == "duplicate"
    await send("customer.subscription.created", subscription_object(sub, customer, "active", PRICE_PRO, created=t0, tenant_id=tenant.id), t0)
    # upgraded in the portal
    await send("customer.subscription.updated", subscription_object(sub, customer, "active", PRICE_CENTER, created=t0, tenant_id=tenant.id), t0 + 60)
    assert (await tenant_row(db, org.slug)).tier == "CENTER"
    # a payment fails: CENTER is kept for the grace period and the owner is told
    await send("invoice.payment_failed", invoice_object(sub, customer, PRICE_CENTER, paid=False, created=t0 + 120), t0 + 120)
    assert (await tenant_row(db, org.slug)).tier == "CENTER"
    usage = (await paid_client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=org.headers)).json()
    assert usage["payments_configured"] is True and usage["subscriptions"][0]["status"] == "past_due"
    assert "past due" in usage["notice"] and "moves to BUILDER" in usage["notice"]
    grace_end = datetime.datetime.fromisoformat(usage["subscriptions"][0]["grace_until"])
    assert grace_end == datetime.datetime.fromtimestamp(t0 + 120, datetime.UTC) + datetime.timedelta(days=7)
    # the grace job does nothing before the end, then moves the tenant to BUILDER
    assert [c for c in await apply_expired_grace(db) if c.tenant_id == tenant.id] == []
    moved = await apply_expired_grace(db, now=grace_end + datetime.timedelta(seconds=1))
    assert [(c.from_tier, c.to_tier) for c in moved if c.tenant_id == tenant.id] == [("CENTER", "BUILDER")]
    assert await scalar(db, "SELECT source FROM platform.tier_changes WHERE tenant_id = :t ORDER BY created_at DESC LIMIT 1", t=tenant.id) == "grace"
    # the customer pays at last: back to CENTER
    await send("invoice.paid", invoice_object(sub, customer, PRICE_CENTER, paid=True, created=t0 + 300), t0 + 300)
    assert (await tenant_row(db, org.slug)).tier == "CENTER"
    # cancellation: the tier is kept for the grace period, then falls to BUILDER
    await send("customer.subscription.deleted", subscription_object(sub, customer, "canceled", PRICE_CENTER, created=t0 + 400, tenant_id=tenant.id), t0 + 400)
    assert (await tenant_row(db, org.slug)).tier == "CENTER"
    # a late, older "active" event cannot revive a canceled subscription
    await send("customer.subscription.updated", subscription_object(sub, customer, "active", PRICE_CENTER, created=t0 + 200, tenant_id=tenant.id), t0 + 200)
    status = await scalar(db, "SELECT status FROM platform.subscriptions WHERE stripe_subscription_id = :s", s=sub)
    assert status == "canceled"
    moved = await apply_expired_grace(db, now=datetime.datetime.now(datetime.UTC) + datetime.timedelta(days=8))
    assert [(c.from_tier, c.to_tier) for c in moved if c.tenant_id == tenant.id] == [("CENTER", "BUILDER")]
    history = await scalar(db, "SELECT count(*) FROM platform.tier_changes WHERE tenant_id = :t", t=tenant.id)
    assert history == 5  # BUILDER→PRO→CENTER→BUILDER→CENTER→BUILDER


async def test_without_stripe_settings_billing_says_so_and_operators_still_set_tiers(client, db, operator_headers):
    org = await signup(client)
    for path, body in (("checkout", {"tier": "PRO"}), ("portal", None)):
        response = await client.post(f"/api/v1/orgs/{org.slug}/billing/{path}", json=body, headers=org.headers)
        assert response.status_code == 503, response.text
        assert response.json()["type"].endswith("/payments-not-configured")
        assert "not configured" in response.json()["detail"]
    payload = '{"id": "evt_1", "type": "invoice.paid"}'
    hook = await client.post(WEBHOOK, content=payload, headers={"Stripe-Signature": sign(payload)})
    assert hook.status_code == 503 and hook.json()["type"].endswith("/payments-not-configured")
    usage = (await client.get(f"/api/v1/orgs/{org.slug}/billing/usage", headers=org.headers)).json()
    assert usage["payments_configured"] is False
    comped = await client.post(f"/api/v1/operator/tenants/{org.slug}/tier", json={"tier": "PRO", "reason": "beta tester"}, headers=operator_headers)
    assert comped.status_code == 200 and (await tenant_row(db, org.slug)).tier == "PRO"
