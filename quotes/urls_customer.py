"""The quotes app's pages inside a customer's profile (included by customers/urls.py, namespace customers):
Quotes and Inquiries."""

urlpatterns = []
