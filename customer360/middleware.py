from contextlib import nullcontext

from django.urls import reverse

from .tenancy import platform_scope, tenant_scope


class TenantScopeMiddleware:
    """Opens the reseller scope for the whole request (see customer360.tenancy).

    A reseller user's request sees only that reseller's rows. Platform staff (superusers with no
    reseller) get the platform scope in the admin site only; anywhere else nothing is in scope.
    """

    def __init__(self, get_response):
        self.get_response = get_response
        self.admin_prefix = reverse("admin:index")

    def __call__(self, request):
        user = request.user
        if user.is_authenticated and user.reseller_id:
            scope = tenant_scope(user.reseller_id)
        elif user.is_authenticated and user.is_superuser and request.path.startswith(self.admin_prefix):
            scope = platform_scope()
        else:
            scope = nullcontext()
        with scope:
            response = self.get_response(request)
            # Render lazy responses inside the scope, so templates that evaluate querysets see it.
            if hasattr(response, "render") and callable(response.render) and not response.is_rendered:
                response.render()
        return response
