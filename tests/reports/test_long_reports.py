"""A report over a long range runs as a Celery task with a progress indicator; its result is cached
until the data changes (a new import, invoice run or payment), so opening it again is instant."""

from datetime import timedelta

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role
from billing.models import UsageImport
from customer360.celery import app as celery_app
from customer360.tenancy import tenant_scope
from reports.models import ReportResult
from reports.tasks import build_report

from .helpers import num, page_table, q2, read_csv, sums

pytestmark = pytest.mark.django_db
LONG = {"start": "2025-01-01", "end": "2026-06-30"}  # 546 days: more than LONG_RANGE_DAYS


@pytest.fixture
def eager():
    before = celery_app.conf.task_always_eager
    celery_app.conf.task_always_eager = True
    yield
    celery_app.conf.task_always_eager = before


def url(customer, fmt=""):
    return reverse(f"reports:customer-spend-by-month{'-' + fmt if fmt else ''}", args=[customer.pk])


def test_a_long_report_runs_in_the_background_shows_progress_and_is_then_read_from_the_cache(
    owner_client, customer, usage, django_capture_on_commit_callbacks
):
    first = owner_client.get(url(customer), LONG).content.decode()
    assert 'data-testid="run-report"' in first and 'data-testid="report-table"' not in first
    # Queued (the worker has not run yet): the page polls its own URL and shows the progress.
    with django_capture_on_commit_callbacks(execute=False) as callbacks:
        response = owner_client.post(f"{url(customer)}?start={LONG['start']}&end={LONG['end']}")
    assert response.status_code == 302 and len(callbacks) == 1
    polling = owner_client.get(url(customer), LONG, headers={"HX-Request": "true"}).content.decode()
    assert 'data-testid="report-progress"' in polling and 'hx-trigger="every 1s"' in polling
    assert "0% done" in polling
    # The worker runs it (twice: the second run leaves the finished result alone).
    with tenant_scope(customer.reseller_id):
        row = ReportResult.objects.get()
    assert build_report(str(row.pk), str(customer.reseller_id)) == "done"
    assert build_report(str(row.pk), str(customer.reseller_id)) == "done"
    with CaptureQueriesContext(connection) as ctx:
        html = owner_client.get(url(customer), LONG).content.decode()
    assert 'data-testid="report-cached"' in html
    # session, user, customer, the data version (3 small aggregates), the cached result, the reseller
    # (top bar): no rollup read.
    assert len(ctx.captured_queries) <= 8, "\n".join(q["sql"][:100] for q in ctx.captured_queries)
    assert not any("billing_usagedaily" in q["sql"] for q in ctx.captured_queries)
    expected = sums(usage, lambda r: r["day"].strftime("%Y-%m"))
    table = page_table(html)
    assert len(table) == 2 + 18  # header, 18 months, total
    by_month = {r[0]: num(r[1]) for r in table[1:-1]}
    assert {m: v for m, v in by_month.items() if v} == {m: q2(s["price"]) for m, s in expected.items()}
    csv_rows = read_csv(owner_client.get(url(customer, "csv"), LONG).content)
    assert [r[1] for r in csv_rows[1:]] == [r[1].replace(",", "") for r in table[1:]]


def test_new_data_makes_the_cached_report_stale(owner_client, customer, usage, eager,
                                                django_capture_on_commit_callbacks):  # fmt: skip
    with django_capture_on_commit_callbacks(execute=True):
        owner_client.post(f"{url(customer)}?start={LONG['start']}&end={LONG['end']}")
    assert 'data-testid="report-cached"' in owner_client.get(url(customer), LONG).content.decode()
    with tenant_scope(customer.reseller_id):
        UsageImport.objects.create(original_name="new.csv", file="new.csv", status="done",
                                   finished_at=timezone.now() + timedelta(seconds=1))  # fmt: skip
    html = owner_client.get(url(customer), LONG).content.decode()
    assert 'data-testid="run-report"' in html and 'data-testid="report-cached"' not in html
    # The download of a report not computed for the current data goes back to the page.
    assert owner_client.get(url(customer, "csv"), LONG).status_code == 302


def test_a_viewer_reads_a_cached_long_report_but_cannot_start_one(make_client, reseller, customer, usage):
    viewer = make_client(reseller, Role.VIEWER)
    html = viewer.get(url(customer), LONG).content.decode()
    assert 'data-testid="run-report"' not in html and "ask a colleague" in html
    assert viewer.post(f"{url(customer)}?start={LONG['start']}&end={LONG['end']}").status_code == 403
    assert not ReportResult.objects.model._base_manager.exists()
