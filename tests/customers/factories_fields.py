"""Factories of custom fields and test drives (see tests/factories.py for the shared ones)."""

import datetime

import factory

from customers.models import CloudProvider, CustomFieldDefinition, CustomFieldValue, FieldType, TestDrive

from ..factories import CustomerFactory, ResellerFactory, TenantFactory


class CustomFieldDefinitionFactory(TenantFactory):
    class Meta:
        model = CustomFieldDefinition

    reseller = factory.SubFactory(ResellerFactory)
    label = factory.Sequence(lambda n: f"Field {n}")
    key = factory.Sequence(lambda n: f"field_{n}")
    type = FieldType.TEXT
    choices = factory.LazyAttribute(lambda o: ["Gold", "Silver"] if o.type == FieldType.CHOICE else [])


class CustomFieldValueFactory(TenantFactory):
    """CustomFieldValueFactory(customer=c, definition=d, value=...) stores `value` in the right column."""

    class Meta:
        model = CustomFieldValue

    class Params:
        value = "x"

    customer = factory.SubFactory(CustomerFactory)
    definition = factory.SubFactory(
        CustomFieldDefinitionFactory, reseller=factory.SelfAttribute("..customer.reseller")
    )
    reseller = factory.SelfAttribute("customer.reseller")
    type = factory.SelfAttribute("definition.type")
    value_text = factory.LazyAttribute(
        lambda o: o.value if o.definition.type in (FieldType.TEXT, FieldType.CHOICE) else None
    )
    value_number = factory.LazyAttribute(lambda o: o.value if o.definition.type == FieldType.NUMBER else None)
    value_date = factory.LazyAttribute(lambda o: o.value if o.definition.type == FieldType.DATE else None)
    value_bool = factory.LazyAttribute(lambda o: o.value if o.definition.type == FieldType.BOOLEAN else None)


class TestDriveFactory(TenantFactory):
    """An active test drive that started `started_on` (default: today) for 30 days."""

    __test__ = False

    class Meta:
        model = TestDrive

    customer = factory.SubFactory(CustomerFactory)
    reseller = factory.SelfAttribute("customer.reseller")
    enabled = True
    status = TestDrive.Status.ACTIVE
    length_days = 30
    started_on = factory.LazyFunction(datetime.date.today)
    allowed_providers = factory.LazyFunction(lambda: [CloudProvider.AWS.value])
