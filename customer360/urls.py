from django.contrib import admin
from django.contrib.auth import views as auth_views
from django.urls import include, path

from . import views

admin.site.site_header = "Customer360 administration"
admin.site.site_title = "Customer360 admin"
admin.site.index_title = "Catalog, pricebooks and platform data"

urlpatterns = [
    path("", views.DashboardView.as_view(), name="dashboard"),
    path(
        "accounts/login/",
        auth_views.LoginView.as_view(
            template_name="registration/login.html", redirect_authenticated_user=True
        ),
        name="login",
    ),
    path("accounts/logout/", auth_views.LogoutView.as_view(), name="logout"),
    path("customers/", include("customers.urls")),
    path("marketplace/", include("marketplace.urls")),
    path("quotes/", include("quotes.urls")),
    path("billing/", include("billing.urls")),
    path("reports/", include("reports.urls")),
    path("admin/", admin.site.urls),
]
