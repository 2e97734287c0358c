"""The invoice run's set-based path: the invoices of a whole chunk of customers in one transaction and a
constant number of queries, whatever the chunk's size (billing.invoice_run calls it per chunk).

It reads what the chunk needs in one query per kind of row (customers with their tax profiles, existing
invoices, subscriptions with their status changes, license changes and add-ons, rated usage grouped per
customer/account/provider/service, charge items, credits and what was applied of them), builds every
customer's lines in Python with the same pure functions as the per-customer path
(billing.invoicing.generate_invoice: subscription_lines, charge_lines, tax_lines, totals_of,
services_credits.plan_applications), then writes with one statement per table: the old drafts' credit
applications deleted at once, invoices inserted in bulk or updated with one UPDATE … FROM (VALUES …), and of a
rebuilt draft's lines only those that changed replaced (the new ones written with COPY).
Credits are read and locked by services_credits.lock_open_credits, as apply_credits reads them.
The result is the same invoice, line for line, as generate_invoice gives (tests/billing/test_invoice_bulk.py).

Exactly once, as in the per-customer path: the chunk's customer rows are locked (in primary-key order, so two
overlapping chunks of concurrent runs wait for each other and never deadlock) before anything is read,
so a second run's chunk finds the first's drafts and rebuilds them; finalized invoices are left alone;
the partial unique constraint on (customer, month) is the backstop.
"""

from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Count, Min, Q, Sum
from django.utils import timezone

from customer360.money import Money, quantize
from customer360.rls import copy_from_stdin
from customer360.tenancy import current_reseller_id
from customers.models import ActivityLog, CloudAccount, Customer
from marketplace.models import (
    LicenseCharge,
    Order,
    Plan,
    Provider,
    StatusChange,
    Subscription,
    SubscriptionAddOn,
)

from .invoicing import (
    BILLED_STATUSES,
    ENDED_STATUSES,
    Draft,
    build_lines_from,
    invoice_ref,
    month_bounds,
    totals_of,
)
from .models_charges import ChargeItem, Recurrence
from .models_credits import Credit, CreditApplication
from .models_invoices import Invoice, InvoiceLine, InvoiceStatus, LineKind
from .models_tax import TaxCategory
from .models_usage import UsageDaily
from .services_credits import lock_open_credits, plan_applications

ZERO = Decimal("0")
# An invoice line's columns but its id and reseller: what a rebuilt draft's line is compared on.
LINE_VALUES = [
    "invoice_id", "position", "kind", "description", "source", "provider", "service_name", "subscription_id",
    "license_charge_id", "cloud_account_id", "charge_item_id", "credit_id", "quantity", "unit_price", "amount",
    "cost", "tax_category", "tax_rate", "period_start", "period_end",
]  # fmt: skip


# --- Reading a chunk (one query per kind of row) ------------------------------------------------------------


def _grouped(rows, key) -> dict:
    out = {}
    for row in rows:
        out.setdefault(key(row), []).append(row)
    return out


def subscription_inputs(ids: list, first, last) -> dict:
    """{customer id: [(subscription, license changes, ended on, add-ons)]}, as invoicing._subscription_inputs
    gives them for one customer (same order: start date, creation, pk)."""
    subs = list(
        Subscription.objects.filter(customer__in=ids, status__in=BILLED_STATUSES, start_date__lte=last)
        .select_related("cloud_account")
        .order_by("start_date", "created_at", "pk")
    )
    # Plans, providers and orders are shared by many subscriptions: one object each, not one per row.
    for field, model in (("plan", Plan), ("provider", Provider), ("order", Order)):
        objects = model.objects.in_bulk({getattr(sub, f"{field}_id") for sub in subs})
        for sub in subs:
            setattr(sub, field, objects[getattr(sub, f"{field}_id")])
    sub_ids = [s.pk for s in subs]
    ended = dict(
        StatusChange.objects.filter(subscription__in=sub_ids, after__in=ENDED_STATUSES)
        .order_by()
        .values_list("subscription")
        .annotate(at=Min("created_at"))
    )
    changes = _grouped(
        LicenseCharge.objects.filter(subscription__in=sub_ids).order_by("effective_on", "created_at", "pk"),
        lambda c: c.subscription_id,
    )
    addons = _grouped(
        SubscriptionAddOn.objects.filter(subscription__in=sub_ids).select_related("addon"),
        lambda a: a.subscription_id,
    )
    out = {}
    for sub in subs:
        ended_on = timezone.localtime(ended[sub.pk]).date() if sub.pk in ended else None
        if sub.status in ENDED_STATUSES and ended_on is None:
            ended_on = sub.start_date
        if ended_on is not None and ended_on < first:
            continue
        out.setdefault(sub.customer_id, []).append(
            (sub, changes.get(sub.pk, []), ended_on, addons.get(sub.pk, []))
        )
    return out


