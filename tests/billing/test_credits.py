"""Credits: issuing, voiding, the available total, and applying them to an amount due (with properties)."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import IntegrityError, transaction
from django.urls import reverse
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from accounts.models import Role
from billing.models import Credit, CreditApplication
from billing.services_credits import (
    Open,
    apply_credits,
    available_credit,
    do_issue_credit,
    do_void_credit,
    plan_applications,
    status_of,
    with_amounts,
)
from customer360.money import Money
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog

from ..factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
TODAY = date(2026, 10, 15)


def usd(amount) -> Money:
    return Money(Decimal(amount), "USD")


@pytest.fixture
def owner(reseller):
    return UserFactory(reseller=reseller, role=Role.BILLING, full_name="Bill Billing")


@pytest.fixture
def customer(reseller):
    return CustomerFactory(reseller=reseller, name="Initech", currency="USD")


def issue(customer, actor, amount, expires_on=None, issued_on=date(2026, 1, 1), reason="Goodwill"):
    with tenant_scope(customer.reseller_id):
        return do_issue_credit(
            actor, customer, amount=Decimal(amount), reason=reason, expires_on=expires_on, issued_on=issued_on
        )


def available(customer, day=TODAY):
    with tenant_scope(customer.reseller_id):
        return available_credit(customer, day)


def apply(customer, due, day=TODAY, ref="INV-1"):
    with tenant_scope(customer.reseller_id):
        return apply_credits(customer, due, day, invoice_ref=ref)


def test_issue_is_logged_and_available(customer, owner):
    credit = issue(customer, owner, "50.00", reason="SLA breach in March")
    assert credit.currency == "USD"
    assert available(customer) == usd("50.00")
    with tenant_scope(customer.reseller_id):
        log = ActivityLog.objects.get(action="credit.issued")
    assert log.customer_id == customer.pk and log.actor == owner
    assert log.changes["amount"] == [None, "50.00"]
    assert "SLA breach in March" in log.message


@pytest.mark.parametrize(
    ("amount", "reason", "expires_on", "field"),
    [
        ("0", "x", None, "amount"),
        ("-5", "x", None, "amount"),
        ("10.005", "x", None, "amount"),
        ("10", "  ", None, "reason"),
        ("10", "x", date(2026, 1, 1), "expires_on"),
    ],
)
def test_bad_credit_is_refused_on_its_field(customer, owner, amount, reason, expires_on, field):
    with pytest.raises(ValidationError) as exc:
        issue(customer, owner, amount, expires_on=expires_on, reason=reason)
    assert field in exc.value.message_dict
    with tenant_scope(customer.reseller_id):
        assert not Credit.objects.exists()


def test_expired_credit_is_not_available_from_its_expiry_date(customer, owner):
    issue(customer, owner, "30", expires_on=date(2026, 10, 16))
    assert available(customer, date(2026, 10, 15)) == usd("30.00")
    assert available(customer, date(2026, 10, 16)) == usd("0")


def test_credit_in_another_currency_is_not_counted(customer, owner):
    issue(customer, owner, "30")
    with tenant_scope(customer.reseller_id):
        customer.currency = "EUR"
        customer.save()
    assert available(customer) == Money(Decimal("0"), "EUR")


def test_apply_consumes_oldest_expiring_first_and_never_more_than_due(customer, owner):
    never = issue(customer, owner, "100")
    late = issue(customer, owner, "40", expires_on=date(2027, 6, 1))
    soon = issue(customer, owner, "25", expires_on=date(2026, 12, 1))
    expired = issue(customer, owner, "70", expires_on=date(2026, 10, 1))
    result = apply(customer, usd("80"))
    assert [(c.pk, m) for c, m in result] == [
        (soon.pk, usd("25.00")),
        (late.pk, usd("40.00")),
        (never.pk, usd("15.00")),
    ]
    assert available(customer) == usd("85.00")
    with tenant_scope(customer.reseller_id):
        assert CreditApplication.objects.filter(invoice_ref="INV-1").count() == 3
        assert not CreditApplication.objects.filter(credit=expired).exists()
        rows = {c.pk: c for c in with_amounts(Credit.objects.all())}
    assert status_of(rows[soon.pk], TODAY) == "used"
    assert status_of(rows[never.pk], TODAY) == "available" and rows[never.pk].remaining == Decimal("85.00")
    assert status_of(rows[expired.pk], TODAY) == "expired"
    # The next invoice takes the rest; then nothing is left to apply.
    assert sum((m.amount for _, m in apply(customer, usd("500"), ref="INV-2")), Decimal(0)) == Decimal(
        "85.00"
    )
    assert apply(customer, usd("10"), ref="INV-3") == []


def test_nothing_applied_to_a_zero_or_negative_amount(customer, owner):
    issue(customer, owner, "10")
    assert apply(customer, usd("0")) == []
    assert apply(customer, usd("-5")) == []
    assert available(customer) == usd("10.00")


def test_void_stops_the_rest_and_is_logged(customer, owner):
    credit = issue(customer, owner, "60")
    apply(customer, usd("20"))
    with tenant_scope(customer.reseller_id):
        do_void_credit(owner, credit, "issued twice")
        row = with_amounts(Credit.objects.filter(pk=credit.pk)).get()
        log = ActivityLog.objects.get(action="credit.voided")
    assert status_of(row, TODAY) == "void" and row.applied == Decimal("20.00")
    assert "40.00 USD left of 60.00 USD" in log.message and "issued twice" in log.message
    assert available(customer) == usd("0")
    assert apply(customer, usd("10"), ref="INV-2") == []
    with tenant_scope(customer.reseller_id), pytest.raises(ValidationError, match="already void"):
        do_void_credit(owner, credit)


def test_used_up_credit_cannot_be_voided(customer, owner):
    credit = issue(customer, owner, "10")
    apply(customer, usd("10"))
    with tenant_scope(customer.reseller_id), pytest.raises(ValidationError, match="nothing left"):
        do_void_credit(owner, credit)


def test_the_database_refuses_overdrawing_or_using_a_void_credit(customer, owner):
    """Whatever code writes applications, not through apply_credits, the trigger holds the line."""
    credit = issue(customer, owner, "30")
    with tenant_scope(customer.reseller_id):
        CreditApplication.objects.create(credit=credit, amount=Decimal("20"), applied_on=TODAY)
        with pytest.raises(IntegrityError, match="beyond its amount"), transaction.atomic():
            CreditApplication.objects.create(credit=credit, amount=Decimal("10.01"), applied_on=TODAY)
        do_void_credit(owner, credit)
        with pytest.raises(IntegrityError, match="is void"), transaction.atomic():
            CreditApplication.objects.create(credit=credit, amount=Decimal("1"), applied_on=TODAY)
        assert CreditApplication.objects.count() == 1


# --- Properties ------------------------------------------------------------------------------------------

cents = st.integers(min_value=0, max_value=10_000_00).map(lambda c: Decimal(c) / 100)
positive_cents = st.integers(min_value=1, max_value=10_000_00).map(lambda c: Decimal(c) / 100)
credit_specs = st.lists(
    st.tuples(positive_cents, cents, st.one_of(st.none(), st.integers(min_value=-30, max_value=365))),
    max_size=8,
)  # (amount, already applied (capped at amount), expiry as days from today or None)


def _credits(specs):
    opens = []
    for i, (amount, applied, days) in enumerate(specs):
        credit = Credit(
            amount=amount, currency="USD", reason="p", issued_on=TODAY - timedelta(days=60),
            expires_on=None if days is None else TODAY + timedelta(days=days),
        )  # fmt: skip
        credit.created_at = credit.created_at + timedelta(seconds=i)
        opens.append(Open(credit, amount - min(applied, amount)))
    return opens


@given(
    specs=credit_specs, due=st.integers(min_value=-1000, max_value=20_000_00).map(lambda c: Decimal(c) / 100)
)
def test_plan_properties(specs, due):
    opens = _credits(specs)
    plan = plan_applications(opens, due, TODAY)
    total = sum((a for _, a in plan), Decimal(0))
    assert total <= max(due, Decimal(0))  # never more than due
    assert all(a > 0 for _, a in plan)  # never a negative (or empty) application
    remaining = {id(o.credit): o.remaining for o in opens}
    for credit, amount in plan:
        assert amount <= remaining[id(credit)]  # remaining stays >= 0
        assert credit.usable_on(TODAY)  # expired credits are skipped
    usable = sum((o.remaining for o in opens if o.credit.usable_on(TODAY)), Decimal(0))
    assert total == min(max(due, Decimal(0)), usable)  # uses all it may: the invoice gets what is there
    expiries = [c.expires_on or date.max for c, _ in plan]
    assert expiries == sorted(expiries)  # oldest-expiring first


@settings(max_examples=25, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    amounts=st.lists(positive_cents, min_size=1, max_size=4),
    dues=st.lists(st.integers(min_value=0, max_value=5_000_00).map(lambda c: Decimal(c) / 100), max_size=4),
)
def test_apply_credits_properties_against_the_database(customer, owner, amounts, dues):
    """Successive invoices against real rows: each gets at most its amount due, no credit goes below zero,
    and issued = applied + available at the end."""
    with transaction.atomic():
        sid = transaction.savepoint()
        for amount in amounts:
            issue(customer, owner, amount)
        for i, due in enumerate(dues):
            result = apply(customer, usd(due), ref=f"INV-{i}")
            assert sum((m.amount for _, m in result), Decimal(0)) <= due
            assert all(m.amount > 0 for _, m in result)
        with tenant_scope(customer.reseller_id):
            rows = list(with_amounts(Credit.objects.filter(customer=customer)))
        assert all(r.remaining >= 0 for r in rows)
        assert sum(r.amount for r in rows) == sum(r.applied for r in rows) + available(customer).amount
        transaction.savepoint_rollback(sid)


# --- Pages -------------------------------------------------------------------------------------------------


def test_credits_page_issues_and_shows_totals(reseller, customer, make_client):
    client = make_client(reseller, Role.BILLING)
    url = reverse("customers:credits", args=[customer.pk])
    assert "No credits issued" in client.get(url).content.decode()
    response = client.post(url, {"amount": "120.50", "reason": "Outage credit", "expires_on": "2099-01-01"})
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "Outage credit" in page and "2099-01-01" in page
    assert 'data-testid="available-credit">120.50 USD' in page
    assert "Available</span>" in page


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ({"amount": "0", "reason": "x"}, "A credit must be more than zero."),
        ({"amount": "-3", "reason": "x"}, "A credit must be more than zero."),
        ({"amount": "10", "reason": ""}, "This field is required."),
        ({"amount": "10", "reason": "x", "expires_on": "2020-01-01"}, "The expiry date must be after today"),
    ],
)
def test_bad_credit_shows_a_field_error_and_saves_nothing(reseller, customer, make_client, data, message):
    response = make_client(reseller, Role.OWNER).post(reverse("customers:credits", args=[customer.pk]), data)
    assert response.status_code == 400
    assert message in response.content.decode()
    with tenant_scope(reseller):
        assert not Credit.objects.exists()


def test_void_from_the_page(reseller, customer, owner, make_client):
    credit = issue(customer, owner, "40")
    client = make_client(reseller, Role.BILLING)
    response = client.post(
        reverse("customers:credit-void", args=[customer.pk, credit.pk]), {"reason": "duplicate"}
    )
    assert response.status_code == 302
    page = client.get(reverse("customers:credits", args=[customer.pk])).content.decode()
    assert "Void: duplicate" in page and 'data-testid="available-credit">0.00 USD' in page


@pytest.mark.parametrize("role", [Role.SALES, Role.VIEWER])
def test_sales_and_viewers_read_credits_but_cannot_issue_or_void(
    reseller, customer, owner, make_client, role
):
    credit = issue(customer, owner, "40")
    client = make_client(reseller, role)
    url = reverse("customers:credits", args=[customer.pk])
    page = client.get(url).content.decode()
    assert "40.00 USD" in page and 'data-testid="credit-form"' not in page and "Void credit" not in page
    assert client.post(url, {"amount": "5", "reason": "x"}).status_code == 403
    assert client.post(reverse("customers:credit-void", args=[customer.pk, credit.pk])).status_code == 403
    assert available(customer) == usd("40.00")


def test_credit_of_another_customer_is_a_404(reseller, customer, owner, make_client):
    other = CustomerFactory(reseller=reseller, name="Globex")
    credit = issue(other, owner, "40")
    client = make_client(reseller, Role.OWNER)
    response = client.post(reverse("customers:credit-void", args=[customer.pk, credit.pk]))
    assert response.status_code == 404
    assert available(other) == usd("40.00")


def test_credits_sort_by_remaining(reseller, customer, owner, make_client):
    issue(customer, owner, "10", reason="small one")
    issue(customer, owner, "99", reason="big one")
    client = make_client(reseller, Role.OWNER)
    page = client.get(reverse("customers:credits", args=[customer.pk]) + "?sort=-remaining").content.decode()
    assert page.index("big one") < page.index("small one")
    page = client.get(reverse("customers:credits", args=[customer.pk]) + "?sort=remaining").content.decode()
    assert page.index("small one") < page.index("big one")


def test_credits_page_query_count_does_not_grow_with_credits(
    reseller, customer, owner, make_client, django_assert_max_num_queries
):
    for i in range(8):
        issue(customer, owner, str(10 + i), reason=f"credit {i}")
    apply(customer, usd("30"))
    client = make_client(reseller, Role.OWNER)
    with django_assert_max_num_queries(9, info="credits page: a query per credit? why was one added?"):
        assert client.get(reverse("customers:credits", args=[customer.pk])).status_code == 200
