"""Stripe Connect events: verified like billing's, recorded once, applied in any order.

Stripe sends events that happen on connected accounts to a Connect endpoint; each carries the
``account`` it happened on. Processing, in the request's platform transaction:

1. the tenant is found from the account (``platform.connected_accounts``);
2. the event is recorded in ``platform.connect_events`` with ``INSERT … ON CONFLICT (event_id) DO
   NOTHING``; a duplicate (even a concurrent one: the unique index makes the second wait for the
   first commit) changes nothing;
3. ``account.updated`` refreshes the account's state unless a newer one is stored
   (:func:`anima.domains.payments.connect.apply_state`);
4. payment events then enter the tenant in the same transaction
   (:func:`anima.tenancy.scope.enter_tenant`, after every platform write) and apply an
   order-independent outcome to the payment request
   (:func:`anima.domains.payments.services.apply_stripe_outcome`); a package sold online is
   activated by its payment's success (:func:`anima.domains.packages.services.activate_paid_sale`),
   and the issued invoices it settles become PAID (:func:`anima.domains.invoices.services.paid_by_payment`);
5. ``transfer.reversed`` (a platform event about a therapist's share; the transfer's metadata
   names the tenant) folds Stripe's cumulative reversed amount into the booking's share
   (:func:`anima.domains.payments.transfers.apply_reversal`).

The event's record and its effect commit together, or neither does (and Stripe retries).
"""

from __future__ import annotations

import dataclasses
import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.models import ConnectEvent
from anima.domains.payments.connect import apply_state, tenant_of_account
from anima.domains.payments.booking_checkout import after_outcome
from anima.domains.payments.services import StripeOutcome, apply_stripe_outcome
from anima.domains.payments.stripe_connect import ConnectGateway, account_state
from anima.logs import get_logger
from anima.tenancy.scope import enter_tenant

log = get_logger(__name__)

_SUCCESS = {"checkout.session.completed", "checkout.session.async_payment_succeeded", "payment_intent.succeeded"}
_FAILURE = {"checkout.session.async_payment_failed", "payment_intent.payment_failed"}
#: a reversal of a therapist's share (a platform event: the transfer's metadata names the tenant)
TRANSFER_REVERSED = "transfer.reversed"
HANDLED = frozenset({"account.updated", "charge.refunded", TRANSFER_REVERSED} | _SUCCESS | _FAILURE)


class MalformedConnectEvent(ValueError):
    """A signed body that is not a Stripe event of a handled shape (``field: message``)."""


@dataclass(frozen=True)
class ConnectReport:
    """The parts of a Connect event Anima reads."""

    event_id: str
    type: str
    created: datetime.datetime
    account_id: str | None
    obj: dict[str, Any]


def parse_connect_event(event: dict[str, Any]) -> ConnectReport:
    """Read the envelope. Raises MalformedConnectEvent naming the bad field."""
    event_id, kind, created = event.get("id"), event.get("type"), event.get("created")
    if not isinstance(event_id, str) or not event_id or len(event_id) > 255:
        raise MalformedConnectEvent("id: a Stripe event id is required")
    if not isinstance(kind, str) or not kind or len(kind) > 64:
        raise MalformedConnectEvent("type: an event type is required")
    if isinstance(created, bool) or not isinstance(created, int) or not 0 <= created < 32_503_680_000:
        raise MalformedConnectEvent("created: a Unix timestamp is required")
    account = event.get("account")
    if account is not None and (not isinstance(account, str) or len(account) > 255):
        raise MalformedConnectEvent("account: a Stripe account id is expected")
    data = event.get("data")
    obj = data.get("object") if isinstance(data, dict) else None
    if not isinstance(obj, dict):
        raise MalformedConnectEvent("data.object: an object is required")
    return ConnectReport(event_id, kind, datetime.datetime.fromtimestamp(created, datetime.UTC), account, obj)


def _payment_id(obj: dict[str, Any]) -> uuid.UUID | None:
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    raw = metadata.get("payment_id") or obj.get("client_reference_id")
    try:
        return uuid.UUID(str(raw)) if raw else None
    except ValueError:
        return None


def _text(value: Any) -> str | None:
    return value[:255] if isinstance(value, str) and value else None


def outcome_of(report: ConnectReport) -> StripeOutcome | None:
    """The payment outcome a payment event reports, or None (not about a payment of ours)."""
    obj, kind, account = report.obj, report.type, report.account_id or ""
    intent = _text(obj.get("payment_intent")) if obj.get("object") != "payment_intent" else _text(obj.get("id"))
    if kind == "checkout.session.completed":
        if obj.get("mode") != "payment" or obj.get("payment_status") not in ("paid", "no_payment_required"):
            return None
        return StripeOutcome(_payment_id(obj), "succeeded", account, intent)
    if kind in _SUCCESS:
        return StripeOutcome(_payment_id(obj), "succeeded", account, intent)
    if kind in _FAILURE:
        error = obj.get("last_payment_error") if isinstance(obj.get("last_payment_error"), dict) else {}
        return StripeOutcome(_payment_id(obj), "failed", account, intent, reason=_text(error.get("message")))
    if kind == "charge.refunded":
        refunded = obj.get("amount_refunded")
        if isinstance(refunded, bool) or not isinstance(refunded, int) or refunded < 0:
            raise MalformedConnectEvent("data.object.amount_refunded: a non-negative integer is required")
        return StripeOutcome(_payment_id(obj), "refunded", account, intent, amount_refunded=refunded)
    return None


