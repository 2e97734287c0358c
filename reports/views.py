"""Customer Reports: the report picker and one page per report (filters, chart above a sortable table,
CSV and XLSX downloads of the same numbers). A usage report over a long range runs as a task
(reports.tasks) and is read back from the cache until the data changes."""

from urllib.parse import urlencode

from django.http import Http404
from django.shortcuts import redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.safestring import mark_safe
from django.views import View
from django.views.generic import TemplateView

from customer360.tenancy import current_reseller_id
from customers.views.profile import CustomerMixin

from . import cache, charts
from .data import ReportData, display
from .exports import download
from .forms import ReportFilterForm
from .models import ReportResult
from .registry import REPORTS, compute
from .tasks import build_report


def table_context(data: ReportData, query: dict, sort: str, limit: int | None = None) -> dict:
    """Header cells with their sort links, body and total cells formatted for the page (the first
    `limit` rows; the downloads have them all)."""
    headers = []
    for col in data.columns:
        desc = sort == col.key  # a second click on the sorted column sorts it the other way
        params = {**query, "sort": f"-{col.key}" if desc else col.key}
        state = "ascending" if sort == col.key else "descending" if sort == f"-{col.key}" else "none"
        headers.append({"col": col, "href": "?" + urlencode(params), "aria_sort": state})
    rows = data.rows[:limit] if limit else data.rows
    body = [[(display(row.get(c.key), c.kind), c.numeric) for c in data.columns] for row in rows]
    totals = None
    if data.totals:
        totals = [(display(data.totals.get(c.key), c.kind), c.numeric) for c in data.columns]
    hidden = len(data.rows) - len(rows)
    return {"headers": headers, "body": body, "totals": totals, "hidden_rows": hidden}


def chart_context(data: ReportData) -> dict:
    if not data.chart:
        return {}
    if not any(v for _, values in data.chart.series for v in values):
        # Bars of nothing say nothing: the page says so instead (the table below still lists the rows).
        return {"chart_empty": f"{data.chart.title}: nothing to chart, every amount is zero in this range."}
    return {
        "chart_svg": mark_safe(charts.render(data.chart, uid=f"chart-{data.slug}")),  # noqa: S308 - escaped in render
        "chart": data.chart,
        "chart_rows": charts.table_rows(data.chart),
    }


class ReportMixin(CustomerMixin):
    menu = "reports"
    report_slug = None

    def dispatch(self, request, *args, **kwargs):
        if self.report_slug is not None and self.report_slug not in REPORTS:
            raise Http404("No such report")
        return super().dispatch(request, *args, **kwargs)

    @property
    def report(self):
        return REPORTS[self.report_slug]

    def form(self):
        return ReportFilterForm(self.request.GET or None, report=self.report)

    def query(self, form) -> dict:
        return {k: v for k, v in self.request.GET.items() if k != "sort" and v}


class CustomerReportIndexView(ReportMixin, TemplateView):
    template_name = "reports/report_index.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["reports"] = REPORTS.values()
        return ctx


class CustomerReportView(ReportMixin, TemplateView):
    template_name = "reports/report.html"

    def get_template_names(self):
        if getattr(self.request, "htmx", False) and not self.request.htmx.boosted:
            return ["reports/_report_body.html"]
        return [self.template_name]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        form = self.form()
        params = form.params()
        query = self.query(form)
        sort = params.sort or self.report.default_sort
        ctx.update(
            report=self.report,
            reports=REPORTS.values(),
            form=form,
            params=params,
            sort=sort,
            querystring=urlencode({**query, **({"sort": params.sort} if params.sort else {})}),
        )
        data = None
        if params.is_long and self.report.usage:
            row = cache.find(self.report.slug, self.customer, params, cache.data_version())
            ctx["long"] = {"row": row}
            if row is not None and row.status == ReportResult.Status.DONE:
                data = ReportData.from_json(row.result).sorted_by(sort)
        else:
            data = compute(self.report, self.customer, params)
        if data is not None:
            ctx["data"] = data
            ctx.update(table_context(data, query, sort))
            ctx.update(chart_context(data))
        return ctx

    def post(self, request, *args, **kwargs):
        """Queue a long report (writers only, see ResellerViewMixin); the page then shows its progress."""
        form = ReportFilterForm(request.GET or None, report=self.report)
        params = form.params()
        target = request.get_full_path()
        if not (params.is_long and self.report.usage):
            return redirect(target)
        version = cache.data_version()
        key = cache.result_key(self.report.slug, self.customer.pk, params)
        row, created = ReportResult.objects.get_or_create(
            key=key,
            data_version=version,
            defaults={
                "report": self.report.slug,
                "customer": self.customer,
                "params": {
                    "start": params.start.isoformat(),
                    "end": params.end.isoformat(),
                    "provider": params.provider,
                    "status": params.status,
                    "limit": params.limit,
                },
            },
        )
        if created or row.status == ReportResult.Status.FAILED:
            if not created:
                ReportResult.objects.filter(pk=row.pk).update(
                    status=ReportResult.Status.QUEUED, progress=0, error=""
                )
            build_report.delay_on_commit(str(row.pk), str(current_reseller_id()))
        return redirect(target)


class CustomerReportDownloadView(ReportMixin, View):
    fmt = "csv"

    def get(self, request, *args, **kwargs):
        form = self.form()
        params = form.params()
        sort = params.sort or self.report.default_sort
        if params.is_long and self.report.usage:
            row = cache.find(self.report.slug, self.customer, params, cache.data_version())
            if row is None or row.status != ReportResult.Status.DONE:
                url = reverse(f"reports:customer-{self.report.slug}", args=[self.customer.pk])
                return redirect(f"{url}?{request.GET.urlencode()}")
            data = ReportData.from_json(row.result).sorted_by(sort)
        else:
            data = compute(self.report, self.customer, params)
        stamp = timezone.localdate().isoformat()
        return download(data, self.fmt, f"{self.customer.name}-{stamp}")
