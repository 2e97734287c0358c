from .cloud_accounts import CloudAccountsView
from .custom_fields import (
    CustomerCustomFieldsView,
    CustomFieldCreateView,
    CustomFieldDeleteView,
    CustomFieldEditView,
    CustomFieldListView,
)
from .listing import CustomerCreateView, CustomerListView, CustomerSummaryView
from .options import CustomerOptionsView
from .profile import (
    AlertReadView,
    CustomerActivityView,
    CustomerDetailView,
    CustomerGeneralView,
    CustomerMixin,
    ResellerAlertReadView,
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
    "CustomerCustomFieldsView",
    "CustomFieldCreateView",
    "CustomFieldDeleteView",
    "CustomFieldEditView",
    "CustomFieldListView",
    "CustomerOptionsView",
    "ResellerAlertReadView",
]
