"""The pricing service: what a customer pays for a plan, an add-on or a usage line on a date, and why.

Every price in Customer360 comes from here (quotes, carts, invoices), or from its set-based twin
billing.pricing_sql for millions of usage rows; tests/billing/test_pricing_sql.py proves they agree.

How a price is found:

1. The pricebook. The most specific assignment in effect on the date whose pricebook is in effect
   too: the cloud account's override, else the customer's pricebook, else the reseller's default for
   the provider (billing.models_changes.PricebookAssignment). None of them: list price.
2. The rule. Within that pricebook, the most specific rule in effect on the date that covers the item
   (plan or add-on > product > product category > provider; service name > service category >
   provider for usage). Rules of equal scope never overlap in time (a database constraint).
   No rule covers it: list price, in the pricebook's currency.
3. The arithmetic, on the catalog's USD amounts converted to the pricebook's currency at the exchange
   rate in effect on the date:
     markup on cost    cost x (100 + p) / 100
     margin on price   cost x 100 / (100 - p)      (so that (price - cost) / price = p %)
     discount off list list x (100 - p) / 100
     fixed unit price  the rule's value (already in the pricebook's currency) x quantity
4. Rounding, once, at the end: money.quantize to the currency's minor unit, half-up. A plan's unit
   price is rounded and then multiplied by the quantity (what an invoice line shows); a usage line's
   amount is rounded as a whole. The one division (margin) is carried to DIVISION_PLACES decimals
   first, exactly as the SQL form does, so both forms round the same number.
"""

from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext

from django.db.models import Q
from django.utils import timezone

from customer360.money import Money, quantize
from marketplace.models import AddOn, Plan
from marketplace.services import check_provider_authorized

from .models import ExchangeRate, Pricebook, PricebookAssignment, PricebookRule
from .models_pricebook import Method, Scope, scope_key

DIVISION_PLACES = 30
DIVISION_EXP = Decimal(1).scaleb(-DIVISION_PLACES)
HUNDREDTH = Decimal("0.01")


class PricingError(Exception):
    """A price cannot be given (no exchange rate for the currency on the date, ...); says why."""


@dataclass(frozen=True)
class UsageLine:
    """One consumption line as a provider bills it, in USD (the reseller's cost and the list amount)."""

    provider: str  # Provider.code
    usage_date: date
    cost: Decimal
    list_cost: Decimal
    quantity: Decimal = Decimal(1)
    service_name: str = ""
    service_category: str = ""
    sku: str = ""


@dataclass(frozen=True)
class PriceQuote:
    """A price and its reasons. Amounts are for `quantity`; unit_price is per unit (plans, add-ons)."""

    amount: Money
    cost: Money
    list_price: Money
    unit_price: Money | None
    quantity: Decimal
    on_date: date
    pricebook: Pricebook | None
    rule: PricebookRule | None
    assignment: PricebookAssignment | None
    exchange_rate: Decimal
    explanation: str
    steps: list = field(default_factory=list, compare=False)

    @property
    def currency(self) -> str:
        return self.amount.currency

    @property
    def margin(self) -> Money:
        return Money(self.amount.amount - self.cost.amount, self.currency)


def exchange_rate(currency: str, on_date: date) -> Decimal:
    """Units of `currency` per USD on the date (the latest rate effective on or before it)."""
    if currency == "USD":
        return Decimal(1)
    rate = (
        ExchangeRate.objects.filter(currency=currency, effective_date__lte=on_date)
        .order_by("-effective_date")
        .values_list("rate", flat=True)
        .first()
    )
    if rate is None:
        raise PricingError(
            f"No USD to {currency} exchange rate is in effect on {on_date}; platform staff add one."
        )
    return rate


def apply_method(
    method: str | None, value: Decimal | None, cost: Decimal, list_amount: Decimal, quantity
) -> Decimal:
    """The unrounded price for `quantity`, from cost and list already in the pricebook's currency.
    method None: list price (no pricebook, or no rule covers the item)."""
    with localcontext() as ctx:
        ctx.prec = 80  # wide enough that only the margin's division, below, is ever inexact
        if method == Method.MARKUP:
            return cost * (100 + value) * HUNDREDTH
        if method == Method.MARGIN:
            return quantize((cost * 100) / (100 - value), exp=DIVISION_EXP)
        if method == Method.DISCOUNT:
            return list_amount * (100 - value) * HUNDREDTH
        if method == Method.FIXED:
            return value * quantity
        return list_amount


