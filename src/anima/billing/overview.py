"""The billing overview of one tenant: tier, every limit with used and allowed, subscriptions, notice.

Shown to the tenant's owners (the usage widget) and to operators. Counts only: nothing clinical is
read, and tenant-side counts run under the tenant's own role.

Platform statements run first; then the transaction is switched into the tenant (by name, as
:mod:`anima.tenancy.counts` does, so a suspended tenant is counted too) for the tenant counts. The
caller must not run platform statements on the same transaction afterwards.
"""

from __future__ import annotations

import datetime

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.models import BillingAccount, Subscription, TierChange
from anima.billing.plans import CATALOG, plan_for
from anima.billing.schemas import LimitOut, SubscriptionOut, TierChangeOut, UsageOut
from anima.billing.usage import limit_rows, platform_counts, tenant_counts
from anima.db.base import utcnow
from anima.db.engine import quote_ident
from anima.tenancy.scope import SCOPE_BY_NAMES
from anima.tenancy import registry


def change_out(change: TierChange) -> TierChangeOut:
    return TierChangeOut(change.from_tier, change.to_tier, change.source, change.actor, change.reason, change.created_at)


def _notice(
    tier: str, limits: list[LimitOut], subs: list[Subscription], last: TierChange | None, now: datetime.datetime
) -> str | None:
    parts: list[str] = []
    for sub in subs:
        if sub.status not in ("active", "trialing") and sub.grace_until is not None and now < sub.grace_until and sub.tier:
            parts.append(
                f"Your {sub.tier} subscription is {sub.status.replace('_', ' ')}. Your organization keeps {sub.tier} "
                f"until {sub.grace_until:%Y-%m-%d %H:%M} UTC, then moves to BUILDER unless the payment goes through."
            )
    if last is not None and CATALOG[last.to_tier].rank < CATALOG[last.from_tier].rank:
        parts.append(f"Your organization moved from {last.from_tier} to {last.to_tier} on {last.created_at:%Y-%m-%d}: {last.reason}.")
    over = [row for row in limits if row.over_limit]
    if over:
        listed = ", ".join(f"{row.used} {row.label} (allows {row.allowed})" for row in over)
        parts.append(
            f"You have more than the {tier} plan allows: {listed}. Nothing was deleted or hidden — everything stays "
            "readable — but creating more is paused until you upgrade or go below the limit."
        )
    return " ".join(parts) or None


async def billing_overview(session: AsyncSession, tenant_id: int, *, payments_configured: bool) -> UsageOut:
    """Assemble the overview of ``tenant_id`` on an unscoped transaction (see the module docstring)."""
    now = utcnow()
    tenant = await registry.by_id(session, tenant_id)
    if tenant is None:
        raise LookupError(f"tenant {tenant_id} is not registered")
    account = await session.get(BillingAccount, tenant_id)
    subs = list(
        (
            await session.execute(
                sa.select(Subscription).where(Subscription.tenant_id == tenant_id).order_by(Subscription.state_at.desc())
            )
        ).scalars()
    )
    last = await session.scalar(
        sa.select(TierChange).where(TierChange.tenant_id == tenant_id).order_by(TierChange.created_at.desc()).limit(1)
    )
    used = await platform_counts(session, tenant_id)
    if tenant.state in ("active", "suspended") and tenant.schema_name and tenant.db_role:
        await session.execute(SCOPE_BY_NAMES, {"search_path": quote_ident(tenant.schema_name), "role": tenant.db_role})
        used.update(await tenant_counts(session))
    limits = [LimitOut(**vars(row)) for row in limit_rows(tenant.tier, used)]
    return UsageOut(
        tier=tenant.tier,
        features=sorted(plan_for(tenant.tier).features),
        limits=limits,
        payments_configured=payments_configured,
        subscriptions=[SubscriptionOut(s.tier, s.status, s.current_period_end, s.grace_until) for s in subs],
        comp_tier=account.comp_tier if account else None,
        notice=_notice(tenant.tier, limits, subs, last, now),
        last_change=change_out(last) if last else None,
    )


async def tier_history(session: AsyncSession, tenant_id: int, limit: int = 50) -> list[TierChangeOut]:
    """The tenant's latest tier changes, newest first."""
    rows = await session.execute(
        sa.select(TierChange).where(TierChange.tenant_id == tenant_id).order_by(TierChange.created_at.desc()).limit(limit)
    )
    return [change_out(c) for c in rows.scalars()]
