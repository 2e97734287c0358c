"""Building quotes: numbering, access, recipients, basic information, revisions, clones and totals.

Scenarios, sections, lines, prices and discount limits are in services_lines.py. Sending (PDF, email)
and accepting/converting live in their own modules and use quote_totals() and line_amount() from here.

Every do_* runs in one transaction with the quote row locked, so two tabs editing the same quote
take turns, and writes the activity log (customer=None for a lead's quote).
"""

import uuid
from datetime import date, timedelta
from decimal import Decimal

from django.core.exceptions import ValidationError
from django.db import transaction
from django.db.models import F
from django.http import Http404
from django.utils import timezone

from customer360.money import Money, quantize
from customers.activity import changed_fields, record_activity, snapshot
from customers.models import Customer
from marketplace.services import check_provider_authorized

from .models import Lead, Quote, QuoteCounter, QuoteLine, QuoteRevision, QuoteScenario, QuoteSection

HUNDRED = Decimal(100)
TAX_CATEGORY = "subscriptions"  # billing.tax's category for quote lines
DEFAULT_VALIDITY_DAYS = 30
STEPS = [Quote.Step.RECIPIENTS, Quote.Step.BASIC, Quote.Step.SCENARIOS, Quote.Step.SUMMARY]
LOCKED_STATUSES = {
    Quote.Status.ACCEPTED: "it was accepted",
    Quote.Status.CONVERTED: "it was converted to an order",
    Quote.Status.EXPIRED: "it expired",
    Quote.Status.DECLINED: "it was declined",
}
BASIC_FIELDS = ["name", "valid_until", "currency", "notes", "terms"]
LEAD_FIELDS = [
    "company_name", "contact_name", "contact_email", "phone", "address_line1", "city", "postal_code",
    "country", "currency",
]  # fmt: skip


# --- Money -----------------------------------------------------------------------------------------------


def line_amount(unit_price, quantity, discount_percent, currency: str) -> Decimal:
    """The one formula for a line's amount: unit price x quantity less the discount, rounded once."""
    unit_price, discount = Decimal(unit_price), Decimal(discount_percent or 0)
    return quantize(unit_price * int(quantity) * (HUNDRED - discount) / HUNDRED, currency)


def quote_totals(quote: Quote, on_date=None) -> dict:
    """{scenario_id: {"sections": {section_id: Money}, "subtotal": Money, "tax": Money, "total": Money}}
    in the quote's currency, scenarios in their order. Tax is billing.tax's estimate from the customer's
    tax profile; a lead has none yet (Money 0). Two queries plus the tax estimates."""
    on_date = on_date or timezone.localdate()
    currency = quote.currency
    zero = Money(Decimal(0), currency)
    result = {}
    sections = QuoteSection.objects.filter(scenario__quote=quote).order_by(
        "scenario__position", "scenario__name", "position", "name"
    )
    for scenario in QuoteScenario.objects.filter(quote=quote):
        result[scenario.pk] = {"sections": {}, "subtotal": zero}
    for scenario_id, section_id in sections.values_list("scenario_id", "pk"):
        result[scenario_id]["sections"][section_id] = zero
    lines = QuoteLine.objects.filter(section__scenario__quote=quote).values_list(
        "section__scenario_id", "section_id", "amount"
    )
    for scenario_id, section_id, amount in lines:
        entry = result[scenario_id]
        entry["sections"][section_id] = entry["sections"][section_id] + Money(amount, currency)
        entry["subtotal"] = entry["subtotal"] + Money(amount, currency)
    for entry in result.values():
        entry["tax"] = estimated_tax(quote, entry["subtotal"], on_date)
        entry["total"] = entry["subtotal"] + entry["tax"]
    return result


def estimated_tax(quote: Quote, subtotal: Money, on_date) -> Money:
    """billing.tax's estimate for the customer; a lead gets none until it becomes a customer."""
    if not quote.customer_id:
        return Money(Decimal(0), subtotal.currency)
    from billing.tax import estimate_tax  # the tax profiles' module

    tax = estimate_tax(quote.customer, TAX_CATEGORY, subtotal, on_date)
    return tax if tax.currency == subtotal.currency else Money(tax.amount, subtotal.currency)


