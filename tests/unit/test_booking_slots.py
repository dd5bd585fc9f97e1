"""Slot search across time zones and DST changes (pure: no database).

Properties over random rules, overrides and bookings in zones with unusual changes (a 30-minute
DST in Lord Howe, a +05:45 zone without DST): every offered slot lies in a local availability
window, overlaps no busy interval with its buffers, respects notice and horizon; a booked slot
is never offered again and booking never creates slots. The local-time oracle scans minutes
(the zones' offsets and changes are whole minutes), independent of the bisection in the module.
"""

from __future__ import annotations

import datetime
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from anima.domains.bookings.slots import (
    Availability, Busy, Override, Rule, SlotRules, free_slots, is_free, local_instant, local_windows,
)

UTC = datetime.UTC
MADRID, NEW_YORK = ZoneInfo("Europe/Madrid"), ZoneInfo("America/New_York")
LORD_HOWE, KATHMANDU = ZoneInfo("Australia/Lord_Howe"), ZoneInfo("Asia/Kathmandu")
#: days around the 2027 DST changes of each zone (Kathmandu has none)
CHANGES = {
    MADRID: [datetime.date(2027, 3, 28), datetime.date(2027, 10, 31)],
    NEW_YORK: [datetime.date(2027, 3, 14), datetime.date(2027, 11, 7)],
    LORD_HOWE: [datetime.date(2027, 4, 4), datetime.date(2027, 10, 3)],
    KATHMANDU: [datetime.date(2027, 6, 1)],
}


def first_instant_reading(day: datetime.date, wall: datetime.time, zone: ZoneInfo) -> datetime.datetime:
    """Oracle: the first instant (scanning minutes) at which the local clock reads ``wall`` or later."""
    target = datetime.datetime.combine(day, wall)
    t = datetime.datetime.combine(day, datetime.time(0), tzinfo=UTC) - datetime.timedelta(hours=16)
    while t.astimezone(zone).replace(tzinfo=None) < target:
        t += datetime.timedelta(minutes=1)
    return t


def test_local_instant_rule_on_the_changes():
    # Madrid springs forward at 02:00 CET on 28 March 2027: 02:30 does not exist -> the jump (01:00Z)
    assert local_instant(datetime.date(2027, 3, 28), datetime.time(2, 30), MADRID) == datetime.datetime(2027, 3, 28, 1, 0, tzinfo=UTC)
    # and falls back at 03:00 CEST on 31 October 2027: 02:30 happens twice -> the first (CEST, 00:30Z)
    assert local_instant(datetime.date(2027, 10, 31), datetime.time(2, 30), MADRID) == datetime.datetime(2027, 10, 31, 0, 30, tzinfo=UTC)
    # Lord Howe jumps 30 minutes (02:00 -> 02:30 on 3 October 2027)
    jump = local_instant(datetime.date(2027, 10, 3), datetime.time(2, 10), LORD_HOWE)
    assert jump.astimezone(LORD_HOWE).time() == datetime.time(2, 30)
    assert local_instant(datetime.date(2027, 6, 1), datetime.time(9), KATHMANDU) == datetime.datetime(2027, 6, 1, 3, 15, tzinfo=UTC)


def test_a_rule_stays_local_across_the_change_and_between_the_us_and_eu_changes():
    saturday = Availability(MADRID, (Rule(5, datetime.time(9), datetime.time(17)),))
    rules = SlotRules(duration_minutes=60, step_minutes=60, horizon_days=3650)
    now = datetime.datetime(2027, 1, 1, tzinfo=UTC)
    day = datetime.datetime(2027, 3, 20, tzinfo=UTC)  # New York already on EDT, Madrid still on CET
    slots = free_slots(saturday, rules, Busy([]), start=day, end=day + datetime.timedelta(days=1), now=now)
    at_three = datetime.datetime(2027, 3, 20, 14, tzinfo=UTC)
    assert at_three in slots
    assert at_three.astimezone(MADRID).hour == 15 and at_three.astimezone(NEW_YORK).hour == 10
    after = datetime.datetime(2027, 4, 3, tzinfo=UTC)  # Madrid on CEST: 09:00 local is 07:00Z
    assert free_slots(saturday, rules, Busy([]), start=after, end=after + datetime.timedelta(days=1), now=now)[0] == datetime.datetime(2027, 4, 3, 7, tzinfo=UTC)


def test_overrides_add_and_remove_hours():
    day = datetime.date(2027, 5, 3)  # a Monday
    availability = Availability(MADRID, (Rule(0, datetime.time(9), datetime.time(13)),), (
        Override(day, False, datetime.time(10), datetime.time(11)), Override(day, True, datetime.time(15), datetime.time(16)),
    ))
    assert local_windows(availability, day) == [(datetime.time(9), datetime.time(10)), (datetime.time(11), datetime.time(13)),
                                                (datetime.time(15), datetime.time(16))]
    holiday = Availability(MADRID, availability.rules, (Override(day, False),))
    assert local_windows(holiday, day) == []


