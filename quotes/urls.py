"""URLs of the quotes app under /quotes/: the reseller-wide Quotes page and the builder (urls_builder),
the documents: send, PDFs (urls_documents), and the customer's accept link and conversion (urls_accept)."""

from .urls_accept import urlpatterns as accept_urlpatterns
from .urls_builder import urlpatterns as builder_urlpatterns
from .urls_documents import urlpatterns as documents_urlpatterns

app_name = "quotes"
urlpatterns = [*builder_urlpatterns, *documents_urlpatterns, *accept_urlpatterns]
