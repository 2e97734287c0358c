"""The quote lists: the reseller-wide Quotes page and a customer's Quotes and Inquiries page (status tabs,
search, sortable columns, pages; htmx swaps only the table), Create Quote's category tiles inside a
customer, and the discount limits the owner sets per role."""

from decimal import Decimal

from django.contrib import messages
from django.core.exceptions import PermissionDenied, ValidationError
from django.core.paginator import Paginator
from django.db.models import Count, DecimalField, F, OuterRef, Subquery, Sum, Value
from django.db.models.functions import Coalesce
from django.shortcuts import redirect
from django.views import View
from django.views.generic import TemplateView

from accounts.models import Role
from customer360.mixins import HtmxPartialMixin, ResellerViewMixin
from customers.views.profile import CustomerMixin
from marketplace.services import authorized_providers

from . import services, services_lines
from .filtersets import QuoteFilterSet
from .forms import DiscountLimitsForm
from .models import Quote, QuoteLine, QuoteScenario
from .views_builder import QUOTE_WRITERS, QuoteWriterMixin, category_tiles, step_url

PER_PAGE = 25
# sort parameter -> queryset field (annotations included); "-updated" sorts descending.
SORTS = {
    "number": "number", "name": "name", "recipient": "recipient_sort", "status": "status", "total": "total",
    "valid": "valid_until", "updated": "updated_at",
}  # fmt: skip
COLUMNS = [
    ("number", "Number", ""), ("name", "Name", ""), ("recipient", "Recipient", ""), ("status", "Status", ""),
    ("total", "Amount before tax", "num"), ("valid", "Valid until", ""),
    ("updated", "Updated", ""),
]  # fmt: skip
TABS = [
    ("", "All"), (Quote.Status.DRAFT, "Drafts"), (Quote.Status.SENT, "Sent"),
    (Quote.Status.ACCEPTED, "Accepted"), (Quote.Status.DECLINED, "Declined"),
    (Quote.Status.EXPIRED, "Expired"), (Quote.Status.CONVERTED, "Converted"),
]  # fmt: skip


def quotes_for_list():
    """Quotes with their recipient and the amount of their first scenario (a subquery, not a query per row)."""
    first = QuoteScenario.objects.filter(quote=OuterRef(OuterRef("pk"))).order_by("position", "name")
    amounts = (
        QuoteLine.objects.filter(section__scenario=Subquery(first.values("pk")[:1]))
        .order_by()
        .values("section__scenario")
        .annotate(s=Sum("amount"))
        .values("s")
    )
    money = DecimalField(max_digits=16, decimal_places=4)
    return Quote.objects.select_related("customer", "lead").annotate(
        total=Coalesce(Subquery(amounts, output_field=money), Value(Decimal(0)), output_field=money),
        recipient_sort=Coalesce("customer__name", "lead__company_name"),
    )


def list_context(request, queryset, *, in_customer: bool = False) -> dict:
    """filterset → tab counts → ordering → page, and the URLs of tabs, columns and pages. Inside a customer
    the recipient column is left out (it is the customer)."""
    params = request.GET
    filterset = QuoteFilterSet(params, queryset=queryset)
    rows = filterset.qs if filterset.is_valid() else queryset.none()
    searched = filterset.search(queryset, "q", params.get("q", ""))
    counts = dict(searched.order_by().values_list("status").annotate(n=Count("id")))
    sort = params.get("sort", "-updated")
    key = sort.lstrip("-")
    if key not in SORTS:
        sort, key = "-updated", "updated"
    field = F(SORTS[key])
    order = field.desc(nulls_last=True) if sort.startswith("-") else field.asc(nulls_last=True)
    page = Paginator(rows.order_by(order, "-created_at"), PER_PAGE).get_page(params.get("page"))
    base = params.copy()
    base.pop("page", None)
    status = params.get("status", "")
    show_expired = bool(filterset.is_valid() and filterset.form.cleaned_data.get("show_expired"))
    tabs = []
    for value, label in TABS:
        if value:
            n = counts.get(value, 0)
        else:
            n = sum(v for k, v in counts.items() if show_expired or k != Quote.Status.EXPIRED)
        tabs.append({"value": value, "label": label, "count": n, "current": value == status,
                     "url": _with(base, status=value)})  # fmt: skip
    return {
        "filterset": filterset, "page": page, "rows": page.object_list, "sort": sort, "tabs": tabs,
        "status": status, "show_expired": show_expired,
        "columns": [
            {"key": k, "label": label, "css": css, "active": key == k, "descending": sort == f"-{k}",
             "url": _with(base, sort=(f"-{k}" if sort == k else k))}
            for k, label, css in COLUMNS
            if not (in_customer and k == "recipient")
        ],
        "page_urls": {
            "prev": _with(base, page=page.previous_page_number()) if page.has_previous() else None,
            "next": _with(base, page=page.next_page_number()) if page.has_next() else None,
        },
        "has_filters": bool(params.get("q") or status),
        "can_write": request.user.role in QUOTE_WRITERS,
        "in_customer": in_customer,
    }  # fmt: skip


