"""Imported usage is rated by the pricebook engine's set-based form, in agreement with the Python pricing
service, and the rollups and KPI cards add up to the raw rows to the cent."""

import csv
import random
from datetime import date
from decimal import Decimal

import pytest
from django.db.models import Sum

from billing.models import DailySpend
from billing.models_pricebook import Method, Scope
from billing.models_usage import UsageDaily, UsageImport, UsageRow
from billing.pricing import UsageLine, price_for
from customer360.money import quantize
from customer360.tenancy import tenant_scope
from customers.actuals import customer_actuals

from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory
from ..marketplace.factories import ProviderFactory, authorize
from .factories import AssignmentFactory, ExchangeRateFactory, PricebookFactory, RuleFactory
from .focus_files import accounts_of, generate, import_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def focus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("focus-rating")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_rating_agrees_with_the_pricing_service(focus_dir):
    path = generate(focus_dir, "aws", "1.3", 400, seed=11)
    reseller = ResellerFactory()
    aws = ProviderFactory(code="aws", name="AWS")
    authorize(reseller, aws)
    eur_customer = CustomerFactory(reseller=reseller, currency="EUR")
    usd_customer = CustomerFactory(reseller=reseller, currency="USD")
    ExchangeRateFactory(currency="EUR", rate=Decimal("0.913"), effective_date=date(2026, 1, 1))
    eur_book = PricebookFactory(reseller=reseller, provider=aws, currency="EUR", name="EUR book")
    RuleFactory(pricebook=eur_book, method=Method.MARKUP, value=Decimal("12.5"))
    RuleFactory(
        pricebook=eur_book, scope_type=Scope.SERVICE_CATEGORY, service_category="Compute",
        method=Method.MARGIN, value=Decimal("17"),
    )  # fmt: skip
    AssignmentFactory(pricebook=eur_book, customer=eur_customer)
    usd_book = PricebookFactory(reseller=reseller, provider=aws, currency="USD", name="USD book")
    RuleFactory(pricebook=usd_book, method=Method.DISCOUNT, value=Decimal("3"))
    AssignmentFactory(pricebook=usd_book, customer=usd_customer)
    accounts = sorted(accounts_of(path))
    linked = {}
    for i, number in enumerate(accounts):
        owner = eur_customer if i % 2 else usd_customer
        linked[number] = CloudAccountFactory(customer=owner, provider="aws", account_id=number)
    with tenant_scope(reseller):
        record = import_file(path)
        assert record.status == UsageImport.Status.DONE, record.error
        rows = list(UsageRow.objects.filter(usage_import=record).select_related("rule"))
        assert all(r.price is not None and r.rule_id for r in rows)
        for row in random.Random(3).sample(rows, 60):
            line = UsageLine(
                provider="aws", usage_date=row.usage_date, cost=row.cost, list_cost=row.list_cost,
                quantity=row.quantity, service_name=row.service_name, service_category=row.service_category,
                sku=row.sku,
            )  # fmt: skip
            account = linked[row.sub_account_id]
            quote = price_for(account.customer, line, cloud_account=account)
            assert (row.price, row.price_currency) == (quote.amount.amount, quote.currency), row.line_no
            assert row.rule_id == quote.rule.pk


def test_rollups_and_kpis_equal_the_raw_rows_to_the_cent(focus_dir):
    path = generate(focus_dir, "gcp", "1.2", 500, seed=5)
    reseller = ResellerFactory()
    authorize(reseller, ProviderFactory(code="gcp", name="Google Cloud"))  # no pricebook: list price
    customer = CustomerFactory(reseller=reseller)
    for number in accounts_of(path):
        CloudAccountFactory(customer=customer, provider="gcp", account_id=number)
    with open(path, newline="") as f:
        days = sorted({r["ChargePeriodStart"][:10] for r in csv.DictReader(f)})
    today = date.fromisoformat(days[-1])
    with tenant_scope(reseller):
        record = import_file(path)
        assert record.status == UsageImport.Status.DONE, record.error
        rows = UsageRow.objects.filter(customer=customer)
        raw_cost = rows.aggregate(t=Sum("cost"))["t"]
        raw_price = rows.aggregate(t=Sum("price"))["t"] or Decimal("0")
        for model in (UsageDaily, DailySpend):
            sums = model.objects.filter(customer=customer).aggregate(c=Sum("cost"), p=Sum("price"))
            assert quantize(sums["c"]) == quantize(raw_cost), model
            assert quantize(sums["p"]) == quantize(raw_price), model
        by_day = rows.filter(usage_date=today).aggregate(t=Sum("cost"))["t"]
        assert quantize(
            UsageDaily.objects.filter(customer=customer, day=today).aggregate(t=Sum("cost"))["t"]
        ) == quantize(by_day)
        mtd = rows.filter(usage_date__gte=today.replace(day=1), usage_date__lte=today)
        kpis = {k.label: k for k in customer_actuals(customer, today=today)}
        expected = quantize(mtd.aggregate(t=Sum("price"))["t"] or Decimal("0"))
        assert expected > 0 and kpis["Month-to-date spend"].value == expected
