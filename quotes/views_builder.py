"""The quote builder's four steps (Recipients, Basic information, Scenarios, Summary), Create Quote from the
reseller-wide page (tiles, then recipients), the customer search it uses, and cloning.

Views are thin: forms check the input, quotes.services* do the work and raise ValidationErrors that land
on the form's fields. Owners and sales write quotes; billing and viewers read them."""

from django.contrib import messages
from django.contrib.postgres.aggregates import ArrayAgg
from django.core.exceptions import ValidationError
from django.db.models import Count, Q
from django.forms.models import model_to_dict
from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.views import View
from django.views.generic import TemplateView

from accounts.models import Role
from customer360.mixins import ResellerViewMixin
from customers.models import Customer
from marketplace.models import Product
from marketplace.services import authorized_providers, check_provider_authorized

from . import services
from .forms import LEAD_FIELDS, BasicInfoForm, RecipientForm
from .models import Quote, QuoteRevision

QUOTE_WRITERS = (Role.OWNER, Role.SALES)
CUSTOMER_RESULTS = 10


def category_tiles():
    """The provider categories the reseller may quote, with their active product counts and product
    categories (the tile's short description), in one query."""
    active = Q(products__is_active=True)
    tiles = list(
        authorized_providers()
        .annotate(
            product_count=Count("products", filter=active),
            product_categories=ArrayAgg("products__category", filter=active, distinct=True, default=[]),
        )
        .order_by("name")
    )
    for tile in tiles:
        words = tile.name.split()
        tile.initials = (words[0][0] + words[1][0] if len(words) > 1 else tile.name[:2]).upper()
        shown = sorted(tile.product_categories)[:3]
        tile.summary = ", ".join(shown) + (" and more" if len(tile.product_categories) > 3 else "")
    return tiles


def step_url(quote: Quote, step: str) -> str:
    return reverse(f"quotes:{step}", args=[quote.pk])


def furthest_url(quote: Quote) -> str:
    if quote.status != Quote.Status.DRAFT:
        return step_url(quote, Quote.Step.SUMMARY)
    return step_url(quote, quote.step)


class QuoteWriterMixin(ResellerViewMixin):
    write_roles = QUOTE_WRITERS


