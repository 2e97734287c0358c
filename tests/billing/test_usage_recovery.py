"""A worker killed mid-import: the import is recovered (failed with the reason, or resumed by re-running
the task), its staging table dropped, and the import page offers Retry while the file is stored."""

from datetime import timedelta

import psycopg
import pytest
from django.db import connection
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from billing.ingest import import_lock_key, staging_names
from billing.models_usage import UsageImport, UsageRow
from billing.services_usage import do_create_import, drop_orphan_staging_tables, recover_stale_imports
from billing.tasks import run_usage_import, sweep_usage_imports
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory
from .focus_files import accounts_of, generate, import_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def focus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("focus-recovery")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def crashed_import(path, status=UsageImport.Status.PROCESSING, minutes_ago=60):
    """What a killed worker leaves: the import stuck in Reading/Processing, quiet for a while, and the
    UNLOGGED staging table its COPY had committed."""
    from django.core.files import File

    with open(path, "rb") as f:
        record = do_create_import(None, file=File(f), name=path.name, queue=False)
    then = timezone.now() - timedelta(minutes=minutes_ago)
    UsageImport.objects.filter(pk=record.pk).update(status=status, started_at=then, heartbeat_at=then)
    with connection.cursor() as cursor:
        cursor.execute(f"CREATE UNLOGGED TABLE {staging_names(record.pk)[0]} (line_no bigint, c0 text)")
    record.refresh_from_db()
    return record


def table_exists(name) -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT to_regclass(%s) IS NOT NULL", [name])
        return cursor.fetchone()[0]


def link_all(reseller, path):
    customer = CustomerFactory(reseller=reseller)
    for number in sorted(accounts_of(path)):
        CloudAccountFactory(customer=customer, provider="aws", account_id=number)


def test_a_stale_import_is_failed_with_the_reason_and_retried_from_the_page(
    focus_dir, reseller, make_client, django_capture_on_commit_callbacks
):
    path = generate(focus_dir, "aws", "1.2", 60)
    link_all(reseller, path)
    with tenant_scope(reseller):
        record = crashed_import(path)
        fresh = crashed_import(path, minutes_ago=1)  # quiet for a minute only: left alone
        stage = staging_names(record.pk)[0]
        assert recover_stale_imports() == [record.pk]
        record.refresh_from_db()
        fresh.refresh_from_db()
    assert record.status == UsageImport.Status.FAILED
    assert "stopped while matching, rating and rolling up" in record.error and "Retry" in record.error
    assert fresh.status == UsageImport.Status.PROCESSING
    assert not table_exists(stage)

    client = make_client(reseller, Role.BILLING)
    url = reverse("billing:usage_import", args=[record.pk])
    page = client.get(url)
    assert b"worker was interrupted" in page.content and b'data-testid="usage-retry"' in page.content
    with django_capture_on_commit_callbacks() as callbacks:
        assert client.post(url).status_code == 302
    assert len(callbacks) == 1  # the task is queued once
    with tenant_scope(reseller):
        record.refresh_from_db()
        assert (record.status, record.error) == (UsageImport.Status.QUEUED, "")
    assert run_usage_import(str(record.pk), str(reseller.pk)) == UsageImport.Status.DONE
    with tenant_scope(reseller):
        assert UsageRow.objects.filter(usage_import=record).count() == 60


def test_viewers_cannot_retry_and_a_deleted_file_cannot_be_retried(focus_dir, reseller, make_client):
    path = generate(focus_dir, "aws", "1.2", 20)
    with tenant_scope(reseller):
        record = crashed_import(path)
        recover_stale_imports()
        record.refresh_from_db()
    url = reverse("billing:usage_import", args=[record.pk])
    viewer = make_client(reseller, Role.VIEWER)
    assert b'data-testid="usage-retry"' not in viewer.get(url).content
    assert viewer.post(url).status_code == 403
    record.file.storage.delete(record.file.name)
    billing = make_client(reseller, Role.BILLING)
    assert b'data-testid="usage-retry"' not in billing.get(url).content
    response = billing.post(url, follow=True)
    assert b"no longer stored" in response.content
    with tenant_scope(reseller):
        record.refresh_from_db()
        assert record.status == UsageImport.Status.FAILED


