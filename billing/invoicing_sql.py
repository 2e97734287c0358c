"""The invoice run's spend lines in SQL: a chunk's subscription fees and rated usage computed by PostgreSQL
into a temporary table (`chunk_line`), one statement each for the whole chunk, as invoicing.subscription_lines
and invoicing.usage_lines compute them for one customer in Python (same descriptions, amounts, order and
sources; tests/billing/test_invoice_bulk.py compares them line for line). The run spends its time in these
lines: 3 subscription and 5 usage lines a customer against a charge, a discount, a tax or a credit line for
some. What depends on the whole invoice (charges, discounts, tax, credits) stays in Python
(invoicing_bulk), which reads the spend back grouped by tax category and scope, and adds its lines to the
same table; the chunk's invoice lines are then numbered and written from it with one INSERT … SELECT
(invoicing_bulk.write_lines).

Rounding is customer360.money's: half-up (PostgreSQL's round() on numeric rounds half away from zero, as
ROUND_HALF_UP does) at the currency's minor unit (MINOR_UNITS below, from the same table).
"""

from django.db import connection
from django.utils import timezone

from customer360.money import MINOR_UNITS
from marketplace.models import LicenseCharge

from .invoicing import BILLED_STATUSES, ENDED_STATUSES

LINE_COLUMNS = [
    "kind", "description", "source", "provider", "service_name", "subscription_id", "license_charge_id",
    "cloud_account_id", "charge_item_id", "credit_id", "quantity", "unit_price", "amount", "cost", "tax_category",
    "tax_rate", "period_start", "period_end",
]  # fmt: skip
# Where a line sorts on its invoice: spend (subscriptions, then usage), charges and discounts, tax, credits.
SUBSCRIPTIONS, USAGE, CHARGES, TAX, CREDITS = 1, 2, 3, 4, 5

CREATE = """
DROP TABLE IF EXISTS chunk_line;
CREATE TEMP TABLE chunk_line (
    customer_id uuid NOT NULL, grp smallint NOT NULL, k1 bigint NOT NULL, k2 int NOT NULL, k3 bigint NOT NULL,
    kind varchar(20) NOT NULL, description text NOT NULL, source text NOT NULL, provider text NOT NULL,
    service_name text NOT NULL, subscription_id uuid, license_charge_id uuid, cloud_account_id uuid,
    charge_item_id uuid, credit_id uuid, quantity numeric NOT NULL, unit_price numeric, amount numeric NOT NULL,
    cost numeric NOT NULL, tax_category text NOT NULL, tax_rate numeric, period_start date, period_end date
) ON COMMIT DROP
"""


def uuid_array(ids) -> str:
    """A chunk's ids as one uuid[] literal, for a `%s::uuid[]` parameter: psycopg adapts a list of UUIDs
    element by element (a regular expression each), a measurable part of a chunk's time."""
    return "{" + ",".join(map(str, ids)) + "}"


def _minor(column: str) -> str:
    """The currency's minor unit as a CASE over `column` (customer360.money.MINOR_UNITS)."""
    cases = " ".join(f"WHEN '{code}' THEN {units}" for code, units in sorted(MINOR_UNITS.items()))
    return f"(CASE upper({column}) {cases} ELSE 2 END)"


def _in(values) -> str:
    return "(" + ", ".join(f"'{v}'" for v in values) + ")"


def _kind_label() -> str:
    cases = " ".join(f"WHEN '{value}' THEN '{label.lower()}'" for value, label in LicenseCharge.Kind.choices)
    return f"(CASE lc.kind {cases} ELSE lc.kind END)"


