"""The earnings page's pure rules: a typed share in percent becomes basis points exactly (0–100 %,
at most two decimals, anything else refused), and "this month" is the calendar month of the day."""

from __future__ import annotations

import datetime

from hypothesis import given
from hypothesis import strategies as st

from anima.domains.payments.earnings_pages import share_to_bps, this_month


@given(st.integers(min_value=0, max_value=10_000), st.sampled_from([".", ","]))
def test_every_share_in_range_reads_back_exactly(bps, sign):
    whole, cents = divmod(bps, 100)
    assert share_to_bps(f"{whole}{sign}{cents:02d}") == bps
    if cents == 0:
        assert share_to_bps(str(whole)) == bps


@given(st.text(max_size=12))
def test_anything_else_is_refused_or_in_range(text):
    got = share_to_bps(text)
    assert got is None or 0 <= got <= 10_000


def test_out_of_range_and_malformed_shares_are_refused():
    for text in ("100.01", "101", "-1", "1e2", "12.345", "", "4\x000", "½", "1,2,3"):
        assert share_to_bps(text) is None, text


@given(st.dates(min_value=datetime.date(2000, 1, 1), max_value=datetime.date(2200, 12, 31)))
def test_this_month_is_the_days_calendar_month(day):
    first, last = this_month(day)
    assert first.day == 1 and first <= day <= last
    assert (first.year, first.month) == (day.year, day.month) == (last.year, last.month)
    assert (last + datetime.timedelta(days=1)).day == 1