def usage_inputs(ids: list, first, last) -> dict:
    """{customer id: [(currency, account id, provider, service, price, cost, quantity, daily rows)]}: rated
    usage of the period grouped per customer, currency, cloud account, provider and service, in the order
    invoicing.usage_lines lists it (provider, account, service)."""
    grouped = (
        UsageDaily.objects.filter(customer__in=ids, day__gte=first, day__lte=last)
        .values_list("customer_id", "currency", "cloud_account_id", "provider", "service_name")
        .annotate(price=Sum("price"), cost=Sum("cost"), quantity=Sum("quantity"), days=Count("id"))
        .order_by("customer_id", "provider", "cloud_account_id", "service_name")
    )
    return _grouped(grouped, lambda g: g[0])


def usage_lines_of(customer, groups: list, accounts: dict, first, last) -> tuple[list, int]:
    """invoicing.usage_lines from usage_inputs' groups of one customer."""
    currency, out, other = customer.currency, [], 0
    for _, cur, account_id, provider, service, price, cost, quantity, days in groups:
        if cur != currency:
            other += days
            continue
        account = accounts.get(account_id)
        if account is not None and account.customer_id != customer.pk:
            account = None
        label = account.account_id if account else "unknown account"
        out.append(Draft(
            LineKind.USAGE, f"{service or 'Other usage'} ({provider.upper()} {label})",
            f"Rated usage {first:%Y-%m-%d}–{last:%Y-%m-%d}, {provider.upper()} account {label}",
            quantize(price, currency), quantize(cost, currency), TaxCategory.USAGE,
            quantity=quantize(quantity, currency, Decimal("0.000001")),
            refs={"cloud_account": account}, provider=provider, service_name=service, period=(first, last),
        ))  # fmt: skip
    return out, other


def charge_items(ids: list, first, last) -> dict:
    """{customer id: [items in effect]} as invoicing.items_in_effect lists them."""
    items = (
        ChargeItem.objects.filter(customer__in=ids, valid_from__lte=last)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=first))
        .select_related("group", "cloud_account", "subscription__plan")
        .order_by("group__name", "name", "valid_from", "pk")
    )
    keep = (i for i in items if i.recurrence != Recurrence.ONE_TIME or first <= i.valid_from <= last)
    return _grouped(keep, lambda i: i.customer_id)


def open_credits(customers: dict, on_date) -> dict:
    """{customer id: [Open(credit, remaining)]}: the chunk's usable credits in each customer's currency,
    locked (one runner at a time spends a remainder), with what is left of them."""
    if not customers:
        return {}
    currency_of = Q()
    for currency in {c.currency for c in customers.values()}:
        ids = [pk for pk, c in customers.items() if c.currency == currency]
        currency_of |= Q(customer__in=ids, currency=currency)
    return _grouped(
        lock_open_credits(Credit.objects.filter(currency_of), on_date), lambda o: o.credit.customer_id
    )


# --- The chunk -------------------------------------------------------------------------------------------------


