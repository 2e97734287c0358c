"""The invoice run's set-based path: the invoices of a whole chunk of customers in one transaction and a
constant number of queries, whatever the chunk's size (billing.invoice_run calls it per chunk).

The spend lines (subscription fees and rated usage: nearly every line of a run) are computed by PostgreSQL
for the whole chunk into a temporary table (billing.invoicing_sql). Python then reads that spend back summed
per customer, tax category and scope, and adds what depends on the whole invoice with the same pure functions
as the per-customer path (billing.invoicing.generate_invoice): charge_lines, tax_lines and
services_credits.plan_applications, for the customers that have charge items, a tax profile or credit.
The invoices are copied into a temporary table, then inserted or (rebuilt drafts) updated from it with one
statement each; the lines are written from the temporary table with one INSERT … SELECT, and on a re-run
only a draft's lines that changed are replaced.
The result is the same invoice, line for line, as generate_invoice gives (tests/billing/test_invoice_bulk.py).

Exactly once, as in the per-customer path: the chunk's customer rows are locked (in primary-key order, so two
overlapping chunks of concurrent runs wait for each other and never deadlock) before anything is read,
so a second run's chunk finds the first's drafts and rebuilds them; finalized invoices are left alone;
the partial unique constraint on (customer, month) is the backstop.
"""

import uuid
from collections import namedtuple
from datetime import timedelta
from decimal import Decimal

from django.db import connection, transaction
from django.db.models import Q
from django.db.models.expressions import RawSQL
from django.utils import timezone

from customer360.money import Money
from customer360.rls import apply_scope
from customer360.tenancy import current_reseller_id
from customers.models import ActivityLog, Customer

from .invoicing import Draft, charge_lines, invoice_ref, month_bounds, tax_lines
from .invoicing_sql import CHARGES, CREDITS, LINE_COLUMNS, TAX, fill_spend, uuid_array
from .models_charges import ChargeItem, Recurrence
from .models_credits import Credit, CreditApplication
from .models_invoices import Invoice, InvoiceStatus, LineKind
from .models_tax import TaxProfile, TaxRate
from .services_credits import lock_open_credits, plan_applications

ZERO = Decimal("0")
# What charge_lines' scope test reads of a line's subscription or cloud account.
Ref = namedtuple("Ref", "pk")
# What tax.tax_breakdown reads of a customer.
Taxed = namedtuple("Taxed", "tax_profile")


def among(ids) -> RawSQL:
    """`pk__in=among(ids)`: one array parameter for a chunk's thousand ids (a plain list compiles and quotes
    each id on its own)."""
    return RawSQL("SELECT unnest(%s::uuid[])", [uuid_array(ids)])


def _grouped(rows, key) -> dict:
    out = {}
    for row in rows:
        out.setdefault(key(row), []).append(row)
    return out


# --- Reading a chunk (one query per kind of row) ------------------------------------------------------------


def charge_items(ids: list, first, last) -> dict:
    """{customer id: [items in effect]} as invoicing.items_in_effect lists them."""
    items = (
        ChargeItem.objects.filter(customer__in=among(ids), valid_from__lte=last)
        .filter(Q(valid_until__isnull=True) | Q(valid_until__gte=first))
        .select_related("group", "cloud_account", "subscription__plan")
        .order_by("group__name", "name", "valid_from", "pk")
    )
    keep = (i for i in items if i.recurrence != Recurrence.ONE_TIME or first <= i.valid_from <= last)
    return _grouped(keep, lambda i: i.customer_id)


def taxed_customers(ids: list) -> dict:
    """{customer id: what invoicing.tax_lines reads of a customer (its tax profile and the profile's
    rates)} for the customers that have a profile (without one, tax_lines gives nothing). The rates are
    read once for the chunk and shared by the profiles naming them (tax.tax_breakdown's chunk_rates)."""
    profiles = {p.pk: p for p in TaxProfile.objects.filter(customer__in=among(ids))}
    links = TaxProfile.rates.through.objects.filter(taxprofile__in=among(profiles)).values_list(
        "taxprofile_id", "taxrate_id"
    )
    links = _grouped(links, lambda link: link[0])
    rates = TaxRate.objects.in_bulk({rate for pairs in links.values() for _, rate in pairs})
    for pk, profile in profiles.items():
        profile.chunk_rates = [rates[rate] for _, rate in links.get(pk, [])]
    return {p.customer_id: Taxed(p) for p in profiles.values()}


