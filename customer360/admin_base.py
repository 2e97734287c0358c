from django.contrib import admin
from django.contrib.admin.widgets import AutocompleteSelect, AutocompleteSelectMultiple
from django.core.exceptions import ValidationError
from django.forms.models import BaseInlineFormSet

from .validators import has_nul


class ValidKeysOnly:
    """Re-rendering a refused form, Django's autocomplete widget looks its posted value up as a key:
    a value that is no key of the model ("x", NUL) is a server error there. Show only real keys."""

    def optgroups(self, name, value, attr=None):
        remote = self.field.remote_field
        field = remote.model._meta.get_field(
            getattr(remote, "field_name", None) or remote.model._meta.pk.name
        )
        kept = []
        for v in value:
            try:
                if not has_nul(v):
                    field.to_python(v)
                    kept.append(v)
            except (ValidationError, ValueError, TypeError):
                pass
        return super().optgroups(name, kept, attr)


class SafeAutocompleteSelect(ValidKeysOnly, AutocompleteSelect):
    pass


class SafeAutocompleteSelectMultiple(ValidKeysOnly, AutocompleteSelectMultiple):
    pass


class SafeAutocompleteAdmin:
    """A ModelAdmin mixin: autocomplete fields whose refused values re-render (see ValidKeysOnly)."""

    def formfield_for_foreignkey(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelect(db_field, self.admin_site, using=kwargs.get("using"))
        return super().formfield_for_foreignkey(db_field, request, **kwargs)

    def formfield_for_manytomany(self, db_field, request, **kwargs):
        if "widget" not in kwargs and db_field.name in self.get_autocomplete_fields(request):
            kwargs["widget"] = SafeAutocompleteSelectMultiple(
                db_field, self.admin_site, using=kwargs.get("using")
            )
        return super().formfield_for_manytomany(db_field, request, **kwargs)


class TenantInlineFormSet(BaseInlineFormSet):
    """New inline rows belong to their parent's reseller: platform staff edit with no reseller in scope."""

    def clean(self):
        super().clean()
        # A management form that miscounts the rows shown would save a shown row again as a new one.
        if self.initial_form_count() != len(self.get_queryset()):
            raise ValidationError("These rows changed since the page was loaded: reload it and try again.")

    def save_new(self, form, commit=True):
        form.instance.reseller_id = self.instance.reseller_id
        return super().save_new(form, commit=commit)


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