def _with(querydict, drop=(), **changes) -> str:
    q = querydict.copy()
    for k in drop:
        q.pop(k, None)
    for k, v in changes.items():
        if v == "":
            q.pop(k, None)
        else:
            q[k] = v
    return "?" + q.urlencode()


class QuoteListView(QuoteWriterMixin, HtmxPartialMixin, TemplateView):
    """/quotes/: every quote of the reseller."""

    template_name = "quotes/quote_list.html"
    partial_template_name = "quotes/_quote_table.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(list_context(self.request, quotes_for_list()), list_url=self.request.path)
        return ctx


class CustomerQuotesView(CustomerMixin, HtmxPartialMixin, TemplateView):
    """The customer's Quotes and Inquiries: its quotes (tabs as on /quotes/) and Create Quote's tiles."""

    template_name = "quotes/customer_quotes.html"
    partial_template_name = "quotes/_quote_table.html"
    http_method_names = ["get", "head", "options"]
    menu = "quotes"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(
            list_context(self.request, quotes_for_list().filter(customer=self.customer), in_customer=True)
        )
        ctx["list_url"] = self.request.path
        if not getattr(self.request, "htmx", False):
            ctx["tiles"] = category_tiles()
            ctx["create_open"] = self.request.GET.get("create") == "1"
        return ctx


class CustomerQuoteStartView(CustomerMixin, View):
    """A tile of Create Quote: a draft for this customer in that category, then Basic information."""

    write_roles = QUOTE_WRITERS
    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        provider = authorized_providers().filter(code=request.POST.get("category", "")).first()
        if provider is None:
            messages.error(request, "Choose one of the categories your reseller is authorized for.")
            return redirect("customers:quotes", self.customer.pk)
        quote = services.do_create_quote(request.user, category=provider, customer=self.customer)
        messages.success(request, f"Quote {quote.number} started for {self.customer.name}.")
        return redirect(step_url(quote, Quote.Step.BASIC))


class DiscountLimitsView(ResellerViewMixin, TemplateView):
    """The largest line discount per role; only the owner changes them, everyone may read them."""

    template_name = "quotes/discount_limits.html"
    write_roles = (Role.OWNER,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        limits = services_lines.discount_limits()
        ctx["form"] = kwargs.get("form") or DiscountLimitsForm(
            initial={r: f"{v.normalize():f}" for r, v in limits.items()}
        )
        ctx["is_owner"] = self.request.user.role == Role.OWNER
        ctx["my_limit"] = services_lines.discount_limit(self.request.user.role)
        return ctx

    def post(self, request, *args, **kwargs):
        form = DiscountLimitsForm(request.POST)
        if form.is_valid():
            try:
                changes = services_lines.do_set_discount_limits(request.user, form.cleaned_data)
            except PermissionDenied:
                raise
            except ValidationError as exc:
                for field, errors in exc.error_dict.items():
                    form.add_error(field if field in form.fields else None, errors)
            else:
                messages.success(request, "Discount limits saved." if changes else "Nothing changed.")
                return redirect("quotes:discount-limits")
        return self.render_to_response(self.get_context_data(form=form), status=400)
