"""Quote URLs (accept); included by quotes/urls.py. The accept link works without signing in: the signed
token is the key (quotes.services_accept). The conversion is the staff's (owner, sales)."""

from django.urls import path

from . import views_accept

urlpatterns = [
    path("accept/<str:token>/", views_accept.AcceptQuoteView.as_view(), name="accept"),
    path("accept/<str:token>/pdf/", views_accept.AcceptQuotePdfView.as_view(), name="accept-pdf"),
    path("<uuid:quote_id>/convert/", views_accept.ConvertQuoteView.as_view(), name="convert"),
]
