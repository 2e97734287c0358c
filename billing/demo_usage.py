"""Demo consumption: a few months of FOCUS usage per reseller, made by focus-data-toolkit and imported
through the real import (billing.ingest), so the demo's KPI cards and reports show real-looking numbers.

The generator writes a fixed billing month (May 2026) and a handful of fixed accounts. For each reseller,
provider and month this rewrites a generated file: its dates moved into the month (rows after today
dropped), its accounts mapped onto existing demo cloud accounts of the reseller (so the usage lands on
demo customers), except about 2 % of the rows, left on the generator's own account, which shows the
"unmatched" flow. Called by seed_demo after the catalog (so providers are authorized and priced):

    from billing.demo_usage import seed_usage
    seed_usage(opts["seed"], log=self.stdout.write)
"""

import calendar
import csv
import hashlib
import subprocess
import sys
import tempfile
from datetime import date
from pathlib import Path

from django.core.files import File
from django.utils import timezone

from accounts.models import Reseller
from customer360.tenancy import tenant_scope
from customers.models import CloudAccount

from .ingest import run_import
from .services_usage import do_create_import

PROVIDERS = ("aws", "azure", "gcp")
DATE_COLUMNS = ("ChargePeriodStart", "ChargePeriodEnd", "BillingPeriodStart", "BillingPeriodEnd")


def _toolkit() -> str:
    exe = Path(sys.executable).with_name("focus-toolkit")
    if not exe.exists():
        raise RuntimeError("seed_usage needs focus-data-toolkit: pip install -e '.[test]'")
    return str(exe)


def _generate(out: Path, provider: str, rows: int, seed: int) -> Path:
    subprocess.run(
        [_toolkit(), "generate", "--provider", provider, "--focus-version", "1.3",
         "--rows", str(rows), "--seed", str(seed), "--out", str(out)],
        check=True, capture_output=True,
    )  # fmt: skip
    return next(out.glob("focus_*_cost_and_usage_*.csv"))


def _shift(value: str, month: date) -> str | None:
    """'2026-05-17T03:00:00Z' moved into `month` (same day, clamped; the day after the month for ends)."""
    if len(value) < 10:
        return value
    mon, day = int(value[5:7]), int(value[8:10])
    offset = 1 if mon == 6 else 0  # period ends on the 1st of the next month
    y, m = divmod(month.year * 12 + month.month - 1 + offset, 12)
    m += 1
    day = min(day, calendar.monthrange(y, m)[1]) if offset == 0 else day
    return f"{y:04d}-{m:02d}-{day:02d}{value[10:]}"


def _pick(key: str, accounts: list) -> str:
    digest = int(hashlib.md5(key.encode()).hexdigest()[:8], 16)
    return "" if digest % 50 == 0 else accounts[digest % len(accounts)]  # "" : left unmatched


def rewrite(source: Path, target: Path, month: date, accounts: list, today: date) -> int:
    """Write `source` into `target` moved into `month`, with accounts mapped; returns the rows kept."""
    kept = 0
    with (
        open(source, newline="", encoding="utf-8") as src,
        open(target, "w", newline="", encoding="utf-8") as dst,
    ):
        reader = csv.DictReader(src)
        writer = csv.DictWriter(dst, fieldnames=reader.fieldnames, lineterminator="\n")
        writer.writeheader()
        for row in reader:
            for column in DATE_COLUMNS:
                if row.get(column):
                    row[column] = _shift(row[column], month)
            if date.fromisoformat(row["ChargePeriodStart"][:10]) > today:
                continue
            mapped = _pick(f"{row['SubAccountId']}/{row.get('ResourceId', '')}", accounts)
            if mapped:
                row["SubAccountId"] = mapped
            writer.writerow(row)
            kept += 1
    return kept


def seed_usage(seed: int = 42, *, months: int = 3, rows: int = 1500, accounts: int = 12, log=None) -> dict:
    """Import `months` months (this one included) of usage per reseller and provider; returns totals."""
    log = log or (lambda msg: None)
    today = timezone.localdate()
    totals = {"imports": 0, "rows": 0, "matched": 0, "unmatched": 0}
    with tempfile.TemporaryDirectory(prefix="c360-usage-") as tmp:
        tmp = Path(tmp)
        for r, reseller in enumerate(Reseller.objects.order_by("created_at", "slug")):
            with tenant_scope(reseller):
                for p, provider in enumerate(PROVIDERS):
                    numbers = list(
                        CloudAccount.objects.filter(provider=provider)
                        .exclude(account_id="")
                        .order_by("account_id")
                        .values_list("account_id", flat=True)[:accounts]
                    )
                    if not numbers:
                        continue
                    for back in range(months - 1, -1, -1):
                        y, m = divmod(today.year * 12 + today.month - 1 - back, 12)
                        month = date(y, m + 1, 1)
                        source = _generate(
                            tmp / f"g{r}-{p}-{back}", provider, rows, seed * 1000 + r * 100 + back
                        )
                        target = tmp / f"{reseller.slug}-{provider}-{month:%Y-%m}.csv"
                        rewrite(source, target, month, numbers, today)
                        with open(target, "rb") as f:
                            record = do_create_import(None, file=File(f), name=target.name, queue=False)
                        record = run_import(record)
                        if record.error:
                            raise RuntimeError(f"demo usage import {target.name} failed: {record.error}")
                        totals["imports"] += 1
                        totals["rows"] += record.rows_new
                        totals["matched"] += record.rows_matched
                        totals["unmatched"] += record.rows_unmatched
                        log(
                            f"  usage {target.name}: {record.rows_new:,} rows, {record.rows_unmatched:,} unmatched"
                        )
    return totals
