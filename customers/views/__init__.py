from .cloud_accounts import CloudAccountsView
from .listing import CustomerCreateView, CustomerListView, CustomerSummaryView
from .profile import (
    AlertReadView,
    CustomerActivityView,
    CustomerDetailView,
    CustomerGeneralView,
    CustomerMixin,
)

__all__ = [
    "CloudAccountsView",
    "AlertReadView",
    "CustomerActivityView",
    "CustomerCreateView",
    "CustomerDetailView",
    "CustomerGeneralView",
    "CustomerListView",
    "CustomerMixin",
    "CustomerSummaryView",
]
