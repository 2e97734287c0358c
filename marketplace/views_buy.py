"""Buy Products inside a customer: provider categories and product tiles, a provider's plans filtered by
its schema, the cart (top-bar count updated by htmx) and checkout. Prices come from billing.pricing."""

from django.contrib import messages
from django.core.exceptions import ValidationError
from django.core.paginator import Paginator
from django.http import Http404, HttpResponse
from django.shortcuts import redirect
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils import timezone
from django.utils.http import url_has_allowed_host_and_scheme
from django.views.generic import TemplateView

from customer360.mixins import HtmxPartialMixin
from customers.views.profile import CustomerMixin

from .filtersets import PlanFilterSet
from .models import AddOn, Order, Plan, Product, ProductType
from .services import authorized_providers, catalog_plans
from .services_cart import (
    access_cart,
    access_cart_line,
    cart_count,
    cart_lines,
    do_add_to_cart,
    do_remove_cart_line,
    do_update_cart_line,
    price_cart,
)
from .services_orders import PricesChanged, check_checkout, do_checkout, in_currency, new_checkout_token

PRODUCTS_PER_PAGE = 8
PLANS_PER_TILE = 4
PLANS_PER_PAGE = 20


def _int(value):
    try:
        return int(value)
    except (TypeError, ValueError):
        return None


class CartBadgeMixin(CustomerMixin):
    """Puts the user's cart count for this customer in the top bar (templates/base.html)."""

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        ctx["cart_badge"] = {"customer": self.customer, "count": cart_count(self.request.user, self.customer)}
        return ctx


def price_items(customer, items, quantity=1):
    """{item: PriceQuote or the reason it cannot be priced} through billing.pricing.price_many: the same
    prices as price_for, for every distinct plan or add-on shown, in a constant number of queries."""
    from billing.pricing import PriceQuote, price_many

    quotes = price_many(
        customer, items, quantity=lambda item: max(quantity, item.min_quantity), raise_errors=False
    )
    return {item: q if isinstance(q, PriceQuote) else str(q) for item, q in quotes.items()}


def attach_addons(plans):
    """plan.addon_list for each plan: the active add-ons that attach to it, in one query."""
    by_plan = {p.pk: p for p in plans}
    for plan in plans:
        plan.addon_list = []
    through = AddOn.plans.through.objects.filter(plan_id__in=by_plan, addon__is_active=True)
    for row in through.select_related("addon__product"):
        by_plan[row.plan_id].addon_list.append(row.addon)
    return plans


class BuyProductsView(CartBadgeMixin, HtmxPartialMixin, TemplateView):
    """Screen 1: one category per authorized provider, tiles of products with plans, add-ons and prices."""

    template_name = "marketplace/buy.html"
    partial_template_name = "marketplace/_buy_tiles.html"
    http_method_names = ["get", "head", "options"]
    menu = "buy_products"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        providers = list(authorized_providers().order_by("name"))
        q = self.request.GET.get("q", "").strip()
        products = Product.objects.filter(provider__in=providers, is_active=True).select_related("provider")
        plans = Plan.objects.filter(product__provider__in=providers, is_active=True)
        if q:
            matching = plans.filter(name__icontains=q) | plans.filter(sku__icontains=q)
            products = products.filter(name__icontains=q) | products.filter(
                pk__in=matching.values("product_id")
            )
        page = Paginator(products.order_by("provider__name", "category", "name"), PRODUCTS_PER_PAGE).get_page(
            self.request.GET.get("page")
        )
        tiles = list(page.object_list)
        shown = plans.filter(product__in=tiles)
        if q:
            shown = shown.filter(pk__in=matching.values("pk")) | shown.filter(product__name__icontains=q)
        plan_rows = list(shown.select_related("product__provider").order_by("list_price", "sku"))
        by_tile = {tile.pk: [] for tile in tiles}
        for plan in plan_rows:
            by_tile[plan.product_id].append(plan)
        for tile in tiles:  # a tile shows its cheapest plans; the provider screen has them all
            tile.plan_count = len(by_tile[tile.pk])
            tile.plan_list = by_tile[tile.pk][:PLANS_PER_TILE]
        listed = [p for tile in tiles for p in tile.plan_list]
        attach_addons(listed)
        prices = price_items(self.customer, listed + [a for p in listed for a in p.addon_list])
        for tile in tiles:
            tile.addon_list = list({a.pk: a for p in tile.plan_list for a in p.addon_list}.values())
            for item in [*tile.plan_list, *tile.addon_list]:
                item.price = prices[item]
        ctx.update(providers=providers, tiles=tiles, page=page, q=q)
        return ctx


