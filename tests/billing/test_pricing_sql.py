"""The set-based SQL form prices exactly as the Python form, row for row, on a generated sample."""

import random
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from billing.models_pricebook import Method, Scope
from billing.pricing import PricingError, UsageLine, price_for
from billing.pricing_sql import create_usage_staging_table, price_usage_rows_sql
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory, ResellerFactory
from ..marketplace.factories import ProviderFactory, authorize
from .factories import AssignmentFactory, ExchangeRateFactory, PricebookFactory, RuleFactory

pytestmark = pytest.mark.django_db

SERVICES = {
    "Compute": ["Amazon EC2", "AWS Lambda", "Amazon ECS"],
    "Storage": ["Amazon S3", "Amazon EBS"],
    "Database": ["Amazon RDS", "Amazon DynamoDB"],
}
START = date(2025, 1, 1)
DAYS = 180


def _decimal(rng, places, high):
    return Decimal(rng.randrange(0, high * 10**places)).scaleb(-places)


def _dates(rng):
    """A random span within the sample's half year: (from, until or None)."""
    start = START + timedelta(days=rng.randrange(DAYS))
    if rng.random() < 0.5:
        return start - timedelta(days=400), None
    return start, start + timedelta(days=rng.randrange(10, 90))


def _rules(rng, book):
    """Rules of random scopes, methods and dates; no two of one scope overlap (as the constraint says)."""
    scopes = [(Scope.PROVIDER, {})]
    scopes += [(Scope.SERVICE_CATEGORY, {"service_category": c}) for c in SERVICES]
    scopes += [(Scope.SERVICE_NAME, {"service_name": n}) for names in SERVICES.values() for n in names]
    for scope, target in scopes:
        if scope != Scope.PROVIDER and rng.random() < 0.4:
            continue
        cursor = START - timedelta(days=30)
        while cursor < START + timedelta(days=DAYS):
            length = rng.randrange(20, 120)
            until = cursor + timedelta(days=length) if rng.random() < 0.8 else None
            method = rng.choice(list(Method))
            value = {
                Method.MARKUP: _decimal(rng, 4, 60),
                Method.MARGIN: _decimal(rng, 4, 99),
                Method.DISCOUNT: _decimal(rng, 4, 100),
                Method.FIXED: _decimal(rng, 6, 3),
            }[method]
            RuleFactory(pricebook=book, scope_type=scope, method=method, value=value,
                        valid_from=cursor, valid_until=until, **target)  # fmt: skip
            if until is None:
                break
            cursor = until + timedelta(days=rng.randrange(1, 15))


def build_world(rng):
    reseller = ResellerFactory(name="Sample Cloud", slug="sample")
    other = ResellerFactory(name="Other Cloud", slug="other")
    aws = ProviderFactory(code="aws", name="AWS")
    azure = ProviderFactory(code="azure", name="Microsoft Azure")
    authorize(reseller, aws)
    authorize(other, aws)
    for currency, base in (("EUR", "0.92"), ("GBP", "0.79"), ("CAD", "1.36")):
        for month in range(0, 6, 2):
            rate = Decimal(base) + _decimal(rng, 4, 1) / 10
            ExchangeRateFactory(currency=currency, rate=rate, effective_date=date(2025, 1 + month, 1))
    # AUD has no rate before March: rows in AUD before then cannot be priced, by either form.
    ExchangeRateFactory(currency="AUD", rate=Decimal("1.51234567"), effective_date=date(2025, 3, 1))
    books = []
    for i, currency in enumerate(["USD", "EUR", "GBP", "USD", "AUD", "CAD"]):
        start, until = _dates(rng) if i % 2 else (date(2024, 1, 1), None)
        book = PricebookFactory(
            reseller=reseller, provider=aws, currency=currency, valid_from=start, valid_until=until
        )
        _rules(rng, book)
        books.append(book)
    AssignmentFactory(
        pricebook=books[0], valid_until=date(2025, 3, 31)
    )  # the reseller's default, for a while
    AssignmentFactory(pricebook=books[3], valid_from=date(2025, 4, 1))
    customers = []
    for n in range(8):
        customer = CustomerFactory(reseller=reseller, currency=rng.choice(["USD", "EUR", "GBP", "AUD"]))
        accounts = [
            CloudAccountFactory(customer=customer, provider="aws", account_id=f"{n:02d}{k:010d}")
            for k in range(2)
        ]
        if n % 4:
            first_until = START + timedelta(days=rng.randrange(30, 120))
            AssignmentFactory(pricebook=rng.choice(books), customer=customer, valid_until=first_until)
            if rng.random() < 0.7:
                AssignmentFactory(pricebook=rng.choice(books), customer=customer,
                                  valid_from=first_until + timedelta(days=rng.randrange(1, 20)))  # fmt: skip
        if n % 3 == 0:
            AssignmentFactory(pricebook=rng.choice(books), customer=customer, cloud_account=accounts[0],
                              valid_from=START + timedelta(days=rng.randrange(60)))  # fmt: skip
        customers.append((customer, accounts))
    stranger = CustomerFactory(reseller=other)
    return reseller, customers, stranger, azure


