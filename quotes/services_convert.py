"""Converting an accepted quote into an order, through the checkout's own place_order().

The accepted scenario's lines become a PricedCart at the prices the customer accepted (the line's unit
price less its discount; the amount exactly as quoted), and marketplace.services_orders.place_order()
validates and writes it as it does a cart: credit limit, cloud accounts for consumption plans, add-ons
with their plan, order numbering, subscriptions, lines, activity log, provisioning. The quote's
conversion_token is the checkout token, and the quote row is locked for the whole conversion, so a
double click or two tabs give one order; Quote.order (one-to-one) makes a second conversion impossible.
For a lead, the customer is created first, in the same transaction: if the order is refused, no
customer is left behind.
"""

import uuid
from datetime import date
from decimal import Decimal

from django.core.exceptions import PermissionDenied, ValidationError
from django.db import transaction
from django.utils import timezone

from accounts.models import Role
from billing.pricing import PriceQuote
from customer360.money import Money, quantize
from customers.activity import record_activity
from customers.models import CloudAccount, Customer
from customers.services import do_create_customer
from marketplace.models import Order, ProductType
from marketplace.services_cart import PricedCart, PricedLine
from marketplace.services_orders import place_order

from .models import Lead, Quote, QuoteLine

CONVERT_ROLES = (Role.OWNER, Role.SALES)
UNIT = Decimal("0.0001")
HUNDRED = Decimal(100)


def can_convert(user) -> bool:
    return getattr(user, "role", None) in CONVERT_ROLES


def scenario_lines(quote: Quote) -> list[QuoteLine]:
    """The accepted scenario's lines, in document order, with what pricing and ordering read."""
    if not quote.accepted_scenario_id:
        return []
    return list(
        QuoteLine.objects.filter(section__scenario_id=quote.accepted_scenario_id)
        .select_related("plan__product__provider", "addon__product__provider", "cloud_account")
        .order_by("section__position", "section__name", "position")
    )


def needs_cloud_account(line: QuoteLine) -> bool:
    return line.addon_id is None and line.plan.product.type == ProductType.CONSUMPTION


def accepted_revision(quote: Quote) -> int:
    return quote.responded_revision or quote.revision


def quoted_price(quote: Quote, line: QuoteLine, on_date: date) -> PriceQuote:
    """The line as the customer accepted it, in the PriceQuote form checkout orders from."""
    currency = line.currency
    discount = line.discount_percent or Decimal(0)
    unit = quantize(line.unit_price * (HUNDRED - discount) / HUNDRED, currency, UNIT)
    why = f"Quoted in {quote.number} rev {accepted_revision(quote)}: {line.unit_price} {currency} per unit"
    if discount:
        why += f" less a {discount.normalize():f} % discount"
    return PriceQuote(
        amount=Money(line.amount, currency), cost=Money(line.unit_cost * line.quantity, currency),
        list_price=Money(line.list_price * line.quantity, currency), unit_price=Money(unit, currency),
        quantity=Decimal(line.quantity), on_date=on_date, pricebook=None, rule=None, assignment=None,
        exchange_rate=Decimal(1), explanation=why,
    )  # fmt: skip


def priced_scenario(quote: Quote, customer: Customer, cloud_accounts: dict, on_date: date) -> PricedCart:
    """The accepted scenario as a PricedCart. A consumption line takes the account chosen in the convert
    panel ({quote line id: cloud account id}) or the one on the line; check_checkout refuses a missing
    or foreign one."""
    lines = scenario_lines(quote)
    chosen = {str(k): v for k, v in (cloud_accounts or {}).items() if v}
    wanted = {str(chosen[str(line.pk)]) for line in lines if str(line.pk) in chosen}
    accounts = {str(a.pk): a for a in CloudAccount.objects.filter(customer=customer, pk__in=_uuids(wanted))}
    priced = []
    for line in lines:
        if needs_cloud_account(line) and str(line.pk) in chosen:
            account = accounts.get(str(chosen[str(line.pk)]))
            line.cloud_account = account  # in memory only: the order's subscription records it
            line.cloud_account_id = account.pk if account else None
        priced.append(PricedLine(line, quoted_price(quote, line, on_date)))
    return PricedCart(priced, quote.currency)


