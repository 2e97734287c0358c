"""URLs of the marketplace app (the catalog; buying arrives with its issue)."""

from django.urls import path

from . import views

app_name = "marketplace"
urlpatterns = [
    path("catalog/", views.CatalogView.as_view(), name="catalog"),
]
