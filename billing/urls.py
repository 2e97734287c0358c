"""URLs of the billing app. Its pages arrive with their issues; the prefix is reserved in customer360/urls.py."""

from django.urls import path

from . import views_usage

app_name = "billing"
urlpatterns = [
    path("usage/", views_usage.UsageImportListView.as_view(), name="usage_imports"),
    path("usage/unmatched/", views_usage.UnmatchedUsageView.as_view(), name="usage_unmatched"),
    path("usage/<uuid:import_id>/", views_usage.UsageImportDetailView.as_view(), name="usage_import"),
]
