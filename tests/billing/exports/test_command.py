"""python manage.py export_billing: to a local folder and to an S3 bucket (moto's server), read back."""

import io
import uuid

import boto3
import pyarrow.dataset as ds
import pytest
from django.core.management import CommandError, call_command

from .helpers import check_manifest, manifest_json, rows_of

pytestmark = pytest.mark.django_db


def test_to_a_folder(usage, tmp_path):
    out = io.StringIO()
    call_command("export_billing", "--reseller", "acme", "--period", "2026-05", "--format", "parquet",
                 "--basis", "resale", "--out", str(tmp_path / "lake"), stdout=out)  # fmt: skip
    assert "Exported 600 rows (2026-05-01 to 2026-05-31, parquet, resale basis)" in out.getvalue()
    table = ds.dataset(tmp_path / "lake", format="parquet", partitioning="hive").to_table()
    assert table.num_rows == 600
    part = tmp_path / "lake" / "BILLING_PERIOD=2026-05"
    assert sorted(p.name for p in part.iterdir()) == ["_manifest.json", "part-00000.parquet"]
    files = {"BILLING_PERIOD=2026-05/part-00000.parquet": (part / "part-00000.parquet").read_bytes()}
    check_manifest(manifest_json((part / "_manifest.json").read_bytes()), files)
    assert not (tmp_path / "lake" / ".c360-tmp").exists()


def test_one_customer_to_s3(usage, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACOMMAND")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "command-secret")
    bucket = f"cmd-{uuid.uuid4().hex[:8]}"
    client = boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1")
    client.create_bucket(Bucket=bucket)
    call_command("export_billing", "--reseller", "acme", "--customer", "initech", "--period", "2026-05",
                 "--format", "csv", "--basis", "cost", "--out", f"s3://{bucket}/focus/initech",
                 "--endpoint-url", s3_server.url, stdout=io.StringIO())  # fmt: skip
    key = "focus/initech/BILLING_PERIOD=2026-05/part-00000.csv"
    rows = rows_of(client.get_object(Bucket=bucket, Key=key)["Body"].read(), "csv")
    assert rows and {r["x_CustomerName"] for r in rows} == {"Initech"}
    assert {r["BillingCurrency"] for r in rows} == {"USD"} and "x_CustomerPrice" in rows[0]


def test_errors_in_plain_words(usage, s3_server, monkeypatch):
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIACOMMAND")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "command-secret")
    with pytest.raises(CommandError, match="No reseller has the slug 'nope'"):
        call_command("export_billing", "--reseller", "nope", "--out", "/tmp/x")
    with pytest.raises(CommandError, match="Give the period as YYYY-MM"):
        call_command("export_billing", "--reseller", "acme", "--period", "May", "--out", "/tmp/x")
    with pytest.raises(CommandError, match="The Amazon S3 bucket “missing” does not exist"):
        call_command("export_billing", "--reseller", "acme", "--period", "2026-05", "--out", "s3://missing/x",
                     "--endpoint-url", s3_server.url, stdout=io.StringIO())  # fmt: skip