def open_credits(currencies: dict, on_date) -> dict:
    """{customer id: [Open(credit, remaining)]}: the usable credits of the customers of `currencies`
    ({customer id: currency}) in their currency, locked (one runner at a time spends a remainder)."""
    if not currencies:
        return {}
    currency_of = Q()
    for currency in set(currencies.values()):
        currency_of |= Q(
            customer__in=among(pk for pk, c in currencies.items() if c == currency), currency=currency
        )
    return _grouped(
        lock_open_credits(Credit.objects.filter(currency_of), on_date), lambda o: o.credit.customer_id
    )


def spend_drafts(groups: list) -> list[Draft]:
    """The spend as charge_lines and tax_lines read it: one line per tax category and scope (for a customer
    with a tax profile and no charge item, per tax category; with neither, one line of its total)."""
    return [
        Draft("", "", "", amount, cost or ZERO, category or "",
              refs={"cloud_account": account and Ref(account), "subscription": sub and Ref(sub)})
        for _, category, account, sub, amount, cost in groups
    ]  # fmt: skip


# --- The chunk -------------------------------------------------------------------------------------------------


@transaction.atomic
def generate_chunk(customer_ids, month, *, run=None) -> dict:
    """Build or rebuild the draft invoices of `customer_ids` for `month` in one transaction. Returns
    {customer id: invoice id, or None when there is nothing to invoice}; a finalized invoice is left
    untouched; a customer no longer there is left out."""
    month = month.replace(day=1)
    first, last = month_bounds(month)
    customers = {
        pk: (currency, terms)
        for pk, currency, terms in Customer.objects.filter(pk__in=among(customer_ids))
        .order_by("pk")
        .select_for_update()
        .values_list("pk", "currency", "payment_terms_days")
    }
    existing = {
        inv.customer_id: inv
        for inv in Invoice.objects.select_for_update()
        .filter(customer__in=among(customers), month=month)
        .exclude(status=InvoiceStatus.VOID)
    }
    drafts = [inv for inv in existing.values() if inv.status == InvoiceStatus.DRAFT]
    if drafts:
        # Rebuilding: the credit the old drafts took goes back first.
        CreditApplication.objects.filter(invoice_ref__in=[invoice_ref(inv) for inv in drafts]).delete()
    results = {pk: inv.pk for pk, inv in existing.items() if inv.status != InvoiceStatus.DRAFT}
    todo = [pk for pk in customers if pk not in results]
    reseller_id = current_reseller_id()
    items = charge_items(todo, first, last)
    taxed = taxed_customers(todo)
    notes, spend = fill_spend(todo, first, last, reseller_id, charged=items.keys(), taxed=taxed.keys())
    spend = _grouped(spend, lambda row: row[0])
    extra, partial = {}, {}
    for pk in todo:
        currency = customers[pk][0]
        lines = spend_drafts(spend.get(pk, []))
        mine = [i for i in items.get(pk, []) if i.currency == currency]
        charges = charge_lines(mine, lines, currency) if mine else []
        if not lines and not charges:
            continue
        taxes = tax_lines(taxed[pk], lines + charges, currency, last) if pk in taxed else []
        extra[pk] = [(CHARGES, charges), (TAX, taxes)]
        subtotal = sum((ln.amount for ln in lines + charges), ZERO)
        partial[pk] = (subtotal, sum((ln.amount for ln in taxes), ZERO))
    credits = open_credits({pk: customers[pk][0] for pk, (s, t) in partial.items() if s + t > 0}, last)
    invoices, applications, activity = [], [], []
    invoice_date = last + timedelta(days=1)
    for pk, (subtotal, tax) in partial.items():
        currency, terms = customers[pk]
        invoice_id = existing[pk].pk if pk in existing else uuid.uuid4()
        credit_lines = []
        if subtotal + tax > 0 and credits.get(pk):
            plan = plan_applications(credits[pk], subtotal + tax, last)
            ref = invoice_ref(Ref(invoice_id))
            for credit, used in plan:
                applications.append(
                    CreditApplication(credit=credit, amount=used, applied_on=last, invoice_ref=ref)
                )
                credit_lines.append(Draft(
                    LineKind.CREDIT, f"Credit: {credit.reason}", f"Credit issued {credit.issued_on:%Y-%m-%d}",
                    -used, refs={"credit": credit},
                ))  # fmt: skip
            if plan:
                activity.append(_credit_activity(pk, reseller_id, currency, plan, credits[pk], ref))
        extra[pk].append((CREDITS, credit_lines))
        used = sum((-ln.amount for ln in credit_lines), ZERO)
        invoices.append((
            pk, invoice_id, pk not in existing, currency, invoice_date, invoice_date + timedelta(days=terms),
            notes.get(pk) or "", subtotal, tax, used, subtotal + tax - used,
        ))  # fmt: skip
        results[pk] = invoice_id
    stale = [
        inv.pk for pk, inv in existing.items() if inv.status == InvoiceStatus.DRAFT and pk not in partial
    ]
    if stale:
        Invoice.objects.filter(pk__in=stale).delete()
    for pk in customers:
        results.setdefault(pk, None)
    write_invoices(invoices, month, run)
    if applications:
        CreditApplication.objects.bulk_create(applications)
    if activity:
        ActivityLog.objects.bulk_create(activity)
    write_lines(extra, rebuilt=[inv.pk for inv in drafts])
    return results


