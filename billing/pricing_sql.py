"""The set-based form of billing.pricing: prices a whole staging table of usage rows in one UPDATE.

Usage imports and the invoice run load the provider's lines into a staging table (see STAGING_COLUMNS,
`create_usage_staging_table`) and call `price_usage_rows_sql(table)`; each row gets its currency,
amount, pricebook and rule. The look-ups depend only on a row's key (customer, cloud account, provider,
date, service category, service name), so they run once per distinct key (`create_price_keys`, a few
thousand keys for millions of rows) and only the arithmetic runs per row (`amount_sql`); the usage import
(billing.ingest) joins the keys in its insert instead of updating a staging table. The SQL follows the
Python form step by step:

* the pricebook: LATERAL over the assignments in effect on the row's date whose pricebook is in
  effect, ORDER BY level DESC LIMIT 1 (cloud account > customer > reseller default);
* the rule: LATERAL over that pricebook's rules in effect on the date whose scope key is the
  provider's, the row's service category's or its service name's, ORDER BY specificity DESC LIMIT 1;
* the exchange rate: the latest on or before the date (1 for USD);
* the same arithmetic, with the margin's division carried to pricing.DIVISION_PLACES decimals and
  the percentage divisions written as exact multiplications by 0.01;
* one rounding, round(amount, minor unit): PostgreSQL rounds numeric halves away from zero, which is
  money.quantize's ROUND_HALF_UP; the minor units come from money.MINOR_UNITS.

Rows it cannot price keep amount NULL and say why in `priced_note` (unknown customer, provider not
authorized, no exchange rate). Everything is limited to one reseller: the one in scope.
"""

import uuid

from django.db import connection

from customer360.money import MINOR_UNITS
from customer360.tenancy import current_reseller_id

from .pricing import DIVISION_PLACES

STAGING_COLUMNS = """
    id bigserial PRIMARY KEY,
    customer_id uuid NOT NULL,
    cloud_account_id uuid,
    provider varchar(20) NOT NULL,
    service_name varchar(150) NOT NULL DEFAULT '',
    service_category varchar(100) NOT NULL DEFAULT '',
    sku varchar(80) NOT NULL DEFAULT '',
    usage_date date NOT NULL,
    quantity numeric NOT NULL DEFAULT 1,
    cost numeric NOT NULL,
    list_cost numeric NOT NULL,
    currency varchar(3),
    fx_rate numeric,
    amount numeric,
    pricebook_id uuid,
    rule_id uuid,
    priced_note text NOT NULL DEFAULT ''
"""


def _minor_units_sql(column: str) -> str:
    cases = " ".join(f"WHEN '{code}' THEN {places}" for code, places in sorted(MINOR_UNITS.items()))
    return f"(CASE {column} {cases} ELSE 2 END)"


def create_usage_staging_table(name: str, *, temporary: bool = True) -> None:
    """Create the staging table `name` (a TEMP table by default, dropped with the session)."""
    kind = "TEMP TABLE" if temporary else "TABLE"
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE {kind} {connection.ops.quote_name(name)} ({STAGING_COLUMNS})")


KEY_COLUMNS = (
    "customer_id",
    "cloud_account_id",
    "provider",
    "usage_date",
    "service_category",
    "service_name",
)

KEY_SQL = """
SELECT
    u.customer_id, u.cloud_account_id, u.provider, u.usage_date, u.service_category, u.service_name,
    cur.currency,
    book.pricebook_id,
    rule.id AS rule_id,
    rule.method,
    rule.value,
    fx.rate,
    (c.id IS NOT NULL AND auth.id IS NOT NULL AND fx.rate IS NOT NULL) AS priceable,
    {minor_units} AS minor_units,
    CASE WHEN c.id IS NULL THEN 'unknown customer'
         WHEN auth.id IS NULL THEN 'provider not authorized'
         WHEN fx.rate IS NULL THEN 'no exchange rate for ' || cur.currency || ' on ' || u.usage_date
         WHEN book.pricebook_id IS NULL THEN 'list price: no pricebook assigned'
         WHEN rule.id IS NULL THEN 'list price: no rule covers it'
         ELSE '' END AS note
FROM (
    SELECT DISTINCT customer_id, cloud_account_id, provider, usage_date, service_category, service_name
    FROM {table} WHERE customer_id IS NOT NULL
) AS u
LEFT JOIN customers_customer AS c ON c.id = u.customer_id AND c.reseller_id = %(reseller)s
LEFT JOIN marketplace_provider AS pv ON pv.code = u.provider
LEFT JOIN marketplace_resellerauthorization AS auth
    ON auth.provider_id = pv.id AND auth.reseller_id = %(reseller)s
LEFT JOIN LATERAL (
    SELECT a.pricebook_id, b.currency
    FROM billing_pricebookassignment AS a
    JOIN billing_pricebook AS b ON b.id = a.pricebook_id
    WHERE a.reseller_id = %(reseller)s AND a.provider_id = pv.id
      AND a.valid_from <= u.usage_date AND (a.valid_until IS NULL OR a.valid_until >= u.usage_date)
      AND b.valid_from <= u.usage_date AND (b.valid_until IS NULL OR b.valid_until >= u.usage_date)
      AND (a.level = 0
           OR (a.level = 1 AND a.customer_id = u.customer_id)
           OR (a.level = 2 AND a.customer_id = u.customer_id AND a.cloud_account_id = u.cloud_account_id))
    ORDER BY a.level DESC
    LIMIT 1
) AS book ON TRUE
LEFT JOIN LATERAL (
    SELECT r.id, r.method, r.value
    FROM billing_pricebookrule AS r
    WHERE r.pricebook_id = book.pricebook_id
      AND r.scope_key IN ('provider', 'service_category:' || u.service_category, 'service_name:' || u.service_name)
      AND r.valid_from <= u.usage_date AND (r.valid_until IS NULL OR r.valid_until >= u.usage_date)
    ORDER BY r.specificity DESC
    LIMIT 1
) AS rule ON TRUE
CROSS JOIN LATERAL (SELECT COALESCE(book.currency, c.currency) AS currency) AS cur
LEFT JOIN LATERAL (
    SELECT CASE WHEN cur.currency = 'USD' THEN 1::numeric ELSE (
        SELECT e.rate FROM billing_exchangerate AS e
        WHERE e.currency = cur.currency AND e.effective_date <= u.usage_date
        ORDER BY e.effective_date DESC
        LIMIT 1
    ) END AS rate
) AS fx ON TRUE
"""


