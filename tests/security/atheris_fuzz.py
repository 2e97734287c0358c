"""Coverage-guided fuzzing (atheris, libFuzzer) of the import parsers' pure-Python parts: the catalog
file readers and value converters (marketplace.importer) and the FOCUS header reader and column mapping
(billing.ingest.read_header, billing.focus.layout_for). The database part of each import runs under
hypothesis in test_parser_fuzz.py.

    .venv/bin/python tests/security/atheris_fuzz.py catalog -max_total_time=600
    .venv/bin/python tests/security/atheris_fuzz.py focus -max_total_time=600

Arguments after the target go to libFuzzer (-max_total_time, -runs, a corpus directory). The only
allowed exceptions are the parsers' own (RowError, FocusFormatError), each with a message; anything
else stops the run with the input that raised it saved as crash-<sha1>.
"""

import os
import sys
import tempfile
from pathlib import Path

import atheris

sys.path.insert(0, str(Path(__file__).resolve().parents[2]))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customer360.settings")

import django  # noqa: E402

django.setup()
with atheris.instrument_imports(include=["billing", "marketplace"]):
    from billing import focus
    from billing.ingest import read_header
    from marketplace import importer


def catalog(data: bytes) -> None:
    text = data.decode("utf-8", "surrogatepass") if data.isascii() else data.decode("utf-8", "replace")
    for read in (importer.read_csv, importer.read_json):
        try:
            records = read(text)
        except importer.RowError as exc:
            assert exc.message.strip()
            continue
        for _, row in records:
            for convert in (importer._decimal, importer._int, importer._bool):
                for name, value in row.items():
                    try:
                        convert(value, name)
                    except importer.RowError as exc:
                        assert exc.message.strip()
            for name in row:
                try:
                    importer._text(row, name)
                    importer._attributes(row.get(name))
                    importer._list(row.get(name))
                except importer.RowError as exc:
                    assert exc.message.strip()


def focus_header(data: bytes) -> None:
    with tempfile.NamedTemporaryFile(suffix=".csv") as f:
        f.write(data)
        f.flush()
        try:
            focus.layout_for(read_header(f.name), provider="aws" if data[:1] == b"a" else "")
        except focus.FocusFormatError as exc:
            assert str(exc).strip()


TARGETS = {"catalog": catalog, "focus": focus_header}

if __name__ == "__main__":
    if len(sys.argv) < 2 or sys.argv[1] not in TARGETS:
        sys.exit(f"usage: {sys.argv[0]} {{{'|'.join(TARGETS)}}} [libFuzzer options]")
    target = TARGETS[sys.argv.pop(1)]
    atheris.Setup(sys.argv, target)
    atheris.Fuzz()
