"""The quotes app's pages inside a customer's profile (included by customers/urls.py, namespace customers):
Quotes and Inquiries."""

from django.urls import path

from . import views_inquiries, views_lists

P = "<uuid:customer_id>/quotes/"
urlpatterns = [
    path(P, views_lists.CustomerQuotesView.as_view(), name="quotes"),
    path(P + "new/", views_lists.CustomerQuoteStartView.as_view(), name="quote-start"),
    path("<uuid:customer_id>/inquiries/new/", views_inquiries.InquiryNewView.as_view(), name="inquiry-new"),
    path(
        "<uuid:customer_id>/inquiries/<uuid:inquiry_id>/",
        views_inquiries.InquiryDetailView.as_view(),
        name="inquiry",
    ),
]
