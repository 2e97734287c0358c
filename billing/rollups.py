"""Rating and daily rollups of usage rows, set-based.

On import (billing.ingest) `insert_priced_rows()` prices the typed rows through their pricing keys as it
inserts them into the usage table, skipping fingerprints already imported, and adds only the
rows actually inserted to the detailed rollup (UsageDaily) and to the customer rollup the KPI cards read
(DailySpend), in one statement. `process_pending()` does the same for rows matched later (an unmatched
account linked to a customer): it rates them with billing.pricing_sql, writes the price back and rolls
them up. Each row is rolled up exactly once (`rolled_up`), so running either twice changes nothing.
Both end with `refresh_customers()`: month-to-date spend and SaaS credit thresholds.
"""

import uuid

from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from customer360.tenancy import current_reseller_id

from .models import DailySpend
from .models_usage import UsageDaily, UsageRow
from .pricing_sql import amount_sql, create_usage_staging_table, key_join_sql, price_usage_rows_sql

# The two rollups, from a relation `src` of rated rows (customer_id, cloud_account_id, usage_date, provider,
# service_name, charge_category, currency, fx_rate, cost, price_amount, quantity). `src` is aggregated once
# (GROUPED_SQL, one group per detailed key) and both rollups are written from the groups: a customer
# rollup key is a coarser grouping of the detailed one, and numeric sums of sums are exact. A rollup row's
# cost is in its currency, like its price: the provider's USD cost times the rate that priced the row.
# Rows priced at no rate (no customer currency, no exchange rate) stay in USD.
ROLLUP_CURRENCY = "(CASE WHEN fx_rate IS NULL THEN 'USD' ELSE COALESCE(currency, 'USD') END)"
GROUPED_SQL = f"""
    SELECT customer_id, cloud_account_id, usage_date, provider, service_name, charge_category,
           {ROLLUP_CURRENCY} AS currency, sum(cost * COALESCE(fx_rate, 1)) AS cost,
           sum(COALESCE(price_amount, 0)) AS price, sum(quantity) AS quantity, count(*) AS row_count
    FROM src
    GROUP BY customer_id, cloud_account_id, usage_date, provider, service_name, charge_category,
             {ROLLUP_CURRENCY}
"""
DAILY_SQL = """
    INSERT INTO {daily} (id, reseller_id, customer_id, cloud_account_id, day, provider, service_name,
        charge_category, currency, cost, price, quantity, row_count)
    SELECT gen_random_uuid(), %(reseller)s, customer_id, cloud_account_id, usage_date, provider, service_name,
           charge_category, currency, cost, price, quantity, row_count
    FROM grouped WHERE customer_id IS NOT NULL AND cloud_account_id IS NOT NULL
    ON CONFLICT ON CONSTRAINT usagedaily_one_row_per_key DO UPDATE
    SET cost = {daily}.cost + EXCLUDED.cost, price = {daily}.price + EXCLUDED.price,
        quantity = {daily}.quantity + EXCLUDED.quantity, row_count = {daily}.row_count + EXCLUDED.row_count
    RETURNING 1
"""
SPEND_SQL = """
    INSERT INTO {spend} (id, reseller_id, customer_id, day, provider, currency, cost, price, is_saas)
    SELECT gen_random_uuid(), %(reseller)s, customer_id, usage_date, provider, currency, sum(cost), sum(price),
           false
    FROM grouped WHERE customer_id IS NOT NULL
    GROUP BY customer_id, usage_date, provider, currency
    ON CONFLICT ON CONSTRAINT dailyspend_one_row_per_key DO UPDATE
    SET cost = {spend}.cost + EXCLUDED.cost, price = {spend}.price + EXCLUDED.price
    RETURNING 1
"""


def rollup_ctes(daily: str, spend: str) -> str:
    """The CTEs `grouped`, `daily` and `spend` that follow a CTE `src` of rated rows."""
    return (
        f"grouped AS ({GROUPED_SQL}), daily AS ({DAILY_SQL.format(daily=daily)}), "
        f"spend AS ({SPEND_SQL.format(spend=spend)})"
    )


USAGE_COLUMNS = """line_no, fingerprint, customer_id, cloud_account_id, provider, billing_account_id,
    sub_account_id, usage_date, charge_category, service_name, service_category, sku, region, resource_id,
    quantity, cost, effective_cost, list_cost"""


def _tables():
    return UsageRow._meta.db_table, UsageDaily._meta.db_table, DailySpend._meta.db_table


UNIQUE_FINGERPRINT = "usagerow_unique_fingerprint"  # UsageRow's (reseller, usage_date, fingerprint)
OVERLAP_SAMPLE = 1000


