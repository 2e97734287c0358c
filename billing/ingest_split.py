"""Reading the file into the staging tables (billing.ingest.copy_staging): the progress shown while COPY
runs, and two COPYs at once for a big uncompressed CSV file.

COPY parses every field of every line on one core: for 2 M lines it was the longest phase of the import
but one. The file is cut at a line start near its middle; the first half goes into the import's staging
table on the import's connection while a second connection, in a thread, copies the second half into a
table of its own (`usage_half_<import id>`). A TEMP view over both numbers the second half's lines after
the first's, so line numbers (in reports and on the usage rows) are the file's. Gzip and Parquet files are
read as a stream: one COPY, as before.
"""

import os
import threading
import time

import psycopg
from django.db import connection

from .models_usage import UsageImport

CHUNK = 1 << 20
PROGRESS_SECONDS = 2
SPLIT_MIN_BYTES = 64 << 20  # below this a second connection is not worth its set-up


class Progress:
    """Rows read so far (newlines seen), written every PROGRESS_SECONDS on a connection of its own, so the
    import page shows them while the COPY's transaction is still open. run_import passes an import id
    only when it runs outside a transaction (a task, the command): there the import record is committed.
    Both halves' COPYs add to it, from two threads: the connection runs one statement at a time."""

    def __init__(self, import_id):
        self.import_id, self.rows, self.last, self.conn = import_id, 0, time.monotonic(), None
        if import_id is not None:
            self.conn = psycopg.connect(**driver_params(), autocommit=True)

    def add(self, chunk: bytes):
        self.rows += chunk.count(b"\n")
        if self.conn is not None and time.monotonic() - self.last >= PROGRESS_SECONDS:
            self.last = time.monotonic()
            table = UsageImport._meta.db_table
            self.conn.execute(
                f"UPDATE {table} SET rows_read = %s, heartbeat_at = now() WHERE id = %s",
                (self.rows, self.import_id),
            )

    def close(self):
        if self.conn is not None:
            self.conn.close()


def driver_params() -> dict:
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    return params


def data_start(path) -> int:
    """The offset just past the header line."""
    with open(path, "rb") as f:
        f.readline()
        return f.tell()


def record_boundary(path, start: int) -> int | None:
    """The offset of a line start near the middle of the data (from `start`), outside quoted fields: a
    quoted field may hold newlines, and its quotes (doubled ones too) come in pairs, so a newline ends a
    line when the quotes before it are even. None for a small file or one with no such newline."""
    size = os.path.getsize(path)
    if size - start < SPLIT_MIN_BYTES:
        return None
    middle, quotes = start + (size - start) // 2, 0
    with open(path, "rb") as f:
        f.seek(start)
        while (pos := f.tell()) < middle and (chunk := f.read(min(CHUNK, middle - pos))):
            quotes += chunk.count(b'"')
        pos = f.tell()
        while chunk := f.read(CHUNK):
            begin = 0
            while (newline := chunk.find(b"\n", begin)) >= 0:
                quotes += chunk.count(b'"', begin, newline)
                if quotes % 2 == 0:
                    cut = pos + newline + 1
                    return cut if cut < size else None
                begin = newline + 1
            quotes += chunk.count(b'"', begin)
            pos += len(chunk)
    return None


def byte_range(path, start: int, end: int | None = None):
    """The file's bytes from `start` up to `end` (or its end), in chunks."""
    with open(path, "rb") as f:
        f.seek(start)
        while True:
            size = CHUNK if end is None else min(CHUNK, end - f.tell())
            if size <= 0 or not (chunk := f.read(size)):
                return
            yield chunk


class HalfCopy(threading.Thread):
    """Creates `table` and COPYs `chunks` into it on a connection of its own, committed when done. The
    rows copied end in `rows`; a failure in `error`, for the import's thread to report."""

    def __init__(self, params: dict, create_sql: str, copy_sql: str, chunks, progress):
        super().__init__(daemon=True)
        self.params, self.create_sql, self.copy_sql = params, create_sql, copy_sql
        self.chunks, self.progress = chunks, progress
        self.rows, self.error = 0, None

    def run(self):
        try:
            with psycopg.connect(**self.params) as conn, conn.cursor() as cursor:  # commits on success
                cursor.execute(self.create_sql)
                with cursor.copy(self.copy_sql) as copy:
                    for chunk in self.chunks:
                        copy.write(chunk)
                        self.progress.add(chunk)
                self.rows = cursor.rowcount
        except Exception as exc:  # noqa: BLE001 - handed to the import's thread, which reports it
            self.error = exc
