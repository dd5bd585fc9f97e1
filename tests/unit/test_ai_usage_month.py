"""The calendar month (UTC) that AI analyses are counted in: property-based, any instant, any offset."""

from __future__ import annotations

import datetime

from hypothesis import given, settings
from hypothesis import strategies as st

from anima.billing.usage import month_start

instants = st.datetimes(
    min_value=datetime.datetime(1971, 1, 1), max_value=datetime.datetime(2200, 12, 31),
    timezones=st.sampled_from([datetime.UTC, datetime.timezone(datetime.timedelta(hours=14)),
                               datetime.timezone(datetime.timedelta(hours=-12)), datetime.timezone(datetime.timedelta(hours=5, minutes=30))]),
)


@settings(max_examples=300)
@given(instants)
def test_month_start_is_the_first_instant_of_the_utc_month(now: datetime.datetime) -> None:
    start = month_start(now)
    utc = now.astimezone(datetime.UTC)
    assert start.tzinfo == datetime.UTC and start.day == 1 and start.time() == datetime.time(0)
    assert (start.year, start.month) == (utc.year, utc.month)
    assert start <= now < start + datetime.timedelta(days=31)


def test_a_local_evening_on_the_last_day_is_already_next_month_in_utc() -> None:
    evening_at_utc_minus_one = datetime.datetime(2031, 1, 31, 23, 30, tzinfo=datetime.timezone(datetime.timedelta(hours=-1)))
    assert month_start(evening_at_utc_minus_one) == datetime.datetime(2031, 2, 1, tzinfo=datetime.UTC)
