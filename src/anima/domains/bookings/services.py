"""The booking lifecycle: slot search, hold, confirm, cancel, complete, no-show, reschedule.

States: HELD (``expires_at``) -> CONFIRMED -> COMPLETED | NO_SHOW, or CANCELLED (by the client or
the practice, who and why); a lapsed hold becomes EXPIRED. Every change emits its event in the
caller's transaction: BOOKING_HELD, BOOKING_CONFIRMED, BOOKING_CANCELLED, BOOKING_RESCHEDULED,
BOOKING_COMPLETED, BOOKING_NO_SHOW.

**Exactly one.** No check-then-insert decides whether a therapist is free: the insert or update
runs inside a savepoint and PostgreSQL's exclusion constraint ``ex_bookings_therapist_overlap``
refuses an overlap; that refusal becomes :class:`~anima.problems.Conflict` (409), never a 500.
The slot search before it only explains *why* a start is refused (past, notice, horizon, outside
availability). Lapsed holds are expired lazily (:func:`expire_lapsed_holds`, run before every
booking write and by the tenant tick) so they never block a slot after ``expires_at``.

**Who.** Owners and assistants book for anyone (guarded at the route); a therapist sees and
manages the bookings they are the therapist of, and holds only in their own calendar. A booking
needs an active patient who is not blocked (the Escudo de Seguridad playbook blocks high-risk
patients), an active service and a therapist (when given) who offers it.
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Awaitable, Callable, Sequence
from dataclasses import dataclass
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncSession

from anima.crypto.cipher import FieldCipher
from anima.domains.bookings import availability, policies, reminders
from anima.domains.bookings.models import ACTIVE, Booking
from anima.domains.bookings.schemas import BookingCreate, BookingOut, CancelRequest, HoldRequest, RescheduleRequest, SlotOut
from anima.domains.bookings.slots import Busy, SlotRules, free_slots
from anima.domains.catalog.models import Scheduling, Service, service_therapists
from anima.domains.packages import booking_credits
from anima.domains.patients.models import Patient
from anima.domains.settings.services import iana_zones
from anima.domains.staff.models import StaffMember
from anima.events.outbox import emit
from anima.events.types import EventType
from anima.identity.models import Role
from anima.problems import Conflict, Forbidden, InvalidInput, NotFound

PAST_LIMIT = datetime.timedelta(days=366)
#: the widest slot search (days): bounds the work of one request
MAX_SEARCH_DAYS = 62
TABLE = "bookings"
#: ``therapist_id, start, end -> busy intervals`` from outside Anima, for :func:`search`
BusyOf = Callable[[uuid.UUID, datetime.datetime, datetime.datetime], Awaitable[Sequence[tuple[datetime.datetime, datetime.datetime]]]]
#: SQLSTATE of exclusion_violation
EXCLUSION_VIOLATION = "23P01"


def utcnow() -> datetime.datetime:
    """The present, aware (UTC)."""
    return datetime.datetime.now(datetime.UTC)


@dataclass(frozen=True)
class Caller:
    """Who acts: their user id and role value (OWNER, THERAPIST, ASSISTANT)."""

    user_id: uuid.UUID
    role: str

    @property
    def therapist_only(self) -> bool:
        """Whether the caller sees and manages only their own calendar (a therapist)."""
        return self.role == Role.THERAPIST.value


async def to_out(session: AsyncSession, b: Booking, cipher: FieldCipher | None = None, *, clinical: bool = False) -> BookingOut:
    """The booking as the API shows it; the cancellation reason only to a clinical viewer with a cipher."""
    service = await session.get(Service, b.service_id)
    retreat = service is not None and service.scheduling == Scheduling.FIXED_DATE
    reason = None
    if clinical and cipher is not None and b.cancel_reason_enc is not None:
        reason = await cipher.decrypt_text(TABLE, "cancel_reason_enc", b.id, b.cancel_reason_enc)
    return BookingOut(
        b.id, b.patient_id, b.service_id, b.therapist_id, b.occurrence_id, b.starts_at, b.ends_at, b.blocked_from, b.blocked_until,
        b.status, retreat, b.expires_at, b.payment_id, b.completed_at, b.cancelled_at, b.cancelled_by_kind, b.cancelled_by,
        reason, b.rescheduled_count, b.created_at,
    )


def payload(b: Booking) -> dict[str, object]:
    """The event payload of a booking: ids, status and the start (no clinical content)."""
    return {"booking_id": str(b.id), "patient_id": str(b.patient_id), "service_id": str(b.service_id),
            "therapist_id": str(b.therapist_id) if b.therapist_id else None,
            "occurrence_id": str(b.occurrence_id) if b.occurrence_id else None,
            "starts_at": b.starts_at.isoformat(), "status": b.status}


def slot_rules(service: Service) -> SlotRules:
    """A service's booking settings as the slot search reads them."""
    return SlotRules(service.duration_minutes, service.slot_step_minutes, service.buffer_before_minutes,
                     service.buffer_after_minutes, service.min_notice_minutes, service.horizon_days)


