"""Reading exported files back the way a third-party tool would: the csv module and pyarrow."""

import csv
import gzip
import hashlib
import io
import json
from decimal import Decimal

import pyarrow.parquet as pq

from billing.exports import services
from customer360.tenancy import tenant_scope


def rows_of(data: bytes, fmt: str) -> list[dict]:
    """The file's rows as dicts of text (CSV) or Python values (Parquet)."""
    if fmt == "parquet":
        return pq.read_table(io.BytesIO(data)).to_pylist()
    if fmt == "csv.gz":
        data = gzip.decompress(data)
    return list(csv.DictReader(io.StringIO(data.decode("utf-8"), newline="")))


def billed_total(rows: list[dict], currency: str | None = None) -> Decimal:
    return sum(
        (Decimal(str(r["BilledCost"])) for r in rows if currency is None or r["BillingCurrency"] == currency),
        Decimal("0"),
    )


def check_manifest(manifest: dict, files: dict) -> None:
    """The manifest lists every data file with its row count and SHA-256 (files: {path: bytes})."""
    assert manifest["focus_version"] == "1.2"
    assert manifest["schema_version"]
    for entry in manifest["files"]:
        data = files[entry["path"]]
        assert hashlib.sha256(data).hexdigest() == entry["sha256"]
        assert len(data) == entry["bytes"]
    assert manifest["row_count"] == sum(f["rows"] for f in manifest["files"])


def make_export(reseller, actor=None, secrets=None, **fields):
    defaults = {"name": "Monthly FOCUS", "customer": None, "period_kind": "month", "month": None,
                "providers": [], "cloud_account_ids": [], "format": "parquet", "basis": "resale",
                "destination": "download", "settings": {}, "schedule": "none"}  # fmt: skip
    with tenant_scope(reseller):
        return services.do_create_export(actor, secrets=secrets, **{**defaults, **fields})


def run_now(export, **kwargs):
    """Start and run a run of the export (the task's work, synchronously)."""
    with tenant_scope(export.reseller_id):
        run = services.do_start_run(None, export, queue=False, **kwargs)
        return services.execute_run(run)


def manifest_json(data: bytes) -> dict:
    return json.loads(data)