# The chunk's billed subscriptions with what every line needs (invoicing._subscription_inputs): ended_on
# is the local date of the first move to an ended status (or the start date when an ended one has none).
CHUNK_SUBSCRIPTIONS = f"""
DROP TABLE IF EXISTS chunk_sub;
CREATE TEMP TABLE chunk_sub ON COMMIT DROP AS
SELECT s.id, s.customer_id, s.cloud_account_id, s.quantity, s.currency, s.unit_price, s.unit_cost,
       s.billing_frequency AS freq, s.start_date, p.name AS plan, p.sku, pr.code AS provider,
       'Subscription ' || p.sku || ', order ' || o.number AS source, c.currency AS customer_currency,
       {_minor("s.currency")} AS mu,
       row_number() OVER (PARTITION BY s.customer_id ORDER BY s.start_date, s.created_at, s.id) AS rank,
       CASE WHEN e.at IS NOT NULL THEN (e.at AT TIME ZONE %(tz)s)::date
            WHEN s.status IN {_in(ENDED_STATUSES)} THEN s.start_date END AS ended_on,
       EXISTS (SELECT 1 FROM marketplace_licensecharge lc WHERE lc.subscription_id = s.id) AS changed
FROM marketplace_subscription s
JOIN customers_customer c ON c.id = s.customer_id AND c.id = ANY(%(ids)s::uuid[])
JOIN marketplace_plan p ON p.id = s.plan_id
JOIN marketplace_order o ON o.id = s.order_id
JOIN marketplace_provider pr ON pr.id = s.provider_id
LEFT JOIN LATERAL (
    SELECT min(sc.created_at) AS at FROM marketplace_statuschange sc
    WHERE sc.subscription_id = s.id AND sc.after IN {_in(ENDED_STATUSES)}
) e ON true
WHERE s.customer_id = ANY(%(ids)s::uuid[]) AND s.reseller_id = %(reseller)s
  AND s.status IN {_in(BILLED_STATUSES)} AND s.start_date <= %(last)s
"""

# The chunk's month of usage as every usage line and the other-currency note need it: the monthly rollup's
# rows (billing.UsageMonthly), one per customer, currency, cloud account, provider and service.
CHUNK_USAGE = """
DROP TABLE IF EXISTS chunk_usage;
CREATE TEMP TABLE chunk_usage ON COMMIT DROP AS
SELECT u.customer_id, u.currency, u.cloud_account_id, u.provider, u.service_name, u.price, u.cost, u.quantity,
       u.day_rows AS days
FROM billing_usagemonthly u
WHERE u.customer_id = ANY(%(ids)s::uuid[]) AND u.reseller_id = %(reseller)s AND u.month = %(first)s
"""

# Subscriptions not ended before the month, with their days of service in it.
LIVE_CTE = """
live AS (
    SELECT sub.*, greatest(start_date, %(first)s::date) AS sf,
           CASE WHEN ended_on IS NULL THEN %(last)s::date ELSE least(%(last)s::date, ended_on - 1) END AS sl
    FROM chunk_sub sub WHERE ended_on IS NULL OR ended_on >= %(first)s
),
billed AS (
    SELECT * FROM live WHERE sl >= sf AND currency = customer_currency
)"""


def _quantity_on(day: str) -> str:
    """invoicing.quantity_on: the license count in force on `day`, replaying the license changes (looked up
    only for the few subscriptions that have any)."""
    return f"""CASE WHEN NOT b.changed THEN b.quantity ELSE coalesce(
        (SELECT lc.quantity_after FROM marketplace_licensecharge lc WHERE lc.subscription_id = b.id
         AND lc.effective_on <= {day} ORDER BY lc.effective_on DESC, lc.created_at DESC, lc.id DESC LIMIT 1),
        (SELECT lc.quantity_before FROM marketplace_licensecharge lc WHERE lc.subscription_id = b.id
         ORDER BY lc.effective_on, lc.created_at, lc.id LIMIT 1),
        b.quantity) END"""


PRORATE = "round({price} * {quantity} * {days} / %(dim)s, b.mu)"
COLUMNS = "customer_id, grp, k1, k2, k3, " + ", ".join(LINE_COLUMNS)

