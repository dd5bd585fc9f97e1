"""Published scoring of the standard measures shipped as system templates.

* **PHQ-9** — Kroenke K, Spitzer RL, Williams JBW. "The PHQ-9: validity of a brief depression
  severity measure." *J Gen Intern Med* 2001;16(9):606–613. Nine items scored 0–3 ("not at all",
  "several days", "more than half the days", "nearly every day"); total 0–27; severity bands
  0–4 minimal, 5–9 mild, 10–14 moderate, 15–19 moderately severe, 20–27 severe. Item 9
  (thoughts of being better off dead or of self-harm) above 0 raises a risk flag whatever the
  total: it calls for a clinician's review of suicide risk.
* **GAD-7** — Spitzer RL, Kroenke K, Williams JBW, Löwe B. "A brief measure for assessing
  generalized anxiety disorder: the GAD-7." *Arch Intern Med* 2006;166(10):1092–1097. Seven items
  scored 0–3; total 0–21; bands 0–4 minimal, 5–9 mild, 10–14 moderate, 15–21 severe.

Scores are computed from complete answers only (every item answered): :func:`score` raises
ValueError otherwise, which the form's required items prevent.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

#: (lowest total, band) in ascending order, per measure
PHQ9_BANDS: tuple[tuple[int, str], ...] = (
    (0, "minimal"), (5, "mild"), (10, "moderate"), (15, "moderately_severe"), (20, "severe"),
)
GAD7_BANDS: tuple[tuple[int, str], ...] = ((0, "minimal"), (5, "mild"), (10, "moderate"), (15, "severe"))
ITEMS = {"phq9": 9, "gad7": 7}
MAX_TOTAL = {"phq9": 27, "gad7": 21}


@dataclass(frozen=True)
class MeasureScore:
    """A measure's result: ``measure`` (``phq9``/``gad7``), ``total``, ``band`` and ``risk_flag``
    (PHQ-9 item 9 above 0; always False for GAD-7)."""

    measure: str
    total: int
    band: str
    risk_flag: bool

    def as_dict(self) -> dict[str, object]:
        return {"measure": self.measure, "total": self.total, "band": self.band, "risk_flag": self.risk_flag}


def _band(total: int, bands: tuple[tuple[int, str], ...]) -> str:
    found = bands[0][1]
    for low, name in bands:
        if total >= low:
            found = name
    return found


def _items(measure: str, items: Sequence[int]) -> list[int]:
    if len(items) != ITEMS[measure]:
        raise ValueError(f"{measure} has {ITEMS[measure]} items, got {len(items)}")
    if any(not isinstance(i, int) or isinstance(i, bool) or not 0 <= i <= 3 for i in items):
        raise ValueError(f"{measure} items are scored 0 to 3")
    return list(items)


def score_phq9(items: Sequence[int]) -> MeasureScore:
    """PHQ-9 (Kroenke, Spitzer & Williams 2001): ``items`` are the nine answers 0–3 in order.

    Raises:
        ValueError: not nine items of 0–3.
    """
    values = _items("phq9", items)
    total = sum(values)
    return MeasureScore("phq9", total, _band(total, PHQ9_BANDS), values[8] > 0)


def score_gad7(items: Sequence[int]) -> MeasureScore:
    """GAD-7 (Spitzer et al. 2006): ``items`` are the seven answers 0–3 in order.

    Raises:
        ValueError: not seven items of 0–3.
    """
    values = _items("gad7", items)
    total = sum(values)
    return MeasureScore("gad7", total, _band(total, GAD7_BANDS), False)


def item_keys(measure: str) -> list[str]:
    """The field keys of a measure's items in order (``item_1`` …)."""
    return [f"item_{i}" for i in range(1, ITEMS[measure] + 1)]


def score(measure: str, answers: dict[str, object]) -> MeasureScore:
    """Score ``answers`` (field key → value; items keyed ``item_1`` …, values 0–3 as text or int).

    Raises:
        ValueError: an unknown measure or an item missing or out of range.
    """
    if measure not in ITEMS:
        raise ValueError(f"unknown measure {measure!r}")
    values = []
    for key in item_keys(measure):
        raw = answers.get(key)
        if isinstance(raw, str) and raw.isdigit():
            raw = int(raw)
        if not isinstance(raw, int):
            raise ValueError(f"{measure}: {key} is not answered")
        values.append(raw)
    return score_phq9(values) if measure == "phq9" else score_gad7(values)
