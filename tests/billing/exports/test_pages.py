"""The Billing exports pages: define an export (credentials never shown again), run it now, watch its
progress, download its files, see the run history; roles and the schedule."""

from datetime import UTC, datetime

import pytest
from django.urls import reverse

from accounts.models import Role
from billing.exports import services
from billing.models_exports import BillingExport, ExportRun
from customer360.celery import app as celery_app
from customer360.tenancy import tenant_scope

from .conftest import MAY
from .helpers import make_export, rows_of

pytestmark = pytest.mark.django_db

SECRET = "wJalrXUtnFEMI-never-shown-again"


@pytest.fixture
def eager():
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def form_data(**overrides):
    data = {"name": "Initech monthly", "customer": "Initech", "period_kind": "month", "month": "2026-05",
            "providers": ["aws"], "accounts": "", "format": "csv", "basis": "resale", "schedule": "monthly",
            "destination": "download", "prefix": "initech/focus"}  # fmt: skip
    data.update(overrides)
    return data


def test_define_run_watch_and_download(usage, make_client, eager, django_capture_on_commit_callbacks):
    client = make_client(usage.reseller, Role.BILLING)
    r = client.get(reverse("billing:exports"))
    assert r.status_code == 200 and b"No billing export yet" in r.content
    r = client.post(reverse("billing:export_new"), form_data())
    assert r.status_code == 302, r.content.decode()[:3000]
    with tenant_scope(usage.reseller):
        export = BillingExport.objects.get()
        assert export.customer == usage.customers[0] and export.next_run_at is not None
    assert r["Location"] == reverse("billing:export", args=[export.pk])
    page = client.get(r["Location"]).content.decode()
    assert "Initech monthly" in page and "Monthly (on the 2nd)" in page and "Not run yet" in page

    with django_capture_on_commit_callbacks(execute=True):
        r = client.post(reverse("billing:export", args=[export.pk]))
    with tenant_scope(usage.reseller):
        run = ExportRun.objects.get()
    assert r["Location"] == reverse("billing:export_run", args=[run.pk])
    assert run.status == "done" and run.rows_written == run.rows_estimated > 0
    progress = client.get(r["Location"], HTTP_HX_REQUEST="true").content.decode()
    assert 'id="export-progress"' in progress and "<html" not in progress  # the htmx partial
    assert "hx-trigger" not in progress  # done: no more polling
    assert f"{run.rows_written} written of about {run.rows_estimated}" in progress
    assert "initech/focus/BILLING_PERIOD=2026-05/part-00000.csv" in progress

    download = client.get(reverse("billing:export_file", args=[run.pk, 0]))
    assert download.status_code == 200
    assert download["Content-Disposition"] == 'attachment; filename="part-00000.csv"'
    rows = rows_of(b"".join(download.streaming_content), "csv")
    assert len(rows) == run.rows_written and {r["x_CustomerName"] for r in rows} == {"Initech"}
    manifest = client.get(reverse("billing:export_file", args=[run.pk, 1]))
    assert b'"focus_version": "1.2"' in b"".join(manifest.streaming_content)
    assert client.get(reverse("billing:export_file", args=[run.pk, 2])).status_code == 404

    history = client.get(reverse("billing:exports")).content.decode()
    assert "Recent runs" in history and "Done" in history and f"{run.rows_written}" in history


def test_a_running_export_is_polled_with_its_progress(usage, make_client):
    client = make_client(usage.reseller, Role.OWNER)
    export = make_export(usage.reseller, month=MAY)
    with tenant_scope(usage.reseller):
        run = services.do_start_run(None, export, queue=False)
        ExportRun.objects.filter(pk=run.pk).update(status="running", rows_written=150)
    page = client.get(reverse("billing:export_run", args=[run.pk])).content.decode()
    assert 'hx-trigger="every 2s"' in page and "150 written of about 600" in page
    assert 'max="600" value="150"' in page


