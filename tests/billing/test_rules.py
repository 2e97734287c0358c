"""Rule validation and the versioning of changes: bad input refused on its field, nothing saved;
changes take effect from the first open billing period; closed periods keep their prices."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.core.exceptions import PermissionDenied, ValidationError
from django.db import IntegrityError, transaction
from django.utils import timezone

from accounts.models import Role
from billing import services
from billing.models import Pricebook, PricebookAssignment, PricebookChange, PricebookRule
from billing.models_pricebook import Method, Scope
from billing.periods import close_period, first_open_month, next_month
from billing.pricing import price_for

from ..factories import UserFactory
from ..marketplace.factories import PlanFactory, ProductFactory, ProviderFactory
from .factories import PricebookFactory, RuleFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def owner(acme):
    return UserFactory(reseller=acme, role=Role.OWNER)


@pytest.fixture
def billing_user(acme):
    return UserFactory(reseller=acme, role=Role.BILLING)


@pytest.fixture
def book(acme, aws):
    return PricebookFactory(reseller=acme, provider=aws, name="Standard")


def this_month():
    return timezone.localdate().replace(day=1)


def rule_data(**overrides):
    data = {
        "scope_type": Scope.PROVIDER,
        "method": Method.MARKUP,
        "value": Decimal("10"),
        "valid_from": this_month(),
    }
    data.update(overrides)
    return data


def errors_of(exc) -> dict:
    return exc.value.message_dict


@pytest.mark.parametrize(
    ("overrides", "field", "text"),
    [
        ({"method": Method.FIXED, "value": Decimal("-1")}, "value", "cannot be negative"),
        ({"method": Method.MARKUP, "value": Decimal("-5")}, "value", "0 or more"),
        ({"method": Method.MARGIN, "value": Decimal("100")}, "value", "below 100%"),
        ({"method": Method.MARGIN, "value": Decimal("150")}, "value", "below 100%"),
        ({"method": Method.DISCOUNT, "value": Decimal("100.01")}, "value", "cannot exceed 100%"),
        ({"scope_type": Scope.PRODUCT}, "product", "Choose the product"),
        ({"scope_type": Scope.CATEGORY, "category": ""}, "category", "Choose the product category"),
        (
            {"scope_type": Scope.CATEGORY, "category": "Nope"},
            "category",
            "No AWS product is in the category 'Nope'",
        ),
        ({"valid_until": date(2000, 1, 1)}, "valid_until", "cannot end before it starts"),
        ({"valid_from": date(2001, 1, 1)}, "valid_from", "at the earliest"),
    ],
)
def test_bad_rules_are_refused_on_their_field_and_nothing_is_saved(
    owner, book, scope, overrides, field, text
):
    with pytest.raises(ValidationError) as exc:
        services.do_save_rule(owner, book, rule_data(**overrides))
    assert text in " ".join(errors_of(exc)[field])
    assert not PricebookRule.objects.filter(pricebook=book).exists()
    assert not PricebookChange.objects.filter(pricebook=book).exists()


def test_a_rule_for_another_providers_item_is_refused(owner, book, scope):
    azure_plan = PlanFactory(product=ProductFactory(provider=ProviderFactory(code="azure")))
    with pytest.raises(ValidationError) as exc:
        services.do_save_rule(owner, book, rule_data(scope_type=Scope.PLAN, plan=azure_plan))
    assert "this pricebook prices AWS only" in errors_of(exc)["plan"][0]


def test_overlapping_rules_of_equal_scope_are_refused(owner, book, plan, scope):
    services.do_save_rule(
        owner,
        book,
        rule_data(scope_type=Scope.PLAN, plan=plan, valid_until=this_month() + timedelta(days=40)),
    )
    with pytest.raises(ValidationError) as exc:
        services.do_save_rule(
            owner,
            book,
            rule_data(scope_type=Scope.PLAN, plan=plan, valid_from=this_month() + timedelta(days=40)),
        )
    assert "Overlaps the rule" in errors_of(exc)["valid_from"][0]
    # Same dates, other scope: fine. After the first ends: fine.
    services.do_save_rule(owner, book, rule_data())
    services.do_save_rule(
        owner, book, rule_data(scope_type=Scope.PLAN, plan=plan, valid_from=this_month() + timedelta(days=41))
    )
    assert PricebookRule.objects.filter(pricebook=book).count() == 3


def test_the_database_holds_the_no_overlap_invariant_too(book, scope):
    from django.db import connection

    from customer360.migration_ops import extension_available

    if not extension_available(connection, "btree_gist"):
        pytest.skip(
            "this PostgreSQL has no btree_gist (the embedded server): the service check holds the rule"
        )
    RuleFactory(pricebook=book, valid_from=date(2024, 1, 1), valid_until=date(2024, 12, 31))
    with pytest.raises(IntegrityError), transaction.atomic():
        RuleFactory(pricebook=book, valid_from=date(2024, 12, 31))


def test_master_pricebooks_are_read_only(owner, acme, aws, scope):
    master = Pricebook.objects.get(provider=aws, kind=Pricebook.Kind.MASTER_LIST)
    with pytest.raises(ValidationError, match="Master pricebooks"):
        services.do_save_rule(owner, master, rule_data())
    with pytest.raises(ValidationError, match="Master pricebooks"):
        services.do_end_rule(owner, master.rules.get())


def test_masters_price_at_cost_and_at_list(acme, aws, customer, plan, scope):
    cost, msrp = (
        Pricebook.objects.get(provider=aws, kind=k)
        for k in (Pricebook.Kind.MASTER_COST, Pricebook.Kind.MASTER_LIST)
    )
    services.do_assign_pricebook(None, aws, cost, customer=customer)
    assert price_for(customer, plan).unit_price.amount == Decimal("10.00")
    services.do_assign_pricebook(None, aws, msrp, customer=customer)
    assert price_for(customer, plan).unit_price.amount == Decimal("12.50")


def test_change_to_an_old_rule_starts_a_new_version_and_keeps_closed_periods(
    owner, acme, book, customer, plan, aws, scope
):
    old = RuleFactory(pricebook=book, valid_from=date(2024, 1, 1), value=Decimal("10"))
    services.do_assign_pricebook(owner, aws, book, customer=customer)
    last_month = this_month() - timedelta(days=1)
    close_period(acme.pk, last_month)
    change = services.do_save_rule(
        owner, book, {**services.rule_snapshot(old), "value": Decimal("20")}, rule=old
    )
    assert change.status == PricebookChange.Status.APPLIED
    assert change.before["value"] == "10" and change.after["value"] == "20"
    assert change.requested_by == owner and change.effective_from == this_month()
    versions = list(PricebookRule.objects.filter(pricebook=book).order_by("valid_from"))
    assert [(v.valid_from, v.valid_until, v.value) for v in versions] == [
        (date(2024, 1, 1), last_month, Decimal("10")),
        (this_month(), None, Decimal("20")),
    ]


def test_when_this_month_is_closed_changes_wait_for_the_next(owner, acme, book, scope):
    close_period(acme.pk, this_month())
    assert first_open_month(acme.pk) == next_month(this_month())
    with pytest.raises(ValidationError) as exc:
        services.do_save_rule(owner, book, rule_data())
    assert str(next_month(this_month())) in errors_of(exc)["valid_from"][0]
    services.do_save_rule(owner, book, rule_data(valid_from=next_month(this_month())))


def test_a_rule_that_priced_nothing_closed_changes_in_place(owner, book, scope):
    services.do_save_rule(owner, book, rule_data())
    rule = PricebookRule.objects.get(pricebook=book)
    services.do_save_rule(owner, book, {**services.rule_snapshot(rule), "value": Decimal("12.5")}, rule=rule)
    assert list(PricebookRule.objects.filter(pricebook=book).values_list("pk", "value")) == [
        (rule.pk, Decimal("12.5"))
    ]
    services.do_end_rule(owner, rule)
    assert not PricebookRule.objects.filter(pricebook=book).exists()
    assert list(book.changes.values_list("action", flat=True).order_by("requested_at")) == [
        "create_rule", "update_rule", "end_rule",
    ]  # fmt: skip


def test_ending_an_old_rule_keeps_it_for_the_periods_it_priced(owner, book, scope):
    rule = RuleFactory(pricebook=book, valid_from=date(2024, 1, 1))
    services.do_end_rule(owner, rule)
    rule.refresh_from_db()
    assert rule.valid_until == this_month() - timedelta(days=1)


def test_scope_of_an_existing_rule_cannot_change(owner, book, product, scope):
    rule = RuleFactory(pricebook=book, valid_from=date(2024, 1, 1))
    with pytest.raises(ValidationError) as exc:
        services.do_save_rule(
            owner,
            book,
            {**services.rule_snapshot(rule), "scope_type": Scope.CATEGORY, "category": "Compute"},
            rule=rule,
        )
    assert "scope cannot change" in errors_of(exc)["scope_type"][0]


def test_billing_users_changes_wait_for_an_owners_approval(
    owner, billing_user, book, customer, plan, aws, scope
):
    services.do_assign_pricebook(owner, aws, book, customer=customer)
    change = services.do_save_rule(billing_user, book, rule_data(value=Decimal("50")))
    assert change.status == PricebookChange.Status.PENDING
    assert not PricebookRule.objects.filter(pricebook=book).exists()
    assert price_for(customer, plan).unit_price.amount == Decimal("12.50")  # no rule yet: list price
    with pytest.raises(PermissionDenied, match="Only an owner"):
        services.do_approve_change(billing_user, change)
    services.do_approve_change(owner, change)
    change.refresh_from_db()
    assert change.status == PricebookChange.Status.APPLIED and change.decided_by == owner
    assert price_for(customer, plan).unit_price.amount == Decimal("15.00")


def test_rejected_changes_price_nothing(owner, billing_user, book, scope):
    rule = RuleFactory(pricebook=book, valid_from=date(2024, 1, 1))
    change = services.do_end_rule(billing_user, rule)
    services.do_reject_change(owner, change, "keep it")
    rule.refresh_from_db()
    assert rule.valid_until is None
    change.refresh_from_db()
    assert change.status == PricebookChange.Status.REJECTED and "keep it" in change.message
    with pytest.raises(ValidationError, match="already rejected"):
        services.do_approve_change(owner, change)


def test_a_pending_change_is_validated_again_on_approval(owner, billing_user, book, scope):
    change = services.do_save_rule(billing_user, book, rule_data())
    services.do_save_rule(owner, book, rule_data(value=Decimal("3")))  # the owner got there first
    with pytest.raises(ValidationError, match="Overlaps"):
        services.do_approve_change(owner, change)
    change.refresh_from_db()
    assert change.status == PricebookChange.Status.PENDING


def test_pricebook_dates_cannot_move_into_invoiced_periods(owner, book, scope):
    with pytest.raises(ValidationError) as exc:
        services.do_update_pricebook(owner, book, {"valid_from": date(2021, 1, 1)})
    assert "open billing periods" in errors_of(exc)["valid_from"][0]
    change = services.do_update_pricebook(
        owner, book, {"name": "Standard 2025", "valid_until": this_month() + timedelta(days=90)}
    )
    book.refresh_from_db()
    assert book.name == "Standard 2025" and change.before["name"] == "Standard"


def test_copy_a_master_into_a_custom_pricebook(owner, acme, aws, scope):
    master = Pricebook.objects.get(provider=aws, kind=Pricebook.Kind.MASTER_COST)
    copy = services.do_create_pricebook(
        owner, acme, aws, name="Cost plus", currency="USD", valid_from=this_month(), copy_from=master
    )
    rule = copy.rules.get()
    assert (rule.method, rule.value, rule.valid_from) == (Method.MARKUP, Decimal(0), this_month())
    assert copy.kind == Pricebook.Kind.CUSTOM and copy.copied_from == master
    assert copy.changes.get().action == PricebookChange.Action.COPY_BOOK
    with pytest.raises(ValidationError) as exc:
        services.do_create_pricebook(
            owner, acme, aws, name="Cost plus", currency="USD", valid_from=this_month()
        )
    assert "already have" in errors_of(exc)["name"][0]


def test_assignment_changes_are_versioned_and_logged_on_the_customer(owner, acme, aws, book, customer, scope):
    other = PricebookFactory(reseller=acme, provider=aws, name="Other")
    PricebookAssignment.objects.create(
        provider=aws, pricebook=other, customer=customer, valid_from=date(2024, 1, 1)
    )
    services.do_assign_pricebook(owner, aws, book, customer=customer)
    rows = list(PricebookAssignment.objects.filter(customer=customer).order_by("valid_from"))
    assert [(r.pricebook, r.valid_until) for r in rows] == [
        (other, this_month() - timedelta(days=1)),
        (book, None),
    ]
    entry = customer.activity.get()
    assert entry.action == "pricebook.assigned" and entry.changes == {"pricebook": ["Other", "Standard"]}
    services.do_assign_pricebook(owner, aws, None, customer=customer)  # back to the default
    assert list(
        PricebookAssignment.objects.filter(customer=customer).values_list("pricebook", flat=True)
    ) == [other.pk]
