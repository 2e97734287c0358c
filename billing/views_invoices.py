"""Customer Invoice pages (inside a customer) and the reseller's Invoice runs page. Thin views over
billing.invoicing_states and billing.invoice_run; billing users and owners write, every role reads."""

import csv
import uuid
from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count, Q, Sum
from django.http import HttpResponse, StreamingHttpResponse
from django.shortcuts import get_object_or_404, redirect
from django.template.loader import render_to_string
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import TemplateView, View

from accounts.models import Role
from customer360.mixins import HtmxPartialMixin, ResellerViewMixin
from customer360.money import Money
from customer360.spreadsheets import safe_row
from customer360.tenancy import current_reseller_id, tenant_scope
from customers.models import Customer
from customers.views import CustomerMixin

from . import invoicing_states as states
from .admin_scoping import add_service_errors
from .forms_invoices import ClosePeriodForm, CreditNoteForm, PaymentForm, RunForm, VoidForm
from .invoice_email import do_queue_invoice_email, recipient_of
from .invoice_run import do_start_run, failed_customers
from .invoicing import month_bounds
from .models_invoices import Invoice, InvoiceLine, InvoiceRun, InvoiceStatus, LineKind, ProviderPeriod
from .models_usage import UsageDaily, UsageRow

BILLING_WRITERS = (Role.OWNER, Role.BILLING)
GROUPS = [
    ("Subscriptions", (LineKind.SUBSCRIPTION, LineKind.LICENSE_CHANGE)),
    ("Usage", (LineKind.USAGE,)),
    ("Charges and discounts", (LineKind.CHARGE, LineKind.DISCOUNT)),
    ("Tax", (LineKind.TAX,)),
    ("Credits", (LineKind.CREDIT,)),
]


class BillingWriteMixin:
    write_roles = BILLING_WRITERS

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = self.request.user.role in BILLING_WRITERS
        return ctx


# --- Customer Invoice ------------------------------------------------------------------------------------------


class CustomerInvoiceListView(BillingWriteMixin, CustomerMixin, TemplateView):
    template_name = "billing/invoice_list.html"
    menu = "invoices"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        invoices = list(
            Invoice.objects.filter(customer=self.customer).order_by("-month", "-generated_at")[:240]
        )
        ctx.update(
            invoices=invoices, balance_due=states.balance_due(self.customer), today=timezone.localdate()
        )
        return ctx


class InvoiceMixin(BillingWriteMixin, CustomerMixin):
    """A page of one invoice of the customer; another customer's (or reseller's) invoice is a 404."""

    menu = "invoices"

    @cached_property
    def invoice(self):
        return states.access_invoice(self.customer, self.kwargs["invoice_id"])


class CustomerInvoiceDetailView(InvoiceMixin, TemplateView):
    template_name = "billing/invoice_detail.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(invoice_context(self.invoice))
        ctx.update(
            payment_form=kwargs.get("payment_form") or PaymentForm(currency=self.invoice.currency),
            void_form=kwargs.get("void_form") or VoidForm(),
            recipient=recipient_of(self.customer),
            credit_note_form=kwargs.get("credit_note_form") or CreditNoteForm(currency=self.invoice.currency),
            today=timezone.localdate(),
        )
        return ctx


def invoice_context(invoice) -> dict:
    lines = list(
        InvoiceLine.objects.filter(invoice=invoice)
        .select_related("cloud_account", "subscription")
        .order_by("position")
    )
    groups = []
    for label, kinds in GROUPS:
        rows = [ln for ln in lines if ln.kind in kinds]
        if rows:
            groups.append(
                {"label": label, "lines": rows, "total": sum((ln.amount for ln in rows), Decimal(0))}
            )
    return {
        "invoice": invoice,
        "groups": groups,
        "payments": list(invoice.payments.order_by("received_on", "created_at")),
        "credit_notes": list(invoice.credit_notes.order_by("created_at", "pk")),
    }


class InvoiceFinalizeView(InvoiceMixin, View):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        try:
            # The page's checkbox (ticked as the customer's preference says) decides about the email.
            invoice = states.do_finalize_invoice(request.user, self.invoice, email=False)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Finalized invoice {invoice.number}; it can no longer change.")
            if request.POST.get("email"):
                _queue_email(request, invoice)
        return redirect("customers:invoice", self.invoice.customer_id, self.invoice.pk)


