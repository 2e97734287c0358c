def is_platform_staff(user) -> bool:
    """Platform staff: superusers that belong to no reseller (they run the whole platform's admin)."""
    return bool(user.is_active and user.is_superuser and not user.reseller_id)


class PlatformStaffOnly:
    """Admin mixin for platform data (resellers, users, exchange rates): only platform staff see it, even
    if a reseller's admin user is ever given model permissions through a group."""

    def has_module_permission(self, request):
        return is_platform_staff(request.user)

    def has_view_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def has_add_permission(self, request):
        return is_platform_staff(request.user)

    def has_change_permission(self, request, obj=None):
        return is_platform_staff(request.user)

    def has_delete_permission(self, request, obj=None):
        return is_platform_staff(request.user)