class QuoteMixin(QuoteWriterMixin):
    """A page of one quote. Another reseller's quote is a 404."""

    step = None

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.reseller_id:
            self.quote = services.access_quote(kwargs["quote_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        quote = self.quote
        reached = services.step_index(quote.step)
        ctx.update(
            quote=quote,
            current_step=self.step,
            steps=[
                {
                    "key": s,
                    "label": s.label,
                    "url": step_url(quote, s),
                    "reachable": i <= reached,
                    "number": i + 1,
                }
                for i, s in enumerate(services.STEPS)
            ],
            locked_reason=services.LOCKED_STATUSES.get(quote.status),
            can_edit=self.request.user.role in QUOTE_WRITERS and quote.status not in services.LOCKED_STATUSES,
            starts_revision=services.editing_starts_revision(quote),
        )
        return ctx


class StepMixin(QuoteMixin):
    """An editing step: reachable once the quote got that far; a closed quote shows its summary."""

    def get(self, request, *args, **kwargs):
        if self.quote.status in services.LOCKED_STATUSES:
            return redirect(step_url(self.quote, Quote.Step.SUMMARY))
        if services.step_index(self.step) > services.step_index(self.quote.step):
            return redirect(furthest_url(self.quote))
        return super().get(request, *args, **kwargs)


class QuoteDetailView(QuoteMixin, View):
    """/quotes/<id>/: the furthest step reached, or the summary once the quote left the drafts."""

    http_method_names = ["get", "head", "options"]

    def get(self, request, *args, **kwargs):
        return redirect(furthest_url(self.quote))


class RecipientsStepView(StepMixin, TemplateView):
    template_name = "quotes/step_recipients.html"
    step = Quote.Step.RECIPIENTS

    def get_form(self):
        if self.request.method == "POST":
            return RecipientForm(self.request.POST)
        quote = self.quote
        if quote.lead_id:
            initial = {"kind": "lead", **model_to_dict(quote.lead, fields=LEAD_FIELDS)}
        else:
            initial = {"kind": "customer", "customer": quote.customer_id}
        return RecipientForm(initial=initial)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = kwargs.get("form") or self.get_form()
        ctx.update(form=form, chosen_customer=_chosen_customer(form, self.quote.customer))
        return ctx

    def post(self, request, *args, **kwargs):
        form = self.get_form()
        if form.is_valid():
            try:
                services.do_update_recipients(
                    request.user, self.quote, customer=form.cleaned_data.get("customer")
                    if form.cleaned_data["kind"] == "customer" else None, lead_data=form.lead_data(),
                )  # fmt: skip
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return redirect(step_url(self.quote, Quote.Step.BASIC))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class BasicStepView(StepMixin, TemplateView):
    template_name = "quotes/step_basic.html"
    step = Quote.Step.BASIC

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        q = self.quote
        ctx["form"] = kwargs.get("form") or BasicInfoForm(
            initial={
                "name": q.name,
                "valid_until": q.valid_until,
                "currency": q.currency,
                "notes": q.notes,
                "terms": q.terms,
            }  # fmt: skip
        )
        return ctx

    def post(self, request, *args, **kwargs):
        form = BasicInfoForm(request.POST)
        if form.is_valid():
            try:
                services.do_update_basic_info(request.user, self.quote, **form.cleaned_data)
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                return redirect(step_url(self.quote, Quote.Step.SCENARIOS))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class SummaryStepView(StepMixin, TemplateView):
    template_name = "quotes/step_summary.html"
    step = Quote.Step.SUMMARY
    http_method_names = ["get", "head", "options"]

    def get(self, request, *args, **kwargs):
        if self.quote.status in services.LOCKED_STATUSES:  # a closed quote is read here, not redirected
            return TemplateView.get(self, request, *args, **kwargs)
        return super().get(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        from .views_lines import scenario_cards

        ctx = super().get_context_data(**kwargs)
        quote = self.quote
        ctx["scenarios"] = scenario_cards(quote)
        ctx["revisions"] = list(QuoteRevision.objects.filter(quote=quote).order_by("-number"))
        ctx["share_link"] = _share_link(self.request, quote, ctx["revisions"])
        return ctx


def _share_link(request, quote, revisions) -> str | None:
    """The signed accept link, once the quote has been sent (quotes.services_accept makes it)."""
    if not revisions or quote.status != Quote.Status.SENT:
        return None
    try:
        from .services_accept import accept_url
    except ImportError:  # the accept link's module is not installed in this build
        return None
    return accept_url(request, quote)


class CloneQuoteView(QuoteMixin, View):
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        try:
            clone = services.do_clone_quote(request.user, self.quote)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
            return redirect(step_url(self.quote, Quote.Step.SUMMARY))
        messages.success(request, f"Quote {clone.number} is a copy of {self.quote.number}, re-priced today.")
        return redirect(furthest_url(clone))


class QuoteNewView(QuoteWriterMixin, TemplateView):
    """Create Quote from the reseller-wide page: pick a category tile, then the recipient."""

    template_name = "quotes/quote_new.html"

    def _category(self):
        code = self.request.POST.get("category") or self.request.GET.get("category")
        if not code:
            return None
        provider = authorized_providers().filter(code=code).first()
        if provider is None:
            raise Http404("Your reseller is not authorized for this provider.")
        return provider

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        category = self._category()
        form = kwargs.get("form") or RecipientForm()
        ctx.update(category=category, form=form, chosen_customer=_chosen_customer(form))
        ctx["can_write"] = self.request.user.role in QUOTE_WRITERS
        if category is None:
            ctx["tiles"] = category_tiles()
        else:
            ctx["sample_products"] = Product.objects.filter(provider=category, is_active=True)[:6]
        return ctx

    def post(self, request, *args, **kwargs):
        category = self._category()
        if category is None:
            return redirect("quotes:new")
        form = RecipientForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                quote = services.do_create_quote(
                    request.user, category=check_provider_authorized(category),
                    customer=data["customer"] if data["kind"] == "customer" else None, lead_data=form.lead_data(),
                )  # fmt: skip
            except ValidationError as exc:
                _add_errors(form, exc)
            else:
                messages.success(request, f"Quote {quote.number} started.")
                return redirect(step_url(quote, Quote.Step.BASIC))
        return self.render_to_response(self.get_context_data(form=form), status=400)


class CustomerSearchView(QuoteWriterMixin, TemplateView):
    """htmx: the customers whose name matches, as radio buttons for the recipient form."""

    template_name = "quotes/_customer_results.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        q = self.request.GET.get("q", "").strip()
        rows = Customer.objects.filter(name__icontains=q).order_by("name")[:CUSTOMER_RESULTS] if q else []
        ctx.update(q=q, results=list(rows))
        return ctx


def _chosen_customer(form, default=None):
    """The customer already chosen in the form (re-shown after an error), else `default`."""
    if form.is_bound:
        return form.cleaned_data.get("customer") if hasattr(form, "cleaned_data") else None
    return default


def _add_errors(form, exc: ValidationError) -> None:
    """A service's ValidationError on the form: its field errors at the fields the form has."""
    if hasattr(exc, "error_dict"):
        for field, errors in exc.error_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)
