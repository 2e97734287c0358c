"""python manage.py bench_usage: the usage import's throughput against a plain COPY, its peak memory, and
the customer profile with millions of usage rows against one with a thousand (docs/benchmarks.md).

Files come from focus-data-toolkit (generated when not given). Everything is written for a reseller of its
own (slug bench-usage), deleted first; run it on a database of its own.
"""

import json
import subprocess
import sys
import tempfile
import time
from datetime import date
from decimal import Decimal
from pathlib import Path

from django.core.management.base import BaseCommand
from django.db import DatabaseError, connection
from django.test import Client
from django.urls import reverse

from accounts.models import Reseller, Role, User
from billing import focus
from billing.demo_usage import rewrite
from billing.ingest import copy_file, create_staging, read_header
from billing.models import Pricebook, PricebookAssignment, PricebookRule
from billing.models_pricebook import Method, Scope
from billing.models_usage import UsageImport
from customer360.rls import as_owner
from customer360.tenancy import tenant_scope
from customers.models import CloudAccount, Customer
from marketplace.models import Provider
from marketplace.services import do_authorize_provider

SLUG = "bench-usage"
CHILD = """
import json, resource, sys, time, django
django.setup()
from customer360.tenancy import tenant_scope
from accounts.models import Reseller
from billing.services_usage import do_create_import
from billing.ingest import run_import
from django.core.files import File
reseller = Reseller.objects.get(slug=sys.argv[1])
with tenant_scope(reseller), open(sys.argv[2], "rb") as f:
    record = do_create_import(None, file=File(f), name=sys.argv[2].rsplit("/", 1)[-1], queue=False)
    started = time.monotonic()
    record = run_import(record)
    seconds = time.monotonic() - started
# The child reports to the parent on stdout (its own process, so peak memory is the import's alone).
sys.stdout.write(json.dumps({"status": record.status, "error": record.error, "rows": record.rows_read,
                             "new": record.rows_new, "matched": record.rows_matched, "seconds": seconds,
                             "phases": getattr(record, "timings", {}),
                             "peak_kb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss}) + "\\n")
"""


