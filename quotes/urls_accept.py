"""Quote URLs (accept); included by quotes/urls.py."""

urlpatterns = []
