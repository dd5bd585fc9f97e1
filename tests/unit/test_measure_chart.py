"""The measure chart's geometry: every point inside the plot, in time order, bands stacked without gaps."""

from __future__ import annotations

import datetime
import uuid

from hypothesis import given
from hypothesis import strategies as st

from anima.domains.forms.chart import BOTTOM, HEIGHT, TOP, measure_chart
from anima.domains.forms.scoring import MAX_TOTAL
from anima.domains.forms.services import MeasurePoint

START = datetime.datetime(2026, 1, 1, 23, 30, tzinfo=datetime.UTC)


def point(total: int, days: int = 0) -> MeasurePoint:
    return MeasurePoint(uuid.uuid4(), START + datetime.timedelta(days=days), total, "minimal", False)


@given(st.sampled_from(["phq9", "gad7"]), st.lists(st.integers(0, 27), min_size=1, max_size=40))
def test_points_stay_inside_the_plot_in_order_and_higher_totals_are_higher(measure, totals):
    totals = [min(t, MAX_TOTAL[measure]) for t in totals]
    chart = measure_chart(measure, [point(t, i) for i, t in enumerate(totals)], "en", "Europe/Madrid")
    xs = [d.x for d in chart.dots]
    assert all(chart.plot_left <= x <= chart.plot_right for x in xs)
    assert all(TOP <= d.y <= HEIGHT - BOTTOM for d in chart.dots)
    assert xs == sorted(xs) and (len(xs) == 1 or len(set(xs)) == len(xs))
    for a, b in zip(chart.dots, chart.dots[1:]):
        assert (a.total < b.total) == (a.y > b.y)


def test_bands_cover_the_range_without_gaps_and_dates_are_in_the_viewers_zone():
    chart = measure_chart("phq9", [point(3), point(21, 1)], "en", "Europe/Madrid")
    assert [b.name for b in chart.bands] == ["minimal", "mild", "moderate", "moderately_severe", "severe"]
    assert [(b.low, b.high) for b in chart.bands] == [(0, 4), (5, 9), (10, 14), (15, 19), (20, 27)]
    for lower, upper in zip(chart.bands, chart.bands[1:]):
        assert abs(upper.y + upper.height - lower.y) < 0.2  # each strip sits on the one below
    assert chart.bands[-1].y == TOP and abs(chart.bands[0].y + chart.bands[0].height - (HEIGHT - BOTTOM)) < 0.2
    assert chart.dots[0].date == "Jan 2, 2026"  # 23:30 UTC is already the next day in Madrid
    assert measure_chart("gad7", [], "es", None).dots == []