def sample_rows(rng, customers, stranger, n):
    rows = []
    for _ in range(n):
        customer, accounts = rng.choice(customers)
        category = rng.choice([*SERVICES, "Networking"])
        name = rng.choice(SERVICES.get(category, ["Amazon VPC"]))
        if rng.random() < 0.1:
            category = ""
        rows.append({
            "customer": customer,
            "cloud_account": rng.choice([None, *accounts]),
            "provider": "aws",
            "service_name": name,
            "service_category": category,
            "sku": f"{name[:6].upper()}-{rng.randrange(100)}",
            "usage_date": START + timedelta(days=rng.randrange(DAYS)),
            "quantity": _decimal(rng, 6, 5000),
            "cost": _decimal(rng, rng.choice([2, 6, 10]), 900),
            "list_cost": _decimal(rng, 6, 1000),
        })  # fmt: skip
    rows.append({**rows[0], "customer": stranger, "cloud_account": None})  # another reseller's customer
    rows.append({**rows[1], "provider": "azure", "cloud_account": None})  # not authorized
    return rows


COLUMNS = ["customer_id", "cloud_account_id", "provider", "service_name", "service_category", "sku"]
COLUMNS += ["usage_date", "quantity", "cost", "list_cost"]


def load(table, rows):
    with connection.cursor() as cursor:
        cursor.executemany(
            f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({', '.join(['%s'] * len(COLUMNS))})",
            [[r["customer"].pk, getattr(r["cloud_account"], "pk", None), r["provider"], r["service_name"],
              r["service_category"], r["sku"], r["usage_date"], r["quantity"], r["cost"], r["list_cost"]]
             for r in rows],
        )  # fmt: skip


def fetch(table):
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT id, currency, amount, pricebook_id, rule_id, priced_note FROM {table} ORDER BY id"
        )
        return cursor.fetchall()


def python_price(reseller, row):
    """(currency, amount, pricebook id, rule id) from the Python form, or None when it refuses."""
    if row["customer"].reseller_id != reseller.pk:
        return None
    line = UsageLine(**{k: row[k] for k in ("provider", "service_name", "service_category", "sku", "usage_date",
                                            "quantity", "cost", "list_cost")})  # fmt: skip
    try:
        quote = price_for(row["customer"], line, cloud_account=row["cloud_account"])
    except (PricingError, PermissionError) as exc:
        return ("refused", str(exc))
    except Exception as exc:  # ProviderNotAuthorized is a PermissionDenied
        return ("refused", exc.__class__.__name__)
    return (
        quote.currency,
        quote.amount.amount,
        getattr(quote.pricebook, "pk", None),
        getattr(quote.rule, "pk", None),
    )


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_sql_and_python_price_every_row_the_same(seed):
    rng = random.Random(seed)
    reseller, customers, stranger, _azure = build_world(rng)
    rows = sample_rows(rng, customers, stranger, 400)
    create_usage_staging_table("usage_sample")
    with tenant_scope(reseller):
        load("usage_sample", rows)
        assert price_usage_rows_sql("usage_sample") == len(rows)
        priced = fetch("usage_sample")
        mismatches, kinds = [], {"priced": 0, "refused": 0, "list": 0}
        for row, (_id, currency, amount, book_id, rule_id, note) in zip(rows, priced, strict=True):
            expected = python_price(reseller, row)
            if expected is None:
                assert amount is None and note == "unknown customer"
                continue
            if expected[0] == "refused":
                kinds["refused"] += 1
                if amount is not None or not note:
                    mismatches.append((row, expected, (currency, amount, note)))
                continue
            got = (currency, amount, book_id, rule_id)
            kinds["priced" if rule_id else "list"] += 1
            if got != expected:
                mismatches.append((row, expected, got))
        assert not mismatches, f"{len(mismatches)} rows differ, e.g. {mismatches[:3]}"
    # The sample exercises every path: rule prices, list prices, refusals.
    assert kinds["priced"] > 200 and kinds["list"] >= 1 and kinds["refused"] >= 1, kinds


def test_sql_form_refuses_without_a_reseller_in_scope(db):
    create_usage_staging_table("usage_unscoped")
    with pytest.raises(Exception, match="tenant_scope|no reseller"):
        price_usage_rows_sql("usage_unscoped")


def test_sql_form_notes_why_a_row_has_no_price(acme, customer, aws):
    create_usage_staging_table("usage_notes")
    rows = [
        {"customer": customer, "cloud_account": None, "provider": "aws", "service_name": "Amazon EC2",
         "service_category": "Compute", "sku": "", "usage_date": date(2025, 3, 1), "quantity": Decimal(1),
         "cost": Decimal("1.005"), "list_cost": Decimal("1.125")},
    ]  # fmt: skip
    with tenant_scope(acme):
        load("usage_notes", rows)
        price_usage_rows_sql("usage_notes")
        with connection.cursor() as cursor:
            cursor.execute("SELECT currency, amount, priced_note FROM usage_notes")
            assert cursor.fetchone() == ("USD", Decimal("1.13"), "list price: no pricebook assigned")
