import datetime
import re
from decimal import Decimal

import pytest
from django.core.exceptions import ValidationError
from django.db import connection
from django.http import QueryDict
from django.template.loader import render_to_string
from django.test import RequestFactory
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from customer360.tenancy import tenant_scope
from customers import services_custom_fields as cf
from customers.models import ActivityLog, Customer, CustomFieldDefinition, CustomFieldValue, FieldType

from ..factories import CustomerFactory, UserFactory
from .factories_fields import CustomFieldDefinitionFactory, CustomFieldValueFactory

pytestmark = pytest.mark.django_db
DEFS = reverse("customers:custom-fields")
CREATE = reverse("customers:custom-field-create")
LIST = reverse("customers:list")


def edit_url(d):
    return reverse("customers:custom-field-edit", args=[d.pk])


def delete_url(d):
    return reverse("customers:custom-field-delete", args=[d.pk])


def values_url(c):
    return reverse("customers:custom-fields-customer", args=[c.pk])


def field_errors(response, name):
    """The messages shown under one form field."""
    m = re.search(rf'id="id_{name}_errors"[^>]*>(.*?)</ul>', response.content.decode(), re.S)
    return re.findall(r"<li>(.*?)</li>", m.group(1)) if m else []


def names(response):
    return re.findall(
        r'data-testid="customer-row".*?<a href="[^"]+">([^<]+)</a>', response.content.decode(), re.S
    )


def definition_post(**overrides):
    data = {
        "label": "Contract tier",
        "key": "",
        "type": "text",
        "choices": "",
        "order": "0",
        "filterable": "on",
    }
    data.update(overrides)
    return data


def stored(reseller, customer):
    """{key: value} of the customer's stored custom field values."""
    with tenant_scope(reseller):
        return {v.definition.key: v.value for v in CustomFieldValue.objects.filter(customer=customer)}


# --- definitions -------------------------------------------------------------------------------


def test_owner_defines_a_field_of_each_type(owner_client, reseller, in_scope):
    posts = [
        definition_post(label="Account manager", type="text"),
        definition_post(label="Seats", type="number", key="seat_count"),
        definition_post(label="Renewal date", type="date"),
        definition_post(label="Managed service", type="boolean", required="on"),
        definition_post(label="Tier", type="choice", choices="Gold\nSilver\n\n Gold \nBronze"),
    ]
    for data in posts:
        r = owner_client.post(CREATE, data)
        assert r.status_code == 302, r.content.decode()
    with in_scope(reseller):
        defs = {d.key: d for d in CustomFieldDefinition.objects.all()}
        assert set(defs) == {"account_manager", "seat_count", "renewal_date", "managed_service", "tier"}
        assert defs["tier"].choices == ["Gold", "Silver", "Bronze"]
        assert defs["managed_service"].type == FieldType.BOOLEAN and defs["managed_service"].required
        assert ActivityLog.objects.filter(action="custom_field.created").count() == 5
    page = owner_client.get(DEFS).content.decode()
    assert "Renewal date" in page and "seat_count" in page and "Gold, Silver, Bronze" in page


@pytest.mark.parametrize(
    "data, field, message",
    [
        (definition_post(label="Other", key="tier"), "key", "already uses this key"),
        (definition_post(label="Tier!"), "key", "already uses the key tier made from the label"),
        (definition_post(label="TIER "), "label", "already has this label"),
        (definition_post(label="Level", type="choice", choices="  \n"), "choices", "at least one choice"),
        (definition_post(label="Level", key="Bad Key"), "key", "lowercase letters"),
        (definition_post(label="Level", key="a__b"), "key", "single underscores"),
        (definition_post(label="Level", type="colour"), "type", "Select a valid choice"),
        (definition_post(label=""), "label", "required"),
    ],
)
def test_bad_definitions_are_refused_under_the_field_and_nothing_is_saved(
    owner_client, reseller, in_scope, data, field, message
):
    CustomFieldDefinitionFactory(reseller=reseller, label="Tier", key="tier")
    r = owner_client.post(CREATE, data)
    assert r.status_code == 200
    assert any(message in e for e in field_errors(r, field)), field_errors(r, field)
    with in_scope(reseller):
        assert CustomFieldDefinition.objects.count() == 1
        assert not ActivityLog.objects.filter(action="custom_field.created").exists()


