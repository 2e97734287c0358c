"""The invoice run of a month: one reseller's customers in chunks, each chunk a Celery task (or run in
the caller's process by the management command's --inline).

Progress is counted per chunk: a chunk is marked done once, under the run's row lock, so a task delivered
twice (late acknowledgement after a killed worker) rebuilds its customers' drafts again (idempotent) but
never counts them twice. A chunk's invoices are built set-based in one transaction
(invoicing_bulk.generate_chunk: a constant number of queries per chunk); if that fails, the chunk is done
again one customer at a time, each in its own transaction (invoicing.generate_invoice), so a failure of one
customer is recorded on the chunk and the run goes on.
"""

import logging
from datetime import date

from django.core.exceptions import ValidationError
from django.db import transaction
from django.utils import timezone

from customer360.tenancy import current_reseller_id
from customers.activity import record_activity
from customers.models import Customer

from .invoicing import generate_invoice
from .invoicing_bulk import generate_chunk
from .models_invoices import InvoiceRun, InvoiceRunChunk

logger = logging.getLogger(__name__)
# A chunk's fixed cost (its locks, a constant number of queries, temporary tables) is spread over this many
# customers: 10 chunks for 10,000 customers still keep two workers busy to the end.
CHUNK_SIZE = 1000


def parse_period(text: str) -> date:
    """'2026-10' -> date(2026, 10, 1), with a clear error."""
    try:
        year, month = (int(part) for part in (text or "").strip().split("-"))
        return date(year, month, 1)
    except (TypeError, ValueError) as exc:
        raise ValidationError({"period": "Give the period as YYYY-MM, e.g. 2026-10."}) from exc


def customers_to_invoice():
    """Every customer but prospects (a closed customer may still owe last month's usage)."""
    return (
        Customer.objects.exclude(status=Customer.Status.PROSPECT).order_by("pk").values_list("pk", flat=True)
    )


@transaction.atomic
def do_start_run(actor, month: date, *, queue: bool = True, chunk_size: int = CHUNK_SIZE) -> InvoiceRun:
    """Create the run and its chunks; with `queue`, each chunk's task is queued when this commits."""
    month = month.replace(day=1)
    if month > timezone.localdate().replace(day=1):
        raise ValidationError({"period": "A run can't be for a month that hasn't started."})
    ids = list(customers_to_invoice())
    run = InvoiceRun.objects.create(
        month=month, customers_total=len(ids), started_by_label=str(actor or "schedule"),
        status=InvoiceRun.Status.QUEUED if ids else InvoiceRun.Status.DONE,
        finished_at=None if ids else timezone.now(),
    )  # fmt: skip
    chunks = InvoiceRunChunk.objects.bulk_create(
        [
            InvoiceRunChunk(run=run, number=n, customer_ids=ids[i : i + chunk_size])
            for n, i in enumerate(range(0, len(ids), chunk_size), 1)
        ]
    )
    record_activity(
        actor,
        "invoice.run_started",
        f"Started the invoice run of {month:%B %Y} for {len(ids)} customers",
        obj=run,
    )
    if queue:
        from .tasks_invoices import run_invoice_chunk

        reseller_id = str(current_reseller_id())
        for chunk in chunks:
            run_invoice_chunk.delay_on_commit(str(chunk.pk), reseller_id)
    return run


def process_chunk(chunk_id) -> str:
    """Build the invoices of one chunk's customers, then count the chunk once. Safe to run twice."""
    chunk = InvoiceRunChunk.objects.select_related("run").filter(pk=chunk_id).first()
    if chunk is None:
        return "missing"
    if chunk.done:
        return "already done"
    run = chunk.run
    InvoiceRun.objects.filter(pk=run.pk, status=InvoiceRun.Status.QUEUED).update(
        status=InvoiceRun.Status.RUNNING, started_at=timezone.now()
    )
    failed = {}
    try:
        generate_chunk(chunk.customer_ids, run.month, run=run)
    except Exception:  # e.g. one customer's bad data: the chunk again, one customer at a time
        logger.warning(
            "invoice run %s: chunk %s again customer by customer", run.pk, chunk.number, exc_info=True
        )
        failed = _one_by_one(chunk, run)
    return _count_chunk(chunk.pk, failed)


def _one_by_one(chunk, run) -> dict:
    """The per-customer path, each customer in its own transaction: a failure stays the customer's own."""
    customers = {c.pk: c for c in Customer.objects.filter(pk__in=chunk.customer_ids)}
    failed = {}
    for customer_id in chunk.customer_ids:
        customer = customers.get(customer_id)
        if customer is None:
            continue  # deleted since the run started: nothing to invoice
        try:
            generate_invoice(customer, run.month, run=run)
        except Exception as exc:  # one customer's bad data must not stop the others; it is reported
            logger.exception("invoice run %s: customer %s failed", run.pk, customer_id)
            failed[str(customer_id)] = f"{type(exc).__name__}: {exc}"[:300]
    return failed


@transaction.atomic
def _count_chunk(chunk_pk, failed: dict) -> str:
    chunk = InvoiceRunChunk.objects.select_for_update().get(pk=chunk_pk)
    run = InvoiceRun.objects.select_for_update().get(pk=chunk.run_id)
    if chunk.done:
        return "already done"  # another delivery of this task finished first
    chunk.done, chunk.failed = True, failed
    chunk.save(update_fields=["done", "failed"])
    run.customers_done += len(chunk.customer_ids)
    run.failures += len(failed)
    fields = ["customers_done", "failures"]
    if not InvoiceRunChunk.objects.filter(run=run, done=False).exists():
        run.status = InvoiceRun.Status.DONE_WITH_FAILURES if run.failures else InvoiceRun.Status.DONE
        run.finished_at = timezone.now()
        fields += ["status", "finished_at"]
        record_activity(
            None, "invoice.run_finished",
            f"Invoice run of {run.month:%B %Y}: {run.customers_done} customers, {run.failures} failures", obj=run,
        )  # fmt: skip
    run.save(update_fields=fields)
    return "done"


def run_inline(run: InvoiceRun) -> InvoiceRun:
    """Process every pending chunk in this process (the command's --inline, tests)."""
    for chunk_id in (
        InvoiceRunChunk.objects.filter(run=run, done=False).order_by("number").values_list("pk", flat=True)
    ):
        process_chunk(chunk_id)
    run.refresh_from_db()
    return run


def failed_customers(run: InvoiceRun) -> list[tuple[str, str]]:
    out = []
    for chunk in InvoiceRunChunk.objects.filter(run=run, done=True).exclude(failed={}).order_by("number"):
        out += sorted(chunk.failed.items())
    return out
