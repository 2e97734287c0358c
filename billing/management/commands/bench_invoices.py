"""python manage.py bench_invoices: the monthly invoice run over 10,000 customers, 5,000,000 rated usage rows
(their UsageDaily and UsageMonthly rollups) and 30,000 subscriptions, against one plain SQL aggregate of
the same usage rows (`SELECT customer_id, sum(price) … GROUP BY customer_id`); docs/benchmarks.md,
"Invoice run".

The run takes the production path: do_start_run queues the chunks, and 2 real Celery worker processes
(one prefork worker, concurrency 2, on this database and the REDIS_URL broker) build them. It is timed
twice: the first run (no invoices yet) and a re-run (every draft rebuilt).
The data is written with set-based SQL (INSERT … SELECT generate_series) for a reseller of its own (slug
bench-invoices, replaced on --reseed); run it on a database of its own.
"""

import os
import subprocess
import sys
import time
from datetime import date
from pathlib import Path

from django.conf import settings
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count, Sum
from django.utils import timezone

from accounts.models import Reseller
from billing.invoice_run import CHUNK_SIZE, do_start_run
from billing.invoicing import generate_invoice
from billing.models import Invoice, InvoiceLine, InvoiceRun, UsageImport
from customer360.celery import app
from customer360.rls import as_owner
from customer360.tenancy import tenant_scope
from customers.models import Customer
from marketplace.models import Plan, Product, Provider

SLUG = "bench-invoices"
MONTH = date(2026, 10, 1)
# A month the benchmark's data has nothing to invoice in: the workers' untimed warm-up run.
WARM_UP_MONTH = date(2000, 1, 1)
ROOT = Path(settings.BASE_DIR)


