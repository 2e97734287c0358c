"""What a usage file must be before it is stored, and how it is read without trusting it.

* Its content must be what its name says: Parquet starts with PAR1, a .gz is gzip, a .csv is text (no NUL
  bytes in its first 64 KB); anything else is refused on the upload form, before it is stored. (Text in
  another encoding than UTF-8 is left to the import, whose report names the first line that is not UTF-8.)
* The header line is read with a bound (1 MB): a file whose "line 1" never ends is refused, not read
  into memory.
* A compressed file may not expand without bound: once more than 256 MB have been decompressed, a file
  expanding more than C360_MAX_EXPANSION_RATIO times its compressed size is a compression bomb and the
  import fails with that reason (FOCUS CSVs compress 10-30 times). A Parquet file's declared size is
  checked from its footer before any row group is read.
"""

import csv
import gzip

from django.conf import settings
from django.core.exceptions import ValidationError

from . import focus

SNIFF_BYTES = 64 * 1024
MAX_HEADER_BYTES = 1 << 20
RATIO_CHECK_AFTER = 256 * 1024 * 1024


class ExpansionRefused(ValueError):
    """A compressed usage file expands far more than a cost-and-usage file can."""


def _kind(head: bytes) -> str:
    if head.startswith(b"PAR1"):
        return "parquet"
    if head.startswith(b"\x1f\x8b"):
        return "gzip"
    if b"\x00" in head:
        return "binary"
    # Text in another encoding than UTF-8 is still text: the import names its first bad line.
    return "text"


def check_content(file, name: str) -> None:
    """Refuse (ValidationError on "file") a file whose first bytes contradict its name."""
    position = file.tell() if hasattr(file, "tell") else 0
    head = file.read(SNIFF_BYTES)
    file.seek(position)
    kind, lower = _kind(head or b""), name.lower()
    wanted = "parquet" if lower.endswith(".parquet") else "gzip" if lower.endswith(".gz") else "text"
    if not head:
        raise ValidationError({"file": "The file is empty."})
    if kind != wanted:
        found = {"parquet": "a Parquet file", "gzip": "gzip-compressed", "binary": "not text (binary data)",
                 "text": "plain text"}[kind]  # fmt: skip
        expected = {"parquet": "a Parquet file", "gzip": "gzip-compressed CSV", "text": "UTF-8 CSV text"}[
            wanted
        ]
        raise ValidationError({"file": f"{name} should be {expected}, but its content is {found}."})


class BoundedGzip:
    """A gzip reader that refuses to expand past the ratio (see the module's docstring)."""

    def __init__(self, path):
        self._raw = open(path, "rb")  # noqa: SIM115 - closed by close()
        self._gz = gzip.GzipFile(fileobj=self._raw, mode="rb")
        self._out = 0

    def _count(self, data: bytes) -> bytes:
        self._out += len(data)
        if self._out > RATIO_CHECK_AFTER:
            ratio = self._out / max(self._raw.tell(), 1)
            if ratio > settings.C360_MAX_EXPANSION_RATIO:
                raise ExpansionRefused(
                    f"The compressed file expands more than {settings.C360_MAX_EXPANSION_RATIO} times its size "
                    f"({self._out // (1 << 20):,} MB from {self._raw.tell() // (1 << 20):,} MB and growing): it "
                    "is not a cost-and-usage file. Nothing was imported."
                )
        return data

    def read(self, size=-1) -> bytes:
        return self._count(self._gz.read(size))

    def readline(self, size=-1) -> bytes:
        return self._count(self._gz.readline(size))

    def close(self):
        self._gz.close()
        self._raw.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def check_parquet_size(parquet_file, path) -> None:
    """Refuse a Parquet file whose row groups declare far more data than the file holds."""
    import os

    declared = sum(
        parquet_file.metadata.row_group(i).total_byte_size for i in range(parquet_file.num_row_groups)
    )
    stored = max(os.path.getsize(path), 1)
    if declared > RATIO_CHECK_AFTER and declared / stored > settings.C360_MAX_EXPANSION_RATIO:
        raise ExpansionRefused(
            f"The Parquet file declares {declared // (1 << 20):,} MB of data in {stored // (1 << 20):,} MB: more "
            f"than {settings.C360_MAX_EXPANSION_RATIO} times its size. Nothing was imported."
        )


# Reading a stored file's kind and header (billing.ingest; the upload form's checks are above).
def is_parquet(path) -> bool:
    with open(path, "rb") as f:
        return f.read(4) == b"PAR1"


def is_gzip(path) -> bool:
    with open(path, "rb") as f:
        return f.read(2) == b"\x1f\x8b"


def open_binary(path):
    return BoundedGzip(path) if is_gzip(path) else open(path, "rb")  # noqa: SIM115 - the callers close it


def read_header(path) -> list:
    """Line 1 of a CSV file (gzipped or not), or a Parquet file's column names; FocusFormatError if none."""
    if is_parquet(path):
        import pyarrow as pa
        import pyarrow.parquet as pq

        try:
            parquet = pq.ParquetFile(path)
            check_parquet_size(parquet, path)
            return list(parquet.schema_arrow.names)
        except ExpansionRefused as exc:
            raise focus.FocusFormatError(str(exc)) from exc
        except (pa.ArrowException, OSError) as exc:  # a truncated or corrupt file
            raise focus.FocusFormatError(f"The Parquet file cannot be read: {exc}") from exc
    with open_binary(path) as f:
        try:
            raw = f.readline(MAX_HEADER_BYTES)
            if not raw.endswith(b"\n") and len(raw) >= MAX_HEADER_BYTES:
                raise focus.FocusFormatError(
                    f"Line 1 is longer than {MAX_HEADER_BYTES // 1024:,} KB without ending: it is not a FOCUS header."
                )
            line = raw.decode("utf-8-sig")
        except UnicodeDecodeError as exc:
            raise focus.FocusFormatError("Line 1 is not UTF-8 text: the file must be UTF-8 encoded.") from exc
        except ExpansionRefused as exc:
            raise focus.FocusFormatError(str(exc)) from exc
        except (OSError, EOFError) as exc:
            raise focus.FocusFormatError(f"The file cannot be read: {exc}") from exc
    try:
        header = next(csv.reader([line]), [])
    except csv.Error as exc:  # e.g. a carriage return alone inside the header line
        raise focus.FocusFormatError(f"Line 1 is not a CSV header: {exc}.") from exc
    if not header:
        raise focus.FocusFormatError("The file is empty: line 1 should be the FOCUS header.")
    return header