def _credit_activity(customer_id, reseller_id, currency, plan, opens: list, ref: str) -> ActivityLog:
    """The entry services_credits.apply_credits records for the credit applied to one invoice."""
    remaining = {o.credit.pk: o.remaining for o in opens}
    total = sum((amount for _, amount in plan), ZERO)
    return ActivityLog(
        reseller_id=reseller_id, customer_id=customer_id, actor=None, actor_label="system",
        action="credit.applied", object_type=None, object_id="", object_repr="",
        message=f"Applied {Money(total, currency)} of credit to {ref}"[:300],
        changes={f"credit {c.issued_on.isoformat()} {c.reason}"[:120]: [str(remaining[c.pk]), str(remaining[c.pk] - a)]
                 for c, a in plan},
    )  # fmt: skip


# What a chunk sets on each of its invoices; the other columns of a new one take their field's default.
INVOICE_VALUES = ["customer_id", "id", "new", "currency", "invoice_date", "due_date", "notes", "subtotal", "tax",
                  "credits", "total"]  # fmt: skip
INVOICE_TYPES = ["uuid", "uuid", "boolean", "varchar", "date", "date", "text", "numeric", "numeric", "numeric",
                 "numeric"]  # fmt: skip
REBUILT = INVOICE_VALUES[3:]  # what a rebuilt draft takes from chunk_invoice (and the run's own values)


def write_invoices(rows: list, month, run) -> None:
    """The chunk's invoices (INVOICE_VALUES rows) copied into chunk_invoice, then the new ones inserted and
    the rebuilt drafts updated from it with one statement each (model instances, bulk_create's statement
    of 24 parameters a row or a VALUES list cost more than the database takes to write them). Rows of the
    reseller in scope only; a draft only."""
    with connection.cursor() as cursor:
        raw = cursor.cursor
        columns = ", ".join(f"{c} {t}" for c, t in zip(INVOICE_VALUES, INVOICE_TYPES, strict=True))
        raw.execute(
            f"DROP TABLE IF EXISTS chunk_invoice; CREATE TEMP TABLE chunk_invoice ({columns}) ON COMMIT DROP"
        )
        with raw.copy(f"COPY chunk_invoice ({', '.join(INVOICE_VALUES)}) FROM STDIN") as copy:
            for row in rows:
                copy.write_row(row)
        fixed = {
            "reseller_id": current_reseller_id(), "month": month, "generated_at": timezone.now(),
            "run_id": run and run.pk,
        }  # fmt: skip
        names, values, params = [], [], []
        for field in Invoice._meta.concrete_fields:
            names.append(field.column)
            if field.column in INVOICE_VALUES:
                values.append(f"ci.{field.column}")
            else:
                values.append("%s")
                value = fixed[field.column] if field.column in fixed else field.get_default()
                params.append(field.get_db_prep_save(value, connection))
        cursor.execute(
            f"INSERT INTO billing_invoice ({', '.join(names)}) SELECT {', '.join(values)} "
            "FROM chunk_invoice ci WHERE ci.new",
            params,
        )
        expected = sum(1 for row in rows if not row[INVOICE_VALUES.index("new")])
        if not expected:
            return
        cursor.execute(
            f"UPDATE billing_invoice i SET {', '.join(f'{c} = v.{c}' for c in REBUILT)}, "
            "generated_at = %s, run_id = %s FROM chunk_invoice v "
            "WHERE i.id = v.id AND NOT v.new AND i.reseller_id = %s AND i.status = 'draft'",
            [fixed["generated_at"], fixed["run_id"], fixed["reseller_id"]],
        )
        if cursor.rowcount != expected:
            raise RuntimeError(f"{expected - cursor.rowcount} drafts changed under the run's lock")