def assignments_in_effect(customer, on_date: date, cloud_account=None):
    """The assignments that may price the customer (or one of its cloud accounts) on the date, with
    their pricebook in effect too, most specific level first."""
    levels = Q(level=PricebookAssignment.Level.RESELLER) | Q(
        level=PricebookAssignment.Level.CUSTOMER, customer=customer
    )
    if cloud_account is not None:
        levels |= Q(
            level=PricebookAssignment.Level.CLOUD_ACCOUNT, customer=customer, cloud_account=cloud_account
        )
    return (
        PricebookAssignment.objects.filter(reseller_id=customer.reseller_id)
        .filter(levels)
        .filter(valid_from__lte=on_date)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on_date))
        .filter(pricebook__valid_from__lte=on_date)
        .filter(Q(pricebook__valid_until__isnull=True) | Q(pricebook__valid_until__gte=on_date))
        .select_related("pricebook", "pricebook__provider", "cloud_account")
        .order_by("-level")
    )


def resolve_assignment(customer, provider, on_date: date, cloud_account=None) -> PricebookAssignment | None:
    """The assignment whose pricebook prices this customer's (or account's) provider on the date."""
    if cloud_account is not None and (
        cloud_account.customer_id != customer.pk or cloud_account.provider != provider.code
    ):
        raise PricingError(f"{cloud_account} is not a {provider} account of {customer}.")
    return assignments_in_effect(customer, on_date, cloud_account).filter(provider=provider).first()


def resolve_assignments(customer, on_date: date) -> dict:
    """{provider id: assignment} for the customer level of every provider, in one query."""
    chosen = {}
    for assignment in assignments_in_effect(customer, on_date):
        chosen.setdefault(assignment.provider_id, assignment)  # most specific level first
    return chosen


def item_scope_keys(item) -> list[str]:
    """The scope keys of the rules that may cover a plan, an add-on or a usage line."""
    if isinstance(item, UsageLine):
        keys = [scope_key(Scope.PROVIDER, None)]
        if item.service_category:
            keys.append(scope_key(Scope.SERVICE_CATEGORY, item.service_category))
        if item.service_name:
            keys.append(scope_key(Scope.SERVICE_NAME, item.service_name))
        return keys
    product = item.product
    own = Scope.PLAN if isinstance(item, Plan) else Scope.ADDON
    return [
        scope_key(Scope.PROVIDER, None),
        scope_key(Scope.CATEGORY, product.category),
        scope_key(Scope.PRODUCT, product.pk),
        scope_key(own, item.pk),
    ]


def pick_rule(pricebook: Pricebook, item, on_date: date) -> PricebookRule | None:
    """The most specific rule of the pricebook in effect on the date that covers the item."""
    return (
        PricebookRule.objects.filter(pricebook=pricebook, scope_key__in=item_scope_keys(item))
        .filter(valid_from__lte=on_date)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on_date))
        .select_related("product", "plan", "addon")
        .order_by("-specificity")
        .first()
    )


def _method_text(rule, value_cost: Decimal, value_list: Decimal, currency: str) -> str:
    if rule is None:
        return f"list price {quantize(value_list, currency)} {currency}"
    value = f"{rule.value.normalize():f}"
    if rule.method == Method.MARKUP:
        return f"cost {quantize(value_cost, currency)} {currency} + {value}% markup"
    if rule.method == Method.MARGIN:
        return f"cost {quantize(value_cost, currency)} {currency} at a margin of {value}%"
    if rule.method == Method.DISCOUNT:
        return f"list {quantize(value_list, currency)} {currency} - {value}% discount"
    return f"fixed unit price {value} {currency}"


