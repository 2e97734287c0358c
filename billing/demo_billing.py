"""Demo invoices (call last in seed_demo, after the usage): the two months before this one are closed for
every provider and invoiced by the real invoice run; the older month's invoices are finalized and mostly
paid (some in part, some not at all, so aging and overdue figures show), last month's are finalized on
the 2nd of this month and partly paid. Demo history is not emailed."""

import random
from datetime import timedelta
from decimal import Decimal

from django.utils import timezone

from accounts.models import Reseller
from customer360.money import quantize
from customer360.tenancy import tenant_scope

from .invoice_run import do_start_run, run_inline
from .invoicing_states import do_close_provider_period, do_finalize_invoice, do_record_payment
from .models_invoices import Invoice, InvoiceStatus, ProviderPeriod


def _month_before(month):
    return (month - timedelta(days=1)).replace(day=1)


def seed_invoices(seed: int, log=None) -> dict:
    log = log or (lambda msg: None)
    today = timezone.localdate()
    last = _month_before(today.replace(day=1))
    months = [_month_before(last), last]
    totals = {"invoices": 0, "paid": 0}
    for reseller in Reseller.objects.order_by("slug"):
        rng = random.Random(f"{seed}/{reseller.slug}/invoices")
        with tenant_scope(reseller):
            for month in months:
                if not ProviderPeriod.objects.filter(month=month, provider="*").exists():
                    do_close_provider_period(None, month, "*")
                run_inline(do_start_run(None, month, queue=False))
                finalized_on = (month + timedelta(days=32)).replace(day=2)
                drafts = Invoice.objects.filter(
                    month=month, status=InvoiceStatus.DRAFT, total__gt=0
                ).order_by("pk")
                for invoice in drafts:
                    invoice = do_finalize_invoice(None, invoice, today=finalized_on, email=False)
                    totals["invoices"] += 1
                    roll = rng.random()
                    paid_share = (0.0 if roll < 0.15 else 0.5 if roll < 0.3 else 1.0) if month != last else (
                        1.0 if roll < 0.3 else 0.0
                    )  # fmt: skip
                    amount = quantize(invoice.total * Decimal(str(paid_share)), invoice.currency)
                    if amount > 0:
                        received = min(today, invoice.invoice_date + timedelta(days=rng.randint(3, 25)))
                        do_record_payment(None, invoice, amount=amount, received_on=received,
                                          reference=f"BANK-{invoice.number[-6:]}")  # fmt: skip
                        totals["paid"] += 1
        log(f"  {reseller.slug}: invoices for {', '.join(f'{m:%b %Y}' for m in months)}")
    return totals
