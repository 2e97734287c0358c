"""Inquiries inside a customer: record one, read it with its history and quotes, answer it with a quote,
close it with a note (or reopen it). The list is on the customer's Quotes and Inquiries page
({% customer_inquiries customer %}, quotes/templatetags/quotes_inquiries.py)."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.views.generic import TemplateView

from customer360.validators import check_no_nul
from customers.views.profile import CustomerMixin
from marketplace.services import authorized_providers

from .models import Inquiry
from .services_inquiries import (
    INQUIRY_ROLES,
    INQUIRY_TRANSITIONS,
    QUOTABLE,
    access_inquiry,
    do_create_inquiry,
    do_create_quote_from_inquiry,
    do_transition_inquiry,
    inquiry_history,
)
from .views_accept import form_errors

FIELDS = ("subject", "details", "contact_name", "contact_email")


class InquiryNewView(CustomerMixin, TemplateView):
    template_name = "quotes/inquiry_form.html"
    write_roles = INQUIRY_ROLES
    menu = "quotes"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.setdefault("data", {})
        ctx.setdefault("errors", {})
        return ctx

    def post(self, request, *args, **kwargs):
        data = {name: request.POST.get(name, "") for name in FIELDS}
        try:
            inquiry = do_create_inquiry(request.user, self.customer, **data)
        except ValidationError as exc:
            return self.render_to_response(
                self.get_context_data(data=data, errors=exc.message_dict), status=400
            )
        messages.success(request, f"Inquiry “{inquiry.subject}” recorded.")
        return redirect("customers:inquiry", self.customer.pk, inquiry.pk)


class InquiryDetailView(CustomerMixin, TemplateView):
    """GET: the inquiry, its quotes and history. POST action=quote (category), close (note) or reopen."""

    template_name = "quotes/inquiry_detail.html"
    write_roles = INQUIRY_ROLES
    menu = "quotes"

    @cached_property
    def inquiry(self) -> Inquiry:
        # Looked up under the customer (CustomerMixin's, already scoped): another customer's inquiry is a 404.
        return access_inquiry(self.customer, self.kwargs["inquiry_id"])

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        inquiry = self.inquiry
        allowed = INQUIRY_TRANSITIONS.get(inquiry.status, set())
        ctx.update(
            inquiry=inquiry, history=inquiry_history(inquiry),
            quotes=inquiry.quotes.select_related("order").order_by("-created_at"),
            can_write=self.request.user.role in INQUIRY_ROLES, can_quote=inquiry.status in QUOTABLE,
            can_close=Inquiry.Status.CLOSED in allowed, can_reopen=Inquiry.Status.OPEN in allowed,
            categories=authorized_providers().order_by("name"),
        )  # fmt: skip
        ctx.setdefault("errors", {})
        ctx.setdefault("data", {})
        return ctx

    def post(self, request, *args, **kwargs):
        action = request.POST.get("action", "")
        data = {"note": request.POST.get("note", ""), "category": request.POST.get("category", "")}
        try:
            if action == "quote":
                check_no_nul(category=data["category"])
                provider = authorized_providers().filter(code=data["category"]).first()
                if provider is None:
                    raise ValidationError(
                        {"category": "Choose one of the categories your reseller is authorized for."}
                    )
                quote = do_create_quote_from_inquiry(request.user, self.inquiry, category=provider)
                messages.success(request, f"Quote {quote.number} started from the inquiry.")
                return redirect("quotes:basic", quote.pk)
            if action == "close":
                do_transition_inquiry(request.user, self.inquiry, Inquiry.Status.CLOSED, note=data["note"])
                messages.success(request, "Inquiry closed.")
            elif action == "reopen":
                do_transition_inquiry(request.user, self.inquiry, Inquiry.Status.OPEN, note=data["note"])
                messages.success(request, "Inquiry reopened.")
            else:
                raise ValidationError("Choose what to do with the inquiry.")
        except ValidationError as exc:
            errors = form_errors(exc)
            self.__dict__.pop("inquiry", None)  # read it again: the refused change left it as it was
            return self.render_to_response(self.get_context_data(errors=errors, data=data), status=400)
        return redirect("customers:inquiry", self.customer.pk, self.inquiry.pk)