def test_key_and_type_are_fixed_once_created(owner_client, reseller, in_scope):
    d = CustomFieldDefinitionFactory(reseller=reseller, label="Tier", key="tier", type=FieldType.CHOICE)
    r = owner_client.post(
        edit_url(d), definition_post(label="Support tier", key="other", type="number", choices="Gold\nSilver")
    )
    assert r.status_code == 302, r.context["form"].errors
    with in_scope(reseller):
        d.refresh_from_db()
        assert (d.label, d.key, d.type) == ("Support tier", "tier", FieldType.CHOICE)
        entry = ActivityLog.objects.get(action="custom_field.updated")
        assert entry.changes == {"label": ["Tier", "Support tier"]}
        with pytest.raises(ValidationError) as exc:
            cf.do_update_definition(None, d, type=FieldType.TEXT)
        assert "type" in exc.value.message_dict


def test_a_choice_customers_use_cannot_be_removed(owner_client, reseller, in_scope):
    d = CustomFieldDefinitionFactory(reseller=reseller, label="Tier", key="tier", type=FieldType.CHOICE)
    CustomFieldValueFactory(customer=CustomerFactory(reseller=reseller), definition=d, value="Gold")
    r = owner_client.post(edit_url(d), definition_post(label="Tier", type="choice", choices="Silver\nBronze"))
    assert r.status_code == 200
    assert "Customers still have Gold" in field_errors(r, "choices")[0]
    with in_scope(reseller):
        d.refresh_from_db()
        assert d.choices == ["Gold", "Silver"]
    r = owner_client.post(edit_url(d), definition_post(label="Tier", type="choice", choices="Gold\nBronze"))
    assert r.status_code == 302


def test_deleting_a_field_deletes_its_values_and_is_logged(owner_client, reseller, in_scope):
    d = CustomFieldDefinitionFactory(reseller=reseller, label="Seats", key="seats", type=FieldType.NUMBER)
    CustomFieldValueFactory(customer=CustomerFactory(reseller=reseller), definition=d, value=Decimal("5"))
    r = owner_client.get(delete_url(d))
    assert "1 customer</strong> has a value" in r.content.decode()
    assert owner_client.post(delete_url(d)).status_code == 302
    with in_scope(reseller):
        assert not CustomFieldDefinition.objects.exists() and not CustomFieldValue.objects.exists()
        assert (
            ActivityLog.objects.get(action="custom_field.deleted").message
            == "Custom field Seats deleted (1 customer value)"
        )


@pytest.mark.parametrize("role", [Role.SALES, Role.BILLING, Role.VIEWER])
def test_only_owners_change_definitions(make_client, reseller, in_scope, role):
    d = CustomFieldDefinitionFactory(reseller=reseller, label="Tier", key="tier")
    client = make_client(reseller, role)
    page = client.get(DEFS)
    assert page.status_code == 200 and "Tier" in page.content.decode()
    assert "New custom field" not in page.content.decode()
    for url in (CREATE, edit_url(d), delete_url(d)):
        r = client.get(url)
        assert r.status_code == 302 and r.url == DEFS
    assert client.post(CREATE, definition_post(label="Seats")).status_code == 403
    assert client.post(edit_url(d), definition_post(label="Renamed")).status_code == 403
    assert client.post(delete_url(d)).status_code == 403
    with in_scope(reseller):
        assert list(CustomFieldDefinition.objects.values_list("label", flat=True)) == ["Tier"]


