"""Reading Stripe events, and deriving a subscription's state from all of its events in any order.

Pure functions, no I/O. :func:`parse_event` turns a verified event payload (shapes as Stripe
documents them, API versions before and after 2025-03-31 "basil") into a :class:`Report`: which
customer and subscription it concerns, and the subscription status it states or implies.

Ordering — the subscription's own state decides, not arrival order. Each report has a key
:func:`state_key` = ``(terminal, created, rank)``:

* ``terminal``: ``canceled`` and ``incomplete_expired`` are final in Stripe (a canceled subscription
  never becomes active again), so such a state outranks any other whatever its timestamp;
* ``created``: Stripe's own event timestamp (seconds);
* ``rank``: ties within one second are broken by the status's place in Stripe's lifecycle
  (:data:`STATUS_RANK`).

:func:`derive` folds a subscription's reports: the state is the report with the greatest key; the
tier is the tier of the greatest-keyed report that names one; and when the state does not entitle
the tier (anything but ``active``/``trialing``) after having entitled it, the grace period starts
at the earliest non-entitling report later than the last entitling one. The fold is a function of
the *set* of reports, so duplicates and reordering cannot change its result.
"""

from __future__ import annotations

import datetime
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any

#: the event types Anima acts on; others are acknowledged and ignored
HANDLED_TYPES = frozenset(
    {
        "checkout.session.completed",
        "customer.subscription.created",
        "customer.subscription.updated",
        "customer.subscription.deleted",
        "invoice.paid",
        "invoice.payment_failed",
    }
)

#: statuses in which a subscription pays for its tier
ENTITLED = frozenset({"active", "trialing"})
#: statuses Stripe never leaves
TERMINAL = frozenset({"canceled", "incomplete_expired"})
#: lifecycle order, used only to break ties between reports of the same second
STATUS_RANK = {
    "incomplete": 0,
    "trialing": 1,
    "active": 2,
    "paused": 3,
    "past_due": 4,
    "unpaid": 5,
    "incomplete_expired": 6,
    "canceled": 7,
}
KNOWN_STATUSES = frozenset(STATUS_RANK)


class MalformedEvent(ValueError):
    """A signed event whose shape is not a Stripe event (missing id, type, created or object)."""


@dataclass(frozen=True)
class Report:
    """What one event says about a subscription.

    Attributes:
        event_id, type: the event's id and type.
        created: the event's own timestamp (UTC).
        customer_id, subscription_id: the Stripe objects concerned (None when absent).
        status: the subscription status stated (subscription events) or implied (invoice paid →
            active, payment failed → past_due, paid checkout → active); None when none.
        price_id: the subscription's price when the event carries it.
        tier_hint: a tier named by our own metadata (checkout sessions only).
        tenant_hint: ``metadata.tenant_id``/``client_reference_id`` put there by Anima.
        current_period_end: the end of the paid period when carried.
    """

    event_id: str
    type: str
    created: datetime.datetime
    customer_id: str | None = None
    subscription_id: str | None = None
    status: str | None = None
    price_id: str | None = None
    tier_hint: str | None = None
    tenant_hint: int | None = None
    current_period_end: datetime.datetime | None = None


def _ts(value: Any) -> datetime.datetime | None:
    if isinstance(value, bool) or not isinstance(value, int) or value < 0:
        return None
    return datetime.datetime.fromtimestamp(value, datetime.UTC)


def _id(value: Any) -> str | None:
    """An object id, whether the field is the id or the expanded object."""
    if isinstance(value, str) and value:
        return value[:255]
    if isinstance(value, Mapping) and isinstance(value.get("id"), str):
        return value["id"][:255]
    return None


def _tenant(*candidates: Any) -> int | None:
    for value in candidates:
        if isinstance(value, str) and value.isdigit() and len(value) < 19:
            return int(value)
    return None


def _meta(obj: Mapping[str, Any]) -> Mapping[str, Any]:
    meta = obj.get("metadata")
    return meta if isinstance(meta, Mapping) else {}


def _first_item(obj: Mapping[str, Any], key: str) -> Mapping[str, Any]:
    container = obj.get(key)
    data = container.get("data") if isinstance(container, Mapping) else None
    if isinstance(data, list) and data and isinstance(data[0], Mapping):
        return data[0]
    return {}


def _price_of_item(item: Mapping[str, Any]) -> str | None:
    price = _id(item.get("price"))
    if price:
        return price
    pricing = item.get("pricing")  # invoice line items since 2025-03-31
    details = pricing.get("price_details") if isinstance(pricing, Mapping) else None
    if isinstance(details, Mapping):
        return _id(details.get("price"))
    return None


def parse_event(event: Mapping[str, Any]) -> Report:
    """Read a verified event payload into a :class:`Report`.

    Raises:
        MalformedEvent: not shaped like a Stripe event, or a handled type whose object is not the
            documented one.
    """
    event_id, kind, created = event.get("id"), event.get("type"), _ts(event.get("created"))
    data = event.get("data")
    obj = data.get("object") if isinstance(data, Mapping) else None
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise MalformedEvent("id: a Stripe event id is required")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        raise MalformedEvent("type: an event type is required")
    if created is None:
        raise MalformedEvent("created: a Unix timestamp is required")
    if not isinstance(obj, Mapping):
        raise MalformedEvent("data.object: the event's object is required")
    base = Report(event_id=event_id, type=kind, created=created)
    if kind not in HANDLED_TYPES:
        return base
    if kind.startswith("customer.subscription."):
        return _subscription_report(base, obj)
    if kind.startswith("invoice."):
        return _invoice_report(base, obj)
    return _checkout_report(base, obj)


