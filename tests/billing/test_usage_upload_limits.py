"""Usage files that are too big, not what their name says, or compression bombs are refused with a clear
message, before they are stored or read into memory; nothing is imported."""

import gzip
import resource

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from billing.models_usage import UsageImport, UsageRow
from customer360.tenancy import tenant_scope

from .focus_files import generate, import_file

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def post(client, name, content):
    return client.post(reverse("billing:usage_imports"), {"file": SimpleUploadedFile(name, content)})


def stored_files(settings) -> list:
    root = settings.MEDIA_ROOT
    return [p for p in root.rglob("*") if p.is_file()] if root.exists() else []


def test_an_upload_over_the_limit_is_stopped_before_it_is_kept(make_client, reseller, settings):
    settings.C360_MAX_UPLOAD_MB = 1
    client = make_client(reseller, Role.BILLING)
    response = post(client, "big.csv", b"BilledCost,x\n" + b"1,2\n" * 600_000)  # 2.4 MB
    assert response.status_code == 413
    errors = response.context["form"].errors["file"]
    assert errors == [
        "The upload is 2.3 MB; the largest file accepted is 1.0 MB. Split it (e.g. one file per month) and "
        "upload the parts."
    ]
    with tenant_scope(reseller):
        assert not UsageImport.objects.exists()
    assert stored_files(settings) == []


@pytest.mark.parametrize(
    "name, content, message",
    [
        ("usage.csv", b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + b"\x00" * 100, "should be UTF-8 CSV text, but its content is not text (binary data)"),
        ("usage.csv", gzip.compress(b"BilledCost\n1\n"), "should be UTF-8 CSV text, but its content is gzip-compressed"),
        ("usage.parquet", b"BilledCost,ChargePeriodStart\n1,2\n", "should be a Parquet file, but its content is plain text"),
        ("usage.csv.gz", b"BilledCost\n1\n", "should be gzip-compressed CSV, but its content is plain text"),
        ("usage.csv", b"", "The submitted file is empty."),  # Django's own check, before ours
    ],
)  # fmt: skip
def test_content_that_contradicts_the_name_is_refused_on_the_field(make_client, reseller, settings, name, content,
                                                                   message):  # fmt: skip
    response = post(make_client(reseller, Role.BILLING), name, content)
    assert response.status_code == 400
    assert message in " ".join(response.context["form"].errors["file"])
    with tenant_scope(reseller):
        assert not UsageImport.objects.exists()
    assert stored_files(settings) == []


def _bomb(path, megabytes: int, line: bytes = b"0" * 1023 + b"\n"):
    with gzip.open(path, "wb", compresslevel=9) as f:
        block = line * 1024  # 1 MB
        for _ in range(megabytes):
            f.write(block)
    return path


def test_a_compression_bomb_fails_the_import_without_filling_memory(reseller, tmp_path):
    real = generate(tmp_path, "aws", "1.2", 20)
    header = real.read_text().splitlines()[0].encode() + b"\n"
    bomb = tmp_path / "bomb.csv.gz"
    with gzip.open(bomb, "wb", compresslevel=9) as f:
        f.write(header)
        block = b"," * header.count(b",") + b"\n"  # a row of empty values
        block = block * ((1 << 20) // len(block) + 1)  # about 1 MB
        for _ in range(400):  # ~400 MB of empty rows, about 0.4 MB compressed
            f.write(block)
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    with tenant_scope(reseller):
        record = import_file(bomb)
        assert record.status == UsageImport.Status.FAILED
        assert (
            "expands more than 200 times its size" in record.error and "Nothing was imported" in record.error
        )
        assert not UsageRow.objects.exists()
    grown_mb = (resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) / 1024
    assert grown_mb < 100, f"the import grew the process by {grown_mb:.0f} MB"


def test_a_header_line_that_never_ends_is_refused(reseller, tmp_path):
    bomb = _bomb(tmp_path / "line.csv.gz", 8, line=b"A" * 1024)  # 8 MB and no newline at all
    with tenant_scope(reseller):
        record = import_file(bomb)
    assert record.status == UsageImport.Status.FAILED
    assert "Line 1 is longer than 1,024 KB without ending" in record.error


def test_a_real_gzip_file_still_imports(reseller, tmp_path):
    real = generate(tmp_path, "gcp", "1.3", 50)
    packed = tmp_path / "real.csv.gz"
    packed.write_bytes(gzip.compress(real.read_bytes()))
    with tenant_scope(reseller):
        record = import_file(packed)
    assert record.status == UsageImport.Status.DONE, record.error
    assert record.rows_read == 50
