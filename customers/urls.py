from django.urls import path

from . import views

app_name = "customers"
urlpatterns = [
    path("", views.CustomerListView.as_view(), name="list"),
    path("new/", views.CustomerCreateView.as_view(), name="create"),
    path("<uuid:customer_id>/", views.CustomerDetailView.as_view(), name="detail"),
    path("<uuid:customer_id>/summary/", views.CustomerSummaryView.as_view(), name="summary"),
    path("<uuid:customer_id>/general/", views.CustomerGeneralView.as_view(), name="general"),
    path("<uuid:customer_id>/cloud-accounts/", views.CloudAccountsView.as_view(), name="cloud-accounts"),
    path("<uuid:customer_id>/activity/", views.CustomerActivityView.as_view(), name="activity"),
    path("<uuid:customer_id>/alerts/<uuid:alert_id>/read/", views.AlertReadView.as_view(), name="alert-read"),
]
