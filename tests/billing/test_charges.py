"""Charges and discounts: compute_charge (with properties), the checks, and the logged writes."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import Role
from billing.invoicing import generate_invoice
from billing.models import ChargeGroup, ChargeItem
from billing.models_charges import ChargeKind, ChargeMethod, ChargeScope
from billing.services_charges import (
    compute_charge,
    do_create_charge_group,
    do_delete_charge_group,
    do_delete_charge_item,
    do_save_charge_item,
    format_tiers,
    parse_tiers,
)
from customer360.money import Money
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog
from marketplace.models import Subscription

from ..factories import CloudAccountFactory, CustomerFactory, UserFactory
from ..marketplace.factories_orders import order_rows_for
from .invoice_helpers import OCT, make_subscription

pytestmark = pytest.mark.django_db


def usd(amount) -> Money:
    return Money(Decimal(amount), "USD")


def item(**fields) -> ChargeItem:
    """An unsaved item for compute_charge."""
    values = {
        "name": "Support",
        "kind": ChargeKind.CHARGE,
        "method": ChargeMethod.PERCENTAGE,
        "currency": "USD",
    }
    return ChargeItem(**{**values, **fields})


TIERS = parse_tiers("0 - 1000: 10\n1000 - 5000: 5\n5000 - : 2")


# --- compute_charge ---------------------------------------------------------------------------------------


def test_percentage_rounds_half_up_once():
    assert compute_charge(item(rate=Decimal("7.5")), usd("10.10")) == usd("0.76")  # 0.7575


def test_fixed_amount_ignores_the_base():
    assert compute_charge(item(method=ChargeMethod.FIXED, amount=Decimal("99")), usd("5")) == usd("99.00")


def test_tiers_apply_progressively_by_band():
    tiered = item(method=ChargeMethod.TIERED, tiers=TIERS)
    assert compute_charge(tiered, usd("500")) == usd("50.00")
    assert compute_charge(tiered, usd("1000")) == usd("100.00")
    # 1000 * 10 % + 4000 * 5 % + 1000 * 2 % = 100 + 200 + 20
    assert compute_charge(tiered, usd("6000")) == usd("320.00")


def test_caps_bound_the_result():
    capped = item(rate=Decimal("10"), min_amount=Decimal("25"), max_amount=Decimal("100"))
    assert compute_charge(capped, usd("100")) == usd("25.00")
    assert compute_charge(capped, usd("500")) == usd("50.00")
    assert compute_charge(capped, usd("5000")) == usd("100.00")


def test_discount_is_negative_and_capped_by_size():
    discount = item(kind=ChargeKind.DISCOUNT, rate=Decimal("5"), max_amount=Decimal("40"))
    assert compute_charge(discount, usd("200")) == usd("-10.00")
    assert compute_charge(discount, usd("2000")) == usd("-40.00")


def test_negative_base_counts_as_no_spend():
    assert compute_charge(item(rate=Decimal("10")), usd("-50")) == usd("0")


def test_base_in_another_currency_is_refused():
    with pytest.raises(ValueError, match="EUR"):
        compute_charge(item(rate=Decimal("10")), Money(Decimal("10"), "EUR"))


bases = st.integers(min_value=-100_00, max_value=10_000_000_00).map(lambda c: usd(Decimal(c) / 100))
percents = st.integers(min_value=0, max_value=100_0000).map(lambda r: Decimal(r) / 10000)
caps = st.one_of(st.none(), st.integers(min_value=0, max_value=100_000_00).map(lambda c: Decimal(c) / 100))
tier_lists = st.lists(
    st.tuples(st.integers(min_value=1, max_value=1_000_000), percents), min_size=0, max_size=4
).map(
    lambda widths: [
        {
            "from": str(sum(w for w, _ in widths[:i])),
            "to": str(sum(w for w, _ in widths[: i + 1])),
            "rate": str(r),
        }
        for i, (_, r) in enumerate(widths)
    ]
)


@given(
    base=bases, rate=percents, tiers=tier_lists, low=caps, high=caps, kind=st.sampled_from(ChargeKind.values),
    method=st.sampled_from([ChargeMethod.PERCENTAGE, ChargeMethod.TIERED]),
)  # fmt: skip
def test_capped_result_stays_within_its_caps(base, rate, tiers, low, high, kind, method):
    if low is not None and high is not None and high < low:
        low, high = high, low
    charge = item(kind=kind, method=method, rate=rate, tiers=tiers, min_amount=low, max_amount=high)
    result = compute_charge(charge, base)
    size = abs(result.amount)
    assert low is None or size >= low
    assert high is None or size <= high
    assert result.amount <= 0 if kind == ChargeKind.DISCOUNT else result.amount >= 0
    # Uncapped, a rate never takes more than all of the spend.
    if low is None:
        assert size <= max(base.amount, 0)


@given(base=bases, kind=st.sampled_from(ChargeKind.values))
def test_zero_percent_is_zero(base, kind):
    assert compute_charge(item(kind=kind, rate=Decimal("0")), base).amount == 0
    zero_tiers = [{"from": "0", "to": "1000", "rate": "0"}, {"from": "1000", "to": None, "rate": "0"}]
    assert compute_charge(item(kind=kind, method=ChargeMethod.TIERED, tiers=zero_tiers), base).amount == 0


@given(base=bases, rate=percents)
def test_one_open_band_equals_the_flat_percentage(base, rate):
    flat = compute_charge(item(rate=rate), base)
    assert (
        compute_charge(
            item(method=ChargeMethod.TIERED, tiers=[{"from": "0", "to": None, "rate": str(rate)}]), base
        )
        == flat
    )


# --- parse_tiers ------------------------------------------------------------------------------------------


def test_tiers_round_trip_through_text():
    assert parse_tiers(format_tiers(TIERS)) == TIERS
    assert TIERS[-1] == {"from": "5000", "to": None, "rate": "2"}


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("0 - 1000: -5", "can't be negative"),
        ("0 - 1000: 101", "over 100"),
        ("0 - 1000: 5\n500 - 2000: 3", "ascending order without overlapping"),
        ("0 - 1000: 5\n2000 - : 3", "gap between"),
        ("100 - 1000: 5", "first band starts at 0"),
        ("0 - : 5\n1000 - 2000: 3", "only the last band"),
        ("0 - 1000: 5\n1000 - 900: 3", "ends at or before"),
        ("lots: 5", "from - to: rate"),
        ("", "at least one band"),
    ],
)
def test_bad_tiers_are_refused_with_a_clear_message(text, message):
    with pytest.raises(ValidationError) as exc:
        parse_tiers(text)
    assert message in " ".join(exc.value.message_dict["tiers"])


# --- Services ---------------------------------------------------------------------------------------------


@pytest.fixture
def user(reseller):
    return UserFactory(reseller=reseller, role=Role.BILLING, full_name="Bill Billing")


@pytest.fixture
def customer(reseller):
    return CustomerFactory(reseller=reseller, name="Initech", currency="USD")


@pytest.fixture
def group(customer, user):
    with tenant_scope(customer.reseller_id):
        return do_create_charge_group(user, customer, "Support")


def save(user, customer, group, **fields):
    values = {
        "name": "Premium support", "kind": ChargeKind.CHARGE, "method": ChargeMethod.PERCENTAGE, "rate": Decimal("10"),
        "valid_from": date(2026, 1, 1), "group": group, "customer": customer,
    }  # fmt: skip
    with tenant_scope(customer.reseller_id):
        return do_save_charge_item(user, ChargeItem(**{**values, **fields}))


def errors_of(call) -> dict:
    with pytest.raises(ValidationError) as exc:
        call()
    return exc.value.message_dict


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"rate": Decimal("-1")}, "rate", "can't be negative"),
        ({"rate": Decimal("150")}, "rate", "over 100"),
        ({"rate": None}, "rate", "Give the percentage"),
        ({"method": ChargeMethod.FIXED, "amount": Decimal("-3")}, "amount", "positive amount"),
        ({"min_amount": Decimal("50"), "max_amount": Decimal("10")}, "max_amount", "below the minimum"),
        ({"valid_until": date(2025, 12, 31)}, "valid_until", "before the start date"),
        ({"method": ChargeMethod.TIERED, "tiers": []}, "tiers", "at least one band"),
        ({"scope_type": ChargeScope.CLOUD_ACCOUNT}, "cloud_account", "Choose the cloud account"),
    ],
)
def test_bad_item_is_refused_on_its_field(user, customer, group, fields, field, text):
    assert text in " ".join(errors_of(lambda: save(user, customer, group, **fields))[field])
    with tenant_scope(customer.reseller_id):
        assert not ChargeItem.objects.exists()


def test_scope_from_another_customer_is_refused(reseller, user, customer, group):
    other = CustomerFactory(reseller=reseller, name="Globex")
    foreign_account = CloudAccountFactory(customer=other)
    errors = errors_of(
        lambda: save(
            user, customer, group, scope_type=ChargeScope.CLOUD_ACCOUNT, cloud_account=foreign_account
        )
    )
    assert "another customer" in errors["cloud_account"][0]
    rows = order_rows_for(reseller, other, foreign_account, user, "X")
    errors = errors_of(
        lambda: save(
            user, customer, group, scope_type=ChargeScope.SUBSCRIPTION, subscription=rows[Subscription]
        )
    )
    assert "another customer" in errors["subscription"][0]


def test_overlapping_dates_of_same_name_and_scope_are_refused(user, customer, group):
    save(user, customer, group, valid_until=date(2026, 6, 30))
    errors = errors_of(lambda: save(user, customer, group, valid_from=date(2026, 6, 1)))
    assert "already runs from 2026-01-01 to 2026-06-30" in errors["valid_from"][0]
    save(user, customer, group, valid_from=date(2026, 7, 1))  # right after: fine
    account = CloudAccountFactory(customer=customer)
    save(
        user, customer, group, scope_type=ChargeScope.CLOUD_ACCOUNT, cloud_account=account
    )  # other scope: fine
    save(
        user, customer, group, name="Onboarding fee", method=ChargeMethod.FIXED, amount=Decimal("500")
    )  # other name
    with tenant_scope(customer.reseller_id):
        assert ChargeItem.objects.count() == 4


def test_saving_clears_fields_the_method_does_not_use_and_logs(user, customer, group):
    charge = save(user, customer, group, amount=Decimal("5"), tiers=TIERS)
    assert charge.amount is None and charge.tiers == [] and charge.currency == "USD"
    assert charge.scope_key == "customer"
    with tenant_scope(customer.reseller_id):
        charge.rate = Decimal("12.5")
        do_save_charge_item(user, charge)
        log = ActivityLog.objects.get(action="charge.updated")
    assert log.changes == {"rate": ["10.0000", "12.5"]}
    assert log.customer_id == customer.pk


def test_groups_are_unique_per_customer_and_only_empty_ones_go(user, customer, group):
    with tenant_scope(customer.reseller_id):
        with pytest.raises(ValidationError, match="already has a group"):
            do_create_charge_group(user, customer, "support")
        charge = save(user, customer, group)
        with pytest.raises(ValidationError, match="Remove the group's items first"):
            do_delete_charge_group(user, group)
        do_delete_charge_item(user, charge)
        do_delete_charge_group(user, group)
        assert not ChargeGroup.objects.exists()
        actions = set(ActivityLog.objects.values_list("action", flat=True))
    assert {"charge_group.created", "charge.created", "charge.deleted", "charge_group.deleted"} <= actions


def test_a_charge_item_an_invoice_names_is_kept(user, customer, group):
    """PROTECT is Django's (billing 0017): deleting an item an invoice line names is refused with a message,
    and nothing of the attempt is kept."""
    make_subscription(customer, unit_price="100.00", quantity=1)
    charge = save(user, customer, group)
    with tenant_scope(customer.reseller_id):
        invoice = generate_invoice(customer, OCT)
        assert invoice.lines.filter(charge_item=charge, amount=Decimal("10.00")).exists()
        with pytest.raises(ValidationError, match="is on invoices already"):
            do_delete_charge_item(user, charge)
        assert ChargeItem.objects.filter(pk=charge.pk).exists()
        assert not ActivityLog.objects.filter(action="charge.deleted").exists()


# --- Pages -------------------------------------------------------------------------------------------------


def item_post(group, **fields):
    data = {
        "item-group": str(group.pk), "item-name": "Premium support", "item-kind": "charge", "item-method": "percentage",
        "item-rate": "10", "item-basis": "price", "item-recurrence": "monthly", "item-scope_type": "customer",
        "item-valid_from": "2026-01-01",
    }  # fmt: skip
    return {**data, **{f"item-{k}": v for k, v in fields.items()}}


def test_charges_page_adds_group_and_tiered_item(reseller, customer, make_client):
    client = make_client(reseller, Role.BILLING)
    url = reverse("customers:charges", args=[customer.pk])
    page = client.get(url).content.decode()
    assert (
        "No charges or discounts" in page and 'data-testid="charge-form"' not in page
    )  # a group comes first
    assert client.post(url, {"group-name": "Service fees"}).status_code == 302
    with tenant_scope(reseller):
        group = ChargeGroup.objects.get()
    response = client.post(url, item_post(group, method="tiered", rate="", tiers="0 - 1000: 10\n1000 - : 5"))
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert (
        "Premium support" in page and "tiered: 10 % to 1000, 5 % above" in page and "Whole customer" in page
    )


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"rate": "-5"}, "can&#x27;t be negative"),
        ({"rate": "101"}, "over 100 %"),
        ({"method": "tiered", "tiers": "0 - 1000: 10\n500 - : 5"}, "ascending order without overlapping"),
        ({"min_amount": "100", "max_amount": "10"}, "The maximum is below the minimum."),
        ({"valid_until": "2025-06-01"}, "The end date is before the start date."),
    ],
)
def test_bad_item_shows_a_clear_error_on_the_page(reseller, customer, group, make_client, fields, message):
    response = make_client(reseller, Role.OWNER).post(
        reverse("customers:charges", args=[customer.pk]), item_post(group, **fields)
    )
    assert response.status_code == 400
    assert message in response.content.decode()
    with tenant_scope(reseller):
        assert not ChargeItem.objects.exists()


def test_scope_choices_are_this_customers_and_a_foreign_one_is_refused(
    reseller, customer, group, make_client
):
    own = CloudAccountFactory(customer=customer, account_id="111111111111")
    other = CustomerFactory(reseller=reseller, name="Globex")
    foreign = CloudAccountFactory(customer=other, account_id="999999999999")
    client = make_client(reseller, Role.OWNER)
    url = reverse("customers:charges", args=[customer.pk])
    page = client.get(url).content.decode()
    assert "111111111111" in page and "999999999999" not in page
    response = client.post(url, item_post(group, scope_type="cloud_account", cloud_account=str(foreign.pk)))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    response = client.post(url, item_post(group, scope_type="cloud_account", cloud_account=str(own.pk)))
    assert response.status_code == 302
    with tenant_scope(reseller):
        assert ChargeItem.objects.get().cloud_account == own


def test_overlapping_item_is_refused_on_the_page(reseller, customer, group, user, make_client):
    save(user, customer, group)
    response = make_client(reseller, Role.OWNER).post(
        reverse("customers:charges", args=[customer.pk]), item_post(group, valid_from="2026-03-01")
    )
    assert response.status_code == 400
    assert "already runs from 2026-01-01 to no end" in response.content.decode()


def test_edit_and_remove_an_item(reseller, customer, group, user, make_client):
    charge = save(user, customer, group)
    client = make_client(reseller, Role.BILLING)
    url = reverse("customers:charge-edit", args=[customer.pk, charge.pk])
    assert "Premium support" in client.get(url).content.decode()
    data = {
        k.removeprefix("item-"): v for k, v in item_post(group, rate="15", valid_until="2026-12-31").items()
    }
    assert client.post(url, data).status_code == 302
    with tenant_scope(reseller):
        charge.refresh_from_db()
    assert charge.rate == Decimal("15") and charge.valid_until == date(2026, 12, 31)
    assert client.post(url, {"action": "delete"}).status_code == 302
    with tenant_scope(reseller):
        assert not ChargeItem.objects.exists()
    group_url = reverse("customers:charge-group-delete", args=[customer.pk, group.pk])
    assert client.post(group_url).status_code == 302
    with tenant_scope(reseller):
        assert not ChargeGroup.objects.exists()


@pytest.mark.parametrize("role", [Role.SALES, Role.VIEWER])
def test_sales_and_viewers_read_charges_only(reseller, customer, group, user, make_client, role):
    charge = save(user, customer, group)
    client = make_client(reseller, role)
    url = reverse("customers:charges", args=[customer.pk])
    page = client.get(url).content.decode()
    assert "Premium support" in page and 'data-testid="charge-form"' not in page
    assert client.post(url, item_post(group, name="Other")).status_code == 403
    assert (
        client.post(
            reverse("customers:charge-edit", args=[customer.pk, charge.pk]), {"action": "delete"}
        ).status_code
        == 403
    )
    assert (
        client.post(reverse("customers:charge-group-delete", args=[customer.pk, group.pk])).status_code == 403
    )
    with tenant_scope(reseller):
        assert ChargeItem.objects.count() == 1


def test_item_of_another_customer_is_a_404(reseller, customer, user, make_client):
    other = CustomerFactory(reseller=reseller, name="Globex")
    with tenant_scope(reseller):
        other_group = do_create_charge_group(user, other, "Support")
    charge = save(user, other, other_group)
    client = make_client(reseller, Role.OWNER)
    assert client.get(reverse("customers:charge-edit", args=[customer.pk, charge.pk])).status_code == 404
    assert (
        client.post(reverse("customers:charge-group-delete", args=[customer.pk, other_group.pk])).status_code
        == 404
    )


def test_charges_page_query_count_does_not_grow_with_items(
    reseller, customer, group, user, make_client, django_assert_max_num_queries
):
    account = CloudAccountFactory(customer=customer)
    for i in range(6):
        save(
            user,
            customer,
            group,
            name=f"Fee {i}",
            scope_type=ChargeScope.CLOUD_ACCOUNT,
            cloud_account=account,
        )
    client = make_client(reseller, Role.OWNER)
    with django_assert_max_num_queries(11, info="charges page: a query per item? why was one added?"):
        assert client.get(reverse("customers:charges", args=[customer.pk])).status_code == 200
