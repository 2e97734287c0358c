"""The cart: one per user and customer, kept in the database (it survives logout), priced on every view.

No price is stored on a cart line: `price_cart()` asks billing.pricing for every line, so the cart always
shows what the customer pays today; checkout (services_orders) confirms those prices.
"""

from dataclasses import dataclass, field
from decimal import Decimal

from django.core.exceptions import ObjectDoesNotExist, ValidationError
from django.db import transaction
from django.http import Http404
from django.utils import timezone

from billing.pricing import BatchPricer, PriceQuote, PricingError, price_for
from customer360.money import Money
from customers.activity import record_activity
from customers.models import CloudAccount

from .models import AddOn, Cart, CartLine, Plan, ProductType
from .services import access_addon, access_plan


def access_cart(user, customer) -> Cart:
    """The user's cart for the customer; an unsaved, empty one when there is none (no writes on GET)."""
    cart = Cart.objects.filter(user=user, customer=customer).first()
    return cart or Cart(user=user, customer=customer, reseller_id=customer.reseller_id)


def cart_count(user, customer) -> int:
    """The number of lines in the user's cart for the customer (the top bar's badge): one query."""
    return CartLine.objects.filter(cart__user=user, cart__customer=customer).count()


def cart_lines(cart: Cart) -> list[CartLine]:
    if cart.pk is None:
        return []
    return list(
        CartLine.objects.filter(cart=cart).select_related(
            "plan__product__provider", "addon__product__provider", "cloud_account"
        )
    )


@dataclass
class PricedLine:
    line: object  # a CartLine (or anything with plan, addon, quantity, cloud_account)
    quote: PriceQuote | None
    error: str = ""

    @property
    def item(self):
        return self.line.addon or self.line.plan


@dataclass
class PricedCart:
    lines: list[PricedLine]
    currency: str
    errors: list[str] = field(default_factory=list)

    @property
    def total(self) -> Money:
        amount = sum((p.quote.amount.amount for p in self.lines if p.quote), Decimal(0))
        return Money(amount, self.currency)

    @property
    def ok(self) -> bool:
        return not self.errors and all(p.quote for p in self.lines)


def price_cart(customer, lines, on_date=None) -> PricedCart:
    """Price every line for the customer today as billing.pricing.price_for does (through its batch form,
    BatchPricer, for lines without a cloud account); a line that cannot be priced carries the reason."""
    on_date = on_date or timezone.localdate()
    batch = [line.addon or line.plan for line in lines if line.cloud_account is None]
    pricer = BatchPricer(customer, batch, on_date) if batch else None  # a constant number of queries
    priced = []
    for line in lines:
        try:
            if line.cloud_account is None:
                quote = pricer.quote(line.addon or line.plan, line.quantity)
            else:  # a consumption plan for one account: its override may price it
                item = line.addon or line.plan
                quote = price_for(customer, item, on_date, line.quantity, line.cloud_account)
            priced.append(PricedLine(line, quote))
        except ValidationError as exc:
            priced.append(PricedLine(line, None, " ".join(exc.messages)))
        except (PricingError, ObjectDoesNotExist) as exc:
            priced.append(PricedLine(line, None, str(exc)))
    currencies = {p.quote.currency for p in priced if p.quote}
    result = PricedCart(priced, currencies.pop() if len(currencies) == 1 else customer.currency)
    if currencies:
        result.errors.append("The cart mixes currencies; check out each provider's products separately.")
    return result


