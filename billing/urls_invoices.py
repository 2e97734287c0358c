"""URLs of invoices: Customer Invoice inside a customer (included by customers/urls.py, namespace
"customers") and the reseller's Invoice runs (included by billing/urls.py, namespace "billing")."""

from django.urls import path

from . import views_invoices as views

P = "<uuid:customer_id>/invoices/"
I = P + "<uuid:invoice_id>/"  # noqa: E741
customer_urlpatterns = [
    path(P, views.CustomerInvoiceListView.as_view(), name="invoices"),
    path(I, views.CustomerInvoiceDetailView.as_view(), name="invoice"),
    path(I + "finalize/", views.InvoiceFinalizeView.as_view(), name="invoice-finalize"),
    path(I + "void/", views.InvoiceVoidView.as_view(), name="invoice-void"),
    path(I + "credit-notes/", views.InvoiceCreditNoteView.as_view(), name="invoice-credit-note"),
    path(I + "email/", views.InvoiceEmailView.as_view(), name="invoice-email"),
    path(I + "payments/", views.InvoicePaymentView.as_view(), name="invoice-payment"),
    path(I + "invoice.csv", views.InvoiceCsvView.as_view(), name="invoice-csv"),
    path(I + "usage.csv", views.InvoiceUsageCsvView.as_view(), name="invoice-usage-csv"),
    path(I + "invoice.pdf", views.InvoicePdfView.as_view(), name="invoice-pdf"),
]

billing_urlpatterns = [
    path("invoice-runs/", views.InvoiceRunListView.as_view(), name="invoice_runs"),
    path("invoice-runs/close/", views.ProviderPeriodCloseView.as_view(), name="invoice_period_close"),
    path("invoice-runs/<uuid:run_id>/", views.InvoiceRunDetailView.as_view(), name="invoice_run"),
]
