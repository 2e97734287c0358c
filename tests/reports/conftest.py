from datetime import date, timedelta

import pytest

from ..billing.invoice_helpers import make_account, make_customer
from .helpers import add_raw_usage

SPRING = [date(2026, 3, 1) + timedelta(days=i * 9) for i in range(12)]  # 2026-03-01 .. 2026-06-09


@pytest.fixture
def customer(reseller):
    return make_customer(reseller, "Initech")


@pytest.fixture
def usage(customer):
    accounts = {
        "aws": make_account(customer, "123456789012", "aws"),
        "azure": make_account(customer, "11111111-2222-3333-4444-555555555555", "azure"),
    }
    return add_raw_usage(accounts, SPRING)
