"""Rows the report tests build on: raw usage rows rolled up by the app's own rollup SQL (billing.rollups),
sums computed straight from those raw rows, and readers for a report page's table and its downloads."""

import csv
import io
import uuid
from collections import defaultdict
from datetime import date
from decimal import Decimal
from html.parser import HTMLParser

from django.db import connection

from billing.models import DailySpend, UsageDaily, UsageImport, UsageRow
from billing.rollups import rollup_ctes
from customer360.money import quantize
from customer360.tenancy import tenant_scope

# (provider, service, resource, day, cost, price): a customer's raw usage over spring 2026.
SERVICES = [
    ("aws", "Amazon EC2", "i-0abc"),
    ("aws", "Amazon EC2", "i-0def"),
    ("aws", "Amazon S3", "bucket-logs"),
    ("azure", "Virtual Machines", "/subscriptions/x/vm-web"),
    ("azure", "Storage", "/subscriptions/x/disk-1"),
]


def add_raw_usage(
    accounts: dict, days: list[date], seed: int = 1, currency="USD", rate=Decimal("1")
) -> list[dict]:
    """Usage rows of the accounts' customer (one per service, resource and day of the providers it has an
    account of; two for EC2 i-0abc), priced in `currency` at `rate` per USD, and their rollups; returns
    the rows as dicts for the test's own sums, cost converted into `currency` as the rollups state it."""
    first = next(iter(accounts.values()))
    reseller_id = first.reseller_id
    made = []
    with tenant_scope(reseller_id):
        imp = UsageImport.objects.create(original_name=f"spring-{seed}.csv", file="x.csv", status="done")
        objs = []
        n = 0
        for d in days:
            for i, (provider, service, resource) in enumerate(SERVICES):
                if provider not in accounts:
                    continue
                repeats = 2 if resource == "i-0abc" else 1
                for r in range(repeats):
                    n += 1
                    cost = Decimal(seed * 3 + i + d.day % 7 + r) + Decimal("0.125")
                    price = quantize(cost * rate * Decimal("1.2"), exp=Decimal("0.0001"))
                    row = {
                        "provider": provider, "service": service, "resource": resource, "day": d,
                        "cost": cost * rate, "usd_cost": cost, "price": price, "customer_id": first.customer_id,
                    }  # fmt: skip
                    made.append(row)
                    objs.append(
                        UsageRow(
                            usage_import=imp,
                            line_no=n,
                            fingerprint=uuid.uuid4(),
                            customer_id=first.customer_id,
                            cloud_account=accounts[provider],
                            provider=provider,
                            usage_date=d,
                            charge_category="Usage",
                            service_name=service,
                            resource_id=resource,
                            quantity=Decimal("1"),
                            cost=cost,
                            price=price,
                            price_currency=currency,
                            fx_rate=rate,
                            rolled_up=True,
                        )  # fmt: skip
                    )
        UsageRow.objects.bulk_create(objs)
        roll_up(reseller_id, imp.pk)
    return made


def roll_up(reseller_id, import_id):
    """The app's rollup statements (billing.rollups) over one import's rows."""
    rows, daily, spend = UsageRow._meta.db_table, UsageDaily._meta.db_table, DailySpend._meta.db_table
    sql = f"""
        WITH src AS (
            SELECT customer_id, cloud_account_id, usage_date, provider, service_name, charge_category,
                   NULLIF(price_currency, '') AS currency, fx_rate, cost, price AS price_amount,
                   quantity
            FROM {rows} WHERE reseller_id = %(reseller)s AND usage_import_id = %(import)s
        ), {rollup_ctes(daily, spend)}
        SELECT 1"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"reseller": reseller_id, "import": import_id})


def sums(rows, key, lo=None, hi=None, provider=None) -> dict:
    """{key(row): {"cost": sum, "price": sum}} over raw rows in [lo, hi]."""
    out = defaultdict(lambda: {"cost": Decimal("0"), "price": Decimal("0"), "n": 0})
    for r in rows:
        if (lo and r["day"] < lo) or (hi and r["day"] > hi) or (provider and r["provider"] != provider):
            continue
        acc = out[key(r)]
        acc["cost"] += r["cost"]
        acc["price"] += r["price"]
        acc["n"] += 1
    return dict(out)


def q2(value) -> Decimal:
    return quantize(value, "USD")


class _Tables(HTMLParser):
    def __init__(self):
        super().__init__()
        self.tables, self._stack, self._cell = [], [], None

    def handle_starttag(self, tag, attrs):
        attrs = dict(attrs)
        if tag == "table":
            self._stack.append({"testid": attrs.get("data-testid"), "rows": []})
        elif tag == "tr" and self._stack:
            self._stack[-1]["rows"].append([])
        elif tag in ("td", "th") and self._stack:
            self._cell = []

    def handle_endtag(self, tag):
        if tag in ("td", "th") and self._cell is not None and self._stack:
            self._stack[-1]["rows"][-1].append(" ".join("".join(self._cell).split()))
            self._cell = None
        elif tag == "table" and self._stack:
            self.tables.append(self._stack.pop())

    def handle_data(self, data):
        if self._cell is not None:
            self._cell.append(data)


def page_table(html: str, testid="report-table") -> list[list[str]]:
    """The rows (header first, totals last) of the table with this data-testid."""
    parser = _Tables()
    parser.feed(html)
    table = next(t for t in parser.tables if t["testid"] == testid)
    return [r for r in table["rows"] if r]


def num(text: str) -> Decimal:
    return Decimal(text.replace(",", "").replace("%", "").strip() or "0")


def read_csv(content: bytes) -> list[list[str]]:
    return list(csv.reader(io.StringIO(content.decode("utf-8-sig"))))


def read_xlsx(content: bytes) -> list[list]:
    from openpyxl import load_workbook

    ws = load_workbook(io.BytesIO(content)).active
    return [list(row) for row in ws.iter_rows(values_only=True)]
