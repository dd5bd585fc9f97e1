"""HTTP routes of billing.

* owners: ``GET /api/v1/orgs/{org_slug}/billing/usage`` (the usage widget),
  ``POST …/billing/checkout`` (Stripe Checkout) and ``POST …/billing/portal`` (Customer Portal);
  other roles get 403, non-members 404.
* Stripe: ``POST /api/v1/billing/webhooks/stripe`` — no auth, no rate limit (Stripe retries and
  bursts); the raw body is verified against ``Stripe-Signature`` before anything is read.
* operators: ``GET /api/v1/operator/plans``, ``GET /api/v1/operator/tenants/{slug}/billing`` and
  ``POST /api/v1/operator/tenants/{slug}/tier`` (a comp, recorded with who and why). Counts and
  plans only, never a tenant's records.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from litestar import Controller, Request, get, post
from litestar.status_codes import HTTP_200_OK
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.subscription_state import MalformedEvent
from anima.billing.overview import billing_overview, tier_history
from anima.billing.plans import CATALOG
from anima.billing.schemas import (
    CheckoutRequest,
    OperatorBillingOut,
    PlanOut,
    RedirectOut,
    TierSet,
    TierSetOut,
    UsageOut,
    WebhookAck,
)
from anima.billing.stripe_client import InvalidWebhook, gateway_for, verify_webhook
from anima.billing.subscribe import open_portal, start_checkout
from anima.billing.tiers import set_comp_tier
from anima.billing.webhooks import process_event
from anima.http.access import OWNERS, MemberContext, operator_guard
from anima.http.openapi import answers
from anima.problems import NotFound
from anima.identity.models import User
from anima.runtime import Runtime
from anima.tenancy import registry

class BillingController(Controller):
    """Billing of one organization, for its owners."""

    path = "/api/v1/orgs/{org_slug:str}/billing"
    tags = ["billing"]

    @get("/usage", opt=OWNERS, summary="Every plan limit with used and allowed (owners)")
    async def usage(self, runtime: Runtime, member: MemberContext) -> UsageOut:
        return await billing_overview(member.session, member.tenant.id, payments_configured=runtime.settings.payments_configured)

    @post("/checkout", opt=OWNERS | answers(409, 502, 503), status_code=HTTP_200_OK, summary="Start a Stripe Checkout for PRO or CENTER (owners)")
    async def checkout(
        self, runtime: Runtime, member: MemberContext, data: CheckoutRequest
    ) -> RedirectOut:
        settings = runtime.settings
        gateway = gateway_for(settings)
        email = await member.session.scalar(sa.select(User.email).where(User.id == member.user_id))
        redirect = await start_checkout(
            member.session, gateway, settings, tenant_id=member.tenant.id, slug=member.tenant.slug, name=member.tenant.name,
            owner_email=email, tier=data.tier,
        )
        return RedirectOut(redirect.id, redirect.url)

    @post("/portal", opt=OWNERS | answers(409, 502, 503), status_code=HTTP_200_OK, summary="Open the Stripe Customer Portal (owners)")
    async def portal(self, runtime: Runtime, member: MemberContext) -> RedirectOut:
        settings = runtime.settings
        redirect = await open_portal(member.session, gateway_for(settings), settings, tenant_id=member.tenant.id, slug=member.tenant.slug)
        return RedirectOut(redirect.id, redirect.url)


class StripeWebhookController(Controller):
    """Stripe's webhook endpoint."""

    path = "/api/v1/billing/webhooks/stripe"
    tags = ["billing"]

    @post("/", opt=answers(400, 413, 503), status_code=HTTP_200_OK, summary="Stripe webhook (signed by Stripe; no bearer token)")
    async def receive(self, request: Request[Any, Any, Any], runtime: Runtime, db_session: AsyncSession) -> WebhookAck:
        settings = runtime.settings
        payload = await request.body()
        event = verify_webhook(payload, request.headers.get("stripe-signature"), settings)
        try:
            outcome = await process_event(db_session, event, settings)
        except MalformedEvent as exc:
            field, _, message = str(exc).partition(": ")
            raise InvalidWebhook(f"the event is malformed: {exc}", errors=[
                {"field": field, "rule": "stripe-event", "message": message or str(exc)}]) from None
        return WebhookAck(received=True, result=outcome.result)


async def _tenant_id(db_session: AsyncSession, slug: str) -> int:
    found = await registry.id_of(db_session, slug)
    if found is None:
        raise NotFound("tenant not found")
    return found


class OperatorBillingController(Controller):
    """Plans and tenants' billing, for platform operators."""

    path = "/api/v1/operator"
    tags = ["operator"]
    guards = [operator_guard]

    @get("/plans", summary="The plan catalog: limits and features of every tier")
    async def plans(self, operator: str) -> list[PlanOut]:
        return [
            PlanOut(p.tier, p.rank, dict(p.limits), sorted(p.features), p.price_description)
            for p in sorted(CATALOG.values(), key=lambda p: p.rank)
        ]

    @get("/tenants/{slug:str}/billing", summary="A tenant's tier, usage counts, subscriptions and tier history")
    async def tenant_billing(self, runtime: Runtime, db_session: AsyncSession, operator: str, slug: str) -> OperatorBillingOut:
        tenant_id = await _tenant_id(db_session, slug)
        history = await tier_history(db_session, tenant_id)
        usage = await billing_overview(
            db_session, tenant_id, payments_configured=runtime.settings.payments_configured
        )
        return OperatorBillingOut(slug=slug, usage=usage, history=history)

    @post("/tenants/{slug:str}/tier", status_code=HTTP_200_OK, summary="Set a tenant's tier by hand (a comp; recorded)")
    async def set_tier(self, db_session: AsyncSession, operator: str, slug: str, data: TierSet) -> TierSetOut:
        tenant_id = await _tenant_id(db_session, slug)
        outcome, comp = await set_comp_tier(db_session, tenant_id, tier=data.tier, actor=operator, reason=data.reason.strip())
        return TierSetOut(slug=slug, tier=outcome.after, comp_tier=comp, changed=outcome.changed)


ROUTE_HANDLERS = [BillingController, StripeWebhookController, OperatorBillingController]
