"""Platform-schema tables of billing: accounts, subscriptions, processed webhook events, tier changes.

* ``billing_accounts`` — one per tenant that ever touched billing: its Stripe customer and the
  operator's comped tier (``comp_tier``, who and why).
* ``subscriptions`` — one row per Stripe subscription: the state derived from every event seen for
  it (status, tier, the ordering key of that state, the grace end). A cache of the event history:
  :mod:`anima.billing.webhooks` recomputes it from ``billing_events`` on every event.
* ``billing_events`` — every processed Stripe event, once (``event_id`` unique), with the state it
  says (subscription, status, tier) and Stripe's own ``created`` timestamp used for ordering.
* ``tier_changes`` — every change of a tenant's tier: from, to, actor, reason and source
  (``stripe``, ``operator`` or ``grace``).

* ``connected_accounts`` — a practice's Stripe Connect account (patients pay the practice into it):
  its id and state (``details_needed``, ``enabled``, ``restricted``), refreshed from ``account.updated``
  and ordered by Stripe's event ``created`` so an older event never overwrites a newer state.
* ``connect_events`` — every processed Connect event, once (``event_id`` unique).

No table here holds clinical data; operators may read all of them.
"""

from __future__ import annotations

import datetime

from sqlalchemy import BigInteger, CheckConstraint, ForeignKey, Index, Integer, String, Text, func
from sqlalchemy.orm import Mapped, mapped_column

from anima.db.base import PlatformBase, Timestamps, UUIDKey, utcnow

TIER_CHECK = "IN ('BUILDER','PRO','CENTER')"


class BillingAccount(Timestamps, PlatformBase):
    """A tenant's billing identity: its Stripe customer and any comped tier set by an operator."""

    __tablename__ = "billing_accounts"
    __table_args__ = (
        Index("uq_billing_accounts_customer", "stripe_customer_id", unique=True),
        CheckConstraint(f"comp_tier {TIER_CHECK}", name="comp_tier_valid"),
    )

    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    comp_tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    comp_reason: Mapped[str | None] = mapped_column(Text, nullable=True)
    comp_by: Mapped[str | None] = mapped_column(String(254), nullable=True)


class Subscription(Timestamps, PlatformBase):
    """The current state of one Stripe subscription, derived from its events.

    ``state_terminal``/``state_at``/``state_rank`` form the ordering key of the state applied (see
    :func:`anima.billing.subscription_state.state_key`); ``grace_until`` is set while the subscription does not
    entitle its tier (past_due, unpaid, canceled …) and tells until when the tier is kept.
    """

    __tablename__ = "subscriptions"
    __table_args__ = (
        Index("uq_subscriptions_stripe_id", "stripe_subscription_id", unique=True),
        CheckConstraint(f"tier {TIER_CHECK}", name="tier_valid"),
    )

    id: Mapped[int] = mapped_column(BigInteger, primary_key=True, autoincrement=True)
    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), index=True
    )
    stripe_subscription_id: Mapped[str] = mapped_column(String(255))
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str] = mapped_column(String(32))
    price_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    current_period_end: Mapped[datetime.datetime | None] = mapped_column(nullable=True)
    stripe_created: Mapped[datetime.datetime | None] = mapped_column(nullable=True)
    state_terminal: Mapped[bool] = mapped_column(default=False, server_default="false")
    state_at: Mapped[datetime.datetime] = mapped_column()
    state_rank: Mapped[int] = mapped_column(Integer, default=0, server_default="0")
    grace_until: Mapped[datetime.datetime | None] = mapped_column(nullable=True)


class BillingEvent(UUIDKey, PlatformBase):
    """A processed Stripe event: recorded once, with the subscription state it reports."""

    __tablename__ = "billing_events"
    __table_args__ = (
        Index("uq_billing_events_event_id", "event_id", unique=True),
        Index("ix_billing_events_subscription", "stripe_subscription_id", "event_created"),
    )

    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    event_created: Mapped[datetime.datetime] = mapped_column()
    tenant_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    stripe_customer_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    stripe_subscription_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    status: Mapped[str | None] = mapped_column(String(32), nullable=True)
    price_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    tier: Mapped[str | None] = mapped_column(String(16), nullable=True)
    current_period_end: Mapped[datetime.datetime | None] = mapped_column(nullable=True)
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())


class TierChange(UUIDKey, PlatformBase):
    """One change of a tenant's tier: who or what changed it, and why."""

    __tablename__ = "tier_changes"
    __table_args__ = (
        CheckConstraint(f"from_tier {TIER_CHECK}", name="from_tier_valid"),
        CheckConstraint(f"to_tier {TIER_CHECK}", name="to_tier_valid"),
        CheckConstraint("source IN ('stripe','operator','grace')", name="source_valid"),
    )

    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), index=True
    )
    from_tier: Mapped[str] = mapped_column(String(16))
    to_tier: Mapped[str] = mapped_column(String(16))
    actor: Mapped[str] = mapped_column(String(254))
    reason: Mapped[str] = mapped_column(Text)
    source: Mapped[str] = mapped_column(String(16))
    created_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())


CONNECT_STATES = ("details_needed", "enabled", "restricted")


class ConnectedAccount(Timestamps, PlatformBase):
    """A tenant's Stripe Connect account and its last known state (see :mod:`anima.domains.payments.connect`)."""

    __tablename__ = "connected_accounts"
    __table_args__ = (
        Index("uq_connected_accounts_stripe_id", "stripe_account_id", unique=True),
        CheckConstraint("state IN ('details_needed','enabled','restricted')", name="state_valid"),
    )

    tenant_id: Mapped[int] = mapped_column(
        BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), primary_key=True
    )
    stripe_account_id: Mapped[str] = mapped_column(String(255))
    state: Mapped[str] = mapped_column(String(16), default="details_needed", server_default="details_needed")
    charges_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    payouts_enabled: Mapped[bool] = mapped_column(default=False, server_default="false")
    details_submitted: Mapped[bool] = mapped_column(default=False, server_default="false")
    #: Stripe's ``requirements.currently_due``, comma-separated
    currently_due: Mapped[str] = mapped_column(Text, default="", server_default="")
    disabled_reason: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: Stripe's timestamp of the state applied (an event's ``created``, or when it was fetched)
    state_at: Mapped[datetime.datetime] = mapped_column()


class ConnectEvent(UUIDKey, PlatformBase):
    """A processed Stripe Connect event: recorded once, with what it was about and its outcome."""

    __tablename__ = "connect_events"
    __table_args__ = (
        Index("uq_connect_events_event_id", "event_id", unique=True),
        Index("ix_connect_events_intent", "payment_intent_id"),
    )

    event_id: Mapped[str] = mapped_column(String(255))
    type: Mapped[str] = mapped_column(String(64))
    stripe_account_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    #: the PaymentIntent a payment event is about, and a refund event's cumulative refunded amount
    #: (so a refund that arrives before the payment's success is folded in when the success comes)
    payment_intent_id: Mapped[str | None] = mapped_column(String(255), nullable=True)
    amount_refunded: Mapped[int | None] = mapped_column(Integer, nullable=True)
    tenant_id: Mapped[int | None] = mapped_column(
        BigInteger, ForeignKey("platform.tenants.id", ondelete="CASCADE"), nullable=True, index=True
    )
    event_created: Mapped[datetime.datetime] = mapped_column()
    outcome: Mapped[str] = mapped_column(String(32))
    received_at: Mapped[datetime.datetime] = mapped_column(default=utcnow, server_default=func.now())


__all__ = ["BillingAccount", "BillingEvent", "ConnectEvent", "ConnectedAccount", "Subscription", "TierChange"]
