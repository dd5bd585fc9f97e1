"""Invoice arithmetic: integers only, half-up rounding where stated, totals that add up."""

from __future__ import annotations

from fractions import Fraction

from hypothesis import given
from hypothesis import strategies as st

from anima.domains.invoices.totals import Line, round_half_up_bps, totals

LINES = st.lists(st.builds(Line, quantity=st.integers(1, 10_000), unit_minor=st.integers(0, 100_000_000),
                           discount_bps=st.integers(0, 10_000)), min_size=1, max_size=20)


def _half_up(value: Fraction) -> int:
    return int(value + Fraction(1, 2)) if value >= 0 else -int(-value + Fraction(1, 2))


@given(amount=st.integers(0, 10**12), bps=st.integers(0, 10_000))
def test_rounding_is_half_up_of_the_exact_value(amount, bps):
    exact = Fraction(amount * bps, 10_000)
    assert round_half_up_bps(amount, bps) == _half_up(exact)
    assert 0 <= round_half_up_bps(amount, bps) <= amount


@given(lines=LINES, rate=st.integers(0, 10_000))
def test_totals_add_up_and_tax_is_on_the_subtotal(lines, rate):
    t = totals(lines, rate)
    assert t.subtotal_minor == sum(x.quantity * x.unit_minor - x.discount_minor for x in lines)
    assert t.discount_minor == sum(x.discount_minor for x in lines) >= 0
    assert t.tax_minor == _half_up(Fraction(t.subtotal_minor * rate, 10_000))
    assert t.total_minor == t.subtotal_minor + t.tax_minor
    assert all(isinstance(v, int) for v in (t.subtotal_minor, t.discount_minor, t.tax_minor, t.total_minor))
    # splitting the same lines differently never changes the tax (it is computed once)
    assert totals(list(reversed(lines)), rate) == t


def test_worked_example():
    # 3 × 33.33 with 10 % off = 99.99 − 10.00 (9.999 rounds half up) = 89.99; VAT 21 % of 89.99 = 18.8979 → 18.90
    t = totals([Line(3, 3333, 1000)], 2100)
    assert (t.subtotal_minor, t.discount_minor, t.tax_minor, t.total_minor) == (8999, 1000, 1890, 10889)
    assert round_half_up_bps(1, 5000) == 1 and round_half_up_bps(1, 4999) == 0
