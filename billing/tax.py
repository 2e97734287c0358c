"""Tax on an amount for one customer: the function the quote builder and the invoice run both call.

The tax on a line is one component per rate of the customer's tax profile in force on the line's date
(e.g. a state rate and a county rate), each rounded on its own with customer360.money.quantize, in the
line's currency, so an invoice can print every component and its total adds up exactly.
No tax profile, the profile's "use tax" off, an exemption in force on the date, or a category the
profile does not tax: no components, zero tax.
"""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from customer360.money import Money

from .models_tax import TaxCategory, TaxProfile

HUNDRED = Decimal("100")
CATEGORIES = frozenset(TaxCategory.values)  # (the enum builds the list anew on every read)


@dataclass(frozen=True)
class TaxComponent:
    name: str
    rate: Decimal  # percent, e.g. Decimal("7.25")
    amount: Money


def _profile(customer):
    # The invoice run may hand in a customer whose profile it prefetched; otherwise one query.
    try:
        return customer.tax_profile
    except TaxProfile.DoesNotExist:
        return None


def _rates(profile):
    # The invoice run reads a chunk's rates once and hands each profile its list of them (chunk_rates):
    # a reseller's few rates are shared by thousands of profiles.
    shared = getattr(profile, "chunk_rates", None)
    return shared if shared is not None else profile.rates.all()


def tax_breakdown(customer, category: str, amount: Money, on_date: date) -> list[TaxComponent]:
    """The tax components on `amount` of `category` for `customer` on `on_date`, by rate name.
    An unknown category is a programming error (a typo must not silently mean "no tax")."""
    if category not in CATEGORIES:
        raise ValueError(f"unknown tax category {category!r}; one of {', '.join(TaxCategory.values)}")
    profile = _profile(customer)
    if profile is None or not profile.taxes(category, on_date):
        return []
    rates = sorted((r for r in _rates(profile) if r.in_effect(on_date)), key=lambda r: (r.name, r.pk))
    return [
        TaxComponent(
            name=r.name, rate=r.rate, amount=Money(amount.amount * r.rate / HUNDRED, amount.currency)
        )
        for r in rates
    ]


def estimate_tax(customer, category: str, amount: Money, on_date: date) -> Money:
    """The total tax on `amount`: the sum of tax_breakdown's rounded components."""
    total = Money(Decimal("0"), amount.currency)
    for component in tax_breakdown(customer, category, amount, on_date):
        total = total + component.amount
    return total
