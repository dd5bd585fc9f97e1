"""Google busy times in the slot search: subtracting extra busy intervals is exactly "drop every
start whose blocked range overlaps one" (property-based), the FreeBusy cache's window rule, and
the deterministic event id's alphabet."""

from __future__ import annotations

import datetime
import re
import uuid
from zoneinfo import ZoneInfo

from hypothesis import given, settings, strategies as st

from anima.domains.bookings.slots import Availability, Busy, Rule, SlotRules, free_slots
from anima.domains.gcal import cache
from anima.domains.gcal.sync import event_id

UTC = datetime.UTC
MADRID = ZoneInfo("Europe/Madrid")
START = datetime.datetime(2027, 3, 26, tzinfo=UTC)
AVAILABILITY = Availability(MADRID, tuple(Rule(w, datetime.time(8), datetime.time(20)) for w in range(7)))


def _interval() -> st.SearchStrategy[tuple[datetime.datetime, datetime.datetime]]:
    minutes = st.integers(min_value=0, max_value=5 * 24 * 60)
    return st.tuples(minutes, st.integers(min_value=1, max_value=600)).map(
        lambda t: (START + datetime.timedelta(minutes=t[0]), START + datetime.timedelta(minutes=t[0] + t[1])))


@settings(max_examples=150, deadline=None)
@given(own=st.lists(_interval(), max_size=6), extra=st.lists(_interval(), max_size=8),
       duration=st.sampled_from([30, 50, 60]), step=st.sampled_from([15, 30, 60]), before=st.integers(0, 20), after=st.integers(0, 20))
def test_extra_busy_removes_exactly_the_overlapping_starts(own, extra, duration, step, before, after):
    rules = SlotRules(duration, step, before, after, 0, 365)
    window = dict(start=START, end=START + datetime.timedelta(days=5), now=START - datetime.timedelta(days=1))
    without = free_slots(AVAILABILITY, rules, Busy(list(own)), **window)
    with_extra = free_slots(AVAILABILITY, rules, Busy([*own, *extra]), **window)

    def hit(s: datetime.datetime) -> bool:
        a, b = rules.blocked(s)
        return any(x < b and a < y for x, y in extra)

    assert with_extra == [s for s in without if not hit(s)]


def test_the_cache_answers_only_inside_its_window_and_forgets_on_demand():
    tid, therapist = 10_001, uuid.uuid4()
    a, b = START, START + datetime.timedelta(days=2)
    busy = [(START + datetime.timedelta(hours=1), START + datetime.timedelta(hours=2))]
    cache.store(tid, therapist, a, b, busy)
    assert cache.lookup(tid, therapist, a + datetime.timedelta(hours=3), b) == tuple(busy)
    assert cache.lookup(tid, therapist, a - datetime.timedelta(seconds=1), b) is None  # wider than fetched
    assert cache.lookup(tid + 1, therapist, a, b) is None  # another tenant
    cache.forget(tid, therapist)
    assert cache.lookup(tid, therapist, a, b) is None


@given(st.uuids())
def test_event_ids_are_google_base32hex(booking_id):
    assert re.fullmatch(r"[a-v0-9]{5,1024}", event_id(booking_id))