def aware(field: str, value: datetime.datetime) -> datetime.datetime:
    """``value`` in UTC. Raises InvalidInput (``field``, rule timezone) when it has no offset."""
    if value.tzinfo is None:
        raise InvalidInput.field(field, "timezone", "give a time zone offset (e.g. 2025-01-31T10:00:00Z)")
    return value.astimezone(datetime.UTC)


async def active_patient(session: AsyncSession, patient_id: uuid.UUID) -> Patient:
    """An active, unblocked patient. Raises InvalidInput (patient_id) or Conflict (blocked)."""
    patient = await session.get(Patient, patient_id)
    if patient is None or patient.archived_at is not None:
        raise InvalidInput.field("patient_id", "active-patient", "no active patient with this id")
    if patient.blocked_at is not None:
        raise Conflict("this patient is blocked from new bookings after a risk alert; an owner reviews it",
                       extra={"reason": "patient-blocked"})
    return patient


async def active_service(session: AsyncSession, service_id: uuid.UUID) -> Service:
    """An active service. Raises InvalidInput (service_id)."""
    service = await session.get(Service, service_id)
    if service is None or not service.active:
        raise InvalidInput.field("service_id", "active-service", "no active service with this id")
    return service


async def therapists_of(session: AsyncSession, service_id: uuid.UUID) -> list[uuid.UUID]:
    """The active members who offer the service, in a stable order."""
    rows = await session.execute(
        sa.select(service_therapists.c.staff_id).join(StaffMember, StaffMember.id == service_therapists.c.staff_id)
        .where(service_therapists.c.service_id == service_id, StaffMember.active.is_(True)).order_by(service_therapists.c.staff_id))
    return [r[0] for r in rows]


async def _check_offers(session: AsyncSession, service_id: uuid.UUID, therapist_id: uuid.UUID) -> None:
    if therapist_id not in await therapists_of(session, service_id):
        raise InvalidInput.field("therapist_id", "offers-service", "this therapist does not offer the service")


async def expire_lapsed_holds(session: AsyncSession, now: datetime.datetime | None = None) -> int:
    """Mark every HELD booking whose ``expires_at`` has passed EXPIRED; returns how many."""
    result = await session.execute(
        sa.update(Booking).where(Booking.status == "HELD", Booking.expires_at <= (now or utcnow()))
        .values(status="EXPIRED", updated_at=now or utcnow())
    )
    return result.rowcount or 0


async def busy(session: AsyncSession, therapist_id: uuid.UUID, start: datetime.datetime, end: datetime.datetime, *,
               now: datetime.datetime, ignore: uuid.UUID | None = None) -> Busy:
    """The therapist's blocked ranges meeting ``[start, end)``: CONFIRMED bookings and live holds."""
    where = [Booking.therapist_id == therapist_id, Booking.occurrence_id.is_(None),
             Booking.blocked_until > start, Booking.blocked_from < end,
             sa.or_(Booking.status == "CONFIRMED", sa.and_(Booking.status == "HELD", Booking.expires_at > now))]
    if ignore is not None:
        where.append(Booking.id != ignore)
    rows = await session.execute(sa.select(Booking.blocked_from, Booking.blocked_until).where(*where))
    return Busy([(a, b) for a, b in rows])