def _plan_and_addon(plan_id, addon_id) -> tuple[Plan, AddOn | None]:
    try:
        plan = access_plan(plan_id)
        addon = access_addon(addon_id) if addon_id else None
    except (Plan.DoesNotExist, AddOn.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such plan or add-on in your catalog") from exc
    if addon is not None and not addon.plans.filter(pk=plan.pk).exists():
        raise ValidationError({"addon": f"{addon.name} does not attach to {plan.name}."})
    return plan, addon


def check_cloud_account(customer, plan: Plan, cloud_account_id) -> CloudAccount | None:
    """The customer's account for a consumption plan (it must be of the plan's provider); None for others."""
    if plan.product.type != ProductType.CONSUMPTION:
        return None
    provider = plan.product.provider
    account = None
    if cloud_account_id:
        account = CloudAccount.objects.filter(
            pk=cloud_account_id, customer=customer, provider=provider.code
        ).first()
    if account is None:
        raise ValidationError(
            {
                "cloud_account": f"{plan.name} is billed by consumption: choose one of the customer's {provider.name} accounts."
            }
        )
    return account


@transaction.atomic
def do_add_to_cart(user, customer, *, plan_id, quantity, addon_id=None, cloud_account_id=None) -> CartLine:
    """Add a plan (or one of its add-ons) to the user's cart for the customer; the same item again adds
    to its quantity. Refuses unauthorized providers (404), quantities outside the item's limits."""
    plan, addon = _plan_and_addon(plan_id, addon_id)
    if quantity is None or quantity < 1:
        raise ValidationError({"quantity": "Enter a quantity of at least 1."})
    account = check_cloud_account(customer, plan, cloud_account_id) if addon is None else None
    cart, _ = Cart.objects.get_or_create(user=user, customer=customer)
    cart = Cart.objects.select_for_update().get(pk=cart.pk)
    line = CartLine.objects.filter(cart=cart, plan=plan, addon=addon).first()
    before = line.quantity if line else 0
    (addon or plan).check_quantity(before + quantity)
    if line is None:
        line = CartLine.objects.create(
            cart=cart, plan=plan, addon=addon, quantity=quantity, cloud_account=account
        )
    else:
        line.quantity = before + quantity
        line.save(update_fields=["quantity"])
    Cart.objects.filter(pk=cart.pk).update(updated_at=timezone.now())
    item = addon or plan
    record_activity(
        user, "cart.added", f"Added {quantity} x {item.name} to the cart", obj=line, customer=customer,
        changes={"quantity": [before, line.quantity], "sku": [None, item.sku]},
    )  # fmt: skip
    return line


def access_cart_line(user, customer, line_id) -> CartLine:
    try:
        return CartLine.objects.select_related("plan__product", "addon").get(
            pk=line_id, cart__user=user, cart__customer=customer
        )
    except (CartLine.DoesNotExist, ValueError, ValidationError) as exc:
        raise Http404("No such cart line") from exc


@transaction.atomic
def do_update_cart_line(user, customer, line: CartLine, quantity) -> CartLine:
    if quantity is None or quantity < 1:
        raise ValidationError({"quantity": "Enter a quantity of at least 1 (or remove the line)."})
    line = CartLine.objects.select_for_update(of=("self",)).select_related("plan", "addon").get(pk=line.pk)
    line.item.check_quantity(quantity)
    before = line.quantity
    if before != quantity:
        line.quantity = quantity
        line.save(update_fields=["quantity"])
        record_activity(
            user, "cart.changed", f"Changed {line.item.name} to {quantity} in the cart", obj=line,
            customer=customer, changes={"quantity": [before, quantity]},
        )  # fmt: skip
    return line


@transaction.atomic
def do_remove_cart_line(user, customer, line: CartLine) -> None:
    item = line.item
    removed_addons = []
    if line.addon_id is None:  # the plan's add-ons go with it
        removed_addons = list(
            CartLine.objects.filter(cart_id=line.cart_id, plan_id=line.plan_id, addon__isnull=False)
        )
        for extra in removed_addons:
            extra.delete()
    record_activity(
        user, "cart.removed", f"Removed {item.name} from the cart", obj=line, customer=customer,
        changes={"quantity": [line.quantity, 0], "addons_removed": [None, len(removed_addons)]},
    )  # fmt: skip
    line.delete()
