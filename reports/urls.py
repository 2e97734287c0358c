"""URLs of the reports app (at /reports/): a customer's reports, their downloads, and the reseller-wide
reports behind the dashboard cards."""

from django.urls import path

from . import views, views_reseller
from .registry import REPORTS

app_name = "reports"

P = "customers/<uuid:customer_id>/"

urlpatterns = [
    path(P, views.CustomerReportIndexView.as_view(), name="customer-reports"),
]
for slug in REPORTS:
    urlpatterns += [
        path(f"{P}{slug}/", views.CustomerReportView.as_view(report_slug=slug), name=f"customer-{slug}"),
        path(
            f"{P}{slug}.csv",
            views.CustomerReportDownloadView.as_view(report_slug=slug, fmt="csv"),
            name=f"customer-{slug}-csv",
        ),
        path(
            f"{P}{slug}.xlsx",
            views.CustomerReportDownloadView.as_view(report_slug=slug, fmt="xlsx"),
            name=f"customer-{slug}-xlsx",
        ),
    ]
for slug in views_reseller.RESELLER_REPORTS:
    urlpatterns += [
        path(f"{slug}/", views_reseller.ResellerReportView.as_view(report_slug=slug), name=slug),
        path(
            f"{slug}.csv",
            views_reseller.ResellerReportDownloadView.as_view(report_slug=slug, fmt="csv"),
            name=f"{slug}-csv",
        ),
        path(
            f"{slug}.xlsx",
            views_reseller.ResellerReportDownloadView.as_view(report_slug=slug, fmt="xlsx"),
            name=f"{slug}-xlsx",
        ),
    ]
