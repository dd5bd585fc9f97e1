"""Bookings held while their client pays online: the bookings side of paying for a booking.

Payments (:mod:`anima.domains.payments.booking_checkout`) change bookings only through these
functions. A booking that needs an online payment is HELD with its payment request's id
(:func:`attach_payment`); the payment's success confirms it (:func:`confirm_paid`) while the hold
lives; a hold that lapsed first stays EXPIRED and the payment is refunded by the caller.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings import services
from anima.domains.bookings.models import Booking, BookingCharge
from anima.problems import Conflict, NotFound

#: the booking states in which a paid hold was used (confirmed by its payment, then lived on)
_USED = ("CONFIRMED", "COMPLETED", "NO_SHOW")
#: who confirms a paid booking in the engine: no user, the front desk's reach
_PAYMENT_CALLER = services.Caller(None, "ASSISTANT")  # type: ignore[arg-type]


async def attach_payment(session: AsyncSession, booking_id: uuid.UUID, payment_id: uuid.UUID) -> None:
    """Note on a HELD booking the payment request that confirms it. Raises NotFound, Conflict (not HELD)."""
    booking = (await session.execute(sa.select(Booking).where(Booking.id == booking_id).with_for_update())).scalar_one_or_none()
    if booking is None:
        raise NotFound("booking not found")
    if booking.status != "HELD":
        raise Conflict(f"this booking is {booking.status}", extra={"state": booking.status})
    booking.payment_id = payment_id
    await session.flush()


async def confirm_paid(session: AsyncSession, booking_id: uuid.UUID, payment_id: uuid.UUID, *,
                       now: datetime.datetime | None = None) -> str:
    """The payment ``payment_id`` succeeded: confirm its HELD booking while the hold lives.

    Returns ``confirmed`` (this call confirmed it), ``already`` (confirmed before by the same
    payment: a duplicate or second success event), ``lapsed`` (the hold expired or the booking was
    cancelled: the caller refunds) or ``not-held`` (no booking waits for this payment: a fee's, say).
    Idempotent.
    """
    now = now or services.utcnow()
    booking = (await session.execute(sa.select(Booking).where(Booking.id == booking_id).with_for_update())).scalar_one_or_none()
    if booking is None or booking.payment_id != payment_id:
        return "not-held"
    if booking.status in _USED:
        return "already"
    if booking.status != "HELD" or booking.expires_at is None or booking.expires_at <= now:
        if booking.status == "HELD":
            booking.status, booking.updated_at = "EXPIRED", now
            await session.flush()
        return "lapsed"
    await services.confirm(session, _PAYMENT_CALLER, booking.id, now=now)
    return "confirmed"


async def lapsed(session: AsyncSession, booking_ids: list[uuid.UUID], *, now: datetime.datetime | None = None) -> set[uuid.UUID]:
    """The payment ids of those of ``booking_ids`` that no longer wait for the payment that held
    them: EXPIRED, CANCELLED, or HELD with the hold passed (which this marks EXPIRED first)."""
    if not booking_ids:
        return set()
    await services.expire_lapsed_holds(session, now)
    rows = await session.execute(sa.select(Booking.payment_id).where(
        Booking.id.in_(booking_ids), Booking.payment_id.is_not(None), Booking.status.in_(("EXPIRED", "CANCELLED"))))
    return set(rows.scalars())


async def charges_to_collect(session: AsyncSession, *, limit: int = 100) -> list[BookingCharge]:
    """Late-cancellation and no-show charges in money (FIXED or SHARE, above 0) still TO_COLLECT
    and not yet given to a payment, oldest first."""
    rows = await session.execute(
        sa.select(BookingCharge).where(BookingCharge.status == "TO_COLLECT", BookingCharge.payment_id.is_(None),
                                       BookingCharge.cost_kind.in_(("FIXED", "SHARE")), BookingCharge.amount_minor > 0)
        .order_by(BookingCharge.created_at, BookingCharge.id).limit(limit).with_for_update(skip_locked=True))
    return list(rows.scalars())


async def charge_given_to(session: AsyncSession, charge_id: uuid.UUID, payment_id: uuid.UUID, *, collected: bool) -> None:
    """Note the payment that collects a charge (once); ``collected``: it was paid already."""
    charge = await session.get(BookingCharge, charge_id)
    if charge is None:
        raise NotFound("charge not found")
    charge.payment_id = payment_id
    if collected:
        charge.status = "COLLECTED"
    await session.flush()


async def charge_paid(session: AsyncSession, payment_id: uuid.UUID) -> bool:
    """The payment of a charge's pay link succeeded: the charge is COLLECTED. Returns whether one was."""
    result = await session.execute(sa.update(BookingCharge).where(BookingCharge.payment_id == payment_id,
                                                                  BookingCharge.status == "TO_COLLECT").values(status="COLLECTED"))
    return bool(result.rowcount)
