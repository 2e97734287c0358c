"""State changes of customers, contacts, cloud accounts and alerts.

Verbs as in Zulip: access_* fetches with the tenancy built in, check_* validates, do_* writes and logs.
"""

from django.db import transaction
from django.http import Http404
from django.utils import timezone

from .activity import changed_fields, record_activity, snapshot
from .models import Alert, Contact, Customer

CUSTOMER_EDITABLE_FIELDS = [
    "name",
    "status",
    "currency",
    "address_line1",
    "address_line2",
    "city",
    "region",
    "postal_code",
    "country",
    "payment_method",
    "payment_terms_days",
    "credit_limit",
    "saas_credit_threshold",
]


def customers_for_list():
    """The customers of the reseller in scope, as the list shows them."""
    return Customer.objects.all()


def access_customer(customer_id) -> Customer:
    """The customer with this id, of the reseller in scope; anything else is a 404."""
    try:
        return Customer.objects.get(pk=customer_id)
    except (Customer.DoesNotExist, ValueError, TypeError) as exc:
        raise Http404("No such customer") from exc


@transaction.atomic
def do_create_customer(actor, *, admin_contact: dict | None = None, **fields) -> Customer:
    customer = Customer(**fields)
    customer.full_clean()
    customer.save()
    if admin_contact:
        Contact.objects.create(customer=customer, is_admin=True, **admin_contact)
    record_activity(
        actor,
        "customer.created",
        f"Customer {customer.name} created",
        obj=customer,
        customer=customer,
        changes=changed_fields({}, snapshot(customer, CUSTOMER_EDITABLE_FIELDS)),
    )
    return customer


@transaction.atomic
def do_update_customer(actor, customer: Customer, **fields) -> dict:
    """Apply `fields` to the customer; returns {field: [before, after]} of what changed."""
    before = snapshot(customer, fields.keys())
    for name, value in fields.items():
        setattr(customer, name, value)
    customer.full_clean()
    changes = changed_fields(before, snapshot(customer, fields.keys()))
    if changes:
        customer.save(update_fields=list(changes))
        record_activity(
            actor,
            "customer.updated",
            f"Updated {', '.join(changes)}",
            obj=customer,
            customer=customer,
            changes=changes,
        )
    return changes


@transaction.atomic
def do_raise_alert(
    customer: Customer, *, kind, title, message="", severity=Alert.Severity.INFO, actor=None
) -> Alert:
    alert = Alert.objects.create(
        customer=customer, kind=kind, title=title, message=message, severity=severity
    )
    record_activity(actor, "alert.raised", f"Alert: {title}", obj=alert, customer=customer)
    return alert


@transaction.atomic
def do_mark_alert_read(actor, alert: Alert) -> Alert:
    if not alert.is_read:
        alert.is_read = True
        alert.read_at = timezone.now()
        alert.save(update_fields=["is_read", "read_at"])
        record_activity(
            actor,
            "alert.read",
            f"Marked alert read: {alert.title}",
            obj=alert,
            customer=alert.customer,
            changes={"is_read": [False, True]},
        )
    return alert
