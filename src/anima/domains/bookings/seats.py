"""Occurrences, their seats and waitlists (service functions).

An occurrence is a dated session of a FIXED_DATE or GROUP service with ``capacity`` seats. Every
change to its seats — booking one, joining the waitlist, claiming or expiring an offer, freeing a
seat — first takes a **row lock of the occurrence** (``SELECT … FOR UPDATE``), so they run one at
a time per occurrence and the count is right at every moment:

    active seats (HELD or CONFIRMED bookings) + live offers  <=  capacity

A live offer holds its seat until it expires. A full occurrence takes a waitlist in order
(``created_at``); when a seat frees, the first WAITING entry gets an offer that expires after
``OFFER_HOURS`` (WAITLIST_OFFERED); claiming it books the seat once; a lapsed offer is EXPIRED and
its seat offered to the next in line — by the tenant tick (:func:`sweep_lapsed`; each offer notes
its expiry as tick work) or sooner, lazily, by any change to the occurrence under the same lock.
"""

from __future__ import annotations

import datetime
import uuid

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings.models import ACTIVE, Booking, Occurrence, WaitlistEntry
from anima.domains.bookings.schemas import OccurrenceCreate, OccurrenceOut, WaitlistOut
from anima.domains.catalog.models import Scheduling, Service, ServiceKind
from anima.events.due_work import WorkKind, note_due
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.problems import Conflict, InvalidInput, NotFound

#: how long a waitlist offer lives (hours)
OFFER_HOURS = 12


def utcnow() -> datetime.datetime:
    """The present, aware (UTC)."""
    return datetime.datetime.now(datetime.UTC)


async def create_occurrence(session: AsyncSession, data: OccurrenceCreate) -> OccurrenceOut:
    """Schedule an occurrence of a FIXED_DATE or GROUP service.

    Raises InvalidInput: service_id (kind), starts_at/ends_at (offset, order, range), capacity
    (needed when the service has none), therapist_id (does not offer it)."""
    from anima.domains.bookings.services import aware, active_service, therapists_of

    service = await active_service(session, data.service_id)
    if service.scheduling != Scheduling.FIXED_DATE and service.kind != ServiceKind.GROUP:
        raise InvalidInput.field("service_id", "occurrence-service", "occurrences are for FIXED_DATE or GROUP services")
    starts_at, ends_at = aware("starts_at", data.starts_at), aware("ends_at", data.ends_at)
    now = utcnow()
    if not (now - datetime.timedelta(days=366) <= starts_at <= now + datetime.timedelta(days=731)):
        raise InvalidInput.field("starts_at", "range", "from a year ago to two years ahead")
    if ends_at <= starts_at or ends_at - starts_at > datetime.timedelta(days=60):
        raise InvalidInput.field("ends_at", "after-start", "after starts_at, within 60 days")
    capacity = data.capacity or service.capacity
    if capacity is None:
        raise InvalidInput.field("capacity", "required", "this service has no capacity: give the occurrence's")
    if data.therapist_id is not None and data.therapist_id not in await therapists_of(session, service.id):
        raise InvalidInput.field("therapist_id", "offers-service", "this therapist does not offer the service")
    occurrence = Occurrence(id=uuid.uuid4(), service_id=service.id, therapist_id=data.therapist_id, starts_at=starts_at,
                            ends_at=ends_at, location=data.location, capacity=capacity, price_minor=data.price_minor, status="SCHEDULED")
    session.add(occurrence)
    await session.flush()
    return await to_out(session, occurrence)


async def _counts(session: AsyncSession, occurrence_id: uuid.UUID, now: datetime.datetime) -> tuple[int, int, int]:
    taken = (await session.execute(sa.select(sa.func.count()).select_from(Booking).where(
        Booking.occurrence_id == occurrence_id,
        sa.or_(Booking.status == "CONFIRMED", sa.and_(Booking.status == "HELD", Booking.expires_at > now))))).scalar_one()
    offered = (await session.execute(sa.select(sa.func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.occurrence_id == occurrence_id, WaitlistEntry.status == "OFFERED", WaitlistEntry.offer_expires_at > now))).scalar_one()
    waiting = (await session.execute(sa.select(sa.func.count()).select_from(WaitlistEntry).where(
        WaitlistEntry.occurrence_id == occurrence_id, WaitlistEntry.status == "WAITING"))).scalar_one()
    return taken, offered, waiting


