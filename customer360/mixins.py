"""View mixins: sign-in, reseller membership and role checks, applied the same way by every view."""

from django.contrib.auth.mixins import LoginRequiredMixin
from django.core.exceptions import PermissionDenied
from django.shortcuts import redirect

from accounts.models import Role

SAFE_METHODS = {"GET", "HEAD", "OPTIONS"}
WRITERS = (Role.OWNER, Role.SALES, Role.BILLING)


class ResellerViewMixin(LoginRequiredMixin):
    """A page of the reseller's workspace. Requests that write need one of `write_roles`."""

    write_roles = WRITERS

    def dispatch(self, request, *args, **kwargs):
        user = request.user
        if not user.is_authenticated:
            return self.handle_no_permission()
        if not user.reseller_id:
            if user.is_superuser:
                return redirect("admin:index")
            raise PermissionDenied("This account belongs to no reseller.")
        if request.method not in SAFE_METHODS and user.role not in self.write_roles:
            raise PermissionDenied("Your role can view this page but not change it.")
        return super().dispatch(request, *args, **kwargs)


class HtmxPartialMixin:
    """NetBox's htmx_partial: an htmx request gets only the named block of the same template."""

    partial_template_name = None

    def get_template_names(self):
        names = super().get_template_names()
        if (
            getattr(self.request, "htmx", False)
            and not self.request.htmx.boosted
            and self.partial_template_name
        ):
            return [self.partial_template_name]
        return names
