"""Money as the customer's accept page shows it: amounts at the currency's minor unit, unit prices with
at least the minor unit's decimals and no more than they carry (1.3700 -> 1.37, 1.2345 stays)."""

from decimal import Decimal, InvalidOperation

from django import template

from customer360.money import minor_unit, quantize

register = template.Library()


def _decimal(value):
    try:
        return Decimal(str(value))
    except (InvalidOperation, TypeError, ValueError):
        return None


@register.filter
def amount(value, currency="USD"):
    number = _decimal(value)
    return value if number is None else f"{quantize(number, currency):,}"


@register.filter
def unit_price(value, currency="USD"):
    number = _decimal(value)
    if number is None:
        return value
    places = max(-minor_unit(currency).as_tuple().exponent, -number.normalize().as_tuple().exponent)
    return f"{number.quantize(Decimal(1).scaleb(-places)):,}"


@register.filter
def percent(value):
    """5.00 -> 5, 7.50 -> 7.5."""
    number = _decimal(value)
    return value if number is None else f"{number.normalize():f}"
