"""A big plain CSV file is imported chunk by chunk: chunks are copied and typed on connections of their
own while the import's transaction inserts the chunks typed already ("insert while copying").

PostgreSQL runs each statement in one process. Copying the whole file, typing it, then inserting it kept
one of the two cores idle for much of the import (the insert alone, on one core, was half of it). Now the
file is cut into chunks at line starts (billing.ingest_split.record_boundaries, CHUNK_BYTES each). Chunk
k is copied (COPY FREEZE) into the UNLOGGED table usage_stage<k>_<import id>, then typed
(billing.ingest.typed_table_sql, no parallel workers: the two cores are taken) into usage_typed<k>_<import
id>, with each row's cloud account and customer matched already, and its pricing keys made into
usage_keys<k>_<import id> (billing.pricing_sql: the insert, the critical path, then joins no accounts and
looks up no pricebooks; the keys read the pricebooks as they are when the chunk is typed). Two helpers
do it, each on an autocommit connection of its own: a thread, which types the first chunk copied and not
typed yet, else copies the next chunk; and the import's own thread, which copies the next chunk (for the
thread to type) whenever no chunk is typed for it to insert. The import's connection inserts each chunk
as soon as it is typed. What the import writes is still one transaction: the helpers only write their
UNLOGGED tables (dropped by billing.ingest.drop_staging; the sweep of orphan tables knows their names),
so a bad line, a failure or a killed worker keeps nothing.

* Line numbers are the file's: chunk k is typed with the rows the COPYs of the chunks before it read (a
  quoted field may hold newlines: lines are not rows).
* A bad file gets the report of one COPY and one typing pass. A COPY error: the first chunk's that fails,
  its line numbers after those of the chunks before (a chunk starts where COPY's CSV reader starts a
  line, so its errors are one COPY's). A value that does not parse, or a row failing the checks: no
  chunk is typed any more but all are still copied (one COPY of the file would report a line it refuses
  first), then validate() names the first bad lines of the chunks not typed (the typed ones have none).
* Each chunk goes in with a plain INSERT (billing.rollups.try_insert_plain), all inside one savepoint. A
  row already imported or a line repeated in the file (also across chunks: each gets its first
  occurrence's fingerprint) fails it on the unique fingerprint; then all are rolled back, and once every
  chunk is typed the chunks go in as one relation (a TEMP view of the typed tables) the way a file copied
  in one piece does: repeats numbered, ON CONFLICT DO NOTHING.
"""

import threading
from contextlib import nullcontext

import psycopg
from django.db import connection, transaction

from customer360.rls import RESELLER_SETTING

from . import ingest
from .ingest_split import Progress, byte_range, driver_params
from .pricing_sql import price_keys_sql
from .rollups import try_insert_plain
from .usage_locks import count_in_closed_periods