def test_another_resellers_definitions_never_appear(owner_client, reseller, other_reseller, in_scope):
    theirs = CustomFieldDefinitionFactory(reseller=other_reseller, label="Globex secret", key="secret")
    c = CustomerFactory(reseller=reseller)
    assert "Globex secret" not in owner_client.get(DEFS).content.decode()
    assert "Globex secret" not in owner_client.get(values_url(c)).content.decode()
    assert "cf_secret" not in owner_client.get(LIST).content.decode()
    assert owner_client.get(edit_url(theirs)).status_code == 404
    assert owner_client.post(edit_url(theirs), definition_post(label="Mine now")).status_code == 404
    assert owner_client.post(delete_url(theirs)).status_code == 404
    # Posting their field to our customer's values form saves nothing.
    owner_client.post(values_url(c), {"cf_secret": "x"})
    with in_scope(other_reseller):
        theirs.refresh_from_db()
        assert theirs.label == "Globex secret"
        assert not CustomFieldValue.objects.exists()
    with in_scope(reseller):
        assert not CustomFieldValue.objects.exists()
        with pytest.raises(ValidationError) as exc:
            cf.do_set_custom_field_values(None, c, {"secret": "x"})
        assert exc.value.message_dict == {"secret": ["There is no custom field with this key."]}


# --- values ------------------------------------------------------------------------------------


@pytest.fixture
def fields(reseller):
    """One definition of each type."""
    make = CustomFieldDefinitionFactory
    return {
        "manager": make(reseller=reseller, label="Account manager", key="manager", order=1),
        "seats": make(reseller=reseller, label="Seats", key="seats", type=FieldType.NUMBER, order=2),
        "renewal": make(reseller=reseller, label="Renewal", key="renewal", type=FieldType.DATE, order=3),
        "managed": make(reseller=reseller, label="Managed", key="managed", type=FieldType.BOOLEAN, order=4),
        "tier": make(reseller=reseller, label="Tier", key="tier", type=FieldType.CHOICE, order=5),
    }


def test_setting_values_of_each_type_is_typed_and_logged(owner_client, reseller, fields, in_scope):
    c = CustomerFactory(reseller=reseller)
    data = {
        "cf_manager": "Ann Lee",
        "cf_seats": "12.50",
        "cf_renewal": "2026-03-31",
        "cf_managed": "yes",
        "cf_tier": "Gold",
    }
    assert owner_client.post(values_url(c), data).status_code == 302
    assert stored(reseller, c) == {
        "manager": "Ann Lee",
        "seats": Decimal("12.5"),
        "renewal": datetime.date(2026, 3, 31),
        "managed": True,
        "tier": "Gold",
    }
    # Change one, clear one, keep the rest: one log entry with before and after of what changed.
    owner_client.post(values_url(c), {**data, "cf_seats": "13", "cf_manager": ""})
    assert stored(reseller, c)["seats"] == Decimal("13")
    assert "manager" not in stored(reseller, c)
    with in_scope(reseller):
        entries = list(ActivityLog.objects.filter(action="customer.custom_fields_updated", customer=c))
    assert len(entries) == 2
    assert entries[0].changes == {"Account manager": ["Ann Lee", None], "Seats": ["12.5", "13"]}
    assert entries[1].changes["Managed"] == [None, "Yes"]
    page = owner_client.get(values_url(c)).content.decode()
    assert 'value="13"' in page and 'value="2026-03-31"' in page


def test_bad_values_are_refused_under_the_field_and_nothing_is_saved(
    owner_client, reseller, fields, in_scope
):
    fields["tier"].required = True
    with in_scope(reseller):
        fields["tier"].save()
    c = CustomerFactory(reseller=reseller)
    r = owner_client.post(
        values_url(c),
        {
            "cf_manager": "Ann",
            "cf_seats": "abc",
            "cf_renewal": "31/12/2026",
            "cf_managed": "maybe",
            "cf_tier": "",
        },
    )
    assert r.status_code == 200
    assert field_errors(r, "cf_seats") == ["Enter a number, e.g. 42 or 3.5."]
    assert field_errors(r, "cf_renewal") == ["Enter a date as YYYY-MM-DD, e.g. 2025-03-31."]
    assert field_errors(r, "cf_managed")
    assert field_errors(r, "cf_tier") == ["This field is required."]
    assert stored(reseller, c) == {}
    with in_scope(reseller):
        assert not ActivityLog.objects.filter(customer=c).exists()


