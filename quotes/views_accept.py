"""The customer's side of a quote: the page behind the signed accept link (no sign-in) and its PDF; and
the staff's conversion of the accepted quote into an order.

No login and no reseller user: the middleware opens no scope for an anonymous visitor (and the visitor's
own reseller's scope if they happen to be signed in), so these views open the scope the token names and
render inside it. Nothing is written on GET; an answer is a POST with Django's CSRF cookie and token.
"""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.http import FileResponse, Http404
from django.shortcuts import redirect, render
from django.urls import reverse
from django.utils.decorators import method_decorator
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.decorators.cache import never_cache

from customer360.mixins import ResellerViewMixin
from customer360.tenancy import tenant_scope

from .services import access_quote
from .services_accept import (
    HTTP_STATUS,
    LinkRefused,
    Reason,
    accept_pdf_url,
    access_quote_by_token,
    do_accept_quote,
    do_decline_quote,
    document,
)
from .services_convert import CONVERT_ROLES, do_convert_quote

TEMPLATE = "quotes/accept/page.html"


def form_errors(exc: ValidationError) -> dict:
    """{field: [messages]}, the non-field ones under "form" (templates can't read "__all__")."""
    errors = exc.message_dict if hasattr(exc, "error_dict") else {"__all__": exc.messages}
    return {("form" if key == "__all__" else key): value for key, value in errors.items()}


def _private(response):
    # The token is the key: keep the page out of shared caches, search engines and other sites' Referer
    # headers. "same-origin", not "no-referrer": with no-referrer the browser posts the form with
    # "Origin: null", which Django's CSRF check refuses.
    response["Cache-Control"] = "private, no-store"
    response["X-Robots-Tag"] = "noindex, nofollow"
    response["Referrer-Policy"] = "same-origin"
    return response


@method_decorator(never_cache, name="dispatch")
class AcceptQuoteView(View):
    """GET: the revision as sent, with the accept/decline form while the link is open; otherwise a page
    that says why it is not (tampered 404, answered 409, revising 409, superseded 410, expired 410)."""

    http_method_names = ["get", "post", "head", "options"]

    def get(self, request, token):
        return self._page(request, token)

    def post(self, request, token):
        access = access_quote_by_token(token)
        if not access.is_open:
            return self._page(request, token, access=access)
        action = request.POST.get("action", "")
        data = {k: request.POST.get(k, "") for k in ("name", "scenario", "reason")}
        try:
            if action == "accept":
                do_accept_quote(access, scenario_id=data["scenario"], name=data["name"])
            elif action == "decline":
                do_decline_quote(access, name=data["name"], reason=data["reason"])
            else:
                raise ValidationError({"__all__": "Accept an option or decline the quote."})
        except LinkRefused:
            return self._page(request, token)  # answered a moment ago (another tab): say so
        except ValidationError as exc:
            return self._page(request, token, access=access, errors=form_errors(exc), data=data, status=400)
        # The answer is recorded: the same URL now shows it (409 "answered" page is for a second answer).
        return self._page(request, token, just_answered=True)

    def _page(self, request, token, *, access=None, errors=None, data=None, status=None, just_answered=False):
        access = access or access_quote_by_token(token)
        ctx = {"reason": access.reason, "Reason": Reason, "errors": errors or {}, "data": data or {},
               "just_answered": just_answered, "token": token}  # fmt: skip
        if access.reason == Reason.TAMPERED or access.quote is None:
            return _private(render(request, TEMPLATE, ctx, status=HTTP_STATUS[Reason.TAMPERED]))
        with tenant_scope(access.reseller):
            quote = access.quote
            ctx.update(
                quote=quote, reseller=access.reseller, doc=document(access), revision=access.revision,
                pdf_url=accept_pdf_url(token) if access.revision.pdf else "",
                accepted_name=quote.accepted_scenario.name if quote.accepted_scenario_id else "",
            )  # fmt: skip
            code = status or (200 if just_answered else access.status)
            return _private(render(request, TEMPLATE, ctx, status=code))


@method_decorator(never_cache, name="dispatch")
class AcceptQuotePdfView(View):
    """The PDF of the revision the link was sent as, for as long as the link shows the quote (also after
    the answer); tampered, superseded and expired links have no PDF."""

    http_method_names = ["get", "head", "options"]

    def get(self, request, token):
        access = access_quote_by_token(token)
        if access.reason not in (None, Reason.ANSWERED) or not access.revision.pdf:
            raise Http404("No such document")
        with tenant_scope(access.reseller):
            revision = access.revision
            handle = revision.pdf.open("rb")
            name = f"{access.quote.number}-rev{revision.number}.pdf"
        return _private(FileResponse(handle, content_type="application/pdf", filename=name))


class ConvertQuoteView(ResellerViewMixin, View):
    """POST: convert the accepted quote to an order (the convert panel's button), then show the order.
    Errors go back to the page the panel was on, and nothing is written."""

    write_roles = CONVERT_ROLES
    http_method_names = ["post", "options"]

    def post(self, request, quote_id):
        quote = access_quote(quote_id)
        back = _safe_next(request) or (
            reverse("customers:detail", args=[quote.customer_id])
            if quote.customer_id
            else reverse("dashboard")
        )
        accounts = {
            key.removeprefix("cloud_account_"): value
            for key, value in request.POST.items()
            if key.startswith("cloud_account_") and value
        }
        try:
            order, created = do_convert_quote(
                request.user, quote, cloud_accounts=accounts, credit_limit=request.POST.get("credit_limit")
            )
        except ValidationError as exc:
            messages.error(request, f"Quote {quote.number} was not converted: " + " ".join(exc.messages))
            return redirect(back)
        if created:
            messages.success(
                request, f"Quote {quote.number} converted to order {order.number}; provisioning has started."
            )
        else:
            messages.info(request, f"Quote {quote.number} was already converted to order {order.number}.")
        return redirect("customers:order", order.customer_id, order.pk)


def _safe_next(request) -> str:
    target = request.POST.get("next", "")
    if target and url_has_allowed_host_and_scheme(target, {request.get_host()}, request.is_secure()):
        return target
    return ""
