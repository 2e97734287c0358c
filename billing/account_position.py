"""A customer's payment position for the Customer Overview and the Actuals cards: what is owed on finalized
invoices (and how much of it is overdue), the last payment, the unused credit balance, and what was owed at
the end of last month (the trend of "Available credit"). Three small queries whatever the history."""

from dataclasses import dataclass
from datetime import date
from decimal import Decimal

from django.db.models import DecimalField, F, OuterRef, Q, Subquery, Sum
from django.db.models.functions import Coalesce

from customer360.money import Money

from .models_invoices import Invoice, InvoiceStatus, Payment
from .services_credits import available_credit

ZERO = Decimal("0")


@dataclass
class PaymentPosition:
    balance_due: Money
    overdue: Money
    balance_due_then: Money  # at the end of `then`
    last_payment: Payment | None
    credit_balance: Money

    def available_credit(self, credit_limit: Decimal) -> Money:
        """The credit limit less what is owed now (negative: over the limit)."""
        return Money(credit_limit - self.balance_due.amount, self.balance_due.currency)

    def available_credit_then(self, credit_limit: Decimal) -> Money:
        return Money(credit_limit - self.balance_due_then.amount, self.balance_due.currency)


def payment_position(customer, today: date, then: date) -> PaymentPosition:
    cur = customer.currency
    paid_by_then = (
        Payment.objects.filter(invoice=OuterRef("pk"), received_on__lte=then)
        .values("invoice")
        .annotate(total=Sum("amount"))
        .values("total")
    )
    money = DecimalField(max_digits=20, decimal_places=2)
    owed_then = Q(finalized_at__date__lte=then) & (Q(voided_at__isnull=True) | Q(voided_at__date__gt=then))
    sums = (
        Invoice.objects.filter(customer=customer, currency=cur, finalized_at__isnull=False)
        .annotate(paid_then=Coalesce(Subquery(paid_by_then, output_field=money), ZERO, output_field=money))
        .aggregate(
            due=Sum(F("total") - F("amount_paid"), filter=Q(status=InvoiceStatus.OPEN), default=ZERO),
            overdue=Sum(
                F("total") - F("amount_paid"),
                filter=Q(status=InvoiceStatus.OPEN, due_date__lt=today),
                default=ZERO,
            ),
            due_then=Sum(F("total") - F("paid_then"), filter=owed_then, default=ZERO),
        )
    )
    last = (
        Payment.objects.filter(invoice__customer=customer, method=Payment.Method.PAYMENT)
        .select_related("invoice")
        .order_by("-received_on", "-created_at")
        .first()
    )
    return PaymentPosition(
        balance_due=Money(sums["due"], cur),
        overdue=Money(sums["overdue"], cur),
        balance_due_then=Money(sums["due_then"], cur),
        last_payment=last,
        credit_balance=available_credit(customer, today),
    )