def generate(out: Path, rows: int, seed: int) -> Path:
    exe = str(Path(sys.executable).with_name("focus-toolkit"))
    subprocess.run(
        [exe, "generate", "--provider", "aws", "--focus-version", "1.2", "--rows", str(rows),
         "--seed", str(seed), "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out.glob("focus_*_cost_and_usage_*.csv"))


class Command(BaseCommand):
    help = "Benchmark the FOCUS usage import against a plain COPY (rows/s, ratio, peak memory, profile)."

    def add_arguments(self, parser):
        parser.add_argument("--rows", type=int, default=2_000_000)
        parser.add_argument("--small-rows", type=int, default=100_000)
        parser.add_argument("--file", help="a FOCUS CSV of --rows rows (generated when absent)")
        parser.add_argument("--small-file", help="a FOCUS CSV of --small-rows rows (generated when absent)")
        parser.add_argument("--workdir", help="where generated files go (default: a temporary directory)")
        parser.add_argument(
            "--only", choices=["small", "big"], help="measure one file only (while iterating)"
        )
        parser.add_argument("--no-profile", action="store_true", help="skip the customer profile timing")

    def handle(self, *args, **opts):
        work = Path(opts["workdir"] or tempfile.mkdtemp(prefix="bench-usage-"))
        work.mkdir(parents=True, exist_ok=True)
        big = Path(opts["file"]) if opts["file"] else None
        if opts["only"] == "small" and big is None:
            big = Path("/nonexistent")  # not read
        small = Path(opts["small_file"]) if opts["small_file"] else None
        if small is None:
            self.stdout.write(f"Generating {opts['small_rows']:,} rows ...")
            small = generate(work / "small", opts["small_rows"], 4)
        if big is None:
            self.stdout.write(f"Generating {opts['rows']:,} rows (a few minutes) ...")
            big = generate(work / "big", opts["rows"], 3)
        reseller, customers = self.setup(small, work)
        results = {}
        for label, path in (("small", small), ("big", big)):
            if opts["only"] and opts["only"] != label:
                continue
            self.checkpoint()
            copy_rows, copy_seconds = self.plain_copy(path)
            child = self.import_in_child(reseller, path)
            results[label] = {"copy_rows": copy_rows, "copy_seconds": copy_seconds, **child}
            copy_rate, import_rate = copy_rows / copy_seconds, child["rows"] / child["seconds"]
            self.stdout.write(
                f"{label}: {child['rows']:,} rows; plain COPY {copy_rate:,.0f} rows/s ({copy_seconds:.1f}s); "
                f"full import {import_rate:,.0f} rows/s ({child['seconds']:.1f}s), "
                f"ratio {import_rate / copy_rate:.0%}; peak memory {child['peak_kb'] / 1024:,.0f} MB"
            )
            phases = ", ".join(f"{name} {seconds:.1f}s" for name, seconds in child["phases"].items())
            self.stdout.write(f"{label} phases: {phases}")
        if len(results) == 2:
            ratio = results["big"]["peak_kb"] / results["small"]["peak_kb"]
            self.stdout.write(f"peak memory big/small: {ratio:.2f}x")
        if not opts["no_profile"]:
            self.profile(reseller, customers)

    def setup(self, small: Path, work: Path):
        """The bench reseller (replacing an earlier one), its customers and the generated accounts."""
        old = Reseller.objects.filter(slug=SLUG).first()
        if old is not None:
            # Raw deletes across the reseller's tables: as the tables' owner, past row-level security.
            with as_owner():
                with tenant_scope(old):  # the stored copies of the files (2 GB a run)
                    for record in UsageImport.objects.exclude(file=""):
                        record.file.storage.delete(record.file.name)
                with connection.cursor() as cursor:
                    for table in (
                        "billing_usagerow",
                        "billing_usagedaily",
                        "billing_dailyspend",
                        "billing_usageimport",
                    ):
                        cursor.execute(f"DELETE FROM {table} WHERE reseller_id = %s", [old.pk])
                with tenant_scope(old):
                    Customer.objects.all().delete()
                    PricebookAssignment.objects.all().delete()  # they protect the pricebooks
                old.delete()
                # A server may run without autovacuum: the last run's millions of dead rows would slow
                # this one's every scan and index insert.
                with connection.cursor() as cursor:
                    for table in ("billing_usagerow", "billing_usagedaily", "billing_dailyspend"):
                        cursor.execute(f"VACUUM {table}")
        reseller = Reseller.objects.create(name="Bench Usage", slug=SLUG)
        User.objects.create_user(
            "owner@bench-usage.example", "bench-usage-pw", reseller=reseller, role=Role.OWNER
        )
        with tenant_scope(reseller):
            self.price_aws(reseller)
            big = Customer.objects.create(name="Millions of rows")
            thousand = Customer.objects.create(name="A thousand rows")
            header = read_header(small)
            sub = header.index("SubAccountId")
            with open(small, encoding="utf-8") as f:
                f.readline()
                accounts = {line.split(",")[sub] for _, line in zip(range(20_000), f, strict=False)}
            for number in sorted(accounts):
                CloudAccount.objects.create(customer=big, provider="aws", account_id=number.lower())
            CloudAccount.objects.create(customer=thousand, provider="aws", account_id="999999999999")
        # A thousand rows on the second customer (same data moved onto its account).
        few = work / "thousand.csv"
        head = work / "thousand-src.csv"
        with open(small, encoding="utf-8") as src, open(head, "w", encoding="utf-8") as dst:
            for _, line in zip(range(1001), src, strict=False):
                dst.write(line)
        rewrite(head, few, date(2026, 5, 1), ["999999999999"], date(2099, 1, 1))
        child = self.import_in_child(reseller, few)
        self.stdout.write(f"thousand-row customer: {child['matched']} rows imported")
        return reseller, (big, thousand)

    def checkpoint(self):
        """A CHECKPOINT before the timings, as pgbench does: the set-up's deletes and vacuums of the last
        run's 2 M rows leave ~1 GB of WAL and dirty pages, whose checkpoint would otherwise fall in the
        COPY or the import measured next (one such run took 40.5 s, its insert 30.1 s against 24-25 s)."""
        try:
            with as_owner(), connection.cursor() as cursor:
                cursor.execute("CHECKPOINT")
        except DatabaseError:  # not a superuser (nor pg_checkpoint)
            self.stdout.write("(no CHECKPOINT allowed: the timings may include the set-up's writes)")

    def price_aws(self, reseller):
        """Every row is rated as a reseller's would be: AWS authorized, and a default pricebook (cost plus
        12 %) from before any usage date, so each row's key finds a pricebook, a rule and a rate."""
        aws, _ = Provider.objects.get_or_create(code="aws", defaults={"name": "AWS"})
        do_authorize_provider(None, reseller, aws)
        start = date(2000, 1, 1)
        book = Pricebook.objects.create(
            reseller_id=reseller.pk, provider=aws, kind=Pricebook.Kind.CUSTOM, name="Bench: cost plus 12 %",
            currency="USD", valid_from=start,
        )  # fmt: skip
        PricebookRule.objects.create(
            reseller_id=reseller.pk, pricebook=book, scope_type=Scope.PROVIDER, method=Method.MARKUP,
            value=Decimal("12"), valid_from=start,
        )  # fmt: skip
        PricebookAssignment.objects.create(
            reseller_id=reseller.pk, provider=aws, pricebook=book, valid_from=start
        )

    def plain_copy(self, path: Path):
        name = "bench_plain_copy"
        layout = focus.layout_for(read_header(path))
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
        started = time.monotonic()
        create_staging(name, layout, keep_all=True)  # every column text: the plain table
        rows = copy_file(name, layout, path)
        seconds = time.monotonic() - started
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {name}")
        return rows, seconds

    def import_in_child(self, reseller, path: Path) -> dict:
        out = subprocess.run(
            [sys.executable, "-c", CHILD, reseller.slug, str(path)],
            capture_output=True, text=True, env={**__import__("os").environ},
        )  # fmt: skip
        if out.returncode:
            raise SystemExit(f"import of {path} crashed:\n{out.stderr[-2000:]}")
        result = json.loads(out.stdout.strip().splitlines()[-1])
        if result["status"] != "done":
            raise SystemExit(f"import of {path} failed: {result['error']}")
        return result

    def profile(self, reseller, customers):
        from django.test.utils import setup_test_environment

        setup_test_environment()  # the test client's host, as in tests
        client = Client()
        client.force_login(User.objects.get(email="owner@bench-usage.example"))
        timings = {}
        for customer in customers:
            url = reverse("customers:detail", args=[customer.pk])
            client.get(url)  # warm up
            runs = []
            for _ in range(20):
                started = time.monotonic()
                assert client.get(url).status_code == 200
                runs.append(time.monotonic() - started)
            timings[customer.name] = sorted(runs)[len(runs) // 2]
        big, thousand = (timings[c.name] for c in customers)
        self.stdout.write(
            f"profile median: millions of rows {big * 1000:.1f} ms, a thousand rows {thousand * 1000:.1f} ms "
            f"({big / thousand:.2f}x)"
        )
