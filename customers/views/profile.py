"""The Customer360 profile: overview, general information, activity log, alerts."""

from datetime import timedelta

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import get_object_or_404, redirect
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views import View
from django.views.generic import FormView, TemplateView

from billing.account_position import payment_position
from customer360.mixins import HtmxPartialMixin, ResellerViewMixin

from .. import services
from ..actuals import customer_actuals
from ..forms import CustomerForm
from ..keyset import paginate
from ..models import ActivityLog, Alert
from ..services_custom_fields import custom_field_values_for


class CustomerMixin(ResellerViewMixin):
    """A page inside one customer's profile. Another reseller's customer is a 404."""

    menu = "overview"

    def dispatch(self, request, *args, **kwargs):
        if not request.user.is_authenticated or not request.user.reseller_id:
            return super().dispatch(request, *args, **kwargs)
        self.customer = services.access_customer(kwargs["customer_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx.update(customer=self.customer, menu=self.menu)
        return ctx


class CustomerDetailView(CustomerMixin, TemplateView):
    template_name = "customers/customer_detail.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        c = self.customer
        ctx["admin_contact"] = c.contacts.filter(is_admin=True).first()
        today = timezone.localdate()
        ctx["position"] = payment_position(c, today, today.replace(day=1) - timedelta(days=1))
        ctx["actuals"] = customer_actuals(c, today, ctx["position"])
        ctx["custom_values"] = custom_field_values_for(c)
        ctx["alerts"] = c.alerts.all()[:10]
        ctx["activity"] = c.activity.all()[:15]
        ctx["recent_changes"] = c.activity.exclude(changes={})[:5]
        return ctx


class CustomerGeneralView(CustomerMixin, FormView):
    template_name = "customers/customer_general.html"
    form_class = CustomerForm
    menu = "general"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = services.access_customer(self.customer.pk)  # a copy the form may mutate
        return kwargs

    def form_valid(self, form):
        fields = {name: form.cleaned_data[name] for name in CustomerForm.Meta.fields}
        try:
            changes = services.do_update_customer(self.request.user, self.customer, **fields)
        except ValidationError as exc:
            form.add_error(None, exc)
            return self.form_invalid(form)
        messages.success(self.request, "Saved." if changes else "Nothing changed.")
        return redirect("customers:general", self.customer.pk)


class CustomerActivityView(CustomerMixin, HtmxPartialMixin, TemplateView):
    """The activity log, newest first, paged; the profile polls its first page for live updates."""

    template_name = "customers/customer_activity.html"
    partial_template_name = "customers/_activity_list.html"
    menu = "activity"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        qs = ActivityLog.objects.filter(customer=self.customer)
        page = paginate(
            qs, field="created_at", descending=True, token=self.request.GET.get("page"), per_page=25
        )
        ctx["activity"] = page.rows
        ctx["page"] = page
        return ctx


class AlertReadView(CustomerMixin, TemplateView):
    """Marks an alert read; an htmx request gets the refreshed alerts panel back."""

    http_method_names = ["post"]
    template_name = "customers/_alerts.html"

    def post(self, request, *args, **kwargs):
        alert = get_object_or_404(Alert.objects.filter(customer=self.customer), pk=kwargs["alert_id"])
        services.do_mark_alert_read(request.user, alert)
        if request.htmx:
            return self.render_to_response(
                {"customer": self.customer, "alerts": self.customer.alerts.all()[:10]}
            )
        next_url = request.POST.get("next", "")
        # A path of this site only: redirect() would take anything else for a view name.
        if not next_url.startswith("/") or not url_has_allowed_host_and_scheme(
            next_url, allowed_hosts={request.get_host()}, require_https=request.is_secure()
        ):
            next_url = reverse("customers:detail", args=[self.customer.pk])  # never redirect off-site
        return redirect(next_url)


class ResellerAlertReadView(ResellerViewMixin, View):
    """Marks a reseller-wide alert (one with no customer: the dashboard lists them) read."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        alert = get_object_or_404(Alert.objects.filter(customer__isnull=True), pk=kwargs["alert_id"])
        services.do_mark_alert_read(request.user, alert)
        return redirect("dashboard")