@transaction.atomic
def generate_chunk(customer_ids, month, *, run=None) -> dict:
    """Build or rebuild the draft invoices of `customer_ids` for `month` in one transaction. Returns
    {customer id: invoice, or None when there is nothing to invoice}; a finalized invoice is left untouched;
    a customer no longer there is left out."""
    month = month.replace(day=1)
    first, last = month_bounds(month)
    customers = {
        c.pk: c
        for c in Customer.objects.filter(pk__in=list(customer_ids))
        .order_by("pk")
        .select_for_update()
        .prefetch_related("tax_profile__rates")
    }
    ids = list(customers)
    existing = {
        inv.customer_id: inv
        for inv in Invoice.objects.select_for_update()
        .filter(customer__in=ids, month=month)
        .exclude(status=InvoiceStatus.VOID)
    }
    drafts = [inv for inv in existing.values() if inv.status == InvoiceStatus.DRAFT]
    finalized = {inv.customer_id for inv in existing.values() if inv.status != InvoiceStatus.DRAFT}
    old_lines = {}
    if drafts:
        # Rebuilding: the credit the old drafts took goes back first; their lines are compared with the new
        # ones, and only those that changed are replaced (a re-run rewrites what moved, not every line).
        CreditApplication.objects.filter(invoice_ref__in=[invoice_ref(inv) for inv in drafts]).delete()
        old_lines = {
            (row[1], row[2]): row
            for row in InvoiceLine.objects.filter(invoice__in=[inv.pk for inv in drafts]).values_list(
                "id", *LINE_VALUES
            )
        }
    todo = {pk: c for pk, c in customers.items() if pk not in finalized}
    subs = subscription_inputs(list(todo), first, last)
    usage = usage_inputs(list(todo), first, last)
    accounts = {a.pk: a for a in CloudAccount.objects.filter(customer__in=list(todo))}
    items = charge_items(list(todo), first, last)
    built = {}
    for pk, customer in todo.items():
        usage_lines, other = usage_lines_of(customer, usage.get(pk, []), accounts, first, last)
        lines, notes = build_lines_from(
            customer, month, subs.get(pk, []), usage_lines, other, items.get(pk, [])
        )
        if lines:
            built[pk] = (lines, notes)
    credits = open_credits({pk: todo[pk] for pk in built}, last)
    results = {pk: inv for pk, inv in existing.items() if inv.status != InvoiceStatus.DRAFT}
    new, changed, applications, activity, all_lines = [], [], [], [], []
    now = timezone.now()
    for pk, (lines, notes) in built.items():
        customer = todo[pk]
        invoice = existing.get(pk) or Invoice(
            customer=customer, month=month, reseller_id=customer.reseller_id
        )
        (changed if pk in existing else new).append(invoice)
        invoice.currency = customer.currency
        invoice.invoice_date = last + timedelta(days=1)
        invoice.due_date = invoice.invoice_date + timedelta(days=customer.payment_terms_days)
        invoice.notes = "\n".join(notes)
        invoice.generated_at, invoice.run = now, run
        partial = totals_of(lines)
        due = partial.subtotal + partial.tax
        if due > 0 and credits.get(pk):
            plan = plan_applications(credits[pk], due, last)
            ref = invoice_ref(invoice)
            for credit, used in plan:
                applications.append(
                    CreditApplication(credit=credit, amount=used, applied_on=last, invoice_ref=ref)
                )
                lines.append(Draft(
                    LineKind.CREDIT, f"Credit: {credit.reason}", f"Credit issued {credit.issued_on:%Y-%m-%d}",
                    -used, refs={"credit": credit},
                ))  # fmt: skip
            if plan:
                activity.append(_credit_activity(customer, plan, credits[pk], ref))
        totals = totals_of(lines)
        invoice.subtotal, invoice.tax, invoice.credits, invoice.total = (
            totals.subtotal, totals.tax, totals.credits, totals.total,
        )  # fmt: skip
        all_lines += [(invoice, n, ln) for n, ln in enumerate(lines, 1)]
        results[pk] = invoice
    stale = [inv.pk for pk, inv in existing.items() if pk not in finalized and pk not in built]
    if stale:
        Invoice.objects.filter(pk__in=stale).delete()
    for pk in todo:
        results.setdefault(pk, None)
    _write(new, changed, applications, activity)
    write_lines([line_row(*line) for line in all_lines], old_lines)
    return results


