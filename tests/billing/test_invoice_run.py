"""The invoice run: one invoice per customer and month whether it runs once, twice or eight times at once,
and the same totals as an undisturbed run."""

import threading
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import CommandError, call_command
from django.db import connection

from billing.invoice_run import do_start_run, process_chunk, run_inline
from billing.models import Invoice, InvoiceRun, InvoiceRunChunk
from customer360.tenancy import tenant_scope

from .invoice_helpers import (
    OCT,
    add_item,
    add_usage,
    give_credit,
    make_account,
    make_customer,
    make_subscription,
    tax_customer,
)

D = Decimal


def world(reseller, n=12):
    """n customers with subscriptions, usage, a charge, tax and credit, so totals depend on every step."""
    for i in range(n):
        customer = make_customer(reseller, name=f"Customer {i:02d}")
        make_subscription(
            customer, unit_price=f"{10 + i}.33", quantity=1 + i % 4, start=date(2026, 10, 1 + i)
        )
        account = make_account(customer, f"{i:012d}")
        for day in (1, 9, 30):
            add_usage(account, date(2026, 10, day), ["EC2", "S3"][day % 2], f"{i}.{day:02d}5", cost=f"{i}.00")
        add_item(customer, "Support", rate="7.5")
        tax_customer(customer, ("State", "6.25"))
        if i % 3 == 0:
            give_credit(customer, "25.00")
    make_customer(reseller, name="Prospect", status="prospect")


def snapshot(reseller):
    with tenant_scope(reseller):
        rows = Invoice.objects.exclude(status="void").values_list(
            "customer__name", "subtotal", "tax", "credits", "total"
        )
        return sorted(rows)


def run_once(reseller, chunk_size=5):
    with tenant_scope(reseller):
        return run_inline(do_start_run(None, OCT, queue=False, chunk_size=chunk_size))


@pytest.mark.django_db
def test_a_run_invoices_every_customer_once_and_shows_its_progress(reseller):
    world(reseller)
    run = run_once(reseller)
    assert (run.status, run.customers_total, run.customers_done, run.failures) == ("done", 12, 12, 0)
    first = snapshot(reseller)
    assert len(first) == 12 and all(total >= 0 for *_, total in first)
    second = run_once(reseller, chunk_size=7)
    assert snapshot(reseller) == first, "a second run must rebuild the same drafts, not add invoices"
    assert second.customers_done == 12


@pytest.mark.django_db
def test_a_chunk_delivered_twice_is_counted_once(reseller):
    world(reseller, n=3)
    with tenant_scope(reseller):
        run = do_start_run(None, OCT, queue=False, chunk_size=2)
        chunk = InvoiceRunChunk.objects.filter(run=run).order_by("number").first()
        assert process_chunk(chunk.pk) == "done"
        assert process_chunk(chunk.pk) == "already done"
        run.refresh_from_db()
        assert (run.customers_done, run.status) == (2, "running")
        run_inline(run)
        run.refresh_from_db()
        assert (run.customers_done, run.status) == (3, "done")


@pytest.mark.django_db
def test_a_failing_customer_is_reported_and_the_others_are_invoiced(reseller):
    world(reseller, n=3)
    bad = make_customer(reseller, name="Broken")
    # More than an invoice line can hold: the database refuses the line, the customer fails alone.
    add_usage(make_account(bad, "999999999999"), date(2026, 10, 2), "EC2", "9999999999999.00")
    run = run_once(reseller)
    assert (run.status, run.customers_done, run.failures) == ("failures", 4, 1)
    from billing.invoice_run import failed_customers

    with tenant_scope(reseller):
        ((customer_id, error),) = failed_customers(run)
        assert customer_id == str(bad.pk) and "DataError" in error
        assert not Invoice.objects.filter(customer=bad).exists()
        assert Invoice.objects.count() == 3


@pytest.mark.django_db
def test_the_command(reseller, capsys):
    world(reseller, n=2)
    call_command("generate_invoices", period="2026-10", reseller="acme", inline=True)
    assert "2/2 customers, 0 failures" in capsys.readouterr().out
    with pytest.raises(CommandError, match="YYYY-MM"):
        call_command("generate_invoices", period="October", inline=True)
    with pytest.raises(CommandError, match="slug"):
        call_command("generate_invoices", period="2026-10", reseller="nobody", inline=True)
    with tenant_scope(reseller):
        assert InvoiceRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_eight_runs_at_once_end_with_one_invoice_per_customer_and_undisturbed_totals(reseller):
    world(reseller)
    undisturbed = run_once(reseller)
    expected = snapshot(reseller)
    with tenant_scope(reseller):
        Invoice.objects.all().delete()  # drafts: the guard allows it
        from billing.models import CreditApplication

        CreditApplication.objects.all().delete()
    assert undisturbed.status == "done"
    errors = []
    barrier = threading.Barrier(8)

    def one_run():
        try:
            barrier.wait()
            run_once(reseller, chunk_size=3)
        except Exception as exc:  # reported to the test below
            errors.append(exc)
        finally:
            connection.close()

    threads = [threading.Thread(target=one_run) for _ in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert snapshot(reseller) == expected
    with tenant_scope(reseller):
        assert InvoiceRun.objects.filter(status="done").count() == 9
        from billing.models import CreditApplication

        applied = sum(a.amount for a in CreditApplication.objects.all())
        assert applied == sum(credits for _, _, _, credits, _ in expected)


@pytest.mark.django_db
def test_celery_beat_runs_last_month_for_every_reseller(
    reseller, other_reseller, django_capture_on_commit_callbacks
):
    from django.conf import settings

    from billing.tasks_invoices import monthly_invoice_run
    from customer360.celery import app

    entry = settings.CELERY_BEAT_SCHEDULE["monthly-invoice-run"]
    assert entry["task"] in app.tasks and "run_invoice_chunk" in " ".join(app.tasks)
    world(reseller, n=2)
    with django_capture_on_commit_callbacks(execute=False) as queued:
        assert monthly_invoice_run() == 2
    assert len(queued) == 1  # one chunk for reseller A's two customers; B has none
    with tenant_scope(reseller):
        run = InvoiceRun.objects.get()
        assert run.customers_total == 2 and run.month.day == 1 and run.started_by_label == "schedule"