async def to_out(session: AsyncSession, o: Occurrence, now: datetime.datetime | None = None) -> OccurrenceOut:
    """An occurrence with its price (override or the service's) and seats taken, offered, waiting."""
    service = await session.get(Service, o.service_id)
    assert service is not None
    taken, offered, waiting = await _counts(session, o.id, now or utcnow())
    return OccurrenceOut(o.id, o.service_id, o.therapist_id, o.starts_at, o.ends_at, o.location, o.capacity,
                         o.price_minor if o.price_minor is not None else service.price_minor, service.currency, o.status,
                         taken, offered, waiting)


async def list_occurrences(session: AsyncSession, *, service_id: uuid.UUID | None, limit: int, offset: int) -> tuple[list[OccurrenceOut], int]:
    """Occurrences, soonest first, with their seat counts."""
    where = [Occurrence.service_id == service_id] if service_id else []
    total = (await session.execute(sa.select(sa.func.count()).select_from(Occurrence).where(*where))).scalar_one()
    rows = (await session.execute(sa.select(Occurrence).where(*where).order_by(Occurrence.starts_at, Occurrence.id).limit(limit).offset(offset))).scalars()
    return [await to_out(session, o) for o in rows], total


async def _locked(session: AsyncSession, occurrence_id: uuid.UUID) -> Occurrence:
    occurrence = (await session.execute(sa.select(Occurrence).where(Occurrence.id == occurrence_id).with_for_update())).scalar_one_or_none()
    if occurrence is None:
        raise NotFound("occurrence not found")
    return occurrence


async def _offer_free_seats(session: AsyncSession, occurrence: Occurrence, now: datetime.datetime, actor_id: uuid.UUID | None) -> None:
    """Under the occurrence's lock: expire lapsed offers and offer every free seat to the next in line."""
    await session.execute(sa.update(WaitlistEntry).where(
        WaitlistEntry.occurrence_id == occurrence.id, WaitlistEntry.status == "OFFERED", WaitlistEntry.offer_expires_at <= now,
    ).values(status="EXPIRED", updated_at=now))
    await session.execute(sa.update(Booking).where(
        Booking.occurrence_id == occurrence.id, Booking.status == "HELD", Booking.expires_at <= now).values(status="EXPIRED", updated_at=now))
    if occurrence.status != "SCHEDULED" or occurrence.starts_at <= now:
        return
    taken, offered, _ = await _counts(session, occurrence.id, now)
    free = occurrence.capacity - taken - offered
    if free <= 0:
        return
    nxt = (await session.execute(sa.select(WaitlistEntry).where(
        WaitlistEntry.occurrence_id == occurrence.id, WaitlistEntry.status == "WAITING",
    ).order_by(WaitlistEntry.created_at, WaitlistEntry.id).limit(free))).scalars().all()
    for entry in nxt:
        entry.status, entry.offered_at, entry.updated_at = "OFFERED", now, now
        entry.offer_expires_at = min(now + datetime.timedelta(hours=OFFER_HOURS), occurrence.starts_at)
        await session.flush()
        await emit(session, EventType.WAITLIST_OFFERED, {
            "waitlist_entry_id": str(entry.id), "occurrence_id": str(occurrence.id), "patient_id": str(entry.patient_id),
            "service_id": str(occurrence.service_id), "offer_expires_at": entry.offer_expires_at.isoformat(),
        }, actor_id=actor_id)
        await note_due(session, WorkKind.TICK, entry.offer_expires_at)  # the tick passes it on if it lapses


