"""Subscribing through Stripe Checkout and managing the subscription through the Customer Portal.

The tenant's Stripe customer is created once (idempotency key per tenant) and linked in
``platform.billing_accounts`` before any payment, so every later webhook finds its tenant by the
customer. The tier itself only changes when Stripe's events say the subscription is paid
(:mod:`anima.billing.webhooks`), never on the redirect. Stripe sends the owner back to the
workspace's billing page (``/o/{slug}/billing``, :func:`billing_page_url`).
"""

from __future__ import annotations

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.models import BillingAccount, Subscription
from anima.billing.stripe_client import PaymentGateway, RedirectSession
from anima.billing.tiers import lock_billing
from anima.config import Settings
from anima.problems import Conflict
from anima.logs import get_logger

log = get_logger(__name__)


def billing_page_url(settings: Settings, slug: str) -> str:
    """The workspace's billing page, where Stripe's Checkout and Portal send the owner back."""
    return f"{settings.public_url}/o/{slug}/billing"


def price_for(settings: Settings, tier: str) -> str:
    """The Stripe price id of a paid tier (settings STRIPE_PRICE_PRO / STRIPE_PRICE_CENTER)."""
    price = {"PRO": settings.stripe_price_pro, "CENTER": settings.stripe_price_center}.get(tier)
    if not price:  # pragma: no cover - the request schema allows only PRO and CENTER
        raise Conflict(f"no price is configured for {tier}")
    return price


async def _customer(session: AsyncSession, gateway: PaymentGateway, tenant_id: int, *, name: str, email: str | None) -> str:
    account = await session.get(BillingAccount, tenant_id)
    if account is not None and account.stripe_customer_id:
        return account.stripe_customer_id
    customer_id = await gateway.create_customer(tenant_id=tenant_id, email=email, name=name)
    if account is None:
        session.add(BillingAccount(tenant_id=tenant_id, stripe_customer_id=customer_id))
    else:
        account.stripe_customer_id = customer_id
    await session.flush()
    return customer_id


async def start_checkout(
    session: AsyncSession,
    gateway: PaymentGateway,
    settings: Settings,
    *,
    tenant_id: int,
    slug: str,
    name: str,
    owner_email: str | None,
    tier: str,
) -> RedirectSession:
    """A Checkout Session subscribing the tenant to ``tier`` (PRO or CENTER).

    Raises:
        Conflict: the tenant already has a live subscription (change plans in the portal).
        PaymentProviderError: Stripe refused.
    """
    await lock_billing(session, tenant_id)
    live = await session.scalar(
        sa.select(Subscription.tier).where(
            Subscription.tenant_id == tenant_id, Subscription.status.in_(("active", "trialing", "past_due", "unpaid"))
        )
    )
    if live is not None:
        raise Conflict(
            f"this organization already has a {live} subscription; change or cancel it in the billing portal",
            errors=[{"field": "tier", "rule": "existing-subscription", "message": "use POST …/billing/portal"}],
        )
    customer_id = await _customer(session, gateway, tenant_id, name=name, email=owner_email)
    base = billing_page_url(settings, slug)
    redirect = await gateway.create_checkout_session(
        customer_id=customer_id, price_id=price_for(settings, tier), tenant_id=tenant_id, tier=tier,
        success_url=f"{base}?checkout=success&session_id={{CHECKOUT_SESSION_ID}}", cancel_url=f"{base}?checkout=cancel",
    )
    log.info("checkout started", tenant_id=tenant_id, tier=tier)
    return redirect


async def open_portal(
    session: AsyncSession, gateway: PaymentGateway, settings: Settings, *, tenant_id: int, slug: str
) -> RedirectSession:
    """A Customer Portal session for the tenant's Stripe customer.

    Raises:
        Conflict: the tenant has never subscribed (no customer yet).
    """
    account = await session.get(BillingAccount, tenant_id)
    if account is None or not account.stripe_customer_id:
        raise Conflict("this organization has no subscription yet; subscribe with POST …/billing/checkout first")
    return await gateway.create_portal_session(
        customer_id=account.stripe_customer_id, return_url=billing_page_url(settings, slug)
    )