async def therapist_slots(session: AsyncSession, service: Service, therapist_id: uuid.UUID, start: datetime.datetime,
                          end: datetime.datetime, *, now: datetime.datetime, ignore: uuid.UUID | None = None,
                          with_busy: bool = True, extra_busy: Sequence[tuple[datetime.datetime, datetime.datetime]] = ()) -> list[datetime.datetime]:
    """Free starts (UTC) of ``service`` with one therapist in ``[start, end)``; ``extra_busy``:
    more blocked intervals (aware, half-open) from outside Anima, e.g. the therapist's Google Calendar."""
    rules = slot_rules(service)
    zone, _ = await availability.therapist_zone(session, therapist_id)
    first = start.astimezone(zone).date() - datetime.timedelta(days=1)
    last = end.astimezone(zone).date() + datetime.timedelta(days=1)
    avail = await availability.load(session, therapist_id, first, last)
    margin = datetime.timedelta(minutes=rules.buffer_before_minutes + rules.buffer_after_minutes + rules.duration_minutes)
    taken = await busy(session, therapist_id, start - margin, end + margin, now=now, ignore=ignore) if with_busy else Busy([])
    if extra_busy:
        taken = Busy([*taken.intervals, *extra_busy])
    return free_slots(avail, rules, taken, start=start, end=end, now=now, service_id=service.id)


async def search(
    session: AsyncSession, service_id: uuid.UUID, *, therapist_id: uuid.UUID | None, first: datetime.date | None,
    last: datetime.date | None, zone: str, now: datetime.datetime | None = None, busy_of: BusyOf | None = None,
) -> list[SlotOut]:
    """Free starts of a CALENDAR service on local dates ``first``..``last`` of ``zone`` (default:
    today and the six days after it), with one therapist or any who offers it; each slot names
    the therapists free then. ``busy_of(therapist_id, start, end)`` adds a therapist's busy
    intervals from outside Anima (their Google Calendar); it is asked once per therapist and
    answers an empty list when it has nothing (or fails).

    Raises:
        InvalidInput: service_id (inactive, FIXED_DATE), therapist_id, zone, first/last (order, span).
    """
    now = now or utcnow()
    service = await active_service(session, service_id)
    if service.scheduling != Scheduling.CALENDAR:
        raise InvalidInput.field("service_id", "calendar-service", "a FIXED_DATE service is booked through its occurrences")
    if zone not in iana_zones():
        raise InvalidInput.field("zone", "iana", "not an IANA time zone name")
    viewer_zone = ZoneInfo(zone)
    first = first or now.astimezone(viewer_zone).date()
    last = last or first + datetime.timedelta(days=6)
    today = now.date()
    if not today - datetime.timedelta(days=366) <= first <= today + datetime.timedelta(days=731):
        raise InvalidInput.field("from", "range", "a date from a year ago to two years ahead")
    if last < first:
        raise InvalidInput.field("to", "after-from", "`to` is on or after `from`")
    if (last - first).days >= MAX_SEARCH_DAYS:
        raise InvalidInput.field("to", "span", f"search at most {MAX_SEARCH_DAYS} days at once")
    start = datetime.datetime.combine(first, datetime.time(0), tzinfo=viewer_zone).astimezone(datetime.UTC)
    end = datetime.datetime.combine(last + datetime.timedelta(days=1), datetime.time(0), tzinfo=viewer_zone).astimezone(datetime.UTC)
    if therapist_id is not None:
        await _check_offers(session, service.id, therapist_id)
        candidates = [therapist_id]
    else:
        candidates = await therapists_of(session, service.id)
    by_start: dict[datetime.datetime, list[uuid.UUID]] = {}
    for tid in candidates:
        margin = datetime.timedelta(minutes=service.buffer_before_minutes + service.buffer_after_minutes + service.duration_minutes)
        extra = await busy_of(tid, start - margin, end + margin) if busy_of is not None else ()
        for s in await therapist_slots(session, service, tid, start, end, now=now, extra_busy=extra):
            by_start.setdefault(s, []).append(tid)
    length = datetime.timedelta(minutes=service.duration_minutes)
    return [SlotOut(s, s + length, s.astimezone(viewer_zone), viewer_zone.key, tids) for s, tids in sorted(by_start.items())]


