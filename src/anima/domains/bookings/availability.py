"""Availability of therapists: their zone, weekly rules and date overrides (service functions).

A therapist's zone is their own profile zone (mirrored into ``staff`` like their name), else the
practice's; they change it on their profile page.

Owners manage anyone's availability; a therapist manages their own (``may_manage``). Times are
local to the therapist's zone (:func:`therapist_zone`); :func:`load` turns the rows into the pure
:class:`~anima.domains.bookings.slots.Availability` the slot search reads.
"""

from __future__ import annotations

import datetime
import uuid
from zoneinfo import ZoneInfo

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncSession

from anima.domains.bookings.models import AvailabilityOverride, AvailabilityRule
from anima.domains.bookings.schemas import OverrideCreate, OverrideOut, RuleCreate, RuleOut, ScheduleOut
from anima.domains.bookings.slots import Availability, Override, Rule
from anima.domains.settings.models import PracticeSettings
from anima.domains.staff.models import StaffMember
from anima.identity.models import Role
from anima.problems import Forbidden, InvalidInput, NotFound

#: the most rules and overrides one therapist may have (keeps a slot search bounded)
MAX_RULES = 200
MAX_OVERRIDES = 2000


def may_manage(role: str, user_id: uuid.UUID, therapist_id: uuid.UUID) -> None:
    """Raise Forbidden unless the caller is an owner or the therapist themselves."""
    if role != Role.OWNER.value and user_id != therapist_id:
        raise Forbidden("a therapist manages only their own availability")


async def _therapist(session: AsyncSession, therapist_id: uuid.UUID) -> StaffMember:
    staff = await session.get(StaffMember, therapist_id)
    if staff is None or not staff.active or staff.role not in (Role.OWNER.value, Role.THERAPIST.value):
        raise InvalidInput.field("therapist_id", "active-therapist", "no active therapist or owner with this id")
    return staff


async def therapist_zone(session: AsyncSession, therapist_id: uuid.UUID) -> tuple[ZoneInfo, bool]:
    """The therapist's zone — their own (profile, mirrored in ``staff``) or else the practice's —
    and whether it is their own."""
    own = (await session.execute(sa.select(StaffMember.time_zone).where(StaffMember.id == therapist_id))).scalar()
    if own:
        try:
            return ZoneInfo(own), True
        except (ValueError, KeyError, OSError):
            pass  # a zone this Python no longer knows: the practice's
    practice = (await session.execute(sa.select(PracticeSettings.timezone))).scalar()
    return ZoneInfo(practice or "UTC"), False


async def schedule(session: AsyncSession, therapist_id: uuid.UUID) -> ScheduleOut:
    """The zone a therapist's availability is read in. Raises InvalidInput (therapist_id)."""
    await _therapist(session, therapist_id)
    zone, own = await therapist_zone(session, therapist_id)
    return ScheduleOut(therapist_id, zone.key, own)


def _hhmm(value: datetime.time | None) -> str | None:
    return None if value is None else value.strftime("%H:%M")


def _rule_out(r: AvailabilityRule) -> RuleOut:
    return RuleOut(r.id, r.therapist_id, r.weekday, _hhmm(r.start_time) or "", _hhmm(r.end_time) or "", r.service_id)


def _override_out(o: AvailabilityOverride) -> OverrideOut:
    return OverrideOut(o.id, o.therapist_id, o.on_date, o.available, _hhmm(o.start_time), _hhmm(o.end_time))


def _times(start: str | None, end: str | None) -> tuple[datetime.time | None, datetime.time | None]:
    """``HH:MM`` strings (already pattern-checked) as times; raises InvalidInput (end_time) unless end > start."""
    a = datetime.time.fromisoformat(start) if start is not None else None
    b = datetime.time.fromisoformat(end) if end is not None else None
    if a is not None and b is not None and b <= a:
        raise InvalidInput.field("end_time", "after-start", "end_time must be after start_time (same day)")
    return a, b


async def add_rule(session: AsyncSession, data: RuleCreate) -> RuleOut:
    """Add weekly hours. Raises InvalidInput (times, therapist, service) or Conflict (too many)."""
    await _therapist(session, data.therapist_id)
    start, end = _times(data.start_time, data.end_time)
    if data.service_id is not None:
        from anima.domains.catalog.models import Service

        if await session.get(Service, data.service_id) is None:
            raise InvalidInput.field("service_id", "exists", "no service with this id")
    count = (await session.execute(sa.select(sa.func.count()).where(AvailabilityRule.therapist_id == data.therapist_id))).scalar_one()
    if count >= MAX_RULES:
        raise InvalidInput.field("therapist_id", "max-rules", f"a therapist has at most {MAX_RULES} weekly rules")
    rule = AvailabilityRule(id=uuid.uuid4(), therapist_id=data.therapist_id, weekday=data.weekday,
                            start_time=start, end_time=end, service_id=data.service_id)
    session.add(rule)
    await session.flush()
    return _rule_out(rule)


