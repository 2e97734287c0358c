"""Streaming import of a FOCUS cost-and-usage file (CSV, CSV.gz or Parquet) into billing.UsageRow.

1. Read the header, map it (billing.focus), create an UNLOGGED staging table of text columns.
2. Stream the file into it with COPY: CSV bytes as they are (gzip decompressed on the fly), Parquet one
   record batch at a time written as CSV. Memory stays flat whatever the size of the file.
3. In one transaction: one pass (CREATE TABLE AS, parallel-safe) types and fingerprints each row into
   an UNLOGGED typed table; a bad value fails the pass, and only then does the slower row-by-row
   validation run, to name the first bad rows and their line numbers (the whole import fails). A TEMP
   view matches the typed rows to the reseller's cloud accounts (SubAccountId, else BillingAccountId).
   The pricing look-ups run once per distinct key (billing.pricing_sql.create_price_keys); one
   INSERT (… ON CONFLICT (reseller, usage_date, fingerprint) DO NOTHING when the file overlaps imported
   rows) joins the keys, prices each row and rolls up only the rows inserted (billing.rollups); then the
   customers' month-to-date spend is refreshed. A big plain CSV file read by a task or the command is
   cut into chunks instead, copied and typed on connections of their own while the import's transaction
   inserts the chunks typed already (billing.ingest_pipeline).
Anything wrong: the import is FAILED with a report, and no usage row of it is kept.

A running import holds a PostgreSQL advisory lock on its id (`import_lock`): a second run of the same
import leaves it alone, and a sweep (billing.services_usage.recover_stale_imports) knows an import in
"Reading"/"Processing" whose lock is free has lost its worker.
"""

import gzip
import io
import logging
import re
import time
from contextlib import contextmanager

import psycopg
from django.db import DataError, connection, transaction
from django.utils import timezone

from customer360.tenancy import current_reseller_id

from . import focus, ingest_split
from .ingest_split import Progress
from .models_usage import UsageImport
from .pricing_sql import create_price_keys
from .rollups import insert_priced_rows, refresh_customers
from .signals import send_usage_rolled_up
from .usage_files import ExpansionRefused, is_gzip, is_parquet, open_binary, read_header
from .usage_locks import closed_period_filter, count_in_closed_periods

logger = logging.getLogger(__name__)
CHUNK = 1 << 20
MAX_PROBLEMS = 10


class ImportFailed(Exception):
    pass


def _csv_chunks(path):
    with open_binary(path) as f:
        f.readline()  # the header, read by read_header
        while chunk := f.read(CHUNK):
            yield chunk


def _parquet_chunks(path):
    import pyarrow as pa
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    options = pacsv.WriteOptions(include_header=False)
    try:
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
    except pa.ArrowException as exc:  # a Parquet file corrupt past its footer, or a column with no text form
        raise ImportFailed(f"The Parquet file cannot be read: {exc}") from exc


def file_chunks(path):
    return _parquet_chunks(path) if is_parquet(path) else _csv_chunks(path)


def _copy_error(exc, lines_before: int = 0) -> str:
    context = getattr(getattr(exc, "diag", None), "context", None) or ""
    match = re.search(r"line (\d+)", context)
    where = f"Line {lines_before + int(match.group(1)) + 1}: " if match else ""
    message = str(exc).splitlines()[0]
    if "encoding" in message or "byte sequence" in message:
        message = f"not UTF-8 text ({message})"
    return f"{where}{message}"


CHAR = '"char"'  # PostgreSQL's one-byte type


def staging_sql(name: str, layout: focus.Layout, *, keep_all: bool = False) -> str:
    """The staging table: text columns for the columns the import reads (focus.READ), first: a row is
    decoded only up to the last column a query reads, and a FOCUS file has some 60 columns (COPY's column
    list keeps the file's order). The others are "char" columns: COPY still reads every field, but keeps
    one byte of those (charin takes the first), so the table holds half the bytes and its COPY takes a
    sixth less time (docs/benchmarks.md). `keep_all`: every column text (the benchmark's plain COPY)."""
    read = {layout.columns.get(c) for c in focus.READ}
    ordered = sorted(layout.staging_columns, key=lambda c: c not in read)
    columns = ", ".join(f"{c} {'text' if keep_all or c in read else CHAR}" for c in ordered)
    return f"CREATE UNLOGGED TABLE {name} (line_no bigserial, {columns})"