# --- Numbers, access, editability --------------------------------------------------------------------------


def next_quote_number(on_date: date) -> str:
    """Q-<year>-<5 digits>, per reseller and year: the counter row stays locked until the quote commits."""
    counter, _ = QuoteCounter.objects.get_or_create(year=on_date.year)
    QuoteCounter.objects.filter(pk=counter.pk).update(last_number=F("last_number") + 1)
    counter = QuoteCounter.objects.select_for_update().get(pk=counter.pk)
    return f"Q-{on_date.year}-{counter.last_number:05d}"


def access_quote(quote_id) -> Quote:
    """The quote with this id, of the reseller in scope; anything else is a 404."""
    try:
        return Quote.objects.select_related("customer", "lead", "category").get(pk=quote_id)
    except (Quote.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404("No such quote") from exc


def _child(model, quote: Quote, pk, quote_path: str):
    try:
        return model.objects.get(pk=pk, **{quote_path: quote})
    except (model.DoesNotExist, ValueError, TypeError, ValidationError) as exc:
        raise Http404(f"No such {model._meta.verbose_name} in this quote") from exc


def access_scenario(quote: Quote, scenario_id) -> QuoteScenario:
    return _child(QuoteScenario, quote, scenario_id, "quote")


def access_section(quote: Quote, section_id) -> QuoteSection:
    return _child(QuoteSection, quote, section_id, "scenario__quote")


def access_line(quote: Quote, line_id) -> QuoteLine:
    return _child(QuoteLine, quote, line_id, "section__scenario__quote")


def step_index(step: str) -> int:
    return STEPS.index(step) if step in STEPS else 0


def revision_was_sent(quote: Quote) -> bool:
    """Whether the working revision was already sent (its QuoteRevision exists and is frozen)."""
    return QuoteRevision.objects.filter(quote=quote, number=quote.revision).exists()


def check_editable(quote: Quote) -> None:
    """A ValidationError when the quote can no longer change (accepted, converted, expired, declined)."""
    reason = LOCKED_STATUSES.get(quote.status)
    if reason:
        raise ValidationError(
            f"Quote {quote.number} cannot be edited because {reason}. Clone it to make a new quote."
        )


def editing_starts_revision(quote: Quote) -> bool:
    """What the builder pages warn about: saving will start the next revision."""
    return quote.status == Quote.Status.SENT or revision_was_sent(quote)


def start_next_revision(quote: Quote, user=None) -> Quote:
    """The sent revision stays frozen; the working copy becomes the next revision, a draft again."""
    before = snapshot(quote, ["revision", "status"])
    quote.revision += 1
    quote.status = Quote.Status.DRAFT
    quote.updated_at = timezone.now()
    quote.save(update_fields=["revision", "status", "updated_at"])
    record_activity(
        user, "quote.revision", f"Quote {quote.number}: editing revision {quote.revision}", obj=quote,
        customer=quote.customer, changes=changed_fields(before, snapshot(quote, ["revision", "status"])),
    )  # fmt: skip
    return quote


def lock_for_edit(user, quote: Quote) -> Quote:
    """The quote, locked for this transaction and ready to change: refused when it is closed, moved to
    its next revision when the working one was sent. Every editing do_* starts here."""
    locked = (
        Quote.objects.select_for_update(of=("self",))
        .select_related("customer", "lead", "category")
        .get(pk=quote.pk)
    )
    check_editable(locked)
    if editing_starts_revision(locked):
        start_next_revision(locked, user)
    return locked


def touch(quote: Quote, *fields) -> None:
    quote.updated_at = timezone.now()
    quote.save(update_fields=[*fields, "updated_at"])


def reach_step(quote: Quote, step: str) -> bool:
    """Record that the quote got as far as `step` (never moves back). Whether it moved."""
    if step_index(step) > step_index(quote.step):
        quote.step = step
        return True
    return False


# --- Creating, recipients, basic information ---------------------------------------------------------------


def _lead_from(data: dict, lead: Lead | None = None) -> Lead:
    lead = lead or Lead()
    for name in LEAD_FIELDS:
        if name in data:
            setattr(lead, name, data[name] or "")
    lead.currency = (lead.currency or "USD").upper()
    lead.full_clean(exclude=["reseller", "customer"])
    lead.save()
    return lead


def _check_recipient(customer, lead_data) -> None:
    if (customer is None) == (lead_data is None):
        raise ValidationError("Choose an existing customer or enter a new lead, not both.")


@transaction.atomic
def do_create_quote(
    user, *, category, customer: Customer | None = None, lead_data: dict | None = None, inquiry=None,
    on_date: date | None = None,
) -> Quote:  # fmt: skip
    """A draft quote in the provider category `category` for a customer or a new lead, with a first
    scenario "Option A" and its first section; the next step is Basic information."""
    _check_recipient(customer, lead_data)
    category = check_provider_authorized(category)
    today = on_date or timezone.localdate()
    lead = _lead_from(lead_data) if lead_data is not None else None
    recipient = customer or lead
    quote = Quote.objects.create(
        number=next_quote_number(today), customer=customer, lead=lead, category=category, inquiry=inquiry,
        step=Quote.Step.BASIC, currency=recipient.currency, created_by=user,
        name=f"{category.name} for {recipient}"[:100], valid_until=today + timedelta(days=DEFAULT_VALIDITY_DAYS),
    )  # fmt: skip
    scenario = QuoteScenario.objects.create(quote=quote, name="Option A", position=0)
    QuoteSection.objects.create(scenario=scenario, name=category.name, position=0)
    to = customer.name if customer else f"lead {lead.company_name}"
    record_activity(
        user, "quote.created", f"Quote {quote.number} started for {to} ({category.name})", obj=quote,
        customer=customer, changes={"status": [None, quote.status]},
    )  # fmt: skip
    return quote


@transaction.atomic
def do_update_recipients(
    user, quote: Quote, *, customer: Customer | None = None, lead_data: dict | None = None
):
    """Address the quote to another customer, or to a lead (the quote's own lead is edited in place).
    A change of recipient re-prices the lines from the new recipient's pricebook."""
    from .services_lines import reprice_lines

    _check_recipient(customer, lead_data)
    quote = lock_for_edit(user, quote)
    before = {"customer": str(quote.customer or ""), "lead": str(quote.lead or "")}
    old = (quote.customer_id, quote.lead_id)
    if customer is not None:
        quote.customer, quote.lead = customer, None
    else:
        lead = quote.lead if quote.lead_id and not quote.lead.customer_id else None
        quote.lead, quote.customer = _lead_from(lead_data, lead), None
    reach_step(quote, Quote.Step.BASIC)
    touch(quote, "customer", "lead", "step")
    changes = changed_fields(before, {"customer": str(quote.customer or ""), "lead": str(quote.lead or "")})
    if old != (quote.customer_id, quote.lead_id):
        reprice_lines(quote)
    record_activity(
        user, "quote.recipients", f"Quote {quote.number}: recipient {quote.recipient_name}", obj=quote,
        customer=quote.customer, changes=changes,
    )  # fmt: skip
    return quote


def check_basic_info(*, name, valid_until, currency, today: date) -> None:
    errors = {}
    if not (name or "").strip():
        errors["name"] = "Give the quote a name."
    elif len(name) > 100:
        errors["name"] = f"The name is {len(name)} characters long; at most 100 are allowed."
    if valid_until is None:
        errors["valid_until"] = "Say until when the quote is valid."
    elif valid_until < today:
        errors["valid_until"] = f"The validity date cannot be in the past (today is {today:%Y-%m-%d})."
    if not currency or len(currency) != 3:
        errors["currency"] = "Choose a currency."
    if errors:
        raise ValidationError(errors)


@transaction.atomic
def do_update_basic_info(
    user, quote: Quote, *, name, valid_until, currency, notes="", terms="", on_date=None
):
    """Save step 2. A new currency re-prices every line in it (nothing is saved if one cannot be)."""
    from .services_lines import reprice_lines

    today = on_date or timezone.localdate()
    check_basic_info(name=name, valid_until=valid_until, currency=currency, today=today)
    quote = lock_for_edit(user, quote)
    before = snapshot(quote, BASIC_FIELDS)
    old_currency = quote.currency
    quote.name, quote.valid_until, quote.currency = name.strip(), valid_until, currency.upper()
    quote.notes, quote.terms = notes or "", terms or ""
    reach_step(quote, Quote.Step.SCENARIOS)
    touch(quote, *BASIC_FIELDS, "step")
    if quote.currency != old_currency:
        reprice_lines(quote, on_date=today)
    changes = changed_fields(before, snapshot(quote, BASIC_FIELDS))
    record_activity(
        user, "quote.updated", f"Quote {quote.number}: basic information saved", obj=quote,
        customer=quote.customer, changes=changes,
    )  # fmt: skip
    return quote


@transaction.atomic
def do_reach_summary(user, quote: Quote) -> Quote:
    """The Scenarios step's "Continue": the quote is complete enough to review and send."""
    quote = Quote.objects.select_for_update().get(pk=quote.pk)
    if not QuoteLine.objects.filter(section__scenario__quote=quote).exists():
        raise ValidationError("Add at least one line before reviewing the quote.")
    if reach_step(quote, Quote.Step.SUMMARY):
        touch(quote, "step")
        record_activity(
            user, "quote.updated", f"Quote {quote.number}: ready for review", obj=quote, customer=quote.customer,
            changes={"step": [Quote.Step.SCENARIOS, Quote.Step.SUMMARY]},
        )  # fmt: skip
    return quote


# --- Cloning -----------------------------------------------------------------------------------------------


@transaction.atomic
def do_clone_quote(user, quote: Quote, *, on_date: date | None = None) -> Quote:
    """A new draft (new number, revision 1) for the same recipient with the same scenarios, sections and
    lines, re-priced today. Line discounts must be within the cloning user's limit."""
    from .services_lines import check_discount, reprice_lines

    today = on_date or timezone.localdate()
    lines = list(QuoteLine.objects.filter(section__scenario__quote=quote).select_related("section__scenario"))
    for line in lines:
        check_discount(user, line.discount_percent, field=None, what=f"{line.description}: ")
    valid_until = quote.valid_until if quote.valid_until and quote.valid_until >= today else None
    clone = Quote.objects.create(
        number=next_quote_number(today), customer=quote.customer, lead=quote.lead, category=quote.category,
        inquiry=quote.inquiry, name=quote.name, currency=quote.currency, notes=quote.notes, terms=quote.terms,
        valid_until=valid_until or today + timedelta(days=DEFAULT_VALIDITY_DAYS), created_by=user,
        step=quote.step if step_index(quote.step) > 0 else Quote.Step.BASIC,
    )  # fmt: skip
    scenarios, sections = {}, {}
    for scenario in QuoteScenario.objects.filter(quote=quote):
        scenarios[scenario.pk] = QuoteScenario.objects.create(
            quote=clone, name=scenario.name, position=scenario.position
        )
    for section in QuoteSection.objects.filter(scenario__quote=quote):
        sections[section.pk] = QuoteSection.objects.create(
            scenario=scenarios[section.scenario_id], name=section.name, position=section.position
        )
    copies = []
    for line in lines:
        line.pk, line.section = uuid.uuid4(), sections[line.section_id]
        line._state.adding = True
        copies.append(line)
    QuoteLine.objects.bulk_create(copies)
    reprice_lines(clone, on_date=today)
    record_activity(
        user, "quote.cloned", f"Quote {clone.number} cloned from {quote.number} (rev {quote.revision})",
        obj=clone, customer=clone.customer, changes={"cloned_from": [None, quote.number]},
    )  # fmt: skip
    return clone