async def _seat(session: AsyncSession, occurrence: Occurrence, patient_id: uuid.UUID, user_id: uuid.UUID | None,
                now: datetime.datetime) -> Booking:
    service = await session.get(Service, occurrence.service_id)
    assert service is not None
    booking = Booking(id=uuid.uuid4(), patient_id=patient_id, service_id=occurrence.service_id, therapist_id=occurrence.therapist_id,
                      occurrence_id=occurrence.id, starts_at=occurrence.starts_at, ends_at=occurrence.ends_at,
                      blocked_from=occurrence.starts_at, blocked_until=occurrence.ends_at, status="CONFIRMED",
                      created_by=user_id, confirmed_at=now)
    session.add(booking)
    await session.flush()
    from anima.domains.bookings import reminders
    from anima.domains.packages import booking_credits

    await booking_credits.booked(session, booking_id=booking.id, patient_id=patient_id, service_id=booking.service_id,
                                 actor_id=user_id, now=now)

    await reminders.booking_changed(session, booking, now=now)  # the client's invitation and reminders
    return booking


async def book_seat(session: AsyncSession, user_id: uuid.UUID, occurrence_id: uuid.UUID, patient_id: uuid.UUID,
                    *, now: datetime.datetime | None = None) -> Booking:
    """Book a CONFIRMED seat if one is free (live offers hold theirs).

    Raises NotFound, InvalidInput (patient_id), Conflict: ``full`` (join the waitlist),
    ``already-booked``, ``occurrence-closed`` (cancelled or started), patient blocked."""
    from anima.domains.bookings.services import active_patient, payload

    now = now or utcnow()
    occurrence = await _locked(session, occurrence_id)
    patient = await active_patient(session, patient_id)
    await _offer_free_seats(session, occurrence, now, user_id)
    if occurrence.status != "SCHEDULED" or occurrence.starts_at <= now:
        raise Conflict("this occurrence is cancelled or has started", extra={"reason": "occurrence-closed"})
    mine = (await session.execute(sa.select(sa.func.count()).select_from(Booking).where(
        Booking.occurrence_id == occurrence.id, Booking.patient_id == patient.id, Booking.status.in_(ACTIVE)))).scalar_one()
    if mine:
        raise Conflict("this patient already has a seat", extra={"reason": "already-booked"})
    taken, offered, _ = await _counts(session, occurrence.id, now)
    if taken + offered >= occurrence.capacity:
        raise Conflict("no seat is free; join the waitlist", extra={"reason": "full", "capacity": occurrence.capacity})
    booking = await _seat(session, occurrence, patient.id, user_id, now)
    await emit(session, EventType.BOOKING_CONFIRMED, payload(booking), actor_id=user_id)
    return booking


def _entry_out(e: WaitlistEntry, position: int | None = None) -> WaitlistOut:
    return WaitlistOut(e.id, e.occurrence_id, e.patient_id, e.status, position, e.offer_expires_at, e.booking_id)


async def join_waitlist(session: AsyncSession, user_id: uuid.UUID, occurrence_id: uuid.UUID, patient_id: uuid.UUID,
                        *, now: datetime.datetime | None = None) -> WaitlistOut:
    """Put a patient at the end of the waitlist (a free seat is offered at once).

    Raises NotFound, InvalidInput (patient_id), Conflict (already waiting, occurrence closed)."""
    from anima.domains.bookings.services import active_patient

    now = now or utcnow()
    occurrence = await _locked(session, occurrence_id)
    patient = await active_patient(session, patient_id)
    if occurrence.status != "SCHEDULED" or occurrence.starts_at <= now:
        raise Conflict("this occurrence is cancelled or has started", extra={"reason": "occurrence-closed"})
    exists = (await session.execute(sa.select(WaitlistEntry.id).where(
        WaitlistEntry.occurrence_id == occurrence.id, WaitlistEntry.patient_id == patient.id,
        WaitlistEntry.status.in_(("WAITING", "OFFERED"))))).first()
    if exists:
        raise Conflict("this patient is already on the waitlist", extra={"reason": "already-waiting"})
    entry = WaitlistEntry(id=uuid.uuid4(), occurrence_id=occurrence.id, patient_id=patient.id, status="WAITING",
                          created_at=now, updated_at=now)
    session.add(entry)
    await session.flush()
    await _offer_free_seats(session, occurrence, now, user_id)
    await session.refresh(entry)
    return await entry_out(session, entry)


