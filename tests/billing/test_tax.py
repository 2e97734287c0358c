"""Tax: estimate_tax / tax_breakdown (what the quote builder and the invoice run call), the tax rate and
tax profile services' validation, and the pages."""

from datetime import date
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.urls import reverse
from hypothesis import given
from hypothesis import strategies as st

from accounts.models import Role
from billing import services_tax
from billing.models import TaxProfile, TaxRate
from billing.models_tax import TaxCategory
from billing.tax import TaxComponent, estimate_tax, tax_breakdown
from customer360.money import Money
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog

from ..factories import CustomerFactory, UserFactory

pytestmark = pytest.mark.django_db
DAY = date(2026, 10, 15)


def usd(amount) -> Money:
    return Money(Decimal(amount), "USD")


@pytest.fixture
def owner(reseller):
    return UserFactory(reseller=reseller, role=Role.OWNER, full_name="Olivia Owner")


@pytest.fixture
def customer(reseller):
    return CustomerFactory(reseller=reseller, name="Initech", currency="USD", country="US", region="CA")


def make_rate(reseller, name, rate, valid_from=date(2020, 1, 1), valid_until=None, **extra):
    with tenant_scope(reseller):
        return TaxRate.objects.create(
            name=name, rate=Decimal(rate), country=extra.pop("country", "US"), valid_from=valid_from,
            valid_until=valid_until, **extra,
        )  # fmt: skip


def make_profile(customer, rates, **fields):
    with tenant_scope(customer.reseller_id):
        profile = TaxProfile.objects.create(customer=customer, **fields)
        profile.rates.set(rates)
    return profile


def fresh(customer):
    """The customer as the caller would load it (no cached profile)."""
    with tenant_scope(customer.reseller_id):
        return type(customer).objects.get(pk=customer.pk)


def breakdown(customer, category, amount, day=DAY):
    with tenant_scope(customer.reseller_id):
        return tax_breakdown(fresh(customer), category, amount, day)


def estimate(customer, category, amount, day=DAY):
    with tenant_scope(customer.reseller_id):
        return estimate_tax(fresh(customer), category, amount, day)


# --- estimate_tax and tax_breakdown ------------------------------------------------------------------


def test_state_and_county_components_each_rounded(reseller, customer):
    state = make_rate(reseller, "California state", "7.25", region="CA")
    county = make_rate(reseller, "Alameda county", "3.0", region="CA")
    make_profile(customer, [state, county])
    # 123.45 * 7.25 % = 8.950125 -> 8.95; * 3 % = 3.7035 -> 3.70
    parts = breakdown(customer, TaxCategory.SUBSCRIPTIONS, usd("123.45"))
    assert parts == [
        TaxComponent("Alameda county", Decimal("3.0000"), usd("3.70")),
        TaxComponent("California state", Decimal("7.2500"), usd("8.95")),
    ]
    assert estimate(customer, "subscriptions", usd("123.45")) == usd("12.65")


def test_rounding_is_half_up_per_component(reseller, customer):
    make_profile(customer, [make_rate(reseller, "A", "5"), make_rate(reseller, "B", "5")])
    # 0.10 * 5 % = 0.005 -> 0.01 each (half-up), so 0.02 in total, not round(0.01) = 0.01
    assert estimate(customer, "usage", usd("0.10")) == usd("0.02")


def test_component_in_amount_currency_and_its_minor_unit(reseller, customer):
    make_profile(customer, [make_rate(reseller, "VAT", "10")])
    parts = breakdown(customer, "charges", Money(Decimal("1235"), "JPY"))
    assert parts[0].amount == Money(Decimal("124"), "JPY")  # 123.5 -> 124, no decimals in yen


def test_no_profile_means_no_tax(customer):
    assert breakdown(customer, "subscriptions", usd("100")) == []
    assert estimate(customer, "subscriptions", usd("100")) == usd("0")


def test_use_tax_off_means_no_tax(reseller, customer):
    make_profile(customer, [make_rate(reseller, "VAT", "20")], enabled=False)
    assert estimate(customer, "usage", usd("100")) == usd("0")


