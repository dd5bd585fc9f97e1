"""Therapists' shares through Stripe Connect transfers, one record per completed booking.

When a booking is COMPLETED, the follow-up job :func:`transfer_therapist_share` (keyed by the
event) works out the therapist's share of what was collected for it — the booking's SUCCEEDED
payment requests, less their refunds, times the therapist's ``share_bps`` (rounded down) — and
records it in ``booking_transfers`` (one row per booking, the share frozen at the first record):

* payout ``outside``: the practice pays the therapist outside Anima → status ``outside``;
* payout ``connect``: a ``stripe.Transfer`` from the platform to the therapist's connected account
  (``destination``), ``transfer_group`` ``anima-booking-{booking_id}``, idempotency key
  ``anima-transfer-{booking_id}`` → ``transferred``; the row is first written ``pending`` in a
  transaction of its own, so a failed call leaves it pending and the job's retry finds it; a
  retry after a call that succeeded gets Stripe's first answer back (same key), never a second
  transfer.

Never before completion: a booking in another state is skipped. When what was collected shrinks
after the transfer (an owner's refund of a completed booking: :func:`reconcile` runs in the
refund's transaction), the difference is reversed (``stripe.TransferReversal``, key
``anima-transfer-reversal-{booking_id}-{n}``); everything reversed → ``returned``.

The practice's card payments are direct charges on its own account, so there is no platform
charge to name as ``source_transaction``: the transfer draws on the platform's balance and is
tied to the booking by ``transfer_group`` and metadata.
"""

from __future__ import annotations

import datetime
import uuid
from dataclasses import dataclass
from typing import Any

import sqlalchemy as sa
import stripe
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.billing.stripe_client import PaymentProviderError
from anima.domains.bookings.models import Booking
from anima.domains.payments.models import BookingTransfer, PaymentRequest, TherapistPayout
from anima.jobs.runner import job_function, tenant_transaction
from anima.logs import get_logger
from anima.runtime import runtime_of

log = get_logger(__name__)