def _check_window(service: Service, starts_at: datetime.datetime, now: datetime.datetime) -> None:
    """Raise InvalidInput (starts_at) for a start in the past, inside the notice or past the horizon."""
    rules = slot_rules(service)
    if starts_at <= now:
        raise InvalidInput.field("starts_at", "future", "a booking starts in the future")
    if starts_at < now + datetime.timedelta(minutes=rules.notice_minutes):
        raise InvalidInput.field("starts_at", "notice", f"this service needs {rules.notice_minutes} minutes' notice")
    if starts_at > now + datetime.timedelta(days=rules.horizon_days):
        raise InvalidInput.field("starts_at", "horizon", f"this service is booked at most {rules.horizon_days} days ahead")


async def _explain_refusal(session: AsyncSession, service: Service, therapist_id: uuid.UUID, starts_at: datetime.datetime,
                           now: datetime.datetime, ignore: uuid.UUID | None = None) -> None:
    """Raise the problem saying why ``starts_at`` is not a free slot with this therapist (or return)."""
    _check_window(service, starts_at, now)
    probe = (starts_at, starts_at + datetime.timedelta(microseconds=1))
    if starts_at in await therapist_slots(session, service, therapist_id, *probe, now=now, ignore=ignore):
        return
    if starts_at in await therapist_slots(session, service, therapist_id, *probe, now=now, with_busy=False):
        raise Conflict("this time is no longer free", extra={"reason": "slot-taken"})
    raise InvalidInput.field("starts_at", "availability", "not a start the therapist's availability offers for this service")


async def _insert(session: AsyncSession, booking: Booking) -> None:
    """Insert (or flush a change) in a savepoint; an overlap becomes Conflict (409)."""
    try:
        async with session.begin_nested():
            session.add(booking)
            await session.flush()
    except IntegrityError as exc:
        if getattr(exc.orig, "sqlstate", None) == EXCLUSION_VIOLATION or EXCLUSION_VIOLATION in str(exc.orig):
            raise Conflict("the therapist already has a booking at this time", extra={"reason": "slot-taken"}) from None
        raise


def _new_booking(service: Service, patient_id: uuid.UUID, therapist_id: uuid.UUID | None, starts_at: datetime.datetime,
                 status: str, user_id: uuid.UUID | None, **extra: object) -> Booking:
    rules = slot_rules(service)
    blocked_from, blocked_until = rules.blocked(starts_at)
    return Booking(id=uuid.uuid4(), patient_id=patient_id, service_id=service.id, therapist_id=therapist_id, starts_at=starts_at,
                   ends_at=starts_at + rules.duration, blocked_from=blocked_from, blocked_until=blocked_until, status=status,
                   created_by=user_id, **extra)


async def create(session: AsyncSession, user_id: uuid.UUID, data: BookingCreate) -> Booking:
    """Staff entry of a CONFIRMED booking at any start from a year back (records, imports): no
    availability, notice or horizon check, but an overlap with the therapist's time is refused.

    Raises InvalidInput (field named), Conflict (blocked patient, overlap)."""
    starts_at = aware("starts_at", data.starts_at)
    if starts_at < utcnow() - PAST_LIMIT:
        raise InvalidInput.field("starts_at", "range", "a booking starts at most a year in the past")
    patient = await active_patient(session, data.patient_id)
    service = await active_service(session, data.service_id)
    if data.therapist_id is not None:
        await _check_offers(session, service.id, data.therapist_id)
    await expire_lapsed_holds(session)
    booking = _new_booking(service, patient.id, data.therapist_id, starts_at, "CONFIRMED", user_id, confirmed_at=utcnow())
    await _insert(session, booking)
    await booking_credits.booked(session, booking_id=booking.id, patient_id=booking.patient_id, service_id=booking.service_id,
                                 actor_id=user_id)
    await emit(session, EventType.BOOKING_CONFIRMED, payload(booking), actor_id=user_id)
    await session.refresh(booking)
    await reminders.booking_changed(session, booking)
    return booking