def _ref_id(refs: dict, name: str):
    obj = refs.get(name)
    return None if obj is None else obj.pk


def draft_row(customer_id, group: int, n: int, ln: Draft) -> tuple:
    """A line made in Python as invoicing_sql's chunk_line holds it."""
    refs, period = ln.refs, ln.period or (None, None)
    return (
        customer_id, group, n, 0, 0, ln.kind, ln.description, ln.source, ln.provider, ln.service_name,
        _ref_id(refs, "subscription"), _ref_id(refs, "license_charge"), _ref_id(refs, "cloud_account"),
        _ref_id(refs, "charge_item"), _ref_id(refs, "credit"), ln.quantity, ln.unit_price, ln.amount, ln.cost,
        ln.tax_category, ln.tax_rate, period[0], period[1],
    )  # fmt: skip


# The chunk's lines with their invoice and position (descriptions cut to the column's 300 characters).
NUMBERED = f"""
SELECT i.id AS invoice_id,
       row_number() OVER (PARTITION BY l.customer_id ORDER BY l.grp, l.k1, l.k2, l.k3) AS position,
       {", ".join(f"left(l.{c}, 300) AS {c}" if c in ("description", "source") else f"l.{c}" for c in LINE_COLUMNS)}
FROM chunk_line l JOIN chunk_invoice i USING (customer_id)
"""
SAME = " AND ".join(f"n.{c} IS NOT DISTINCT FROM o.{c}" for c in LINE_COLUMNS)
# A rebuilt draft keeps each old line equal to the new one at its position (read by invoice, through the
# (invoice, position) index); the other old lines go, and only the new lines not kept are inserted.
KEEP = f"""
DROP TABLE IF EXISTS chunk_kept;
CREATE TEMP TABLE chunk_kept ON COMMIT DROP AS
SELECT o.id, o.invoice_id, o.position
FROM chunk_final n JOIN billing_invoiceline o ON o.invoice_id = n.invoice_id AND o.position = n.position
WHERE o.invoice_id = ANY(%(drafts)s::uuid[]) AND {SAME};
DELETE FROM chunk_final n USING chunk_kept k WHERE k.invoice_id = n.invoice_id AND k.position = n.position
"""
DELETE_CHANGED = """
DELETE FROM billing_invoiceline o
WHERE o.invoice_id = ANY(%(drafts)s::uuid[]) AND o.id NOT IN (SELECT id FROM chunk_kept)
"""
INSERT = f"""
INSERT INTO billing_invoiceline (id, reseller_id, invoice_id, position, {", ".join(LINE_COLUMNS)})
SELECT gen_random_uuid(), %s, n.invoice_id, n.position, {", ".join(f"n.{c}" for c in LINE_COLUMNS)}
FROM {{lines}} n
"""


def write_lines(extra: dict, *, rebuilt: list) -> None:
    """The chunk's lines from chunk_line (spend from SQL, the `extra` lines made in Python: {customer id:
    [(group, drafts)]}) onto the invoices of chunk_invoice. Of the `rebuilt` drafts (ids), the unchanged
    lines stay and only the others are replaced."""
    apply_scope(connection)
    with connection.cursor() as cursor:
        raw = cursor.cursor
        columns = "customer_id, grp, k1, k2, k3, " + ", ".join(LINE_COLUMNS)
        with raw.copy(f"COPY chunk_line ({columns}) FROM STDIN") as copy:
            for pk, groups in extra.items():
                for group, drafts in groups:
                    for n, ln in enumerate(drafts):
                        copy.write_row(draft_row(pk, group, n, ln))
        if not rebuilt:
            cursor.execute(INSERT.format(lines=f"({NUMBERED})"), [current_reseller_id()])
            return
        raw.execute(
            f"DROP TABLE IF EXISTS chunk_final; CREATE TEMP TABLE chunk_final ON COMMIT DROP AS {NUMBERED}"
        )
        # Statistics, so the old lines are probed by invoice rather than all of the reseller's scanned.
        raw.execute("ANALYZE chunk_final")
        drafts = {"drafts": uuid_array(rebuilt)}
        raw.execute(KEEP, drafts)
        raw.execute(DELETE_CHANGED, drafts)
        cursor.execute(INSERT.format(lines="chunk_final"), [current_reseller_id()])
