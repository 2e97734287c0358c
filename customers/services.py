"""State changes of customers, contacts, cloud accounts and alerts.

Verbs as in Zulip: access_* fetches with the tenancy built in, check_* validates, do_* writes and logs.
"""

from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.http import Http404
from django.utils import timezone

from .activity import changed_fields, record_activity, snapshot
from .cloud_accounts import check_account_number
from .models import Alert, CloudAccount, CloudProvider, Contact, Customer

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
    "billing_email",
    "email_invoices",
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
    if "saas_credit_threshold" in changes:
        from .services_credit import do_check_credit_threshold

        do_check_credit_threshold(customer, actor=actor)
    return changes


@transaction.atomic
def do_raise_alert(
    customer: Customer | None, *, kind, title, message="", severity=Alert.Severity.INFO, actor=None
) -> Alert:
    """An alert on the customer's profile, or (customer None) a reseller-wide one on the dashboard."""
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


def refresh_customer_account_stats(customer: Customer) -> None:
    """Recompute the customer list's denormalised cloud-account columns from the accounts."""
    accounts = customer.cloud_accounts.exclude(status=CloudAccount.Status.CLOSED)
    customer.providers = sorted(set(accounts.values_list("provider", flat=True)))
    customer.cloud_account_count = accounts.count()
    customer.save(update_fields=["providers", "cloud_account_count"])


@transaction.atomic
def do_link_cloud_account(actor, customer: Customer, *, provider: str, account_number: str, name: str = ""):
    """Link an existing account to the customer. Each account belongs to one customer platform-wide."""
    number = check_account_number(provider, account_number)
    account = CloudAccount(customer=customer, provider=provider, account_id=number, name=name.strip())
    try:
        with transaction.atomic():
            account.save()
    except IntegrityError as exc:
        # The unique constraint sees every reseller; say only that the number is taken.
        raise ValidationError(
            {
                "account_number": f"This {account.get_provider_display()} account is already linked to a customer."
            }
        ) from exc
    refresh_customer_account_stats(customer)
    record_activity(
        actor,
        "cloud_account.linked",
        f"Linked {account.get_provider_display()} account {number}",
        obj=account,
        customer=customer,
        changes={"account_id": [None, number], "provider": [None, provider]},
    )
    return account


@transaction.atomic
def do_request_aws_account(actor, customer: Customer, *, name: str):
    """File a request for a new AWS account; a worker takes it through provisioning."""
    from .tasks import provision_requested_account

    name = name.strip()
    if not name:
        raise ValidationError({"name": "Name the account, e.g. 'Production'."})
    account = CloudAccount.objects.create(
        customer=customer, provider=CloudProvider.AWS, name=name, status=CloudAccount.Status.REQUESTED
    )
    refresh_customer_account_stats(customer)
    record_activity(
        actor,
        "cloud_account.requested",
        f"Requested a new AWS account '{name}'",
        obj=account,
        customer=customer,
        changes={"status": [None, account.status]},
    )
    provision_requested_account.delay_on_commit(str(account.pk))
    return account


# Request workflow: allowed transitions, declared once.
ACCOUNT_TRANSITIONS = {
    CloudAccount.Status.REQUESTED: {CloudAccount.Status.PROVISIONING},
    CloudAccount.Status.PROVISIONING: {CloudAccount.Status.ACTIVE},
}


@transaction.atomic
def do_advance_account_request(account: CloudAccount, new_status: str, *, account_number: str = ""):
    """Move a requested account one step along requested -> provisioning -> active, logged."""
    account = CloudAccount.objects.select_for_update().get(pk=account.pk)
    if new_status not in ACCOUNT_TRANSITIONS.get(account.status, set()):
        return account, False
    before = account.status
    account.status = new_status
    fields = ["status"]
    if account_number:
        account.account_id = account_number
        fields.append("account_id")
    account.save(update_fields=fields)
    changes = {"status": [before, new_status]}
    if account_number:
        changes["account_id"] = ["", account_number]
    record_activity(
        None,
        "cloud_account.status",
        f"AWS account '{account.name}' is {account.get_status_display().lower()}"
        + (f" ({account_number})" if account_number else ""),
        obj=account,
        customer=account.customer,
        changes=changes,
    )
    if new_status == CloudAccount.Status.ACTIVE:
        refresh_customer_account_stats(account.customer)
    return account, True
