"""The pricing service: what a customer pays for a plan, an add-on or a usage line on a date, and why.

Every price in Customer360 comes from here (quotes, carts, invoices), or from its set-based twin
billing.pricing_sql for millions of usage rows; tests/billing/test_pricing_sql.py proves they agree.
price_many (BatchPricer) prices many plans and add-ons for one customer and date in a constant number of
queries, with the same rule choice and arithmetic (tests/billing/test_pricing_batch.py proves it).

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

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, localcontext

from django.core.exceptions import PermissionDenied, ValidationError
from django.db.models import Q
from django.utils import timezone

from customer360.money import Money, quantize
from marketplace.models import AddOn, Plan
from marketplace.services import ProviderNotAuthorized, authorized_providers, check_provider_authorized

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
        raise _no_rate(currency, on_date)
    return rate


def exchange_rates(currencies, on_date: date) -> dict:
    """{currency: units per USD on the date} for those of `currencies` that have a rate, in one query
    (none when all are USD); a currency missing from the answer has no rate in effect."""
    wanted = {c for c in currencies if c != "USD"}
    rates = {"USD": Decimal(1)}
    if wanted:
        rows = (
            ExchangeRate.objects.filter(currency__in=wanted, effective_date__lte=on_date)
            .order_by("currency", "-effective_date")
            .distinct("currency")
            .values_list("currency", "rate")
        )
        rates.update(rows)
    return rates


def _no_rate(currency: str, on_date: date) -> PricingError:
    return PricingError(
        f"No USD to {currency} exchange rate is in effect on {on_date}; platform staff add one."
    )


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


def rules_in_effect(pricebooks, scope_keys, on_date: date):
    """The rules of the pricebooks in effect on the date with one of the scope keys, most specific first."""
    return (
        PricebookRule.objects.filter(pricebook__in=pricebooks, scope_key__in=scope_keys)
        .filter(valid_from__lte=on_date)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=on_date))
        .select_related("product", "plan", "addon")
        .order_by("-specificity")
    )


def most_specific_rule(rules, item) -> PricebookRule | None:
    """The first of `rules` (one pricebook's rules in effect, most specific first) that covers the item."""
    keys = set(item_scope_keys(item))
    return next((rule for rule in rules if rule.scope_key in keys), None)


def pick_rule(pricebook: Pricebook, item, on_date: date) -> PricebookRule | None:
    """The most specific rule of the pricebook in effect on the date that covers the item."""
    return most_specific_rule(rules_in_effect([pricebook], item_scope_keys(item), on_date), item)


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


def _quote(*, item, pricebook, assignment, currency, on_date, quantity, unit_cost, unit_list, book_reason,
           rate=None, rule=None):  # fmt: skip
    """The quote, from the rate and the rule when the caller has them (price_many), else looked up."""
    if rate is None:
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
    pricebook, currency, reason = _book(customer, provider, assignment)
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


def _book(customer, provider, assignment) -> tuple:
    """(pricebook or None, currency, the reason) for the assignment that prices the customer's provider."""
    if assignment is None:
        reason = (
            f"No pricebook is assigned for {provider} and the reseller has no default, so list price applies."
        )
        return None, customer.currency, reason
    pricebook = assignment.pricebook
    where = LEVEL_REASON[assignment.level].format(target=assignment.cloud_account, provider=provider)
    return pricebook, pricebook.currency, f"Pricebook {pricebook.name} ({pricebook.currency}): {where}."


def price_many(customer, items, on_date: date | None = None, quantity=1, *, raise_errors=True) -> dict:
    """{item: PriceQuote} for Plans and AddOns: what price_for(customer, item, on_date, quantity) gives for
    each, without cloud account overrides (buy screens), in at most 4 queries whatever the number of items
    (see BatchPricer). `quantity` is a number or a function of the item. With raise_errors=False an item
    that cannot be priced maps to the exception price_for raises (ProviderNotAuthorized, ValidationError,
    PricingError) instead of it being raised."""
    items = list(dict.fromkeys(items))
    if not items:
        return {}
    pricer = BatchPricer(customer, items, on_date)
    quotes = {}
    for item in items:
        try:
            quotes[item] = pricer.quote(item, quantity(item) if callable(quantity) else quantity)
        except (PermissionDenied, ValidationError, PricingError) as exc:
            if raise_errors:
                raise
            quotes[item] = exc
    return quotes


class BatchPricer:
    """Prices any of `items` for one customer and date as price_for does without a cloud account, from
    the authorized providers, the assignments, the exchange rates and the rules read once (4 queries)."""

    def __init__(self, customer, items, on_date: date | None = None):
        self.customer, self.on_date = customer, on_date or timezone.localdate()
        for item in items:
            if not isinstance(item, (Plan, AddOn)):
                raise TypeError(f"cannot price a {type(item).__name__}")
        self.providers = {p.pk: p for p in authorized_providers(customer.reseller_id)}
        self.assignments = resolve_assignments(customer, self.on_date)
        books = {a.pricebook.pk: a.pricebook for a in self.assignments.values()}
        self.rates = exchange_rates({customer.currency, *(b.currency for b in books.values())}, self.on_date)
        self.rules = defaultdict(list)  # {pricebook id: its rules in effect, most specific first}
        if books:
            keys = {key for item in items for key in item_scope_keys(item)}
            for rule in rules_in_effect(list(books.values()), keys, self.on_date):
                self.rules[rule.pricebook_id].append(rule)

    def quote(self, item, quantity=1) -> PriceQuote:
        """What price_for(customer, item, on_date, quantity) gives; the item must be one of `items`."""
        provider = self.providers.get(item.product.provider_id)
        if provider is None:
            raise ProviderNotAuthorized(
                f"Your reseller is not authorized to sell {item.product.provider.name} products."
            )
        item.check_quantity(quantity)
        assignment = self.assignments.get(provider.pk)
        pricebook, currency, reason = _book(self.customer, provider, assignment)
        if currency not in self.rates:
            raise _no_rate(currency, self.on_date)
        unit_cost, unit_list = _catalog_amounts(item)
        return _quote(
            item=item,
            pricebook=pricebook,
            assignment=assignment,
            currency=currency,
            on_date=self.on_date,
            quantity=quantity,
            unit_cost=unit_cost,
            unit_list=unit_list,
            book_reason=reason,
            rate=self.rates[currency],
            rule=most_specific_rule(self.rules[pricebook.pk], item) if pricebook is not None else None,
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
