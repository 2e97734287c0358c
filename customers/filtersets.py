import django_filters
from django import forms
from django.db.models import Q

from .models import CloudAccount, CloudProvider, Customer

# Account numbers are matched by prefix; more matches than this only happen for very short
# prefixes, where the name match dominates anyway.
ACCOUNT_MATCH_LIMIT = 2000


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

    def search(self, queryset, name, value):
        """Name (any part, any case) or cloud account number (exact or prefix)."""
        value = value.strip()
        if not value:
            return queryset
        # Resolve account-number matches first, so the main query is an index-friendly OR of the
        # name trigram index and a primary-key list (an IN (subquery) inside OR scans every row).
        customer_ids = list(
            CloudAccount.objects.filter(account_id__startswith=value.lower())
            .values_list("customer_id", flat=True)
            .distinct()[:ACCOUNT_MATCH_LIMIT]
        )
        return queryset.filter(Q(name__icontains=value) | Q(id__in=customer_ids))

    def filter_provider(self, queryset, name, value):
        return queryset.filter(providers__overlap=list(value)) if value else queryset
