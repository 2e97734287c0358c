from django.urls import path

from billing.urls_config import customer_urlpatterns as billing_urlpatterns
from billing.urls_invoices import customer_urlpatterns as invoice_urlpatterns
from billing.views import CustomerCloudBillingView
from marketplace.urls_customer import urlpatterns as marketplace_urlpatterns
from quotes.urls_customer import urlpatterns as quotes_urlpatterns

from . import views

app_name = "customers"
urlpatterns = [
    path("", views.CustomerListView.as_view(), name="list"),
    path("new/", views.CustomerCreateView.as_view(), name="create"),
    path("custom-fields/", views.CustomFieldListView.as_view(), name="custom-fields"),
    path("custom-fields/new/", views.CustomFieldCreateView.as_view(), name="custom-field-create"),
    path(
        "custom-fields/<uuid:definition_id>/", views.CustomFieldEditView.as_view(), name="custom-field-edit"
    ),
    path(
        "custom-fields/<uuid:definition_id>/delete/",
        views.CustomFieldDeleteView.as_view(),
        name="custom-field-delete",
    ),
    path("<uuid:customer_id>/", views.CustomerDetailView.as_view(), name="detail"),
    path("<uuid:customer_id>/summary/", views.CustomerSummaryView.as_view(), name="summary"),
    path("<uuid:customer_id>/general/", views.CustomerGeneralView.as_view(), name="general"),
    path("<uuid:customer_id>/cloud-accounts/", views.CloudAccountsView.as_view(), name="cloud-accounts"),
    path(
        "<uuid:customer_id>/custom-fields/",
        views.CustomerCustomFieldsView.as_view(),
        name="custom-fields-customer",
    ),
    path("<uuid:customer_id>/options/", views.CustomerOptionsView.as_view(), name="options"),
    # The profile's Cloud Billing menu is the billing app's page (pricebooks per provider).
    path("<uuid:customer_id>/cloud-billing/", CustomerCloudBillingView.as_view(), name="cloud-billing"),
    path("<uuid:customer_id>/activity/", views.CustomerActivityView.as_view(), name="activity"),
    path("<uuid:customer_id>/alerts/<uuid:alert_id>/read/", views.AlertReadView.as_view(), name="alert-read"),
    path("alerts/<uuid:alert_id>/read/", views.ResellerAlertReadView.as_view(), name="reseller-alert-read"),
    *marketplace_urlpatterns,  # Products: Managed / Buy, cart, checkout; Marketplace: Purchased Products
    *quotes_urlpatterns,  # Products: Quotes and Inquiries
    *billing_urlpatterns,  # Billing: Tax Profile, Credits, Charges and Discount
    *invoice_urlpatterns,  # Billing: Customer Invoice
]
