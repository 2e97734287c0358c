"""URLs of the billing app. Its pages arrive with their issues; the prefix is reserved in customer360/urls.py."""

from django.urls import path

from . import views_usage
from .urls_config import billing_urlpatterns as config_urlpatterns
from .urls_exports import billing_urlpatterns as export_urlpatterns
from .urls_invoices import billing_urlpatterns as invoice_urlpatterns

app_name = "billing"
urlpatterns = [
    path("usage/", views_usage.UsageImportListView.as_view(), name="usage_imports"),
    path("usage/unmatched/", views_usage.UnmatchedUsageView.as_view(), name="usage_unmatched"),
    path("usage/<uuid:import_id>/", views_usage.UsageImportDetailView.as_view(), name="usage_import"),
    *config_urlpatterns,  # tax rates
    *invoice_urlpatterns,  # invoice runs
    *export_urlpatterns,  # billing exports
]