async def hold(session: AsyncSession, caller: Caller, data: HoldRequest, *, now: datetime.datetime | None = None) -> Booking:
    """Hold a free slot for ``hold_minutes``; with no therapist, the first free one who offers it.

    Raises:
        InvalidInput: starts_at (timezone, future, notice, horizon, availability), patient_id,
            service_id, therapist_id. Conflict: the slot was taken (also under a race: the
            exclusion constraint decides), or the patient is blocked. Forbidden: a therapist
            holding in another's calendar.
    """
    now = now or utcnow()
    starts_at = aware("starts_at", data.starts_at)
    patient = await active_patient(session, data.patient_id)
    service = await active_service(session, data.service_id)
    if service.scheduling != Scheduling.CALENDAR:
        raise InvalidInput.field("service_id", "calendar-service", "a FIXED_DATE service is booked through its occurrences")
    if caller.therapist_only and data.therapist_id not in (None, caller.user_id):
        raise Forbidden("a therapist books only in their own calendar")
    therapist_id = caller.user_id if caller.therapist_only and data.therapist_id is None else data.therapist_id
    if therapist_id is not None:
        await _check_offers(session, service.id, therapist_id)
        candidates = [therapist_id]
    else:
        candidates = await therapists_of(session, service.id)
        if not candidates:
            raise InvalidInput.field("service_id", "has-therapists", "no therapist offers this service")
    _check_window(service, starts_at, now)
    await expire_lapsed_holds(session, now)
    refusals: list[Conflict | InvalidInput] = []
    for tid in candidates:
        try:
            await _explain_refusal(session, service, tid, starts_at, now)
            booking = _new_booking(service, patient.id, tid, starts_at, "HELD", caller.user_id,
                                   expires_at=now + datetime.timedelta(minutes=data.hold_minutes), payment_id=data.payment_id)
            await _insert(session, booking)
        except (Conflict, InvalidInput) as exc:
            refusals.append(exc)
            continue
        await emit(session, EventType.BOOKING_HELD, payload(booking), actor_id=caller.user_id)
        await session.refresh(booking)
        return booking
    # a taken slot says more than another therapist's hours: prefer the conflict
    raise next((r for r in refusals if isinstance(r, Conflict)), refusals[-1])


def _visible(caller: Caller) -> list[sa.ColumnElement[bool]]:
    return [Booking.therapist_id == caller.user_id] if caller.therapist_only else []


async def get(session: AsyncSession, role: str, user_id: uuid.UUID, booking_id: uuid.UUID, *, lock: bool = False) -> Booking:
    """One booking the caller may see (a therapist: their own). Raises NotFound."""
    stmt = sa.select(Booking).where(Booking.id == booking_id, *_visible(Caller(user_id, role)))
    if lock:
        stmt = stmt.with_for_update()
    row = (await session.execute(stmt)).scalar_one_or_none()
    if row is None:
        raise NotFound("booking not found")
    return row


async def calendar_file(session: AsyncSession, role: str, user_id: uuid.UUID, booking_id: uuid.UUID) -> bytes:
    """One booking the caller may see as an RFC 5545 file (:mod:`anima.domains.bookings.ics`). Raises NotFound."""
    from anima.domains.bookings.ics import booking_calendar
    from anima.domains.bookings.models import Occurrence

    booking = await get(session, role, user_id, booking_id)
    service = await session.get(Service, booking.service_id)
    assert service is not None
    occurrence = await session.get(Occurrence, booking.occurrence_id) if booking.occurrence_id else None
    location = occurrence.location if occurrence is not None and occurrence.location else service.location_detail
    return booking_calendar(booking, service_name=service.name, location=location)


async def list_bookings(
    session: AsyncSession, role: str, user_id: uuid.UUID, *, limit: int, offset: int,
    status: str | None = None, patient_id: uuid.UUID | None = None,
    starts_from: datetime.datetime | None = None, starts_before: datetime.datetime | None = None,
    ascending: bool = False, therapist_id: uuid.UUID | None = None,
) -> tuple[list[Booking], int]:
    """Bookings the caller may see, newest first (``ascending``: soonest first), with filters.

    ``starts_from``/``starts_before`` bound ``starts_at`` (aware instants, half-open range).
    """
    where = _visible(Caller(user_id, role))
    if starts_from is not None:
        where.append(Booking.starts_at >= starts_from)
    if starts_before is not None:
        where.append(Booking.starts_at < starts_before)
    if status:
        where.append(Booking.status == status)
    if patient_id:
        where.append(Booking.patient_id == patient_id)
    if therapist_id:
        where.append(Booking.therapist_id == therapist_id)
    total = (await session.execute(sa.select(sa.func.count()).select_from(Booking).where(*where))).scalar_one()
    rows = (await session.execute(sa.select(Booking).where(*where).order_by(Booking.starts_at.asc() if ascending else Booking.starts_at.desc(), Booking.id).limit(limit).offset(offset))).scalars()
    return list(rows), total