def _reseller(reseller_id):
    reseller_id = reseller_id or current_reseller_id()
    if reseller_id is None:
        raise ValueError("price_usage_rows_sql prices one reseller's rows: open tenant_scope(reseller)")
    return reseller_id


def price_keys_sql(table: str) -> str:
    """The SELECT of `table`'s pricing keys (create_price_keys); its parameter: reseller."""
    return KEY_SQL.format(
        table=connection.ops.quote_name(table), minor_units=_minor_units_sql("cur.currency")
    )


def create_price_keys(table: str, keys: str, reseller_id=None) -> int:
    """Create the TEMP table `keys` (small: dropped with the session if not before): one row per distinct
    pricing key of `table`'s rows that have a customer, with everything the look-ups found (currency,
    pricebook, rule, method, value, exchange rate, priceable, minor units, note). Returns the number of
    keys."""
    sql = price_keys_sql(table)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP TABLE {connection.ops.quote_name(keys)} AS {sql}",
                       {"reseller": _reseller(reseller_id)})  # fmt: skip
        count = cursor.rowcount
        cursor.execute(f"ANALYZE {connection.ops.quote_name(keys)}")
    return count


def key_join_sql(row: str, key: str) -> str:
    """The join condition of a row (alias `row`) with its key (alias `key`): equality on every key column
    (a missing cloud account as the nil uuid, so the whole key is hashed and each row probes one key)."""
    nil = "'00000000-0000-0000-0000-000000000000'::uuid"
    return " AND ".join(
        f"COALESCE({key}.{c}, {nil}) = COALESCE({row}.{c}, {nil})"
        if c == "cloud_account_id"
        else f"{key}.{c} = {row}.{c}"
        for c in KEY_COLUMNS
    )


def amount_sql(row: str, key: str) -> str:
    """The customer price of a row (alias `row`: cost, list_cost, quantity) under its key (alias `key`):
    the rule's arithmetic, one rounding to the currency's minor unit; NULL when it cannot be priced."""
    return f"""CASE WHEN {key}.priceable THEN round(
            CASE {key}.method
                WHEN 'markup' THEN {row}.cost * {key}.rate * (100 + {key}.value) * 0.01
                WHEN 'margin' THEN round({row}.cost * {key}.rate * 100, {DIVISION_PLACES}) / (100 - {key}.value)
                WHEN 'discount' THEN {row}.list_cost * {key}.rate * (100 - {key}.value) * 0.01
                WHEN 'fixed' THEN {key}.value * {row}.quantity
                ELSE {row}.list_cost * {key}.rate
            END,
            {key}.minor_units
        ) END"""


def price_usage_rows_sql(table: str, reseller_id=None) -> int:
    """Price every row of the staging table for the reseller in scope; returns the rows updated."""
    reseller_id = _reseller(reseller_id)
    keys = f"usage_keys_{uuid.uuid4().hex}"
    create_price_keys(table, keys, reseller_id)
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE {connection.ops.quote_name(table)} AS s
                SET currency = k.currency, fx_rate = k.rate, amount = {amount_sql("s", "k")},
                    pricebook_id = k.pricebook_id,
                    rule_id = k.rule_id, priced_note = k.note
                FROM {keys} AS k WHERE {key_join_sql("s", "k")}"""
        )
        updated = cursor.rowcount
        # Rows without a customer have no key: unpriced, as the Python form refuses them.
        cursor.execute(
            f"""UPDATE {connection.ops.quote_name(table)} SET currency = NULL, fx_rate = NULL, amount = NULL,
                    pricebook_id = NULL, rule_id = NULL, priced_note = 'unknown customer'
                WHERE customer_id IS NULL"""
        )
        updated += cursor.rowcount
        cursor.execute(f"DROP TABLE {keys}")
    return updated
