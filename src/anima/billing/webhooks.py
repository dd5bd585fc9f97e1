"""Processing a verified Stripe event: once, in any order, in one platform transaction.

1. The event is recorded in ``platform.billing_events`` with ``INSERT … ON CONFLICT (event_id) DO
   NOTHING``; a duplicate (even a concurrent one: the unique index makes the second insert wait
   for the first commit) inserts nothing and is acknowledged without effect.
2. The tenant is found from what Anima created: the Stripe customer (``billing_accounts``), the
   subscription (``subscriptions``), then ``metadata.tenant_id``/``client_reference_id``.
3. Under the tenant's billing lock, the subscription's state is re-derived from *all* its recorded
   events (:func:`anima.billing.subscription_state.derive`) and the tenant's tier recomputed
   (:func:`anima.billing.tiers.apply_tier`). Because the derivation depends on the set of events
   and not their arrival order, duplicates and reordering leave the same tier.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.subscription_state import HANDLED_TYPES, Report, StateReport, derive, parse_event
from anima.billing.models import BillingAccount, BillingEvent, Subscription
from anima.billing.tiers import apply_tier, lock_billing
from anima.config import Settings
from anima.db.base import utcnow
from anima.logs import get_logger
from anima.tenancy import registry

log = get_logger(__name__)


@dataclass(frozen=True)
class Outcome:
    """What happened to one event: ``processed``, ``duplicate``, ``ignored`` or ``unmatched``."""

    result: str
    tenant_id: int | None = None
    tier: str | None = None


def price_tiers(settings: Settings) -> dict[str, str]:
    """Stripe price id -> tier, from the settings."""
    out: dict[str, str] = {}
    if settings.stripe_price_pro:
        out[settings.stripe_price_pro] = "PRO"
    if settings.stripe_price_center:
        out[settings.stripe_price_center] = "CENTER"
    return out


async def _resolve_tenant(session: AsyncSession, report: Report) -> int | None:
    if report.customer_id:
        found = await session.scalar(
            sa.select(BillingAccount.tenant_id).where(BillingAccount.stripe_customer_id == report.customer_id)
        )
        if found is not None:
            return found
    if report.subscription_id:
        found = await session.scalar(
            sa.select(Subscription.tenant_id).where(Subscription.stripe_subscription_id == report.subscription_id)
        )
        if found is not None:
            return found
    if report.tenant_hint is not None:
        if await registry.exists(session, report.tenant_hint):
            return report.tenant_hint
    return None


async def _record(session: AsyncSession, report: Report, tenant_id: int | None, tier: str | None, outcome: str) -> bool:
    inserted = await session.execute(
        insert(BillingEvent)
        .values(
            id=uuid.uuid4(),
            event_id=report.event_id,
            type=report.type,
            event_created=report.created,
            tenant_id=tenant_id,
            stripe_customer_id=report.customer_id,
            stripe_subscription_id=report.subscription_id,
            status=report.status,
            price_id=report.price_id,
            tier=tier,
            current_period_end=report.current_period_end,
            outcome=outcome,
            received_at=utcnow(),
        )
        .on_conflict_do_nothing(index_elements=["event_id"])
        .returning(BillingEvent.id)
    )
    return inserted.first() is not None


async def _link_customer(session: AsyncSession, tenant_id: int, customer_id: str | None) -> None:
    if not customer_id:
        return
    account = await session.get(BillingAccount, tenant_id)
    if account is None:
        session.add(BillingAccount(tenant_id=tenant_id, stripe_customer_id=customer_id))
    elif account.stripe_customer_id is None:
        account.stripe_customer_id = customer_id
    await session.flush()


async def _refresh_subscription(
    session: AsyncSession, tenant_id: int, subscription_id: str, customer_id: str | None, settings: Settings
) -> Subscription | None:
    rows = (
        await session.execute(
            sa.select(BillingEvent.status, BillingEvent.event_created, BillingEvent.tier, BillingEvent.current_period_end,
                      BillingEvent.price_id)
            .where(BillingEvent.stripe_subscription_id == subscription_id, BillingEvent.status.is_not(None))
        )
    ).all()
    state = derive(
        (StateReport(r.status, r.event_created, r.tier, r.current_period_end) for r in rows),
        datetime.timedelta(days=settings.billing_grace_days),
    )
    if state is None:
        return None
    price = next((r.price_id for r in sorted(rows, key=lambda r: r.event_created, reverse=True) if r.price_id), None)
    sub = await session.scalar(sa.select(Subscription).where(Subscription.stripe_subscription_id == subscription_id))
    if sub is None:
        sub = Subscription(tenant_id=tenant_id, stripe_subscription_id=subscription_id)
        session.add(sub)
    sub.stripe_customer_id = sub.stripe_customer_id or customer_id
    sub.status = state.status
    sub.tier = state.tier
    sub.price_id = price
    sub.state_terminal, sub.state_at, sub.state_rank = state.key
    sub.grace_until = state.grace_until
    sub.current_period_end = state.current_period_end
    await session.flush()
    return sub


async def process_event(session: AsyncSession, event: dict[str, Any], settings: Settings) -> Outcome:
    """Apply one verified event (see the module docstring); the caller commits.

    Raises:
        anima.billing.subscription_state.MalformedEvent: the payload is not a Stripe event of a handled shape.
    """
    report = parse_event(event)
    if report.type not in HANDLED_TYPES:
        log.info("stripe event ignored", event_type=report.type)
        return Outcome("ignored")
    tiers = price_tiers(settings)
    tier = tiers.get(report.price_id or "") or report.tier_hint
    tenant_id = await _resolve_tenant(session, report)
    if not await _record(session, report, tenant_id, tier, "processed" if tenant_id else "unmatched"):
        log.info("stripe event duplicate", event_type=report.type, event_id=report.event_id)
        return Outcome("duplicate", tenant_id)
    if tenant_id is None:
        log.warning("stripe event for no known tenant", event_type=report.type, event_id=report.event_id)
        return Outcome("unmatched")
    await lock_billing(session, tenant_id)
    await _link_customer(session, tenant_id, report.customer_id)
    if report.subscription_id:
        await _refresh_subscription(session, tenant_id, report.subscription_id, report.customer_id, settings)
    outcome = await apply_tier(
        session, tenant_id, source="stripe", actor="stripe", reason=f"Stripe {report.type} ({report.event_id})"
    )
    log.info("stripe event processed", event_type=report.type, event_id=report.event_id, tenant_id=tenant_id,
             tier=outcome.after)
    return Outcome("processed", tenant_id, outcome.after)
