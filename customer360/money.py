"""Money: a Decimal amount beside a currency code, rounded in exactly one place."""

from dataclasses import dataclass
from decimal import ROUND_HALF_EVEN, Decimal

# Banker's rounding, as most billing systems (and the providers' own invoices) use.
ROUNDING = ROUND_HALF_EVEN
CENTS = Decimal("0.01")


def quantize(amount, exp: Decimal = CENTS) -> Decimal:
    """The one rounding helper: every amount shown, stored on an invoice or compared goes through it."""
    return Decimal(amount).quantize(exp, rounding=ROUNDING)


@dataclass(frozen=True)
class Money:
    amount: Decimal
    currency: str

    def __post_init__(self):
        object.__setattr__(self, "amount", quantize(self.amount))

    def __str__(self):
        return f"{self.amount:,.2f} {self.currency}"