def test_the_service_validates_values_itself(reseller, fields, in_scope):
    c = CustomerFactory(reseller=reseller)
    fields["tier"].required = True
    with in_scope(reseller):
        fields["tier"].save()
        with pytest.raises(ValidationError) as exc:
            cf.do_set_custom_field_values(
                None, c, {"seats": "abc", "tier": "Platinum", "renewal": "tomorrow", "manager": "ok"}
            )
        errors = exc.value.message_dict
        assert set(errors) == {"seats", "tier", "renewal"}
        assert errors["tier"] == ["Choose one of: Gold, Silver."]
        with pytest.raises(ValidationError) as exc:
            cf.do_set_custom_field_values(None, c, {"tier": None})
        assert exc.value.message_dict == {"tier": ["Tier is required."]}
        assert not CustomFieldValue.objects.exists()
        changes = cf.do_set_custom_field_values(None, c, {"seats": 3, "managed": "no", "tier": "Silver"})
        assert changes == {"Seats": [None, "3"], "Managed": [None, "No"], "Tier": [None, "Silver"]}
        assert cf.do_set_custom_field_values(None, c, {"seats": "3.000"}) == {}


def test_a_viewer_sees_values_but_cannot_change_them(make_client, reseller, fields):
    c = CustomerFactory(reseller=reseller)
    CustomFieldValueFactory(customer=c, definition=fields["seats"], value=Decimal("7"))
    viewer = make_client(reseller, Role.VIEWER)
    page = viewer.get(values_url(c))
    assert page.status_code == 200
    assert (
        "<dd>7</dd>" in page.content.decode()
        and '<form method="post" novalidate' not in page.content.decode()
    )
    assert viewer.post(values_url(c), {"cf_seats": "8"}).status_code == 403
    assert stored(reseller, c) == {"seats": Decimal("7")}


def test_overview_shows_the_customers_values(rf_user, reseller, fields, in_scope):
    c = CustomerFactory(reseller=reseller)
    CustomFieldValueFactory(customer=c, definition=fields["managed"], value=False)
    with in_scope(reseller), CaptureQueriesContext(connection) as queries:
        values = cf.custom_field_values_for(c)
    assert len(queries) == 2
    assert [(v.definition.key, v.display) for v in values] == [
        ("manager", ""),
        ("seats", ""),
        ("renewal", ""),
        ("managed", "No"),
        ("tier", ""),
    ]
    request = RequestFactory().get("/")
    request.user = rf_user
    with in_scope(reseller):
        html = render_to_string(
            "customers/customer_detail.html",
            {"customer": c, "custom_values": values, "menu": "overview", "user": rf_user},
            request=request,
        )
    block = html.split('data-testid="customer-custom-fields"')[1].split("</dl>")[0]
    assert "<dt>Managed</dt><dd>No</dd>" in block and "<dt>Seats</dt><dd>—</dd>" in block


@pytest.fixture
def rf_user(reseller):
    return UserFactory(reseller=reseller)


# --- filtering the customer list ---------------------------------------------------------------


@pytest.fixture
def filtered(reseller, fields):
    """Four customers with values; Delta has none."""
    rows = {
        "Alpha Corp": {"manager": "Ann", "seats": Decimal("5"), "renewal": datetime.date(2026, 1, 15),
                       "managed": True, "tier": "Gold"},
        "Beta Corp": {"manager": "Bob", "seats": Decimal("50"), "renewal": datetime.date(2026, 6, 1),
                      "managed": False, "tier": "Silver"},
        "Gamma Corp": {"manager": "Ann", "seats": Decimal("500"), "renewal": datetime.date(2026, 12, 31),
                       "managed": True, "tier": "Silver"},
        "Delta Corp": {},
    }  # fmt: skip
    customers = {}
    for name, values in rows.items():
        c = customers[name] = CustomerFactory(reseller=reseller, name=name)
        for key, value in values.items():
            CustomFieldValueFactory(customer=c, definition=fields[key], value=value)
    return customers