def create_staging(name: str, layout: focus.Layout, *, keep_all: bool = False) -> None:
    with connection.cursor() as cursor:
        cursor.execute(staging_sql(name, layout, keep_all=keep_all))


def copy_sql(name: str, layout: focus.Layout, freeze: bool) -> str:
    columns = ", ".join(layout.staging_columns)
    return (
        f"COPY {name} ({columns}) FROM STDIN WITH (FORMAT csv, ENCODING 'UTF8'{', FREEZE' if freeze else ''})"
    )


def read_failure(exc, lines_before: int = 0) -> "ImportFailed | None":
    """The report of a COPY or a file read that failed (None: not a problem of the file)."""
    if isinstance(exc, (psycopg.DataError, psycopg.errors.BadCopyFileFormat)):
        return ImportFailed(_copy_error(exc, lines_before))
    if isinstance(exc, ExpansionRefused):
        return ImportFailed(str(exc))
    if isinstance(exc, (OSError, EOFError, gzip.BadGzipFile)):
        return ImportFailed(f"The file cannot be read: {exc}")
    return None


def copy_file(name: str, layout: focus.Layout, path, *, import_id=None, freeze=False) -> int:
    """COPY the file's data rows into the staging table; returns the rows read.
    `freeze` (for a table created in the same transaction) writes the rows frozen, with the pages marked
    all-visible: the first reader of a freshly copied table otherwise sets hint bits on every row,
    dirtying and writing every page of it again (1.9 GB for 2 M rows)."""
    progress = Progress(import_id)
    with connection.cursor() as django_cursor:
        cursor = django_cursor.cursor
        try:
            with cursor.copy(copy_sql(name, layout, freeze)) as copy:
                for chunk in file_chunks(path):
                    copy.write(chunk)
                    progress.add(chunk)
        except Exception as exc:
            if failure := read_failure(exc):
                raise failure from exc
            raise
        finally:
            progress.close()
        if cursor.rowcount >= 0:  # COPY's own count: no second pass over the table
            return cursor.rowcount
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


def staging_names(import_id) -> tuple[str, str]:
    """The import's text staging table and typed table, named after it so a sweep can find them (a file
    cut into chunks has one of each per chunk, numbered: billing.ingest_pipeline). STAGING_TABLES matches
    them all."""
    return f"usage_stage_{import_id.hex}", f"usage_typed_{import_id.hex}"


# Every staging and typed table of the import with id hex `hex` (staging_names, and the numbered ones of
# its chunks and their pricing keys, billing.ingest_pipeline.Chunks); the orphan sweep formats it with any
# import's hex.
STAGING_TABLES = r"^usage_(stage|typed|keys)[0-9]*_{hex}$"


def copy_staging(name: str, layout: focus.Layout, path, *, import_id=None) -> int:
    """COPY the file into the staging table `name` (created here, in one transaction: COPY FREEZE);
    returns the rows read. `import_id`: write the progress (outside a transaction)."""
    with transaction.atomic():
        create_staging(name, layout)
        return copy_file(name, layout, path, import_id=import_id, freeze=True)


def chunk_cuts(path, import_id) -> list | None:
    """The chunks (billing.ingest_split.record_boundaries) of a big uncompressed CSV file read by a task or
    the command (`import_id`: outside a transaction); None: the file is copied in one piece."""
    if import_id is None or is_parquet(path) or is_gzip(path):
        return None
    return ingest_split.record_boundaries(path, ingest_split.data_start(path))


def import_lock_key(import_id) -> int:
    return int.from_bytes(import_id.bytes[:8], "big", signed=True)


@contextmanager
def import_lock(import_id):
    """Hold the import's session advisory lock while the block runs; yields False (and runs nothing
    of the caller's) when another session holds it. A killed worker's connection closes, which frees
    the lock: that is how a stale import is told from a slow one."""
    key = import_lock_key(import_id)
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s)", [key])
        got = cursor.fetchone()[0]
    try:
        yield got
    finally:
        if got:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s)", [key])


