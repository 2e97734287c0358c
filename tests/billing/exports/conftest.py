"""Usage data for the export tests: FOCUS files made by focus-data-toolkit, imported (matched, rated at
customer prices, rolled up) for two customers of reseller Acme, and a file of another reseller's."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

import pytest

from billing.models_pricebook import Method, Scope
from billing.models_usage import UsageImport
from customer360.tenancy import tenant_scope

from ...factories import CloudAccountFactory, CustomerFactory, ResellerFactory
from ...marketplace.factories import ProviderFactory, authorize
from ..factories import AssignmentFactory, ExchangeRateFactory, PricebookFactory, RuleFactory
from ..focus_files import accounts_of, generate, import_file
from .servers import azurite_server, gcs_server, s3_server  # noqa: F401  (fixtures)

MAY = date(2026, 5, 1)  # the month focus-data-toolkit 0.14.1 generates


@pytest.fixture(scope="session")
def focus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("focus-exports")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@dataclass
class Usage:
    reseller: object
    customers: list  # [USD customer (markup), EUR customer (margin)]
    other_reseller: object
    other_customer: object


def _import(reseller, path):
    with tenant_scope(reseller):
        record = import_file(path)
        assert record.status == UsageImport.Status.DONE, record.error
    return record


@pytest.fixture
def usage(db, focus_dir):
    """Acme: AWS usage of two customers (USD at +12.5 %, EUR at a 17 % margin on compute); Globex: GCP usage
    of its own customer. Both rated on import."""
    aws = ProviderFactory(code="aws", name="AWS")
    gcp = ProviderFactory(code="gcp", name="Google Cloud")
    acme = ResellerFactory(name="Acme Cloud", slug="acme")
    authorize(acme, aws)
    usd = CustomerFactory(reseller=acme, name="Initech", currency="USD")
    eur = CustomerFactory(reseller=acme, name="=Hooli+Europe", currency="EUR")
    ExchangeRateFactory(currency="EUR", rate=Decimal("0.913"), effective_date=date(2026, 1, 1))
    usd_book = PricebookFactory(reseller=acme, provider=aws, currency="USD", name="USD book")
    RuleFactory(pricebook=usd_book, method=Method.MARKUP, value=Decimal("12.5"))
    AssignmentFactory(pricebook=usd_book, customer=usd)
    eur_book = PricebookFactory(reseller=acme, provider=aws, currency="EUR", name="EUR book")
    RuleFactory(pricebook=eur_book, method=Method.MARKUP, value=Decimal("8"))
    RuleFactory(
        pricebook=eur_book, scope_type=Scope.SERVICE_CATEGORY, service_category="Compute",
        method=Method.MARGIN, value=Decimal("17"),
    )  # fmt: skip
    AssignmentFactory(pricebook=eur_book, customer=eur)
    path = generate(focus_dir, "aws", "1.2", 600, seed=21)
    for i, number in enumerate(sorted(accounts_of(path))):
        CloudAccountFactory(
            customer=eur if i % 2 else usd, provider="aws", account_id=number, name=f"-acct {i}"
        )
    _import(acme, path)

    globex = ResellerFactory(name="Globex Cloud", slug="globex")
    authorize(globex, gcp)
    other = CustomerFactory(reseller=globex, name="Globex Customer", currency="USD")
    gbook = PricebookFactory(reseller=globex, provider=gcp, currency="USD", name="Globex book")
    RuleFactory(pricebook=gbook, method=Method.MARKUP, value=Decimal("30"))
    AssignmentFactory(pricebook=gbook, customer=other)
    gpath = generate(focus_dir, "gcp", "1.2", 300, seed=22)
    for number in sorted(accounts_of(gpath)):
        CloudAccountFactory(customer=other, provider="gcp", account_id=number)
    _import(globex, gpath)
    return Usage(acme, [usd, eur], globex, other)
