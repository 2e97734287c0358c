"""Cloud Accounts: every account, subscription and project of a customer; link one, or request AWS."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.views.generic import TemplateView

from .. import services
from ..cloud_accounts import FORMAT_HELP
from ..forms import AwsAccountRequestForm, CloudAccountLinkForm
from ..models import CloudAccount
from .profile import CustomerMixin


class CloudAccountsView(CustomerMixin, TemplateView):
    template_name = "customers/customer_cloud_accounts.html"
    menu = "cloud_accounts"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        accounts = CloudAccount.objects.filter(customer=self.customer).order_by("provider", "created_at")
        groups = {}
        for account in accounts:
            groups.setdefault(account.get_provider_display(), []).append(account)
        ctx.update(
            groups=groups,
            pending=any(a.status in ("requested", "provisioning") for a in accounts),
            link_form=kwargs.get("link_form") or CloudAccountLinkForm(prefix="link"),
            request_form=kwargs.get("request_form") or AwsAccountRequestForm(prefix="request"),
            format_help=[(p.label, FORMAT_HELP[p]) for p in FORMAT_HELP],
        )
        return ctx

    def post(self, request, *args, **kwargs):
        if "request-name" in request.POST:
            form = AwsAccountRequestForm(request.POST, prefix="request")
            if form.is_valid():
                try:
                    services.do_request_aws_account(
                        request.user, self.customer, name=form.cleaned_data["name"]
                    )
                except ValidationError as exc:
                    form.add_error(None, exc)
                else:
                    messages.success(
                        request, "AWS account requested. Its status updates here as it is provisioned."
                    )
                    return redirect("customers:cloud-accounts", self.customer.pk)
            return self.render_to_response(self.get_context_data(request_form=form), status=400)
        form = CloudAccountLinkForm(request.POST, prefix="link")
        if form.is_valid():
            try:
                account = services.do_link_cloud_account(
                    request.user,
                    self.customer,
                    provider=form.cleaned_data["provider"],
                    account_number=form.cleaned_data["account_number"],
                    name=form.cleaned_data["name"],
                )
            except ValidationError as exc:
                form.add_error(None, exc)
            else:
                messages.success(request, f"Linked {account}.")
                return redirect("customers:cloud-accounts", self.customer.pk)
        return self.render_to_response(self.get_context_data(link_form=form), status=400)
