"""Running an export: its rows of each billing period written (billing.exports.writer), published under
the partitioned path, then the period's manifest.

    <prefix>/BILLING_PERIOD=2026-10/part-00000.parquet
    <prefix>/BILLING_PERIOD=2026-10/_manifest.json

The manifest is written last, so its presence says the period's files are complete. Its name starts
with "_", which Hive-style readers (Spark, Athena, DuckDB's hive partitioning, pyarrow.dataset) skip:
a tool pointed at <prefix> reads the data files only. One part per period (parts are numbered so a
later size limit can split one).
"""

import json
import os
import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.utils import timezone

from . import writer
from .columns import FOCUS_VERSION, SCHEMA_VERSION, Selection, arrow_schema, columns_for, select_sql
from .destinations import publish

EXTENSIONS = {"csv": "csv", "csv.gz": "csv.gz", "parquet": "parquet"}
MANIFEST = "_manifest.json"


@dataclass
class Spec:
    """What to write: the selection (one reseller always), the format and the price basis."""

    reseller_id: object
    start: date
    end: date
    format: str = "parquet"
    basis: str = "resale"
    customer_id: object = None
    providers: tuple = ()
    cloud_account_ids: tuple = ()
    name: str = ""
    export_id: object = None


@dataclass
class Result:
    files: list = field(default_factory=list)
    manifests: list = field(default_factory=list)
    rows: int = 0
    bytes: int = 0


def months_of(start: date, end: date):
    """(billing period's first day, first day exported, last day exported) for each month in the range."""
    first = start.replace(day=1)
    while first <= end:
        following = (first + timedelta(days=32)).replace(day=1)
        yield first, max(first, start), min(end, following - timedelta(days=1))
        first = following


def join(*parts) -> str:
    return "/".join(p.strip("/") for p in parts if p and p.strip("/"))


def data_name(prefix: str, month: date, fmt: str, part: int = 0) -> str:
    return join(prefix, f"BILLING_PERIOD={month:%Y-%m}", f"part-{part:05d}.{EXTENSIONS[fmt]}")


def write_export(spec: Spec, storage, prefix: str, scratch, *, progress=None) -> Result:
    """Write every billing period of `spec` to `storage` under `prefix`; `progress(rows)` while writing."""
    result = Result()
    for month, start, end in months_of(spec.start, spec.end):
        selection = Selection(
            spec.reseller_id,
            start,
            end,
            spec.customer_id,
            tuple(spec.providers),
            tuple(spec.cloud_account_ids),
        )
        sql, params = select_sql(selection, spec.basis, neutralize=spec.format != "parquet")
        local = os.path.join(scratch, f"{uuid.uuid4().hex}.{EXTENSIONS[spec.format]}")
        done = result.rows

        def report(rows, done=done):
            if progress:
                progress(done + rows)

        try:
            if spec.format == "parquet":
                written = writer.write_parquet(sql, params, local, arrow_schema(spec.basis), progress=report)
            else:
                written = writer.write_csv(
                    sql, params, local, compress=spec.format == "csv.gz", progress=report
                )
            name = publish(storage, local, data_name(prefix, month, spec.format))
        finally:
            if os.path.exists(local):
                os.unlink(local)
        entry = {"path": name, "billing_period": f"{month:%Y-%m}", "rows": written.rows,
                 "bytes": written.bytes, "sha256": written.sha256}  # fmt: skip
        result.files.append(entry)
        result.rows += written.rows
        result.bytes += written.bytes
        result.manifests.append(_write_manifest(spec, storage, prefix, month, start, end, [entry], scratch))
    return result


def manifest_of(spec: Spec, month: date, start: date, end: date, files: list) -> dict:
    return {
        "schema_version": SCHEMA_VERSION,
        "focus_version": FOCUS_VERSION,
        "generator": "Customer360 billing export",
        "export": {"id": str(spec.export_id or ""), "name": spec.name},
        "created_at": timezone.now().isoformat(),
        "billing_period": f"{month:%Y-%m}",
        "charge_period": {"start": start.isoformat(), "end": end.isoformat()},
        "format": spec.format,
        "price_basis": spec.basis,
        "columns": [{"name": c.name, "type": str(c.arrow)} for c in columns_for(spec.basis)],
        "files": files,
        "row_count": sum(f["rows"] for f in files),
    }


def _write_manifest(spec, storage, prefix, month, start, end, files, scratch) -> str:
    local = os.path.join(scratch, f"{uuid.uuid4().hex}.json")
    try:
        with open(local, "w", encoding="utf-8") as f:
            json.dump(manifest_of(spec, month, start, end, files), f, indent=2)
        return publish(storage, local, join(prefix, f"BILLING_PERIOD={month:%Y-%m}", MANIFEST))
    finally:
        if os.path.exists(local):
            os.unlink(local)
