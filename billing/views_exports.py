"""Billing exports: the list, define / change an export, run it now, a run's progress (htmx polling) and
its files to download."""

import os
import uuid

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.db.models import OuterRef, Subquery
from django.http import FileResponse, Http404
from django.shortcuts import redirect
from django.views import View
from django.views.generic import TemplateView

from accounts.models import Role
from customer360.mixins import HtmxPartialMixin, ResellerViewMixin

from .exports import services
from .exports.destinations import storage_for
from .forms_exports import ExportForm
from .models_exports import BillingExport, DestinationKind, ExportRun

EXPORT_ROLES = (Role.OWNER, Role.BILLING)


class ExportMixin(ResellerViewMixin):
    write_roles = EXPORT_ROLES

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = self.request.user.role in EXPORT_ROLES
        return ctx


def add_service_errors(form, exc: ValidationError) -> None:
    if hasattr(exc, "error_dict"):
        for field, errors in exc.message_dict.items():
            form.add_error(field if field in form.fields else None, errors)
    else:
        form.add_error(None, exc)


class ExportListView(ExportMixin, TemplateView):
    template_name = "billing/exports/export_list.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        latest = ExportRun.objects.filter(export=OuterRef("pk")).order_by("-created_at")
        exports = BillingExport.objects.select_related("customer").annotate(
            last_status=Subquery(latest.values("status")[:1]), last_at=Subquery(latest.values("created_at")[:1])
        )  # fmt: skip
        customer = self.request.GET.get("customer")
        if customer:
            try:
                exports = exports.filter(customer_id=uuid.UUID(customer))
            except ValueError as exc:
                raise Http404("No such customer.") from exc
        ctx["exports"] = list(exports.order_by("name", "pk")[:200])
        ctx["runs"] = list(ExportRun.objects.select_related("export").order_by("-created_at", "pk")[:20])
        return ctx


class ExportCreateView(ExportMixin, TemplateView):
    template_name = "billing/exports/export_form.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["form"] = kwargs.get("form") or ExportForm(
            initial={"period_kind": "last_month", "format": "parquet"}
        )
        return ctx

    def post(self, request, *args, **kwargs):
        form = ExportForm(request.POST)
        if form.is_valid():
            try:
                export = services.do_create_export(
                    request.user, secrets=form.secrets(), **form.export_fields()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Saved the export {export.name}.")
                return redirect("billing:export", export_id=export.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class ExportEditView(ExportMixin, TemplateView):
    template_name = "billing/exports/export_form.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["export"] = export = services.access_export(kwargs["export_id"])
        ctx["form"] = kwargs.get("form") or ExportForm(export=export)
        return ctx

    def post(self, request, *args, **kwargs):
        export = services.access_export(kwargs["export_id"])
        form = ExportForm(request.POST, export=export)
        if form.is_valid():
            try:
                services.do_update_export(
                    request.user, export, secrets=form.secrets(), **form.export_fields()
                )
            except ValidationError as exc:
                add_service_errors(form, exc)
            else:
                messages.success(request, f"Saved the export {export.name}.")
                return redirect("billing:export", export_id=export.pk)
        return self.render_to_response(self.get_context_data(form=form, **kwargs), status=400)


class ExportDetailView(ExportMixin, TemplateView):
    """The export's settings and run history; POST runs it now."""

    template_name = "billing/exports/export_detail.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["export"] = export = services.access_export(kwargs["export_id"])
        ctx["period"] = services.period_of(export)
        ctx["runs"] = list(export.runs.order_by("-created_at", "pk")[:50])
        return ctx

    def post(self, request, *args, **kwargs):
        export = services.access_export(kwargs["export_id"])
        run = services.do_start_run(request.user, export)
        messages.success(request, f"Started the export {export.name}.")
        return redirect("billing:export_run", export_run_id=run.pk)


class ExportRunView(HtmxPartialMixin, ExportMixin, TemplateView):
    template_name = "billing/exports/run_detail.html"
    partial_template_name = "billing/exports/run_progress.html"
    http_method_names = ["get", "head", "options"]

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["run"] = run = services.access_run(kwargs["export_run_id"])
        ctx["export"] = run.export
        ctx["downloadable"] = run.export.destination == DestinationKind.DOWNLOAD and run.status == "done"
        return ctx


class ExportFileView(ExportMixin, View):
    """One file of a finished run kept in the platform's storage, as a download."""

    http_method_names = ["get", "head", "options"]

    def get(self, request, *args, **kwargs):
        run = services.access_run(kwargs["export_run_id"])
        files = run.files + ([{"path": run.manifest_path}] if run.manifest_path else [])
        number = kwargs["file_no"]
        if run.export.destination != DestinationKind.DOWNLOAD or not 0 <= number < len(files):
            raise Http404("No such file.")
        storage = storage_for(run.export)
        name = files[number]["path"]
        if not storage.exists(name):
            raise Http404("The file is no longer stored.")
        return FileResponse(storage.open(name, "rb"), as_attachment=True, filename=os.path.basename(name))