class Command(BaseCommand):
    requires_system_checks = []  # a measurement: the project's checks are the test suite's business
    help = "Benchmark the invoice run (2 Celery worker processes) against a plain GROUP BY of the usage rows."

    def add_arguments(self, parser):
        parser.add_argument("--reseed", action="store_true", help="(re)write the benchmark data first")
        parser.add_argument("--customers", type=int, default=10_000)
        parser.add_argument("--usage-rows", type=int, default=5_000_000)
        parser.add_argument("--subscriptions-per-customer", type=int, default=3)
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)
        parser.add_argument("--seed-only", action="store_true", help="write the data and stop")
        parser.add_argument("--workers", type=int, default=2, help="Celery worker processes (default 2)")
        parser.add_argument(
            "--per-customer", type=int, default=200,
            help="also time the per-customer path (generate_invoice) on this many customers (0: skip)",
        )  # fmt: skip

    def handle(self, *args, **opts):
        if not settings.CELERY_BROKER_URL.startswith("redis"):
            raise CommandError("Set REDIS_URL: the workers and this command share the broker.")
        reseller = Reseller.objects.filter(slug=SLUG).first()
        if opts["reseed"] or reseller is None:
            started = time.monotonic()
            with as_owner():  # raw SQL across the tables, past row-level security
                reseller = self.reseed(opts)
            self.stdout.write(f"Seeded in {time.monotonic() - started:.0f}s")
        if opts["seed_only"]:
            return
        self.clear_invoices(reseller)
        with tenant_scope(reseller):
            self.describe(reseller)
            aggregate = self.plain_aggregate(reseller)
            worker = self.start_worker(opts["workers"])
            try:
                self.warm_up(opts["chunk_size"])
                first = self.timed_run(opts["chunk_size"], "first run (no drafts yet)")
                totals = self.totals()
                again = self.timed_run(opts["chunk_size"], "re-run (every draft rebuilt)")
                if self.totals() != totals:
                    raise CommandError("The re-run changed the invoices' totals.")
            finally:
                worker.terminate()  # warm shutdown: the pool processes go with it
                try:
                    worker.wait(timeout=30)
                except subprocess.TimeoutExpired:
                    worker.kill()
                    worker.wait(timeout=30)
            aggregate = min(aggregate, self.plain_aggregate(reseller))
            for label, seconds in (("first run", first), ("re-run", again)):
                self.stdout.write(
                    f"{label}: {seconds:.2f}s = {seconds / aggregate:.1f}x the plain aggregate ({aggregate:.2f}s); "
                    f"goal 5x: {'met' if seconds <= 5 * aggregate else 'NOT met'}"
                )
            self.stdout.write(f"invoices: {totals}")
            if opts["per_customer"]:
                self.per_customer(opts["per_customer"])

    # --- data ---------------------------------------------------------------------------------------------

    def reseed(self, opts) -> Reseller:
        old = Reseller.objects.filter(slug=SLUG).first()
        if old is not None:
            self.stdout.write("Deleting the old benchmark reseller ...")
            with connection.cursor() as cursor:
                cursor.execute(
                    "DELETE FROM billing_taxprofile_rates WHERE taxprofile_id IN "
                    "(SELECT id FROM billing_taxprofile WHERE reseller_id = %s)",
                    [old.pk],
                )
                cursor.execute("SET session_replication_role = replica")  # no triggers, no FK checks
                for table in _tenant_tables():
                    cursor.execute(f'DELETE FROM "{table}" WHERE reseller_id = %s', [old.pk])
                cursor.execute("DELETE FROM accounts_reseller WHERE id = %s", [old.pk])
                cursor.execute("SET session_replication_role = DEFAULT")
        reseller = Reseller.objects.create(name="Bench Invoices", slug=SLUG)
        plans = self.catalog()
        with tenant_scope(reseller):
            usage_import = UsageImport.objects.create(original_name="bench.csv", status="done")
        seed(
            self.stdout, reseller.pk, usage_import.pk, plans, customers=opts["customers"],
            usage_rows=opts["usage_rows"], subs_per_customer=opts["subscriptions_per_customer"], month=MONTH,
        )  # fmt: skip
        return reseller

    def catalog(self) -> list[int]:
        aws, _ = Provider.objects.get_or_create(code="aws", defaults={"name": "AWS"})
        m365, _ = Provider.objects.get_or_create(
            code="m365", defaults={"name": "Microsoft 365", "kind": Provider.Kind.LICENSES}
        )
        product, _ = Product.objects.get_or_create(
            provider=m365, name="Bench suite", defaults={"category": "Productivity", "type": "license"}
        )
        plans = []
        for n in range(10):
            plan, _ = Plan.objects.get_or_create(
                sku=f"BENCH-INV-{n}",
                defaults={
                    "product": product,
                    "name": f"Bench plan {n}",
                    "unit_cost": 4 + n,
                    "list_price": 5 + n,
                },
            )
            plans.append(plan.pk)
        return plans

    def clear_invoices(self, reseller):
        """The month's drafts of an earlier measurement go first, so the first run is one; the tables, and the
        catalogs the chunks' temporary tables churn, are vacuumed after (a server may run without
        autovacuum, and dead rows would slow every later run)."""
        with as_owner(), connection.cursor() as cursor:
            for table in ("billing_creditapplication", "billing_invoiceline", "billing_invoice"):
                cursor.execute(f"DELETE FROM {table} WHERE reseller_id = %s", [reseller.pk])
            for table in ("billing_creditapplication", "billing_invoiceline", "billing_invoice"):
                cursor.execute(f"VACUUM ANALYZE {table}")
            # Each chunk creates and drops its temporary tables: their catalog rows die with them, and
            # without autovacuum they pile up (54,000 dead pg_attribute rows after a few dozen runs, every
            # catalog look-up slower). Only a superuser may vacuum the catalogs; others get a warning.
            cursor.execute(
                "VACUUM pg_catalog.pg_attribute, pg_catalog.pg_class, pg_catalog.pg_type, pg_catalog.pg_depend"
            )

    def describe(self, reseller):
        with connection.cursor() as cursor:
            counts = {}
            for label, table in (("customers", "customers_customer"), ("subscriptions", "marketplace_subscription"),
                                 ("usage rows", "billing_usagerow"), ("daily rollups", "billing_usagedaily"),
                                 ("monthly rollups", "billing_usagemonthly"),
                                 ("license changes", "marketplace_licensecharge"), ("charge items", "billing_chargeitem"),
                                 ("tax profiles", "billing_taxprofile"), ("credits", "billing_credit")):  # fmt: skip
                cursor.execute(f"SELECT count(*) FROM {table} WHERE reseller_id = %s", [reseller.pk])
                counts[label] = cursor.fetchone()[0]
        self.stdout.write(
            ", ".join(f"{n:,} {label}" for label, n in counts.items()) + f"; {len(SERVICES)} services"
        )

    # --- measurements -------------------------------------------------------------------------------------

    def plain_aggregate(self, reseller) -> float:
        """The best of 3 runs of the plain GROUP BY customer sum over the usage rows."""
        sql = (
            "SELECT customer_id, sum(price) FROM billing_usagerow WHERE reseller_id = %s GROUP BY customer_id"
        )
        times = []
        with connection.cursor() as cursor:
            for _ in range(3):
                started = time.monotonic()
                cursor.execute(sql, [reseller.pk])
                rows = cursor.fetchall()
                times.append(time.monotonic() - started)
        self.stdout.write(
            f"plain aggregate: {len(rows):,} customers, " + ", ".join(f"{t:.2f}s" for t in times)
        )
        return min(times)

    def start_worker(self, processes: int) -> subprocess.Popen:
        db = connection.settings_dict
        env = {
            **os.environ,
            "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
            "CELERY_TASK_ALWAYS_EAGER": "0",
            "CELERY_SKIP_CHECKS": "1",  # as this command: no system checks at start
        }
        log = open(Path(os.environ.get("TMPDIR", "/tmp")) / "bench_invoices_worker.log", "ab")  # noqa: SIM115
        worker = subprocess.Popen(
            [sys.executable, "-m", "celery", "-A", "customer360", "worker", "-Q", app.conf.task_default_queue,
             "-c", str(processes), "-P", "prefork", "--without-mingle", "--without-gossip", "-l", "warning",
             "-n", f"bench-invoices-{os.getpid()}@%h"],
            cwd=ROOT, env=env, stdout=log, stderr=subprocess.STDOUT,
        )  # fmt: skip
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            if app.control.ping(timeout=0.5):
                time.sleep(2)  # the pool processes are up
                return worker
        worker.kill()
        raise CommandError("The Celery worker did not answer within 60 s.")

    def warm_up(self, chunk_size: int):
        """Workers that have been running have their database connections, and this process its finalized
        Celery app; the ones just started have neither (a first run paid ~0.3 s for them). An untimed run of
        a month with nothing to invoice takes every chunk through both worker processes and opens them;
        its run record goes after."""
        self.timed_run(chunk_size, "warm-up (a month with nothing to invoice)", WARM_UP_MONTH)
        if Invoice.objects.filter(month=WARM_UP_MONTH).exists():
            raise CommandError("The warm-up month has invoices: choose another WARM_UP_MONTH.")
        InvoiceRun.objects.filter(month=WARM_UP_MONTH).delete()

    def timed_run(self, chunk_size: int, label: str, month=MONTH) -> float:
        started = timezone.now()
        run = do_start_run(None, month, queue=True, chunk_size=chunk_size)
        deadline = time.monotonic() + 3600
        while run.running and time.monotonic() < deadline:
            time.sleep(0.05)
            run = InvoiceRun.objects.get(pk=run.pk)
        if run.running:
            raise CommandError(f"The run did not finish: {run.customers_done}/{run.customers_total}.")
        seconds = (run.finished_at - started).total_seconds()
        self.stdout.write(
            f"{label}: {run.customers_done:,}/{run.customers_total:,} customers, {run.failures} failures, "
            f"{seconds:.2f}s ({seconds * 1000 / max(run.customers_total, 1):.2f} ms per customer)"
        )
        return seconds

    def totals(self) -> str:
        t = Invoice.objects.filter(month=MONTH).aggregate(n=Count("id"), total=Sum("total"), tax=Sum("tax"),
                                                          credits=Sum("credits"))  # fmt: skip
        lines = InvoiceLine.objects.filter(invoice__month=MONTH).count()
        return f"{t['n']:,} invoices, {lines:,} lines, total {t['total']}, tax {t['tax']}, credits {t['credits']}"

    def per_customer(self, n: int):
        """The per-customer path (generate_invoice, one transaction per customer) on n customers."""
        customers = list(Customer.objects.order_by("pk")[:n])
        started = time.monotonic()
        for customer in customers:
            generate_invoice(customer, MONTH)
        seconds = time.monotonic() - started
        self.stdout.write(
            f"per-customer path (one process): {seconds * 1000 / n:.1f} ms per customer over {n} customers"
        )


