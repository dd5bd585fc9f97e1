"""What is due about a booking, written with the booking: reminders, the "before the session"
playbook event and the email of each change (the :class:`~anima.domains.bookings.models.BookingNotice` rows).

**Offsets.** Reminders go ``offsets_minutes`` before the start: a service's override, else the
organization's setting, else one reminder 24 hours before (:data:`DEFAULT_OFFSETS`). The
"before the session" event (``BOOKING_UPCOMING``) goes at the ``event.hours_before`` of every
enabled rule with that trigger (24 hours when a rule names none).

**Lifecycle** (called by :mod:`anima.domains.bookings.services` in the booking's transaction):

* :func:`booking_changed` — a confirmation, a reschedule or a cancellation: one ``change`` row due
  now, keyed by the iCalendar SEQUENCE, so one email per change (the tick sends it with the
  invitation); then :func:`schedule` (an active booking) or :func:`drop` (a cancelled one).
* :func:`schedule` — one row per offset whose moment ``starts_at - offset`` is still in the future;
  an existing row of the same offset is *moved* (its ``due_at`` set again, and made pending again
  after a reschedule); offsets whose moment has passed or that are no longer configured lose their
  pending row. A reminder is never created in the past.
* :func:`drop` — a cancelled booking keeps no pending reminder or event.

Every write notes the tenant's ``tick`` work at the earliest new moment (:mod:`anima.events.due_work`);
the tick handles due rows (:mod:`anima.domains.bookings.notify`).
"""

from __future__ import annotations

import datetime
import uuid
from collections.abc import Iterable

import sqlalchemy as sa
from sqlalchemy.dialects.postgresql import insert as pg_insert
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings import ics
from anima.domains.bookings.models import Booking, BookingNotice, ReminderSetting
from anima.events.due_work import WorkKind, note_due
from anima.domains.catalog.models import Service
from anima.problems import InvalidInput, NotFound

#: one reminder a day before, when nothing is configured
DEFAULT_OFFSETS = (24 * 60,)
MIN_OFFSET = 5
MAX_OFFSET = 30 * 24 * 60
MAX_OFFSETS = 5
#: hours before the session of a ``BOOKING_UPCOMING`` rule that names none
DEFAULT_UPCOMING_HOURS = 24
MAX_UPCOMING_HOURS = 720


def _now() -> datetime.datetime:
    return datetime.datetime.now(datetime.UTC)


def check_offsets(offsets: Iterable[object]) -> list[int]:
    """The offsets (minutes) sorted and distinct. Raises InvalidInput (field ``offsets_minutes``):
    not integers, out of [5, 43200], duplicated, or more than 5."""
    values = list(offsets)
    if any(isinstance(v, bool) or not isinstance(v, int) for v in values):
        raise InvalidInput.field("offsets_minutes", "type", "offsets are whole minutes")
    if len(values) > MAX_OFFSETS:
        raise InvalidInput.field("offsets_minutes", "count", f"at most {MAX_OFFSETS} reminders")
    if any(not MIN_OFFSET <= v <= MAX_OFFSET for v in values):  # type: ignore[operator]
        raise InvalidInput.field("offsets_minutes", "range", f"each offset is from {MIN_OFFSET} to {MAX_OFFSET} minutes")
    if len(set(values)) != len(values):
        raise InvalidInput.field("offsets_minutes", "distinct", "each offset once")
    return sorted(values)  # type: ignore[arg-type]


async def offsets_for(session: AsyncSession, service_id: uuid.UUID) -> tuple[int, ...]:
    """The reminder offsets (minutes) of a service: its override, else the organization's, else the default."""
    rows = (await session.execute(
        sa.select(ReminderSetting.service_id, ReminderSetting.offsets_minutes)
        .where(sa.or_(ReminderSetting.service_id == service_id, ReminderSetting.org_default))
    )).all()
    by_scope = {row.service_id: row.offsets_minutes for row in rows}
    if service_id in by_scope:
        return tuple(by_scope[service_id])
    if None in by_scope:
        return tuple(by_scope[None])
    return DEFAULT_OFFSETS


async def read_offsets(session: AsyncSession, service_id: uuid.UUID | None) -> tuple[list[int], str]:
    """The offsets in force for the organization (``service_id`` None) or a service, and their
    source (``service``, ``organization`` or ``default``). Raises NotFound (no such service)."""
    if service_id is not None and await session.get(Service, service_id) is None:
        raise NotFound("service not found")
    rows = (await session.execute(
        sa.select(ReminderSetting.service_id, ReminderSetting.offsets_minutes)
        .where(sa.or_(ReminderSetting.service_id == service_id, ReminderSetting.org_default) if service_id else ReminderSetting.org_default)
    )).all()
    by_scope = {row.service_id: list(row.offsets_minutes) for row in rows}
    if service_id is not None and service_id in by_scope:
        return by_scope[service_id], "service"
    if None in by_scope:
        return by_scope[None], "organization"
    return list(DEFAULT_OFFSETS), "default"