SUBSCRIPTION_LINES = f"""
WITH {LIVE_CTE},
monthly AS (
    SELECT b.*, sl - sf + 1 AS days, {_quantity_on("b.sf")} AS q FROM billed b WHERE freq = 'monthly'
),
changes AS (
    SELECT lc.*, row_number() OVER (PARTITION BY lc.subscription_id
                                    ORDER BY lc.effective_on, lc.created_at, lc.id) AS n
    FROM marketplace_licensecharge lc WHERE lc.subscription_id IN (SELECT id FROM billed)
),
addons AS (
    SELECT a.*, ad.name, ad.sku,
           row_number() OVER (PARTITION BY a.subscription_id ORDER BY a.created_at, a.id) AS n,
           (a.created_at AT TIME ZONE %(tz)s)::date AS added_on
    FROM marketplace_subscriptionaddon a JOIN marketplace_addon ad ON ad.id = a.addon_id
    WHERE a.subscription_id IN (SELECT id FROM billed)
),
annual AS (
    SELECT b.*, t.term, {_quantity_on("t.term")} AS q
    FROM billed b
    CROSS JOIN LATERAL (
        SELECT (b.start_date + make_interval(years => extract(year FROM %(first)s::date)::int
                                             - extract(year FROM b.start_date)::int))::date AS term
    ) t
    WHERE b.freq = 'annual' AND t.term BETWEEN b.sf AND b.sl
)
INSERT INTO chunk_line ({COLUMNS})
SELECT b.customer_id, {SUBSCRIPTIONS}, b.rank, 0, 0, 'subscription',
       b.plan || ' × ' || b.q || CASE WHEN b.days = %(dim)s THEN '' ELSE ', ' || b.days || '/' || %(dim)s
           || ' days (' || to_char(b.sf, 'Mon DD') || '–' || to_char(b.sl, 'Mon DD') || ')' END,
       b.source, b.provider, '', b.id, NULL::uuid, b.cloud_account_id, NULL::uuid, NULL::uuid, b.q, b.unit_price,
       {PRORATE.format(price="b.unit_price", quantity="b.q", days="b.days")},
       {PRORATE.format(price="b.unit_cost", quantity="b.q", days="b.days")}, 'subscriptions', NULL::numeric,
       b.sf, b.sl
FROM monthly b
UNION ALL
SELECT b.customer_id, {SUBSCRIPTIONS}, b.rank, 1, lc.n, 'license_change',
       b.plan || ': ' || lc.quantity_before || ' → ' || lc.quantity_after || ' licenses from '
           || to_char(lc.effective_on, 'Mon DD') || ', ' || (b.sl - lc.effective_on + 1) || '/' || %(dim)s || ' days',
       'License change of ' || to_char(lc.effective_on, 'YYYY-MM-DD') || ' (' || {_kind_label()} || ')',
       b.provider, '', b.id, lc.id, b.cloud_account_id, NULL, NULL,
       lc.quantity_after - lc.quantity_before, b.unit_price,
       {
    PRORATE.format(
        price="b.unit_price",
        quantity="(lc.quantity_after - lc.quantity_before)",
        days="(b.sl - lc.effective_on + 1)",
    )
},
       {
    PRORATE.format(
        price="b.unit_cost",
        quantity="(lc.quantity_after - lc.quantity_before)",
        days="(b.sl - lc.effective_on + 1)",
    )
},
       'subscriptions', NULL, lc.effective_on, b.sl
FROM monthly b JOIN changes lc ON lc.subscription_id = b.id
WHERE lc.effective_on > b.sf AND lc.effective_on <= b.sl
UNION ALL
SELECT b.customer_id, {SUBSCRIPTIONS}, b.rank, 2, a.n, 'subscription',
       a.name || ' (add-on) × ' || a.quantity || CASE WHEN b.sl - greatest(b.sf, a.added_on) + 1 = %(dim)s THEN ''
           ELSE ', ' || (b.sl - greatest(b.sf, a.added_on) + 1) || '/' || %(dim)s || ' days' END,
       b.source || ', add-on ' || a.sku, b.provider, '', b.id, NULL, b.cloud_account_id, NULL, NULL,
       a.quantity, a.unit_price,
       {
    PRORATE.format(
        price="a.unit_price", quantity="a.quantity", days="(b.sl - greatest(b.sf, a.added_on) + 1)"
    )
},
       {
    PRORATE.format(price="a.unit_cost", quantity="a.quantity", days="(b.sl - greatest(b.sf, a.added_on) + 1)")
},
       'subscriptions', NULL, greatest(b.sf, a.added_on), b.sl
FROM monthly b JOIN addons a ON a.subscription_id = b.id
WHERE greatest(b.sf, a.added_on) <= b.sl
UNION ALL
SELECT b.customer_id, {SUBSCRIPTIONS}, b.rank, 0, 0, 'subscription',
       b.plan || ' × ' || b.q || ', year from ' || to_char(b.term, 'YYYY-MM-DD'), b.source, b.provider, '',
       b.id, NULL, b.cloud_account_id, NULL, NULL, b.q, b.unit_price, round(b.unit_price * b.q, b.mu),
       round(b.unit_cost * b.q, b.mu), 'subscriptions', NULL, b.term, b.term
FROM annual b
UNION ALL
SELECT b.customer_id, {SUBSCRIPTIONS}, b.rank, 1, a.n, 'subscription',
       a.name || ' (add-on) × ' || a.quantity, b.source, b.provider, '', b.id, NULL, b.cloud_account_id, NULL,
       NULL, a.quantity, a.unit_price, round(a.unit_price * a.quantity, b.mu), round(a.unit_cost * a.quantity, b.mu),
       'subscriptions', NULL, NULL, NULL
FROM annual b JOIN addons a ON a.subscription_id = b.id
UNION ALL
SELECT b.customer_id, {SUBSCRIPTIONS}, b.rank, 2, lc.n, 'license_change',
       b.plan || ': ' || lc.quantity_before || ' → ' || lc.quantity_after || ' licenses, '
           || lc.days_charged || '/' || lc.period_days || ' days to renewal',
       'License change of ' || to_char(lc.effective_on, 'YYYY-MM-DD') || ' (prorated increase)',
       b.provider, '', b.id, lc.id, b.cloud_account_id, NULL, NULL, lc.quantity_after - lc.quantity_before,
       lc.unit_price, round(lc.amount, b.mu), 0, 'subscriptions', NULL, NULL, NULL
FROM billed b JOIN changes lc ON lc.subscription_id = b.id
WHERE b.freq = 'annual' AND lc.kind = '{LicenseCharge.Kind.PRORATION}'
  AND lc.effective_on BETWEEN %(first)s AND %(last)s AND lc.amount <> 0
UNION ALL
SELECT b.customer_id, {SUBSCRIPTIONS}, b.rank, 0, 0, 'subscription',
       b.plan || ' × ' || b.quantity || ' (one-time)', b.source, b.provider, '', b.id, NULL, b.cloud_account_id,
       NULL, NULL, b.quantity, b.unit_price, round(b.unit_price * b.quantity, b.mu),
       round(b.unit_cost * b.quantity, b.mu), 'subscriptions', NULL, NULL, NULL
FROM billed b WHERE b.freq = 'one_time' AND b.start_date BETWEEN %(first)s AND %(last)s
"""