def _tenant_tables() -> list[str]:
    """Every table with a reseller_id column, the ones that point at others first."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT table_name FROM information_schema.columns WHERE column_name = 'reseller_id' "
            "AND table_schema = 'public'"
        )
        return sorted(row[0] for row in cursor.fetchall())


# --- The data (set-based SQL) ---------------------------------------------------------------------------------

SERVICES = ["AmazonEC2", "AmazonS3", "AmazonRDS", "AWSLambda", "AmazonCloudFront"]
SEED_SQL = [
    (
        "customers",
        """
INSERT INTO customers_customer (id, reseller_id, name, status, currency, address_line1, address_line2, city,
    region, postal_code, country, payment_method, payment_terms_days, credit_limit, providers,
    cloud_account_count, active_subscription_count, mtd_spend, created_at, saas_threshold_alerted)
SELECT gen_random_uuid(), %(r)s, 'Bench customer ' || lpad(i::text, 6, '0'), 'active', 'USD', '', '', '', '',
    '', 'US', 'invoice', 30, 0, '{aws,m365}', 1, %(s)s, 0, now(), false
FROM generate_series(1, %(c)s) i""",
    ),
    (
        "numbering",
        """
CREATE TEMP TABLE bench_c ON COMMIT DROP AS
SELECT (row_number() OVER (ORDER BY name))::int AS i, id FROM customers_customer WHERE reseller_id = %(r)s""",
    ),
    (
        "cloud accounts",
        """