class Chunks:
    """What the helpers share: the next chunk to copy, the chunks copied and not typed yet (`to_type`), the
    rows each chunk's COPY read (`copied[k]` is set once known or failed), whether each is typed
    (`settled[k]` is set once chunk k is typed or will not be) and the errors."""

    def __init__(self, path, cuts: list, layout, usage_import, progress: Progress):
        self.path, self.cuts, self.layout, self.progress = path, cuts, layout, progress
        self.provider, self.hex, self.n = usage_import.provider, usage_import.pk.hex, len(cuts) - 1
        self.reseller = str(usage_import.reseller_id)
        self.lock, self.next, self.copying, self.stopped = threading.Lock(), 0, 0, False
        self.changed = threading.Condition(self.lock)  # a chunk copied or settled
        self.to_type, self.rows, self.typed = [], [None] * self.n, [False] * self.n
        self.copied = [threading.Event() for _ in range(self.n)]
        self.settled = [threading.Event() for _ in range(self.n)]
        self.copy_errors, self.type_errors = {}, {}  # chunk -> exception (None: rows typed != rows read)

    def stage(self, k: int) -> str:
        return f"usage_stage{k}_{self.hex}"

    def typed_table(self, k: int) -> str:
        return f"usage_typed{k}_{self.hex}"

    def keys_table(self, k: int) -> str:
        return f"usage_keys{k}_{self.hex}"

    def take_copy(self) -> int | None:
        """The next chunk to copy; None when all are taken, or after a COPY error (one COPY stops there)."""
        with self.lock:
            return self._take_copy()

    def _take_copy(self) -> int | None:
        if self.stopped or self.copy_errors or self.next >= self.n:
            return None
        self.next, self.copying = self.next + 1, self.copying + 1
        return self.next - 1

    def take_task(self) -> tuple[str, int] | None:
        """The thread's next task: typing the first chunk copied and not typed yet (unless something failed:
        then copying is all that is left to do, for the report), else copying the next chunk. Waits while
        the import's thread copies the last chunks; None when nothing is left."""
        with self.lock:
            while not self.stopped:
                if self.to_type and not self._failing():
                    return "type", self.to_type.pop(0)
                if (k := self._take_copy()) is not None:
                    return "copy", k
                if not self.copying:
                    return None
                self.changed.wait()
            return None

    def failing(self) -> bool:
        with self.lock:
            return self._failing()

    def _failing(self) -> bool:
        return bool(self.copy_errors or self.type_errors or self.stopped)

    def copy_done(self, k: int, rows: int | None, error=None):
        with self.lock:
            self.copying -= 1
            self.rows[k] = rows
            if error is not None:
                self.copy_errors[k] = error
                self._settle(k)
            else:
                self.to_type = sorted([*self.to_type, k])
            total = None if None in self.rows else sum(self.rows)
            self.changed.notify_all()
        self.copied[k].set()
        if total is not None:
            self.progress.finish(total)

    def offset(self, k: int) -> int | None:
        """The rows of the chunks before k; None when the COPY of one of them failed."""
        for event in self.copied[:k]:
            event.wait()
        rows = self.rows[:k]
        return None if None in rows else sum(rows)

    def type_done(self, k: int):
        with self.lock:
            self.typed[k] = True
            self._settle(k)

    def type_failed(self, k: int, error: Exception | None):
        with self.lock:
            self.type_errors[k] = error
            self._settle(k)

    def type_skipped(self, k: int):
        with self.lock:
            self._settle(k)

    def _settle(self, k: int):
        self.settled[k].set()
        self.changed.notify_all()

    def wait_any(self, chunks: set):
        """Wait until one of `chunks` is settled."""
        with self.lock:
            self.changed.wait_for(lambda: any(self.settled[k].is_set() for k in chunks))

    def stop(self):
        """No chunk is copied or typed any more (the import's thread is raising: a helper waiting for the
        rows of an earlier chunk goes on)."""
        with self.lock:
            self.stopped = True
            self.changed.notify_all()
        for event in self.copied:
            event.set()