async def entry_out(session: AsyncSession, e: WaitlistEntry) -> WaitlistOut:
    """A waitlist entry with its position among those WAITING (1 = next; None when not waiting)."""
    position = None
    if e.status == "WAITING":
        position = (await session.execute(sa.select(sa.func.count()).select_from(WaitlistEntry).where(
            WaitlistEntry.occurrence_id == e.occurrence_id, WaitlistEntry.status == "WAITING",
            sa.tuple_(WaitlistEntry.created_at, WaitlistEntry.id) <= sa.tuple_(e.created_at, e.id)))).scalar_one()
    return _entry_out(e, position)


async def waitlist(session: AsyncSession, occurrence_id: uuid.UUID) -> list[WaitlistOut]:
    """The occurrence's waitlist in order (lapsed offers shown as they are until the next change)."""
    rows = (await session.execute(sa.select(WaitlistEntry).where(WaitlistEntry.occurrence_id == occurrence_id)
                                  .order_by(WaitlistEntry.created_at, WaitlistEntry.id))).scalars().all()
    out, position = [], 0
    for e in rows:
        if e.status == "WAITING":
            position += 1
        out.append(_entry_out(e, position if e.status == "WAITING" else None))
    return out


async def claim(session: AsyncSession, user_id: uuid.UUID, entry_id: uuid.UUID, *, now: datetime.datetime | None = None) -> Booking:
    """Claim a live offer: the seat it holds becomes a CONFIRMED booking, once.

    Raises NotFound, Conflict: ``offer-not-live`` (already claimed, expired, never offered)."""
    from anima.domains.bookings.services import active_patient, payload

    now = now or utcnow()
    entry = await session.get(WaitlistEntry, entry_id)
    if entry is None:
        raise NotFound("waitlist entry not found")
    occurrence = await _locked(session, entry.occurrence_id)
    await _offer_free_seats(session, occurrence, now, user_id)  # expires lapsed offers under the lock
    await session.refresh(entry)
    if entry.status != "OFFERED":
        raise Conflict(f"this offer is not live ({entry.status})", extra={"reason": "offer-not-live", "state": entry.status})
    await active_patient(session, entry.patient_id)
    booking = await _seat(session, occurrence, entry.patient_id, user_id, now)
    entry.status, entry.booking_id, entry.updated_at = "CLAIMED", booking.id, now
    await session.flush()
    await emit(session, EventType.BOOKING_CONFIRMED, payload(booking), actor_id=user_id)
    return booking


async def seat_freed(session: AsyncSession, occurrence_id: uuid.UUID, *, now: datetime.datetime, actor_id: uuid.UUID | None) -> None:
    """A seat was given up (cancellation): offer it to the next in line, under the lock."""
    occurrence = await _locked(session, occurrence_id)
    await _offer_free_seats(session, occurrence, now, actor_id)


async def sweep_lapsed(session: AsyncSession, *, now: datetime.datetime | None = None) -> int:
    """Expire lapsed holds, and lapsed offers of every occurrence that has some, passing their
    seats on; returns how many occurrences were swept. Run by the tenant tick (a lapsed offer's
    expiry is noted as tick work where the offer is made) in the tenant's transaction."""
    from anima.domains.bookings.services import expire_lapsed_holds

    now = now or utcnow()
    await expire_lapsed_holds(session, now)
    ids = (await session.execute(sa.select(WaitlistEntry.occurrence_id).where(
        WaitlistEntry.status == "OFFERED", WaitlistEntry.offer_expires_at <= now).distinct())).scalars().all()
    for occurrence_id in ids:
        await seat_freed(session, occurrence_id, now=now, actor_id=None)
    return len(ids)
