import pytest

from customer360.tenancy import TenantScopeError, platform_scope, tenant_scope
from customers.forms import CustomerForm
from customers.models import Customer

from ..factories import CloudAccountFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_query_without_reseller_in_scope_is_refused(reseller):
    CustomerFactory(reseller=reseller)
    with pytest.raises(TenantScopeError):
        list(Customer.objects.all())
    with pytest.raises(TenantScopeError):
        Customer.objects.count()
    with pytest.raises(TenantScopeError):
        Customer.objects.exists()
    with pytest.raises(TenantScopeError):
        Customer.objects.update(name="x")


def test_scope_shows_only_the_resellers_rows(reseller, other_reseller):
    mine = CustomerFactory(reseller=reseller, name="Mine")
    CustomerFactory(reseller=other_reseller, name="Theirs")
    with tenant_scope(reseller):
        assert list(Customer.objects.values_list("name", flat=True)) == ["Mine"]
        assert Customer.objects.count() == 1
        assert Customer.objects.get(pk=mine.pk) == mine
        assert mine.contacts.count() == 0
    with platform_scope():
        assert Customer.objects.count() == 2


def test_querysets_built_outside_a_scope_are_scoped_when_evaluated(reseller, other_reseller):
    CustomerFactory(reseller=reseller, name="Mine")
    CustomerFactory(reseller=other_reseller, name="Theirs")
    qs = Customer.objects.order_by("name")  # built with nothing in scope, as a class attribute would be
    with tenant_scope(other_reseller):
        assert [c.name for c in qs.all()] == ["Theirs"]
    with tenant_scope(reseller):
        assert [c.name for c in qs.all()] == ["Mine"]


def test_subqueries_are_scoped_too(reseller, other_reseller):
    theirs = CloudAccountFactory(customer=CustomerFactory(reseller=other_reseller), account_id="111111111111")
    with tenant_scope(reseller):
        from customers.models import CloudAccount

        inner = CloudAccount.objects.filter(account_id=theirs.account_id).values("customer_id")
        assert list(Customer._base_manager.filter(id__in=inner)) == []


def test_writing_another_resellers_row_is_refused(reseller, other_reseller):
    theirs = CustomerFactory(reseller=other_reseller)
    with tenant_scope(reseller), pytest.raises(TenantScopeError):
        theirs.save()
    with tenant_scope(reseller), pytest.raises(TenantScopeError):
        Customer.objects.bulk_create([Customer(name="x", reseller=other_reseller)])


def test_form_choices_and_unique_checks_run_in_scope(reseller):
    with tenant_scope(reseller):
        form = CustomerForm(
            data={
                "name": "New",
                "status": "active",
                "currency": "USD",
                "payment_method": "invoice",
                "payment_terms_days": 30,
                "credit_limit": "0",
            }
        )
        assert form.is_valid(), form.errors