def test_non_taxable_category_is_zero(reseller, customer):
    make_profile(customer, [make_rate(reseller, "VAT", "20")], taxable_categories=["subscriptions"])
    assert estimate(customer, "subscriptions", usd("100")) == usd("20.00")
    assert estimate(customer, "usage", usd("100")) == usd("0")
    assert breakdown(customer, "charges", usd("100")) == []


def test_unknown_category_is_refused(reseller, customer):
    make_profile(customer, [make_rate(reseller, "VAT", "20")])
    with pytest.raises(ValueError, match="unknown tax category"):
        estimate(customer, "licences", usd("100"))


def test_exemption_applies_until_its_expiry_date(reseller, customer):
    make_profile(
        customer, [make_rate(reseller, "VAT", "20")], exempt=True, exemption_certificate="EX-1",
        exemption_expires=date(2026, 11, 1),
    )  # fmt: skip
    assert estimate(customer, "usage", usd("100"), date(2026, 10, 31)) == usd("0")
    assert estimate(customer, "usage", usd("100"), date(2026, 11, 1)) == usd("20.00")


def test_exemption_without_expiry_always_applies(reseller, customer):
    make_profile(customer, [make_rate(reseller, "VAT", "20")], exempt=True, exemption_certificate="EX-1")
    assert estimate(customer, "usage", usd("100"), date(2040, 1, 1)) == usd("0")


def test_only_rates_in_effect_on_the_date_apply(reseller, customer):
    old = make_rate(reseller, "State", "6", valid_until=date(2026, 6, 30))
    new = make_rate(reseller, "State", "7", valid_from=date(2026, 7, 1))
    make_profile(customer, [old, new])
    assert estimate(customer, "usage", usd("100"), date(2026, 6, 30)) == usd("6.00")
    assert estimate(customer, "usage", usd("100"), date(2026, 7, 1)) == usd("7.00")
    before = make_rate(reseller, "Later", "5", valid_from=date(2030, 1, 1))
    with tenant_scope(reseller):
        TaxProfile.objects.get(customer=customer).rates.add(before)
    assert [c.name for c in breakdown(customer, "usage", usd("100"), date(2026, 7, 1))] == ["State"]


def test_negative_amount_gives_negative_tax(reseller, customer):
    """A discount line lowers the tax by what it lowers the taxable amount."""
    make_profile(customer, [make_rate(reseller, "VAT", "20")])
    assert estimate(customer, "charges", usd("-10")) == usd("-2.00")


def test_another_resellers_profile_is_not_seen(reseller, other_reseller, customer):
    make_profile(customer, [make_rate(reseller, "VAT", "20")])
    with tenant_scope(other_reseller), pytest.raises(type(customer).DoesNotExist):
        type(customer).objects.get(pk=customer.pk)


def _profile_in_memory(rates, **fields):
    """A profile whose rates are 'prefetched', as the invoice run hands them over: no database needed."""
    profile = TaxProfile(**fields)
    profile._prefetched_objects_cache = {"rates": rates}
    customer = CustomerFactory.build(currency="USD")
    customer.tax_profile = profile
    return customer


@given(
    amount=st.integers(min_value=-(10**9), max_value=10**11).map(lambda c: Decimal(c) / 100),
    rates=st.lists(
        st.integers(min_value=0, max_value=100_0000).map(lambda r: Decimal(r) / 10000), max_size=4
    ),
)
def test_components_are_each_rounded_and_add_up_to_the_estimate(amount, rates):
    rows = [
        TaxRate(name=f"R{i}", rate=r, country="US", valid_from=date(2020, 1, 1)) for i, r in enumerate(rates)
    ]
    customer = _profile_in_memory(rows)
    money = Money(amount, "USD")
    parts = tax_breakdown(customer, "usage", money, DAY)
    assert [p.amount for p in parts] == [
        Money(amount * r.rate / 100, "USD") for r in sorted(rows, key=lambda r: (r.name, r.pk))
    ]
    assert estimate_tax(customer, "usage", money, DAY).amount == sum(
        (p.amount.amount for p in parts), Decimal(0)
    )
    assert all(abs(p.amount.amount) <= abs(amount) for p in parts)  # no rate over 100 %


