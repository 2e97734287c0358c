"""Reseller-wide reports: the lists behind the dashboard cards and its report sections, with the
dashboard's filters (provider, custom fields) and a date range, as a page and as CSV/XLSX."""

from datetime import date
from urllib.parse import urlencode

from django.http import Http404
from django.utils import timezone
from django.views import View
from django.views.generic import TemplateView

from customer360.mixins import ResellerViewMixin
from customers.models.customer import CURRENCIES

from . import queries_reseller as q
from . import rollup
from .exports import download
from .filtersets import DashboardFilterSet
from .forms import ReportFilterForm, default_start
from .views import chart_context, table_context

# slug -> (title, function, default range: "mtd" (this month) or "year" (twelve months))
RESELLER_REPORTS = {
    "top-customers": ("Top customers by spend", q.top_customers, "mtd"),
    "top-margin": ("Top customers by margin", q.top_customers, "mtd"),
    "margin-by-provider": ("Margin by provider", q.margin_by_provider, "mtd"),
    "growth": ("Month-over-month growth", q.growth, "year"),
    "mrr": ("Monthly recurring revenue by customer", q.mrr_by_customer, "none"),
    "expiring-subscriptions": ("Subscriptions expiring in 30 days", q.expiring_subscriptions, "none"),
    "overdue-invoices": ("Overdue invoices", q.overdue_invoices, "none"),
}
CURRENCY_CODES = {c for c, _ in CURRENCIES}
# A reseller-wide list shows this many rows (sorted as asked); the CSV and XLSX have every row.
PAGE_ROWS = 200


def currency_of(request) -> str:
    asked = request.GET.get("currency", "")
    return asked if asked in CURRENCY_CODES else request.user.reseller.default_currency


class ResellerReportMixin(ResellerViewMixin):
    report_slug = None

    def compute(self):
        if self.report_slug not in RESELLER_REPORTS:
            raise Http404("No such report")
        title, func, default_range = RESELLER_REPORTS[self.report_slug]
        today = timezone.localdate()
        filterset = DashboardFilterSet(self.request.GET or None, queryset=q.Customer.objects.all())
        form = ReportFilterForm(self.request.GET or None)
        params = form.params(today)
        start, end = params.start, params.end
        if not (form.is_bound and form.is_valid() and form.cleaned_data.get("start")):
            start = {"mtd": today.replace(day=1), "year": default_start(today)}.get(default_range, start)
        currency = currency_of(self.request)
        args = (filterset.customers(), filterset.provider_code, currency, start, end)
        extra = {}
        if default_range != "none" and q.whole_months(start, end, today) and rollup.fresh():
            extra["monthly"] = True  # whole months: the monthly rollup answers exactly
        if self.report_slug in ("top-customers", "top-margin"):
            by = "spend" if self.report_slug == "top-customers" else "margin"
            data = func(*args, by=by, limit=100, **extra)
        else:
            data = func(*args, **extra)
        data.sorted_by(params.sort)
        return data, filterset, form, start, end, currency, default_range


class ResellerReportView(ResellerReportMixin, TemplateView):
    template_name = "reports/reseller_report.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        data, filterset, form, start, end, currency, default_range = self.compute()
        query = {k: v for k, v in self.request.GET.items() if k != "sort" and v}
        sort = form.params().sort
        ctx.update(
            data=data,
            filterset=filterset,
            form=form,
            params=type("P", (), {"start": start, "end": end})(),
            dated=default_range != "none",
            currency=currency,
            currencies=sorted(CURRENCY_CODES),
            slug=self.report_slug,
            querystring=urlencode({**query, **({"sort": sort} if sort else {})}),
            dashboard_query=filterset.querystring(),
        )
        ctx.update(table_context(data, query, sort, limit=PAGE_ROWS))
        ctx.update(chart_context(data))
        return ctx


class ResellerReportDownloadView(ResellerReportMixin, View):
    fmt = "csv"

    def get(self, request, *args, **kwargs):
        data = self.compute()[0]
        return download(data, self.fmt, f"{request.user.reseller.slug}-{date.today().isoformat()}")