async def set_offsets(session: AsyncSession, service_id: uuid.UUID | None, offsets: Iterable[object]) -> list[int]:
    """Store the organization's (``service_id`` None) or a service's reminder offsets (an empty
    list: no reminders). Bookings already made keep their reminders. Raises InvalidInput, NotFound
    (no such service)."""
    values = check_offsets(offsets)
    if service_id is not None and await session.get(Service, service_id) is None:
        raise NotFound("service not found")
    stmt = pg_insert(ReminderSetting).values(id=uuid.uuid4(), service_id=service_id, org_default=service_id is None,
                                             offsets_minutes=values)
    if service_id is None:
        stmt = stmt.on_conflict_do_update(index_elements=["org_default"], index_where=sa.text("org_default"),
                                          set_={"offsets_minutes": values, "updated_at": _now()})
    else:
        stmt = stmt.on_conflict_do_update(index_elements=["service_id"], index_where=sa.text("service_id IS NOT NULL"),
                                          set_={"offsets_minutes": values, "updated_at": _now()})
    await session.execute(stmt)
    return values


async def upcoming_hours(session: AsyncSession) -> set[int]:
    """The distinct ``hours_before`` of the enabled ``BOOKING_UPCOMING`` rules (see the module docstring)."""
    from anima.domains.automations.models import AutomationRule

    conditions = (await session.execute(
        sa.select(AutomationRule.conditions).where(AutomationRule.trigger == "BOOKING_UPCOMING", AutomationRule.enabled)
    )).scalars()
    hours: set[int] = set()
    for rule_conditions in conditions:
        named = [c.get("value") for c in rule_conditions or [] if c.get("fact") == "event.hours_before" and c.get("op") == "eq"]
        if not named:
            hours.add(DEFAULT_UPCOMING_HOURS)
        hours.update(v for v in named if isinstance(v, int) and not isinstance(v, bool) and 0 < v <= MAX_UPCOMING_HOURS)
    return hours


async def _note(session: AsyncSession, due_at: datetime.datetime | None) -> None:
    await note_due(session, WorkKind.TICK, due_at)


async def schedule(session: AsyncSession, booking: Booking, *, now: datetime.datetime | None = None,
                   moved: bool = False) -> list[datetime.datetime]:
    """Create or move the booking's pending reminders and "before the session" events (see the
    module docstring); ``moved`` (a reschedule) makes rows already handled pending again for the
    new time. Returns the reminders' due instants."""
    now = now or _now()
    wanted: dict[str, tuple[str, datetime.datetime]] = {}
    for minutes in await offsets_for(session, booking.service_id):
        wanted[f"reminder:{minutes}"] = ("reminder", booking.starts_at - datetime.timedelta(minutes=minutes))
    for hours in await upcoming_hours(session):
        wanted[f"upcoming:{hours * 60}"] = ("upcoming", booking.starts_at - datetime.timedelta(hours=hours))
    wanted = {key: (kind, due) for key, (kind, due) in wanted.items() if due > now}
    await session.execute(sa.delete(BookingNotice).where(
        BookingNotice.booking_id == booking.id, BookingNotice.kind != "change", BookingNotice.done_at.is_(None),
        BookingNotice.key.not_in(list(wanted) or [""]),
    ))
    for key, (kind, due) in wanted.items():
        stmt = pg_insert(BookingNotice).values(id=uuid.uuid4(), booking_id=booking.id, kind=kind, key=key, due_at=due)
        update: dict[str, object] = {"due_at": due}
        if moved:
            update["done_at"] = None
        await session.execute(stmt.on_conflict_do_update(
            constraint="uq_booking_notices_booking_key", set_=update,
            where=sa.text("booking_notices.done_at IS NULL") if not moved else None,
        ))
    if wanted:
        await _note(session, min(due for _, due in wanted.values()))
    return sorted(due for kind, due in wanted.values() if kind == "reminder")


async def drop(session: AsyncSession, booking_id: uuid.UUID) -> int:
    """Delete the booking's pending reminders and events; returns how many."""
    result = await session.execute(sa.delete(BookingNotice).where(
        BookingNotice.booking_id == booking_id, BookingNotice.kind != "change", BookingNotice.done_at.is_(None)))
    return int(result.rowcount or 0)  # type: ignore[attr-defined]


async def booking_changed(session: AsyncSession, booking: Booking, *, now: datetime.datetime | None = None,
                          moved: bool = False) -> None:
    """Record a confirmation, reschedule or cancellation of ``booking`` (flushed): its change email
    is due now (once per SEQUENCE), and its reminders are scheduled, moved or dropped."""
    now = now or _now()
    if booking.confirmed_at is not None:  # a hold never confirmed sent no invitation to update
        await session.execute(pg_insert(BookingNotice).values(
            id=uuid.uuid4(), booking_id=booking.id, kind="change", key=f"change:{ics.sequence(booking)}", due_at=now,
        ).on_conflict_do_nothing(constraint="uq_booking_notices_booking_key"))
        await _note(session, None)
    if booking.status == "CONFIRMED":
        await schedule(session, booking, now=now, moved=moved)
    else:
        await drop(session, booking.id)


__all__ = [
    "DEFAULT_OFFSETS", "booking_changed", "check_offsets", "drop", "offsets_for", "read_offsets", "schedule", "set_offsets", "upcoming_hours",
]