async def _record(
    session: AsyncSession, report: ConnectReport, tenant_id: int | None, outcome: str, payment: StripeOutcome | None,
) -> bool:
    inserted = await session.execute(
        insert(ConnectEvent).values(
            id=uuid.uuid4(), event_id=report.event_id, type=report.type, stripe_account_id=report.account_id,
            tenant_id=tenant_id, event_created=report.created, outcome=outcome,
            payment_intent_id=payment.payment_intent if payment else None,
            amount_refunded=payment.amount_refunded if payment and payment.kind == "refunded" else None,
        ).on_conflict_do_nothing(index_elements=["event_id"]).returning(ConnectEvent.id)
    )
    return inserted.first() is not None


async def _transfer_reversed(session: AsyncSession, report: ConnectReport) -> str:
    """Record a ``transfer.reversed`` event once and fold it into the booking's share
    (:func:`anima.domains.payments.transfers.apply_reversal`) in the tenant its metadata names."""
    from anima.domains.payments.transfers import apply_reversal, reversal_report
    from anima.tenancy.models import Tenant

    try:
        seen = reversal_report(report.obj)
    except ValueError as exc:
        raise MalformedConnectEvent(str(exc)) from None
    tenant_id = await session.scalar(sa.select(Tenant.id).where(Tenant.id == seen.tenant_id)) if seen.tenant_id else None
    if not await _record(session, report, tenant_id, "processed" if tenant_id else "unmatched", None):
        return "duplicate"
    if tenant_id is None or await enter_tenant(session, tenant_id) is None:
        return "unmatched"
    result = await apply_reversal(session, seen)
    log.info("transfer reversal event", event_id=report.event_id, tenant_id=tenant_id, result=result)
    return "processed"


async def process_connect_event(
    session: AsyncSession, event: dict[str, Any], settings: Any = None, *, gateway: ConnectGateway | None = None
) -> str:
    """Apply one verified Connect event (see the module docstring) in ``session``, a platform
    transaction that this may leave entered into the tenant; the caller commits. With the
    deployment's ``settings``, a refund of a completed booking's payment also takes back what it
    removes from the therapist's transferred share (:func:`anima.domains.payments.transfers.after_stripe_refund`).
    ``gateway`` refunds a booking's payment that arrived after its hold lapsed
    (:func:`anima.domains.payments.booking_checkout.after_outcome`).

    Returns ``processed``, ``duplicate``, ``ignored`` or ``unmatched``.

    Raises:
        MalformedConnectEvent: the payload is not a Stripe event of a handled shape.
    """
    report = parse_connect_event(event)
    if report.type not in HANDLED:
        return "ignored"
    if report.type == TRANSFER_REVERSED:
        return await _transfer_reversed(session, report)
    tenant_id = await tenant_of_account(session, report.account_id) if report.account_id else None
    if report.type == "account.updated":
        try:
            state = account_state(report.obj)
        except ValueError as exc:
            raise MalformedConnectEvent(str(exc)) from None
        tenant_id = tenant_id or await tenant_of_account(session, state.account_id)
    outcome = None if report.type == "account.updated" else outcome_of(report)
    if not await _record(session, report, tenant_id, "processed" if tenant_id else "unmatched", outcome):
        return "duplicate"
    if tenant_id is None:
        log.warning("connect event for no known account", event_type=report.type, event_id=report.event_id)
        return "unmatched"
    if report.type == "account.updated":
        await apply_state(session, tenant_id, state, report.created)
    elif outcome is not None:
        from anima.domains.invoices.services import paid_by_payment
        from anima.domains.packages.services import activate_paid_sale

        if outcome.payment_intent:  # every refund seen for this charge, whatever arrived first
            refunded = await session.scalar(
                sa.select(sa.func.max(ConnectEvent.amount_refunded)).where(ConnectEvent.payment_intent_id == outcome.payment_intent)
            )
            outcome = dataclasses.replace(outcome, amount_refunded=max(outcome.amount_refunded, refunded or 0))

        if await enter_tenant(session, tenant_id) is None:
            return "unmatched"
        result = await apply_stripe_outcome(session, outcome)
        if outcome.kind == "refunded" and result == "applied" and settings is not None:
            from anima.domains.payments.transfers import after_stripe_refund

            await after_stripe_refund(session, settings, outcome.payment_intent, tenant_id=tenant_id)
        if outcome.kind == "succeeded" and outcome.payment_id is not None:
            await activate_paid_sale(session, outcome.payment_id)
            await paid_by_payment(session, outcome.payment_id)
        await after_outcome(session, gateway, outcome, report.obj)
        log.info("connect payment event", event_type=report.type, event_id=report.event_id, tenant_id=tenant_id, result=result)
    return "processed"
