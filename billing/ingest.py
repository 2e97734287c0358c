"""Streaming import of a FOCUS cost-and-usage file (CSV, CSV.gz or Parquet) into billing.UsageRow.

1. Read the header, map it (billing.focus), create an UNLOGGED staging table of text columns.
2. Stream the file into it with COPY: CSV bytes as they are (gzip decompressed on the fly), Parquet one
   record batch at a time written as CSV. Memory stays flat whatever the size of the file.
3. Validate in SQL: the first bad rows, with their line numbers, fail the whole import.
4. In one transaction: type, fingerprint and match each row to the reseller's cloud account
   (SubAccountId, else BillingAccountId) into billing.pricing_sql's staging table, rate it there with
   price_usage_rows_sql, then INSERT … ON CONFLICT (reseller, fingerprint) DO NOTHING into the usage
   table and roll up only the rows inserted; refresh the customers' month-to-date spend (billing.rollups).
Anything wrong: the import is FAILED with a report, and no usage row of it is kept.
"""

import csv
import gzip
import io
import logging
import re
import time
import uuid

import psycopg
from django.db import DataError, connection, transaction
from django.utils import timezone

from customer360.tenancy import current_reseller_id

from . import focus
from .models_usage import UsageImport
from .pricing_sql import create_usage_staging_table, price_usage_rows_sql
from .rollups import insert_priced_rows, refresh_customers

logger = logging.getLogger(__name__)
CHUNK = 1 << 20
MAX_PROBLEMS = 10
PROGRESS_SECONDS = 2


class ImportFailed(Exception):
    pass