async def list_rules(session: AsyncSession, therapist_id: uuid.UUID) -> list[RuleOut]:
    """A therapist's weekly rules, by weekday and start."""
    rows = (await session.execute(sa.select(AvailabilityRule).where(AvailabilityRule.therapist_id == therapist_id)
                                  .order_by(AvailabilityRule.weekday, AvailabilityRule.start_time))).scalars()
    return [_rule_out(r) for r in rows]


async def get_rule(session: AsyncSession, rule_id: uuid.UUID) -> AvailabilityRule:
    """One weekly rule. Raises NotFound."""
    rule = await session.get(AvailabilityRule, rule_id)
    if rule is None:
        raise NotFound("availability rule not found")
    return rule


async def delete_rule(session: AsyncSession, rule: AvailabilityRule) -> None:
    """Remove a weekly rule (bookings already made stay)."""
    await session.delete(rule)
    await session.flush()


async def add_override(session: AsyncSession, data: OverrideCreate) -> OverrideOut:
    """Add a date override. Raises InvalidInput naming the field (times, date range, therapist)."""
    await _therapist(session, data.therapist_id)
    if (data.start_time is None) != (data.end_time is None):
        raise InvalidInput.field("end_time" if data.end_time is None else "start_time", "together", "give both times or neither")
    if data.available and data.start_time is None:
        raise InvalidInput.field("start_time", "required", "extra hours need start_time and end_time")
    start, end = _times(data.start_time, data.end_time)
    today = datetime.date.today()
    if not (today - datetime.timedelta(days=366) <= data.on_date <= today + datetime.timedelta(days=731)):
        raise InvalidInput.field("on_date", "range", "a date from a year ago to two years ahead")
    count = (await session.execute(sa.select(sa.func.count()).where(AvailabilityOverride.therapist_id == data.therapist_id))).scalar_one()
    if count >= MAX_OVERRIDES:
        raise InvalidInput.field("therapist_id", "max-overrides", f"a therapist has at most {MAX_OVERRIDES} overrides")
    row = AvailabilityOverride(id=uuid.uuid4(), therapist_id=data.therapist_id, on_date=data.on_date, available=data.available,
                               start_time=start, end_time=end)
    session.add(row)
    await session.flush()
    return _override_out(row)


async def list_overrides(session: AsyncSession, therapist_id: uuid.UUID) -> list[OverrideOut]:
    """A therapist's date overrides, by date and start."""
    rows = (await session.execute(sa.select(AvailabilityOverride).where(AvailabilityOverride.therapist_id == therapist_id)
                                  .order_by(AvailabilityOverride.on_date, AvailabilityOverride.start_time))).scalars()
    return [_override_out(o) for o in rows]


async def get_override(session: AsyncSession, override_id: uuid.UUID) -> AvailabilityOverride:
    """One date override. Raises NotFound."""
    row = await session.get(AvailabilityOverride, override_id)
    if row is None:
        raise NotFound("availability override not found")
    return row


async def delete_override(session: AsyncSession, row: AvailabilityOverride) -> None:
    """Remove a date override (bookings already made stay)."""
    await session.delete(row)
    await session.flush()


async def load(session: AsyncSession, therapist_id: uuid.UUID, first: datetime.date, last: datetime.date) -> Availability:
    """The therapist's zone, rules and the overrides dated ``first``..``last`` (local dates)."""
    zone, _ = await therapist_zone(session, therapist_id)
    rules = (await session.execute(sa.select(AvailabilityRule).where(AvailabilityRule.therapist_id == therapist_id))).scalars()
    overrides = (await session.execute(sa.select(AvailabilityOverride).where(
        AvailabilityOverride.therapist_id == therapist_id, AvailabilityOverride.on_date.between(first, last)))).scalars()
    return Availability(
        zone,
        tuple(Rule(r.weekday, r.start_time, r.end_time, r.service_id) for r in rules),
        tuple(Override(o.on_date, o.available, o.start_time, o.end_time) for o in overrides),
    )
