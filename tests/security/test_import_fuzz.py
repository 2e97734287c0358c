"""Every import of the product, fed naughty files: the usage upload (billing, FOCUS CSV/CSV.gz/Parquet,
through the page a user has) and the catalog import (marketplace, `manage.py import_catalog`, CSV/JSON).

No crash, a message the user sees (the upload form's error, the import page's report, the command's
"line N: field: message"), and nothing half-imported: both imports are all-or-nothing.
"""

import gzip
import io

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.core.management import CommandError, call_command
from django.urls import reverse

from accounts.models import Role
from billing.ingest import run_import
from billing.models_usage import UsageImport, UsageRow
from customer360.tenancy import tenant_scope
from marketplace.models import AddOn, Plan, Product, Provider

from .naughty import LONG_TEXT

pytestmark = pytest.mark.django_db

HEADER = "BillingAccountId,SubAccountId,ProviderName,ChargePeriodStart,BilledCost,BillingCurrency,ServiceName"
ROW = "111122223333,111122223333,AWS,2026-01-05T00:00:00Z,1.25,USD,Amazon EC2"


def _parquet(columns: dict) -> bytes:
    import pyarrow as pa
    import pyarrow.parquet as pq

    buf = io.BytesIO()
    pq.write_table(pa.table(columns), buf)
    return buf.getvalue()


def _lines(*lines) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


GOOD_PARQUET = {
    "BillingAccountId": ["111122223333"], "SubAccountId": ["111122223333"], "ProviderName": ["AWS"],
    "ChargePeriodStart": ["2026-01-05T00:00:00Z"], "BilledCost": ["1.25"],
}  # fmt: skip

USAGE_FILES = {
    "empty": ("u.csv", b""),
    "only a header": ("u.csv", _lines(HEADER)),
    "BOM and CRLF": ("u.csv", b"\xef\xbb\xbf" + _lines(HEADER, ROW).replace(b"\n", b"\r\n")),
    "UTF-16": ("u.csv", _lines(HEADER, ROW).decode().encode("utf-16")),
    "Latin-1 cell": (
        "u.csv",
        _lines(HEADER, ROW.replace("Amazon EC2", "Caf\xe9")).decode().encode("latin-1"),
    ),
    "NUL byte in a row": ("u.csv", _lines(HEADER) + b"1111,1111,AWS,2026-01-05,1\x00,USD,x\n"),
    "ragged rows": ("u.csv", _lines(HEADER, ROW + ",extra,cells", "111122223333,AWS")),
    "huge cell": ("u.csv", _lines(HEADER, ROW.replace("Amazon EC2", LONG_TEXT * 20))),
    "formula payloads": (
        "u.csv",
        _lines(HEADER, ROW.replace("Amazon EC2", '=HYPERLINK("x")').replace("1.25", "=1+1")),
    ),
    "duplicate headers": ("u.csv", _lines(HEADER + ",BilledCost", ROW + ",abc")),
    "wrong types in numbers": (
        "u.csv",
        _lines(HEADER, ROW.replace("1.25", "1e309"), ROW.replace("1.25", "NaN")),
    ),
    "impossible date": ("u.csv", _lines(HEADER, ROW.replace("2026-01-05", "0000-00-00"))),
    "far date": ("u.csv", _lines(HEADER, ROW.replace("2026-01-05", "9999-12-31"))),
    "CR inside the header": ("u.csv", b"BilledCost\rx," + _lines(HEADER, ROW)),
    "unclosed quote": ("u.csv", _lines(HEADER, '"111122223333,' + ROW)),
    "not gzip inside": ("u.csv.gz", b"\x1f\x8b" + b"\x00" * 64),
    "truncated gzip": ("u.csv.gz", gzip.compress(_lines(HEADER, ROW))[:-12]),
    "truncated parquet": ("u.parquet", _parquet(GOOD_PARQUET)[:-40]),
    "parquet of numbers": ("u.parquet", _parquet({**GOOD_PARQUET, "BilledCost": [float("nan")]})),
    "parquet footer only": ("u.parquet", b"PAR1" + b"\x00" * 8 + b"PAR1"),
}


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


