"""Sending a quote and its documents: the Send panel of the summary (form, each revision's delivery and
PDF), sending, retrying a failed email, downloading a revision's PDF and previewing the working copy.

The panel is loaded into the summary page by htmx (_send_panel.html), polls while an email is queued,
and posts back to itself; without htmx the form posts and redirects to the summary."""

from django import forms
from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from accounts.models import Role
from customer360.mixins import ResellerViewMixin
from customer360.pdf import PdfRenderError

from .models import Quote, QuoteRevision
from .services import LOCKED_STATUSES, access_quote
from .services_send import (
    MAX_MESSAGE,
    build_snapshot,
    do_retry_send,
    do_send_quote,
    pdf_filename,
    recipient_contact,
)

SENDERS = (Role.OWNER, Role.SALES)
PENDING = (QuoteRevision.Delivery.QUEUED, QuoteRevision.Delivery.SENDING)


class SendQuoteForm(forms.Form):
    to = forms.EmailField(label="To", help_text="the customer's contact who receives the quote")
    cc = forms.EmailField(label="Cc", required=False, help_text="you, by default")
    message = forms.CharField(
        label="Message", required=False, max_length=MAX_MESSAGE, widget=forms.Textarea(attrs={"rows": 3}),
        help_text="added to the email above the quote's summary",
    )  # fmt: skip


class QuoteDocumentMixin(ResellerViewMixin):
    """One quote's documents. Another reseller's quote is a 404 (before any role check)."""

    write_roles = SENDERS

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.reseller_id:
            self.quote = access_quote(kwargs["quote_id"])
        return super().dispatch(request, *args, **kwargs)

    def revision(self, number) -> QuoteRevision:
        try:
            return QuoteRevision.objects.get(quote=self.quote, number=number)
        except QuoteRevision.DoesNotExist as exc:
            raise Http404("No such revision") from exc

    def summary_url(self) -> str:
        return reverse("quotes:summary", args=[self.quote.pk])


def _private(response):
    """Quote PDFs are the reseller's: never cached by a shared cache, never sniffed as something else."""
    response["Cache-Control"] = "private, no-store"
    response["X-Content-Type-Options"] = "nosniff"
    return response


def panel_context(request, quote: Quote, form=None) -> dict:
    """What the Send panel shows: the form (when this user may send the working revision now), every
    revision's delivery state and PDF, and whether to keep polling."""
    revisions = list(
        QuoteRevision.objects.filter(quote=quote)
        .select_related("sent_by")
        .defer("snapshot")
        .order_by("-number")
    )  # the snapshots (a long quote's is large) are not shown here
    current_sent = any(r.number == quote.revision for r in revisions)
    locked = LOCKED_STATUSES.get(quote.status)
    if form is None:
        form = SendQuoteForm(initial={"to": recipient_contact(quote)["email"], "cc": request.user.email})
    return {
        "quote": quote,
        "panel": True,
        "revisions": revisions,
        "current_sent": current_sent,
        "locked_reason": locked,
        "can_send": request.user.role in SENDERS and not current_sent and not locked,
        "can_retry": request.user.role in SENDERS,
        "form": form,
        "polling": any(r.delivery in PENDING for r in revisions),
    }


class SendPanelView(QuoteDocumentMixin, TemplateView):
    """GET: the Send panel (polled by htmx while an email is queued). POST: send the working revision."""

    template_name = "quotes/_send_panel.html"
    http_method_names = ["get", "post", "head", "options"]

    def get_context_data(self, form=None, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(panel_context(self.request, self.quote, form))
        return ctx

    def post(self, request, *args, **kwargs):
        form = SendQuoteForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                revision, created = do_send_quote(
                    request.user, self.quote, to=data["to"], cc=data["cc"], message=data["message"]
                )
            except ValidationError as exc:
                _add_errors(form, exc)
            except PdfRenderError as exc:
                form.add_error(None, f"The PDF could not be made, nothing was sent: {exc}")
            else:
                note = (
                    f"Revision {revision.number} is being emailed to {revision.recipient_email}."
                    if created
                    else f"Revision {revision.number} was already sent; it is not sent twice."
                )
                messages.success(request, note)
                if request.htmx:
                    # The whole summary changes (status, share link), not only the panel: reload it.
                    response = HttpResponse(status=204)
                    response["HX-Redirect"] = self.summary_url()
                    return response
                return redirect(self.summary_url())
        if request.htmx:
            return self.render_to_response(self.get_context_data(form=form), status=400)
        messages.error(request, "The quote was not sent: " + " ".join(_form_errors(form)))
        return redirect(self.summary_url())


def _add_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc.messages)


def _form_errors(form) -> list[str]:
    return [str(e) for errors in form.errors.values() for e in errors]


class RetrySendView(QuoteDocumentMixin, View):
    """POST: queue a failed revision's email again."""

    http_method_names = ["post", "options"]

    def post(self, request, *args, **kwargs):
        revision = self.revision(kwargs["revision"])
        if do_retry_send(request.user, revision):
            messages.success(request, f"Revision {revision.number} is being emailed again.")
        else:
            messages.info(request, f"Revision {revision.number} is not waiting for a retry.")
        if request.htmx:
            return render(request, "quotes/_send_panel.html", panel_context(request, self.quote))
        return redirect(self.summary_url())


class RevisionPdfView(QuoteDocumentMixin, View):
    """GET: the stored PDF of a sent revision, as it was sent (never rendered again)."""

    http_method_names = ["get", "head", "options"]

    def get(self, request, *args, **kwargs):
        revision = self.revision(kwargs["revision"])
        if not revision.pdf:
            messages.error(request, f"Revision {revision.number} has no stored PDF.")
            return redirect(self.summary_url())
        try:
            handle = revision.pdf.open("rb")
        except FileNotFoundError:
            messages.error(request, f"The PDF of revision {revision.number} is missing from storage.")
            return redirect(self.summary_url())
        filename = pdf_filename(self.quote.number, revision.number)
        response = FileResponse(handle, content_type="application/pdf", as_attachment=True, filename=filename)
        return _private(response)


class PreviewPdfView(QuoteDocumentMixin, View):
    """GET: the working copy as a PDF, marked as a draft; nothing is saved."""

    http_method_names = ["get", "head", "options"]

    def get(self, request, *args, **kwargs):
        from .pdf import render_snapshot_pdf

        quote: Quote = self.quote
        try:
            pdf = render_snapshot_pdf(build_snapshot(quote), draft=True)
        except PdfRenderError as exc:
            return HttpResponse(
                f"The preview could not be made: {exc}", status=503, content_type="text/plain"
            )
        response = HttpResponse(pdf, content_type="application/pdf")
        name = f"{quote.number}-rev{quote.revision}-preview.pdf"
        response["Content-Disposition"] = f'inline; filename="{name}"'
        return _private(response)
