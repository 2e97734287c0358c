"""Reading the file for the staging tables (billing.ingest): the progress shown while COPY runs, and the
cut of a big uncompressed CSV file into chunks at line starts (billing.ingest_pipeline copies, types and
inserts them one by one, on more than one connection at once).

A chunk starts at a line start outside quoted fields: a quoted field may hold newlines, and its quotes
(doubled ones too) come in pairs, so a newline ends a line when the quotes before it are even. That is
how COPY's CSV reader finds a line's end too, so each chunk's COPY reads the lines one COPY of the file
would, and reports the same errors (on the chunk's own line numbers). Gzip and Parquet files are read as
a stream: one COPY.
"""

import os
import threading
import time

import psycopg
from django.db import connection

from .models_usage import UsageImport

CHUNK = 1 << 20
PROGRESS_SECONDS = 2
SPLIT_MIN_BYTES = 64 << 20  # below this the helper connections are not worth their set-up
CHUNK_BYTES = 192 << 20  # ~10 chunks for 2 M rows (1.9 GB); see docs/benchmarks.md


class Progress:
    """Rows read so far (newlines seen), written every PROGRESS_SECONDS on a connection of its own, so the
    import page shows them while the COPY's transaction is still open. run_import passes an import id
    only when it runs outside a transaction (a task, the command): there the import record is committed.
    Chunks copied on two connections add to it from two threads."""

    def __init__(self, import_id):
        self.import_id, self.rows, self.last, self.conn = import_id, 0, time.monotonic(), None
        self.lock = threading.Lock()
        if import_id is not None:
            self.conn = psycopg.connect(**driver_params(), autocommit=True)

    def add(self, chunk: bytes):
        with self.lock:
            self.rows += chunk.count(b"\n")
            if self.conn is None or time.monotonic() - self.last < PROGRESS_SECONDS:
                return
            self.last = time.monotonic()
            self._write("rows_read = %s", self.rows)

    def finish(self, rows: int):
        """The whole file is read (chunks are inserted meanwhile: the import's transaction is open)."""
        with self.lock:
            if self.conn is not None:
                self._write("rows_read = %s, status = %s", rows, UsageImport.Status.PROCESSING.value)

    def _write(self, assignments: str, *values):
        table = UsageImport._meta.db_table
        self.conn.execute(
            f"UPDATE {table} SET {assignments}, heartbeat_at = now() WHERE id = %s", (*values, self.import_id)
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


def record_boundaries(path, start: int, step: int | None = None) -> list[int] | None:
    """The offsets of the file's chunks, from `start` (the data's) to the file's end: each cut is the first
    line start (outside quoted fields) at least `step` bytes (CHUNK_BYTES) after the previous one. None for
    a small file or one with no such line start. One read of the file, counting quotes (~1 s for 2 GB)."""
    size, step = os.path.getsize(path), step or CHUNK_BYTES
    if size - start < SPLIT_MIN_BYTES:
        return None
    cuts, quotes, pos = [start], 0, start
    with open(path, "rb") as f:
        f.seek(start)
        while (target := cuts[-1] + step) < size:
            while pos < target and (chunk := f.read(min(CHUNK, target - pos))):
                quotes += chunk.count(b'"')
                pos += len(chunk)
            cut = None
            while cut is None and (chunk := f.read(CHUNK)):
                begin = 0
                while (newline := chunk.find(b"\n", begin)) >= 0:
                    quotes += chunk.count(b'"', begin, newline)
                    begin = newline + 1
                    if quotes % 2 == 0:
                        cut = pos + begin
                        break
                if cut is None:
                    quotes += chunk.count(b'"', begin)
                    pos += len(chunk)
            if cut is None or cut >= size:
                break
            cuts.append(cut)
            f.seek(pos := cut)  # the quotes before the cut are counted, and they are even
    return [*cuts, size] if len(cuts) > 1 else None


def byte_range(path, start: int, end: int | None = None):
    """The file's bytes from `start` up to `end` (or its end), in chunks."""
    with open(path, "rb") as f:
        f.seek(start)
        while True:
            size = CHUNK if end is None else min(CHUNK, end - f.tell())
            if size <= 0 or not (chunk := f.read(size)):
                return
            yield chunk
