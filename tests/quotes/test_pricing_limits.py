"""Quote prices (the customer's pricebook, a lead's reseller default, the quote's currency), the one amount
formula and its rounding, totals with estimated tax, and the discount limits per role."""

import datetime
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.urls import reverse

from accounts.models import Role
from billing.models import PricebookAssignment
from billing.models_pricebook import Method
from billing.models_tax import TaxProfile, TaxRate
from customer360.money import Money
from quotes import services, services_lines
from quotes.models import DiscountLimit, Quote, QuoteLine, QuoteSection

from ..billing.factories import AssignmentFactory, ExchangeRateFactory, PricebookFactory, RuleFactory
from ..factories import DEFAULT_PASSWORD, UserFactory
from .factories import LEAD_DATA, start_quote

pytestmark = pytest.mark.django_db


def reseller_default(shop, method=Method.DISCOUNT, value=Decimal("10"), currency="USD"):
    """The reseller's default m365 pricebook (for customers with none, and for leads)."""
    book = PricebookFactory(
        reseller=shop.reseller, provider=shop.m365, name="Default M365", currency=currency
    )
    RuleFactory(pricebook=book, method=method, value=value)
    AssignmentFactory(pricebook=book, level=PricebookAssignment.Level.RESELLER)
    return book


# --- Prices -----------------------------------------------------------------------------------------------


def test_a_customer_gets_its_own_pricebook_and_a_lead_the_resellers_default(shop):
    reseller_default(shop)  # 10 % off list 12.50 = 11.25
    customer_quote = start_quote(shop, lines=[(shop.annual, 2, 0)])
    lead_quote = start_quote(shop, lead_data=LEAD_DATA, lines=[(shop.annual, 2, 0)])
    with shop.scope():
        customer_line = QuoteLine.objects.get(section__scenario__quote=customer_quote)
        lead_line = QuoteLine.objects.get(section__scenario__quote=lead_quote)
    assert (customer_line.unit_price, customer_line.amount) == (
        Decimal("12.00"),
        Decimal("24.00"),
    )  # 10 + 20 %
    assert (lead_line.unit_price, lead_line.amount) == (Decimal("11.25"), Decimal("22.50"))
    assert "default pricebook" in lead_line.pricing_explanation
    assert (lead_line.list_price, lead_line.unit_cost) == (Decimal("12.50"), Decimal("10.00"))


def test_a_lead_without_a_reseller_default_pays_list_price(shop):
    quote = start_quote(shop, lead_data=LEAD_DATA, lines=[(shop.annual, 3, 0)])
    with shop.scope():
        line = QuoteLine.objects.get(section__scenario__quote=quote)
    assert (line.unit_price, line.amount) == (Decimal("12.50"), Decimal("37.50"))
    assert "list price" in line.pricing_explanation


def test_prices_are_converted_to_the_quote_currency(shop):
    ExchangeRateFactory(currency="EUR", rate=Decimal("0.9"))
    quote = start_quote(shop, lines=[(shop.annual, 3, 0)])
    with shop.scope():
        services.do_update_basic_info(
            shop.user, quote, name="In euros", valid_until=quote.valid_until, currency="EUR"
        )
        line = QuoteLine.objects.get()
    assert (line.currency, line.unit_price, line.amount) == ("EUR", Decimal("10.80"), Decimal("32.40"))
    assert "Converted from USD to EUR" in line.pricing_explanation


def test_a_currency_without_a_rate_changes_nothing(shop):
    quote = start_quote(shop, lines=[(shop.annual, 3, 0)])
    with shop.scope():
        with pytest.raises(ValidationError, match="exchange rate"):
            services.do_update_basic_info(
                shop.user, quote, name="In pounds", valid_until=quote.valid_until, currency="GBP"
            )
        quote.refresh_from_db()
        line = QuoteLine.objects.get()
    assert quote.currency == "USD" and line.currency == "USD" and quote.name != "In pounds"


def test_quantity_limits_are_field_errors(shop):
    quote = start_quote(shop)
    with shop.scope():
        section = QuoteSection.objects.get()
        with pytest.raises(ValidationError) as exc:
            services_lines.do_add_line(shop.user, quote, section, shop.annual, quantity=301)
        assert "at most 300" in exc.value.message_dict["quantity"][0]
        assert not QuoteLine.objects.exists()


# --- Amounts, rounding and totals ------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "unit, quantity, discount, currency, expected",
    [
        ("10.99", 3, "12.5", "USD", "28.85"),  # 28.84875 rounds half-up
        ("0.125", 1, "0", "USD", "0.13"),
        ("19.99", 7, "0", "USD", "139.93"),
        ("100", 1, "33.33", "USD", "66.67"),
        ("1234", 3, "10", "JPY", "3332"),  # no minor unit
        ("5.00", 2, "100", "USD", "0.00"),
    ],
)
def test_line_amount_is_one_rounding(unit, quantity, discount, currency, expected):
    assert services.line_amount(Decimal(unit), quantity, Decimal(discount), currency) == Decimal(expected)


