"""Customer options: the customer's test drive settings."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils import timezone
from django.utils.functional import cached_property
from django.views.generic import FormView

from ..forms_custom_fields import TestDriveForm, attach_errors
from ..services_test_drive import access_test_drive, do_update_test_drive
from .profile import CustomerMixin


class CustomerOptionsView(CustomerMixin, FormView):
    template_name = "customers/customer_options.html"
    form_class = TestDriveForm
    menu = "options"

    @cached_property
    def drive(self):
        return access_test_drive(self.customer)

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["drive"] = self.drive
        return kwargs

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["drive"] = self.drive
        ctx["today"] = timezone.localdate()
        ctx["days_left"] = self.drive.days_left(ctx["today"]) if self.drive else None
        if self.drive and self.drive.started_on:
            ctx["days_to_start"] = (self.drive.started_on - ctx["today"]).days
        return ctx

    def form_valid(self, form):
        try:
            _, changes = do_update_test_drive(self.request.user, self.customer, **form.settings())
        except ValidationError as exc:
            attach_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, "Saved." if changes else "Nothing changed.")
        return redirect("customers:options", self.customer.pk)
