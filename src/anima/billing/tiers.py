"""A tenant's tier: what its subscriptions and any operator comp give, applied and recorded.

The tier of a tenant is the highest of: BUILDER, the operator's comped tier
(``billing_accounts.comp_tier``), and the tier of each of its subscriptions that is entitled
(active, trialing) or within its grace period. :func:`apply_tier` computes it under the tenant's
billing lock, writes ``platform.tenants.tier`` when it changed and records a
``platform.tier_changes`` row (from, to, actor, reason, source). Nothing is ever deleted on a
downgrade: limits only stop *new* creations (see :mod:`anima.billing.limits`).
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.models import BillingAccount, Subscription, TierChange
from anima.billing.plans import CATALOG
from anima.db.base import utcnow
from anima.logs import get_logger
from anima.tenancy.models import Tenant

log = get_logger(__name__)

BASE_TIER = "BUILDER"


async def lock_billing(session: AsyncSession, tenant_id: int) -> None:
    """Serialize every billing change of one tenant until the transaction ends."""
    await session.execute(sa.select(sa.func.pg_advisory_xact_lock(tenant_id, sa.func.hashtext("billing"))))


def highest(tiers: list[str | None]) -> str:
    """The highest-ranked of ``tiers`` (None ignored); BUILDER when none."""
    known = [t for t in tiers if t in CATALOG]
    return max(known, key=lambda t: CATALOG[t].rank, default=BASE_TIER)


@dataclass(frozen=True)
class TierOutcome:
    """The result of :func:`apply_tier`: the tier before and after, and whether it changed."""

    before: str
    after: str

    @property
    def changed(self) -> bool:
        return self.before != self.after


async def effective_tier(session: AsyncSession, tenant_id: int, now: datetime.datetime) -> tuple[str, list[str]]:
    """The tier the tenant is entitled to at ``now``, and the reasons (one per contributing source)."""
    account = await session.get(BillingAccount, tenant_id)
    subs = (await session.execute(sa.select(Subscription).where(Subscription.tenant_id == tenant_id))).scalars().all()
    candidates: list[str | None] = [BASE_TIER]
    reasons: list[str] = []
    if account is not None and account.comp_tier:
        candidates.append(account.comp_tier)
        reasons.append(f"comped {account.comp_tier} by {account.comp_by}")
    for sub in subs:
        if sub.tier is None:
            continue
        if sub.status in ("active", "trialing"):
            candidates.append(sub.tier)
            reasons.append(f"subscription {sub.tier} {sub.status}")
        elif sub.grace_until is not None and now < sub.grace_until:
            candidates.append(sub.tier)
            reasons.append(f"subscription {sub.tier} {sub.status}, grace until {sub.grace_until:%Y-%m-%d %H:%M} UTC")
        elif sub.grace_until is not None:
            reasons.append(f"subscription {sub.tier} {sub.status}; grace period ended {sub.grace_until:%Y-%m-%d}")
        else:
            reasons.append(f"subscription {sub.tier} {sub.status}")
    return highest(candidates), reasons


async def apply_tier(
    session: AsyncSession,
    tenant_id: int,
    *,
    source: str,
    actor: str,
    reason: str | None = None,
    now: datetime.datetime | None = None,
) -> TierOutcome:
    """Recompute and store the tenant's tier; record a tier change when it moves.

    Call with the billing lock held (:func:`lock_billing`) on a platform (unscoped) transaction.

    Args:
        source: ``stripe``, ``operator`` or ``grace``.
        actor: who: ``stripe``, an operator's email, ``grace-job``.
        reason: why, recorded; the computed reasons are appended.
    """
    now = now or utcnow()
    tenant = (
        await session.execute(sa.select(Tenant).where(Tenant.id == tenant_id).with_for_update())
    ).scalar_one()
    target, reasons = await effective_tier(session, tenant_id, now)
    before = tenant.tier
    if target != before:
        text = "; ".join([r for r in [reason, *reasons] if r]) or "no paid subscription or comp"
        tenant.tier = target
        session.add(TierChange(tenant_id=tenant_id, from_tier=before, to_tier=target, actor=actor[:254],
                               reason=text, source=source, created_at=now))
        await session.flush()
        log.info("tier changed", tenant_id=tenant_id, from_tier=before, to_tier=target, source=source)
    return TierOutcome(before, target)


async def set_comp_tier(session: AsyncSession, tenant_id: int, *, tier: str, actor: str, reason: str) -> tuple[TierOutcome, str | None]:
    """An operator's hand-set tier: ``tier`` becomes the tenant's floor (BUILDER clears the comp).

    A paid subscription above the comp still counts (the tenant keeps what it pays for). Works
    without Stripe. Returns the tier outcome and the comp now in force; the change, the actor and
    the reason are recorded in ``tier_changes`` (and on the account even when the tier is unchanged).
    """
    await lock_billing(session, tenant_id)
    account = await session.get(BillingAccount, tenant_id)
    if account is None:
        account = BillingAccount(tenant_id=tenant_id)
        session.add(account)
    comp = None if tier == BASE_TIER else tier
    account.comp_tier, account.comp_by, account.comp_reason = comp, actor[:254], reason
    await session.flush()
    outcome = await apply_tier(session, tenant_id, source="operator", actor=actor, reason=f"operator: {reason}")
    log.info("comp tier set", tenant_id=tenant_id, comp_tier=comp, tier=outcome.after)
    return outcome, comp