def test_credentials_are_stored_encrypted_and_never_shown_again(usage, make_client, s3_server):
    client = make_client(usage.reseller, Role.OWNER)
    data = form_data(destination="s3", bucket="acme-exports", region="eu-west-1", endpoint_url=s3_server.url,
                     access_key_id="AKIAIOSFODNN7EXAMPLE", secret_access_key=SECRET)  # fmt: skip
    assert client.post(reverse("billing:export_new"), data).status_code == 302
    with tenant_scope(usage.reseller):
        export = BillingExport.objects.get()
    assert SECRET not in export.credentials and "AKIAIOSFODNN7EXAMPLE" not in export.credentials
    for url in (
        reverse("billing:export", args=[export.pk]),
        reverse("billing:export_edit", args=[export.pk]),
    ):
        page = client.get(url).content.decode()
        assert SECRET not in page and "AKIAIOSFODNN7EXAMPLE" not in page
    assert "stored encrypted" in client.get(reverse("billing:export", args=[export.pk])).content.decode()
    # Saving the form again with the credentials left empty keeps them.
    before = export.credentials
    data.update(access_key_id="", secret_access_key="", name="Renamed")
    assert client.post(reverse("billing:export_edit", args=[export.pk]), data).status_code == 302
    with tenant_scope(usage.reseller):
        export.refresh_from_db()
    assert export.name == "Renamed" and export.credentials == before


def test_form_errors_in_plain_words(usage, make_client):
    client = make_client(usage.reseller, Role.OWNER)
    r = client.post(reverse("billing:export_new"), form_data(destination="s3", customer="Nobody",
                                                             accounts="999999999999", month=""))  # fmt: skip
    page = r.content.decode()
    assert r.status_code == 400
    assert "No customer is named &#x27;Nobody&#x27;." in page
    assert "No cloud account of yours has the number 999999999999." in page
    r = client.post(reverse("billing:export_new"), form_data(destination="s3", customer="", month=""))
    page = r.content.decode()
    assert "Choose the month to export." in page and "Required for this destination." in page
    assert "Enter the access key ID and the secret access key." in page
    with tenant_scope(usage.reseller):
        assert not BillingExport.objects.exists()


def test_another_resellers_customer_and_accounts_cannot_be_chosen(usage, make_client):
    client = make_client(usage.reseller, Role.OWNER)
    with tenant_scope(usage.other_reseller):
        account = usage.other_customer.cloud_accounts.first().account_id
    r = client.post(reverse("billing:export_new"), form_data(customer="Globex Customer", accounts=account))
    assert r.status_code == 400
    assert b"No customer is named" in r.content and b"No cloud account of yours" in r.content


def test_viewers_and_sales_read_but_cannot_define_or_run(usage, make_client):
    export = make_export(usage.reseller, month=MAY)
    for role in (Role.VIEWER, Role.SALES):
        client = make_client(usage.reseller, role)
        assert client.get(reverse("billing:exports")).status_code == 200
        assert client.post(reverse("billing:export_new"), form_data()).status_code == 403
        assert client.post(reverse("billing:export", args=[export.pk])).status_code == 403
    with tenant_scope(usage.reseller):
        assert not ExportRun.objects.exists()


def test_scheduled_exports_run_when_due_and_a_failed_one_is_retried_next_time(usage, s3_server):
    export = make_export(
        usage.reseller, month=MAY, schedule="daily", destination="s3",
        secrets={"access_key_id": "AKIAEXPORTTEST", "secret_access_key": "x" * 20},
        settings={"bucket": "not-created-yet", "endpoint_url": s3_server.url},
    )  # fmt: skip
    first = datetime(2026, 6, 3, 2, 0, tzinfo=UTC)
    with tenant_scope(usage.reseller):
        BillingExport.objects.filter(pk=export.pk).update(next_run_at=first)
        assert services.start_due_exports(now=datetime(2026, 6, 3, 1, 59, tzinfo=UTC), queue=False) == []
        [run] = services.start_due_exports(now=first, queue=False)
        assert services.execute_run(run).status == "failed"
        export.refresh_from_db()
        assert export.next_run_at == datetime(2026, 6, 4, 2, 0, tzinfo=UTC)
        assert services.start_due_exports(now=first, queue=False) == []  # not twice in one slot
        import boto3

        boto3.client("s3", endpoint_url=s3_server.url, region_name="us-east-1", aws_access_key_id="a",
                     aws_secret_access_key="b").create_bucket(Bucket="not-created-yet")  # fmt: skip
        [retry] = services.start_due_exports(now=export.next_run_at, queue=False)
        assert retry.trigger == "schedule" and services.execute_run(retry).status == "done"


def test_monthly_and_daily_slots():
    at = datetime(2026, 10, 2, 4, 0, tzinfo=UTC)
    assert services.next_run_after("monthly", at) == datetime(2026, 11, 2, 4, 0, tzinfo=UTC)
    assert services.next_run_after("monthly", datetime(2026, 10, 1, tzinfo=UTC)) == at
    assert services.next_run_after("daily", datetime(2026, 12, 31, 3, tzinfo=UTC)) == datetime(
        2027, 1, 1, 2, 0, tzinfo=UTC
    )
    assert services.next_run_after("none", at) is None
