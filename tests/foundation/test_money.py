from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from customer360.money import Money, quantize


def test_rounding_is_half_up_to_the_currencys_minor_unit():
    assert quantize(Decimal("2.345"), "USD") == Decimal("2.35")
    assert quantize(Decimal("2.335"), "EUR") == Decimal("2.34")
    assert quantize(Decimal("-2.345"), "USD") == Decimal("-2.35")
    assert quantize(Decimal("1234.5"), "JPY") == Decimal("1235")
    assert quantize(Decimal("1.2345"), "KWD") == Decimal("1.235")


def test_floats_are_refused():
    with pytest.raises(TypeError):
        quantize(0.1, "USD")


def test_money_never_mixes_currencies():
    with pytest.raises(ValueError):
        Money(Decimal("1"), "USD") + Money(Decimal("1"), "EUR")
    assert Money(Decimal("1.005"), "usd") + Money(Decimal("2"), "USD") == Money(Decimal("3.01"), "USD")


@given(st.decimals(min_value=-(10**9), max_value=10**9, allow_nan=False, places=6))
def test_rounding_moves_an_amount_by_at_most_half_a_cent(amount):
    rounded = quantize(amount, "USD")
    assert abs(rounded - amount) <= Decimal("0.005")
    assert rounded == quantize(rounded, "USD")  # idempotent
