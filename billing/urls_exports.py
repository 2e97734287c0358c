"""URLs of billing exports (included by billing/urls.py, namespace "billing")."""

from django.urls import path

from . import views_exports as views

E = "exports/<uuid:export_id>/"
R = "exports/runs/<uuid:export_run_id>/"
billing_urlpatterns = [
    path("exports/", views.ExportListView.as_view(), name="exports"),
    path("exports/new/", views.ExportCreateView.as_view(), name="export_new"),
    path(E, views.ExportDetailView.as_view(), name="export"),
    path(E + "edit/", views.ExportEditView.as_view(), name="export_edit"),
    path(R, views.ExportRunView.as_view(), name="export_run"),
    path(R + "files/<int:file_no>/", views.ExportFileView.as_view(), name="export_file"),
]
