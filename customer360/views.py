from django.db.models import Case, Count, When
from django.views.generic import TemplateView

from customers.models import ActivityLog, Alert, Customer
from reports.dashboard import dashboard
from reports.filtersets import DashboardFilterSet
from reports.views import chart_context
from reports.views_reseller import CURRENCY_CODES, currency_of

from .mixins import ResellerViewMixin


class DashboardView(ResellerViewMixin, TemplateView):
    """The reseller's dashboard: KPI cards and reseller-wide reports (reports.dashboard), filtered by
    provider and custom fields kept in the URL, beside the unread alerts and recent activity."""

    template_name = "dashboard.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        filterset = DashboardFilterSet(self.request.GET or None, queryset=Customer.objects.all())
        currency = currency_of(self.request)
        ctx.update(dashboard(filterset, currency))
        ctx["filterset"] = filterset
        ctx["currency"] = currency
        ctx["currencies"] = sorted(CURRENCY_CODES)
        ctx["query"] = filterset.querystring()
        ctx["growth_chart"] = chart_context(ctx["growth"])
        ctx["provider_chart"] = chart_context(ctx["margin_by_provider"])
        ctx["customer_counts"] = Customer.objects.aggregate(total=Count("id"))  # active ones: a card
        ctx["unread_alerts"] = Alert.objects.filter(is_read=False).count()
        # Reseller-wide alerts (no customer: e.g. a failed all-customers export) first: only here are they seen.
        ctx["recent_alerts"] = (
            Alert.objects.filter(is_read=False)
            .select_related("customer")
            .order_by(Case(When(customer__isnull=True, then=0), default=1), "-created_at")[:5]
        )
        ctx["recent_activity"] = ActivityLog.objects.select_related("customer")[:10]
        return ctx