def test_breakdown_queries_are_bounded(reseller, customer, django_assert_max_num_queries):
    make_profile(customer, [make_rate(reseller, f"R{i}", "1") for i in range(5)])
    c = fresh(customer)
    with (
        tenant_scope(reseller),
        django_assert_max_num_queries(2, info="tax_breakdown: profile + its rates; why more?"),
    ):
        assert len(tax_breakdown(c, "usage", usd("100"), DAY)) == 5


# --- Services: validation and the activity log ---------------------------------------------------------


def new_rate(**fields):
    values = {
        "name": "California state",
        "rate": Decimal("7.25"),
        "country": "us",
        "valid_from": date(2026, 1, 1),
    }
    return TaxRate(**{**values, **fields})


def save_rate(reseller, actor, **fields):
    with tenant_scope(reseller):
        return services_tax.do_save_tax_rate(actor, new_rate(**fields))


@pytest.mark.parametrize(
    ("fields", "field", "text"),
    [
        ({"rate": Decimal("-1")}, "rate", "can't be negative"),
        ({"rate": Decimal("100.01")}, "rate", "over 100"),
        ({"country": "USA"}, "country", "two-letter"),
        ({"valid_until": date(2025, 12, 31)}, "valid_until", "before the start date"),
    ],
)
def test_bad_rate_is_refused_on_its_field(reseller, owner, fields, field, text):
    with pytest.raises(ValidationError) as exc:
        save_rate(reseller, owner, **fields)
    assert text in " ".join(exc.value.message_dict[field])
    with tenant_scope(reseller):
        assert not TaxRate.objects.exists()


def test_overlapping_versions_of_one_rate_are_refused(reseller, owner):
    save_rate(reseller, owner, valid_until=date(2026, 6, 30))
    with pytest.raises(ValidationError) as exc:
        save_rate(reseller, owner, valid_from=date(2026, 6, 30), rate=Decimal("7.5"))
    assert "already has a rate of 7.25 %" in exc.value.message_dict["valid_from"][0]
    save_rate(reseller, owner, valid_from=date(2026, 7, 1), rate=Decimal("7.5"))  # the next day is fine
    with pytest.raises(ValidationError):
        save_rate(reseller, owner, valid_from=date(2025, 1, 1), valid_until=None)  # open start overlaps
    with tenant_scope(reseller):
        assert TaxRate.objects.count() == 2


def test_same_name_in_another_reseller_does_not_clash(reseller, other_reseller, owner):
    save_rate(reseller, owner)
    other_owner = UserFactory(reseller=other_reseller, role=Role.OWNER)
    save_rate(other_reseller, other_owner)


def test_rate_changes_are_logged(reseller, owner):
    rate = save_rate(reseller, owner)
    assert rate.country == "US"
    with tenant_scope(reseller):
        rate.rate = Decimal("7.5")
        services_tax.do_save_tax_rate(owner, rate)
        log = ActivityLog.objects.filter(action="tax_rate.updated").get()
    assert log.changes == {"rate": ["7.2500", "7.5"]}
    assert log.actor == owner


def save_profile(customer, actor, **data):
    values = {"enabled": True, "tax_id": "", "taxable_categories": list(TaxCategory.values), "exempt": False}
    values |= {"exemption_certificate": "", "exemption_expires": None, "rates": []}
    with tenant_scope(customer.reseller_id):
        return services_tax.do_save_tax_profile(actor, customer, **{**values, **data})


def test_exemption_without_certificate_is_refused(customer, owner):
    with pytest.raises(ValidationError) as exc:
        save_profile(customer, owner, exempt=True, exemption_expires=date(2027, 1, 1))
    assert "certificate number" in exc.value.message_dict["exemption_certificate"][0]
    with tenant_scope(customer.reseller_id):
        assert not TaxProfile.objects.exists()


def test_another_resellers_rate_is_refused(customer, owner, other_reseller):
    foreign = make_rate(other_reseller, "Foreign", "5")
    with pytest.raises(ValidationError) as exc:
        save_profile(customer, owner, rates=[foreign])
    assert "rates" in exc.value.message_dict


