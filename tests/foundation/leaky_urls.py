"""A test-only URLconf: the project's URLs plus views that get tenancy wrong, one way each.

test_tenancy_matrix.test_the_matrix_catches_leaky_views runs the matrix over it and expects every one
of them to be reported, and nothing else.
"""

from django.contrib.admin import AdminSite, ModelAdmin
from django.contrib.auth.mixins import LoginRequiredMixin
from django.http import HttpResponse
from django.urls import path
from django.views import View

from customer360.mixins import ResellerViewMixin
from customer360.urls import urlpatterns as project_urlpatterns
from customer360.views import DashboardView
from customers import services
from customers.models import Customer


class LeakyCustomerView(ResellerViewMixin, View):
    """Forgets the scope: `_base_manager` reads and writes any reseller's customer."""

    def get(self, request, customer_id):
        customer = Customer._base_manager.get(pk=customer_id)
        return HttpResponse(f"<h1>{customer.name}</h1>")

    def post(self, request, customer_id):
        Customer._base_manager.filter(pk=customer_id).update(city="Leaked")
        return HttpResponse("saved")


class UnguardedWriteView(LoginRequiredMixin, View):
    """Scoped, but forgets the role check: a viewer can write."""

    def get(self, request, customer_id):
        return HttpResponse(services.access_customer(customer_id).name)

    def post(self, request, customer_id):
        customer = services.access_customer(customer_id)
        Customer.objects.filter(pk=customer.pk).update(city="Unguarded")
        return HttpResponse("saved")


def leaky_link_view(request, token):
    """Checks the signature of a quote's accept link but looks the quote up without the scope it names."""
    from django.core import signing
    from django.http import Http404

    from customer360.tenancy import platform_scope
    from quotes.models import Quote
    from quotes.services_accept import SALT

    try:
        payload = signing.loads(token, salt=SALT)
    except signing.BadSignature as exc:
        raise Http404 from exc
    with platform_scope():
        return HttpResponse(f"<h1>{Quote.objects.get(pk=payload['q']).name}</h1>")


def public_view(request):
    """Forgets the login."""
    return HttpResponse("hello")


class LeakyAdminSite(AdminSite):
    """An admin site that lets any staff user in, reseller admins included."""

    def has_permission(self, request):
        return request.user.is_active and request.user.is_staff


class LeakyCustomerAdmin(ModelAdmin):
    """Forgets the scope in the admin: every reseller's customers, to anyone the site lets in."""

    def get_queryset(self, request):
        return Customer._base_manager.all()

    def has_module_permission(self, request):
        return True

    def has_view_permission(self, request, obj=None):
        return True

    def has_change_permission(self, request, obj=None):
        return False

    def has_add_permission(self, request):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


leaky_admin = LeakyAdminSite(name="leakyadmin")
leaky_admin.register(Customer, LeakyCustomerAdmin)

urlpatterns = [
    *project_urlpatterns,
    path("leaky/<uuid:customer_id>/", LeakyCustomerView.as_view(), name="leaky-customer"),
    path("leaky/<uuid:customer_id>/unguarded/", UnguardedWriteView.as_view(), name="leaky-unguarded"),
    path("leaky/public/", public_view, name="leaky-public"),
    path("leaky/link/<str:token>/", leaky_link_view, name="leaky-link"),
    # A kwarg the matrix has no source for, and a pattern with no name.
    path("leaky/<uuid:customer_id>/gadgets/<uuid:gadget_id>/", DashboardView.as_view(), name="leaky-gadget"),
    path("leaky/nameless/", DashboardView.as_view()),
    path("leakyadmin/", leaky_admin.urls),
]