INSERT INTO customers_cloudaccount (id, reseller_id, customer_id, provider, account_id, name, status,
    created_at, customer_name)
SELECT gen_random_uuid(), %(r)s, id, 'aws', lpad((800000000000 + i)::text, 12, '0'), '', 'active', now(), ''
FROM bench_c""",
    ),
    (
        "orders",
        """
INSERT INTO marketplace_order (id, reseller_id, customer_id, number, checkout_token, status, currency, total,
    placed_by_label, created_at)
SELECT gen_random_uuid(), %(r)s, id, 'B-' || i, gen_random_uuid(), 'completed', 'USD', 0, 'bench',
    '2026-08-01' FROM bench_c""",
    ),
    # Per customer: monthly subscriptions; every 10th customer's second one annual with its term starting
    # in the month; every 4th customer's last one starting mid-month; every 20th customer's first one
    # cancelled mid-month (below).
    (
        "subscriptions",
        """
INSERT INTO marketplace_subscription (id, reseller_id, customer_id, order_id, plan_id, provider_id,
    product_type, status, quantity, currency, unit_price, unit_cost, term, billing_frequency, start_date,
    renewal_date, auto_renew, scheduled_quantity, failure_reason, created_at, cloud_account_id)
SELECT gen_random_uuid(), %(r)s, c.id, o.id, (%(plans)s::bigint[])[1 + (c.i * 3 + k) %% 10],
    (SELECT id FROM marketplace_provider WHERE code = 'm365'), 'license', 'active', 1 + (c.i + k) %% 25, 'USD',
    5 + ((c.i * 7 + k * 3) %% 40) + 0.99, 4 + ((c.i * 7 + k * 3) %% 40), 'monthly',
    CASE WHEN k = 2 AND c.i %% 10 = 0 THEN 'annual' ELSE 'monthly' END,
    CASE WHEN k = %(s)s AND c.i %% 4 = 0 THEN date '2026-10-01' + (c.i %% 27)
         WHEN k = 2 AND c.i %% 10 = 0 THEN date '2025-10-01' + (c.i %% 28) ELSE date '2026-03-01' END,
    NULL, true, NULL, '', '2026-08-01'::timestamptz + k * interval '1 minute', NULL