def test_profile_changes_are_logged_with_rate_names(reseller, customer, owner):
    state = make_rate(reseller, "State", "6")
    save_profile(customer, owner, rates=[state], tax_id="US-1")
    county = make_rate(reseller, "County", "1")
    save_profile(customer, owner, rates=[state, county], tax_id="US-1", taxable_categories=["usage"])
    with tenant_scope(reseller):
        log = ActivityLog.objects.filter(action="tax_profile.updated", customer=customer).get()
    assert log.changes["rates"] == [["State (6 %)"], ["County (1 %)", "State (6 %)"]]
    assert log.changes["taxable_categories"] == [list(TaxCategory.values), ["usage"]]
    assert estimate(customer, "usage", usd("100")) == usd("7.00")
    assert estimate(customer, "subscriptions", usd("100")) == usd("0")


# --- Pages -------------------------------------------------------------------------------------------------

RATE_POST = {
    "name": "California state",
    "rate": "7.25",
    "country": "US",
    "region": "CA",
    "valid_from": "2026-01-01",
}


def test_tax_rates_page_adds_a_rate_and_lists_it(reseller, make_client):
    client = make_client(reseller, Role.BILLING)
    assert "No tax rates yet" in client.get(reverse("billing:tax_rates")).content.decode()
    response = client.post(reverse("billing:tax_rates"), RATE_POST)
    assert response.status_code == 302
    page = client.get(reverse("billing:tax_rates")).content.decode()
    assert "California state" in page and "7.25 %" in page and "In effect" in page


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"rate": "-2"}, "can&#x27;t be negative"),
        ({"rate": "120"}, "over 100 %"),
        ({"valid_until": "2025-01-01"}, "before the start"),
    ],
)
def test_tax_rates_page_shows_field_errors_and_saves_nothing(reseller, make_client, change, message):
    client = make_client(reseller, Role.OWNER)
    response = client.post(reverse("billing:tax_rates"), {**RATE_POST, **change})
    assert response.status_code == 400
    assert message in response.content.decode()
    with tenant_scope(reseller):
        assert not TaxRate.objects.exists()


def test_overlapping_rate_version_is_refused_on_the_page(reseller, make_client):
    client = make_client(reseller, Role.OWNER)
    client.post(reverse("billing:tax_rates"), RATE_POST)
    response = client.post(
        reverse("billing:tax_rates"), {**RATE_POST, "rate": "8", "valid_from": "2026-05-01"}
    )
    assert response.status_code == 400
    assert "already has a rate of 7.25 % from 2026-01-01" in response.content.decode()


@pytest.mark.parametrize("role", [Role.SALES, Role.VIEWER])
def test_only_billing_and_owner_change_tax(reseller, customer, make_client, role):
    client = make_client(reseller, role)
    assert client.get(reverse("billing:tax_rates")).status_code == 200
    page = client.get(reverse("customers:tax-profile", args=[customer.pk])).content.decode()
    assert "Only billing users and owners" in page and 'data-testid="tax-profile-form"' not in page
    assert client.post(reverse("billing:tax_rates"), RATE_POST).status_code == 403
    assert (
        client.post(reverse("customers:tax-profile", args=[customer.pk]), {"enabled": "on"}).status_code
        == 403
    )
    with tenant_scope(reseller):
        assert not TaxRate.objects.exists() and not TaxProfile.objects.exists()


def test_edit_rate_page_saves_and_logs(reseller, make_client):
    rate = make_rate(reseller, "VAT", "20")
    client = make_client(reseller, Role.BILLING)
    url = reverse("billing:tax_rate", args=[rate.pk])
    assert client.get(url).status_code == 200
    response = client.post(url, {**RATE_POST, "name": "VAT", "rate": "21", "valid_from": "2020-01-01"})
    assert response.status_code == 302
    with tenant_scope(reseller):
        assert TaxRate.objects.get().rate == Decimal("21")
        assert ActivityLog.objects.get(action="tax_rate.updated").changes["rate"] == ["20.0000", "21"]


def test_another_resellers_rate_is_a_404(reseller, other_reseller, make_client):
    foreign = make_rate(other_reseller, "Foreign VAT", "20")
    client = make_client(reseller, Role.OWNER)
    assert client.get(reverse("billing:tax_rate", args=[foreign.pk])).status_code == 404