def insert_priced_rows(table: str, keys: str, number_repeats, usage_import_id, *, try_plain: bool = True
                       ) -> tuple[int, int, list]:  # fmt: skip
    """One statement: the typed rows of `table` (see billing.ingest) priced through their pricing keys
    (`keys`, billing.pricing_sql.create_price_keys), fingerprinted from their base and occurrence into the
    usage table, skipping fingerprints already there, and only the rows actually inserted into both
    rollups (from the rows the insert returns, not a re-read of the usage table). Returns (rows inserted,
    of which matched, the customers concerned). `number_repeats()` makes the table of repeated lines'
    occurrences (billing.ingest.number_repeats; None when no line repeats), called only when needed.

    ON CONFLICT DO NOTHING costs a fifth of the insert (for every row a probe of the unique index before
    the insert and a confirmation record in the WAL after it), so a file none of whose first rows is
    imported yet goes in with a plain INSERT first: the rows are in (usage date, fingerprint) order, so
    the first ones are a random sample of the file's first day (where a period delivered again, or the
    same file, overlaps). The plain insert gives every row its first occurrence's
    fingerprint, without counting repeats (a scan of the whole file that finds none, usually): a line
    repeated in the file then fails it like an imported row. Should it fail on the unique constraint (a
    repeated line, a file overlapping a few imported rows, or another import committing the same rows
    meanwhile) it is rolled back to its savepoint, the repeats are numbered and the rows go in with ON
    CONFLICT DO NOTHING. `try_plain=False`: straight to that (the caller's plain insert failed)."""
    if try_plain and (done := try_insert_plain(table, keys, usage_import_id)) is not None:
        return done
    return _insert_priced_rows(table, keys, number_repeats(), usage_import_id, skip_existing=True)


def try_insert_plain(table: str, keys: str, usage_import_id) -> tuple[int, int, list] | None:
    """insert_plain in a savepoint of its own when none of the first rows of `table` is imported yet:
    its result, or None (nothing written) when a row is imported already or repeats another."""
    if overlaps_imported(table):
        return None
    try:
        with transaction.atomic():
            return insert_plain(table, keys, usage_import_id)
    except IntegrityError as exc:
        if not is_fingerprint_conflict(exc):
            raise
    return None


def insert_plain(table: str, keys: str, usage_import_id) -> tuple[int, int, list]:
    """The plain INSERT of insert_priced_rows (every row its first occurrence's fingerprint): raises
    IntegrityError (is_fingerprint_conflict) when a row is imported already or repeats another."""
    return _insert_priced_rows(table, keys, None, usage_import_id, skip_existing=False)


def is_fingerprint_conflict(exc: IntegrityError) -> bool:
    return getattr(getattr(exc.__cause__, "diag", None), "constraint_name", None) == UNIQUE_FINGERPRINT


