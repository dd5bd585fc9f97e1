"""Slot search: the free start instants of a service with one therapist — pure, no database.

Inputs are plain values (:class:`Availability`, :class:`SlotRules`, busy intervals); the service
layer reads them from the database and the same computation serves staff and the public.

**Local time.** Rules and overrides are wall-clock times in the therapist's IANA zone, so a
09:00–13:00 rule stays 09:00–13:00 local across a DST change. One rule makes a local time ``T``
on a date an instant (:func:`local_instant`): **the first instant at which the local clock reads
``T`` or later.** So

* a local time that does **not exist** (the clocks jump forward over it) means the instant of the
  jump — the first valid local time after the gap (02:30 on a Madrid spring-forward day is 03:00
  CEST); a window lying wholly inside a gap is empty;
* a local time that exists **twice** (the clocks fall back) means its **first** occurrence (the
  earlier instant, PEP 495 ``fold=0``); a window running through the repeated hour keeps it all.

**Windows.** For each local date: the weekly rules of its weekday that apply (those without a
service and those for this service), plus the overrides with ``available`` true (extra hours),
minus the overrides with ``available`` false (time off; without times: the whole day). Windows
of one date are merged after the subtraction.

**Slots.** In each window, start instants go from the window's start in steps of
``step_minutes``; a start ``s`` is offered when the session ``[s, s + duration)`` lies in the
window, the blocked range ``[s - buffer_before, s + duration + buffer_after)`` overlaps no busy
interval (busy intervals are other bookings' and live holds' blocked ranges, half-open), ``s >=
now + notice`` and ``s <= now + horizon``. Buffers may reach outside the window (preparation time
need not be bookable time) but never into another booking's blocked range.
"""

from __future__ import annotations

import bisect
import datetime
from dataclasses import dataclass, field
from zoneinfo import ZoneInfo

UTC = datetime.UTC
Interval = tuple[datetime.datetime, datetime.datetime]


@dataclass(frozen=True)
class Rule:
    """Weekly hours: ``weekday`` 0 = Monday; ``start`` < ``end`` local; ``service_id`` None: any service."""

    weekday: int
    start: datetime.time
    end: datetime.time
    service_id: object | None = None


@dataclass(frozen=True)
class Override:
    """One local ``day``: ``available`` adds ``start``–``end``; not available removes it (None: whole day)."""

    day: datetime.date
    available: bool
    start: datetime.time | None = None
    end: datetime.time | None = None


@dataclass(frozen=True)
class Availability:
    """A therapist's zone, weekly rules and date overrides."""

    zone: ZoneInfo
    rules: tuple[Rule, ...] = ()
    overrides: tuple[Override, ...] = ()


@dataclass(frozen=True)
class SlotRules:
    """A service's booking settings, in minutes (``horizon_days`` in days)."""

    duration_minutes: int
    step_minutes: int = 15
    buffer_before_minutes: int = 0
    buffer_after_minutes: int = 0
    notice_minutes: int = 0
    horizon_days: int = 90

    @property
    def duration(self) -> datetime.timedelta:
        """The session's length."""
        return datetime.timedelta(minutes=self.duration_minutes)

    def blocked(self, start: datetime.datetime) -> Interval:
        """The therapist's time a session starting at ``start`` blocks: buffers included, half-open."""
        return (start - datetime.timedelta(minutes=self.buffer_before_minutes),
                start + self.duration + datetime.timedelta(minutes=self.buffer_after_minutes))


@dataclass
class Busy:
    """Busy intervals (aware, half-open), sorted once for overlap queries by bisection."""

    intervals: list[Interval] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.intervals = sorted(self.intervals)
        self._starts = [a for a, _ in self.intervals]
        # the longest interval bounds how far back an overlapping one can start
        self._longest = max((b - a for a, b in self.intervals), default=datetime.timedelta(0))

    def overlaps(self, start: datetime.datetime, end: datetime.datetime) -> bool:
        """Whether ``[start, end)`` overlaps any interval ``[a, b)`` (``a < end`` and ``start < b``)."""
        hi = bisect.bisect_left(self._starts, end)
        lo = bisect.bisect_left(self._starts, start - self._longest)
        return any(self.intervals[i][1] > start for i in range(lo, hi))