def test_a_window_inside_the_gap_is_empty_and_per_service_rules_apply_only_to_their_service():
    availability = Availability(MADRID, (Rule(6, datetime.time(2), datetime.time(2, 45)), Rule(6, datetime.time(10), datetime.time(11), "yoga")))
    rules = SlotRules(duration_minutes=30, horizon_days=3650)
    start = datetime.datetime(2027, 3, 27, 12, tzinfo=UTC)
    args = dict(start=start, end=start + datetime.timedelta(days=1), now=datetime.datetime(2027, 1, 1, tzinfo=UTC))
    assert free_slots(availability, rules, Busy([]), **args) == []
    assert len(free_slots(availability, rules, Busy([]), service_id="yoga", **args)) == 3


times = st.builds(datetime.time, st.integers(0, 23), st.sampled_from([0, 15, 30, 45]))


@st.composite
def scenarios(draw):
    zone = draw(st.sampled_from(list(CHANGES)))
    change = draw(st.sampled_from(CHANGES[zone]))
    first = change + datetime.timedelta(days=draw(st.integers(-2, 1)))
    rules = []
    for _ in range(draw(st.integers(1, 6))):
        a, b = sorted(draw(st.lists(times, min_size=2, max_size=2, unique=True)))
        rules.append(Rule(draw(st.integers(0, 6)), a, b, draw(st.sampled_from([None, None, "svc", "other"]))))
    overrides = []
    for _ in range(draw(st.integers(0, 4))):
        day = first + datetime.timedelta(days=draw(st.integers(0, 3)))
        if draw(st.booleans()):
            overrides.append(Override(day, False))
        else:
            a, b = sorted(draw(st.lists(times, min_size=2, max_size=2, unique=True)))
            overrides.append(Override(day, draw(st.booleans()), a, b))
    slot_rules = SlotRules(
        duration_minutes=draw(st.sampled_from([15, 30, 50, 60, 90])), step_minutes=draw(st.sampled_from([5, 15, 30, 60])),
        buffer_before_minutes=draw(st.sampled_from([0, 10, 15])), buffer_after_minutes=draw(st.sampled_from([0, 5, 30])),
        notice_minutes=draw(st.integers(0, 24 * 60)), horizon_days=draw(st.integers(1, 4)),
    )
    start = datetime.datetime.combine(first, datetime.time(0), tzinfo=UTC)
    now = start - datetime.timedelta(minutes=draw(st.integers(0, 36 * 60)))
    busy = []
    for _ in range(draw(st.integers(0, 8))):
        b_start = start + datetime.timedelta(minutes=15 * draw(st.integers(-8, 4 * 96)))
        busy.append((b_start, b_start + datetime.timedelta(minutes=draw(st.sampled_from([15, 45, 60, 120])))))
    return Availability(zone, tuple(rules), tuple(overrides)), slot_rules, busy, start, start + datetime.timedelta(days=4), now


def in_some_window(availability: Availability, slot: datetime.datetime, duration: datetime.timedelta) -> bool:
    local_day = slot.astimezone(availability.zone).date()
    for day in (local_day - datetime.timedelta(days=1), local_day):
        for a, b in local_windows(availability, day, "svc"):
            if first_instant_reading(day, a, availability.zone) <= slot and slot + duration <= first_instant_reading(day, b, availability.zone):
                return True
    return False


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios())
def test_offered_slots_are_inside_windows_free_and_within_notice_and_horizon(scenario):
    availability, rules, busy, start, end, now = scenario
    slots = free_slots(availability, rules, Busy(busy), start=start, end=end, now=now, service_id="svc")
    assert slots == sorted(set(slots))
    for s in slots:
        assert start <= s < end
        assert s >= now + datetime.timedelta(minutes=rules.notice_minutes)
        assert s <= now + datetime.timedelta(days=rules.horizon_days)
        a, b = rules.blocked(s)
        assert not any(x < b and a < y for x, y in busy), (s, busy)
        assert in_some_window(availability, s, rules.duration), (s, s.astimezone(availability.zone))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(scenarios(), st.data())
def test_a_booked_slot_is_never_offered_again(scenario, data):
    availability, rules, busy, start, end, now = scenario
    slots = free_slots(availability, rules, Busy(busy), start=start, end=end, now=now, service_id="svc")
    if not slots:
        return
    booked = data.draw(st.sampled_from(slots))
    assert is_free(availability, rules, Busy(busy), booked, now=now, service_id="svc")
    after = free_slots(availability, rules, Busy([*busy, rules.blocked(booked)]), start=start, end=end, now=now, service_id="svc")
    assert booked not in after
    assert set(after) <= set(slots)
    for s in after:  # nothing left overlaps the new booking's blocked range, buffers included
        a, b = rules.blocked(s)
        x, y = rules.blocked(booked)
        assert not (a < y and x < b)