class _Phases:
    """Seconds per phase, logged and kept on the import object (`timings`) for the benchmark."""

    def __init__(self, usage_import):
        self.usage_import, self.timings = usage_import, {}
        usage_import.timings = self.timings

    @contextmanager
    def __call__(self, name):
        started = time.monotonic()
        try:
            yield
        finally:
            # A phase run more than once (each chunk of a chunked import) adds up.
            self.timings[name] = round(self.timings.get(name, 0) + time.monotonic() - started, 3)
            logger.info("usage import %s: %s %.2fs", self.usage_import.pk, name, self.timings[name])


# The reseller's cloud accounts of a typed row `t` (SubAccountId, else BillingAccountId); parameter: reseller.
ACCOUNTS = """LEFT JOIN customers_cloudaccount AS sa
        ON sa.reseller_id = %(reseller)s AND sa.provider = t.provider AND sa.account_id = t.sub
    LEFT JOIN customers_cloudaccount AS ba
        ON ba.reseller_id = %(reseller)s AND ba.provider = t.provider AND ba.account_id = t.billing"""
MATCHED = (
    "COALESCE(sa.customer_id, ba.customer_id) AS customer_id, COALESCE(sa.id, ba.id) AS cloud_account_id"
)


def typed_table_sql(typed: str, layout: focus.Layout, provider: str, staging: str, matched=False) -> str:
    """The typed table: one pass over the text staging table (CREATE TABLE AS of one scan, so the
    expressions, the costly part, can run in parallel workers), stored in (usage date, fingerprint) order:
    the insert then adds to the usage table's unique (reseller, usage_date, fingerprint) index in key
    order, touching each page of the days it has once instead of at random, and no page of other days
    (with millions of rows the index outgrows shared_buffers, and every random touch after a checkpoint
    writes a full page to the WAL). Its parameter: forced_provider.
    `matched`: with each row's customer_id and cloud_account_id too (create_matched_view's; parameter:
    reseller), for the chunks billing.ingest_pipeline types beside the insert."""
    select = focus.typed_rows_sql(layout, provider, staging)
    return f"""
        CREATE UNLOGGED TABLE {typed} AS
        SELECT t.line_no + 1 AS line_no, t.base, t.fingerprint, t.provider, t.billing, t.sub, t.usage_date,
               t.charge_category, t.service_name, t.service_category, t.sku, t.region, t.resource_id,
               t.quantity, t.cost, t.effective_cost, t.list_cost{f", {MATCHED}" if matched else ""}
        FROM ({select}) AS t {ACCOUNTS if matched else ""}
        ORDER BY t.usage_date, t.fingerprint
    """


def typing_failure(exc, report_from: str, layout: focus.Layout, provider: str) -> ImportFailed:
    """The report of a typing pass that raised `exc` (a value that does not parse, or a row failing the
    checks): validate() over the whole file (`report_from`) names the first bad lines when it can."""
    validate(report_from, layout, provider)
    if focus.NOT_IMPORTABLE in str(exc):
        return ImportFailed("The file has rows that cannot be imported; nothing was imported.")
    return ImportFailed(
        f"A value cannot be read ({str(exc).splitlines()[0]}); check the dates and numbers. "
        "Nothing was imported."
    )


def type_rows(name: str, typed: str, layout: focus.Layout, usage_import: UsageImport, read: int,
              report_from: str | None = None) -> None:  # fmt: skip
    """Type the rows of `name` into the table `typed` (typed_table_sql). Any row that fails a check fails
    the import, with validate()'s report of the first bad lines of `report_from` (default: `name`)."""
    report_from = report_from or name
    sql = typed_table_sql(typed, layout, usage_import.provider, name)
    with connection.cursor() as cursor:
        try:
            with transaction.atomic():
                cursor.execute(sql, {"forced_provider": usage_import.provider})
                typed_rows = cursor.rowcount
        except DataError as exc:
            raise typing_failure(exc, report_from, layout, usage_import.provider) from exc
    if typed_rows != read:
        validate(report_from, layout, usage_import.provider)
        raise ImportFailed("The file has rows that cannot be imported; nothing was imported.")


