"""Rules of bookings: CONFIRMED -> COMPLETED | CANCELLED, each change with its event.

Owners and assistants book, complete and cancel (guarded at the route); therapists read the
bookings they are the therapist of. A booking needs an active patient who is not blocked (the
Escudo de Seguridad playbook blocks high-risk patients on tiers with ``risk_auto_block``), an
active service, and a therapist (when given) who offers that service. Events: BOOKING_CONFIRMED,
BOOKING_COMPLETED, BOOKING_CANCELLED.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings.models import Booking
from anima.domains.bookings.schemas import BookingCreate, BookingOut
from anima.domains.patients.models import Patient
from anima.domains.catalog.models import Scheduling, Service, service_therapists
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.problems import Conflict, InvalidInput, NotFound
from anima.identity.models import Role

PAST_LIMIT = datetime.timedelta(days=366)


async def to_out(session: AsyncSession, b: Booking) -> BookingOut:
    service = await session.get(Service, b.service_id)
    retreat = service is not None and service.scheduling == Scheduling.FIXED_DATE
    return BookingOut(b.id, b.patient_id, b.service_id, b.therapist_id, b.starts_at, b.status, retreat, b.completed_at, b.cancelled_at, b.created_at)


def _payload(b: Booking) -> dict[str, object]:
    return {"booking_id": str(b.id), "patient_id": str(b.patient_id), "service_id": str(b.service_id),
            "therapist_id": str(b.therapist_id) if b.therapist_id else None}


async def create(session: AsyncSession, user_id: uuid.UUID, data: BookingCreate) -> Booking:
    """Book a patient on a service. Raises InvalidInput (field named) or Conflict (blocked patient)."""
    if data.starts_at.tzinfo is None:
        raise InvalidInput.field("starts_at", "timezone", "give a time zone offset (e.g. 2025-01-31T10:00:00Z)")
    if data.starts_at < datetime.datetime.now(datetime.UTC) - PAST_LIMIT:
        raise InvalidInput.field("starts_at", "range", "a booking starts at most a year in the past")
    patient = await session.get(Patient, data.patient_id)
    if patient is None or patient.archived_at is not None:
        raise InvalidInput.field("patient_id", "active-patient", "no active patient with this id")
    if patient.blocked_at is not None:
        raise Conflict("this patient is blocked from new bookings after a risk alert; an owner reviews it",
                       extra={"reason": "patient-blocked"})
    service = await session.get(Service, data.service_id)
    if service is None or not service.active:
        raise InvalidInput.field("service_id", "active-service", "no active service with this id")
    if data.therapist_id is not None:
        offers = (await session.execute(
            sa.select(service_therapists.c.staff_id).where(
                service_therapists.c.service_id == service.id, service_therapists.c.staff_id == data.therapist_id)
        )).first()
        if offers is None:
            raise InvalidInput.field("therapist_id", "offers-service", "this therapist does not offer the service")
    booking = Booking(id=uuid.uuid4(), patient_id=patient.id, service_id=service.id, therapist_id=data.therapist_id,
                      starts_at=data.starts_at, status="CONFIRMED", created_by=user_id)
    session.add(booking)
    await session.flush()
    await emit(session, EventType.BOOKING_CONFIRMED, _payload(booking), actor_id=user_id)
    await session.refresh(booking)
    return booking


def _visible(role: str, user_id: uuid.UUID) -> list[sa.ColumnElement[bool]]:
    return [Booking.therapist_id == user_id] if role == Role.THERAPIST.value else []


async def get(session: AsyncSession, role: str, user_id: uuid.UUID, booking_id: uuid.UUID) -> Booking:
    row = (await session.execute(sa.select(Booking).where(Booking.id == booking_id, *_visible(role, user_id)))).scalar_one_or_none()
    if row is None:
        raise NotFound("booking not found")
    return row


async def list_bookings(
    session: AsyncSession, role: str, user_id: uuid.UUID, *, limit: int, offset: int,
    status: str | None = None, patient_id: uuid.UUID | None = None,
    starts_from: datetime.datetime | None = None, starts_before: datetime.datetime | None = None,
    ascending: bool = False,
) -> tuple[list[Booking], int]:
    """Bookings the caller may see, newest first (``ascending``: soonest first), with filters.

    ``starts_from``/``starts_before`` bound ``starts_at`` (aware instants, half-open range).
    """
    where = _visible(role, user_id)
    if starts_from is not None:
        where.append(Booking.starts_at >= starts_from)
    if starts_before is not None:
        where.append(Booking.starts_at < starts_before)
    if status:
        where.append(Booking.status == status)
    if patient_id:
        where.append(Booking.patient_id == patient_id)
    total = (await session.execute(sa.select(sa.func.count()).select_from(Booking).where(*where))).scalar_one()
    rows = (await session.execute(sa.select(Booking).where(*where).order_by(Booking.starts_at.asc() if ascending else Booking.starts_at.desc(), Booking.id).limit(limit).offset(offset))).scalars()
    return list(rows), total


async def transition(session: AsyncSession, user_id: uuid.UUID, booking_id: uuid.UUID, target: str) -> Booking:
    """CONFIRMED -> COMPLETED or CANCELLED (409 from any other status); emits its event."""
    booking = await get(session, Role.OWNER.value, user_id, booking_id)
    if booking.status != "CONFIRMED":
        raise Conflict(f"this booking is already {booking.status}", extra={"state": booking.status})
    now = datetime.datetime.now(datetime.UTC)
    booking.status = target
    if target == "COMPLETED":
        booking.completed_at = now
        event = EventType.BOOKING_COMPLETED
    else:
        booking.cancelled_at = now
        event = EventType.BOOKING_CANCELLED
    booking.updated_at = now
    await session.flush()
    await emit(session, event, _payload(booking), actor_id=user_id)
    return booking