def _require(booking: Booking, *states: str) -> None:
    if booking.status not in states:
        raise Conflict(f"this booking is {booking.status}", extra={"state": booking.status})


async def confirm(session: AsyncSession, caller: Caller, booking_id: uuid.UUID, *, now: datetime.datetime | None = None) -> Booking:
    """HELD -> CONFIRMED while the hold lives. Raises NotFound, Conflict (expired or not HELD)."""
    now = now or utcnow()
    booking = await get(session, caller.role, caller.user_id, booking_id, lock=True)
    if booking.status == "HELD" and booking.expires_at is not None and booking.expires_at <= now:
        booking.status = "EXPIRED"
        await session.flush()
    _require(booking, "HELD")
    booking.status, booking.confirmed_at, booking.expires_at, booking.updated_at = "CONFIRMED", now, None, now
    await session.flush()
    await booking_credits.booked(session, booking_id=booking.id, patient_id=booking.patient_id, service_id=booking.service_id,
                                 payment_id=booking.payment_id, actor_id=caller.user_id, now=now)
    await emit(session, EventType.BOOKING_CONFIRMED, payload(booking), actor_id=caller.user_id)
    await reminders.booking_changed(session, booking, now=now)
    return booking


async def client_confirm(session: AsyncSession, booking_id: uuid.UUID, *, now: datetime.datetime | None = None) -> bool:
    """The client confirms through a reminder's signed link that they are coming: sets
    ``client_confirmed_at`` the first time only (idempotent; the status stays CONFIRMED). Returns
    whether this call confirmed it. Raises NotFound, Conflict (not CONFIRMED, or already started)."""
    now = now or utcnow()
    booking = (await session.execute(sa.select(Booking).where(Booking.id == booking_id).with_for_update())).scalar_one_or_none()
    if booking is None:
        raise NotFound("booking not found")
    _require(booking, "CONFIRMED")
    if booking.starts_at <= now:
        raise Conflict("this session has already started", extra={"reason": "started"})
    if booking.client_confirmed_at is not None:
        return False
    booking.client_confirmed_at, booking.updated_at = now, now
    await session.flush()
    return True


async def cancel(session: AsyncSession, caller: Caller, booking_id: uuid.UUID, data: CancelRequest, cipher: FieldCipher | None,
                 *, now: datetime.datetime | None = None) -> Booking:
    """HELD or CONFIRMED -> CANCELLED, recording who (client or practice, and the user) and why.

    A CONFIRMED booking cancelled by the client inside the policy's window is charged once
    (:mod:`anima.domains.bookings.policies`); a freed occurrence seat is offered to the waitlist.
    Raises NotFound, Conflict (other states)."""
    from anima.domains.bookings import seats

    now = now or utcnow()
    booking = await get(session, caller.role, caller.user_id, booking_id, lock=True)
    _require(booking, *ACTIVE)
    was_confirmed = booking.status == "CONFIRMED"
    booking.status, booking.cancelled_at, booking.updated_at = "CANCELLED", now, now
    booking.cancelled_by_kind, booking.cancelled_by = data.by, caller.user_id
    if data.reason.strip() and cipher is not None:
        booking.cancel_reason_enc = await cipher.encrypt_text(TABLE, "cancel_reason_enc", booking.id, data.reason.strip())
    await session.flush()
    if was_confirmed and data.by == "client":
        await policies.charge_if_late(session, booking, now=now)
    if was_confirmed:
        await booking_credits.cancelled(session, booking_id=booking.id, service_id=booking.service_id, starts_at=booking.starts_at,
                                        by=data.by, now=now, actor_id=caller.user_id)
    if booking.occurrence_id is not None:
        await seats.seat_freed(session, booking.occurrence_id, now=now, actor_id=caller.user_id)
    await emit(session, EventType.BOOKING_CANCELLED, {**payload(booking), "cancelled_by_kind": data.by}, actor_id=caller.user_id)
    await reminders.booking_changed(session, booking, now=now)
    return booking