def create_matched_view(typed: str, view: str, matched=False) -> None:
    """The typed rows with their customer and cloud account (SubAccountId, else BillingAccountId, among
    the reseller's accounts), in the column names billing.pricing_sql and billing.rollups read: a TEMP
    view, so the pricing keys and the insert each hash-join the accounts as they read the rows (`matched`:
    the typed table has them already, typed_table_sql). Rows of a closed provider period are left out
    (billing.usage_locks)."""
    open_only, params = closed_period_filter("t.provider", "t.usage_date")
    accounts = "t.customer_id, t.cloud_account_id" if matched else MATCHED
    with connection.cursor() as cursor:
        cursor.execute(
            f"""CREATE TEMP VIEW {view} AS
                SELECT t.line_no, t.base, t.fingerprint, {accounts}, t.provider,
                       {focus.clip("t.billing", 100)} AS billing_account_id,
                       {focus.clip("t.sub", 100)} AS sub_account_id,
                       t.usage_date, t.charge_category, t.service_name, t.service_category, t.sku, t.region,
                       t.resource_id, t.quantity, t.cost, t.effective_cost, t.list_cost
                FROM {typed} AS t {"" if matched else ACCOUNTS}
                WHERE {open_only}""",
            {"reseller": current_reseller_id(), **params},
        )


def number_repeats(typed: str, repeats: str) -> str | None:
    """Identical lines in one file are distinct charges: the fingerprint is the md5 of the base and the
    line's occurrence ('#1', '#2', …; rollups.insert_priced_rows). The occurrences after the first go
    to the TEMP table `repeats` (line_no, n); returns its name, or None when no line repeats (usual)."""
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT base FROM {typed} GROUP BY base HAVING count(*) > 1")
        repeated = [row[0] for row in cursor.fetchall()]
        if not repeated:
            return None
        cursor.execute(
            f"""CREATE TEMP TABLE {repeats} AS
                SELECT line_no, n FROM (
                    SELECT line_no, row_number() OVER (PARTITION BY base ORDER BY line_no) AS n
                    FROM {typed} WHERE base = ANY(%s)) AS d
                WHERE n > 1""",
            [repeated],
        )
    return repeats


def insert_rows(name: str, layout: focus.Layout, usage_import: UsageImport, read: int | None, phase,
                path=None, cuts: list | None = None) -> tuple[int, int, int, int]:  # fmt: skip
    """Parse, match, rate, deduplicate and roll up the staging rows; returns (rows read, new rows,
    matched, rows left out because their provider period is closed). A file cut into chunks (`cuts`, of the
    file at `path`) is copied, typed and inserted chunk by chunk instead (billing.ingest_pipeline)."""
    with connection.cursor() as cursor:
        # This transaction only: sorts and hashes of millions of rows stay in memory, and every join is
        # a hash join (the staging tables have no statistics; a nested loop over 5,000 accounts or a
        # merge join sorting millions of rows would be the planner's guess otherwise). The pricing
        # look-ups are LATERAL, which stays a nested loop whatever these say.
        cursor.execute("SET LOCAL work_mem = '256MB'")
        cursor.execute("SET LOCAL enable_nestloop = off")
        cursor.execute("SET LOCAL enable_mergejoin = off")
        # JIT spent 1-1.6 s compiling each big statement (more for the pricing keys, whose disabled nested
        # loop is priced at 10^10) and the compiled expressions ran no faster on 2 M rows.
        cursor.execute("SET LOCAL jit = off")
    if cuts is None:
        typed = staging_names(usage_import.pk)[1]
        with phase("type+fingerprint"):
            type_rows(name, typed, layout, usage_import, read)
        new, matched, closed, customers = insert_typed(typed, usage_import, phase)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {typed}")
    else:
        from .ingest_pipeline import import_chunks

        read, new, matched, closed, customers = import_chunks(path, cuts, layout, usage_import, phase)
    with connection.cursor() as cursor:
        # What follows (month-to-date spend, credit thresholds) are small indexed look-ups.
        cursor.execute("SET LOCAL enable_nestloop TO DEFAULT")
        cursor.execute("SET LOCAL enable_mergejoin TO DEFAULT")
        cursor.execute("SET LOCAL work_mem TO DEFAULT")
        cursor.execute("SET LOCAL jit TO DEFAULT")
    with phase("refresh customers"):
        refresh_customers(customers)
    return read, new, matched, closed


