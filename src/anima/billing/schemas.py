"""Bodies of the billing API: usage widget, checkout and portal redirects, operator tier changes."""

from __future__ import annotations

import datetime
from typing import Annotated, Literal

import msgspec

from anima.request_body import RequestBody

PaidTier = Literal["PRO", "CENTER"]
TierName = Literal["BUILDER", "PRO", "CENTER"]
Reason = Annotated[str, msgspec.Meta(min_length=3, max_length=500, pattern=r"\S")]


class LimitOut(msgspec.Struct):
    """One limit: ``used`` of ``allowed`` (null = unlimited). ``over_limit``: a downgrade left more
    than allowed (kept and readable; creating more is paused). ``upgrade_to``: the tier that lifts it
    when it is reached."""

    limit: str
    label: str
    used: int
    allowed: int | None
    over_limit: bool
    upgrade_to: str | None


class SubscriptionOut(msgspec.Struct):
    tier: str | None
    status: str
    current_period_end: datetime.datetime | None
    grace_until: datetime.datetime | None


class TierChangeOut(msgspec.Struct):
    from_tier: str
    to_tier: str
    source: str
    actor: str
    reason: str
    created_at: datetime.datetime


class UsageOut(msgspec.Struct):
    """The workspace's usage widget: the tier, each limit with used and allowed, and any notice."""

    tier: str
    features: list[str]
    limits: list[LimitOut]
    payments_configured: bool
    subscriptions: list[SubscriptionOut]
    comp_tier: str | None
    notice: str | None
    last_change: TierChangeOut | None


class OperatorBillingOut(msgspec.Struct):
    """What an operator sees of a tenant's billing: tier, counts, subscriptions and tier history."""

    slug: str
    usage: UsageOut
    history: list[TierChangeOut]


class CheckoutRequest(RequestBody):
    tier: PaidTier


class RedirectOut(msgspec.Struct):
    """Send the owner's browser to ``url`` (a Stripe-hosted page)."""

    id: str
    url: str


class TierSet(RequestBody):
    """An operator's comp: ``tier`` becomes the tenant's floor (BUILDER removes the comp); ``reason`` is recorded."""

    tier: TierName
    reason: Reason


class TierSetOut(msgspec.Struct):
    slug: str
    tier: str
    comp_tier: str | None
    changed: bool


class PlanOut(msgspec.Struct):
    tier: str
    rank: int
    limits: dict[str, int | None]
    features: list[str]
    price: str


class WebhookAck(msgspec.Struct):
    received: bool
    result: str
