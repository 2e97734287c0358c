"""A file copied in two halves (billing.ingest_split) is typed and inserted half by half, the second half
typed on a connection of its own while the import's transaction inserts the first.

The insert is one statement in one transaction: PostgreSQL runs it in one process, on one core, for
about half of the import. Typing the whole file before it (a parallel pass) left the second core idle
during the insert; now the first half is typed (parallel, both cores), then its insert runs while a
thread types the second half into `usage_typed_half_<import id>` (an UNLOGGED table, committed by that
connection, as the second half's staging table is), then the second half is inserted. What the file
imports is the same: one transaction, nothing kept when anything fails.

* Line numbers are the file's (the second half's are numbered after the first's, as in the view).
* A bad line in either half fails the import with validate()'s report of the whole file (its first
  bad lines), as one typing pass does.
* Each half goes in with a plain INSERT (billing.rollups.insert_plain), inside one savepoint. A row
  already imported or a line repeated in the file (also across the halves: both get their first
  occurrence's fingerprint) fails it on the unique fingerprint; it is then rolled back, and both halves
  go in as one relation (a TEMP view of both typed tables) the way a file copied in one piece does:
  repeats numbered, ON CONFLICT DO NOTHING.
"""

import threading

import psycopg
from django.db import IntegrityError, connection, transaction

from . import ingest
from .ingest_split import driver_params
from .pricing_sql import create_price_keys
from .rollups import insert_plain, is_fingerprint_conflict, overlaps_imported
from .usage_locks import count_in_closed_periods


class HalfTyping(threading.Thread):
    """Runs the typing pass (`sql`, billing.ingest.typed_table_sql) on a connection of its own, committed
    when done: the rows typed end in `rows`, a failure in `error`. `cancel()` stops it."""

    def __init__(self, sql: str, params: dict):
        super().__init__(daemon=True)
        self.sql, self.params, self.rows, self.error, self.conn = sql, params, 0, None, None
        self.connect_params = driver_params()  # the import's connection's (this thread has its own)
        self.connected = threading.Event()

    def run(self):
        try:
            with psycopg.connect(**self.connect_params, autocommit=True) as conn:
                self.conn = conn
                self.connected.set()
                # One process: the import's insert runs on the other core meanwhile (parallel workers
                # would take their share of its core). Sort in memory; no JIT (see ingest.insert_rows).
                conn.execute("SET max_parallel_workers_per_gather = 0")
                conn.execute("SET work_mem = '256MB'")
                conn.execute("SET jit = off")
                self.rows = conn.execute(self.sql, self.params).rowcount
        except Exception as exc:  # noqa: BLE001 - handed to the import's thread, which reports it
            self.error = exc
        finally:
            self.connected.set()

    def cancel(self):
        self.connected.wait()
        if self.is_alive() and self.conn is not None:
            self.conn.cancel()
        self.join()


def insert_halves(view: str, layout, usage_import, read: int, first: int, phase):
    """billing.ingest.insert_rows for a file copied in halves: `view` numbers the lines of both (the
    first half's `first` rows in the import's staging table). Returns (new rows, matched, rows of closed
    periods, the customers concerned)."""
    stage, typed, half, typed_half = ingest.staging_names(usage_import.pk)
    provider = usage_import.provider
    columns = ", ".join(layout.staging_columns)
    second = f"(SELECT line_no + {int(first)} AS line_no, {columns} FROM {half})"
    with phase("type+fingerprint"):
        ingest.type_rows(stage, typed, layout, usage_import, first, report_from=view)
    typing = HalfTyping(
        ingest.typed_table_sql(typed_half, layout, provider, second), {"forced_provider": provider}
    )
    typing.start()
    both_plain = transaction.savepoint()
    try:
        done = _insert_plain(typed, usage_import, phase, "1")
    except BaseException:
        typing.cancel()
        raise
    with phase("wait for the second half"):
        typing.join()
    if typing.error is not None:
        if isinstance(typing.error, psycopg.DataError):
            raise ingest.typing_failure(typing.error, view, layout, provider) from typing.error
        raise typing.error
    if first + typing.rows != read:
        ingest.validate(view, layout, provider)
        raise ingest.ImportFailed("The file has rows that cannot be imported; nothing was imported.")
    closed = count_in_closed_periods(typed) + count_in_closed_periods(typed_half)
    if done is not None and (second_done := _insert_plain(typed_half, usage_import, phase, "2")) is not None:
        transaction.savepoint_commit(both_plain)
        new, matched, customers = (
            done[0] + second_done[0],
            done[1] + second_done[1],
            {*done[2], *second_done[2]},
        )
    else:  # a row imported before, or a repeated line: both halves as one relation
        transaction.savepoint_rollback(both_plain)
        both = f"usage_all_{usage_import.pk.hex}"
        with connection.cursor() as cursor:
            cursor.execute(
                f"CREATE TEMP VIEW {both} AS SELECT * FROM {typed} UNION ALL SELECT * FROM {typed_half}"
            )
        new, matched, _closed, customers = ingest.insert_typed(both, usage_import, phase, try_plain=False)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP VIEW {both}")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE {typed}")
        cursor.execute(f"DROP TABLE {typed_half}")
    return new, matched, closed, list(customers)


def _insert_plain(typed: str, usage_import, phase, suffix: str):
    """One half's plain insert (billing.rollups.insert_plain, in a savepoint of its own): (new rows,
    matched, customers), or None when one of its first rows or any row conflicts on the fingerprint."""
    keys = f"usage_keys{suffix}_{usage_import.pk.hex}"
    matched_view = f"usage_matched{suffix}_{usage_import.pk.hex}"
    ingest.create_matched_view(typed, matched_view)
    with phase("match+price keys"):
        create_price_keys(matched_view, keys)
    done = None
    if not overlaps_imported(matched_view):
        with phase("match+insert+rate+rollup"):
            try:
                with transaction.atomic():
                    done = insert_plain(matched_view, keys, usage_import.pk)
            except IntegrityError as exc:
                if not is_fingerprint_conflict(exc):
                    raise
    with connection.cursor() as cursor:
        cursor.execute(f"DROP VIEW {matched_view}")
        cursor.execute(f"DROP TABLE {keys}")
    return done