async def complete(session: AsyncSession, caller: Caller, booking_id: uuid.UUID, *, now: datetime.datetime | None = None) -> Booking:
    """CONFIRMED -> COMPLETED once the session has started. Raises NotFound, Conflict."""
    now = now or utcnow()
    booking = await get(session, caller.role, caller.user_id, booking_id, lock=True)
    _require(booking, "CONFIRMED")
    if booking.starts_at > now:
        raise Conflict("this session has not started yet", extra={"reason": "not-started"})
    booking.status, booking.completed_at, booking.updated_at = "COMPLETED", now, now
    await session.flush()
    await emit(session, EventType.BOOKING_COMPLETED, payload(booking), actor_id=caller.user_id)
    return booking


async def no_show(session: AsyncSession, caller: Caller, booking_id: uuid.UUID, *, now: datetime.datetime | None = None) -> Booking:
    """CONFIRMED -> NO_SHOW once the session has started; the policy's no-show cost is recorded
    once. Raises NotFound, Conflict."""
    now = now or utcnow()
    booking = await get(session, caller.role, caller.user_id, booking_id, lock=True)
    _require(booking, "CONFIRMED")
    if booking.starts_at > now:
        raise Conflict("this session has not started yet", extra={"reason": "not-started"})
    booking.status, booking.no_show_at, booking.updated_at = "NO_SHOW", now, now
    await session.flush()
    await policies.charge_no_show(session, booking)
    await booking_credits.no_show(session, booking_id=booking.id, service_id=booking.service_id, actor_id=caller.user_id)
    await emit(session, EventType.BOOKING_NO_SHOW, payload(booking), actor_id=caller.user_id)
    return booking


async def reschedule(session: AsyncSession, caller: Caller, booking_id: uuid.UUID, data: RescheduleRequest,
                     *, now: datetime.datetime | None = None) -> Booking:
    """Move a HELD or CONFIRMED calendar booking to a new free start, atomically: the same row
    (id, status, payment reference) gets the new range, so the old time is freed exactly when the
    new one is taken, and an overlap leaves the booking where it was (409).

    Raises NotFound, Forbidden, Conflict (state, occurrence seat, slot taken), InvalidInput
    (starts_at: future, notice, horizon, availability; therapist_id)."""
    now = now or utcnow()
    booking = await get(session, caller.role, caller.user_id, booking_id, lock=True)
    _require(booking, *ACTIVE)
    if booking.status == "HELD" and booking.expires_at is not None and booking.expires_at <= now:
        raise Conflict("this hold has expired", extra={"state": "EXPIRED"})
    if booking.occurrence_id is not None:
        raise Conflict("a seat on an occurrence is moved by cancelling and booking another", extra={"reason": "occurrence-seat"})
    starts_at = aware("starts_at", data.starts_at)
    therapist_id = data.therapist_id or booking.therapist_id
    if caller.therapist_only and therapist_id != caller.user_id:
        raise Forbidden("a therapist books only in their own calendar")
    if therapist_id is None:
        raise InvalidInput.field("therapist_id", "required", "name the therapist of the new time")
    service = await active_service(session, booking.service_id)
    await _check_offers(session, service.id, therapist_id)
    await expire_lapsed_holds(session, now)
    await _explain_refusal(session, service, therapist_id, starts_at, now, ignore=booking.id)
    before = booking.starts_at
    rules = slot_rules(service)
    booking.therapist_id, booking.starts_at, booking.ends_at = therapist_id, starts_at, starts_at + rules.duration
    booking.blocked_from, booking.blocked_until = rules.blocked(starts_at)
    booking.rescheduled_count += 1
    booking.updated_at = now
    try:
        await _insert(session, booking)
    except Conflict:
        await session.refresh(booking)
        raise
    await session.refresh(booking)
    await emit(session, EventType.BOOKING_RESCHEDULED, {**payload(booking), "previous_starts_at": before.isoformat()},
               actor_id=caller.user_id)
    await reminders.booking_changed(session, booking, now=now, moved=True)
    return booking