def insert_typed(typed: str, usage_import: UsageImport, phase, *, try_plain: bool = True):
    """Match, rate, deduplicate and roll up the rows of the typed relation `typed`; returns (new rows,
    matched, rows of closed periods, the customers concerned). Repeated lines are numbered only when the
    plain insert meets one (rollups.insert_priced_rows; that "repeats" phase is within the insert's)."""
    keys = f"usage_keys_{usage_import.pk.hex}"
    matched_view = f"usage_matched_{usage_import.pk.hex}"
    repeats = f"usage_repeats_{usage_import.pk.hex}"
    closed = count_in_closed_periods(typed)
    create_matched_view(typed, matched_view)
    with phase("match+price keys"):
        create_price_keys(matched_view, keys)

    def numbered():
        with phase("repeats"):
            return number_repeats(typed, repeats)

    with phase("match+insert+rate+rollup"):
        new, matched, customers = insert_priced_rows(matched_view, keys, numbered, usage_import.pk,
                                                     try_plain=try_plain)  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"DROP VIEW {matched_view}")
        cursor.execute(f"DROP TABLE {keys}")
        cursor.execute(f"DROP TABLE IF EXISTS {repeats}")
    return new, matched, closed, customers


def _save(usage_import, **fields):
    fields["heartbeat_at"] = timezone.now()
    for key, value in fields.items():
        setattr(usage_import, key, value)
    usage_import.save(update_fields=list(fields))


def staging_tables(hex_pattern: str) -> list[str]:
    """The staging tables (STAGING_TABLES) there are of the imports whose id hex matches `hex_pattern`:
    UNLOGGED ones only (a TEMP table of the same name is another session's, and goes with it)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT relname FROM pg_class WHERE relkind = 'r' AND relpersistence = 'u' AND relname ~ %s",
            [STAGING_TABLES.format(hex=hex_pattern)],
        )
        return [row[0] for row in cursor.fetchall()]


def drop_staging(import_id) -> None:
    tables = staging_tables(import_id.hex)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP VIEW IF EXISTS usage_file_{import_id.hex}")
        for table in tables:
            cursor.execute(f"DROP TABLE IF EXISTS {table}")


def run_import(usage_import: UsageImport) -> UsageImport:
    """Import the file of `usage_import` (in its reseller's scope). Safe to run twice: a finished or
    failed import is left as it is, one another worker is running is left to it, and one whose worker
    died ("Reading"/"Processing", lock free) starts again from the file (nothing of it was kept)."""
    if usage_import.status in (UsageImport.Status.DONE, UsageImport.Status.FAILED):
        return usage_import
    with import_lock(usage_import.pk) as mine:
        if not mine:
            return usage_import
        usage_import.refresh_from_db()
        if usage_import.status in (UsageImport.Status.DONE, UsageImport.Status.FAILED):
            return usage_import
        _run(usage_import)
    return usage_import


def _run(usage_import: UsageImport) -> None:
    name = staging_names(usage_import.pk)[0]
    drop_staging(usage_import.pk)  # a crashed run's tables
    phase = _Phases(usage_import)
    _save(usage_import, status=UsageImport.Status.READING, started_at=timezone.now(), error="")
    try:
        if not usage_import.file or not usage_import.file.storage.exists(usage_import.file.name):
            raise ImportFailed("The uploaded file is no longer stored; upload it again.")
        path = usage_import.file.path
        try:
            layout = focus.layout_for(read_header(path), provider=usage_import.provider)
        except focus.FocusFormatError as exc:
            raise ImportFailed(str(exc)) from exc
        live = None if connection.in_atomic_block else usage_import.pk
        with phase("find chunks"):
            cuts = chunk_cuts(path, live)
        read = None
        if cuts is None:
            with phase("copy"):
                read = copy_staging(name, layout, path, import_id=live)
            _save(usage_import, rows_read=read, focus_version=layout.focus_version,
                  status=UsageImport.Status.PROCESSING)  # fmt: skip
        else:  # read while inserting: the helpers write the progress (ingest_split.Progress)
            _save(usage_import, focus_version=layout.focus_version)
        with transaction.atomic():
            read, new, matched, closed = insert_rows(name, layout, usage_import, read, phase, path, cuts)
            _save(
                usage_import,
                status=UsageImport.Status.DONE,
                rows_read=read,
                rows_new=new,
                rows_closed_period=closed,
                rows_duplicate=read - new - closed,
                rows_matched=matched,
                rows_unmatched=new - matched,
                finished_at=timezone.now(),
            )
            if matched:
                send_usage_rolled_up(usage_import.reseller_id)
    except ImportFailed as exc:
        _save(usage_import, status=UsageImport.Status.FAILED, error=str(exc), finished_at=timezone.now())
    finally:
        drop_staging(usage_import.pk)