class Helper:
    """A connection of its own (autocommit) that copies and types chunks; `phase` (ingest._Phases) times
    its steps, under `prefix`."""

    def __init__(self, chunks: Chunks, phase, prefix: str):
        self.chunks, self.phase, self.prefix = chunks, phase, prefix
        self.conn = psycopg.connect(**driver_params(), autocommit=True)
        # One process each: the import's insert and the other helper share the two cores (parallel workers
        # would take their share). Hash joins, sorts in memory, no JIT (see ingest.insert_rows). The
        # reseller's scope (row-level security): the helpers match the cloud accounts too.
        for setting in ("max_parallel_workers_per_gather = 0", "work_mem = '256MB'", "jit = off",
                        "enable_nestloop = off", "enable_mergejoin = off"):  # fmt: skip
            self.conn.execute(f"SET {setting}")
        self.conn.execute("SELECT set_config(%s, %s, false)", (RESELLER_SETTING, chunks.reseller))

    def run(self):
        while (task := self.chunks.take_task()) is not None:
            (self.copy if task[0] == "copy" else self.type)(task[1])

    def copy(self, k: int):
        """COPY chunk k into its staging table (sets copied[k], and settled[k] when it fails)."""
        ch, stage = self.chunks, self.chunks.stage(k)
        try:
            # One transaction: COPY FREEZE needs the table created in it.
            with self.phase(f"{self.prefix}copy"), self.conn.transaction(), self.conn.cursor() as cursor:
                cursor.execute(ingest.staging_sql(stage, ch.layout))
                with cursor.copy(ingest.copy_sql(stage, ch.layout, freeze=True)) as copy:
                    for data in byte_range(ch.path, ch.cuts[k], ch.cuts[k + 1]):
                        copy.write(data)
                        ch.progress.add(data)
                rows = cursor.rowcount
        except Exception as exc:  # noqa: BLE001 - reported by the import's thread (import_chunks)
            ch.copy_done(k, None, exc)
            return
        ch.copy_done(k, rows)

    def type(self, k: int):
        """Type chunk k, copied, with the file's line numbers (sets settled[k])."""
        ch, stage = self.chunks, self.chunks.stage(k)
        offset = ch.offset(k)
        if offset is None or ch.failing():
            ch.type_skipped(k)
            return
        columns = ", ".join(ch.layout.staging_columns)
        source = f"(SELECT line_no + {int(offset)} AS line_no, {columns} FROM {stage})"
        try:
            with self.phase(f"{self.prefix}type+fingerprint"):
                sql = ingest.typed_table_sql(ch.typed_table(k), ch.layout, ch.provider, source, matched=True)
                params = {"forced_provider": ch.provider, "reseller": ch.reseller}
                typed = self.conn.execute(sql, params).rowcount
        except Exception as exc:  # noqa: BLE001 - reported by the import's thread (import_chunks)
            ch.type_failed(k, exc)
            return
        if typed != ch.rows[k]:  # a row left out: validate() names it
            ch.type_failed(k, None)
            return
        self.conn.execute(f"DROP TABLE {stage}")
        try:
            # The chunk's pricing keys too, off the import's thread (the rows of a closed period are left
            # out by the insert, not here: a key too many is never joined).
            with self.phase(f"{self.prefix}price keys"):
                keys = ch.keys_table(k)
                self.conn.execute(f"CREATE UNLOGGED TABLE {keys} AS {price_keys_sql(ch.typed_table(k))}",
                                  {"reseller": ch.reseller})  # fmt: skip
                self.conn.execute(f"ANALYZE {keys}")
        except Exception as exc:  # noqa: BLE001 - reported by the import's thread (import_chunks)
            ch.type_failed(k, exc)
            return
        ch.type_done(k)

    def cancel(self):
        self.conn.cancel()

    def close(self):
        self.conn.close()


class HelperThread(threading.Thread):
    def __init__(self, helper: Helper):
        super().__init__(daemon=True)
        self.helper = helper

    def run(self):
        self.helper.run()


def import_chunks(path, cuts: list, layout, usage_import, phase):
    """billing.ingest.insert_rows for a file cut into chunks (`cuts`: their offsets, from
    ingest_split.record_boundaries); call it in the import's transaction. Returns (rows read, new rows,
    matched, rows of closed periods, the customers concerned)."""
    progress = Progress(usage_import.pk)
    chunks = Chunks(path, cuts, layout, usage_import, progress)
    mine = other = None
    try:
        mine = Helper(chunks, phase, "")
        other = HelperThread(Helper(chunks, phase, "thread: "))
        other.start()
        inserted = _insert_while_typed(chunks, mine, usage_import, phase)
        while (k := chunks.take_copy()) is not None:  # failing: the rest is copied, for the report
            mine.copy(k)
    except BaseException:
        chunks.stop()
        if other is not None:
            other.helper.cancel()
        raise
    finally:
        if other is not None:
            if other.ident is not None:  # started
                with phase("wait for the chunks") if other.is_alive() else nullcontext():
                    other.join()
            other.helper.close()
        if mine is not None:
            mine.close()
        progress.close()
    _raise_failure(chunks)
    tables = [chunks.typed_table(k) for k in range(chunks.n)]
    closed = sum(count_in_closed_periods(table) for table in tables)
    if None not in inserted:
        new, matched = sum(d[0] for d in inserted), sum(d[1] for d in inserted)
        customers = {c for d in inserted for c in d[2]}
    else:  # a row imported before, or a repeated line: the chunks as one relation
        view, union = f"usage_all_{chunks.hex}", " UNION ALL ".join(f"SELECT * FROM {t}" for t in tables)
        with connection.cursor() as cursor:
            cursor.execute(f"CREATE TEMP VIEW {view} AS {union}")
        new, matched, _closed, customers = ingest.insert_typed(view, usage_import, phase, try_plain=False)
        with connection.cursor() as cursor:
            cursor.execute(f"DROP VIEW {view}")
    return sum(chunks.rows), new, matched, closed, list(customers)


