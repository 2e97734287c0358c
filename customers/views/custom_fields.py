"""Custom fields: the reseller-wide definitions pages and each customer's values page."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.shortcuts import redirect
from django.utils.functional import cached_property
from django.views.generic import FormView, TemplateView

from accounts.models import Role
from customer360.mixins import ResellerViewMixin

from .. import services_custom_fields as cf
from ..forms_custom_fields import CustomerCustomFieldsForm, CustomFieldDefinitionForm, attach_errors
from .profile import CustomerMixin


class DefinitionMixin(ResellerViewMixin):
    """A page of the reseller's custom field definitions: everyone may look, owners change them."""

    write_roles = (Role.OWNER,)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["can_edit"] = self.request.user.role in self.write_roles
        return ctx


class DefinitionWriteMixin(DefinitionMixin):
    """The create, edit and delete pages. Other roles' writes are refused (403) by ResellerViewMixin;
    their visits go back to the list, which shows them every field, instead of to a form they
    cannot submit."""

    def get(self, request, *args, **kwargs):
        if request.user.role not in self.write_roles:
            messages.info(request, "Only owners can change custom fields.")
            return redirect("customers:custom-fields")
        return super().get(request, *args, **kwargs)


class SingleDefinitionMixin(DefinitionWriteMixin):
    """Loads self.definition; another reseller's field is a 404."""

    def dispatch(self, request, *args, **kwargs):
        if request.user.is_authenticated and request.user.reseller_id:
            self.definition = cf.access_definition(kwargs["definition_id"])
        return super().dispatch(request, *args, **kwargs)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["definition"] = self.definition
        return ctx


class CustomFieldListView(DefinitionMixin, TemplateView):
    template_name = "customers/custom_field_list.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["definitions"] = cf.definitions()
        return ctx


class CustomFieldCreateView(DefinitionWriteMixin, FormView):
    template_name = "customers/custom_field_form.html"
    form_class = CustomFieldDefinitionForm

    def form_valid(self, form):
        try:
            definition = cf.do_create_definition(self.request.user, **form.definition_fields())
        except ValidationError as exc:
            attach_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, f"Custom field {definition.label} created.")
        return redirect("customers:custom-fields")


class CustomFieldEditView(SingleDefinitionMixin, FormView):
    template_name = "customers/custom_field_form.html"
    form_class = CustomFieldDefinitionForm

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["instance"] = self.definition
        return kwargs

    def form_valid(self, form):
        try:
            changes = cf.do_update_definition(self.request.user, self.definition, **form.definition_fields())
        except ValidationError as exc:
            attach_errors(form, exc)
            return self.form_invalid(form)
        messages.success(self.request, "Saved." if changes else "Nothing changed.")
        return redirect("customers:custom-fields")


class CustomFieldDeleteView(SingleDefinitionMixin, TemplateView):
    """GET asks for confirmation, saying how many customers' values go with the field; POST deletes."""

    template_name = "customers/custom_field_confirm_delete.html"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["values_in_use"] = cf.values_in_use(self.definition)
        return ctx

    def post(self, request, *args, **kwargs):
        cf.do_delete_definition(request.user, self.definition)
        messages.success(request, f"Custom field {self.definition.label} deleted.")
        return redirect("customers:custom-fields")


class CustomerCustomFieldsView(CustomerMixin, FormView):
    """The customer's value of every custom field, edited in one form."""

    template_name = "customers/customer_custom_fields.html"
    form_class = CustomerCustomFieldsForm
    menu = "custom_fields"

    def get_form_kwargs(self):
        kwargs = super().get_form_kwargs()
        kwargs["field_values"] = self.field_values
        return kwargs

    @cached_property
    def field_values(self):
        return cf.custom_field_values_for(self.customer)

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["field_values"] = self.field_values
        ctx["can_define"] = self.request.user.role == Role.OWNER
        return ctx

    def form_valid(self, form):
        try:
            changes = cf.do_set_custom_field_values(self.request.user, self.customer, form.values())
        except ValidationError as exc:
            attach_errors(form, exc, field_prefix=cf.PARAM_PREFIX)
            return self.form_invalid(form)
        messages.success(self.request, "Saved." if changes else "Nothing changed.")
        return redirect("customers:custom-fields-customer", self.customer.pk)
