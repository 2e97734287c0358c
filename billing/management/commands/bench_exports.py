"""python manage.py bench_exports: the billing export's throughput (CSV, Parquet) against a raw
`COPY (SELECT …) TO STDOUT` of the same rows into /dev/null, and its peak memory at two sizes
(docs/benchmarks.md, "Billing exports").

Usage rows are generated in SQL (INSERT … SELECT generate_series) for a reseller of its own (slug
bench-exports, deleted and re-made with --reseed): --small rows in September 2026 and --rows rows in
October 2026. Every measurement runs in a child process of its own, so its peak memory (ru_maxrss,
from os.wait4) is the export's alone; the child times the work itself (not Django's start-up).
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
from datetime import date

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from accounts.models import Reseller
from billing.models_usage import UsageImport, UsageRow
from customer360.rls import as_owner
from customer360.tenancy import tenant_scope
from customers.models import CloudAccount, Customer

SLUG = "bench-exports"
MONTHS = {"small": date(2026, 9, 1), "large": date(2026, 10, 1)}
CUSTOMERS = 40
CHILD = """
import json, os, resource, sys, time, django
django.setup()
from datetime import date
from django.core.files.storage import FileSystemStorage
from django.db import connection
from accounts.models import Reseller
from billing.exports.columns import Selection, select_sql
from billing.exports.runner import Spec, write_export
from billing.exports.writer import PLANNER, copy_statement
from customer360.rls import apply_scope
from customer360.tenancy import tenant_scope
kind, month, out = sys.argv[1], date.fromisoformat(sys.argv[2]), sys.argv[3]
reseller = Reseller.objects.get(slug="bench-exports")
end = date(month.year + month.month // 12, month.month % 12 + 1, 1).toordinal() - 1
spec = Spec(reseller.pk, month, date.fromordinal(end), format=kind if kind in ("csv", "parquet") else "csv")
with tenant_scope(reseller):
    apply_scope(connection)  # the raw cursors below bypass the backend that sets it
    started = time.monotonic()
    if kind == "copy-psql":  # libpq's own client: no Python at all between the server and /dev/null
        import psycopg, shutil, subprocess
        sql, params = select_sql(Selection(reseller.pk, spec.start, spec.end), "resale", neutralize=True)
        text = psycopg.ClientCursor(connection.connection).mogrify(copy_statement(sql), params)
        db = connection.settings_dict
        env = {**os.environ, "PGPASSWORD": db["PASSWORD"] or ""}
        args = [shutil.which("psql"), "-h", db["HOST"] or "", "-p", str(db["PORT"] or 5432), "-U", db["USER"] or "",
                "-d", db["NAME"], "-v", "ON_ERROR_STOP=1", "-c", "SET enable_nestloop = off",
                "-c", f"SET c360.reseller_id = '{reseller.pk}'", "-c", text]
        started = time.monotonic()
        with open(os.devnull, "wb") as sink:
            subprocess.run(args, stdout=sink, check=True, env=env)
        rows, size = -1, 0
    elif kind in ("copy", "copy-table"):
        if kind == "copy":
            sql, params = select_sql(Selection(reseller.pk, spec.start, spec.end), "resale", neutralize=True)
        else:
            sql = "SELECT * FROM billing_usagerow AS u WHERE u.reseller_id = %(r)s AND u.customer_id IS NOT NULL AND u.usage_date BETWEEN %(s)s AND %(e)s"
            params = {"r": reseller.pk, "s": spec.start, "e": spec.end}
        size = 0
        with open(os.devnull, "wb") as sink, connection.connection.cursor() as cur:
            cur.execute(PLANNER)  # as the export runs it
            with cur.copy(copy_statement(sql), params) as copy:
                for block in copy:
                    sink.write(block)
                    size += len(block)
            rows = cur.rowcount
    else:
        os.makedirs(out, exist_ok=True)
        result = write_export(spec, FileSystemStorage(location=out, allow_overwrite=True), "bench", out)
        rows, size = result.rows, result.bytes
    seconds = time.monotonic() - started
sys.stdout.write(json.dumps({"rows": rows, "bytes": size, "seconds": seconds}) + "\\n")
"""


class Command(BaseCommand):
    help = "Benchmark billing exports (CSV, Parquet) against a raw COPY; peak memory at two sizes."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=2_000_000)
        parser.add_argument("--small", type=int, default=100_000)
        parser.add_argument("--reseed", action="store_true", help="delete and regenerate the bench rows")
        parser.add_argument("--repeat", type=int, default=2, help="runs of each measurement (best is kept)")

    def handle(self, *args, **opts):
        reseller = Reseller.objects.filter(slug=SLUG).first()
        if reseller is None or opts["reseed"]:
            with as_owner():  # raw SQL across the tables, past row-level security
                reseller = self.seed(reseller, opts["small"], opts["rows"])
        results = {}
        with tempfile.TemporaryDirectory(prefix="bench-exports-") as work:
            for size, month in MONTHS.items():
                for kind in ("copy-psql", "copy", "copy-table", "csv", "parquet"):
                    if kind == "copy-psql" and not shutil.which("psql"):
                        continue
                    runs = [self.child(kind, month, os.path.join(work, f"{kind}-{size}-{i}"))
                            for i in range(opts["repeat"])]  # fmt: skip
                    best = min(runs, key=lambda r: r["seconds"])
                    best["peak_mb"] = max(r["peak_mb"] for r in runs)
                    results[(kind, size)] = best
        self.report(results)

    def seed(self, reseller, small: int, large: int):
        self.stdout.write(f"Seeding {small:,} + {large:,} usage rows for reseller {SLUG} ...")
        if reseller is not None:
            with tenant_scope(reseller), connection.cursor() as cursor:
                for model in (UsageRow, UsageImport, CloudAccount, Customer):
                    cursor.execute(
                        f"DELETE FROM {model._meta.db_table} WHERE reseller_id = %s", [reseller.pk]
                    )
            reseller.delete()
        reseller = Reseller.objects.create(name="Bench Exports", slug=SLUG)
        with tenant_scope(reseller), transaction.atomic():
            customers = [Customer.objects.create(name=f"Bench customer {i:03d}", currency="USD")
                         for i in range(CUSTOMERS)]  # fmt: skip
            accounts = [CloudAccount.objects.create(customer=c, provider="aws", account_id=f"{700000000000 + i}")
                        for i, c in enumerate(customers)]  # fmt: skip
            record = UsageImport.objects.create(original_name="bench.csv", file="bench.csv", status="done")
            for month, rows, offset in ((MONTHS["small"], small, 0), (MONTHS["large"], large, small)):
                self.insert_rows(reseller, record, accounts, month, rows, offset)
        with connection.cursor() as cursor:
            cursor.execute(f"VACUUM ANALYZE {UsageRow._meta.db_table}")
        return reseller

    def insert_rows(self, reseller, record, accounts, month: date, rows: int, offset: int):
        """`rows` usage rows in SQL: spread over the accounts and the month's days, with realistic text
        (a few charge categories and services, ARN-like resource ids) and costs."""
        with connection.cursor() as cursor:
            cursor.execute(
                f"""INSERT INTO {UsageRow._meta.db_table} (reseller_id, usage_import_id, line_no, fingerprint,
                        customer_id, cloud_account_id, provider, billing_account_id, sub_account_id, usage_date,
                        charge_category, service_name, service_category, sku, region, resource_id, quantity,
                        cost, effective_cost, list_cost, billing_currency, price, price_currency, priced_note,
                        rolled_up)
                    SELECT %(reseller)s, %(import)s, g + %(offset)s, md5('bench' || (g + %(offset)s))::uuid,
                           a.customer_id, a.id, 'aws', '100000000001', a.account_id,
                           %(month)s::date + (g %% 28), (ARRAY['Usage','Usage','Usage','Tax','Credit'])[1 + g %% 5],
                           (ARRAY['AmazonEC2','AmazonS3','AmazonRDS','AWSLambda','AmazonCloudFront'])[1 + g %% 5],
                           (ARRAY['Compute','Storage','Databases','Compute','Networking'])[1 + g %% 5],
                           'SKU-' || md5(g::text), 'us-east-' || (1 + g %% 2),
                           'arn:aws:ec2:us-east-1:' || a.account_id || ':instance/i-' || substr(md5(g::text), 1, 17),
                           (g %% 500) / 7.0, c.cost, c.cost, c.cost * 1.05, 'USD',
                           round(c.cost * 1.125, 2), 'USD', '', true
                    FROM generate_series(1, %(rows)s) AS g
                    JOIN (SELECT row_number() OVER (ORDER BY id) - 1 AS n, id, customer_id, account_id
                          FROM {CloudAccount._meta.db_table} WHERE reseller_id = %(reseller)s) AS a
                      ON a.n = g %% %(accounts)s
                    CROSS JOIN LATERAL (SELECT round((random() * 40)::numeric, 6) AS cost) AS c""",
                {"reseller": reseller.pk, "import": record.pk, "offset": offset, "month": month, "rows": rows,
                 "accounts": len(accounts)},
            )  # fmt: skip

    def child(self, kind: str, month: date, out: str) -> dict:
        proc = subprocess.Popen(
            [sys.executable, "-c", CHILD, kind, month.isoformat(), out], stdout=subprocess.PIPE,
            env={**os.environ, "DJANGO_SETTINGS_MODULE": "customer360.settings"},
        )  # fmt: skip
        _, status, usage = os.wait4(proc.pid, 0)
        output = proc.stdout.read().decode()
        proc.stdout.close()
        if status != 0:
            raise CommandError(f"the {kind} measurement failed (status {status}):\n{output}")
        result = json.loads(output.strip().splitlines()[-1])
        result["peak_mb"] = usage.ru_maxrss / 1024
        return result

    def report(self, r: dict):
        w = self.stdout.write
        large, small = r[("copy", "large")]["rows"], r[("copy", "small")]["rows"]
        w(
            f"\nBilling exports: {large:,} rows (and {small:,}), best of the runs; peak memory of the child process"
        )
        w(f"{'measurement':<46}{'rows':>11}{'seconds':>9}{'rows/s':>11}{'MB/s':>8}{'peak MB':>9}")
        labels = {"copy-psql": "raw COPY, psql (export's SELECT) > /dev/null",
                  "copy": "raw COPY, psycopg (export's SELECT) > /dev/null",
                  "copy-table": "raw COPY, psycopg (usage table) > /dev/null",
                  "csv": "CSV export (file, sha256, rename)", "parquet": "Parquet export (Arrow, snappy)"}  # fmt: skip
        for size in ("small", "large"):
            for kind, label in labels.items():
                if (kind, size) not in r:
                    continue
                m = r[(kind, size)]
                if m["rows"] < 0:  # psql does not count: the same rows as the psycopg COPY
                    m["rows"], m["bytes"] = r[("copy", size)]["rows"], r[("copy", size)]["bytes"]
                rate = m["rows"] / m["seconds"]
                w(f"{label:<46}{m['rows']:>11,}{m['seconds']:>9.2f}{rate:>11,.0f}"
                  f"{m['bytes'] / m['seconds'] / 1e6:>8.1f}{m['peak_mb']:>9.1f}")  # fmt: skip
        for base in ("copy-psql", "copy"):
            if (base, "large") not in r:
                continue
            raw = r[(base, "large")]["rows"] / r[(base, "large")]["seconds"]
            for kind, goal in (("csv", 0.70), ("parquet", 0.30)):
                m = r[(kind, "large")]
                ratio = m["rows"] / m["seconds"] / raw
                verdict = "meets" if ratio >= goal else "MISSES"
                w(
                    f"{kind}: {ratio:.0%} of the {labels[base].split(' (')[0]} rate ({verdict} the {goal:.0%} goal)"
                )
        for kind in ("csv", "parquet"):
            a, b = r[(kind, "small")]["peak_mb"], r[(kind, "large")]["peak_mb"]
            growth = b / a - 1
            verdict = "flat" if abs(growth) <= 0.20 else "NOT flat"
            w(f"{kind} peak memory: {a:.1f} MB at {small:,} rows, {b:.1f} MB at {large:,} rows "
              f"({growth:+.0%}: {verdict} within 20%)")  # fmt: skip
