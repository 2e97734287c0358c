"""FOCUS files made by focus-data-toolkit (a test dependency), cached per session, and their accounts."""

import csv
import shutil
import subprocess
import sys
from pathlib import Path

from django.core.files import File

from billing.services_usage import do_create_import

TOOLKIT = str(Path(sys.executable).with_name("focus-toolkit"))
PROVIDERS = ("aws", "azure", "gcp")
VERSIONS = ("1.2", "1.3")


def generate(directory: Path, provider: str, version: str, rows: int, seed: int = 7) -> Path:
    """The cost-and-usage CSV of `focus-toolkit generate` (cached in `directory`)."""
    out = directory / f"{provider}-{version}-{rows}-{seed}"
    found = sorted(out.glob("focus_*_cost_and_usage_*.csv"))
    if not found:
        shutil.rmtree(out, ignore_errors=True)
        subprocess.run(
            [TOOLKIT, "generate", "--provider", provider, "--focus-version", version,
             "--rows", str(rows), "--seed", str(seed), "--out", str(out)],
            check=True, capture_output=True,
        )  # fmt: skip
        found = sorted(out.glob("focus_*_cost_and_usage_*.csv"))
    return found[0]


def accounts_of(path: Path) -> set:
    with open(path, newline="", encoding="utf-8") as f:
        return {row["SubAccountId"].lower() for row in csv.DictReader(f)}


def import_file(path: Path, *, provider: str = "", actor=None):
    """Create and run an import of `path` for the reseller in scope (the task's work, synchronously)."""
    from billing.ingest import run_import

    with open(path, "rb") as f:
        record = do_create_import(actor, file=File(f), name=path.name, provider=provider, queue=False)
    return run_import(record)