def _is_parquet(path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PAR1"


def _open_binary(path):
    with open(path, "rb") as f:
        gz = f.read(2) == b"\x1f\x8b"
    return gzip.open(path, "rb") if gz else open(path, "rb")


def read_header(path) -> list:
    if _is_parquet(path):
        import pyarrow.parquet as pq

        return list(pq.ParquetFile(path).schema_arrow.names)
    with _open_binary(path) as f:
        try:
            line = f.readline().decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise focus.FocusFormatError("Line 1 is not UTF-8 text: the file must be UTF-8 encoded.") from exc
        except (OSError, EOFError) as exc:
            raise focus.FocusFormatError(f"The file cannot be read: {exc}") from exc
    header = next(csv.reader([line]), [])
    if not header:
        raise focus.FocusFormatError("The file is empty: line 1 should be the FOCUS header.")
    return header


def _csv_chunks(path):
    with _open_binary(path) as f:
        f.readline()  # the header, read by read_header
        while chunk := f.read(CHUNK):
            yield chunk


def _parquet_chunks(path):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    options = pacsv.WriteOptions(include_header=False)
    for batch in pq.ParquetFile(path).iter_batches(batch_size=50_000):
        # Every column as text, as the CSV form has it (timestamps in ISO form).
        arrays = []
        for column in batch.columns:
            if pa.types.is_timestamp(column.type):
                column = pa.compute.strftime(column, format="%Y-%m-%dT%H:%M:%SZ")
            arrays.append(column.cast(pa.string()))
        buf = io.BytesIO()
        pacsv.write_csv(pa.RecordBatch.from_arrays(arrays, names=batch.schema.names), buf, options)
        yield buf.getvalue()


def file_chunks(path):
    return _parquet_chunks(path) if _is_parquet(path) else _csv_chunks(path)


def _copy_error(exc) -> str:
    context = getattr(getattr(exc, "diag", None), "context", None) or ""
    match = re.search(r"line (\d+)", context)
    where = f"Line {int(match.group(1)) + 1}: " if match else ""
    message = str(exc).splitlines()[0]
    if "encoding" in message or "byte sequence" in message:
        message = f"not UTF-8 text ({message})"
    return f"{where}{message}"


def create_staging(name: str, layout: focus.Layout) -> None:
    columns = ", ".join(f"{c} text" for c in layout.staging_columns)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE UNLOGGED TABLE {name} (line_no bigserial, {columns})")


class _Progress:
    """Rows read so far (newlines seen), written every PROGRESS_SECONDS on a connection of its own, so the
    import page shows them while the COPY's transaction is still open. run_import passes an import id
    only when it runs outside a transaction (a task, the command): there the import record is committed."""

    def __init__(self, import_id):
        self.import_id, self.rows, self.last, self.conn = import_id, 0, time.monotonic(), None
        if import_id is not None:
            params = connection.get_connection_params()
            params.pop("cursor_factory", None)
            self.conn = psycopg.connect(**params, autocommit=True)

    def add(self, chunk: bytes):
        self.rows += chunk.count(b"\n")
        if self.conn is not None and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.last = time.monotonic()
            table = UsageImport._meta.db_table
            self.conn.execute(f"UPDATE {table} SET rows_read = %s WHERE id = %s", (self.rows, self.import_id))

    def close(self):
        if self.conn is not None:
            self.conn.close()


def copy_file(name: str, layout: focus.Layout, path, *, import_id=None) -> int:
    """COPY the file's data rows into the staging table; returns the rows read."""
    columns = ", ".join(layout.staging_columns)
    sql = f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8')"
    progress = _Progress(import_id)
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        try:
            with cursor.copy(sql) as copy:
                for chunk in file_chunks(path):
                    copy.write(chunk)
                    progress.add(chunk)
        except (psycopg.DataError, psycopg.errors.BadCopyFileFormat) as exc:
            raise ImportFailed(_copy_error(exc)) from exc
        except (OSError, EOFError, gzip.BadGzipFile) as exc:
            raise ImportFailed(f"The file cannot be read: {exc}") from exc
        finally:
            progress.close()
        cursor.execute(f"SELECT count(*) FROM {name}")
        return cursor.fetchone()[0]


def validate(name: str, layout: focus.Layout, provider: str) -> None:
    sql = f"""
        SELECT line_no + 1, problem FROM (
            SELECT s.line_no, {focus.problems_sql(layout, provider)} AS problem FROM {name} AS s
        ) AS checked WHERE problem IS NOT NULL ORDER BY line_no LIMIT {MAX_PROBLEMS}"""
    with connection.cursor() as cursor:
        cursor.execute(sql, {"forced_provider": provider})
        problems = cursor.fetchall()
    if problems:
        lines = "\n".join(f"Line {line}: {problem}" for line, problem in problems)
        raise ImportFailed(f"The file has bad rows; nothing was imported. First bad rows:\n{lines}")


PARSED_COLUMNS = """
    ALTER COLUMN customer_id DROP NOT NULL,
    ADD COLUMN line_no bigint, ADD COLUMN fingerprint uuid, ADD COLUMN billing_account_id text,
    ADD COLUMN sub_account_id text, ADD COLUMN charge_category text, ADD COLUMN region text,
    ADD COLUMN resource_id text, ADD COLUMN effective_cost numeric
"""


def parse_rows(name: str, price_table: str, layout: focus.Layout, usage_import: UsageImport) -> None:
    """Fill the pricing staging table (billing.pricing_sql's columns and the rest of a usage row) from
    the text staging table: typed, fingerprinted and matched to the reseller's cloud accounts."""
    col, num = layout.col, lambda c, d="0": focus.number_sql(layout, c, d)
    provider = focus.provider_sql(layout, usage_import.provider)
    start = col("ChargePeriodStart")
    quantity = f"COALESCE(trim_scale({col('ConsumedQuantity')}::numeric), trim_scale({col('PricingQuantity')}::numeric), 0)"
    sql = f"""
        WITH src AS (
            SELECT s.line_no, {provider} AS provider,
                   md5({focus.identity_sql(layout, provider)})::uuid AS base,
                   COALESCE(lower({col("SubAccountId")}), '') AS sub,
                   COALESCE(lower({col("BillingAccountId")}), '') AS billing,
                   (substr({start}, 1, 10))::date AS usage_date,
                   left(COALESCE({col("ChargeCategory")}, ''), 40) AS charge_category,
                   left(COALESCE({col("ServiceName")}, ''), 150) AS service_name,
                   left(COALESCE({col("ServiceCategory")}, ''), 100) AS service_category,
                   left(COALESCE({col("SkuId")}, ''), 80) AS sku,
                   left(COALESCE({col("RegionId")}, ''), 60) AS region,
                   COALESCE({col("ResourceId")}, '') AS resource_id,
                   {quantity} AS quantity, {num("BilledCost")} AS cost,
                   {num("EffectiveCost", num("BilledCost"))} AS effective_cost,
                   {num("ListCost", num("BilledCost"))} AS list_cost
            FROM {name} AS s
        )
        INSERT INTO {price_table} (
            id, line_no, fingerprint, customer_id, cloud_account_id, provider, billing_account_id,
            sub_account_id, usage_date, charge_category, service_name, service_category, sku, region,
            resource_id, quantity, cost, effective_cost, list_cost)
        SELECT n.line_no, n.line_no + 1,
               md5(n.base::text || '#' || row_number() OVER (PARTITION BY n.base ORDER BY n.line_no))::uuid,
               COALESCE(sa.customer_id, ba.customer_id), COALESCE(sa.id, ba.id), n.provider,
               left(n.billing, 100), left(n.sub, 100), n.usage_date, n.charge_category, n.service_name,
               n.service_category, n.sku, n.region, n.resource_id, n.quantity, n.cost, n.effective_cost,
               n.list_cost
        FROM src AS n
        LEFT JOIN customers_cloudaccount AS sa
            ON sa.reseller_id = %(reseller)s AND sa.provider = n.provider AND sa.account_id = n.sub
        LEFT JOIN customers_cloudaccount AS ba
            ON ba.reseller_id = %(reseller)s AND ba.provider = n.provider AND ba.account_id = n.billing
    """
    params = {"reseller": current_reseller_id(), "forced_provider": usage_import.provider}
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute(sql, params)
        except DataError as exc:
            raise ImportFailed(
                f"A value cannot be read ({str(exc).splitlines()[0]}); check the dates and numbers. "
                "Nothing was imported."
            ) from exc
        cursor.execute(f"ANALYZE {price_table}")


def insert_rows(name: str, layout: focus.Layout, usage_import: UsageImport) -> tuple[int, int]:
    """Parse, match, rate, deduplicate and roll up the staging rows; returns (new rows, matched)."""
    price_table = f"usage_price_{uuid.uuid4().hex}"
    create_usage_staging_table(price_table)
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute(f"ALTER TABLE {price_table} {PARSED_COLUMNS}")
    parse_rows(name, price_table, layout, usage_import)
    price_usage_rows_sql(price_table)
    new, matched, customers = insert_priced_rows(price_table, usage_import.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {price_table}")
    refresh_customers(customers)
    return new, matched


def _save(usage_import, **fields):
    for key, value in fields.items():
        setattr(usage_import, key, value)
    usage_import.save(update_fields=list(fields))


def run_import(usage_import: UsageImport) -> UsageImport:
    """Import the file of `usage_import` (in its reseller's scope). Safe to run twice: a finished or
    failed import is left as it is."""
    if usage_import.status in (UsageImport.Status.DONE, UsageImport.Status.FAILED):
        return usage_import
    name = f"usage_stage_{uuid.uuid4().hex}"
    path = usage_import.file.path
    _save(usage_import, status=UsageImport.Status.READING, started_at=timezone.now(), error="")
    try:
        try:
            layout = focus.layout_for(read_header(path), provider=usage_import.provider)
        except focus.FocusFormatError as exc:
            raise ImportFailed(str(exc)) from exc
        live = None if connection.in_atomic_block else usage_import.pk
        with transaction.atomic():
            create_staging(name, layout)
            read = copy_file(name, layout, path, import_id=live)
        _save(usage_import, rows_read=read, focus_version=layout.focus_version)
        validate(name, layout, usage_import.provider)
        _save(usage_import, status=UsageImport.Status.PROCESSING)
        with transaction.atomic():
            new, matched = insert_rows(name, layout, usage_import)
            _save(
                usage_import,
                status=UsageImport.Status.DONE,
                rows_new=new,
                rows_duplicate=read - new,
                rows_matched=matched,
                rows_unmatched=new - matched,
                finished_at=timezone.now(),
            )
    except ImportFailed as exc:
        _save(usage_import, status=UsageImport.Status.FAILED, error=str(exc), finished_at=timezone.now())
    finally:
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE IF EXISTS {name}")
    return usage_import
