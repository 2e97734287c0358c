"""The customer list, its row summaries and customer creation."""

import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import Count
from django.shortcuts import redirect
from django.urls import reverse
from django.views.generic import FormView, TemplateView

from customer360.mixins import HtmxPartialMixin, ResellerViewMixin
from quotes.models import OPEN_QUOTE_STATUSES, Quote

from .. import services
from ..filtersets import CustomerFilterSet
from ..forms import CustomerCreateForm, CustomerForm
from ..keyset import FILTERED_COUNT_CAP, capped_count, paginate
from ..models import Alert, CloudAccount
from ..services_custom_fields import custom_field_params
from .profile import CustomerMixin

ROW_URL_SENTINEL = uuid.UUID(int=0)

# sort parameter -> model field; "-name" sorts descending.
SORTS = {
    "name": "name",
    "providers": "providers",
    "accounts": "cloud_account_count",
    "subscriptions": "active_subscription_count",
    "spend": "mtd_spend",
    "status": "status",
    "created": "created_at",
}
PER_PAGE_CHOICES = (10, 25, 50, 100)
COLUMNS = [
    ("name", "Name", ""),
    ("providers", "Primary cloud providers", ""),
    ("accounts", "Cloud accounts", "num"),
    ("subscriptions", "Active subscriptions", "num"),
    ("spend", "Month-to-date spend", "num"),
    ("status", "Status", ""),
    ("created", "Created", ""),
]


class CustomerListView(ResellerViewMixin, HtmxPartialMixin, TemplateView):
    """filterset -> ordering -> keyset paginator; htmx requests get only the table partial."""

    template_name = "customers/customer_list.html"
    partial_template_name = "customers/_customer_table.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        params = self.request.GET
        filterset = CustomerFilterSet(params, queryset=services.customers_for_list())
        queryset = filterset.qs if filterset.is_valid() else filterset.queryset.none()
        sort = params.get("sort", "name")
        key = sort.lstrip("-")
        if key not in SORTS:
            sort, key = "name", "name"
        try:
            per_page = int(params.get("per_page", 50))
        except ValueError:
            per_page = 50
        per_page = per_page if per_page in PER_PAGE_CHOICES else 50
        page = paginate(
            queryset,
            field=SORTS[key],
            descending=sort.startswith("-"),
            token=params.get("page"),
            per_page=per_page,
            fetch=lambda ids: services.customers_for_list().filter(pk__in=ids),
        )
        decorate_rows(page.rows)
        # A filtered count reads every match up to the cap through the filter's index, so it gets a
        # lower cap than the plain list, whose count is an index-only scan.
        filtered = filterset.is_valid() and any(filterset.form.cleaned_data.values())
        total, exact = capped_count(queryset, cap=FILTERED_COUNT_CAP if filtered else None)
        base = params.copy()
        base.pop("page", None)
        ctx.update(
            filterset=filterset,
            page=page,
            total=total,
            total_exact=exact,
            sort=sort,
            per_page=per_page,
            per_page_choices=PER_PAGE_CHOICES,
            columns=[
                {
                    "key": k,
                    "label": label,
                    "css": css,
                    "active": key == k,
                    "descending": sort == f"-{k}",
                    "url": _with(base, sort=(f"-{k}" if sort == k else k)),
                }
                for k, label, css in COLUMNS
            ],
            next_url=_with(base, page=page.next_token) if page.next_token else None,
            prev_url=_with(base, page=page.prev_token) if page.prev_token else None,
            first_url=_with(base) if not page.is_first else None,
            has_filters=any(params.get(k) for k in ("q", "provider", "status"))
            or bool(custom_field_params(params)),
        )
        return ctx


def _with(querydict, **changes) -> str:
    q = querydict.copy()
    for k, v in changes.items():
        q[k] = v
    return "?" + q.urlencode()


class CustomerCreateView(ResellerViewMixin, FormView):
    template_name = "customers/customer_form.html"
    form_class = CustomerCreateForm

    def get_initial(self):
        return {"currency": self.request.user.reseller.default_currency}

    def form_valid(self, form):
        fields = {name: form.cleaned_data[name] for name in CustomerForm.Meta.fields}
        try:
            customer = services.do_create_customer(
                self.request.user, admin_contact=form.admin_contact(), **fields
            )
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"Customer {customer.name} created.")
        return redirect("customers:detail", customer.pk)


def decorate_rows(rows) -> None:
    """The per-row texts of the list, made in Python: a page renders 50-100 rows, and each template
    variable and filter (url, intcomma, floatformat) costs more than these string operations."""
    template = reverse("customers:detail", args=[ROW_URL_SENTINEL])
    sentinel = str(ROW_URL_SENTINEL)
    for c in rows:
        c.detail_url = template.replace(sentinel, str(c.pk))
        c.accounts_text = f"{c.cloud_account_count:,}"
        c.subscriptions_text = f"{c.active_subscription_count:,}"
        c.spend_text = f"{c.mtd_spend:,.2f}"


class CustomerSummaryView(CustomerMixin, TemplateView):
    """The row expansion of the customer list, fetched on demand."""

    template_name = "customers/_customer_summary.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        c = self.customer
        ctx["contacts"] = list(c.contacts.all()[:5])
        ctx["accounts_by_provider"] = list(
            CloudAccount.objects.filter(customer=c)
            .values("provider")
            .annotate(n=Count("id"))
            .order_by("provider")
        )
        ctx["unread_alerts"] = Alert.objects.filter(customer=c, is_read=False).count()
        ctx["open_quotes"] = Quote.objects.filter(customer=c, status__in=OPEN_QUOTE_STATUSES).count()
        return ctx