def _quote(*, item, pricebook, assignment, currency, on_date, quantity, unit_cost, unit_list, book_reason):
    rate = exchange_rate(currency, on_date)
    rule = pick_rule(pricebook, item, on_date) if pricebook is not None else None
    cost_c, list_c = unit_cost * rate, unit_list * rate
    method, value = (rule.method, rule.value) if rule is not None else (None, None)
    steps = [book_reason]
    if rule is not None:
        steps.append(f"Rule: {rule} (in effect from {rule.valid_from}).")
    elif pricebook is not None:
        steps.append(f"No rule of {pricebook.name} covers it, so list price applies.")
    if currency != "USD":
        steps.append(
            f"Catalog USD converted at 1 USD = {rate.normalize():f} {currency} (rate in effect on {on_date})."
        )
    if isinstance(item, UsageLine):
        unit_price = None
        amount = quantize(apply_method(method, value, cost_c, list_c, quantity), currency)
        cost, list_amount = quantize(cost_c, currency), quantize(list_c, currency)
        steps.append(f"Line: {_method_text(rule, cost_c, list_c, currency)} = {amount} {currency}.")
    else:
        unit = quantize(apply_method(method, value, cost_c, list_c, 1), currency)
        unit_price = Money(unit, currency)
        amount = unit * quantity
        cost, list_amount = quantize(cost_c * quantity, currency), quantize(list_c * quantity, currency)
        steps.append(f"Unit price: {_method_text(rule, cost_c, list_c, currency)} = {unit} {currency}.")
        if quantity != 1:
            steps.append(f"{quantity} x {unit} = {amount} {currency}.")
    return PriceQuote(
        amount=Money(amount, currency),
        cost=Money(cost, currency),
        list_price=Money(list_amount, currency),
        unit_price=unit_price,
        quantity=Decimal(quantity),
        on_date=on_date,
        pricebook=pricebook,
        rule=rule,
        assignment=assignment,
        exchange_rate=rate,
        explanation=" ".join(steps),
        steps=steps,
    )


LEVEL_REASON = {
    PricebookAssignment.Level.CLOUD_ACCOUNT: "the override for cloud account {target}",
    PricebookAssignment.Level.CUSTOMER: "the pricebook assigned to this customer",
    PricebookAssignment.Level.RESELLER: "the reseller's default pricebook for {provider} (none assigned to the customer)",
}


def _catalog_amounts(item):
    return item.unit_cost, item.list_price


def price_for(customer, item, on_date: date | None = None, quantity=1, cloud_account=None) -> PriceQuote:
    """What `customer` pays for `quantity` of a Plan or AddOn on `on_date` (default today), or for one
    UsageLine (on its usage date, for its quantity), and why.

    Raises ProviderNotAuthorized for a provider the customer's reseller may not sell, a ValidationError
    on `quantity` outside the item's limits, PricingError when a price cannot be given."""
    if isinstance(item, UsageLine):
        provider = check_provider_authorized(item.provider, customer.reseller_id)
        quantity, on_date = item.quantity, item.usage_date
        unit_cost, unit_list = item.cost, item.list_cost
    else:
        if not isinstance(item, (Plan, AddOn)):
            raise TypeError(f"cannot price a {type(item).__name__}")
        provider = check_provider_authorized(item.product.provider, customer.reseller_id)
        item.check_quantity(quantity)
        unit_cost, unit_list = _catalog_amounts(item)
        on_date = on_date or timezone.localdate()
    assignment = resolve_assignment(customer, provider, on_date, cloud_account)
    if assignment is None:
        pricebook, currency = None, customer.currency
        reason = (
            f"No pricebook is assigned for {provider} and the reseller has no default, so list price applies."
        )
    else:
        pricebook, currency = assignment.pricebook, assignment.pricebook.currency
        where = LEVEL_REASON[assignment.level].format(target=assignment.cloud_account, provider=provider)
        reason = f"Pricebook {pricebook.name} ({currency}): {where}."
    return _quote(
        item=item,
        pricebook=pricebook,
        assignment=assignment,
        currency=currency,
        on_date=on_date,
        quantity=quantity,
        unit_cost=unit_cost,
        unit_list=unit_list,
        book_reason=reason,
    )


def price_with_pricebook(pricebook: Pricebook, item, on_date: date | None = None, quantity=1) -> PriceQuote:
    """What `pricebook` charges for the item on the date, whoever it is assigned to (admin preview)."""
    if isinstance(item, UsageLine):
        quantity, unit_cost, unit_list = item.quantity, item.cost, item.list_cost
        on_date = item.usage_date
    else:
        if item.product.provider_id != pricebook.provider_id:
            raise PricingError(f"{item} is not a {pricebook.provider} item.")
        item.check_quantity(quantity)
        unit_cost, unit_list = _catalog_amounts(item)
        on_date = on_date or timezone.localdate()
    reason = f"Pricebook {pricebook.name} ({pricebook.currency})."
    if not pricebook.in_effect(on_date):
        reason += f" Note: the pricebook is not in effect on {on_date}."
    return _quote(
        item=item,
        pricebook=pricebook,
        assignment=None,
        currency=pricebook.currency,
        on_date=on_date,
        quantity=quantity,
        unit_cost=unit_cost,
        unit_list=unit_list,
        book_reason=reason,
    )
