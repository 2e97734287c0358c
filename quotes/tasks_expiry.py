"""The daily quote expiry (CELERY_BEAT_SCHEDULE "expire-quotes").

Named tasks_expiry.py because quotes/tasks.py holds the sending tasks; Celery's autodiscovery only imports
tasks.py, so QuotesConfig.ready() imports this module (quotes/apps.py).

Sent quotes past their validity date become EXPIRED, logged. Drafts past it stay drafts (nothing was
offered; the builder shows "validity passed" and asks for a new date before sending). Safe to run twice:
only SENT quotes move, each under its row lock.
"""

import datetime
import logging

from celery import shared_task
from django.db import transaction
from django.utils import timezone

from customer360.tenancy import each_reseller_scope
from customers.activity import record_activity

from .models import Quote

logger = logging.getLogger(__name__)


def due_quotes(today: datetime.date):
    """The reseller in scope's sent quotes whose validity date is before today."""
    return Quote.objects.filter(status=Quote.Status.SENT, valid_until__lt=today)


def do_expire_quote(quote_id, *, today: datetime.date) -> bool:
    """Expire one quote if it is still sent and past its date (re-checked under the lock). Whether it moved."""
    with transaction.atomic():
        quote = Quote.objects.select_for_update().filter(pk=quote_id).first()
        if (
            quote is None
            or quote.status != Quote.Status.SENT
            or not quote.valid_until
            or quote.valid_until >= today
        ):
            return False
        quote.status = Quote.Status.EXPIRED
        quote.updated_at = timezone.now()
        quote.save(update_fields=["status", "updated_at"])
        record_activity(
            None, "quote.expired", f"Quote {quote.number} expired (valid until {quote.valid_until:%Y-%m-%d})",
            obj=quote, customer=quote.customer, changes={"status": [Quote.Status.SENT, Quote.Status.EXPIRED]},
        )  # fmt: skip
    return True


def do_expire_quotes(today: datetime.date | None = None) -> int:
    """Every reseller's sent quotes past their validity date: EXPIRED. Returns how many moved."""
    today = today or timezone.localdate()
    expired = 0
    for _ in each_reseller_scope():
        for quote_id in list(due_quotes(today).values_list("pk", flat=True)):
            expired += do_expire_quote(quote_id, today=today)
    return expired


@shared_task(time_limit=600, soft_time_limit=580)
def expire_quotes(today: str | None = None) -> int:
    """`today` (ISO date) is for tests and catching up; it defaults to the current date."""
    day = datetime.date.fromisoformat(today) if today else timezone.localdate()
    expired = do_expire_quotes(day)
    if expired:
        logger.info("expired %d quote(s) as of %s", expired, day.isoformat())
    return expired
