"""The geometry of a patient's measure chart (PHQ-9 / GAD-7 totals over time), drawn server-side.

The person's page draws the series as an inline SVG line chart — no script, no inline style (the
CSP forbids both): every colour comes from a class of ``web/static/anima.css``. This module only
computes coordinates in the SVG's own user units (a ``WIDTH`` × ``HEIGHT`` view box, scaled by the
browser): the severity bands as horizontal strips (the published cut-offs of
:mod:`anima.domains.forms.scoring`), one point per submission spaced evenly in time order (the
dates are labels, not a time axis: measures are taken at irregular intervals and an even spacing
keeps every point readable), and the dates shown in the viewer's IANA zone. The same points feed
the accessible table the template renders beside the drawing.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from anima.domains.forms.scoring import GAD7_BANDS, MAX_TOTAL, PHQ9_BANDS
from anima.domains.forms.services import MeasurePoint
from anima.web.formatting import day

#: the view box, in SVG user units
WIDTH = 600
HEIGHT = 240
#: room left for the axis labels (left, bottom) and a margin (top, right)
LEFT, BOTTOM, TOP, RIGHT = 36, 28, 8, 16
BANDS = {"phq9": PHQ9_BANDS, "gad7": GAD7_BANDS}


@dataclass(frozen=True)
class Band:
    """A severity strip: ``name`` (``minimal`` … ``severe``), its totals ``low``–``high`` and its rectangle."""

    name: str
    low: int
    high: int
    y: float
    height: float


@dataclass(frozen=True)
class Dot:
    """One submission: its position, ``total``, ``band``, ``risk_flag`` and ``date`` in the viewer's zone."""

    x: float
    y: float
    total: int
    band: str
    risk_flag: bool
    date: str


@dataclass(frozen=True)
class Chart:
    """What the template draws for one measure; ``dots`` is empty when there is nothing to show."""

    measure: str
    max_total: int
    width: int
    height: int
    plot_left: int
    plot_right: int
    bands: list[Band]
    dots: list[Dot]
    ticks: list[tuple[int, float]]

    @property
    def line(self) -> str:
        """The polyline's ``points`` attribute (``"x,y x,y …"``)."""
        return " ".join(f"{d.x:.1f},{d.y:.1f}" for d in self.dots)

    @property
    def latest(self) -> Dot | None:
        """The newest point, or None."""
        return self.dots[-1] if self.dots else None


def _y(total: float, max_total: int) -> float:
    span = HEIGHT - TOP - BOTTOM
    return TOP + span * (1 - total / max_total)


def measure_chart(measure: str, points: Sequence[MeasurePoint], language: str, zone_name: str | None) -> Chart:
    """The chart of ``points`` (oldest first, as :func:`anima.domains.forms.services.measure_series` gives them).

    Args:
        measure: ``phq9`` or ``gad7`` (KeyError otherwise).
        points: the series; totals are clamped into the measure's range for drawing only.
        language: the page language, for the dates.
        zone_name: the viewer's IANA zone; a date is the day of the submission in that zone.
    """
    max_total = MAX_TOTAL[measure]
    cuts = BANDS[measure]
    bands = []
    for i, (low, name) in enumerate(cuts):
        high = cuts[i + 1][0] - 1 if i + 1 < len(cuts) else max_total
        top, bottom = _y(high + 1 if high < max_total else max_total, max_total), _y(low, max_total)
        bands.append(Band(name, low, high, round(top, 1), round(bottom - top, 1)))
    plot_right = WIDTH - RIGHT
    n = len(points)
    step = (plot_right - LEFT - 24) / (n - 1) if n > 1 else 0.0
    dots = []
    for i, p in enumerate(points):
        x = LEFT + 12 + step * i if n > 1 else (LEFT + plot_right) / 2
        total = min(max(p.total, 0), max_total)
        dots.append(Dot(round(x, 1), round(_y(total, max_total), 1), p.total, p.band, p.risk_flag,
                        day(p.submitted_at, language, zone_name)))
    ticks = [(low, round(_y(low, max_total), 1)) for low, _ in cuts] + [(max_total, round(_y(max_total, max_total), 1))]
    return Chart(measure, max_total, WIDTH, HEIGHT, LEFT, plot_right, bands, dots, ticks)
