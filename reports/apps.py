from django.apps import AppConfig


class ReportsConfig(AppConfig):
    name = "reports"

    def ready(self):
        from billing.signals import usage_rolled_up

        from .tasks import queue_spend_month_refresh

        usage_rolled_up.connect(queue_spend_month_refresh, dispatch_uid="reports.spend_months")