def local_instant(day: datetime.date, wall: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """The UTC instant of local ``wall`` time on ``day`` in ``zone`` (the module's DST rule:
    nonexistent -> the instant the clocks jump; repeated -> the first occurrence)."""
    naive = datetime.datetime.combine(day, wall)
    first = naive.replace(tzinfo=zone, fold=0)
    instant = first.astimezone(UTC)
    if instant.astimezone(zone).replace(tzinfo=None) == naive:
        return instant  # exists (fold=0 is the earlier of two when repeated)
    # in a gap: fold=0 applies the offset before the jump and lands after it; fold=1 the offset
    # after it and lands before; the jump is the first instant in between whose local time > naive
    low = int(naive.replace(tzinfo=zone, fold=1).astimezone(UTC).timestamp())
    high = int(instant.timestamp())
    while high - low > 1:  # whole seconds: zone offsets are whole seconds
        mid = (low + high) // 2
        if datetime.datetime.fromtimestamp(mid, zone).replace(tzinfo=None) > naive:
            high = mid
        else:
            low = mid
    return datetime.datetime.fromtimestamp(high, UTC)


def _subtract(windows: list[tuple[datetime.time, datetime.time]], off: tuple[datetime.time, datetime.time]) -> list[tuple[datetime.time, datetime.time]]:
    out = []
    for a, b in windows:
        c, d = off
        if d <= a or c >= b:
            out.append((a, b))
            continue
        if a < c:
            out.append((a, c))
        if d < b:
            out.append((d, b))
    return out


def _merge(windows: list[tuple[datetime.time, datetime.time]]) -> list[tuple[datetime.time, datetime.time]]:
    merged: list[tuple[datetime.time, datetime.time]] = []
    for a, b in sorted(windows):
        if merged and a <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(merged[-1][1], b))
        else:
            merged.append((a, b))
    return merged


def local_windows(availability: Availability, day: datetime.date, service_id: object | None = None) -> list[tuple[datetime.time, datetime.time]]:
    """The local ``(start, end)`` windows of ``day`` for ``service_id`` (see the module's rules)."""
    weekday = day.weekday()
    windows = [(r.start, r.end) for r in availability.rules
               if r.weekday == weekday and (r.service_id is None or r.service_id == service_id)]
    todays = [o for o in availability.overrides if o.day == day]
    windows += [(o.start, o.end) for o in todays if o.available and o.start is not None and o.end is not None]
    windows = _merge(windows)
    for o in todays:
        if not o.available:
            if o.start is None or o.end is None:
                return []
            windows = _subtract(windows, (o.start, o.end))
    return _merge(windows)


def utc_windows(availability: Availability, day: datetime.date, service_id: object | None = None) -> list[Interval]:
    """:func:`local_windows` of ``day`` as UTC instants (empty ones, inside a DST gap, dropped)."""
    out = []
    for a, b in local_windows(availability, day, service_id):
        start, end = local_instant(day, a, availability.zone), local_instant(day, b, availability.zone)
        if end > start:
            out.append((start, end))
    return out


def free_slots(
    availability: Availability,
    rules: SlotRules,
    busy: Busy,
    *,
    start: datetime.datetime,
    end: datetime.datetime,
    now: datetime.datetime,
    service_id: object | None = None,
) -> list[datetime.datetime]:
    """Free start instants (UTC, ascending) in ``[start, end)`` for one therapist.

    Args:
        availability: the therapist's zone, rules and overrides.
        rules: the service's duration, step, buffers, notice and horizon.
        busy: the therapist's blocked intervals (other bookings and live holds, buffers included).
        start, end: aware instants bounding the starts searched (half-open).
        now: the present (aware), for notice and horizon.
        service_id: selects the per-service rules that apply besides the general ones.
    """
    earliest = max(start, now + datetime.timedelta(minutes=rules.notice_minutes))
    latest = min(end - datetime.timedelta(microseconds=1), now + datetime.timedelta(days=rules.horizon_days))
    if latest < earliest:
        return []
    zone = availability.zone
    # local dates whose windows may hold a start in range (a window lies within its local day)
    first_day = earliest.astimezone(zone).date() - datetime.timedelta(days=1)
    last_day = latest.astimezone(zone).date()
    step = datetime.timedelta(minutes=rules.step_minutes)
    found: set[datetime.datetime] = set()
    day = first_day
    while day <= last_day:
        for w_start, w_end in utc_windows(availability, day, service_id):
            s = w_start
            if s < earliest:  # jump to the first step at or after earliest
                s += step * -(-(earliest - s) // step)
            while s + rules.duration <= w_end and s <= latest:
                if not busy.overlaps(*rules.blocked(s)):
                    found.add(s)
                s += step
        day += datetime.timedelta(days=1)
    return sorted(found)


def is_free(
    availability: Availability, rules: SlotRules, busy: Busy, starts_at: datetime.datetime, *,
    now: datetime.datetime, service_id: object | None = None,
) -> bool:
    """Whether ``starts_at`` is one of :func:`free_slots`' answers."""
    return starts_at in free_slots(availability, rules, busy, start=starts_at, end=starts_at + datetime.timedelta(microseconds=1),
                                   now=now, service_id=service_id)
