"""The customer's Cloud Billing page: pricebook per provider, account overrides, price preview."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Role
from billing.models import Pricebook, PricebookAssignment
from billing.models_pricebook import Method, Scope
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory
from ..marketplace.factories import PlanFactory, ProductFactory, ProviderFactory, authorize
from .factories import AssignmentFactory, PricebookFactory, RuleFactory

pytestmark = pytest.mark.django_db


def url(customer):
    return reverse("customers:cloud-billing", args=[customer.pk])


@pytest.fixture
def book(acme, aws):
    book = PricebookFactory(reseller=acme, provider=aws, name="Acme AWS plus")
    RuleFactory(pricebook=book, method=Method.MARKUP, value=Decimal("20"))
    return book


def test_page_shows_each_authorized_provider_and_what_prices_it(
    acme, aws, customer, account, book, owner_client
):
    AssignmentFactory(pricebook=book)  # the reseller's default
    page = owner_client.get(url(customer)).content.decode()
    assert 'data-testid="provider-aws"' in page
    assert "Acme AWS plus" in page and "reseller default" in page
    assert "none: Acme AWS plus (reseller default)" in page  # what "no assignment" means, in the select
    assert "123456789012" in page  # the account, with its override select
    assert 'data-testid="provider-azure"' not in page  # not authorized


def test_assign_and_override_are_logged(acme, aws, customer, account, book, owner_client, in_scope):
    response = owner_client.post(
        url(customer), {"provider": "aws", "p-aws-pricebook": str(book.pk), "p-aws-account": ""}
    )
    assert response.status_code == 302
    with in_scope(acme):
        master = Pricebook.objects.get(provider=aws, kind=Pricebook.Kind.MASTER_COST)
    response = owner_client.post(url(customer), {
        "provider": "aws", f"a-{account.pk}-pricebook": str(master.pk), f"a-{account.pk}-account": str(account.pk),
    })  # fmt: skip
    assert response.status_code == 302
    with in_scope(acme):
        levels = {a.level: a.pricebook for a in PricebookAssignment.objects.filter(customer=customer)}
        assert levels == {
            PricebookAssignment.Level.CUSTOMER: book,
            PricebookAssignment.Level.CLOUD_ACCOUNT: master,
        }
        assert list(customer.activity.values_list("action", flat=True)) == ["pricebook.assigned"] * 2
    page = owner_client.get(url(customer)).content.decode()
    assert "AWS at cost" in page and "assigned" in page


def test_posts_naming_other_rows_are_refused(acme, aws, customer, other_reseller, owner_client, in_scope):
    authorize(other_reseller, aws)
    theirs = PricebookFactory(reseller=other_reseller, provider=aws, name="Globex book")
    response = owner_client.post(url(customer), {"provider": "aws", "p-aws-pricebook": str(theirs.pk)})
    assert response.status_code == 400 and "Select a valid choice" in response.content.decode()
    other_customers_account = CloudAccountFactory(
        customer=CustomerFactory(reseller=acme), account_id="555555555555"
    )
    response = owner_client.post(url(customer), {
        "provider": "aws", "x-pricebook": "", "x-account": str(other_customers_account.pk),
    })  # fmt: skip
    assert response.status_code == 400
    ProviderFactory(code="azure", name="Microsoft Azure")
    assert owner_client.post(url(customer), {"provider": "azure", "p-azure-pricebook": ""}).status_code == 404
    with in_scope(acme):
        assert not PricebookAssignment.objects.exists()


@pytest.mark.parametrize("role", [Role.VIEWER, Role.SALES])
def test_only_owners_and_billing_users_assign(acme, customer, book, make_client, role):
    client = make_client(acme, role)
    assert client.get(url(customer)).status_code == 200
    assert client.post(url(customer), {"provider": "aws", "p-aws-pricebook": str(book.pk)}).status_code == 403


def test_billing_user_assigns(acme, customer, book, make_client):
    client = make_client(acme, Role.BILLING)
    assert client.post(url(customer), {"provider": "aws", "p-aws-pricebook": str(book.pk)}).status_code == 302


def test_another_resellers_customer_is_a_404(other_reseller, make_client, customer):
    client = make_client(other_reseller)
    assert client.get(url(customer)).status_code == 404


def test_price_preview_shows_the_price_and_the_rule(acme, aws, customer, plan, book, owner_client):
    RuleFactory(pricebook=book, scope_type=Scope.PLAN, plan=plan, method=Method.DISCOUNT, value=Decimal("10"))
    AssignmentFactory(pricebook=book, customer=customer)
    response = owner_client.get(
        url(customer), {"item": f"plan:{plan.pk}", "on_date": "2025-05-01", "quantity": "3"}
    )
    page = response.content.decode()
    assert "11.25 USD" in page and "33.75 USD" in page
    assert "Discount off list (%) 10 on Plan" in page and "the pricebook assigned to this customer" in page
    limited = PlanFactory(product=plan.product, max_quantity=2)
    page = owner_client.get(
        url(customer), {"item": f"plan:{limited.pk}", "on_date": "2025-05-01", "quantity": "3"}
    )
    assert "sold in quantities of at most 2" in page.content.decode()
    # A plan of a provider the reseller is not authorized for is not even a choice.
    azure_plan = PlanFactory(product=ProductFactory(provider=ProviderFactory(code="azure")))
    page = owner_client.get(
        url(customer), {"item": f"plan:{azure_plan.pk}", "on_date": "2025-05-01", "quantity": "1"}
    )
    assert "Select a valid choice" in page.content.decode()


def _count_queries(client, customer):
    with CaptureQueriesContext(connection) as queries:
        assert client.get(url(customer)).status_code == 200
    return len(queries)


def test_query_count_does_not_grow_with_providers_and_accounts(
    acme, aws, customer, account, book, owner_client
):
    AssignmentFactory(pricebook=book)
    one = _count_queries(owner_client, customer)
    for code in ("azure", "gcp", "m365"):
        provider = ProviderFactory(code=code)
        authorize(acme, provider)
        with tenant_scope(acme):
            PricebookFactory(reseller=acme, provider=provider)
    for n in range(3):
        CloudAccountFactory(customer=customer, account_id=f"10000000000{n}")
    CloudAccountFactory(customer=customer, provider="gcp", account_id="my-project-123")
    assert _count_queries(owner_client, customer) == one
    assert one <= 16
