from django.contrib import admin


class TenantAdmin(admin.ModelAdmin):
    """Admin for a tenant-owned model. Platform staff see every reseller's rows (the middleware opens
    platform scope in the admin site only); rows are created in the app, where a reseller is in scope."""

    list_select_related = ("reseller",)

    def get_list_display(self, request):
        return ("reseller", *super().get_list_display(request))

    def get_list_filter(self, request):
        return ("reseller", *super().get_list_filter(request))

    def get_readonly_fields(self, request, obj=None):
        return ("reseller", *super().get_readonly_fields(request, obj))

    def has_add_permission(self, request):
        return False
