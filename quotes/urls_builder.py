"""Quote URLs (builder); included by quotes/urls.py."""

urlpatterns = []
