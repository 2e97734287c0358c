"""The pricebook admin: a reseller's owner or billing user sees and chooses only its own reseller's
pricebooks, customers and accounts (pages, choices, autocompletes, raw posts); platform staff see all."""

from datetime import date
from decimal import Decimal

import pytest
from django.test import Client
from django.urls import reverse
from django.utils import timezone

from accounts.models import Role, User
from billing.models import Pricebook, PricebookAssignment, PricebookChange, PricebookRule
from billing.models_pricebook import Method, Scope
from customer360.tenancy import platform_scope, tenant_scope

from ..factories import DEFAULT_PASSWORD, CloudAccountFactory, CustomerFactory, UserFactory
from ..marketplace.factories import PlanFactory, ProductFactory, ProviderFactory, authorize
from .factories import PricebookFactory, RuleFactory

pytestmark = pytest.mark.django_db


def admin_client(reseller, role=Role.OWNER, **extra):
    user = UserFactory(reseller=reseller, role=role, is_staff=True, **extra)
    client = Client()
    assert client.login(email=user.email, password=DEFAULT_PASSWORD)
    client.user = user
    return client


@pytest.fixture
def two(acme, other_reseller, aws):
    """Two resellers authorized for AWS, each with a pricebook, a customer and an AWS account."""
    authorize(other_reseller, aws)
    mine = PricebookFactory(reseller=acme, provider=aws, name="Acme Standard")
    theirs = PricebookFactory(reseller=other_reseller, provider=aws, name="Globex Secret")
    RuleFactory(pricebook=theirs, note="globex rule")
    their_customer = CustomerFactory(reseller=other_reseller, name="Globex Customer")
    their_account = CloudAccountFactory(customer=their_customer, account_id="999999999999")
    return {"mine": mine, "theirs": theirs, "their_customer": their_customer, "their_account": their_account}


def this_month():
    return timezone.localdate().replace(day=1)


def rule_post(pricebook, **overrides):
    data = {
        "pricebook": str(pricebook.pk), "position": "0", "scope_type": Scope.PROVIDER, "method": Method.MARKUP,
        "value": "10", "valid_from": this_month().isoformat(), "valid_until": "", "note": "",
        "category": "", "service_name": "", "service_category": "",
    }  # fmt: skip
    data.update(overrides)
    return data


def test_reseller_admin_lists_only_its_own_pricebooks(acme, two):
    client = admin_client(acme)
    page = client.get(reverse("admin:billing_pricebook_changelist")).content.decode()
    assert "Acme Standard" in page and "AWS at cost" in page
    assert "Globex Secret" not in page
    response = client.get(reverse("admin:billing_pricebook_change", args=[two["theirs"].pk]))
    assert response.status_code == 302  # "doesn't exist", as for a missing row
    assert client.get(reverse("admin:billing_pricebook_preview", args=[two["theirs"].pk])).status_code == 302
    rules = client.get(reverse("admin:billing_pricebookrule_changelist")).content.decode()
    assert "globex rule" not in rules


def test_autocompletes_offer_only_own_rows(acme, two, customer):
    client = admin_client(acme)
    url = reverse("admin:autocomplete")
    found = client.get(
        url, {"app_label": "billing", "model_name": "pricebookrule", "field_name": "pricebook", "term": ""}
    )
    names = [r["text"] for r in found.json()["results"]]
    assert names == ["Acme Standard (USD)"]  # custom books only: masters are read-only
    lookup = reverse("admin:billing_scoped_lookup")
    params = {
        "app_label": "billing",
        "model_name": "pricebookassignment",
        "field_name": "customer",
        "term": "C",
    }
    assert [r["text"] for r in client.get(lookup, params).json()["results"]] == ["Initech"]
    params.update(field_name="cloud_account", term="9999")
    assert client.get(lookup, params).json()["results"] == []
    # Catalog choices: only the providers the reseller is authorized for.
    azure_plan = PlanFactory(
        product=ProductFactory(provider=ProviderFactory(code="azure")), name="Azure thing"
    )
    aws_plan = PlanFactory(product=ProductFactory(provider=two["mine"].provider), name="AWS thing")
    params = {"app_label": "billing", "model_name": "pricebookrule", "field_name": "plan", "term": "thing"}
    texts = [r["text"] for r in client.get(url, params).json()["results"]]
    assert texts == [str(aws_plan)] and str(azure_plan) not in texts
    # The lookup serves billing's fields only, not arbitrary models.
    bad = {"app_label": "customers", "model_name": "contact", "field_name": "customer", "term": ""}
    assert client.get(lookup, bad).status_code == 403


def test_raw_posts_naming_another_resellers_rows_are_refused(acme, two, customer):
    client = admin_client(acme)
    response = client.post(reverse("admin:billing_pricebookrule_add"), rule_post(two["theirs"]))
    assert response.status_code == 200
    assert "Select a valid choice" in response.content.decode()
    response = client.post(
        reverse("admin:billing_pricebookassignment_add"),
        {"provider": str(two["mine"].provider_id), "pricebook": str(two["mine"].pk),
         "customer": str(two["their_customer"].pk), "cloud_account": ""},
    )  # fmt: skip
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()
    with platform_scope():
        assert PricebookRule.objects.filter(pricebook=two["theirs"]).count() == 1
        assert not PricebookAssignment.objects.filter(customer=two["their_customer"]).exists()