def _expect(obj: Mapping[str, Any], kind: str) -> None:
    if obj.get("object") != kind:
        raise MalformedEvent(f"data.object: a {kind} object is expected")


def _subscription_report(base: Report, obj: Mapping[str, Any]) -> Report:
    _expect(obj, "subscription")
    sub_id = _id(obj.get("id"))
    status = obj.get("status")
    if base.type == "customer.subscription.deleted":
        status = "canceled"
    if sub_id is None or status not in KNOWN_STATUSES:
        raise MalformedEvent("data.object: a subscription id and a known status are required")
    item = _first_item(obj, "items")
    period_end = _ts(obj.get("current_period_end")) or _ts(item.get("current_period_end"))
    meta = _meta(obj)
    return Report(
        event_id=base.event_id, type=base.type, created=base.created, customer_id=_id(obj.get("customer")),
        subscription_id=sub_id, status=status, price_id=_price_of_item(item),
        tenant_hint=_tenant(meta.get("tenant_id")), current_period_end=period_end,
    )


def _invoice_report(base: Report, obj: Mapping[str, Any]) -> Report:
    _expect(obj, "invoice")
    parent = obj.get("parent")
    details = parent.get("subscription_details") if isinstance(parent, Mapping) else None
    details = details if isinstance(details, Mapping) else {}
    sub_id = _id(obj.get("subscription")) or _id(details.get("subscription"))
    sub_meta = obj.get("subscription_details")  # older API versions
    meta = details.get("metadata") if isinstance(details.get("metadata"), Mapping) else (
        sub_meta.get("metadata") if isinstance(sub_meta, Mapping) and isinstance(sub_meta.get("metadata"), Mapping) else {}
    )
    line = _first_item(obj, "lines")
    period = line.get("period") if isinstance(line.get("period"), Mapping) else {}
    return Report(
        event_id=base.event_id, type=base.type, created=base.created, customer_id=_id(obj.get("customer")),
        subscription_id=sub_id, status=("active" if base.type == "invoice.paid" else "past_due") if sub_id else None,
        price_id=_price_of_item(line), tenant_hint=_tenant(meta.get("tenant_id")),
        current_period_end=_ts(period.get("end")),
    )


def _checkout_report(base: Report, obj: Mapping[str, Any]) -> Report:
    _expect(obj, "checkout.session")
    meta = _meta(obj)
    sub_id = _id(obj.get("subscription")) if obj.get("mode") == "subscription" else None
    paid = obj.get("payment_status") in ("paid", "no_payment_required") and obj.get("status", "complete") == "complete"
    tier = meta.get("tier") if meta.get("tier") in ("PRO", "CENTER") else None
    return Report(
        event_id=base.event_id, type=base.type, created=base.created, customer_id=_id(obj.get("customer")),
        subscription_id=sub_id, status="active" if (paid and sub_id) else None, tier_hint=tier,
        tenant_hint=_tenant(obj.get("client_reference_id"), meta.get("tenant_id")),
    )


StateKey = tuple[bool, datetime.datetime, int]


def state_key(status: str, created: datetime.datetime) -> StateKey:
    """The ordering key of a reported state: terminal first, then Stripe's timestamp, then lifecycle rank."""
    return (status in TERMINAL, created, STATUS_RANK.get(status, 0))


@dataclass(frozen=True)
class StateReport:
    """One report reduced to what the fold needs: status, its timestamp and the tier it names."""

    status: str
    created: datetime.datetime
    tier: str | None = None
    current_period_end: datetime.datetime | None = None

    @property
    def key(self) -> StateKey:
        return state_key(self.status, self.created)


@dataclass(frozen=True)
class DerivedState:
    """A subscription's state from all its reports.

    Attributes:
        status: the latest status; tier: the latest tier named; key: the latest state's key.
        grace_until: when a lapsed subscription stops giving its tier (None when entitled, or
            when it never entitled anything).
    """

    status: str
    tier: str | None
    key: StateKey
    grace_until: datetime.datetime | None
    current_period_end: datetime.datetime | None

    @property
    def entitled(self) -> bool:
        return self.status in ENTITLED

    def tier_at(self, now: datetime.datetime) -> str | None:
        """The tier this subscription gives at ``now``: its tier while entitled or in grace."""
        if self.entitled or (self.grace_until is not None and now < self.grace_until):
            return self.tier
        return None


def derive(reports: Iterable[StateReport], grace: datetime.timedelta) -> DerivedState | None:
    """Fold a subscription's reports (any order, duplicates allowed); None without any report."""
    items = sorted(set(reports), key=lambda r: (r.key, r.tier or "", r.current_period_end or datetime.datetime.min.replace(tzinfo=datetime.UTC)))
    if not items:
        return None
    latest = items[-1]
    tier = next((r.tier for r in reversed(items) if r.tier), None)
    period_end = next((r.current_period_end for r in reversed(items) if r.current_period_end), None)
    grace_until = None
    if latest.status not in ENTITLED:
        entitled = [r for r in items if r.status in ENTITLED]
        if entitled:
            last_ok = entitled[-1].key
            lapsed = min(r.created for r in items if r.status not in ENTITLED and r.key > last_ok)
            grace_until = lapsed + grace
    return DerivedState(latest.status, tier, latest.key, grace_until, period_end)