@pytest.mark.parametrize("case", USAGE_FILES)
def test_a_naughty_usage_file_is_refused_with_a_message_and_nothing_imported(make_client, reseller, case):
    name, content = USAGE_FILES[case]
    client = make_client(reseller, Role.BILLING)
    response = client.post(reverse("billing:usage_imports"), {"file": SimpleUploadedFile(name, content)})
    assert response.status_code in (302, 400), response.status_code
    if response.status_code == 400:
        assert 'class="errorlist' in response.content.decode()
        with tenant_scope(reseller):
            assert not UsageImport.objects.exists()
        return
    with tenant_scope(reseller):
        record = run_import(UsageImport.objects.get())  # the task's work, synchronously
        page = client.get(response["Location"])
        assert page.status_code == 200
        if record.status == UsageImport.Status.FAILED:
            assert record.error.strip() and 'data-testid="usage-error"' in page.content.decode()
            assert not UsageRow.objects.exists(), "a failed import keeps no row"
        else:
            assert record.status == UsageImport.Status.DONE
            assert UsageRow.objects.count() == record.rows_new


CATALOG_HEADER = "record,provider,product,name,type,sku,unit_cost,list_price"
CATALOG_GOOD = [
    "provider,fz,,Fuzz Cloud,,,,",
    "product,fz,,Fuzz Suite,license,,,",
    "plan,fz,Fuzz Suite,Basic,,FZ-1,1.00,2.00",
]
CATALOG_FILES = {
    "empty csv": ("c.csv", b""),
    "empty json": ("c.json", b""),
    "only a header": ("c.csv", _lines(CATALOG_HEADER)),
    "BOM": ("c.csv", b"\xef\xbb\xbf" + _lines(CATALOG_HEADER, *CATALOG_GOOD)),
    "UTF-16": ("c.csv", _lines(CATALOG_HEADER, *CATALOG_GOOD).decode().encode("utf-16")),
    "Latin-1": (
        "c.csv",
        _lines(CATALOG_HEADER, CATALOG_GOOD[0].replace("Fuzz", "Caf\xe9")).decode().encode("latin-1"),
    ),
    "NUL in a cell": ("c.csv", _lines(CATALOG_HEADER, CATALOG_GOOD[0].replace("Fuzz", "Fu\x00zz"))),
    "CR inside a cell": ("c.csv", _lines(CATALOG_HEADER, CATALOG_GOOD[0].replace("Fuzz", "Fu\rzz"))),
    "ragged rows": ("c.csv", _lines(CATALOG_HEADER, CATALOG_GOOD[0] + ",x,y", "product,fz")),
    "huge cell": ("c.csv", _lines(CATALOG_HEADER, CATALOG_GOOD[0].replace("Fuzz Cloud", LONG_TEXT))),
    "formula payloads": (
        "c.csv",
        _lines(CATALOG_HEADER, CATALOG_GOOD[0].replace("Fuzz Cloud", "=cmd|'/C calc'!A0")),
    ),
    "duplicate headers": ("c.csv", _lines(CATALOG_HEADER + ",name", CATALOG_GOOD[0] + ",Other")),
    "money not numbers": (
        "c.csv",
        _lines(
            CATALOG_HEADER, *CATALOG_GOOD[:2], CATALOG_GOOD[2].replace("1.00", "NaN").replace("2.00", "1e309")
        ),
    ),
    "JSON not records": ("c.json", b'[1, "x", null]'),
    "JSON wrong types": ("c.json", b'[{"record": "provider", "provider": ["fz"], "name": {"a": 1}}]'),
    "JSON NUL": ("c.json", b'[{"record": "provider", "provider": "fz", "name": "a\\u0000b"}]'),
    "JSON float money": ("c.jsonl", b'{"record": "plan", "unit_cost": 1.5}\n'),
    "JSON deeply nested": ("c.json", b"[" * 100_000),
    "JSON huge number": ("c.json", b'[{"record": "plan", "unit_cost": 2e2222222222222222222}]'),
    "unknown suffix": ("c.xlsx", b"PK\x03\x04"),
}


@pytest.mark.parametrize("case", CATALOG_FILES)
def test_a_naughty_catalog_file_is_refused_by_line_and_nothing_imported(tmp_path, capsys, case, db):
    name, content = CATALOG_FILES[case]
    path = tmp_path / name
    path.write_bytes(content)
    before = [m.objects.count() for m in (Provider, Product, Plan, AddOn)]
    try:
        call_command("import_catalog", str(path))
    except CommandError as exc:
        errors = capsys.readouterr().err.splitlines()
        assert "nothing was imported" in str(exc)
        assert errors and all(e.startswith("line ") and e.split(":", 2)[-1].strip() for e in errors), errors
        assert [m.objects.count() for m in (Provider, Product, Plan, AddOn)] == before
    else:
        assert "Imported" in capsys.readouterr().out
