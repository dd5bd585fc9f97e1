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

log = get_logger(__name__)

_DUE = sa.text(
    "SELECT DISTINCT s.tenant_id FROM platform.subscriptions s JOIN platform.tenants t ON t.id = s.tenant_id "
    "WHERE s.grace_until IS NOT NULL AND s.grace_until <= :now AND s.status NOT IN ('active', 'trialing') "
    "AND t.tier <> 'BUILDER' ORDER BY s.tenant_id"
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
        due = list((await session.execute(_DUE, {"now": now})).scalars())
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
