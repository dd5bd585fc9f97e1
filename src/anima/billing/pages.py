"""The billing pages of a workspace, for its owners.

* ``GET /o/{slug}/billing`` — the plan, every limit with used and allowed (a bar and the numbers
  in words), subscriptions and their grace periods, and the way up: a Checkout per higher plan
  (``POST …/billing/checkout`` → 303 to Stripe), the Customer Portal once there is a subscription
  (``POST …/billing/portal`` → 303), or a clear sentence when payments are not configured.
  ``?checkout=success|cancel`` is where Stripe sends the owner back.
* ``GET /o/{slug}/billing/usage`` — the fragment the user menu loads with HTMX: used / allowed per
  limit and the upgrade path.

Everything is read through :func:`anima.billing.overview.billing_overview` and changed through
:mod:`anima.billing.subscribe`, exactly as the API does; the tier only changes when Stripe's
webhook says the subscription is paid.
"""

from __future__ import annotations

from typing import Annotated, Any

import sqlalchemy as sa
from litestar import Request, get, post
from litestar.params import Parameter
from litestar.response import Response, Template

from anima.billing.overview import billing_overview
from anima.billing.plans import CATALOG, plan_for
from anima.billing.schemas import CheckoutRequest, UsageOut
from anima.billing.stripe_client import gateway_for
from anima.billing.subscribe import open_portal, start_checkout
from anima.http.access import OWNERS, TenantContext
from anima.identity.models import User
from anima.problems import Problem
from anima.runtime import Runtime
from anima.web.forms import FormState, parse, read_form
from anima.web.render import render, see_other
from anima.web.workspace import Workspace

#: subscription statuses that already pay (or are about to): a change of plan goes through the portal
_LIVE = frozenset({"active", "trialing", "past_due", "unpaid"})
#: what Stripe's ``?checkout=`` return may say
_RETURNS = frozenset({"success", "cancel", "unavailable"})


async def _overview(runtime: Runtime, tenant: TenantContext) -> UsageOut:
    """The organization's overview, read on a platform transaction of its own (it ends scoped)."""
    async with runtime.sessionmaker() as platform:
        try:
            return await billing_overview(platform, tenant.tenant.id, payments_configured=runtime.settings.payments_configured)
        finally:
            await platform.rollback()


def _page(ws: Workspace, overview: UsageOut, *, form: FormState | None = None, returned: str | None = None,
          status: int = 200) -> Template:
    ws.active = "billing"
    current = plan_for(overview.tier)
    live = [s for s in overview.subscriptions if s.status in _LIVE]
    upgrades = [p for p in sorted(CATALOG.values(), key=lambda p: p.rank) if p.rank > current.rank]
    return render(
        "billing/page.html", language=ws.language, time_zone=ws.time_zone, ws=ws, status=status,
        overview=overview, plan=current, upgrades=upgrades, has_live_subscription=bool(live),
        can_open_portal=bool(overview.subscriptions), form=form or FormState(),
        returned=returned if returned in _RETURNS else None, allowance=_allowance,
    )


def _allowance(tier: str, limit: str) -> int | None:
    """What ``tier`` allows of ``limit`` (None: unlimited), for the upgrade path beside a reached limit."""
    return plan_for(tier).limit(limit)


@get("/o/{org_slug:str}/billing", opt=OWNERS, name="billing:page")
async def billing_page(
    runtime: Runtime, tenant: TenantContext, ws: Workspace,
    checkout: Annotated[str | None, Parameter(query="checkout", max_length=32)] = None,
) -> Template:
    """The plan, usage against every limit and the way to upgrade or manage the subscription."""
    return _page(ws, await _overview(runtime, tenant), returned=checkout)


@get("/o/{org_slug:str}/billing/usage", opt=OWNERS, name="billing:usage")
async def usage_fragment(runtime: Runtime, tenant: TenantContext, ws: Workspace) -> Template:
    """The user menu's fragment: used / allowed per limit and the upgrade path."""
    overview = await _overview(runtime, tenant)
    return render("billing/usage.html", language=ws.language, time_zone=ws.time_zone, ws=ws, overview=overview)


@post("/o/{org_slug:str}/billing/checkout", opt=OWNERS, name="billing:checkout")
async def checkout_submit(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace) -> Response[Any]:
    """Open a Stripe Checkout for the chosen paid plan and send the owner there (303)."""
    values = await read_form(request)
    body, form = parse(CheckoutRequest, values, language=ws.language)
    if body is None:
        return _page(ws, await _overview(runtime, tenant), form=form, status=422)
    settings = runtime.settings
    try:
        async with runtime.sessionmaker() as platform:
            email = await platform.scalar(sa.select(User.email).where(User.id == tenant.user_id))
            redirect = await start_checkout(
                platform, gateway_for(settings), settings, tenant_id=tenant.tenant.id, slug=tenant.tenant.slug,
                name=tenant.tenant.name, owner_email=email, tier=body.tier,
            )
            await platform.commit()
    except Problem as problem:
        return _page(ws, await _overview(runtime, tenant), form=form.show(problem, ws.language), status=problem.status)
    return see_other(request, redirect.url)


@post("/o/{org_slug:str}/billing/portal", opt=OWNERS, name="billing:portal")
async def portal_submit(request: Request[Any, Any, Any], runtime: Runtime, tenant: TenantContext, ws: Workspace) -> Response[Any]:
    """Open Stripe's Customer Portal for the organization and send the owner there (303)."""
    await read_form(request)
    settings = runtime.settings
    try:
        async with runtime.sessionmaker() as platform:
            redirect = await open_portal(platform, gateway_for(settings), settings, tenant_id=tenant.tenant.id, slug=tenant.tenant.slug)
            await platform.commit()
    except Problem as problem:
        return _page(ws, await _overview(runtime, tenant), form=FormState().show(problem, ws.language), status=problem.status)
    return see_other(request, redirect.url)


PAGE_HANDLERS: list[Any] = [billing_page, usage_fragment, checkout_submit, portal_submit]
