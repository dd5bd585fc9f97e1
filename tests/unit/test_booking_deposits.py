"""What a client pays online for a booking: the full price, a fixed deposit, or a share of the
price in basis points rounded half up (property-tested against exact decimal arithmetic)."""

from __future__ import annotations

from decimal import ROUND_HALF_UP, Decimal

from hypothesis import given
from hypothesis import strategies as st

from anima.domains.payments.booking_checkout import due_online

prices = st.integers(min_value=1, max_value=100_000_000)


@given(prices, st.integers(min_value=1, max_value=10_000))
def test_a_share_deposit_is_the_price_share_rounded_half_up(price: int, bp: int) -> None:
    exact = (Decimal(price) * bp / Decimal(10_000)).quantize(Decimal(1), rounding=ROUND_HALF_UP)
    due = due_online(price, "DEPOSIT", None, bp)
    assert due == max(1, int(exact)) and 1 <= due <= price


@given(prices, st.data())
def test_a_fixed_deposit_and_the_full_price(price: int, data: st.DataObject) -> None:
    deposit = data.draw(st.integers(min_value=1, max_value=price))
    assert due_online(price, "DEPOSIT", deposit, None) == deposit
    assert due_online(price, "FULL", None, None) == price
    assert due_online(price, "NONE", None, None) == 0


def test_examples_and_free_services() -> None:
    assert due_online(6000, "DEPOSIT", None, 3000) == 1800
    assert due_online(1005, "DEPOSIT", None, 5000) == 503  # 502.5 rounds up
    assert due_online(1003, "DEPOSIT", None, 5000) == 502  # 501.5 rounds up: 502
    assert due_online(1, "DEPOSIT", None, 1) == 1  # never 0 for a priced service
    assert due_online(0, "FULL", None, None) == 0
    assert due_online(10_000, "DEPOSIT", None, 10_000) == 10_000