class TransferGateway:
    """Transfers and their reversals on the platform's own Stripe account (the real SDK client)."""

    def __init__(self, client: stripe.StripeClient) -> None:
        self.client = client

    async def transfer(self, *, amount_minor: int, currency: str, destination: str, transfer_group: str,
                       idempotency_key: str, metadata: dict[str, str]) -> str:
        """Move ``amount_minor`` of ``currency`` to ``destination``; returns the transfer id.
        Raises PaymentProviderError (502) when Stripe refuses."""
        try:
            made = await self.client.v1.transfers.create_async(
                {"amount": amount_minor, "currency": currency.lower(), "destination": destination,
                 "transfer_group": transfer_group, "metadata": metadata},
                {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the transfer: {exc.user_message or type(exc).__name__}") from None
        return made.id

    async def reverse(self, *, transfer_id: str, amount_minor: int, idempotency_key: str, metadata: dict[str, str]) -> str:
        """Take ``amount_minor`` of a transfer back; returns the reversal id. Raises PaymentProviderError."""
        try:
            made = await self.client.v1.transfers.reversals.create_async(
                transfer_id, {"amount": amount_minor, "metadata": metadata}, {"idempotency_key": idempotency_key},
            )
        except stripe.StripeError as exc:
            raise PaymentProviderError(f"Stripe refused the reversal: {exc.user_message or type(exc).__name__}") from None
        return made.id


def transfer_gateway_for(settings: Any) -> TransferGateway | None:
    """The deployment's transfer gateway, or None without the Stripe settings."""
    if not settings.payments_configured:
        return None
    from anima.billing.stripe_client import gateway_for

    return TransferGateway(gateway_for(settings).client)


@dataclass(frozen=True)
class Collected:
    """What a booking's succeeded payments brought in, in one currency, less refunds (minor units)."""

    currency: str
    net_minor: int


async def collected_for(session: AsyncSession, booking_id: uuid.UUID) -> Collected | None:
    """The booking's succeeded payments less refunds, in the currency of its largest payment (a
    booking is priced in one currency; others, if any, are not counted). None when nothing was paid."""
    rows = (await session.execute(
        sa.select(PaymentRequest.currency, sa.func.sum(PaymentRequest.amount_minor - PaymentRequest.refunded_minor),
                  sa.func.max(PaymentRequest.amount_minor))
        .where(PaymentRequest.booking_id == booking_id, PaymentRequest.status == "SUCCEEDED")
        .group_by(PaymentRequest.currency).order_by(sa.func.max(PaymentRequest.amount_minor).desc(), PaymentRequest.currency)
    )).all()
    if not rows:
        return None
    return Collected(rows[0][0], int(rows[0][1]))


def share_of(net_minor: int, share_bps: int) -> int:
    """``net_minor × share_bps / 10,000``, rounded down (never negative)."""
    return max(0, net_minor) * share_bps // 10_000


async def record(session: AsyncSession, booking_id: uuid.UUID) -> BookingTransfer | None:
    """Write (or refresh) the booking's share, ``pending`` until sent; None when the booking is not
    COMPLETED, nothing was collected, or its therapist has no payout setting."""
    booking = await session.get(Booking, booking_id)
    if booking is None or booking.status != "COMPLETED" or booking.therapist_id is None:
        return None
    collected = await collected_for(session, booking_id)
    payout = await session.get(TherapistPayout, booking.therapist_id)
    if collected is None or payout is None:
        return None
    await session.execute(pg_insert(BookingTransfer).values(
        booking_id=booking_id, therapist_id=booking.therapist_id, currency=collected.currency, share_bps=payout.share_bps,
        status="outside" if payout.mode == "outside" else "pending", destination=payout.stripe_account_id,
    ).on_conflict_do_nothing(index_elements=["booking_id"]))
    row = (await session.execute(
        sa.select(BookingTransfer).where(BookingTransfer.booking_id == booking_id).with_for_update()
    )).scalar_one()
    due = share_of(collected.net_minor, row.share_bps) if collected.currency == row.currency else 0
    if row.due_minor != due:
        row.due_minor, row.updated_at = due, datetime.datetime.now(datetime.UTC)
    await session.flush()
    return row


async def reconcile(session: AsyncSession, gateway: TransferGateway | None, booking_id: uuid.UUID, *, tenant_id: int) -> dict[str, Any]:
    """Bring the booking's transfer in line with its share (see the module docstring): transfer it
    when none was made, reverse what exceeds it. Without ``gateway`` only records. The transfer's
    metadata names ``tenant_id``, ``booking_id`` and ``therapist_id`` (so its webhooks find the
    row). Returns what was done (``status``, ``transferred``, ``reversed``)."""
    row = await record(session, booking_id)
    if row is None:
        return {"skipped": "not a completed, paid booking of a therapist with a payout setting"}
    metadata = {"tenant_id": str(tenant_id), "booking_id": str(booking_id), "therapist_id": str(row.therapist_id)}
    done: dict[str, Any] = {}
    if row.status == "pending" and row.amount_minor == 0 and row.due_minor > 0 and gateway is not None and row.destination:
        row.stripe_transfer_id = await gateway.transfer(
            amount_minor=row.due_minor, currency=row.currency, destination=row.destination,
            transfer_group=f"anima-booking-{booking_id}", idempotency_key=f"anima-transfer-{booking_id}", metadata=metadata,
        )
        row.amount_minor, row.status = row.due_minor, "transferred"
        done["transferred"] = row.amount_minor
    elif row.status == "transferred" and row.amount_minor - row.reversed_minor > row.due_minor and gateway is not None:
        back = row.amount_minor - row.reversed_minor - row.due_minor
        await gateway.reverse(transfer_id=row.stripe_transfer_id or "", amount_minor=back,
                              idempotency_key=f"anima-transfer-reversal-{booking_id}-{row.reversals + 1}", metadata=metadata)
        row.reversals += 1
        row.reversed_minor += back
        row.status = "returned" if row.reversed_minor == row.amount_minor else "transferred"
        done["reversed"] = back
    row.updated_at = datetime.datetime.now(datetime.UTC)
    await session.flush()
    return {"status": row.status, **done}


@dataclass(frozen=True)
class ReversalReport:
    """What a ``transfer.reversed`` event says: the tenant and booking (from the transfer's
    metadata), the transfer, and Stripe's cumulative ``amount_reversed``."""

    tenant_id: int | None
    booking_id: uuid.UUID | None
    transfer_id: str
    amount_reversed: int


def reversal_report(obj: dict[str, Any]) -> ReversalReport:
    """Read a Transfer object of a ``transfer.reversed`` event. Raises ValueError (``field: message``)."""
    if obj.get("object") != "transfer" or not isinstance(obj.get("id"), str) or not obj["id"] or len(obj["id"]) > 255:
        raise ValueError("data.object: a Stripe transfer is required")
    reversed_total = obj.get("amount_reversed")
    if isinstance(reversed_total, bool) or not isinstance(reversed_total, int) or reversed_total < 0:
        raise ValueError("data.object.amount_reversed: a non-negative integer is required")
    metadata = obj.get("metadata") if isinstance(obj.get("metadata"), dict) else {}
    raw_tenant, raw_booking = str(metadata.get("tenant_id") or ""), str(metadata.get("booking_id") or "")
    try:
        booking = uuid.UUID(raw_booking) if raw_booking else None
    except ValueError:
        booking = None
    tenant = int(raw_tenant) if raw_tenant.isdigit() and len(raw_tenant) < 10 else None
    return ReversalReport(tenant, booking, obj["id"], reversed_total)


async def apply_reversal(session: AsyncSession, report: ReversalReport) -> str:
    """Fold a reversal Stripe reports (one made here, or in Stripe's dashboard) into the booking's
    row, in the tenant's transaction: ``reversed_minor`` only grows (Stripe's total is cumulative,
    so events may come in any order or twice), ``returned`` once all of it is back. Returns
    ``applied`` or ``unchanged`` (unknown booking or another transfer)."""
    if report.booking_id is None:
        return "unchanged"
    row = (await session.execute(
        sa.select(BookingTransfer).where(BookingTransfer.booking_id == report.booking_id).with_for_update()
    )).scalar_one_or_none()
    if row is None or row.stripe_transfer_id != report.transfer_id:
        return "unchanged"
    total = min(row.amount_minor, max(row.reversed_minor, report.amount_reversed))
    if total == row.reversed_minor:
        return "unchanged"
    row.reversed_minor = total
    row.status = "returned" if total == row.amount_minor else row.status
    row.updated_at = datetime.datetime.now(datetime.UTC)
    await session.flush()
    return "applied"


@job_function
async def transfer_therapist_share(ctx: dict[str, Any], *, tenant_id: int, booking_id: str | None = None) -> dict[str, Any]:
    """The follow-up job of ``BOOKING_COMPLETED``: records the share (its own transaction), then
    transfers it (a second one); a retry transfers nothing twice (see the module docstring)."""
    if not booking_id:
        return {"skipped": "no booking"}
    key = uuid.UUID(booking_id)
    async with tenant_transaction(ctx, tenant_id) as tj:
        recorded = await record(tj.session, key)
    if recorded is None:
        return {"skipped": "nothing to transfer"}
    gateway = transfer_gateway_for(runtime_of(ctx).settings)
    async with tenant_transaction(ctx, tenant_id) as tj:
        outcome = await reconcile(tj.session, gateway, key, tenant_id=tenant_id)
    log.info("therapist share", booking_id=booking_id, **outcome)
    return outcome


async def transfers_list(session: AsyncSession, *, therapist_id: uuid.UUID | None = None, limit: int = 50, offset: int = 0) -> tuple[list[BookingTransfer], int]:
    """Recorded shares, newest first (one therapist's when ``therapist_id`` is given)."""
    where = [BookingTransfer.therapist_id == therapist_id] if therapist_id is not None else []
    total = await session.scalar(sa.select(sa.func.count()).select_from(BookingTransfer).where(*where))
    rows = await session.execute(sa.select(BookingTransfer).where(*where)
                                 .order_by(BookingTransfer.created_at.desc(), BookingTransfer.booking_id).limit(limit).offset(offset))
    return list(rows.scalars()), int(total or 0)


async def after_refund(session: AsyncSession, cipher: Any, settings: Any, refund: Any, *, org_name: str, tenant_id: int) -> None:
    """What an owner's refund sets off in its transaction: the patient's refund notice
    (:func:`anima.domains.payments.receipts.queue_refund_notice`) and, for a completed booking
    whose share was transferred, the reversal of what the refund takes off the share
    (:func:`reconcile`; raises PaymentProviderError when Stripe refuses, so the refund is retried whole)."""
    from anima.domains.payments.receipts import queue_refund_notice

    await queue_refund_notice(session, cipher, refund, org_name=org_name)
    booking_id = await session.scalar(sa.select(PaymentRequest.booking_id).where(PaymentRequest.id == refund.payment_id))
    if booking_id is not None:
        await reconcile(session, transfer_gateway_for(settings), booking_id, tenant_id=tenant_id)


async def after_stripe_refund(session: AsyncSession, settings: Any, payment_intent: str | None, *, tenant_id: int) -> None:
    """A refund Stripe reported (``charge.refunded``, e.g. made in the practice's dashboard), in the
    tenant's transaction: the share of the booking the refunded payment was for is reconciled
    (:func:`reconcile`), so what the refund takes off it is reversed."""
    if not payment_intent:
        return
    booking_id = await session.scalar(sa.select(PaymentRequest.booking_id).where(PaymentRequest.payment_intent_id == payment_intent))
    if booking_id is not None:
        await reconcile(session, transfer_gateway_for(settings), booking_id, tenant_id=tenant_id)