@pytest.mark.parametrize(
    "params, expected",
    [
        ({"cf_manager": "Ann"}, ["Alpha Corp", "Gamma Corp"]),
        ({"cf_manager": "ann"}, []),
        ({"cf_tier": "Silver"}, ["Beta Corp", "Gamma Corp"]),
        ({"cf_seats": "50"}, ["Beta Corp"]),
        ({"cf_seats__gte": "10"}, ["Beta Corp", "Gamma Corp"]),
        ({"cf_seats__gte": "10", "cf_seats__lte": "100"}, ["Beta Corp"]),
        ({"cf_renewal__lte": "2026-06-01"}, ["Alpha Corp", "Beta Corp"]),
        ({"cf_renewal__gte": "2026-02-01", "cf_renewal__lte": "2026-12-31"}, ["Beta Corp", "Gamma Corp"]),
        ({"cf_managed": "yes"}, ["Alpha Corp", "Gamma Corp"]),
        ({"cf_managed": "no"}, ["Beta Corp"]),
        ({"cf_managed": "yes", "cf_tier": "Silver"}, ["Gamma Corp"]),
        ({"cf_managed": "yes", "q": "alpha"}, ["Alpha Corp"]),
        ({"cf_unknown": "x"}, ["Alpha Corp", "Beta Corp", "Delta Corp", "Gamma Corp"]),
    ],
)
def test_list_filters_by_each_type(owner_client, filtered, params, expected):
    r = owner_client.get(LIST, params)
    assert r.status_code == 200
    assert names(r) == expected


def test_custom_field_filters_combine_with_provider(owner_client, reseller, filtered, in_scope):
    with in_scope(reseller):
        Customer.objects.filter(pk=filtered["Gamma Corp"].pk).update(providers=["aws"])
    assert names(owner_client.get(LIST, {"cf_tier": "Silver", "provider": "aws"})) == ["Gamma Corp"]
    assert names(owner_client.get(LIST, {"cf_tier": "Gold", "provider": "aws"})) == []


def test_a_bad_filter_value_is_shown_under_the_filter(owner_client, filtered):
    r = owner_client.get(LIST, {"cf_seats__gte": "abc"})
    assert names(r) == []
    page = r.content.decode()
    assert "Enter a number, e.g. 42 or 3.5." in page
    assert re.search(r'<details[^>]*open[^>]*data-testid="custom-field-filters"', page)


def test_filter_form_shows_each_filterable_field(owner_client, reseller, fields, in_scope):
    fields["manager"].filterable = False
    with in_scope(reseller):
        fields["manager"].save()
    page = owner_client.get(LIST).content.decode()
    for name in (
        "cf_seats__gte",
        "cf_seats__lte",
        "cf_renewal__gte",
        "cf_renewal__lte",
        "cf_managed",
        "cf_tier",
    ):
        assert f'name="{name}"' in page
    assert 'name="cf_manager"' not in page
    # A field that is not filterable is not a filter: its parameter is ignored.
    CustomerFactory(reseller=reseller, name="Zeta Corp")
    assert names(owner_client.get(LIST, {"cf_manager": "Ann"})) == ["Zeta Corp"]


def test_filtering_costs_the_same_queries_for_any_number_of_rows(owner_client, reseller, fields, filtered):
    params = {"cf_seats__gte": "1", "cf_tier": "Silver", "cf_managed": "yes", "cf_renewal__lte": "2027-01-01"}

    def count():
        with CaptureQueriesContext(connection) as queries:
            assert owner_client.get(LIST, params).status_code == 200
        return len(queries)

    few = count()
    for i in range(15):
        c = CustomerFactory(reseller=reseller, name=f"More {i:02d}")
        for key, value in (("seats", Decimal(i + 1)), ("tier", "Silver"), ("managed", True)):
            CustomFieldValueFactory(customer=c, definition=fields[key], value=value)
    assert count() == few, (
        "the customer list's query count grew with the rows it filters: why was a query added? "
        "Custom field filters must stay subqueries of the one list query."
    )


def test_custom_field_filter_serves_reports_too(reseller, filtered, in_scope):
    params = QueryDict("cf_seats__gte=10&cf_tier=Silver&q=ignored")
    with in_scope(reseller):
        qs = cf.custom_field_filter(Customer.objects.all(), params)
        assert sorted(qs.values_list("name", flat=True)) == ["Beta Corp", "Gamma Corp"]
        with pytest.raises(ValidationError) as exc:
            cf.custom_field_filter(
                Customer.objects.all(), {"cf_renewal__gte": "soon", "cf_managed": "perhaps"}
            )
        assert set(exc.value.message_dict) == {"cf_renewal__gte", "cf_managed"}