def profile_post(**fields):
    data = {"enabled": "on", "tax_id": "US-123", "taxable_categories": ["subscriptions", "usage"]}
    return {**data, **fields}


def test_tax_profile_page_sets_up_a_profile_and_previews_the_tax(reseller, customer, make_client):
    state = make_rate(reseller, "California state", "7.25")
    county = make_rate(reseller, "Alameda county", "3")
    client = make_client(reseller, Role.BILLING)
    url = reverse("customers:tax-profile", args=[customer.pk])
    page = client.get(url).content.decode()
    assert "No tax profile yet" in page and "Alameda county: 3 %" in page
    response = client.post(url, profile_post(rates=[str(state.pk), str(county.pk)]))
    assert response.status_code == 302
    page = client.get(url).content.decode()
    assert "US-123" in page
    assert "California state 7.25 % = 7.25 USD" in page and "10.25 USD" in page  # on 100.00 USD
    assert "not taxed" in page  # support charges and service fees are not ticked
    with tenant_scope(reseller):
        log = ActivityLog.objects.get(action="tax_profile.created")
    assert log.customer_id == customer.pk


def test_tax_profile_form_points_out_rates_matching_the_address(reseller, customer, make_client):
    with tenant_scope(reseller):
        customer.postal_code = "94501"
        customer.save()
    make_rate(reseller, "California state", "7.25", region="ca")
    make_rate(reseller, "Alameda county", "3", region="CA", postal_prefix="945")
    make_rate(reseller, "San Diego county", "1", region="CA", postal_prefix="921")
    make_rate(reseller, "Texas state", "6.25", region="TX")
    page = (
        make_client(reseller, Role.OWNER)
        .get(reverse("customers:tax-profile", args=[customer.pk]))
        .content.decode()
    )
    matching = [line for line in page.splitlines() if "matches the customer" in line]
    assert len(matching) == 2
    assert any("California state" in line for line in matching) and any(
        "Alameda" in line for line in matching
    )


def test_tax_profile_form_offers_and_accepts_only_own_rates(reseller, other_reseller, customer, make_client):
    make_rate(reseller, "Own rate", "5")
    foreign = make_rate(other_reseller, "Foreign rate", "9")
    client = make_client(reseller, Role.OWNER)
    url = reverse("customers:tax-profile", args=[customer.pk])
    page = client.get(url).content.decode()
    assert "Own rate" in page and "Foreign rate" not in page
    response = client.post(url, profile_post(rates=[str(foreign.pk)]))
    assert response.status_code == 400
    assert "Select a valid choice" in response.content.decode()
    with tenant_scope(reseller):
        assert not TaxProfile.objects.exists()


def test_exemption_without_certificate_is_a_field_error_on_the_page(reseller, customer, make_client):
    client = make_client(reseller, Role.OWNER)
    url = reverse("customers:tax-profile", args=[customer.pk])
    response = client.post(url, profile_post(exempt="on", exemption_expires="2027-01-01"))
    assert response.status_code == 400
    assert 'id="id_exemption_certificate_errors"' in response.content.decode()
    assert "A tax exemption needs the certificate number." in response.content.decode()
    with tenant_scope(reseller):
        assert not TaxProfile.objects.exists()


def test_exemption_in_force_is_shown(reseller, customer, make_client):
    make_profile(customer, [make_rate(reseller, "VAT", "20")], exempt=True, exemption_certificate="EX-77")
    page = (
        make_client(reseller, Role.VIEWER)
        .get(reverse("customers:tax-profile", args=[customer.pk]))
        .content.decode()
    )
    assert "EX-77" in page and "In force: no tax" in page


def test_tax_pages_query_counts(reseller, customer, make_client, django_assert_max_num_queries):
    rates = [make_rate(reseller, f"Rate {i}", "1") for i in range(6)]
    make_profile(customer, rates)
    client = make_client(reseller, Role.OWNER)
    with django_assert_max_num_queries(6, info="tax rates list: a query per rate? why was one added?"):
        assert client.get(reverse("billing:tax_rates")).status_code == 200
    with django_assert_max_num_queries(
        8, info="tax profile page: a query per rate or category? why was one added?"
    ):
        assert client.get(reverse("customers:tax-profile", args=[customer.pk])).status_code == 200
