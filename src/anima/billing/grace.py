"""Grace-period expiry: tenants whose lapsed subscriptions' grace has ended fall to what remains.

A failed payment or a cancellation keeps the paid tier for ``BILLING_GRACE_DAYS`` (see
:mod:`anima.billing.subscription_state`); webhooks re-check on every event, and :func:`apply_expired_grace`
catches the tenants whose grace ended with no event since. Every worker schedules
it hourly (:mod:`anima.jobs.billing`); ``anima billing expire-grace`` runs it by hand. Data is never touched: only the tier moves,
recorded in ``tier_changes`` with source ``grace``.
"""

from __future__ import annotations

import datetime
from dataclasses import dataclass

import sqlalchemy as sa

from anima.billing.tiers import apply_tier, lock_billing
from anima.db.base import utcnow
from anima.db.engine import Database
from anima.logs import get_logger
from anima.billing.models import Subscription
from anima.tenancy.models import Tenant, Tier

log = get_logger(__name__)

def _due(now: datetime.datetime) -> sa.Select[tuple[int]]:
    """Tenants on a paid tier whose subscription's grace period ended at ``now``."""
    return (
        sa.select(Subscription.tenant_id)
        .distinct()
        .join(Tenant, Tenant.id == Subscription.tenant_id)
        .where(
            Subscription.grace_until.is_not(None),
            Subscription.grace_until <= now,
            Subscription.status.not_in(("active", "trialing")),
            Tenant.tier != Tier.BUILDER.value,
        )
        .order_by(Subscription.tenant_id)
    )


@dataclass(frozen=True)
class GraceChange:
    """One tenant moved by the grace job."""

    tenant_id: int
    from_tier: str
    to_tier: str


async def apply_expired_grace(db: Database, *, now: datetime.datetime | None = None) -> list[GraceChange]:
    """Recompute the tier of every tenant with a subscription whose grace ended; one transaction each.

    Returns:
        The tenants whose tier changed.
    """
    now = now or utcnow()
    maker = db.sessionmaker()
    async with maker() as session:
        due = list((await session.execute(_due(now))).scalars())
    changes: list[GraceChange] = []
    for tenant_id in due:
        async with maker() as session, session.begin():
            await lock_billing(session, tenant_id)
            outcome = await apply_tier(
                session, tenant_id, source="grace", actor="grace-job", reason="the grace period ended", now=now
            )
        if outcome.changed:
            changes.append(GraceChange(tenant_id, outcome.before, outcome.after))
    log.info("grace expiry applied", checked=len(due), changed=len(changes))
    return changes