def overlaps_imported(table: str) -> bool:
    """Whether any of the first OVERLAP_SAMPLE rows of `table` is imported already (an index probe each)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT usage_date, fingerprint FROM {table} LIMIT {OVERLAP_SAMPLE}")
        sample = cursor.fetchall()
        cursor.execute(
            f"""SELECT EXISTS (SELECT 1 FROM unnest(%s::date[], %s::uuid[]) AS s (day, fingerprint)
                               JOIN {UsageRow._meta.db_table} AS u ON u.reseller_id = %s
                                AND u.usage_date = s.day AND u.fingerprint = s.fingerprint)""",
            [[day for day, _ in sample], [fingerprint for _, fingerprint in sample], current_reseller_id()],
        )
        return cursor.fetchone()[0]


def _insert_priced_rows(table: str, keys: str, repeats, usage_import_id, *, skip_existing: bool):
    rows, daily, spend = _tables()
    fingerprint = "t.fingerprint"  # the first occurrence's (billing.focus.typed_rows_sql)
    if repeats:
        fingerprint = "COALESCE(md5(t.base::text || '#' || r.n)::uuid, t.fingerprint)"
    t_columns = ", ".join(
        fingerprint if c.strip() == "fingerprint" else f"t.{c.strip()}" for c in USAGE_COLUMNS.split(",")
    )
    join_repeats = f"LEFT JOIN {repeats} AS r ON r.line_no = t.line_no" if repeats else ""
    sql = f"""
        WITH src AS (
            INSERT INTO {rows} (reseller_id, usage_import_id, {USAGE_COLUMNS}, billing_currency, price,
                price_currency, fx_rate, pricebook_id, rule_id, priced_note, rolled_up)
            SELECT %(reseller)s, %(import)s, {t_columns}, 'USD', {amount_sql("t", "k")},
                   COALESCE(k.currency, ''), k.rate, k.pricebook_id, k.rule_id,
                   CASE WHEN t.customer_id IS NULL THEN 'no customer: the account is not linked'
                        ELSE left(k.note, 200) END,
                   t.customer_id IS NOT NULL
            FROM {table} AS t
            LEFT JOIN {keys} AS k ON {key_join_sql("t", "k")}
            {join_repeats}
            {"ON CONFLICT (reseller_id, usage_date, fingerprint) DO NOTHING" if skip_existing else ""}
            RETURNING customer_id, cloud_account_id, usage_date, provider, service_name, charge_category,
                      NULLIF(price_currency, '') AS currency, fx_rate, cost, price AS price_amount, quantity
        ), {rollup_ctes(daily, spend)}
        SELECT COALESCE(sum(row_count), 0)::bigint,
               COALESCE(sum(row_count) FILTER (WHERE customer_id IS NOT NULL), 0)::bigint,
               COALESCE(array_agg(DISTINCT customer_id) FILTER (WHERE customer_id IS NOT NULL), '{{}}')
        FROM grouped
    """
    with connection.cursor() as cursor:
        cursor.execute(sql, {"reseller": current_reseller_id(), "import": usage_import_id})
        new, matched, customers = cursor.fetchone()
    return new, matched, list(customers)


@transaction.atomic
def process_pending(*, usage_import_id=None, today=None) -> int:
    """Rate and roll up the reseller's matched rows not yet rolled up; returns how many."""
    reseller = current_reseller_id()
    if reseller is None:
        raise ValueError("process_pending works in one reseller's scope")
    stage = f"usage_price_{uuid.uuid4().hex}"
    rows, daily, spend = _tables()
    params = {"reseller": reseller, "import": usage_import_id}
    create_usage_staging_table(stage)
    with connection.cursor() as cursor:
        cursor.execute(f"ALTER TABLE {stage} ADD COLUMN charge_category varchar(40)")
        cursor.execute(
            f"""INSERT INTO {stage} (id, customer_id, cloud_account_id, provider, service_name,
                    service_category, sku, usage_date, quantity, cost, list_cost, charge_category)
                SELECT id, customer_id, cloud_account_id, provider, service_name, service_category, sku,
                       usage_date, quantity, cost, list_cost, charge_category
                FROM {rows}
                WHERE reseller_id = %(reseller)s AND customer_id IS NOT NULL AND NOT rolled_up
                  AND (%(import)s::uuid IS NULL OR usage_import_id = %(import)s::uuid)""",
            params,
        )
        count = cursor.rowcount
        if count:
            cursor.execute(f"ANALYZE {stage}")
            price_usage_rows_sql(stage, reseller)
            cursor.execute(
                f"""UPDATE {rows} AS u
                    SET price = s.amount, price_currency = COALESCE(s.currency, ''), fx_rate = s.fx_rate,
                        pricebook_id = s.pricebook_id, rule_id = s.rule_id,
                        priced_note = left(s.priced_note, 200), rolled_up = true
                    FROM {stage} AS s WHERE u.id = s.id"""
            )
            cursor.execute(
                f"WITH src AS (SELECT *, amount AS price_amount FROM {stage}), {rollup_ctes(daily, spend)} SELECT 1",
                params,
            )
            cursor.execute(f"SELECT DISTINCT customer_id FROM {stage}")
            customers = [r[0] for r in cursor.fetchall()]
        cursor.execute(f"DROP TABLE {stage}")
    if count:
        refresh_customers(customers, today=today)
    return count


def refresh_customers(customer_ids, *, today=None):
    """The customers' month-to-date spend (the list column) from DailySpend, and their SaaS thresholds."""
    from customers.models import Customer
    from customers.services_credit import do_check_credit_threshold

    if not customer_ids:
        return
    today = today or timezone.localdate()
    with connection.cursor() as cursor:
        cursor.execute(
            f"""UPDATE customers_customer AS c
                SET mtd_spend = COALESCE((
                    SELECT sum(d.price) FROM {DailySpend._meta.db_table} AS d
                    WHERE d.customer_id = c.id AND d.currency = c.currency
                      AND d.day >= %(month)s AND d.day <= %(today)s), 0)
                WHERE c.reseller_id = %(reseller)s AND c.id = ANY(%(customers)s)""",
            {"month": today.replace(day=1), "today": today, "reseller": current_reseller_id(),
             "customers": list(customer_ids)},
        )  # fmt: skip
    watched = Customer.objects.filter(pk__in=customer_ids, saas_credit_threshold__isnull=False)
    for customer in watched:
        do_check_credit_threshold(customer, today=today)