def _uuids(values) -> list:
    out = []
    for value in values:
        try:
            out.append(uuid.UUID(str(value)))
        except ValueError:
            continue
    return out


def check_convertible(quote: Quote) -> None:
    if quote.status != Quote.Status.ACCEPTED or not quote.accepted_scenario_id:
        raise ValidationError(
            f"Quote {quote.number} is {quote.get_status_display().lower()}: only a quote the customer "
            "accepted converts to an order."
        )


def check_lead_credit_limit(value) -> Decimal:
    try:
        limit = Decimal(str(value if value not in (None, "") else 0))
    except ArithmeticError as exc:
        raise ValidationError({"credit_limit": "Enter the new customer's credit limit as a number."}) from exc
    if limit < 0 or not limit.is_finite():
        raise ValidationError({"credit_limit": "The credit limit cannot be negative."})
    return limit


def _customer_from_lead(user, quote: Quote, credit_limit) -> Customer:
    """The lead's customer: the one it already became, or a new one with the lead's company, address and
    contact (as the admin contact), in the lead's currency."""
    lead = Lead.objects.select_for_update().get(pk=quote.lead_id)
    if lead.customer_id:
        return lead.customer
    customer = do_create_customer(
        user, name=lead.company_name, currency=lead.currency, address_line1=lead.address_line1,
        city=lead.city, postal_code=lead.postal_code, country=lead.country,
        credit_limit=check_lead_credit_limit(credit_limit),
        admin_contact={"name": lead.contact_name, "email": lead.contact_email, "phone": lead.phone},
    )  # fmt: skip
    lead.customer = customer
    lead.save(update_fields=["customer"])
    record_activity(
        user, "lead.converted", f"Lead {lead.company_name} became a customer (quote {quote.number})", obj=lead,
        customer=customer, changes={"customer": [None, customer.name]},
    )  # fmt: skip
    return customer


def do_convert_quote(
    user, quote: Quote, *, cloud_accounts: dict | None = None, credit_limit=None, on_date: date | None = None
) -> tuple[Order, bool]:
    """Place the order of the accepted scenario (for a lead, after creating the customer; `credit_limit`
    is the new customer's). Returns (order, created): converting again returns the same order. Raises
    PermissionDenied (role), ValidationError (not accepted; checkout's validation), nothing written."""
    if not can_convert(user):
        raise PermissionDenied("Only owners and sales users convert quotes to orders.")
    today = on_date or timezone.localdate()
    with transaction.atomic():
        # No select_related under the lock: after waiting for it (a double click), PostgreSQL re-reads
        # the quote row but not joined rows, so the order the first click made would read as missing.
        quote = Quote.objects.select_for_update().get(pk=quote.pk)
        if quote.order_id:
            return quote.order, False
        check_convertible(quote)
        lines = scenario_lines(quote)
        if not lines:
            raise ValidationError("The accepted option has no lines; there is nothing to order.")
        if quote.customer_id is None and any(needs_cloud_account(line) for line in lines):
            raise ValidationError(
                "The accepted option has consumption plans, which are ordered for one of the customer's cloud "
                "accounts; a lead has none yet. Create the customer and link its accounts, then address the "
                "quote to it."
            )
        customer = quote.customer or _customer_from_lead(user, quote, credit_limit)
        priced = priced_scenario(quote, customer, cloud_accounts or {}, today)
        source = f"quote {quote.number} rev {accepted_revision(quote)}"
        order, created = place_order(
            user, customer, token=quote.conversion_token, priced=priced, source=source
        )
        became_customer = quote.customer_id is None
        quote.customer, quote.order, quote.status = customer, order, Quote.Status.CONVERTED
        quote.updated_at = timezone.now()
        quote.save(update_fields=["customer", "order", "status", "updated_at"])
        changes = {"status": [Quote.Status.ACCEPTED, Quote.Status.CONVERTED], "order": [None, order.number]}
        if became_customer:
            changes["customer"] = [None, customer.name]
        record_activity(
            user, "quote.converted", f"Quote {quote.number} converted to order {order.number}", obj=quote,
            customer=customer, changes=changes,
        )  # fmt: skip
    return order, created
