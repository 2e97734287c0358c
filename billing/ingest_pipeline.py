"""A file copied in two halves (billing.ingest_split) is typed and inserted part by part, the second half
typed on a connection of its own while the import's transaction inserts what is typed already.

The insert is one statement in one transaction: PostgreSQL runs it in one process, on one core, for
about half of the import. Typing the whole file before it (a parallel pass) left the second core idle
during the insert. Now the first half is typed (parallel, both cores); its insert runs while a thread
types the second half's first quarter of the file, then its last quarter (UNLOGGED tables
`usage_typed_half_<import id>`, `usage_typed_rest_<import id>`, committed by that connection as the
second half's staging table is); each part is inserted once it is typed. The last part, inserted with
nothing left to type beside it, is a quarter of the file. What the file imports is the same: one
transaction, nothing kept when anything fails.

* Line numbers are the file's (the second half's are numbered after the first's, as in the view).
* A bad line in any part fails the import with validate()'s report of the whole file (its first bad
  lines), as one typing pass does.
* Each part goes in with a plain INSERT (billing.rollups.insert_plain), all inside one savepoint. A row
  already imported or a line repeated in the file (also across the parts: each gets its first
  occurrence's fingerprint) fails it on the unique fingerprint; then all are rolled back, and the parts
  go in as one relation (a TEMP view of the typed tables) the way a file copied in one piece does:
  repeats numbered, ON CONFLICT DO NOTHING.
"""

import threading

import psycopg
from django.db import connection, transaction

from . import ingest
from .ingest_split import driver_params
from .pricing_sql import create_price_keys
from .rollups import try_insert_plain
from .usage_locks import count_in_closed_periods


class HalfTyping(threading.Thread):
    """Runs typing passes (`statements`, billing.ingest.typed_table_sql) one after the other on a
    connection of its own, each committed when done: the rows each typed end in `rows`, a failure in
    `error` (the passes after it do not run). `wait(i)` waits for pass i (or a failure); `cancel()`
    stops the thread."""

    def __init__(self, statements: list, params: dict):
        super().__init__(daemon=True)
        self.statements, self.params, self.rows, self.error, self.conn = statements, params, [], None, None
        self.connect_params = driver_params()  # the import's connection's (this thread has its own)
        self.done = [threading.Event() for _ in statements]
        self.stopped = False

    def run(self):
        try:
            with psycopg.connect(**self.connect_params, autocommit=True) as conn:
                self.conn = conn
                # One process: the import's insert runs on the other core meanwhile (parallel workers
                # would take their share of its core). Sort in memory; no JIT (see ingest.insert_rows).
                conn.execute("SET max_parallel_workers_per_gather = 0")
                conn.execute("SET work_mem = '256MB'")
                conn.execute("SET jit = off")
                for i, sql in enumerate(self.statements):
                    if self.stopped:
                        break
                    self.rows.append(conn.execute(sql, self.params).rowcount)
                    self.done[i].set()
        except Exception as exc:  # noqa: BLE001 - handed to the import's thread, which reports it
            self.error = exc
        finally:
            for event in self.done:
                event.set()

    def wait(self, i: int) -> bool:
        """Wait for pass i; False when a pass failed."""
        self.done[i].wait()
        return self.error is None

    def cancel(self):
        self.stopped = True
        if self.is_alive() and self.conn is not None:
            self.conn.cancel()
        self.join()


def insert_halves(view: str, layout, usage_import, read: int, first: int, phase):
    """billing.ingest.insert_rows for a file copied in halves: `view` numbers the lines of both (the
    first half's `first` rows in the import's staging table). Returns (new rows, matched, rows of closed
    periods, the customers concerned)."""
    stage, typed, half, *rest = ingest.staging_names(usage_import.pk)
    provider, columns = usage_import.provider, ", ".join(layout.staging_columns)
    # The second half in two parts: the last insert (nothing left to type beside it) is a quarter. Cut by
    # pages, each part read by a TID range scan of its own pages (a filter on line_no would read the whole
    # table twice); the line numbers come from line_no, whatever the rows' order on the pages.
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_relation_size(%s::regclass) / current_setting('block_size')::int", [half])
        middle = cursor.fetchone()[0] // 2
    part = "(SELECT line_no + {first} AS line_no, {columns} FROM {half} WHERE ctid {op} '({middle},0)'::tid)"
    sources = [part.format(first=int(first), columns=columns, half=half, op=op, middle=int(middle))
               for op in ("<", ">=")]  # fmt: skip
    with phase("type+fingerprint"):
        ingest.type_rows(stage, typed, layout, usage_import, first, report_from=view)
    statements = [
        ingest.typed_table_sql(t, layout, provider, source) for t, source in zip(rest, sources, strict=True)
    ]
    typing = HalfTyping(statements, {"forced_provider": provider})
    typing.start()
    tables, done = [typed, *rest], []
    all_plain = transaction.savepoint()
    try:
        for i, table in enumerate(tables):
            if i:
                with phase("wait for the second half"):
                    if not typing.wait(i - 1):
                        break
            if (inserted := _insert_plain(table, usage_import, phase, str(i))) is None:
                break
            done.append(inserted)
    except BaseException:
        typing.cancel()
        raise
    with phase("wait for the second half"):
        typing.join()
    if typing.error is not None:
        if isinstance(typing.error, psycopg.DataError):
            raise ingest.typing_failure(typing.error, view, layout, provider) from typing.error
        raise typing.error
    if first + sum(typing.rows) != read:
        ingest.validate(view, layout, provider)
        raise ingest.ImportFailed("The file has rows that cannot be imported; nothing was imported.")
    closed = sum(count_in_closed_periods(table) for table in tables)
    if len(done) == len(tables):
        transaction.savepoint_commit(all_plain)
        new, matched, customers = (
            sum(d[0] for d in done),
            sum(d[1] for d in done),
            {c for d in done for c in d[2]},
        )
    else:  # a row imported before, or a repeated line: the parts as one relation
        transaction.savepoint_rollback(all_plain)
        both = f"usage_all_{usage_import.pk.hex}"
        union = " UNION ALL ".join(f"SELECT * FROM {table}" for table in tables)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMP VIEW {both} AS {union}")
        new, matched, _closed, customers = ingest.insert_typed(both, usage_import, phase, try_plain=False)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP VIEW {both}")
    with connection.cursor() as cursor:
        for table in tables:
            cursor.execute(f"DROP TABLE {table}")
    return new, matched, closed, list(customers)


def _insert_plain(typed: str, usage_import, phase, suffix: str):
    """One part's plain insert (billing.rollups.try_insert_plain): (new rows, matched, customers), or None
    when one of its first rows or any row conflicts on the fingerprint."""
    keys = f"usage_keys{suffix}_{usage_import.pk.hex}"
    matched_view = f"usage_matched{suffix}_{usage_import.pk.hex}"
    ingest.create_matched_view(typed, matched_view)
    with phase("match+price keys"):
        create_price_keys(matched_view, keys)
    with phase("match+insert+rate+rollup"):
        done = try_insert_plain(matched_view, keys, usage_import.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP VIEW {matched_view}")
        cursor.execute(f"DROP TABLE {keys}")
    return done