# Rated usage of the period per customer, cloud account, provider and service at customer price, in the
# customer's currency (invoicing.usage_lines); an account no longer the customer's is an "unknown account".
USAGE_LINES = f"""
INSERT INTO chunk_line ({COLUMNS})
SELECT g.customer_id, {USAGE},
       row_number() OVER (PARTITION BY g.customer_id ORDER BY g.provider, g.cloud_account_id, g.service_name),
       0, 0, 'usage', coalesce(nullif(g.service_name, ''), 'Other usage') || ' (' || upper(g.provider) || ' '
           || coalesce(a.account_id, 'unknown account') || ')',
       'Rated usage ' || to_char(%(first)s::date, 'YYYY-MM-DD') || '–' || to_char(%(last)s::date, 'YYYY-MM-DD')
           || ', ' || upper(g.provider) || ' account ' || coalesce(a.account_id, 'unknown account'),
       g.provider, g.service_name, NULL::uuid, NULL::uuid, a.id, NULL::uuid, NULL::uuid, round(g.quantity, 6),
       NULL::numeric,
       round(g.price, {_minor("g.currency")}), round(g.cost, {_minor("g.currency")}), 'usage', NULL::numeric,
       %(first)s, %(last)s
FROM chunk_usage g JOIN customers_customer c ON c.id = g.customer_id AND c.currency = g.currency
    AND c.id = ANY(%(ids)s::uuid[])
LEFT JOIN customers_cloudaccount a ON a.id = g.cloud_account_id AND a.customer_id = g.customer_id
    AND a.customer_id = ANY(%(ids)s::uuid[])
"""