FROM bench_c c JOIN marketplace_order o ON o.customer_id = c.id CROSS JOIN generate_series(1, %(s)s) k""",
    ),
    (
        "cancellations",
        """
WITH cancelled AS (
    UPDATE marketplace_subscription s SET status = 'cancelled' FROM bench_c c
    WHERE s.customer_id = c.id AND c.i %% 20 = 0 AND s.created_at = '2026-08-01'::timestamptz + interval '1 minute'
    RETURNING s.id, c.i)
INSERT INTO marketplace_statuschange (id, reseller_id, subscription_id, before, after, note, actor_label, created_at)
SELECT gen_random_uuid(), %(r)s, id, 'active', 'cancelled', '', 'bench',
    '2026-10-01 12:00+00'::timestamptz + (i %% 28) * interval '1 day' FROM cancelled""",
    ),
    (
        "license changes",
        """
INSERT INTO marketplace_licensecharge (id, reseller_id, subscription_id, kind, quantity_before, quantity_after,
    effective_on, days_charged, period_days, currency, unit_price, amount, billed, created_at)
SELECT gen_random_uuid(), %(r)s, s.id, 'proration', s.quantity, s.quantity + 2, date '2026-10-15', 17, 31, 'USD',
    s.unit_price, 0, false, '2026-10-15 09:00+00'
FROM marketplace_subscription s JOIN bench_c c ON c.id = s.customer_id
WHERE c.i %% 8 = 3 AND s.billing_frequency = 'monthly' AND s.status = 'active'
    AND s.start_date < '2026-10-01'""",
    ),
    (
        "tax rates",
        """
INSERT INTO billing_taxrate (id, reseller_id, name, rate, country, region, postal_prefix, valid_from,
    valid_until, created_at)
VALUES (gen_random_uuid(), %(r)s, 'State', 6.25, 'US', 'CA', '', '2020-01-01', NULL, now()),
       (gen_random_uuid(), %(r)s, 'County', 1.5, 'US', 'CA', '', '2020-01-01', NULL, now())""",
    ),
    (
        "tax profiles",
        """
INSERT INTO billing_taxprofile (id, reseller_id, customer_id, enabled, tax_id, taxable_categories, exempt,
    exemption_certificate, exemption_expires, updated_at)
SELECT gen_random_uuid(), %(r)s, id, true, 'US-' || i,
    CASE WHEN i %% 3 = 0 THEN '{subscriptions,charges}'::varchar[] ELSE '{subscriptions,usage,charges}' END,
    false, '', NULL, now() FROM bench_c WHERE i %% 2 = 0""",
    ),
    (
        "tax profile rates",
        """
INSERT INTO billing_taxprofile_rates (taxprofile_id, taxrate_id)
SELECT p.id, t.id FROM billing_taxprofile p CROSS JOIN billing_taxrate t
WHERE p.reseller_id = %(r)s AND t.reseller_id = %(r)s""",
    ),
    (
        "charge groups",
        """
INSERT INTO billing_chargegroup (id, reseller_id, customer_id, name, created_at)
SELECT gen_random_uuid(), %(r)s, id, g, now() FROM bench_c CROSS JOIN (VALUES ('Support'), ('Discounts')) v(g)
WHERE (g = 'Support' AND i %% 4 = 0) OR (g = 'Discounts' AND i %% 10 = 0)""",
    ),
    (
        "charge items",
        """
INSERT INTO billing_chargeitem (id, reseller_id, customer_id, group_id, name, kind, method, rate, amount, tiers,
    basis, min_amount, max_amount, currency, recurrence, scope_type, scope_key, valid_from, valid_until,
    created_at, cloud_account_id, subscription_id)
