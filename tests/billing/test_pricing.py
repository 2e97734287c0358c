"""The pricing service: which pricebook, which rule, which arithmetic, which currency, which rounding."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError

from billing.models_pricebook import Method, Scope
from billing.pricing import PricingError, UsageLine, price_for, price_with_pricebook
from customer360.money import Money
from marketplace.services import ProviderNotAuthorized

from ..factories import CloudAccountFactory, CustomerFactory
from ..marketplace.factories import AddOnFactory, PlanFactory, ProductFactory, ProviderFactory
from .conftest import DAY
from .factories import AssignmentFactory, ExchangeRateFactory, PricebookFactory, RuleFactory

pytestmark = pytest.mark.django_db


def book_with(reseller, provider, *rules, currency="USD", **book):
    pricebook = PricebookFactory(reseller=reseller, provider=provider, currency=currency, **book)
    for rule in rules:
        RuleFactory(pricebook=pricebook, **rule)
    return pricebook


# --- Which pricebook -----------------------------------------------------------------------------------


def test_no_pricebook_and_no_default_is_list_price(customer, plan, scope):
    quote = price_for(customer, plan, DAY)
    assert quote.unit_price == Money(Decimal("12.50"), "USD")
    assert quote.pricebook is None and quote.rule is None
    assert "list price applies" in quote.explanation


def test_reseller_default_applies_when_none_is_assigned(acme, customer, plan, aws, scope):
    book = book_with(acme, aws, {"method": Method.MARKUP, "value": Decimal("20")})
    AssignmentFactory(pricebook=book)  # no customer: the reseller's default
    quote = price_for(customer, plan, DAY)
    assert quote.unit_price.amount == Decimal("12.00")
    assert quote.pricebook == book
    assert "default pricebook" in quote.explanation


def test_customer_pricebook_beats_default_and_account_override_beats_customer(
    acme, customer, account, plan, aws, scope
):
    default = book_with(acme, aws, {"method": Method.MARKUP, "value": Decimal("20")})
    mine = book_with(acme, aws, {"method": Method.MARKUP, "value": Decimal("5")})
    override = book_with(acme, aws, {"method": Method.FIXED, "value": Decimal("9.99")})
    AssignmentFactory(pricebook=default)
    AssignmentFactory(pricebook=mine, customer=customer)
    AssignmentFactory(pricebook=override, customer=customer, cloud_account=account)
    assert price_for(customer, plan, DAY).unit_price.amount == Decimal("10.50")
    quote = price_for(customer, plan, DAY, cloud_account=account)
    assert quote.unit_price.amount == Decimal("9.99")
    assert "override for cloud account" in quote.explanation
    other_account = CloudAccountFactory(customer=customer, provider="aws", account_id="210987654321")
    assert price_for(customer, plan, DAY, cloud_account=other_account).unit_price.amount == Decimal("10.50")


def test_another_customers_assignment_does_not_apply(acme, customer, plan, aws, scope):
    other = CustomerFactory(reseller=acme)
    AssignmentFactory(
        pricebook=book_with(acme, aws, {"method": Method.FIXED, "value": Decimal("1")}), customer=other
    )
    assert price_for(customer, plan, DAY).unit_price.amount == Decimal("12.50")


def test_assignment_and_pricebook_dates(acme, customer, plan, aws, scope):
    old = book_with(acme, aws, {"method": Method.FIXED, "value": Decimal("8")})
    new = book_with(acme, aws, {"method": Method.FIXED, "value": Decimal("9")}, valid_until=date(2025, 5, 31))
    AssignmentFactory(pricebook=old, customer=customer, valid_until=date(2025, 2, 28))
    AssignmentFactory(pricebook=new, customer=customer, valid_from=date(2025, 3, 1))
    assert price_for(customer, plan, date(2025, 2, 28)).unit_price.amount == Decimal("8.00")
    assert price_for(customer, plan, date(2025, 3, 1)).unit_price.amount == Decimal("9.00")
    # The assigned pricebook has ended: the next level (none here) applies.
    assert price_for(customer, plan, date(2025, 6, 1)).pricebook is None


# --- Which rule ----------------------------------------------------------------------------------------


def test_most_specific_rule_wins(acme, customer, plan, product, aws, scope):
    sibling = PlanFactory(product=product, unit_cost=Decimal("10"), list_price=Decimal("12.50"))
    other_product = PlanFactory(
        product=ProductFactory(provider=aws, category="Compute"), unit_cost=Decimal("10")
    )
    elsewhere = PlanFactory(product=ProductFactory(provider=aws, category="Storage"), unit_cost=Decimal("10"))
    book = book_with(
        acme, aws,
        {"method": Method.MARKUP, "value": Decimal("1"), "position": 9},
        {"scope_type": Scope.CATEGORY, "category": "Compute", "method": Method.MARKUP, "value": Decimal("2")},
        {"scope_type": Scope.PRODUCT, "product": product, "method": Method.MARKUP, "value": Decimal("3")},
        {"scope_type": Scope.PLAN, "plan": plan, "method": Method.MARKUP, "value": Decimal("4"), "position": 0},
    )  # fmt: skip
    AssignmentFactory(pricebook=book, customer=customer)
    assert price_for(customer, plan, DAY).unit_price.amount == Decimal("10.40")
    assert price_for(customer, sibling, DAY).unit_price.amount == Decimal("10.30")
    assert price_for(customer, other_product, DAY).unit_price.amount == Decimal("10.20")
    quote = price_for(customer, elsewhere, DAY)
    assert quote.unit_price.amount == Decimal("10.10")
    assert quote.rule.scope_type == Scope.PROVIDER
    assert "Rule: Markup on cost (%) 1 on Whole provider" in quote.explanation


def test_rule_dates_pick_the_version_in_effect(acme, customer, plan, aws, scope):
    book = book_with(
        acme, aws,
        {"method": Method.MARKUP, "value": Decimal("10"), "valid_until": date(2025, 3, 31)},
        {"method": Method.MARKUP, "value": Decimal("30"), "valid_from": date(2025, 4, 1)},
    )  # fmt: skip
    AssignmentFactory(pricebook=book, customer=customer)
    assert price_for(customer, plan, date(2025, 3, 31)).unit_price.amount == Decimal("11.00")
    assert price_for(customer, plan, date(2025, 4, 1)).unit_price.amount == Decimal("13.00")


def test_expired_specific_rule_falls_back_to_broader_one(acme, customer, plan, aws, scope):
    book = book_with(
        acme, aws,
        {"method": Method.MARKUP, "value": Decimal("10")},
        {"scope_type": Scope.PLAN, "plan": plan, "method": Method.FIXED, "value": Decimal("5"), "valid_until": date(2025, 1, 31)},
    )  # fmt: skip
    AssignmentFactory(pricebook=book, customer=customer)
    assert price_for(customer, plan, date(2025, 1, 31)).unit_price.amount == Decimal("5.00")
    assert price_for(customer, plan, date(2025, 2, 1)).unit_price.amount == Decimal("11.00")


def test_book_without_a_covering_rule_is_list_price(acme, customer, plan, aws, scope):
    book = book_with(
        acme, aws, {"scope_type": Scope.CATEGORY, "category": "Storage", "method": Method.MARKUP}
    )
    AssignmentFactory(pricebook=book, customer=customer)
    quote = price_for(customer, plan, DAY)
    assert quote.unit_price.amount == Decimal("12.50")
    assert "No rule of" in quote.explanation


# --- Methods, rounding ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("method", "value", "cost", "list_price", "expected"),
    [
        (Method.MARKUP, "15", "10.00", "12.50", "11.50"),
        (Method.MARKUP, "0", "10.00", "12.50", "10.00"),
        (Method.MARGIN, "20", "10.00", "12.50", "12.50"),  # (12.50 - 10) / 12.50 = 20 %
        (Method.MARGIN, "30", "10.00", "12.50", "14.29"),  # 14.2857...
        (Method.DISCOUNT, "10", "10.00", "12.50", "11.25"),
        (Method.DISCOUNT, "100", "10.00", "12.50", "0.00"),
        (Method.FIXED, "7.77", "10.00", "12.50", "7.77"),
        # Half-up to the cent: 0.125 -> 0.13 (banker's rounding would give 0.12).
        (Method.MARKUP, "25", "0.10", "1", "0.13"),
        (Method.DISCOUNT, "50", "1", "0.25", "0.13"),
        (Method.MARKUP, "12.5", "0.02", "1", "0.02"),  # 0.0225 -> 0.02
    ],
)
def test_each_method_and_half_up_rounding(
    acme, customer, aws, product, method, value, cost, list_price, expected, scope
):
    plan = PlanFactory(product=product, unit_cost=Decimal(cost), list_price=Decimal(list_price))
    book = book_with(acme, aws, {"method": method, "value": Decimal(value)})
    AssignmentFactory(pricebook=book, customer=customer)
    quote = price_for(customer, plan, DAY)
    assert quote.unit_price.amount == Decimal(expected)
    assert isinstance(quote.unit_price.amount, Decimal)


def test_quantity_multiplies_the_rounded_unit_price(acme, customer, aws, product, scope):
    plan = PlanFactory(product=product, unit_cost=Decimal("0.10"), list_price=Decimal("1"), max_quantity=500)
    AssignmentFactory(
        pricebook=book_with(acme, aws, {"method": Method.MARKUP, "value": Decimal("25")}), customer=customer
    )
    quote = price_for(customer, plan, DAY, quantity=100)
    assert quote.unit_price.amount == Decimal("0.13")
    assert quote.amount == Money(Decimal("13.00"), "USD")
    assert quote.cost.amount == Decimal("10.00")


def test_quantity_outside_min_and_max_is_refused(customer, product, scope):
    plan = PlanFactory(product=product, min_quantity=5, max_quantity=10)
    with pytest.raises(ValidationError) as exc:
        price_for(customer, plan, DAY, quantity=4)
    assert "at least 5" in str(exc.value.message_dict["quantity"])
    with pytest.raises(ValidationError) as exc:
        price_for(customer, plan, DAY, quantity=11)
    assert "at most 10" in str(exc.value.message_dict["quantity"])


def test_addon_rule_and_product_rule(acme, customer, aws, product, scope):
    addon = AddOnFactory(product=product, unit_cost=Decimal("2"), list_price=Decimal("3"))
    book = book_with(
        acme, aws,
        {"scope_type": Scope.PRODUCT, "product": product, "method": Method.MARKUP, "value": Decimal("50")},
        {"scope_type": Scope.ADDON, "addon": addon, "method": Method.DISCOUNT, "value": Decimal("10")},
    )  # fmt: skip
    AssignmentFactory(pricebook=book, customer=customer)
    assert price_for(customer, addon, DAY).unit_price.amount == Decimal("2.70")


# --- Currency ------------------------------------------------------------------------------------------


def test_pricebook_currency_converts_catalog_usd_at_the_rate_of_the_day(acme, customer, plan, aws, scope):
    ExchangeRateFactory(currency="EUR", rate=Decimal("0.9"), effective_date=date(2025, 1, 1))
    ExchangeRateFactory(currency="EUR", rate=Decimal("0.8"), effective_date=date(2025, 3, 10))
    book = book_with(acme, aws, {"method": Method.MARKUP, "value": Decimal("10")}, currency="EUR")
    AssignmentFactory(pricebook=book, customer=customer)
    quote = price_for(customer, plan, date(2025, 3, 9))
    assert quote.unit_price == Money(Decimal("9.90"), "EUR")  # 10 USD x 0.9 x 1.1
    assert quote.cost == Money(Decimal("9.00"), "EUR")
    quote = price_for(customer, plan, DAY)
    assert quote.unit_price == Money(Decimal("8.80"), "EUR")
    assert "1 USD = 0.8 EUR" in quote.explanation


def test_fixed_prices_are_in_the_pricebook_currency(acme, customer, plan, aws, scope):
    ExchangeRateFactory(currency="GBP", rate=Decimal("0.75"))
    book = book_with(acme, aws, {"method": Method.FIXED, "value": Decimal("11.00")}, currency="GBP")
    AssignmentFactory(pricebook=book, customer=customer)
    assert price_for(customer, plan, DAY).unit_price == Money(Decimal("11.00"), "GBP")


def test_list_price_without_a_book_is_in_the_customers_currency(acme, plan, scope):
    customer = CustomerFactory(reseller=acme, currency="CAD")
    ExchangeRateFactory(currency="CAD", rate=Decimal("1.37"))
    assert price_for(customer, plan, DAY).unit_price == Money(Decimal("17.13"), "CAD")  # 17.125 half-up


def test_missing_exchange_rate_is_a_clear_error(acme, customer, plan, aws, scope):
    AssignmentFactory(
        pricebook=book_with(acme, aws, {"method": Method.MARKUP}, currency="AUD"), customer=customer
    )
    with pytest.raises(PricingError, match="No USD to AUD exchange rate"):
        price_for(customer, plan, DAY)


# --- Authorization, usage lines, preview ---------------------------------------------------------------


def test_unauthorized_provider_cannot_be_priced(customer, scope):
    azure_plan = PlanFactory(product=ProductFactory(provider=ProviderFactory(code="azure")))
    with pytest.raises(ProviderNotAuthorized):
        price_for(customer, azure_plan, DAY)


def test_usage_line_uses_service_rules(acme, customer, aws, scope):
    book = book_with(
        acme, aws,
        {"method": Method.MARKUP, "value": Decimal("10")},
        {"scope_type": Scope.SERVICE_CATEGORY, "service_category": "Storage", "method": Method.MARKUP, "value": Decimal("20")},
        {"scope_type": Scope.SERVICE_NAME, "service_name": "Amazon S3", "method": Method.DISCOUNT, "value": Decimal("5")},
    )  # fmt: skip
    AssignmentFactory(pricebook=book, customer=customer)
    line = dict(provider="aws", usage_date=DAY, cost=Decimal("100.004"), list_cost=Decimal("120"))
    assert price_for(customer, UsageLine(**line, service_name="Amazon EC2")).amount.amount == Decimal(
        "110.00"
    )
    assert price_for(customer, UsageLine(**line, service_category="Storage")).amount.amount == Decimal(
        "120.00"
    )
    s3 = price_for(customer, UsageLine(**line, service_name="Amazon S3", service_category="Storage"))
    assert s3.amount.amount == Decimal("114.00")
    assert s3.unit_price is None
    fixed = book_with(acme, aws, {"method": Method.FIXED, "value": Decimal("0.023")})
    quote = price_with_pricebook(fixed, UsageLine(**line, quantity=Decimal("1000.5")), DAY)
    assert quote.amount.amount == Decimal("23.01")  # 23.0115


def test_preview_with_a_pricebook_names_the_rule(acme, plan, aws, scope):
    book = book_with(
        acme, aws, {"scope_type": Scope.PLAN, "plan": plan, "method": Method.MARGIN, "value": Decimal("50")}
    )
    quote = price_with_pricebook(book, plan, DAY, quantity=2)
    assert quote.unit_price.amount == Decimal("20.00") and quote.amount.amount == Decimal("40.00")
    assert quote.rule.plan == plan
    assert "at a margin of 50%" in quote.explanation