def _queue_email(request, invoice) -> None:
    try:
        to = do_queue_invoice_email(request.user, invoice)
    except ValidationError as exc:
        messages.error(request, " ".join(exc.messages))
    else:
        messages.success(request, f"The invoice PDF is on its way to {to}.")


class InvoiceEmailView(InvoiceMixin, View):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        _queue_email(request, self.invoice)
        return redirect("customers:invoice", self.invoice.customer_id, self.invoice.pk)


class InvoiceVoidView(CustomerInvoiceDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = VoidForm(request.POST)
        if form.is_valid():
            try:
                states.do_void_invoice(request.user, self.invoice, form.cleaned_data["reason"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Voided invoice {self.invoice.number}.")
                return redirect("customers:invoice", self.invoice.customer_id, self.invoice.pk)
        return self.render_to_response(self.get_context_data(void_form=form), status=400)


class InvoicePaymentView(CustomerInvoiceDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = PaymentForm(request.POST, currency=self.invoice.currency)
        if form.is_valid():
            try:
                payment = states.do_record_payment(request.user, self.invoice, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Recorded a payment of {Money(payment.amount, payment.currency)}.")
                return redirect("customers:invoice", self.invoice.customer_id, self.invoice.pk)
        return self.render_to_response(self.get_context_data(payment_form=form), status=400)


class InvoiceCreditNoteView(CustomerInvoiceDetailView):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        form = CreditNoteForm(request.POST, currency=self.invoice.currency)
        if form.is_valid():
            try:
                note = states.do_issue_credit_note(request.user, self.invoice, **form.cleaned_data)
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, f"Issued credit note {note.number}; the credit applies to the next invoices."
                )
                return redirect("customers:invoice", self.invoice.customer_id, self.invoice.pk)
        return self.render_to_response(self.get_context_data(credit_note_form=form), status=400)


def _filename(invoice, suffix: str) -> str:
    return f"{invoice.number or f'draft-{invoice.month:%Y-%m}'}{suffix}"


class Echo:
    """csv.writer target that hands each row back (for streaming)."""

    def write(self, value):
        return value


CSV_HEADER = ["invoice", "period", "line", "kind", "description", "source", "provider", "service",
              "cloud_account", "quantity", "unit_price", "amount", "currency", "tax_category"]  # fmt: skip


class InvoiceCsvView(InvoiceMixin, View):
    """One row per invoice line."""

    http_method_names = ["get", "head"]

    def get(self, request, *args, **kwargs):
        invoice = self.invoice
        response = HttpResponse(content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{_filename(invoice, ".csv")}"'
        writer = csv.writer(response)
        writer.writerow(CSV_HEADER)
        for ln in (
            InvoiceLine.objects.filter(invoice=invoice).select_related("cloud_account").order_by("position")
        ):
            writer.writerow(safe_row([
                invoice.number or "draft", f"{invoice.month:%Y-%m}", ln.position, ln.kind, ln.description, ln.source,
                ln.provider, ln.service_name, ln.cloud_account.account_id if ln.cloud_account else "",
                ln.quantity.normalize(), "" if ln.unit_price is None else ln.unit_price.normalize(), ln.amount,
                invoice.currency, ln.tax_category,
            ]))  # fmt: skip
        return response


USAGE_HEADER = ["usage_date", "provider", "billing_account_id", "sub_account_id", "service", "service_category",
                "sku", "region", "resource_id", "charge_category", "quantity", "customer_price", "currency"]  # fmt: skip


class InvoiceUsageCsvView(InvoiceMixin, View):
    """Every usage row behind the invoice's usage lines, at the customer's price, streamed."""

    http_method_names = ["get", "head"]

    def get(self, request, *args, **kwargs):
        invoice = self.invoice
        first, last = month_bounds(invoice.month)
        rows = (
            UsageRow.objects.filter(
                customer=invoice.customer_id, usage_date__gte=first, usage_date__lte=last,
                price_currency=invoice.currency, price__isnull=False,
            )
            .order_by("usage_date", "id")
            .values_list("usage_date", "provider", "billing_account_id", "sub_account_id", "service_name",
                         "service_category", "sku", "region", "resource_id", "charge_category", "quantity", "price")
        )  # fmt: skip
        writer = csv.writer(Echo())

        reseller_id = current_reseller_id()

        def stream():
            # The response is streamed after the request's tenant scope has closed: open it again here.
            with tenant_scope(reseller_id):
                yield writer.writerow(USAGE_HEADER)
                for row in rows.iterator(chunk_size=5000):
                    yield writer.writerow(
                        safe_row([*row[:10], row[10].normalize(), row[11], invoice.currency])
                    )

        response = StreamingHttpResponse(stream(), content_type="text/csv")
        response["Content-Disposition"] = f'attachment; filename="{_filename(invoice, "-usage.csv")}"'
        return response


class InvoicePdfView(InvoiceMixin, View):
    http_method_names = ["get", "head"]

    def get(self, request, *args, **kwargs):
        from customer360.pdf import PDF_BASE_URL, PdfRenderError, pdf_static_url, render_pdf

        ctx = invoice_context(self.invoice)
        ctx.update(
            customer=self.invoice.customer, reseller=request.user.reseller,
            stylesheet_url=pdf_static_url("css/quote-pdf.css"),
        )  # fmt: skip
        html = render_to_string("billing/invoice_pdf.html", ctx)
        try:
            pdf = render_pdf(html, base_url=PDF_BASE_URL)
        except PdfRenderError:
            messages.error(request, "The PDF could not be made just now; try again in a minute.")
            return redirect("customers:invoice", self.invoice.customer_id, self.invoice.pk)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'attachment; filename="{_filename(self.invoice, ".pdf")}"'
        return response


# --- Invoice runs (reseller level) -----------------------------------------------------------------------------


def _providers():
    return sorted(set(UsageDaily.objects.order_by().values_list("provider", flat=True).distinct()[:50]))


class InvoiceRunListView(BillingWriteMixin, ResellerViewMixin, TemplateView):
    template_name = "billing/invoice_runs.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        runs = list(InvoiceRun.objects.order_by("-created_at", "pk")[:30])
        months = sorted({r.month for r in runs}, reverse=True)[:6]
        by_month = {
            row["month"]: row
            for row in Invoice.objects.filter(month__in=months)
            .values("month")
            .annotate(
                drafts=Count("pk", filter=Q(status=InvoiceStatus.DRAFT)),
                finalized=Count("pk", filter=Q(status__in=[InvoiceStatus.OPEN, InvoiceStatus.CLOSED])),
                total=Sum("total", filter=~Q(status=InvoiceStatus.VOID)),
            )
            .order_by()
        }
        closed = {}
        for period in ProviderPeriod.objects.filter(month__in=months).order_by("provider"):
            closed.setdefault(period.month, []).append(period.provider)
        ctx.update(
            runs=runs, months=[{"month": m, "closed": closed.get(m, []), **by_month.get(m, {})} for m in months],
            run_form=kwargs.get("run_form") or RunForm(),
            close_form=kwargs.get("close_form") or ClosePeriodForm(providers=_providers()),
        )  # fmt: skip
        return ctx

    def post(self, request, *args, **kwargs):
        form = RunForm(request.POST)
        if form.is_valid():
            try:
                run = do_start_run(request.user, form.cleaned_data["period"])
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Started the invoice run of {run.month:%B %Y}.")
                return redirect("billing:invoice_run", run.pk)
        return self.render_to_response(self.get_context_data(run_form=form), status=400)


class ProviderPeriodCloseView(InvoiceRunListView):
    """POST closes a provider's month; GET shows the invoice runs page (the form lives there)."""

    def post(self, request, *args, **kwargs):
        form = ClosePeriodForm(request.POST, providers=_providers())
        if form.is_valid():
            try:
                states.do_close_provider_period(
                    request.user, form.cleaned_data["period"], form.cleaned_data["provider"]
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(
                    request, "Closed the month; its invoices with that provider's usage can be finalized."
                )
                return redirect("billing:invoice_runs")
        return self.render_to_response(self.get_context_data(close_form=form), status=400)


class InvoiceRunDetailView(HtmxPartialMixin, ResellerViewMixin, TemplateView):
    template_name = "billing/invoice_run.html"
    partial_template_name = "billing/invoice_run_progress.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        run = get_object_or_404(InvoiceRun, pk=kwargs["run_id"])
        failed = failed_customers(run)[:100] if not run.running else []
        names = dict(Customer.objects.filter(pk__in=[c for c, _ in failed]).values_list("pk", "name"))
        ctx.update(run=run, failed=[(c, names.get(uuid.UUID(c), c), error) for c, error in failed])
        if run.customers_total:
            ctx["percent"] = run.customers_done * 100 // run.customers_total
        return ctx
