from django.db.models import Count, Q
from django.views.generic import TemplateView

from customers.models import ActivityLog, Alert, Customer

from .mixins import ResellerViewMixin


class DashboardView(ResellerViewMixin, TemplateView):
    template_name = "dashboard.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["customer_counts"] = Customer.objects.aggregate(
            total=Count("id"), active=Count("id", filter=Q(status=Customer.Status.ACTIVE))
        )
        ctx["unread_alerts"] = Alert.objects.filter(is_read=False).count()
        ctx["recent_alerts"] = Alert.objects.filter(is_read=False).select_related("customer")[:5]
        ctx["recent_activity"] = ActivityLog.objects.select_related("customer")[:10]
        return ctx
