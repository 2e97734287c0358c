"""factory_boy factories. Tenant rows are created inside their reseller's scope, as the app does."""

from decimal import Decimal

import factory
from factory.django import DjangoModelFactory

from accounts.models import Reseller, Role, User
from customer360.tenancy import tenant_scope
from customers.models import ActivityLog, Alert, CloudAccount, CloudProvider, Contact, Customer

DEFAULT_PASSWORD = "test-password-123"


class ResellerFactory(DjangoModelFactory):
    class Meta:
        model = Reseller
        django_get_or_create = ("slug",)

    name = factory.Sequence(lambda n: f"Reseller {n}")
    slug = factory.Sequence(lambda n: f"reseller-{n}")


class UserFactory(DjangoModelFactory):
    class Meta:
        model = User
        skip_postgeneration_save = True

    email = factory.Sequence(lambda n: f"user{n}@example.com")
    full_name = factory.Faker("name")
    reseller = factory.SubFactory(ResellerFactory)
    role = Role.OWNER
    password = factory.PostGenerationMethodCall("set_password", DEFAULT_PASSWORD)

    @factory.post_generation
    def _save(obj, create, extracted, **kwargs):
        if create:
            obj.save()


class TenantFactory(DjangoModelFactory):
    class Meta:
        abstract = True

    @classmethod
    def _create(cls, model_class, *args, **kwargs):
        with tenant_scope(kwargs["reseller"]):
            return super()._create(model_class, *args, **kwargs)


class CustomerFactory(TenantFactory):
    class Meta:
        model = Customer

    reseller = factory.SubFactory(ResellerFactory)
    name = factory.Sequence(lambda n: f"Customer {n:05d} Ltd")
    currency = "USD"
    city = "Austin"
    country = "US"
    credit_limit = Decimal("10000.00")


class ContactFactory(TenantFactory):
    class Meta:
        model = Contact

    customer = factory.SubFactory(CustomerFactory)
    reseller = factory.SelfAttribute("customer.reseller")
    name = factory.Faker("name")
    email = factory.Sequence(lambda n: f"contact{n}@customer.example")


class CloudAccountFactory(TenantFactory):
    class Meta:
        model = CloudAccount

    customer = factory.SubFactory(CustomerFactory)
    reseller = factory.SelfAttribute("customer.reseller")
    provider = CloudProvider.AWS
    account_id = factory.Sequence(lambda n: f"{100000000000 + n:012d}")


class AlertFactory(TenantFactory):
    class Meta:
        model = Alert

    customer = factory.SubFactory(CustomerFactory)
    reseller = factory.SelfAttribute("customer.reseller")
    title = factory.Sequence(lambda n: f"Alert {n}")


class ActivityLogFactory(TenantFactory):
    class Meta:
        model = ActivityLog

    customer = factory.SubFactory(CustomerFactory)
    reseller = factory.SelfAttribute("customer.reseller")
    actor_label = "someone@example.com"
    action = "customer.updated"
    message = factory.Sequence(lambda n: f"Something happened {n}")
