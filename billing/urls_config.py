"""URLs of the billing configuration pages: a customer's Billing menu (included by customers/urls.py,
namespace "customers") and the reseller's tax rates (included by billing/urls.py, namespace "billing")."""

from django.urls import path

from . import views_config as views

P = "<uuid:customer_id>/"
customer_urlpatterns = [
    path(P + "tax-profile/", views.CustomerTaxProfileView.as_view(), name="tax-profile"),
    path(P + "credits/", views.CustomerCreditsView.as_view(), name="credits"),
    path(P + "credits/<uuid:credit_id>/void/", views.CreditVoidView.as_view(), name="credit-void"),
    path(P + "charges/", views.CustomerChargesView.as_view(), name="charges"),
    path(P + "charges/<uuid:charge_id>/", views.ChargeItemEditView.as_view(), name="charge-edit"),
    path(
        P + "charges/groups/<uuid:charge_group_id>/delete/",
        views.ChargeGroupDeleteView.as_view(),
        name="charge-group-delete",
    ),
]

billing_urlpatterns = [
    path("tax-rates/", views.TaxRateListView.as_view(), name="tax_rates"),
    path("tax-rates/<uuid:tax_rate_id>/", views.TaxRateEditView.as_view(), name="tax_rate"),
]