def test_bad_rule_input_is_shown_on_the_field_and_nothing_is_saved(acme, two):
    client = admin_client(acme)
    response = client.post(
        reverse("admin:billing_pricebookrule_add"), rule_post(two["mine"], method=Method.MARGIN, value="100")
    )
    assert response.status_code == 200
    assert "A margin must be below 100%" in response.content.decode()
    response = client.post(
        reverse("admin:billing_pricebookrule_add"), rule_post(two["mine"], method=Method.FIXED, value="-3")
    )
    assert "Prices cannot be negative." in response.content.decode()
    with tenant_scope(acme):
        assert not PricebookRule.objects.filter(pricebook=two["mine"]).exists()


def test_overlapping_rule_is_refused_in_the_admin(acme, two):
    client = admin_client(acme)
    assert client.post(reverse("admin:billing_pricebookrule_add"), rule_post(two["mine"])).status_code == 302
    response = client.post(reverse("admin:billing_pricebookrule_add"), rule_post(two["mine"], value="20"))
    assert "Overlaps the rule" in response.content.decode()
    with tenant_scope(acme):
        assert PricebookRule.objects.filter(pricebook=two["mine"]).count() == 1


def test_billing_users_rule_waits_and_the_owner_approves_it(acme, two):
    clerk = admin_client(acme, Role.BILLING)
    response = clerk.post(reverse("admin:billing_pricebookrule_add"), rule_post(two["mine"]))
    assert response.status_code == 302
    assert response["Location"] == reverse("admin:billing_pricebook_change", args=[two["mine"].pk])
    with tenant_scope(acme):
        change = PricebookChange.objects.get(status=PricebookChange.Status.PENDING)
        assert not PricebookRule.objects.filter(pricebook=two["mine"]).exists()
    # The billing user has no approve action; the owner does.
    changelist = reverse("admin:billing_pricebookchange_changelist")
    action = {"action": "approve", "_selected_action": [str(change.pk)]}
    clerk.post(changelist, action)
    with tenant_scope(acme):
        change.refresh_from_db()
        assert change.status == PricebookChange.Status.PENDING
    admin_client(acme).post(changelist, action)
    with tenant_scope(acme):
        change.refresh_from_db()
        assert change.status == PricebookChange.Status.APPLIED
        assert PricebookRule.objects.filter(pricebook=two["mine"]).count() == 1


def test_master_pricebooks_are_view_only_in_the_admin(acme, two, aws):
    client = admin_client(acme)
    with tenant_scope(acme):
        master = Pricebook.objects.get(provider=aws, kind=Pricebook.Kind.MASTER_COST)
    page = client.get(reverse("admin:billing_pricebook_change", args=[master.pk])).content.decode()
    assert "cannot be edited" in page and 'name="name"' not in page
    response = client.post(reverse("admin:billing_pricebook_change", args=[master.pk]), {"name": "Hacked"})
    assert response.status_code == 403


