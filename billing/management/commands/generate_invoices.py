"""python manage.py generate_invoices --period 2026-10 [--reseller slug] [--inline] [--wait]

Starts the invoice run of a month for one reseller (or every reseller): draft invoices, one per customer,
rebuilt by each run until finalized. By default the chunks are queued to the Celery workers; --inline
processes them in this process (no worker needed); --wait follows the queued run's progress to the end.
"""

import time

from django.core.exceptions import ValidationError
from django.core.management.base import BaseCommand, CommandError

from accounts.models import Reseller
from billing.invoice_run import CHUNK_SIZE, do_start_run, failed_customers, parse_period, run_inline
from billing.models import InvoiceRun
from customer360.tenancy import tenant_scope


class Command(BaseCommand):
    help = "Generate (or regenerate) the draft invoices of a billing month."

    def add_arguments(self, parser):
        parser.add_argument("--period", required=True, help="the billing month, YYYY-MM")
        parser.add_argument("--reseller", help="a reseller's slug; default: every reseller")
        parser.add_argument("--inline", action="store_true", help="build the invoices in this process")
        parser.add_argument("--wait", action="store_true", help="with queued chunks: wait for the run to end")
        parser.add_argument("--chunk-size", type=int, default=CHUNK_SIZE)

    def handle(
        self, *args, period, reseller=None, inline=False, wait=False, chunk_size=CHUNK_SIZE, **options
    ):
        try:
            month = parse_period(period)
        except ValidationError as exc:
            raise CommandError(" ".join(exc.messages)) from exc
        resellers = Reseller.objects.order_by("slug")
        if reseller:
            resellers = resellers.filter(slug=reseller)
            if not resellers.exists():
                raise CommandError(f"No reseller with the slug {reseller!r}.")
        for r in resellers:
            with tenant_scope(r):
                try:
                    run = do_start_run(None, month, queue=not inline, chunk_size=chunk_size)
                except ValidationError as exc:
                    raise CommandError(" ".join(exc.messages)) from exc
                if inline:
                    run = run_inline(run)
                elif wait:
                    run = self._wait(run)
                self._report(r, run)

    def _wait(self, run):
        while run.running:
            time.sleep(1)
            run = InvoiceRun.objects.get(pk=run.pk)
            self.stdout.write(
                f"  {run.customers_done}/{run.customers_total} customers, {run.failures} failures"
            )
        return run

    def _report(self, reseller, run):
        self.stdout.write(
            f"{reseller.slug}: invoice run {run.month:%Y-%m} {run.get_status_display().lower()}: "
            f"{run.customers_done}/{run.customers_total} customers, {run.failures} failures"
        )
        for customer_id, error in failed_customers(run):
            self.stderr.write(f"  customer {customer_id}: {error}")