# What the run leaves out, per customer, in invoicing.build_lines' words and order.
NOTES = f"""
WITH {LIVE_CTE}
SELECT customer_id, string_agg(note, E'\\n' ORDER BY k) FROM (
    SELECT customer_id, rank AS k, 'Subscription ' || sku || ' is in ' || currency || ', not '
           || customer_currency || ': not invoiced.' AS note
    FROM live WHERE currency <> customer_currency
    UNION ALL
    SELECT g.customer_id, 1e18, sum(g.days) || ' days of usage in another currency than ' || c.currency
           || ' are not invoiced.'
    FROM chunk_usage g JOIN customers_customer c ON c.id = g.customer_id AND c.currency <> g.currency
        AND c.id = ANY(%(ids)s::uuid[])
    GROUP BY g.customer_id, c.currency
) notes GROUP BY customer_id
"""

# The spend read back for what depends on it (a sum of rounded lines is exact, so the parts add up to the
# lines): for the `charged` customers (charge items) per tax category and the scopes a charge item can
# have, for the `taxed` ones (a tax profile, no charge item) per tax category, for the others (neither)
# only its total counts.
SPEND = """
SELECT customer_id, tax_category, cloud_account_id, subscription_id, sum(amount), sum(cost)
FROM chunk_line WHERE customer_id = ANY(%(charged)s::uuid[])
GROUP BY customer_id, tax_category, cloud_account_id, subscription_id
UNION ALL
SELECT customer_id, tax_category, NULL, NULL, sum(amount), sum(cost)
FROM chunk_line WHERE customer_id = ANY(%(taxed)s::uuid[])
GROUP BY customer_id, tax_category
UNION ALL
SELECT customer_id, NULL, NULL, NULL, sum(amount), NULL
FROM chunk_line WHERE NOT customer_id = ANY(%(charged)s::uuid[]) AND NOT customer_id = ANY(%(taxed)s::uuid[])
GROUP BY customer_id
ORDER BY 1, 2, 3, 4
"""


def fill_spend(ids: list, first, last, reseller_id, *, charged, taxed) -> tuple[dict, list]:
    """The chunk's subscription and usage lines into chunk_line; returns ({customer id: notes}, the spend
    as SPEND reads it for the `charged` and the (only) `taxed` customers)."""
    params = {
        "ids": uuid_array(ids), "first": first, "last": last, "dim": (last - first).days + 1,
        "tz": timezone.get_current_timezone_name(), "reseller": reseller_id,
        "charged": uuid_array(charged), "taxed": uuid_array(set(taxed) - set(charged)),
    }  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(CREATE)
        cursor.execute(CHUNK_SUBSCRIPTIONS, params)
        cursor.execute(CHUNK_USAGE, params)
        cursor.execute(SUBSCRIPTION_LINES, params)
        cursor.execute(USAGE_LINES, params)
        cursor.execute(NOTES, params)
        notes = dict(cursor.fetchall())
        cursor.execute(SPEND, params)
        spend = cursor.fetchall()
    return notes, spend
