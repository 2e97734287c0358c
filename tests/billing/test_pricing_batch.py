"""price_many prices a catalog exactly as price_for, item for item, in a constant number of queries."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from billing.models_pricebook import Method, Scope
from billing.pricing import PricingError, price_for, price_many
from customer360.tenancy import tenant_scope

from ..factories import CustomerFactory, ResellerFactory
from ..marketplace.factories import AddOnFactory, PlanFactory, ProductFactory, ProviderFactory, authorize
from .factories import AssignmentFactory, ExchangeRateFactory, PricebookFactory, RuleFactory

pytestmark = pytest.mark.django_db

START = date(2025, 1, 1)
DAYS = 180
CATEGORIES = ["Compute", "Storage", "Security"]


def _decimal(rng, places, high):
    return Decimal(rng.randrange(0, high * 10**places)).scaleb(-places)


def _rules(rng, book, targets):
    """Rules of random scopes, methods and dates; no two of one scope overlap (as the constraint says)."""
    for scope, target in targets:
        if scope != Scope.PROVIDER and rng.random() < 0.5:
            continue
        cursor = START - timedelta(days=30)
        while cursor < START + timedelta(days=DAYS):
            until = cursor + timedelta(days=rng.randrange(20, 120)) if rng.random() < 0.8 else None
            method = rng.choice(list(Method))
            value = {
                Method.MARKUP: _decimal(rng, 4, 60),
                Method.MARGIN: _decimal(rng, 4, 99),
                Method.DISCOUNT: _decimal(rng, 4, 100),
                Method.FIXED: _decimal(rng, 6, 30),
            }[method]
            RuleFactory(pricebook=book, scope_type=scope, method=method, value=value,
                        valid_from=cursor, valid_until=until, **target)  # fmt: skip
            if until is None:
                break
            cursor = until + timedelta(days=rng.randrange(1, 15))


def build_catalog(rng):
    """Two authorized providers (and one not), products, plans and add-ons, pricebooks in several
    currencies with rules of every scope, and customers priced by their own book, the reseller's
    default or list price."""
    reseller = ResellerFactory(name="Batch Cloud", slug="batch")
    providers = [ProviderFactory(code="aws", name="AWS"), ProviderFactory(code="m365", name="Microsoft 365")]
    stranger = ProviderFactory(code="gcp", name="Google Cloud")
    authorize(reseller, *providers)
    for currency, base in (("EUR", "0.92"), ("GBP", "0.79"), ("JPY", "151.3")):
        for month in range(0, 6, 2):
            rate = Decimal(base) + _decimal(rng, 4, 1) / 10
            ExchangeRateFactory(currency=currency, rate=rate, effective_date=date(2025, 1 + month, 1))
    # AUD has no rate before March: prices in AUD before then cannot be given, by either form.
    ExchangeRateFactory(currency="AUD", rate=Decimal("1.51234567"), effective_date=date(2025, 3, 1))
    items = []
    targets = {
        p.pk: [(Scope.PROVIDER, {}), *((Scope.CATEGORY, {"category": c}) for c in CATEGORIES)]
        for p in providers
    }
    for provider in [*providers, stranger]:
        for n in range(4):
            category = CATEGORIES[n % len(CATEGORIES)]
            product = ProductFactory(provider=provider, category=category)
            plans = [
                PlanFactory(
                    product=product,
                    unit_cost=_decimal(rng, 2, 50),
                    list_price=_decimal(rng, 2, 80),
                    min_quantity=rng.choice([1, 1, 5]),
                )  # fmt: skip
                for _ in range(3)
            ]
            addon = AddOnFactory(
                product=product, unit_cost=_decimal(rng, 4, 9), list_price=_decimal(rng, 4, 12)
            )
            addon.plans.add(*plans)
            items += [*plans, addon]
            if provider in providers:
                targets[provider.pk] += [
                    (Scope.PRODUCT, {"product": product}),
                ]
                targets[provider.pk] += [(Scope.PLAN, {"plan": p}) for p in plans]
                targets[provider.pk].append((Scope.ADDON, {"addon": addon}))
    books = {p.pk: [] for p in providers}
    for provider in providers:
        for i, currency in enumerate(["USD", "EUR", "GBP", "AUD", "JPY"]):
            start, until = (
                (START - timedelta(days=400), None) if i % 2 == 0 else (START + timedelta(days=40), None)
            )
            book = PricebookFactory(reseller=reseller, provider=provider, currency=currency,
                                    valid_from=start, valid_until=until)  # fmt: skip
            _rules(rng, book, targets[provider.pk])
            books[provider.pk].append(book)
    aws, m365 = providers
    AssignmentFactory(pricebook=books[aws.pk][0], valid_until=date(2025, 3, 31))  # the reseller's default
    AssignmentFactory(pricebook=books[m365.pk][2], valid_from=date(2025, 2, 1))
    customers = []
    for n in range(6):
        customer = CustomerFactory(reseller=reseller, currency=rng.choice(["USD", "EUR", "GBP", "AUD"]))
        for provider in providers:
            if n % 3:
                until = START + timedelta(days=rng.randrange(30, 120))
                AssignmentFactory(
                    pricebook=rng.choice(books[provider.pk]), customer=customer, valid_until=until
                )
                AssignmentFactory(pricebook=rng.choice(books[provider.pk]), customer=customer,
                                  valid_from=until + timedelta(days=rng.randrange(1, 20)))  # fmt: skip
        customers.append(customer)
    return reseller, customers, items


def _outcome(result):
    """What a quote (or a refusal) says, to compare the two forms."""
    if isinstance(result, Exception):
        return ("refused", type(result).__name__, str(result))
    return (result.amount, result.cost, result.list_price, result.unit_price, result.quantity,
            result.pricebook, result.rule, result.assignment, result.exchange_rate, result.explanation)  # fmt: skip


def _one(customer, item, on_date, quantity):
    try:
        return price_for(customer, item, on_date, quantity)
    except Exception as exc:  # ProviderNotAuthorized, ValidationError, PricingError
        return exc


@pytest.mark.parametrize("seed", [1, 2])
def test_price_many_equals_price_for_for_every_item(seed):
    rng = random.Random(seed)
    reseller, customers, items = build_catalog(rng)
    kinds = {"rule": 0, "list": 0, "refused": 0}
    with tenant_scope(reseller):
        for customer in customers:
            for on_date in (START + timedelta(days=d) for d in (0, 45, 70, 100, 150)):
                for quantity in (1, 7, lambda item: max(3, item.min_quantity)):
                    batch = price_many(customer, items, on_date, quantity, raise_errors=False)
                    assert list(batch) == items
                    for item in items:
                        wanted = quantity(item) if callable(quantity) else quantity
                        expected = _one(customer, item, on_date, wanted)
                        assert _outcome(batch[item]) == _outcome(expected), (customer, item, on_date, wanted)
                        if isinstance(expected, Exception):
                            kinds["refused"] += 1
                        else:
                            kinds["rule" if expected.rule else "list"] += 1
    # The sample exercises every path: rule prices, list prices, refusals.
    assert kinds["rule"] > 500 and kinds["list"] > 50 and kinds["refused"] > 50, kinds


def test_price_many_raises_what_price_for_raises():
    reseller, _customers, items = build_catalog(random.Random(3))
    with tenant_scope(reseller):
        aud = CustomerFactory(reseller=reseller, currency="AUD")
        with pytest.raises(PricingError, match="No USD to AUD"):
            price_many(aud, [i for i in items if i.product.provider.code == "m365"], date(2024, 1, 1))
        assert price_many(aud, []) == {}
        with pytest.raises(TypeError):
            price_many(aud, [aud])


def test_price_many_query_count_does_not_depend_on_the_number_of_items():
    reseller, customers, items = build_catalog(random.Random(4))
    authorized = [i for i in items if i.product.provider.code != "gcp"]
    with tenant_scope(reseller):
        for customer in customers:
            counts = []
            for some in (authorized[:1], authorized[:5], authorized):
                with CaptureQueriesContext(connection) as ctx:
                    price_many(customer, some, START + timedelta(days=100), raise_errors=False)
                counts.append(len(ctx.captured_queries))
            assert counts[0] == counts[1] == counts[2] <= 4, counts