SELECT gen_random_uuid(), %(r)s, g.customer_id, g.id,
    CASE g.name WHEN 'Support' THEN 'Premium support' ELSE 'Volume discount' END,
    CASE g.name WHEN 'Support' THEN 'charge' ELSE 'discount' END, 'percentage',
    CASE g.name WHEN 'Support' THEN 7.5 ELSE 10 END, NULL, '[]', 'price',
    CASE g.name WHEN 'Support' THEN 25 END, NULL, 'USD', 'monthly', 'customer', 'customer', '2026-01-01', NULL,
    now(), NULL, NULL
FROM billing_chargegroup g WHERE g.reseller_id = %(r)s""",
    ),
    (
        "credits",
        """
INSERT INTO billing_credit (id, reseller_id, customer_id, amount, currency, reason, issued_on, expires_on,
    issued_by_label, voided_at, voided_by_label, void_reason, created_at)
SELECT gen_random_uuid(), %(r)s, id, 50, 'USD', 'Goodwill', '2026-09-01', NULL, 'bench', NULL, '', '', now()
FROM bench_c WHERE i %% 7 = 0""",
    ),
    # Usage rows: n per customer over the month's days and SERVICES; the outer series is the row number,
    # so each customer's rows are spread over the whole table, as daily imports leave them.
    (
        "usage rows (the long step)",
        """
INSERT INTO billing_usagerow (reseller_id, usage_import_id, line_no, fingerprint, customer_id, cloud_account_id,
    provider, billing_account_id, sub_account_id, usage_date, charge_category, service_name, service_category,
    sku, region, resource_id, quantity, cost, effective_cost, list_cost, billing_currency, price,
    price_currency, priced_note, rolled_up)
SELECT %(r)s, %(imp)s, n * %(c)s + a.i, md5(a.id::text || n)::uuid, a.customer_id, a.id, 'aws', '',
    a.account_id, date '2026-10-01' + (n %% 31), 'Usage', (%(services)s::text[])[1 + (n / 31) %% %(ns)s], '',
    '', 'us-east-1', 'r-' || n, 1 + n %% 5, p * 0.8, p * 0.8, p, 'USD', p, 'USD', '', true
FROM generate_series(0, %(per)s - 1) n
CROSS JOIN (SELECT ca.id, ca.customer_id, ca.account_id, c.i FROM customers_cloudaccount ca
            JOIN bench_c c ON c.id = ca.customer_id) a
CROSS JOIN LATERAL (SELECT ((a.i * 37 + n * 11) %% 2000) / 100.0 AS p) price""",
    ),
    (
        "daily rollups",
        """
INSERT INTO billing_usagedaily (id, reseller_id, customer_id, cloud_account_id, day, provider, service_name,
    charge_category, currency, cost, price, quantity, row_count)
SELECT gen_random_uuid(), reseller_id, customer_id, cloud_account_id, usage_date, provider, service_name,
    charge_category, price_currency, sum(cost), sum(price), sum(quantity), count(*)
FROM billing_usagerow WHERE reseller_id = %(r)s
GROUP BY reseller_id, customer_id, cloud_account_id, usage_date, provider, service_name, charge_category,
    price_currency""",
    ),
]


def seed(out, reseller_id, import_id, plans, *, customers, usage_rows, subs_per_customer, month):
    """Write the benchmark rows of one reseller in a few INSERT … SELECT statements (one transaction)."""
    from django.db import transaction

    params = {"r": reseller_id, "imp": import_id, "c": customers, "s": subs_per_customer, "plans": plans,
              "per": max(usage_rows // customers, 1), "services": SERVICES, "ns": len(SERVICES)}  # fmt: skip
    with transaction.atomic(), connection.cursor() as cursor:
        for label, sql in SEED_SQL:
            started = time.monotonic()
            cursor.execute(sql, params)
            out.write(f"  {label}: {cursor.rowcount:,} rows, {time.monotonic() - started:.1f}s")
    with connection.cursor() as cursor:
        for table in (
            "billing_usagerow",
            "billing_usagedaily",
            "marketplace_subscription",
            "customers_customer",
        ):
            cursor.execute(f"VACUUM ANALYZE {table}")
