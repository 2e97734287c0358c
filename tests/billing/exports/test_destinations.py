"""Exports to real storage servers on 127.0.0.1 (moto's S3 server, gcp-storage-emulator, Azurite), read
back with the providers' own clients, pyarrow and the csv module; a missing bucket and bad credentials
fail the run in plain words, raise an alert and never show the secret."""

import uuid

import boto3
import pytest

from customer360.tenancy import tenant_scope
from customers.models import Alert

from .conftest import MAY
from .helpers import check_manifest, make_export, manifest_json, rows_of, run_now
from .servers import AZURITE_ACCOUNT, AZURITE_KEY

pytestmark = pytest.mark.django_db

S3_SECRETS = {"access_key_id": "AKIAEXPORTTEST", "secret_access_key": "s3cr3t-export-key-do-not-show"}


def s3_client(server):
    return boto3.client(
        "s3", endpoint_url=server.url, region_name="us-east-1", aws_access_key_id=S3_SECRETS["access_key_id"],
        aws_secret_access_key=S3_SECRETS["secret_access_key"],
    )  # fmt: skip


def check_run(run, fetch, fmt):
    assert run.status == "done", run.error
    files = {f["path"]: fetch(f["path"]) for f in run.files}
    files[run.manifest_path] = fetch(run.manifest_path)
    check_manifest(manifest_json(files[run.manifest_path]), files)
    [entry] = run.files
    rows = rows_of(files[entry["path"]], fmt)
    assert len(rows) == entry["rows"] == 600
    return rows


@pytest.mark.parametrize("fmt", ["parquet", "csv.gz"])
def test_s3(usage, s3_server, fmt):
    bucket = f"exports-{uuid.uuid4().hex[:8]}"
    client = s3_client(s3_server)
    client.create_bucket(Bucket=bucket)
    export = make_export(
        usage.reseller, format=fmt, month=MAY, destination="s3", secrets=S3_SECRETS,
        settings={"bucket": bucket, "prefix": "focus/acme", "region": "us-east-1", "endpoint_url": s3_server.url},
    )  # fmt: skip
    run = run_now(export)
    rows = check_run(run, lambda key: client.get_object(Bucket=bucket, Key=key)["Body"].read(), fmt)
    assert run.files[0]["path"] == f"focus/acme/BILLING_PERIOD=2026-05/part-00000.{fmt}"
    head = client.head_object(Bucket=bucket, Key=run.files[0]["path"])
    assert "ContentEncoding" not in head  # a .csv.gz downloads as the gzip file it is
    assert {r["x_CustomerId"] for r in rows} == {str(c.pk) for c in usage.customers}
    # Only the finished files are there: no temporary name was ever written to the bucket.
    keys = {o["Key"] for o in client.list_objects_v2(Bucket=bucket)["Contents"]}
    assert keys == {run.files[0]["path"], run.manifest_path}


def test_s3_missing_bucket_fails_in_plain_words_with_an_alert(usage, s3_server, caplog):
    export = make_export(
        usage.reseller, format="csv", month=MAY, destination="s3", secrets=S3_SECRETS, customer=usage.customers[0],
        settings={"bucket": "no-such-bucket", "endpoint_url": s3_server.url},
    )  # fmt: skip
    run = run_now(export)
    assert run.status == "failed"
    assert "The Amazon S3 bucket “no-such-bucket” does not exist." in run.error
    with tenant_scope(usage.reseller):
        alert = Alert.objects.get(kind=Alert.Kind.EXPORT_FAILED)
        assert alert.customer == usage.customers[0] and "does not exist" in alert.message
    secret = S3_SECRETS["secret_access_key"]
    assert secret not in run.error and secret not in caplog.text
    assert secret not in export.credentials  # stored encrypted


def test_gcs(usage, gcs_server):
    from google.auth.credentials import AnonymousCredentials
    from google.cloud import storage

    client = storage.Client(
        project="test", credentials=AnonymousCredentials(), client_options={"api_endpoint": gcs_server.url}
    )
    bucket = client.create_bucket(f"exports-{uuid.uuid4().hex[:8]}")
    export = make_export(
        usage.reseller, format="parquet", month=MAY, destination="gcs",
        settings={"bucket": bucket.name, "prefix": "gcs/focus", "endpoint_url": gcs_server.url},
    )  # fmt: skip
    run = run_now(export)
    check_run(run, lambda key: bucket.blob(key).download_as_bytes(), "parquet")
    assert sorted(b.name for b in client.list_blobs(bucket.name)) == sorted(
        [run.files[0]["path"], run.manifest_path]
    )


def test_gcs_missing_bucket(usage, gcs_server):
    export = make_export(
        usage.reseller, format="csv", month=MAY, destination="gcs",
        settings={"bucket": "missing-bucket", "endpoint_url": gcs_server.url},
    )  # fmt: skip
    run = run_now(export)
    assert run.status == "failed" and "Google Cloud Storage bucket “missing-bucket”" in run.error


def azure_container(server, name):
    from azure.storage.blob import BlobServiceClient

    service = BlobServiceClient(
        account_url=server.blob_endpoint,
        credential={"account_name": AZURITE_ACCOUNT, "account_key": AZURITE_KEY},
    )
    return service.create_container(name)


def test_azure(usage, azurite_server):
    container = azure_container(azurite_server, f"exports-{uuid.uuid4().hex[:8]}")
    export = make_export(
        usage.reseller, format="csv", month=MAY, destination="azure", secrets={"account_key": AZURITE_KEY},
        settings={"account_name": AZURITE_ACCOUNT, "container": container.container_name, "prefix": "focus",
                  "endpoint_url": azurite_server.blob_endpoint},
    )  # fmt: skip
    run = run_now(export)
    rows = check_run(run, lambda key: container.download_blob(key).readall(), "csv")
    assert {r["BillingCurrency"] for r in rows} == {"USD", "EUR"}
    assert sorted(b.name for b in container.list_blobs()) == sorted([run.files[0]["path"], run.manifest_path])


def test_azure_bad_credentials(usage, azurite_server):
    container = azure_container(azurite_server, f"exports-{uuid.uuid4().hex[:8]}")
    wrong = "V3JvbmdLZXlXcm9uZ0tleVdyb25nS2V5V3JvbmdLZXk="
    export = make_export(
        usage.reseller, format="parquet", month=MAY, destination="azure", secrets={"account_key": wrong},
        settings={"account_name": AZURITE_ACCOUNT, "container": container.container_name,
                  "endpoint_url": azurite_server.blob_endpoint},
    )  # fmt: skip
    run = run_now(export)
    assert run.status == "failed"
    assert "refused" in run.error or "not allowed" in run.error, run.error
    assert wrong not in run.error
    assert list(container.list_blobs()) == []
    with tenant_scope(usage.reseller):
        alert = Alert.objects.get(kind=Alert.Kind.EXPORT_FAILED)
    assert "(all customers)" in alert.title
    assert alert.customer is None  # reseller-wide: the dashboard lists it first
