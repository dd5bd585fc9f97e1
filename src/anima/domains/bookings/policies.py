"""Cancellation policies and the charges they record (service functions).

The organization has one policy (``org_default``) and a service may override it; without either
nothing is charged. A **late cancellation** is a CONFIRMED booking cancelled by the client less
than ``window_hours`` before its start; a **no-show** is a CONFIRMED booking marked NO_SHOW. Each
costs NONE, FIXED (minor units in the service's currency), SHARE (basis points of the price: the
occurrence's price override, else the service's) or CREDIT (package credits). The cost is
recorded as a ``booking_charges`` row TO_COLLECT — at most one per booking (a unique constraint,
so a retried request never charges twice); collecting it belongs to payments.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings.models import Booking, BookingCharge, CancellationPolicy, Occurrence
from anima.domains.bookings.schemas import ChargeOut, PolicyBody, PolicyOut
from anima.domains.catalog.models import Service
from anima.events.due_work import WorkKind, note_due
from anima.problems import InvalidInput

#: the whole price in basis points
ALL_BP = 10_000


def _out(p: CancellationPolicy | None, service_id: uuid.UUID | None) -> PolicyOut:
    if p is None:
        return PolicyOut(service_id, 24, "NONE", 0, "NONE", 0)
    return PolicyOut(p.service_id, p.window_hours, p.late_cancel_kind, p.late_cancel_value, p.no_show_kind, p.no_show_value)


def _check(data: PolicyBody) -> None:
    for kind, value, field in ((data.late_cancel_kind, data.late_cancel_value, "late_cancel_value"),
                               (data.no_show_kind, data.no_show_value, "no_show_value")):
        if kind == "SHARE" and value > ALL_BP:
            raise InvalidInput.field(field, "share", "a share is at most 10000 basis points (the whole price)")
        if kind == "CREDIT" and value > 1000:
            raise InvalidInput.field(field, "credits", "at most 1000 credits")
        if kind == "NONE" and value != 0:
            raise InvalidInput.field(field, "none-is-zero", "a NONE cost has value 0")


async def get_policy(session: AsyncSession, service_id: uuid.UUID | None) -> PolicyOut:
    """The policy of the organization (``service_id`` None) or the service's own, else defaults."""
    where = CancellationPolicy.org_default.is_(True) if service_id is None else CancellationPolicy.service_id == service_id
    row = (await session.execute(sa.select(CancellationPolicy).where(where))).scalar_one_or_none()
    return _out(row, service_id)


async def set_policy(session: AsyncSession, service_id: uuid.UUID | None, data: PolicyBody) -> PolicyOut:
    """Create or replace the organization's policy (``service_id`` None) or a service's override.

    Raises InvalidInput (values; service_id)."""
    _check(data)
    if service_id is not None and await session.get(Service, service_id) is None:
        raise InvalidInput.field("service_id", "exists", "no service with this id")
    values = {"window_hours": data.window_hours, "late_cancel_kind": data.late_cancel_kind, "late_cancel_value": data.late_cancel_value,
              "no_show_kind": data.no_show_kind, "no_show_value": data.no_show_value, "updated_at": sa.func.now()}
    stmt = insert(CancellationPolicy).values(id=uuid.uuid4(), service_id=service_id, org_default=service_id is None, **values)
    if service_id is None:
        stmt = stmt.on_conflict_do_update(index_elements=["org_default"], index_where=sa.text("org_default"), set_=values)
    else:
        stmt = stmt.on_conflict_do_update(index_elements=["service_id"], index_where=sa.text("service_id IS NOT NULL"), set_=values)
    await session.execute(stmt)
    return await get_policy(session, service_id)


async def policy_for(session: AsyncSession, service_id: uuid.UUID) -> CancellationPolicy | None:
    """The policy that applies to a service: its override, else the organization's, else None."""
    rows = (await session.execute(sa.select(CancellationPolicy).where(
        sa.or_(CancellationPolicy.service_id == service_id, CancellationPolicy.org_default.is_(True))))).scalars().all()
    return next((p for p in rows if p.service_id == service_id), rows[0] if rows else None)


async def _price(session: AsyncSession, booking: Booking) -> tuple[int, str]:
    service = await session.get(Service, booking.service_id)
    assert service is not None
    if booking.occurrence_id is not None:
        occurrence = await session.get(Occurrence, booking.occurrence_id)
        if occurrence is not None and occurrence.price_minor is not None:
            return occurrence.price_minor, service.currency
    return service.price_minor, service.currency


async def _record(session: AsyncSession, booking: Booking, reason: str, kind: str, value: int) -> BookingCharge | None:
    if kind == "NONE":
        return None
    price, currency = await _price(session, booking)
    amount = value if kind == "FIXED" else (price * value // ALL_BP if kind == "SHARE" else 0)
    stmt = insert(BookingCharge).values(
        id=uuid.uuid4(), booking_id=booking.id, patient_id=booking.patient_id, reason=reason, cost_kind=kind, amount_minor=amount,
        currency=currency if kind != "CREDIT" else None, credits=value if kind == "CREDIT" else 0, status="TO_COLLECT",
    ).on_conflict_do_nothing(constraint="uq_booking_charges_booking").returning(BookingCharge.id)
    charge_id = (await session.execute(stmt)).scalar()
    if charge_id and kind in ("FIXED", "SHARE") and amount > 0:
        await note_due(session, WorkKind.TICK)  # payments collect it in the next tick
    return await session.get(BookingCharge, charge_id) if charge_id else None


async def charge_if_late(session: AsyncSession, booking: Booking, *, now: datetime.datetime) -> BookingCharge | None:
    """Record the late-cancellation cost when ``now`` is inside the window before the start."""
    policy = await policy_for(session, booking.service_id)
    if policy is None or booking.starts_at - now >= datetime.timedelta(hours=policy.window_hours):
        return None
    return await _record(session, booking, "LATE_CANCEL", policy.late_cancel_kind, policy.late_cancel_value)


async def charge_no_show(session: AsyncSession, booking: Booking) -> BookingCharge | None:
    """Record the no-show cost of the policy that applies (once per booking)."""
    policy = await policy_for(session, booking.service_id)
    if policy is None:
        return None
    return await _record(session, booking, "NO_SHOW", policy.no_show_kind, policy.no_show_value)


async def charges(session: AsyncSession, *, booking_id: uuid.UUID | None = None, limit: int = 50, offset: int = 0) -> tuple[list[ChargeOut], int]:
    """Recorded charges, newest first (optionally of one booking)."""
    where = [BookingCharge.booking_id == booking_id] if booking_id else []
    total = (await session.execute(sa.select(sa.func.count()).select_from(BookingCharge).where(*where))).scalar_one()
    rows = (await session.execute(sa.select(BookingCharge).where(*where).order_by(BookingCharge.created_at.desc(), BookingCharge.id)
                                  .limit(limit).offset(offset))).scalars()
    return [ChargeOut(c.id, c.booking_id, c.patient_id, c.reason, c.cost_kind, c.amount_minor, c.currency, c.credits, c.status,
                      c.created_at) for c in rows], total
