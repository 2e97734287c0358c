"""The columns of an export and the one SELECT that makes them from the usage rows.

FOCUS 1.2 cost-and-usage columns, in the specification's names. The price basis decides what the FOCUS
cost columns hold (FOCUS's rule for custom columns: anything else is `x_`-prefixed):

* resale (the default, what a customer's own tools should see): BilledCost, EffectiveCost, ListCost and
  ContractedCost are the customer's price (billing.pricing_sql rates every row, rounded to the currency's
  minor unit; an unpriced row is 0, as on the invoice), BillingCurrency is the price's currency, the unit
  prices are price / PricingQuantity; the reseller's cost basis is kept in x_ResellerBilledCost,
  x_ResellerEffectiveCost, x_ResellerListCost and x_ResellerCurrency (the provider's USD figures).
* cost (the reseller's own analytics): the FOCUS cost columns are the provider's figures (USD), and the
  customer's price is in x_CustomerPrice and x_CustomerPriceCurrency.

Every export also carries x_CustomerId, x_CustomerName and x_UsageLineId (the usage line's stable
fingerprint, the same across re-exports). Tenancy is in the SQL: the reseller's own rows (and its own
customers and cloud accounts, joined with the reseller too), whatever the filters say.

CSV cells of text columns that begin with =, +, -, @, tab or carriage return get a leading apostrophe
(OWASP's CSV-injection advice) so a spreadsheet shows them as text; number columns are never touched.
"""

from dataclasses import dataclass
from datetime import date, timedelta

import pyarrow as pa

from customer360.spreadsheets import FORMULA_STARTS

FOCUS_VERSION = "1.2"
SCHEMA_VERSION = "c360-focus-1.2-v1"
PROVIDER_NAMES = {"aws": "AWS", "azure": "Microsoft Azure", "gcp": "Google Cloud", "m365": "Microsoft",
                  "gws": "Google"}  # fmt: skip

MONEY = pa.decimal128(38, 18)
TIMESTAMP = pa.timestamp("ms", tz="UTC")


@dataclass(frozen=True)
class Column:
    name: str
    sql: str  # over u (usage row), c (customer), a (cloud account), m (the reseller's name)
    arrow: pa.DataType = pa.string()
    safe: bool = False  # text the app makes (codes, ids, constants): never a formula, not neutralised

    @property
    def is_text(self) -> bool:
        return self.arrow == pa.string()

    @property
    def neutralize(self) -> bool:
        return self.is_text and not self.safe


def _provider_name(expr: str) -> str:
    cases = " ".join(f"WHEN '{k}' THEN '{v}'" for k, v in PROVIDER_NAMES.items())
    return f"(CASE {expr} {cases} ELSE {expr} END)"


PRICE = "COALESCE(u.price, 0)"
PRICE_CURRENCY = "COALESCE(NULLIF(u.price_currency, ''), c.currency)"
DAY = "(u.usage_date::text || 'T00:00:00Z')"
NEXT_DAY = "((u.usage_date + 1)::text || 'T00:00:00Z')"
# One COPY covers one billing period (runner.months_of): its bounds are parameters, not per-row arithmetic.
MONTH = "%(period_start)s::text"
NEXT_MONTH = "%(period_end)s::text"


def _unit(amount: str) -> str:
    return f"CASE WHEN u.quantity <> 0 THEN round({amount} / u.quantity, 10) END"


def _common_head() -> list:
    return [
        Column("BillingAccountId", "NULLIF(u.billing_account_id, '')"),
        Column("BillingAccountName", "NULL::text", safe=True),
        Column("BillingPeriodStart", MONTH, TIMESTAMP),
        Column("BillingPeriodEnd", NEXT_MONTH, TIMESTAMP),
        Column("ChargeCategory", "NULLIF(u.charge_category, '')"),
        Column("ChargeClass", "NULL::text", safe=True),
        Column("ChargeDescription", "NULLIF(u.service_name, '')"),
        Column("ChargeFrequency", "'Usage-Based'::text", safe=True),
        Column("ChargePeriodStart", DAY, TIMESTAMP),
        Column("ChargePeriodEnd", NEXT_DAY, TIMESTAMP),
        Column("ConsumedQuantity", "trim_scale(u.quantity)", MONEY),
        Column("InvoiceIssuerName", "m.name"),
        Column("PricingQuantity", "trim_scale(u.quantity)", MONEY),
        Column("ProviderName", _provider_name("u.provider"), safe=True),
        Column("PublisherName", _provider_name("u.provider"), safe=True),
        Column("RegionId", "NULLIF(u.region, '')"),
        Column("ResourceId", "NULLIF(u.resource_id, '')"),
        Column("ServiceCategory", "NULLIF(u.service_category, '')"),
        Column("ServiceName", "NULLIF(u.service_name, '')"),
        Column("SkuId", "NULLIF(u.sku, '')"),
        Column("SubAccountId", "NULLIF(u.sub_account_id, '')"),
        Column("SubAccountName", "NULLIF(a.name, '')"),
    ]


def _common_tail() -> list:
    return [
        Column("x_CustomerId", "u.customer_id::text", safe=True),
        Column("x_CustomerName", "c.name"),
        Column("x_UsageLineId", "u.fingerprint::text", safe=True),
    ]


