"""The dashboard's filters: a provider and any custom field (cf_<key>, as in the customer list), kept in
the URL and applied to every card and reseller-wide report through the customers they select."""

from urllib.parse import urlencode

import django_filters
from django import forms

from customers.forms_custom_fields import add_custom_field_filters
from customers.models import CloudProvider, Customer
from customers.services_custom_fields import custom_field_params


class DashboardFilterSet(django_filters.FilterSet):
    provider = django_filters.ChoiceFilter(
        choices=CloudProvider.choices,
        method="filter_provider",
        empty_label="All providers",
        label="Provider",
        widget=forms.Select(attrs={"class": "filter-input"}),
    )

    class Meta:
        model = Customer
        fields = ["provider"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        self.custom_field_filters = add_custom_field_filters(self)

    def filter_provider(self, queryset, name, value):
        return queryset.filter(providers__contains=[value]) if value else queryset

    @property
    def provider_code(self) -> str:
        return (self.form.cleaned_data.get("provider") or "") if self.is_valid() else ""

    @property
    def active(self) -> bool:
        """Whether any filter narrows the customers (else every card reads the whole reseller)."""
        return bool(self.provider_code or (self.is_valid() and custom_field_params(self.data)))

    def customers(self):
        """The selected customers as a subquery, or None for all the reseller's customers."""
        if not self.active:
            return None
        return self.qs.order_by().values("pk")

    def querystring(self) -> str:
        keys = ["provider", *(k for k in self.data if k.startswith("cf_"))]
        return urlencode({k: self.data.get(k) for k in keys if self.data.get(k)})
