"""Usage imports: upload a FOCUS file, watch its progress, handle the rows no customer owns."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.generic import TemplateView

from accounts.models import Role
from customer360.mixins import HtmxPartialMixin, ResellerViewMixin
from customer360.uploads import refused_upload

from . import services_usage as services
from .forms_usage import AssignAccountForm, UsageUploadForm
from .models_usage import UsageImport

IMPORT_ROLES = (Role.OWNER, Role.BILLING)


class UsageImportListView(ResellerViewMixin, TemplateView):
    template_name = "billing/usage_imports.html"
    write_roles = IMPORT_ROLES

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["imports"] = UsageImport.objects.select_related("created_by").order_by("-created_at")[:50]
        ctx["form"] = kwargs.get("form") or UsageUploadForm()
        ctx["can_import"] = self.request.user.role in IMPORT_ROLES
        return ctx

    def post(self, request, *args, **kwargs):
        form = UsageUploadForm(request.POST, request.FILES)
        if refused_upload(request):  # too big: stopped before the file was read (customer360.uploads)
            form.is_valid()
            form.errors.pop("file", None)
            form.add_error("file", refused_upload(request))
            return self.render_to_response(self.get_context_data(form=form), status=413)
        if form.is_valid():
            upload = form.cleaned_data["file"]
            try:
                record = services.do_create_import(
                    request.user, file=upload, name=upload.name, provider=form.cleaned_data["provider"]
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Importing {record.original_name}.")
                return redirect("billing:usage_import", import_id=record.pk)
        return self.render_to_response(self.get_context_data(form=form), status=400)


class UsageImportDetailView(HtmxPartialMixin, ResellerViewMixin, TemplateView):
    template_name = "billing/usage_import_detail.html"
    partial_template_name = "billing/usage_import_progress.html"
    http_method_names = ["get", "head", "options", "post"]
    write_roles = IMPORT_ROLES

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        record = services.access_import(kwargs["import_id"])
        ctx["record"] = record
        if not record.running:
            ctx["unmatched"] = list(services.unmatched_accounts(record)[:100])
        ctx["can_retry"] = (
            record.status == UsageImport.Status.FAILED
            and self.request.user.role in IMPORT_ROLES
            and services.file_is_stored(record)
        )
        return ctx

    def post(self, request, *args, **kwargs):
        """Retry a failed import from its stored file."""
        record = services.access_import(kwargs["import_id"])
        try:
            services.do_retry_import(request.user, record)
        except ValidationError as exc:
            messages.error(request, " ".join(exc.messages))
        else:
            messages.success(request, f"Importing {record.original_name} again.")
        return redirect("billing:usage_import", import_id=record.pk)


class UnmatchedUsageView(ResellerViewMixin, TemplateView):
    template_name = "billing/usage_unmatched.html"
    write_roles = IMPORT_ROLES

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["accounts"] = list(services.unmatched_accounts()[:500])
        ctx["can_assign"] = self.request.user.role in IMPORT_ROLES
        ctx["form"] = kwargs.get("form")
        return ctx

    def post(self, request, *args, **kwargs):
        if request.POST.get("action") == "reprocess":
            attached = services.rematch_unmatched()
            messages.success(request, f"Re-processed: {attached:,} row(s) now match a customer.")
            return redirect("billing:usage_unmatched")
        form = AssignAccountForm(request.POST)
        if form.is_valid():
            data = form.cleaned_data
            try:
                attached = services.do_assign_unmatched(
                    request.user, data["customer"], provider=data["provider"], account_id=data["account_id"]
                )
            except ValidationError as exc:
                form.add_error("customer", "; ".join(exc.messages))
            else:
                messages.success(
                    request,
                    f"Linked {data['account_id']} to {data['customer'].name}: {attached:,} row(s) rated.",
                )
                return redirect("billing:usage_unmatched")
        return self.render_to_response(self.get_context_data(form=form), status=400)
