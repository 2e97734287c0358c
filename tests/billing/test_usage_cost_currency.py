"""A customer billed in another currency: the rollups, the reports and the invoice state the reseller's cost
in the customer's currency (the provider's USD cost at the rate that priced the row), so margin is a
difference within one currency, not euros minus dollars."""

from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.invoice_run import do_start_run, run_inline
from billing.models import DailySpend, InvoiceLine
from billing.models_pricebook import Method
from billing.models_usage import UsageDaily, UsageImport, UsageRow
from billing.services_usage import rematch_unmatched
from customer360.money import quantize
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory
from ..marketplace.factories import ProviderFactory, authorize
from .factories import AssignmentFactory, ExchangeRateFactory, PricebookFactory, RuleFactory
from .focus_files import accounts_of, generate, import_file

pytestmark = pytest.mark.django_db
RATE = Decimal("0.913")


@pytest.fixture(scope="session")
def focus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("focus-currency")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def eur_world(path, *, link=True):
    reseller = ResellerFactory()
    aws = ProviderFactory(code="aws", name="AWS")
    authorize(reseller, aws)
    customer = CustomerFactory(reseller=reseller, currency="EUR")
    ExchangeRateFactory(currency="EUR", rate=RATE, effective_date=date(2020, 1, 1))
    book = PricebookFactory(reseller=reseller, provider=aws, currency="EUR", name="EUR book")
    RuleFactory(pricebook=book, method=Method.MARKUP, value=Decimal("12.5"))
    AssignmentFactory(pricebook=book, customer=customer)
    if link:
        for number in accounts_of(path):
            CloudAccountFactory(customer=customer, provider="aws", account_id=number)
    return reseller, customer


def assert_rollups_in_euros(customer):
    rows = UsageRow.objects.filter(customer=customer)
    assert set(rows.values_list("price_currency", "fx_rate").distinct()) == {("EUR", RATE)}
    usd_cost = rows.aggregate(t=Sum("cost"))["t"]
    price = rows.aggregate(t=Sum("price"))["t"]
    for model in (UsageDaily, DailySpend):
        mine = model.objects.filter(customer=customer)
        assert set(mine.values_list("currency", flat=True)) == {"EUR"}, model
        sums = mine.aggregate(c=Sum("cost"), p=Sum("price"))
        assert quantize(sums["c"], "EUR") == quantize(usd_cost * RATE, "EUR"), model
        assert sums["p"] == price, model
        # A 12.5% markup leaves 12.5/112.5 of the price as margin, whatever the exchange rate.
        margin = (sums["p"] - sums["c"]) / sums["p"] * 100
        assert Decimal("11.0") < margin < Decimal("11.2"), (model, margin)


def test_an_imported_file_rolls_up_cost_in_the_customers_currency(focus_dir):
    path = generate(focus_dir, "aws", "1.2", 300, seed=21)
    reseller, customer = eur_world(path)
    with tenant_scope(reseller):
        assert import_file(path).status == UsageImport.Status.DONE
        assert_rollups_in_euros(customer)


def test_rows_linked_after_the_import_are_converted_too(focus_dir):
    path = generate(focus_dir, "aws", "1.2", 300, seed=22)
    reseller, customer = eur_world(path, link=False)
    with tenant_scope(reseller):
        assert import_file(path).status == UsageImport.Status.DONE
        assert not UsageDaily.objects.exists()
        for number in accounts_of(path):
            CloudAccountFactory(customer=customer, provider="aws", account_id=number)
        assert rematch_unmatched() > 0
        assert_rollups_in_euros(customer)


def test_the_invoice_states_usage_cost_in_the_invoice_currency(focus_dir):
    path = generate(focus_dir, "aws", "1.2", 300, seed=23)
    reseller, customer = eur_world(path)
    with tenant_scope(reseller):
        assert import_file(path).status == UsageImport.Status.DONE
        month = UsageRow.objects.filter(customer=customer).order_by("usage_date").first().usage_date
        month = month.replace(day=1)
        rows = UsageRow.objects.filter(customer=customer, usage_date__year=month.year,
                                       usage_date__month=month.month)  # fmt: skip
        run_inline(do_start_run(None, month, queue=False))
        lines = InvoiceLine.objects.filter(invoice__customer=customer, kind="usage")
        assert lines.exists() and set(lines.values_list("invoice__currency", flat=True)) == {"EUR"}
        cost = lines.aggregate(t=Sum("cost"))["t"]
        expected = quantize(rows.aggregate(t=Sum("cost"))["t"] * RATE, "EUR")
        # One rounding per invoice line: the lines may differ from the raw sum by half a cent each.
        assert abs(cost - expected) <= Decimal("0.005") * lines.count()
        assert lines.aggregate(t=Sum("amount"))["t"] > cost
