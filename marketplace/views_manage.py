"""Managed Products (insights, subscriptions by product type, details and manage actions) and Purchased
Products (the customer's purchase history). Thin views over services_insights and services_subscriptions."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.shortcuts import redirect
from django.views.generic import TemplateView

from customer360.mixins import HtmxPartialMixin

from .models import Order, OrderLine, ProductType, Subscription
from .services import authorized_providers
from .services_insights import provider_insights, purchases, subscription_groups
from .services_subscriptions import (
    access_subscription,
    do_assign_license,
    do_buy_addon,
    do_cancel_subscription,
    do_change_license_count,
    do_set_auto_renew,
    do_unassign_license,
)
from .views_buy import CartBadgeMixin, _int, price_items

SUBSCRIPTIONS_PER_PAGE = 50
RECENT_ORDERS = 10
CURRENT = [Subscription.Status.PENDING, Subscription.Status.ACTIVE, Subscription.Status.FAILED]
ENDED = [Subscription.Status.CANCELLED, Subscription.Status.EXPIRED]


class ManagedProductsView(CartBadgeMixin, HtmxPartialMixin, TemplateView):
    """(3) Provider Insights, (4) subscriptions grouped by product type; current or expired ones."""

    template_name = "marketplace/managed.html"
    partial_template_name = "marketplace/_managed_list.html"
    http_method_names = ["get", "head", "options"]
    menu = "managed_products"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        show = "expired" if self.request.GET.get("show") == "expired" else "current"
        statuses = ENDED if show == "expired" else CURRENT
        groups = subscription_groups(self.customer, statuses)
        kind = self.request.GET.get("type") or (groups[0]["type"] if groups else ProductType.LICENSE)
        subs = (
            Subscription.objects.filter(customer=self.customer, status__in=statuses, product_type=kind)
            .select_related("plan__product", "provider", "order")
            .order_by("-created_at", "id")
        )
        page = Paginator(subs, SUBSCRIPTIONS_PER_PAGE).get_page(self.request.GET.get("page"))
        orders = Order.objects.filter(customer=self.customer).order_by("-created_at")[:RECENT_ORDERS]
        ctx.update(insights=provider_insights(self.customer), groups=groups, orders=list(orders), show=show, kind=kind, page=page,
                   type_labels=dict(ProductType.choices))  # fmt: skip
        return ctx


class SubscriptionView(CartBadgeMixin, TemplateView):
    """(5) Details (order, dates, term, renewal, prices, status history) and Manage actions (POST)."""

    template_name = "marketplace/subscription.html"
    menu = "managed_products"
    ACTIONS = ("licenses", "assign", "unassign", "addon", "auto_renew", "cancel")

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        sub = kwargs.get("sub") or access_subscription(self.customer, self.kwargs["subscription_id"])
        addons = list(sub.plan.addons.filter(is_active=True).select_related("product"))
        prices = price_items(self.customer, addons) if sub.status == Subscription.Status.ACTIVE else {}
        for addon in addons:
            addon.price = prices.get(addon)
        ctx.update(
            sub=sub,
            history=list(sub.history.all()),
            assignments=list(sub.assignments.all()),
            charges=list(sub.charges.all()[:20]),
            sub_addons=list(sub.addons.select_related("addon")),
            lines=list(OrderLine.objects.filter(subscription=sub).select_related("order")),
            available_addons=addons,
            errors=kwargs.get("errors", {}),
        )
        return ctx

    def post(self, request, *args, **kwargs):
        sub = access_subscription(self.customer, kwargs["subscription_id"])
        action, data, user = request.POST.get("action"), request.POST, request.user
        try:
            if action == "licenses":
                charge = do_change_license_count(
                    user, sub, _int(data.get("quantity")), seen_quantity=_int(data.get("seen_quantity"))
                )
                done = f"License count changed ({charge.get_kind_display().lower()}, effective {charge.effective_on})."
            elif action == "assign":
                done = f"Assigned a license to {do_assign_license(user, sub, data.get('email', '')).email}."
            elif action == "unassign":
                do_unassign_license(user, sub, data.get("assignment"))
                done = "License unassigned."
            elif action == "addon":
                order = do_buy_addon(user, sub, data.get("addon"), _int(data.get("quantity")))
                done = f"Add-on bought (order {order.number})."
            elif action == "auto_renew":
                do_set_auto_renew(user, sub, data.get("auto_renew") == "on")
                done = "Auto-renew updated."
            elif action == "cancel":
                do_cancel_subscription(user, sub)
                done = "Subscription cancelled."
            else:
                raise ValidationError({"action": "Choose an action."})
        except ValidationError as exc:
            errors = {action: exc.messages}
            sub = access_subscription(self.customer, kwargs["subscription_id"])
            return self.render_to_response(self.get_context_data(sub=sub, errors=errors), status=400)
        messages.success(request, done)
        return redirect("customers:subscription", self.customer.pk, sub.pk)


class PurchasedProductsView(CartBadgeMixin, HtmxPartialMixin, TemplateView):
    """Every order line of the customer, filterable by provider, order status and date, with totals."""

    template_name = "marketplace/purchases.html"
    partial_template_name = "marketplace/_purchases_table.html"
    http_method_names = ["get", "head", "options"]
    menu = "purchased_products"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        result = purchases(self.customer, self.request.GET)
        page = Paginator(result.lines, 50).get_page(self.request.GET.get("page"))
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update(form=result.form, page=page, totals=result.totals, query=query.urlencode(),
                   providers=authorized_providers())  # fmt: skip
        return ctx
