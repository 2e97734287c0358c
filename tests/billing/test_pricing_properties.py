"""Property tests of the pricing arithmetic (billing.pricing.apply_method + money.quantize)."""

from decimal import Decimal

from hypothesis import given
from hypothesis import strategies as st

from billing.models_pricebook import Method, check_method_value
from billing.pricing import apply_method
from customer360.money import minor_unit, quantize

amounts = st.decimals(min_value=Decimal(0), max_value=Decimal("100000"), places=6, allow_nan=False)
percent = st.decimals(min_value=Decimal(0), max_value=Decimal("99.9999"), places=4, allow_nan=False)
currencies = st.sampled_from(["USD", "EUR", "JPY", "KWD"])


@given(cost=amounts, p=percent, currency=currencies)
def test_markup_never_sells_below_cost_and_is_exact_before_rounding(cost, p, currency):
    raw = apply_method(Method.MARKUP, p, cost, Decimal(0), 1)
    assert raw == cost + cost * p / 100
    assert quantize(raw, currency) >= quantize(cost, currency)


@given(cost=amounts, p=percent, currency=currencies)
def test_margin_is_the_share_of_the_price(cost, p, currency):
    raw = apply_method(Method.MARGIN, p, cost, Decimal(0), 1)
    # (price - cost) / price = p %, up to the 30 decimals the division is carried to.
    assert abs(raw * (100 - p) - cost * 100) <= Decimal("1e-25")
    assert raw >= cost


@given(list_amount=amounts, p=st.decimals(min_value=0, max_value=100, places=4), currency=currencies)
def test_discount_stays_between_zero_and_list(list_amount, p, currency):
    price = quantize(apply_method(Method.DISCOUNT, p, Decimal(0), list_amount, 1), currency)
    assert Decimal(0) <= price <= quantize(list_amount, currency)


@given(value=amounts, quantity=st.decimals(min_value=0, max_value=10000, places=6))
def test_fixed_price_times_quantity(value, quantity):
    assert apply_method(Method.FIXED, value, Decimal(1), Decimal(1), quantity) == value * quantity


@given(raw=st.decimals(min_value=0, max_value=Decimal("1e9"), places=10), currency=currencies)
def test_rounding_is_to_the_minor_unit_half_up(raw, currency):
    rounded = quantize(raw, currency)
    unit = minor_unit(currency)
    assert rounded.as_tuple().exponent == unit.as_tuple().exponent
    assert abs(rounded - raw) <= unit / 2
    if abs(rounded - raw) == unit / 2:
        assert rounded > raw  # halves go up


@given(method=st.sampled_from(list(Method)), value=st.decimals(min_value=-1000, max_value=1000, places=4))
def test_only_sensible_values_are_accepted(method, value):
    message = check_method_value(method, value)
    sensible = (
        value >= 0
        and not (method == Method.MARGIN and value >= 100)
        and not (method == Method.DISCOUNT and value > 100)
    )
    assert (message == "") == sensible
