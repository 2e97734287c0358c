"""python manage.py bench_reports: server time of the reseller dashboard and of each customer report with
10,000 customers and 5,000,000 usage rows rolled up (docs/benchmarks.md, "Reports and dashboard").

Data is generated with set-based SQL for a reseller of its own (slug bench-reports) and kept between
runs (--reseed regenerates it); run it on a database of its own. Views run in-process through
django.test.Client signed in as the bench owner; times are p50/p95 of --requests requests each.
"""

import math
import random
import time
import uuid
from datetime import timedelta
from decimal import Decimal

from django.core.cache import cache as django_cache
from django.core.management.base import BaseCommand
from django.db import connection, transaction
from django.test import Client, override_settings
from django.urls import reverse
from django.utils import timezone

from accounts.models import Reseller, Role, User
from billing.models import DailySpend, Invoice, UsageDaily, UsageImport, UsageRow
from customer360.rls import as_owner
from customer360.tenancy import tenant_scope
from customers.models import CloudAccount, Customer, CustomFieldDefinition, CustomFieldValue
from marketplace.models import Order, Plan, Product, Provider, Subscription
from reports.models import SpendMonth, SpendMonthState
from reports.registry import REPORTS
from reports.rollup import rebuild

SLUG = "bench-reports"
REGIONS = ["EMEA", "AMER", "APAC"]
SERVICES = ["Amazon EC2", "Amazon S3", "Amazon RDS", "AWS Lambda", "Amazon CloudFront", "Amazon EBS"]
GOALS = {"dashboard": 300.0, "report": 200.0}


def pct(values, p):
    values = sorted(values)
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)] if values else float("nan")


