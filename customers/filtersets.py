import django_filters
from django import forms
from django.db.models import Q

from .forms_custom_fields import add_custom_field_filters
from .models import CloudAccount, CloudProvider, Customer

# Up to this many customers found only by account number are passed as a literal id list (fast);
# beyond it (very short prefixes) the search falls back to a subquery. Measured in docs/benchmarks.md:
# past ~100 ids PostgreSQL abandons the indexes for a scan of the reseller's customers.
ACCOUNT_MATCH_LIMIT = 50


class CustomerFilterSet(django_filters.FilterSet):
    q = django_filters.CharFilter(method="search", label="Search")
    provider = django_filters.MultipleChoiceFilter(
        choices=CloudProvider.choices,
        method="filter_provider",
        widget=forms.CheckboxSelectMultiple,
        label="Cloud provider",
    )
    status = django_filters.ChoiceFilter(choices=Customer.Status.choices, empty_label="Any status")

    class Meta:
        model = Customer
        fields = ["q", "provider", "status"]

    def __init__(self, *args, **kwargs):
        super().__init__(*args, **kwargs)
        # cf_<key> filters of the reseller's custom fields (one query for the definitions per request).
        self.custom_field_filters = add_custom_field_filters(self)

    def search(self, queryset, name, value):
        """Name (any part, any case) or cloud account number (exact or prefix)."""
        value = value.strip()
        if not value:
            return queryset
        # Account-number matches whose name does not already match, resolved first: the main query is
        # then an index-friendly OR of the name trigram index and a short primary-key list (an
        # IN (subquery) inside an OR makes PostgreSQL scan every customer of the reseller).
        extra_ids = list(
            dict.fromkeys(
                CloudAccount.objects.filter(account_id__startswith=value.lower())
                .exclude(customer_name__icontains=value)
                .order_by()
                .values_list("customer_id", flat=True)[: ACCOUNT_MATCH_LIMIT + 1]
            )
        )
        if len(extra_ids) > ACCOUNT_MATCH_LIMIT:
            # A very short prefix: stay correct with the subquery (slower, but no match is dropped).
            accounts = CloudAccount.objects.filter(account_id__startswith=value.lower()).values("customer_id")
            return queryset.filter(Q(name__icontains=value) | Q(id__in=accounts))
        if not extra_ids:
            return queryset.filter(name__icontains=value)
        return queryset.filter(Q(name__icontains=value) | Q(id__in=extra_ids))

    def filter_provider(self, queryset, name, value):
        return queryset.filter(providers__overlap=list(value)) if value else queryset
