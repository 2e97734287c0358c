"""Quote URLs (documents); included by quotes/urls.py."""

urlpatterns = []