class BuyProviderView(CartBadgeMixin, HtmxPartialMixin, TemplateView):
    """Screen 2: a provider's plans, filtered by its plan filter schema; add plans and add-ons to the cart."""

    template_name = "marketplace/buy_provider.html"
    partial_template_name = "marketplace/_buy_plans.html"
    http_method_names = ["get", "head", "options"]
    menu = "buy_products"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        providers = list(authorized_providers().order_by("name"))
        provider = next((p for p in providers if p.code == kwargs["provider_code"]), None)
        if provider is None:
            raise Http404("Your reseller is not authorized for this provider.")
        categories = Product.objects.filter(provider=provider, is_active=True).values_list(
            "category", flat=True
        )
        filterset = PlanFilterSet(
            self.request.GET,
            queryset=catalog_plans(provider),
            provider=provider,
            categories=sorted(set(categories)),
        )
        plans = filterset.qs if filterset.is_valid() else filterset.queryset.none()
        page = Paginator(plans, PLANS_PER_PAGE).get_page(self.request.GET.get("page"))
        rows = attach_addons(list(page.object_list))
        prices = price_items(self.customer, rows + [a for p in rows for a in p.addon_list])
        for plan in rows:
            plan.price = prices[plan]
            for addon in plan.addon_list:
                addon.price = prices[addon]
        accounts = [a for a in self.customer.cloud_accounts.all() if a.provider == provider.code]
        query = self.request.GET.copy()
        query.pop("page", None)
        ctx.update(providers=providers, provider=provider, filterset=filterset, page=page, rows=rows,
                   accounts=accounts, query=query.urlencode(), consumption=ProductType.CONSUMPTION)  # fmt: skip
        return ctx


class CartAddView(CustomerMixin, TemplateView):
    """POST a plan (or a plan's add-on) with a quantity; htmx gets the new top-bar count and a message."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        data = request.POST
        try:
            line = do_add_to_cart(
                request.user, self.customer, plan_id=data.get("plan"), addon_id=data.get("addon") or None,
                quantity=_int(data.get("quantity")), cloud_account_id=data.get("cloud_account") or None,
            )  # fmt: skip
            text, ok = f"Added {line.item.name} to the cart ({line.quantity} in the cart).", True
        except ValidationError as exc:
            text, ok = " ".join(exc.messages), False
        if not request.htmx:
            (messages.success if ok else messages.error)(request, text)
            back = request.META.get("HTTP_REFERER", "")
            if not url_has_allowed_host_and_scheme(
                back, {request.get_host()}, require_https=request.is_secure()
            ):
                back = reverse("customers:cart", args=[self.customer.pk])  # never redirect off-site
            return redirect(back)
        badge = {"customer": self.customer, "count": cart_count(request.user, self.customer)}
        html = render_to_string(
            "marketplace/_cart_added.html",
            {"text": text, "ok": ok, "cart_badge": badge, "oob": True},
            request,
        )
        return HttpResponse(html)


class CartView(CartBadgeMixin, HtmxPartialMixin, TemplateView):
    template_name = "marketplace/cart.html"
    partial_template_name = "marketplace/_cart_lines.html"
    http_method_names = ["get", "head", "options"]
    menu = "buy_products"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        cart = access_cart(self.request.user, self.customer)
        ctx["priced"] = price_cart(self.customer, cart_lines(cart))
        ctx["customer_total"] = total_in_customer_currency(self.customer, ctx["priced"])
        return ctx


def total_in_customer_currency(customer, priced):
    """The cart total in the customer's currency when the pricebook bills in another one (else None)."""
    from billing.pricing import PricingError

    if not priced.lines or priced.currency == customer.currency:
        return None
    try:
        return in_currency(priced.total, customer.currency, timezone.localdate())
    except PricingError:
        return None