def test_copy_a_master_in_the_admin(acme, two, aws):
    client = admin_client(acme)
    with tenant_scope(acme):
        master = Pricebook.objects.get(provider=aws, kind=Pricebook.Kind.MASTER_LIST)
    response = client.post(reverse("admin:billing_pricebook_add"), {
        "provider": str(aws.pk), "name": "List minus", "currency": "USD", "copy_from": str(master.pk),
        "valid_from": this_month().isoformat(), "valid_until": "", "description": "",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    with tenant_scope(acme):
        book = Pricebook.objects.get(name="List minus")
        assert book.rules.get().method == Method.DISCOUNT and book.reseller_id == acme.pk
    # Copying another reseller's book by raw post is refused.
    response = client.post(reverse("admin:billing_pricebook_add"), {
        "provider": str(aws.pk), "name": "Stolen", "currency": "USD", "copy_from": str(two["theirs"].pk),
        "valid_from": this_month().isoformat(),
    })  # fmt: skip
    assert response.status_code == 200 and "Select a valid choice" in response.content.decode()


def test_price_preview_names_the_rule(acme, two, plan):
    RuleFactory(
        pricebook=two["mine"], scope_type=Scope.PLAN, plan=plan, method=Method.MARKUP, value=Decimal("20")
    )
    client = admin_client(acme)
    url = reverse("admin:billing_pricebook_preview", args=[two["mine"].pk])
    page = client.get(
        url, {"item": f"plan:{plan.pk}", "on_date": "2025-03-01", "quantity": "2"}
    ).content.decode()
    assert "12.00 USD" in page and "24.00 USD" in page
    assert "Markup on cost (%) 20 on Plan" in page


def test_who_gets_in(acme, two):
    sales = admin_client(acme, Role.SALES)
    assert sales.get(reverse("admin:billing_pricebook_changelist")).status_code == 403
    not_staff = admin_client(acme, Role.OWNER)
    User.objects.filter(pk=not_staff.user.pk).update(is_staff=False)
    assert not_staff.get(reverse("admin:billing_pricebook_changelist")).status_code == 302
    staff = User.objects.create_superuser("root@platform.example", DEFAULT_PASSWORD)
    client = Client()
    client.force_login(staff)
    page = client.get(reverse("admin:billing_pricebook_changelist")).content.decode()
    assert "Acme Standard" in page and "Globex Secret" in page


def test_platform_staff_authorize_a_reseller_and_its_masters_appear(acme, other_reseller):
    azure = ProviderFactory(code="azure", name="Microsoft Azure")
    staff = User.objects.create_superuser("root@platform.example", DEFAULT_PASSWORD)
    client = Client()
    client.force_login(staff)
    response = client.post(
        reverse("admin:marketplace_resellerauthorization_add"),
        {"for_reseller": str(other_reseller.pk), "provider": str(azure.pk)},
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_scope(other_reseller):
        assert Pricebook.objects.filter(provider=azure).count() == 2
    # Reseller admins cannot grant themselves providers.
    client = admin_client(acme)
    response = client.post(
        reverse("admin:marketplace_resellerauthorization_add"),
        {"for_reseller": str(acme.pk), "provider": str(azure.pk)},
    )
    assert response.status_code == 403


ADMIN_MODELS = ["billing_pricebook", "billing_pricebookrule", "billing_pricebookassignment", "billing_pricebookchange",
                "billing_billingperiod", "billing_exchangerate", "marketplace_provider", "marketplace_product",
                "marketplace_plan", "marketplace_addon", "marketplace_resellerauthorization"]  # fmt: skip


def test_every_catalog_and_pricebook_admin_page_renders(acme, two, plan, customer, account):
    from billing import services

    with tenant_scope(acme):
        services.do_assign_pricebook(None, plan.product.provider, two["mine"], customer=customer)
        rule = RuleFactory(pricebook=two["mine"], valid_from=date(2024, 1, 1))
    staff = User.objects.create_superuser("root@platform.example", DEFAULT_PASSWORD)
    root = Client()
    root.force_login(staff)
    for client, who in ((root, "platform staff"), (admin_client(acme), "reseller owner")):
        for name in ADMIN_MODELS:
            for suffix in ("changelist", "add"):
                response = client.get(reverse(f"admin:{name}_{suffix}"))
                assert response.status_code in (200, 403), (who, name, suffix, response.status_code)
        for obj, name in (
            (two["mine"], "billing_pricebook"),
            (rule, "billing_pricebookrule"),
            (plan, "marketplace_plan"),
        ):
            assert client.get(reverse(f"admin:{name}_change", args=[obj.pk])).status_code == 200, (who, name)
    # Platform staff add a pricebook for a reseller they choose.
    response = root.post(reverse("admin:billing_pricebook_add"), {
        "for_reseller": str(acme.pk), "provider": str(plan.product.provider_id), "name": "By staff",
        "currency": "EUR", "valid_from": "2025-01-01",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_scope(acme):
        assert Pricebook.objects.get(name="By staff").currency == "EUR"
    # An owner renames a custom book; the change log has it.
    owner = admin_client(acme)
    response = owner.post(reverse("admin:billing_pricebook_change", args=[two["mine"].pk]), {
        "name": "Acme Standard 2", "valid_from": two["mine"].valid_from.isoformat(), "valid_until": "",
        "description": "", "rules-TOTAL_FORMS": "0", "rules-INITIAL_FORMS": "0",
        "changes-TOTAL_FORMS": "0", "changes-INITIAL_FORMS": "0",
    })  # fmt: skip
    assert response.status_code == 302, response.content.decode()[:3000]
    with tenant_scope(acme):
        assert (
            two["mine"].changes.filter(action=PricebookChange.Action.UPDATE_BOOK).get().before["name"]
            == "Acme Standard"
        )


def test_platform_staff_assign_a_customers_pricebook_in_the_admin(acme, two, customer, account):
    staff = User.objects.create_superuser("root@platform.example", DEFAULT_PASSWORD)
    client = Client()
    client.force_login(staff)
    response = client.post(
        reverse("admin:billing_pricebookassignment_add"),
        {
            "provider": str(two["mine"].provider_id),
            "pricebook": str(two["mine"].pk),
            "customer": str(customer.pk),
            "cloud_account": str(account.pk),
        },
    )
    assert response.status_code == 302, response.content.decode()[:2000]
    with tenant_scope(acme):
        assignment = PricebookAssignment.objects.get(cloud_account=account)
        assert (
            assignment.level == PricebookAssignment.Level.CLOUD_ACCOUNT and assignment.reseller_id == acme.pk
        )
        assert customer.activity.get().action == "pricebook.assigned"
    # A customer of another reseller with this reseller's pricebook: refused.
    response = client.post(
        reverse("admin:billing_pricebookassignment_add"),
        {
            "provider": str(two["mine"].provider_id),
            "pricebook": str(two["mine"].pk),
            "customer": str(two["their_customer"].pk),
        },
    )
    assert response.status_code == 200 and "Choose one of your customers." in response.content.decode()