def test_an_import_whose_worker_is_alive_is_left_alone(focus_dir, reseller):
    """Quiet for an hour, but another session holds its lock (a long statement, a slow worker)."""
    path = generate(focus_dir, "aws", "1.2", 20)
    with tenant_scope(reseller):
        record = crashed_import(path)
    params = connection.get_connection_params()
    params.pop("cursor_factory", None)
    with psycopg.connect(**params, autocommit=True) as worker:
        worker.execute("SELECT pg_advisory_lock(%s)", [import_lock_key(record.pk)])
        with tenant_scope(reseller):
            assert recover_stale_imports() == []
            assert run_usage_import(str(record.pk), str(reseller.pk)) == UsageImport.Status.PROCESSING
            assert drop_orphan_staging_tables() == []
        assert table_exists(staging_names(record.pk)[0])


def test_rerunning_the_task_resumes_a_crashed_import(focus_dir, reseller):
    path = generate(focus_dir, "aws", "1.2", 40)
    link_all(reseller, path)
    with tenant_scope(reseller):
        record = crashed_import(path, status=UsageImport.Status.READING)
    assert run_usage_import(str(record.pk), str(reseller.pk)) == UsageImport.Status.DONE
    assert not table_exists(staging_names(record.pk)[0])
    with tenant_scope(reseller):
        record.refresh_from_db()
        assert (record.rows_read, record.rows_new, record.rows_matched) == (40, 40, 40)


def test_the_sweep_recovers_every_reseller_and_drops_orphan_tables(focus_dir, reseller, other_reseller):
    path = generate(focus_dir, "aws", "1.2", 20)
    with tenant_scope(reseller):
        stale = crashed_import(path)
    with tenant_scope(other_reseller):
        done = import_file(path)
        assert done.status == UsageImport.Status.DONE
    # A finished import's tables, e.g. from a failed DROP: its typed table and two chunks' (ingest_pipeline).
    leftovers = [staging_names(done.pk)[1], f"usage_stage3_{done.pk.hex}", f"usage_typed11_{done.pk.hex}"]
    stale_chunk = f"usage_typed2_{stale.pk.hex}"  # a chunk of the dead worker's import
    with connection.cursor() as cursor:
        for table in [*leftovers, stale_chunk]:
            cursor.execute(f"CREATE UNLOGGED TABLE {table} (line_no bigint)")
    assert sweep_usage_imports() == {"failed": 1, "tables_dropped": 3}
    assert not any(table_exists(t) for t in [*leftovers, stale_chunk, staging_names(stale.pk)[0]])
    with tenant_scope(reseller):
        stale.refresh_from_db()
        assert stale.status == UsageImport.Status.FAILED


def test_the_admin_shows_imports_read_only_and_scoped(focus_dir, reseller, other_reseller):
    from django.test import Client

    from ..factories import DEFAULT_PASSWORD, UserFactory

    path = generate(focus_dir, "aws", "1.2", 20)
    with tenant_scope(reseller):
        mine = import_file(path)  # no account linked: 20 unmatched rows
    with tenant_scope(other_reseller):
        theirs = import_file(path)
    user = UserFactory(reseller=reseller, role=Role.BILLING, is_staff=True)
    client = Client()
    assert client.login(email=user.email, password=DEFAULT_PASSWORD)
    listing = client.get(reverse("admin:billing_usageimport_changelist")).content.decode()
    assert listing.count(path.name) == 1
    page = client.get(reverse("admin:billing_usageimport_change", args=[mine.pk])).content.decode()
    assert "Unmatched accounts" in page and all(f"aws {a}:" in page for a in accounts_of(path))
    assert 'name="_save"' not in page  # read-only
    other = client.get(reverse("admin:billing_usageimport_change", args=[theirs.pk]))
    assert other.status_code in (302, 403, 404)