class CartLineView(CustomerMixin, TemplateView):
    """POST quantity (update) or remove=1 (delete) for one line of the user's cart."""

    http_method_names = ["post"]

    def post(self, request, *args, **kwargs):
        line = access_cart_line(request.user, self.customer, kwargs["line_id"])
        error = ""
        try:
            if request.POST.get("remove"):
                do_remove_cart_line(request.user, self.customer, line)
            else:
                do_update_cart_line(request.user, self.customer, line, _int(request.POST.get("quantity")))
        except ValidationError as exc:
            error = " ".join(exc.messages)
        if not request.htmx:
            if error:
                messages.error(request, error)
            return redirect("customers:cart", self.customer.pk)
        priced = price_cart(self.customer, cart_lines(access_cart(request.user, self.customer)))
        ctx = {
            "customer": self.customer,
            "priced": priced,
            "customer_total": total_in_customer_currency(self.customer, priced),
            "line_error": (str(line.pk), error),
            "cart_badge": {"customer": self.customer, "count": cart_count(request.user, self.customer)},
            "oob": True,
        }
        return HttpResponse(render_to_string("marketplace/_cart_lines.html", ctx, request))


class CheckoutView(CartBadgeMixin, TemplateView):
    """GET: the re-priced cart for confirmation, with a fresh checkout token. POST: place the order."""

    template_name = "marketplace/checkout.html"
    menu = "buy_products"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        priced = kwargs.get("priced") or price_cart(
            self.customer, cart_lines(access_cart(self.request.user, self.customer))
        )
        errors = kwargs.get("errors")
        if errors is None:
            try:
                check_checkout(self.customer, priced)
                errors = []
            except ValidationError as exc:
                errors = exc.messages
        ctx.update(priced=priced, errors=errors, token=kwargs.get("token") or new_checkout_token(),
                   customer_total=total_in_customer_currency(self.customer, priced))  # fmt: skip
        return ctx

    def post(self, request, *args, **kwargs):
        token = request.POST.get("checkout_token", "")
        confirmed = {
            key.removeprefix("price_"): value
            for key, value in request.POST.items()
            if key.startswith("price_")
        }
        try:
            order, created = do_checkout(request.user, self.customer, token=token, confirmed=confirmed)
        except PricesChanged as exc:
            ctx = self.get_context_data(priced=exc.priced, errors=[], token=token)
            ctx["changed"] = {str(line.pk): seen for line, seen, _ in exc.changed if line is not None}
            ctx["changed_message"] = str(exc)
            return self.render_to_response(ctx, status=409)
        except ValidationError as exc:
            return self.render_to_response(self.get_context_data(errors=exc.messages), status=400)
        if created:
            messages.success(request, f"Order {order.number} placed; provisioning has started.")
        else:
            messages.info(request, f"Order {order.number} was already placed; nothing was ordered twice.")
        return redirect("customers:order", self.customer.pk, order.pk)


class OrderDetailView(CartBadgeMixin, HtmxPartialMixin, TemplateView):
    """An order, its lines and each subscription's provisioning status (polled while provisioning)."""

    template_name = "marketplace/order.html"
    partial_template_name = "marketplace/_order_status.html"
    http_method_names = ["get", "head", "options"]
    menu = "purchased_products"

    def get_context_data(self, **kwargs):
        ctx = super().get_context_data(**kwargs)
        try:
            order = Order.objects.get(pk=kwargs["order_id"], customer=self.customer)
        except (Order.DoesNotExist, ValueError, ValidationError) as exc:
            raise Http404("No such order") from exc
        ctx.update(
            order=order,
            lines=list(order.lines.all()),
            subscriptions=list(order.subscriptions.select_related("plan")),
        )
        return ctx