def _credit_activity(customer, plan, opens: list, ref: str) -> ActivityLog:
    """The entry services_credits.apply_credits records for the credit applied to one invoice."""
    remaining = {o.credit.pk: o.remaining for o in opens}
    total = sum((amount for _, amount in plan), ZERO)
    return ActivityLog(
        reseller_id=customer.reseller_id, customer=customer, actor=None, actor_label="system",
        action="credit.applied", object_type=None, object_id="", object_repr="",
        message=f"Applied {Money(total, customer.currency)} of credit to {ref}"[:300],
        changes={f"credit {c.issued_on.isoformat()} {c.reason}"[:120]: [str(remaining[c.pk]), str(remaining[c.pk] - a)]
                 for c, a in plan},
    )  # fmt: skip


def _write(new: list, changed: list, applications: list, activity: list) -> None:
    if new:
        Invoice.objects.bulk_create(new)
    if changed:
        update_drafts(changed)
    if applications:
        CreditApplication.objects.bulk_create(applications)
    if activity:
        ActivityLog.objects.bulk_create(activity)


UPDATED = ["currency", "invoice_date", "due_date", "notes", "generated_at", "run_id", "subtotal", "tax", "credits",
           "total"]  # fmt: skip
TYPES = ["varchar", "date", "date", "text", "timestamptz", "uuid", "numeric", "numeric", "numeric", "numeric"]


def update_drafts(invoices: list) -> None:
    """One UPDATE … FROM (VALUES …) of the rebuilt drafts (bulk_update's CASE per field and row costs more
    than building the invoices); rows of the reseller in scope only, drafts only."""
    values = ", ".join(["(%s::uuid, " + ", ".join(f"%s::{t}" for t in TYPES) + ")"] * len(invoices))
    params = [x for inv in invoices for x in [inv.pk, *(getattr(inv, f) for f in UPDATED)]]
    sets = ", ".join(f"{f} = v.{f}" for f in UPDATED)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE billing_invoice i SET {sets} FROM (VALUES {values}) AS v(id, {', '.join(UPDATED)}) "
            "WHERE i.id = v.id AND i.reseller_id = %s AND i.status = 'draft'",
            [*params, current_reseller_id()],
        )
        if cursor.rowcount != len(invoices):
            raise RuntimeError(f"{len(invoices) - cursor.rowcount} drafts changed under the run's lock")


def _ref_id(refs: dict, name: str):
    obj = refs.get(name)
    return None if obj is None else obj.pk


def line_row(invoice, position: int, ln: Draft) -> tuple:
    """The LINE_VALUES of a line (what invoicing._line gives InvoiceLine)."""
    refs, period = ln.refs, ln.period or (None, None)
    return (
        invoice.pk, position, ln.kind, ln.description[:300], ln.source[:300], ln.provider, ln.service_name,
        _ref_id(refs, "subscription"), _ref_id(refs, "license_charge"), _ref_id(refs, "cloud_account"),
        _ref_id(refs, "charge_item"), _ref_id(refs, "credit"), ln.quantity, ln.unit_price, ln.amount, ln.cost,
        ln.tax_category, ln.tax_rate, period[0], period[1],
    )  # fmt: skip


def write_lines(rows: list, old_lines: dict) -> None:
    """Keep the old lines equal to a new one (same invoice, position and values), delete the others, insert
    the rest with COPY."""
    fresh, gone = [], []
    for row in rows:
        old = old_lines.pop(row[:2], None)
        if old is not None and old[1:] == row:
            continue
        if old is not None:
            gone.append(old[0])
        fresh.append(row)
    gone += [old[0] for old in old_lines.values()]
    if gone:
        InvoiceLine.objects.filter(pk__in=gone).delete()
    if not fresh:
        return
    reseller_id, new_id = current_reseller_id(), InvoiceLine._meta.pk.get_default
    with connection.cursor() as cursor:
        with copy_from_stdin(cursor, "billing_invoiceline", ["id", "reseller_id", *LINE_VALUES]) as copy:
            for row in fresh:
                copy.write_row((new_id(), reseller_id, *row))
