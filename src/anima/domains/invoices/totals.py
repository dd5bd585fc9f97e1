"""Invoice arithmetic in integer minor units (one currency per invoice; sums never mix currencies).

Rounding rule (stated once, applied in two places only): **half up** (away from zero for the
non-negative amounts used here) to a whole minor unit, with integer arithmetic
``(a × bps + 5 000) // 10 000``:

* a line's discount: ``round_half_up(quantity × unit_minor × discount_bps / 10 000)``;
* the tax: ``round_half_up(subtotal × tax_rate_bps / 10 000)``, on the invoice's subtotal once
  (not per line), so the tax of an invoice does not depend on how its lines are split.

``subtotal = Σ (quantity × unit_minor − line discount)``; ``total = subtotal + tax``.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass


def round_half_up_bps(amount_minor: int, bps: int) -> int:
    """``amount × bps / 10 000`` rounded half up, for ``amount ≥ 0`` and ``bps ≥ 0``."""
    if amount_minor < 0 or bps < 0:
        raise ValueError("amounts and rates are non-negative")
    return (amount_minor * bps + 5_000) // 10_000


@dataclass(frozen=True)
class Line:
    """One line: ``quantity`` × ``unit_minor``, less ``discount_bps`` of it."""

    quantity: int
    unit_minor: int
    discount_bps: int = 0

    @property
    def gross_minor(self) -> int:
        return self.quantity * self.unit_minor

    @property
    def discount_minor(self) -> int:
        return round_half_up_bps(self.gross_minor, self.discount_bps)

    @property
    def net_minor(self) -> int:
        return self.gross_minor - self.discount_minor


@dataclass(frozen=True)
class Totals:
    subtotal_minor: int
    discount_minor: int
    tax_minor: int
    total_minor: int


def totals(lines: Iterable[Line], tax_rate_bps: int) -> Totals:
    """The totals of ``lines`` at ``tax_rate_bps`` (see the module docstring)."""
    items = list(lines)
    subtotal = sum(line.net_minor for line in items)
    tax = round_half_up_bps(subtotal, tax_rate_bps)
    return Totals(subtotal, sum(line.discount_minor for line in items), tax, subtotal + tax)
