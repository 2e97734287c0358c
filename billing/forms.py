"""Forms of the customer's Cloud Billing page. Choices are the reseller's own rows (tenant-scoped
querysets), so a posted id of anything else fails validation ("Select a valid choice")."""

from django import forms
from django.utils import timezone

from customers.forms import StyledFormMixin
from customers.models import CloudAccount
from marketplace.models import AddOn, Plan

from .models import Pricebook


class PricebookChoiceForm(StyledFormMixin, forms.Form):
    """Assign a pricebook of one provider to the customer (account=None) or to one of its accounts."""

    pricebook = forms.ModelChoiceField(Pricebook.objects.none(), required=False)
    account = forms.ModelChoiceField(CloudAccount.objects.none(), required=False, widget=forms.HiddenInput)

    def __init__(self, *args, provider, customer, books=None, empty_label="— none —", **kwargs):
        super().__init__(*args, **kwargs)
        self.provider = provider
        field = self.fields["pricebook"]
        field.queryset = Pricebook.objects.filter(provider=provider).order_by("kind", "name")
        if books is not None:  # already loaded for the page: no query per select
            field.choices = [("", empty_label), *((str(b.pk), f"{b.name} ({b.currency})") for b in books)]
        field.empty_label = empty_label
        field.label = f"{provider} pricebook"
        self.fields["account"].queryset = CloudAccount.objects.filter(
            customer=customer, provider=provider.code
        )

    def clean(self):
        # The account is a hidden field, whose errors the page does not show: show them as the form's.
        if "account" in self._errors:
            self.add_error(None, self._errors.pop("account"))
        return super().clean()


class PricePreviewForm(StyledFormMixin, forms.Form):
    """What does this customer pay for a plan or add-on on a day, and why."""

    item = forms.ChoiceField(label="Plan or add-on")
    on_date = forms.DateField(label="Date", widget=forms.DateInput(attrs={"type": "date"}))
    quantity = forms.IntegerField(min_value=1, initial=1)
    account = forms.ModelChoiceField(
        CloudAccount.objects.none(),
        required=False,
        label="Cloud account",
        empty_label="— the customer's pricebook —",
    )

    def __init__(self, *args, customer, providers, accounts, **kwargs):
        kwargs.setdefault("initial", {"on_date": timezone.localdate(), "quantity": 1})
        super().__init__(*args, **kwargs)
        self.fields["account"].queryset = CloudAccount.objects.filter(customer=customer)
        self.fields["account"].choices = [
            ("", "— the customer's pricebook —"),
            *((str(a.pk), str(a)) for a in accounts),
        ]
        provider_ids = [p.pk for p in providers]
        plans = Plan.objects.filter(product__provider__in=provider_ids, is_active=True).select_related(
            "product__provider"
        )
        addons = AddOn.objects.filter(product__provider__in=provider_ids, is_active=True).select_related(
            "product__provider"
        )
        groups = {}
        for item, kind in [*((p, "plan") for p in plans), *((a, "addon") for a in addons)]:
            label = f"{item.product.provider} — {item.product}"
            groups.setdefault(label, []).append((f"{kind}:{item.pk}", f"{item.name} ({item.sku})"))
        self.fields["item"].choices = [("", "— choose —"), *sorted(groups.items())]

    def clean(self):
        data = super().clean()
        account = data.get("account")
        if account is not None and data.get("item"):
            item = self.item_object(data["item"])
            if account.provider != item.product.provider.code:
                self.add_error("account", f"{account} is not a {item.product.provider} account.")
        return data

    @staticmethod
    def item_object(value):
        kind, pk = value.split(":", 1)
        model = Plan if kind == "plan" else AddOn
        return model.objects.select_related("product__provider").get(pk=pk)