def test_totals_per_section_and_scenario_with_estimated_tax(shop):
    quote = start_quote(shop, lines=[(shop.annual, 3, Decimal("10")), (shop.addon, 3, 0)])
    with shop.scope():
        scenario = quote.scenarios.get()
        first = scenario.sections.get()
        extra = services_lines.do_add_section(shop.user, quote, scenario, "Monthly seats")
        services_lines.do_add_line(shop.user, quote, extra, shop.monthly, quantity=1)
        totals = services.quote_totals(quote)[scenario.pk]
    # 3 x 12.00 less 10 % = 32.40; 3 x 2.40 = 7.20; 1 x 13.20 (11 + 20 %)
    assert totals["sections"] == {
        first.pk: Money(Decimal("39.60"), "USD"),
        extra.pk: Money(Decimal("13.20"), "USD"),
    }
    assert totals["subtotal"] == Money(Decimal("52.80"), "USD")
    assert totals["tax"] == Money(Decimal("0"), "USD")  # no tax profile
    assert totals["total"] == Money(Decimal("52.80"), "USD")
    with shop.scope():
        rate = TaxRate.objects.create(
            name="State", rate=Decimal("7.25"), country="US", valid_from=datetime.date(2020, 1, 1)
        )
        profile = TaxProfile.objects.create(customer=shop.customer)
        profile.rates.add(rate)
        quote = Quote.objects.select_related("customer").get(pk=quote.pk)
        taxed = services.quote_totals(quote)[scenario.pk]
    assert taxed["tax"] == Money(Decimal("3.83"), "USD")  # 52.80 x 7.25 % = 3.828
    assert taxed["total"] == Money(Decimal("56.63"), "USD")


def test_a_lead_has_no_tax_until_it_is_a_customer(client, shop):
    quote = start_quote(shop, lead_data=LEAD_DATA, lines=[(shop.annual, 2, 0)])
    with shop.scope():
        totals = next(iter(services.quote_totals(quote).values()))
        Quote.objects.filter(pk=quote.pk).update(step=Quote.Step.SCENARIOS)
    assert totals["tax"] == Money(Decimal("0"), "USD") and totals["total"] == totals["subtotal"]
    client.login(email=shop.user.email, password=DEFAULT_PASSWORD)
    page = client.get(reverse("quotes:scenarios", args=[quote.pk])).content.decode()
    assert "calculated when the lead becomes a customer" in page


# --- Discount limits ---------------------------------------------------------------------------------------


def test_default_limits_owner_everything_others_nothing(shop):
    sales = UserFactory(reseller=shop.reseller, role=Role.SALES)
    with shop.scope():
        assert services_lines.discount_limit(Role.OWNER) == 100
        assert services_lines.discount_limit(Role.SALES) == 0
        assert services_lines.check_discount(shop.user, "100") == Decimal("100")
        with pytest.raises(ValidationError, match="over the 0 % limit for the Sales role"):
            services_lines.check_discount(sales, "0.5")


def test_sales_over_the_limit_get_a_field_error_and_nothing_is_saved(client, shop):
    sales = UserFactory(reseller=shop.reseller, role=Role.SALES)
    with shop.scope():
        services_lines.do_set_discount_limits(shop.user, {Role.SALES: Decimal("10")})
    quote = start_quote(shop, user=sales)
    with shop.scope():
        section = QuoteSection.objects.get()
        Quote.objects.filter(pk=quote.pk).update(step=Quote.Step.SCENARIOS)
    client.login(email=sales.email, password=DEFAULT_PASSWORD)
    url = reverse("quotes:line-add", args=[quote.pk, section.pk])
    data = {"provider": shop.m365.pk, "item": f"plan:{shop.annual.pk}", "quantity": 2}
    response = client.post(url, {**data, "discount_percent": "10.5"})
    body = response.content.decode()
    assert response.status_code == 400
    assert "A discount of 10.5 % is over the 10 % limit for the Sales role" in body
    assert 'data-testid="discount-error"' in body
    with shop.scope():
        assert not QuoteLine.objects.exists()
    assert client.post(url, {**data, "discount_percent": "10"}).status_code == 302
    with shop.scope():
        line = QuoteLine.objects.get()
        assert (line.discount_percent, line.amount) == (Decimal("10"), Decimal("21.60"))
        with pytest.raises(ValidationError, match="over the 10 % limit"):
            services_lines.do_update_line(sales, quote, line, quantity=2, discount_percent=Decimal("11"))
        line.refresh_from_db()
    assert line.discount_percent == Decimal("10")


def test_the_owner_sets_the_limits_on_the_page(client, shop):
    client.login(email=shop.user.email, password=DEFAULT_PASSWORD)
    url = reverse("quotes:discount-limits")
    bad = client.post(url, {"owner": "100", "sales": "120"})
    assert bad.status_code == 400 and "less than or equal to 100" in bad.content.decode()
    assert client.post(url, {"owner": "50", "sales": "15"}).status_code == 302
    with shop.scope():
        assert dict(DiscountLimit.objects.values_list("role", "max_percent")) == {
            "owner": Decimal("50"),
            "sales": Decimal("15"),
        }
        assert services_lines.discount_limit(Role.OWNER) == 50


@pytest.mark.parametrize("role", [Role.SALES, Role.BILLING, Role.VIEWER])
def test_only_the_owner_changes_limits(client, shop, role):
    user = UserFactory(reseller=shop.reseller, role=role)
    client.login(email=user.email, password=DEFAULT_PASSWORD)
    page = client.get(reverse("quotes:discount-limits")).content.decode()
    assert "Only the reseller's owner can change these limits." in page
    assert client.post(reverse("quotes:discount-limits"), {"owner": "100", "sales": "100"}).status_code == 403
    with shop.scope():
        assert not DiscountLimit.objects.exists()
        with pytest.raises(PermissionDenied):
            services_lines.do_set_discount_limits(user, {Role.SALES: Decimal("100")})