def _insert_while_typed(chunks: Chunks, mine: Helper, usage_import, phase) -> list:
    """Insert each chunk once typed (in the order they are typed: each has the file's line numbers
    already), copying the next chunk itself (for the thread to type) whenever none is typed to insert.
    Returns each chunk's plain insert (billing.rollups.try_insert_plain), all of them rolled back when one
    met a fingerprint taken (None at its place; the chunks after it are not inserted); stops at a chunk
    not typed (a failure)."""
    all_plain, inserted, pending = transaction.savepoint(), [], set(range(chunks.n))
    while pending:
        if ready := [k for k in sorted(pending) if chunks.settled[k].is_set()]:
            k = ready[0]
            if not chunks.typed[k]:
                break
            pending.discard(k)
            if None not in inserted:
                inserted.append(_insert_plain(chunks, k, usage_import, phase))
        elif (j := chunks.take_copy()) is not None:
            mine.copy(j)
        else:
            with phase("wait for the chunks"):
                chunks.wait_any(pending)
    if not pending and None not in inserted:
        transaction.savepoint_commit(all_plain)
    else:
        transaction.savepoint_rollback(all_plain)
    return inserted


def _raise_failure(chunks: Chunks):
    """The report of a file whose COPY or typing failed in some chunk (nothing when every chunk is typed)."""
    if chunks.copy_errors:
        k = min(chunks.copy_errors)
        error = chunks.copy_errors[k]
        if failure := ingest.read_failure(error, lines_before=sum(chunks.rows[:k])):
            raise failure from error
        raise error
    if all(chunks.typed):
        return
    error = chunks.type_errors[min(chunks.type_errors)]  # the others not typed were left for it
    if error is not None and not isinstance(error, psycopg.DataError):
        raise error
    # The chunks not typed, with the file's line numbers: validate() names the first bad lines (the others
    # have none: the typing pass raises on any row that fails the checks; their stage tables are dropped).
    view, columns = f"usage_file_{chunks.hex}", ", ".join(chunks.layout.staging_columns)
    parts = [f"SELECT line_no + {int(sum(chunks.rows[:k]))} AS line_no, {columns} FROM {chunks.stage(k)}"
             for k in range(chunks.n) if not chunks.typed[k]]  # fmt: skip
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE TEMP VIEW {view} AS " + " UNION ALL ".join(parts))
    if error is None:
        ingest.validate(view, chunks.layout, chunks.provider)
        raise ingest.ImportFailed("The file has rows that cannot be imported; nothing was imported.")
    raise ingest.typing_failure(error, view, chunks.layout, chunks.provider) from error


def _insert_plain(chunks: Chunks, k: int, usage_import, phase):
    """Chunk k's plain insert (billing.rollups.try_insert_plain) with the pricing keys its helper made:
    (new rows, matched, customers), or None when one of its first rows or any row conflicts on the
    fingerprint."""
    keys = chunks.keys_table(k)
    matched_view = f"usage_matched{k}_{usage_import.pk.hex}"
    ingest.create_matched_view(chunks.typed_table(k), matched_view, matched=True)
    with phase("match+insert+rate+rollup"):
        done = try_insert_plain(matched_view, keys, usage_import.pk)
    with connection.cursor() as cursor:
        cursor.execute(f"DROP VIEW {matched_view}")
        cursor.execute(f"DROP TABLE {keys}")
    return done