def columns_for(basis: str) -> list:
    """The export's columns, in file order, for the price basis ("resale" or "cost")."""
    if basis == "cost":
        costs = [
            Column("BilledCost", "trim_scale(u.cost)", MONEY),
            Column("BillingCurrency", "u.billing_currency", safe=True),
            Column("ContractedCost", "trim_scale(u.cost)", MONEY),
            Column("ContractedUnitPrice", _unit("u.cost"), MONEY),
            Column("EffectiveCost", "trim_scale(u.effective_cost)", MONEY),
            Column("ListCost", "trim_scale(u.list_cost)", MONEY),
            Column("ListUnitPrice", _unit("u.list_cost"), MONEY),
        ]
        extra = [
            Column("x_CustomerPrice", "u.price", MONEY),
            Column("x_CustomerPriceCurrency", "NULLIF(u.price_currency, '')", safe=True),
        ]
    else:
        costs = [
            Column("BilledCost", PRICE, MONEY),
            Column("BillingCurrency", PRICE_CURRENCY, safe=True),
            Column("ContractedCost", PRICE, MONEY),
            Column("ContractedUnitPrice", _unit(PRICE), MONEY),
            Column("EffectiveCost", PRICE, MONEY),
            Column("ListCost", PRICE, MONEY),
            Column("ListUnitPrice", _unit(PRICE), MONEY),
        ]
        extra = [
            Column("x_ResellerBilledCost", "trim_scale(u.cost)", MONEY),
            Column("x_ResellerEffectiveCost", "trim_scale(u.effective_cost)", MONEY),
            Column("x_ResellerListCost", "trim_scale(u.list_cost)", MONEY),
            Column("x_ResellerCurrency", "u.billing_currency", safe=True),
        ]
    # FOCUS columns in the specification's (alphabetical) order, then the custom ones.
    return sorted(_common_head() + costs, key=lambda c: c.name) + extra + _common_tail()


def arrow_schema(basis: str) -> pa.Schema:
    return pa.schema([pa.field(c.name, c.arrow) for c in columns_for(basis)])


# customer360.spreadsheets.FORMULA_STARTS as SQL literals: '=', '+', '-', '@', E'\t', E'\r'.
_FORMULA_STARTS_SQL = ", ".join(
    f"'{c}'" if c.isprintable() else "E'" + c.encode("unicode_escape").decode() + "'" for c in FORMULA_STARTS
)


def neutralized(expr: str) -> str:
    """SQL: the text `expr`, with a leading apostrophe when a spreadsheet would read it as a formula
    (customer360.spreadsheets' rule, in SQL so that COPY streams it)."""
    return f"CASE WHEN left({expr}, 1) IN ({_FORMULA_STARTS_SQL}) THEN '''' || {expr} ELSE {expr} END"


@dataclass(frozen=True)
class Selection:
    """Which usage rows a run exports: always the reseller's, of its customers, within the dates."""

    reseller_id: object
    start: date
    end: date
    customer_id: object = None
    providers: tuple = ()
    cloud_account_ids: tuple = ()

    def where(self) -> tuple[str, dict]:
        from customers.models import Customer

        # The reseller's customers as one array: a single bitmap scan of usagerow_customer_day (one pass
        # over the month's pages), not one index scan per customer re-reading pages that hold them all.
        customers = f"ARRAY(SELECT id FROM {Customer._meta.db_table} WHERE reseller_id = %(reseller)s)"
        sql = [
            "u.reseller_id = %(reseller)s",
            "u.customer_id = %(customer)s" if self.customer_id else f"u.customer_id = ANY({customers})",
            "u.usage_date BETWEEN %(start)s AND %(end)s",
        ]
        first = self.start.replace(day=1)
        following = (first + timedelta(days=32)).replace(day=1)
        if self.end >= following:
            raise ValueError("a selection covers one billing period: split it by month (runner.months_of)")
        params = {"reseller": self.reseller_id, "start": self.start, "end": self.end,
                  "period_start": f"{first}T00:00:00Z", "period_end": f"{following}T00:00:00Z"}  # fmt: skip
        if self.customer_id:
            params["customer"] = self.customer_id
        if self.providers:
            sql.append("u.provider = ANY(%(providers)s)")
            params["providers"] = list(self.providers)
        if self.cloud_account_ids:
            sql.append("u.cloud_account_id = ANY(%(accounts)s)")
            params["accounts"] = list(self.cloud_account_ids)
        return " AND ".join(sql), params


def select_sql(selection: Selection, basis: str, *, neutralize: bool) -> tuple[str, dict]:
    """The SELECT of the export's rows (no ORDER BY: the rows stream in table order)."""
    from accounts.models import Reseller
    from customers.models import CloudAccount, Customer

    from ..models_usage import UsageRow

    items = []
    for column in columns_for(basis):
        expr = neutralized(column.sql) if neutralize and column.neutralize else column.sql
        items.append(f'{expr} AS "{column.name}"')
    where, params = selection.where()
    sql = f"""SELECT {", ".join(items)}
        FROM {UsageRow._meta.db_table} AS u
        JOIN {Customer._meta.db_table} AS c ON c.id = u.customer_id AND c.reseller_id = %(reseller)s
        LEFT JOIN {CloudAccount._meta.db_table} AS a
            ON a.id = u.cloud_account_id AND a.reseller_id = %(reseller)s
        CROSS JOIN (SELECT name FROM {Reseller._meta.db_table} WHERE id = %(reseller)s) AS m
        WHERE {where}"""
    return sql, params
