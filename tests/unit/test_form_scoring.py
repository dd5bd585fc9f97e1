"""PHQ-9 and GAD-7 scoring against the published rules, table-driven (item 9 included).

PHQ-9: Kroenke, Spitzer & Williams 2001 — total 0–27; 0–4 minimal, 5–9 mild, 10–14 moderate,
15–19 moderately severe, 20–27 severe; item 9 above 0 is a risk flag whatever the total.
GAD-7: Spitzer et al. 2006 — total 0–21; 0–4 minimal, 5–9 mild, 10–14 moderate, 15–21 severe.
"""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from anima.domains.forms import scoring

PHQ9_TABLE = [
    # items (1..9), total, band, risk flag
    ([0, 0, 0, 0, 0, 0, 0, 0, 0], 0, "minimal", False),
    ([1, 1, 1, 1, 0, 0, 0, 0, 0], 4, "minimal", False),
    ([1, 1, 1, 1, 1, 0, 0, 0, 0], 5, "mild", False),
    ([2, 2, 2, 2, 1, 0, 0, 0, 0], 9, "mild", False),
    ([2, 2, 2, 2, 2, 0, 0, 0, 0], 10, "moderate", False),
    ([2, 2, 2, 2, 2, 2, 2, 0, 0], 14, "moderate", False),
    ([3, 3, 3, 3, 3, 0, 0, 0, 0], 15, "moderately_severe", False),
    ([3, 3, 3, 3, 3, 2, 2, 0, 0], 19, "moderately_severe", False),
    ([3, 3, 3, 3, 3, 3, 2, 0, 0], 20, "severe", False),
    ([3, 3, 3, 3, 3, 3, 3, 3, 3], 27, "severe", True),
    # item 9 raises the flag whatever the total, even with everything else at 0
    ([0, 0, 0, 0, 0, 0, 0, 0, 1], 1, "minimal", True),
    ([0, 0, 0, 0, 0, 0, 0, 0, 2], 2, "minimal", True),
    ([1, 1, 1, 1, 0, 0, 0, 0, 3], 7, "mild", True),
    ([3, 3, 3, 3, 3, 3, 3, 3, 0], 24, "severe", False),
]
GAD7_TABLE = [
    ([0] * 7, 0, "minimal"),
    ([1, 1, 1, 1, 0, 0, 0], 4, "minimal"),
    ([1, 1, 1, 1, 1, 0, 0], 5, "mild"),
    ([2, 2, 2, 2, 1, 0, 0], 9, "mild"),
    ([2, 2, 2, 2, 2, 0, 0], 10, "moderate"),
    ([2, 2, 2, 2, 2, 2, 2], 14, "moderate"),
    ([3, 3, 3, 3, 3, 0, 0], 15, "severe"),
    ([3] * 7, 21, "severe"),
]


@pytest.mark.parametrize(("items", "total", "band", "flag"), PHQ9_TABLE)
def test_phq9_follows_the_published_bands_and_item_9(items, total, band, flag):
    result = scoring.score_phq9(items)
    assert (result.total, result.band, result.risk_flag) == (total, band, flag)
    by_keys = scoring.score("phq9", {f"item_{i}": str(v) for i, v in enumerate(items, start=1)})
    assert by_keys == result


@pytest.mark.parametrize(("items", "total", "band"), GAD7_TABLE)
def test_gad7_follows_the_published_bands(items, total, band):
    result = scoring.score_gad7(items)
    assert (result.total, result.band, result.risk_flag) == (total, band, False)


def _published_phq9_band(total: int) -> str:
    if total <= 4:
        return "minimal"
    if total <= 9:
        return "mild"
    if total <= 14:
        return "moderate"
    if total <= 19:
        return "moderately_severe"
    return "severe"


@given(st.lists(st.integers(0, 3), min_size=9, max_size=9))
def test_every_phq9_answer_set_scores_within_range(items):
    result = scoring.score_phq9(items)
    assert 0 <= result.total <= 27 and result.total == sum(items)
    assert result.band == _published_phq9_band(result.total)
    assert result.risk_flag == (items[8] > 0)


@given(st.lists(st.integers(0, 3), min_size=7, max_size=7))
def test_every_gad7_answer_set_scores_within_range(items):
    result = scoring.score_gad7(items)
    assert 0 <= result.total <= 21
    assert result.band == ("minimal" if result.total <= 4 else "mild" if result.total <= 9 else "moderate" if result.total <= 14 else "severe")


@pytest.mark.parametrize("items", [[0] * 8, [0] * 10, [0] * 8 + [4], [0] * 8 + [-1], [0] * 8 + [True]])
def test_incomplete_or_out_of_range_phq9_is_refused(items):
    with pytest.raises(ValueError):
        scoring.score_phq9(items)


def test_a_missing_item_is_not_scored():
    with pytest.raises(ValueError, match="item_9"):
        scoring.score("phq9", {f"item_{i}": "1" for i in range(1, 9)})