class Command(BaseCommand):
    help = "Measure the dashboard and the customer reports at 10,000 customers and 5,000,000 usage rows."

    def add_arguments(self, parser):
        parser.add_argument("--customers", type=int, default=10_000)
        parser.add_argument("--rows", type=int, default=5_000_000)
        parser.add_argument("--requests", type=int, default=30)
        parser.add_argument("--reseed", action="store_true", help="delete and regenerate the bench data")

    def handle(self, *args, **opts):
        reseller = Reseller.objects.filter(slug=SLUG).first()
        # Seeding writes raw SQL across resellers' tables: as the tables' owner, past row-level security.
        with as_owner():
            if reseller and opts["reseed"]:
                self.wipe(reseller)
                reseller = None
            if reseller is None:
                reseller = self.seed(opts["customers"], opts["rows"])
        with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
            self.measure(reseller, opts["requests"])

    # --- data ----------------------------------------------------------------------------------------

    def wipe(self, reseller):
        self.stdout.write("Deleting the previous bench data...")
        tables = [UsageRow, UsageDaily, DailySpend, Invoice, Subscription, Order, CustomFieldValue,
                  CustomFieldDefinition, CloudAccount, UsageImport]  # fmt: skip
        with connection.cursor() as cursor:
            # The bench database only: skip the triggers that guard finalized invoices against deletion.
            cursor.execute("SET session_replication_role = replica")
            for model in tables:
                cursor.execute(f"DELETE FROM {model._meta.db_table} WHERE reseller_id = %s", [reseller.pk])
        with tenant_scope(reseller):
            from customers.models import ActivityLog

            ActivityLog.objects.all().delete()
        with connection.cursor() as cursor:
            cursor.execute(f"DELETE FROM {Customer._meta.db_table} WHERE reseller_id = %s", [reseller.pk])
            cursor.execute("SET session_replication_role = DEFAULT")
        User.objects.filter(reseller=reseller).delete()
        reseller.delete()

    @transaction.atomic
    def seed(self, n_customers, n_rows):
        started = time.perf_counter()
        reseller = Reseller.objects.create(name="Bench Reports", slug=SLUG)
        User.objects.create_user(email="owner@bench-reports.example", password="bench-only", reseller=reseller,
                                 role=Role.OWNER)  # fmt: skip
        today = timezone.localdate()
        with tenant_scope(reseller):
            customers = Customer.objects.bulk_create([
                Customer(reseller=reseller, name=f"Bench customer {i:05d}", currency="USD",
                         providers=["aws"], cloud_account_count=1)
                for i in range(n_customers)
            ])  # fmt: skip
            accounts = CloudAccount.objects.bulk_create([
                CloudAccount(reseller=reseller, customer=c, provider="aws", account_id=f"{500000000000 + i:012d}",
                             customer_name=c.name)
                for i, c in enumerate(customers)
            ])  # fmt: skip
            region = CustomFieldDefinition.objects.create(
                reseller=reseller, label="Region", key="region", type="choice", choices=REGIONS
            )
            CustomFieldValue.objects.bulk_create([
                CustomFieldValue(reseller=reseller, customer=c, definition=region, type="choice",
                                 value_text=REGIONS[i % 3])
                for i, c in enumerate(customers)
            ])  # fmt: skip
            self.subscriptions_and_invoices(reseller, customers, today)
            imp = UsageImport.objects.create(reseller=reseller, original_name="bench.csv", file="bench.csv",
                                             status="done", finished_at=timezone.now())  # fmt: skip
        self.stdout.write(
            f"Customers, accounts, subscriptions, invoices: {time.perf_counter() - started:.1f} s"
        )
        self.usage(reseller, imp, customers, accounts, n_rows, today)
        self.stdout.write(f"Seeded in {time.perf_counter() - started:.1f} s")
        return reseller

    def subscriptions_and_invoices(self, reseller, customers, today):
        provider, _ = Provider.objects.get_or_create(
            code="m365", defaults={"name": "Microsoft 365", "kind": "licenses"}
        )
        product, _ = Product.objects.get_or_create(provider=provider, name="Bench Suite",
                                                   defaults={"category": "Productivity", "type": "license"})  # fmt: skip
        plan, _ = Plan.objects.get_or_create(sku="BENCH-SUITE", defaults={
            "product": product, "name": "Bench Suite", "unit_cost": Decimal("8"), "list_price": Decimal("12")})  # fmt: skip
        orders = Order.objects.bulk_create([
            Order(reseller=reseller, customer=c, number=f"B-{i:06d}", checkout_token=uuid.uuid4(), currency="USD",
                  total=Decimal("0"))
            for i, c in enumerate(customers)
        ])  # fmt: skip
        Subscription.objects.bulk_create([
            Subscription(reseller=reseller, customer=o.customer, order=o, plan=plan, provider=provider,
                         product_type="license", status="active", quantity=5 + i % 20, currency="USD",
                         unit_price=Decimal("12"), unit_cost=Decimal("8"), term="annual", billing_frequency="monthly",
                         start_date=today - timedelta(days=200), renewal_date=today + timedelta(days=i % 365))
            for i, o in enumerate(orders)
        ])  # fmt: skip
        invoices = []
        for back in range(1, 4):
            month = (today.replace(day=1) - timedelta(days=28 * back)).replace(day=1)
            for i, c in enumerate(customers):
                total = Decimal(100 + i % 900)
                paid = total if (i + back) % 4 else Decimal("0")
                invoices.append(Invoice(
                    reseller=reseller, customer=c, month=month, status="closed" if paid else "open",
                    number=f"INV-{month:%Y%m}-{i:05d}", currency="USD", subtotal=total, total=total,
                    amount_paid=paid, invoice_date=month, due_date=month + timedelta(days=30)))  # fmt: skip
        Invoice.objects.bulk_create(invoices, batch_size=5000)

    def usage(self, reseller, imp, customers, accounts, n_rows, today):
        """n_rows usage rows spread over the customers and the last 365 days, then both rollups, in SQL."""
        started = time.perf_counter()
        n = len(customers)
        per = max(n_rows // n, 1)
        with connection.cursor() as cursor:
            cursor.execute(
                "CREATE TEMP TABLE bench_ids (idx int PRIMARY KEY, customer_id uuid, account_id uuid)"
            )
            cursor.executemany(
                "INSERT INTO bench_ids VALUES (%s, %s, %s)",
                [(i, c.pk, a.pk) for i, (c, a) in enumerate(zip(customers, accounts, strict=True))],
            )
            cursor.execute(
                f"""INSERT INTO {UsageRow._meta.db_table} (reseller_id, usage_import_id, line_no, fingerprint,
                        customer_id, cloud_account_id, provider, billing_account_id, sub_account_id, usage_date,
                        charge_category, service_name, service_category, sku, region, resource_id, quantity, cost,
                        effective_cost, list_cost, billing_currency, price, price_currency, priced_note, rolled_up)
                    SELECT %(reseller)s, %(import)s, g, md5(%(reseller)s::text || g)::uuid, b.customer_id,
                           b.account_id, 'aws', '', '', %(today)s::date - (k * 365 / %(per)s)::int,
                           'Usage', (%(services)s::text[])[1 + k %% 6], '', '', 'us-east-1',
                           'arn:aws:bench:' || b.idx || ':' || (k %% 25), 1, c.cost, c.cost, c.cost, 'USD',
                           round(c.cost * 1.2, 4), 'USD', '', true
                    FROM generate_series(0::bigint, %(rows)s - 1) AS g
                    CROSS JOIN LATERAL (SELECT g %% %(n)s AS idx, g / %(n)s AS k) AS x
                    JOIN bench_ids AS b ON b.idx = x.idx
                    CROSS JOIN LATERAL (SELECT (0.05 + ((g * 7919) %% 1000) / 100.0)::numeric AS cost) AS c""",
                {"reseller": reseller.pk, "import": imp.pk, "today": today, "per": per, "services": SERVICES,
                 "rows": n_rows, "n": n},
            )  # fmt: skip
            self.stdout.write(f"{n_rows:,} usage rows: {time.perf_counter() - started:.1f} s")
            cursor.execute(
                f"""INSERT INTO {UsageDaily._meta.db_table} (id, reseller_id, customer_id, cloud_account_id, day,
                        provider, service_name, charge_category, currency, cost, price, quantity, row_count)
                    SELECT gen_random_uuid(), reseller_id, customer_id, cloud_account_id, usage_date, provider,
                           service_name, charge_category, price_currency, sum(cost), sum(price), sum(quantity),
                           count(*)
                    FROM {UsageRow._meta.db_table} WHERE usage_import_id = %s
                    GROUP BY reseller_id, customer_id, cloud_account_id, usage_date, provider, service_name,
                             charge_category, price_currency""",
                [imp.pk],
            )  # fmt: skip
            daily = cursor.rowcount
            cursor.execute(
                f"""INSERT INTO {DailySpend._meta.db_table} (id, reseller_id, customer_id, day, provider, currency,
                        cost, price, is_saas)
                    SELECT gen_random_uuid(), reseller_id, customer_id, day, provider, currency, sum(cost),
                           sum(price), false
                    FROM {UsageDaily._meta.db_table} WHERE reseller_id = %s
                    GROUP BY reseller_id, customer_id, day, provider, currency""",
                [reseller.pk],
            )  # fmt: skip
            spend = cursor.rowcount
            for model in (UsageRow, UsageDaily, DailySpend, Invoice, Subscription, Customer):
                cursor.execute(f"ANALYZE {model._meta.db_table}")
        self.stdout.write(
            f"Rollups: {daily:,} UsageDaily rows, {spend:,} DailySpend rows; usage total "
            f"{time.perf_counter() - started:.1f} s"
        )

    # --- timing --------------------------------------------------------------------------------------

    def timed(self, client, path, params, n, *, cold=False):
        times = []
        client.get(path(0) if callable(path) else path, params(0) if callable(params) else params)  # warm-up
        for i in range(n):
            if cold:
                django_cache.clear()
            p = params(i) if callable(params) else params
            started = time.perf_counter()
            response = client.get(path(i) if callable(path) else path, p)
            times.append((time.perf_counter() - started) * 1000)
            assert response.status_code == 200, (path, response.status_code)
        return times

    def measure(self, reseller, n):
        client = Client()
        client.force_login(User.objects.get(reseller=reseller, role=Role.OWNER))
        with tenant_scope(reseller):
            ids = list(Customer.objects.order_by("name").values_list("pk", flat=True))
        rnd = random.Random(7)
        picks = [rnd.choice(ids) for _ in range(n)]
        client.get(reverse("dashboard"))  # warm-up: connection, templates
        results = []
        with tenant_scope(reseller):
            SpendMonthState.objects.all().delete()  # measure the dashboard before the monthly rollup too
        results.append(("Dashboard, no filter, before the reseller's first monthly rollup (daily rollup, cache cold)",
                        "first", self.timed(client, reverse("dashboard"), {}, max(n // 3, 3), cold=True)))  # fmt: skip
        with tenant_scope(reseller):
            seconds = rebuild()
        self.stdout.write(f"Monthly spend rollup (reports.SpendMonth) rebuilt in {seconds:.1f} s")
        # What autovacuum does within a minute of the seed's and the rebuild's inserts: statistics for
        # every seeded table (the planner joins the custom field filter by them) and the visibility map
        # that lets the dashboard read the covering index without the table. Only the owner may.
        with as_owner(), connection.cursor() as cursor:
            cursor.execute("ANALYZE")
            cursor.execute(f"VACUUM ANALYZE {SpendMonth._meta.db_table}")
            # and of the usage rows (vacuumed after each 1% of new rows: billing 0015), whose covering
            # customer-day index "Top resources" reads without the table.
            cursor.execute(f"VACUUM {UsageRow._meta.db_table}")
        # The seconds between an import's commit and the rebuild it queues: the previous build is shown.
        with tenant_scope(reseller):
            version = SpendMonthState.objects.get().data_version
            SpendMonthState.objects.update(data_version="an import has committed since")
        results.append(("Dashboard, no filter, after an import while the rollup is rebuilt (previous build, cache cold)",
                        "dashboard", self.timed(client, reverse("dashboard"), {}, n, cold=True)))  # fmt: skip
        with tenant_scope(reseller):
            SpendMonthState.objects.update(data_version=version)
        for label, params, cold in [
            ("Dashboard, no filter (cache cold: every request recomputes)", {}, True),
            ("Dashboard, no filter (spend figures cached until the data changes)", {}, False),
            ("Dashboard, Region = EMEA (cache cold)", {"cf_region": "EMEA"}, True),
            (
                "Dashboard, Region = EMEA + provider AWS (cache cold)",
                {"cf_region": "EMEA", "provider": "aws"},
                True,
            ),
        ]:
            results.append(
                (label, "dashboard", self.timed(client, reverse("dashboard"), params, n, cold=cold))
            )
        for slug in REPORTS:
            path = lambda i, slug=slug: reverse(f"reports:customer-{slug}", args=[picks[i]])  # noqa: E731
            results.append((f"Customer report: {REPORTS[slug].title} (12 months)", "report",
                            self.timed(client, path, {}, n)))  # fmt: skip
        csv_path = lambda i: reverse("reports:customer-spend-by-service-xlsx", args=[picks[i]])  # noqa: E731
        results.append(
            ("Download XLSX: spend by provider and service", "report", self.timed(client, csv_path, {}, n))
        )
        with tenant_scope(reseller):
            counts = (UsageRow.objects.count(), UsageDaily.objects.count(), DailySpend.objects.count(),
                      Customer.objects.count())  # fmt: skip
        self.stdout.write(
            f"\nData: {counts[3]:,} customers, {counts[0]:,} usage rows, {counts[1]:,} UsageDaily rows, "
            f"{counts[2]:,} DailySpend rows; {n} requests each, times in ms (server-side, in-process Client)\n"
        )
        self.stdout.write("| Page | p50 | p95 | max | Goal (p95) |\n|---|---:|---:|---:|---|")
        for label, kind, times in results:
            goal = GOALS.get(kind)
            if goal is None:  # once per reseller, until its first rebuild (seconds after its first import)
                verdict = "none: the reseller's first minutes"
            else:
                verdict = f"< {goal:.0f} " + ("ok" if pct(times, 95) < goal else "MISSED")
            self.stdout.write(
                f"| {label} | {pct(times, 50):.1f} | {pct(times, 95):.1f} | {max(times):.1f} | {verdict} |"
            )
