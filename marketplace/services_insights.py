"""Read models of a customer's marketplace: Provider Insights, subscriptions per product type, purchase
history. Each is a fixed number of aggregate queries, whatever the number of subscriptions."""

from dataclasses import dataclass
from decimal import Decimal

from django import forms
from django.db.models import Case, Count, DecimalField, ExpressionWrapper, F, Q, Sum, Value, When

from customer360.money import Money

from .models import BillingFrequency, Order, OrderLine, Provider, Subscription, SubscriptionAddOn

ACTIVE = Subscription.Status.ACTIVE
AMOUNT = DecimalField(max_digits=24, decimal_places=8)


def _monthly(field, frequency_path):
    """An amount normalised to a month: annual billing / 12; one-time and usage lines have no MRR."""
    return Case(
        When(**{frequency_path: BillingFrequency.MONTHLY}, then=F(field)),
        When(
            **{frequency_path: BillingFrequency.ANNUAL},
            then=ExpressionWrapper(F(field) / 12, output_field=AMOUNT),
        ),
        default=Value(Decimal(0)),
        output_field=AMOUNT,
    )


def provider_insights(customer) -> list[dict]:
    """Per provider (and currency): active subscriptions, licenses, MRR at customer price, cost, margin."""
    subs = (
        Subscription.objects.filter(customer=customer, status=ACTIVE)
        .values("provider_id", "currency")
        .annotate(
            subscriptions=Count("id"),
            licenses=Sum("quantity", filter=Q(product_type="license")),
            mrr=Sum(
                ExpressionWrapper(
                    _monthly("unit_price", "billing_frequency") * F("quantity"), output_field=AMOUNT
                )
            ),
            cost=Sum(
                ExpressionWrapper(
                    _monthly("unit_cost", "billing_frequency") * F("quantity"), output_field=AMOUNT
                )
            ),
        )
    )
    extras = (
        SubscriptionAddOn.objects.filter(subscription__customer=customer, subscription__status=ACTIVE)
        .values("subscription__provider_id", "currency")
        .annotate(
            mrr=Sum(ExpressionWrapper(_monthly("unit_price", "subscription__billing_frequency") * F("quantity"), output_field=AMOUNT)),
            cost=Sum(ExpressionWrapper(_monthly("unit_cost", "subscription__billing_frequency") * F("quantity"), output_field=AMOUNT)),
        )
    )  # fmt: skip
    rows = {}
    for row in subs:
        rows[(row["provider_id"], row["currency"])] = dict(row, licenses=row["licenses"] or 0)
    for row in extras:
        key = (row["subscription__provider_id"], row["currency"])
        base = rows.setdefault(key, {"provider_id": key[0], "currency": key[1], "subscriptions": 0, "licenses": 0,
                                     "mrr": Decimal(0), "cost": Decimal(0)})  # fmt: skip
        base["mrr"] += row["mrr"] or 0
        base["cost"] += row["cost"] or 0
    names = dict(Provider.objects.filter(pk__in={k[0] for k in rows}).values_list("pk", "name"))
    result = []
    for (provider_id, currency), row in sorted(rows.items(), key=lambda kv: names.get(kv[0][0], "")):
        mrr, cost = Money(row["mrr"] or 0, currency), Money(row["cost"] or 0, currency)
        result.append({
            "provider": names.get(provider_id, "?"), "subscriptions": row["subscriptions"], "licenses": row["licenses"],
            "mrr": mrr, "cost": cost, "margin": Money(mrr.amount - cost.amount, currency),
            "margin_pct": (mrr.amount - cost.amount) * 100 / mrr.amount if mrr.amount else None,
        })  # fmt: skip
    return result


def subscription_groups(customer, statuses) -> list[dict]:
    """[{type, subscriptions, licenses}] of the customer's subscriptions in `statuses`, one query."""
    rows = (
        Subscription.objects.filter(customer=customer, status__in=statuses)
        .values("product_type")
        .annotate(subscriptions=Count("id"), licenses=Sum("quantity"))
        .order_by("product_type")
    )
    return [
        {"type": r["product_type"], "subscriptions": r["subscriptions"], "licenses": r["licenses"]}
        for r in rows
    ]


class PurchaseFilterForm(forms.Form):
    provider = forms.ModelChoiceField(Provider.objects.all(), required=False, empty_label="Any provider",
                                      to_field_name="code")  # fmt: skip
    status = forms.ChoiceField(choices=[("", "Any status"), *Order.Status.choices], required=False)
    date_from = forms.DateField(required=False, label="From", widget=forms.DateInput(attrs={"type": "date"}))
    date_to = forms.DateField(required=False, label="To", widget=forms.DateInput(attrs={"type": "date"}))

    def clean(self):
        data = super().clean()
        if data.get("date_from") and data.get("date_to") and data["date_from"] > data["date_to"]:
            self.add_error("date_to", "The end date is before the start date.")
        return data


@dataclass
class Purchases:
    form: PurchaseFilterForm
    lines: object  # an OrderLine queryset
    totals: list  # [Money] per currency


def purchases(customer, params) -> Purchases:
    from .services import authorized_providers

    form = PurchaseFilterForm(params or None)
    form.fields["provider"].queryset = authorized_providers().order_by("name")
    lines = (
        OrderLine.objects.filter(order__customer=customer)
        .select_related("order", "plan__product__provider", "subscription")
        .order_by("-order__created_at", "order__number", "id")
    )
    if form.is_valid():
        data = form.cleaned_data
        if data.get("provider"):
            lines = lines.filter(plan__product__provider=data["provider"])
        if data.get("status"):
            lines = lines.filter(order__status=data["status"])
        if data.get("date_from"):
            lines = lines.filter(order__created_at__date__gte=data["date_from"])
        if data.get("date_to"):
            lines = lines.filter(order__created_at__date__lte=data["date_to"])
    elif form.is_bound:
        lines = lines.none()
    sums = lines.order_by().values("currency").annotate(total=Sum("amount")).order_by("currency")
    return Purchases(form, lines, [Money(r["total"], r["currency"]) for r in sums])
