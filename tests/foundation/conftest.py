"""Two resellers with marked data, for the tenancy matrix and the role tests."""

import uuid
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.test import Client
from django.utils import timezone

from accounts.models import Reseller, Role, User
from billing.models import DailySpend, UsageDaily, UsageImport, UsageRow
from customer360.tenancy import platform_scope, tenant_scope
from customers.models import (
    ActivityLog,
    Alert,
    CloudAccount,
    CloudProvider,
    Contact,
    Customer,
    CustomFieldDefinition,
    CustomFieldValue,
    FieldType,
    TestDrive,
)
from marketplace.models import OrderLine

from ..billing.factories import billing_rows_for
from ..factories import (
    DEFAULT_PASSWORD,
    ActivityLogFactory,
    AlertFactory,
    CloudAccountFactory,
    ContactFactory,
    CustomerFactory,
    ResellerFactory,
    UserFactory,
)
from ..marketplace.factories_orders import order_rows_for
from ..quotes.factories import quote_rows_for
from .urlwalk import tenant_models

# Text planted in reseller A's rows; no response to anyone else may contain it (compared lowercased).
MARKER_A = "MARKER-A-7f3c"
MARKER_B = "MARKER-B-19d2"
# Reseller A's month-to-date spend: an amount no page of another reseller may show (aggregates leak too).
SPEND_A = Decimal("98765.43")
SPEND_B = Decimal("1234.56")


@dataclass
class Tenant:
    """A reseller, its owner, and one row of every tenant model, all carrying the reseller's marker."""

    reseller: Reseller
    marker: str
    owner: User
    spend: Decimal
    objects: dict = field(default_factory=dict)  # model class -> one of this reseller's rows

    def obj(self, model):
        return self.objects[model]

    @property
    def ids(self) -> list:
        # Integer keys (billing.UsageRow's BigAutoField) are no secret: "5" is on every page.
        objs = (self.reseller, self.owner, *self.objects.values())
        return [str(o.pk) for o in objs if not isinstance(o.pk, int)]

    @property
    def secrets(self) -> list:
        """Lowercase strings of this reseller's data that no other reseller's page may contain,
        besides the marker: its rows' ids and its spend, as plain and formatted numbers."""
        return [*self.ids, *self.spend_texts]

    @property
    def spend_texts(self) -> list:
        return [str(self.spend), f"{self.spend:,}"]


def build_tenant(marker: str, slug: str, account_domain: str, spend: Decimal) -> Tenant:
    low = marker.lower()
    reseller = ResellerFactory(name=f"{marker} Cloud", slug=slug)
    owner = UserFactory(
        reseller=reseller, role=Role.OWNER, email=f"{low}-owner@{slug}.example", full_name=f"{marker} Owner"
    )
    customer = CustomerFactory(
        reseller=reseller,
        name=f"{marker} Holdings",
        address_line1=f"1 {marker} Street",
        address_line2=f"Floor {marker}",
        city=f"{marker} City",
        region=f"{marker} Region",
        postal_code="A1 7F3C",
        mtd_spend=spend,
    )
    contact = ContactFactory(
        customer=customer, is_admin=True, name=f"{marker} Admin", email=f"{low}@{slug}.example", phone=marker
    )
    account = CloudAccountFactory(
        customer=customer,
        provider=CloudProvider.M365,
        account_id=f"{low}.{account_domain}.onmicrosoft.com",
        name=f"{marker} Tenant",
    )
    alert = AlertFactory(customer=customer, title=f"{marker} spend alert", message=f"{marker} went over")
    activity = ActivityLogFactory(
        customer=customer,
        actor=owner,
        actor_label=str(owner),
        action="customer.updated",
        message=f"Updated {marker}",
        object_repr=f"{marker} Holdings",
        changes={"name": [f"Old {marker}", f"{marker} Holdings"]},
    )
    today = timezone.localdate()
    with tenant_scope(reseller):
        definition = CustomFieldDefinition.objects.create(
            label=f"{marker} Tier", key=f"tier_{slug.replace('-', '_')}", type=FieldType.TEXT
        )
        value = CustomFieldValue(customer=customer)
        value.set_value(definition, f"{marker} Gold")
        value.save()
        drive = TestDrive.objects.create(
            customer=customer,
            enabled=True,
            status=TestDrive.Status.ACTIVE,
            started_on=today,
            allowed_providers=[CloudProvider.AWS],
        )
        spend_row = DailySpend.objects.create(
            customer=customer,
            day=today,
            provider=CloudProvider.AWS,
            currency="USD",
            cost=spend / 2,
            price=spend,
        )
        usage_import = UsageImport.objects.create(
            original_name=f"{marker}-usage.csv", file=f"usage_imports/{low}.csv", status=UsageImport.Status.DONE,
            error=f"{marker} note", rows_read=1, rows_new=1, rows_unmatched=1,
        )  # fmt: skip
        usage_row = UsageRow.objects.create(
            usage_import=usage_import, line_no=2, fingerprint=uuid.uuid4(), provider=CloudProvider.GCP,
            sub_account_id=f"{low}-project", billing_account_id=f"{low}-billing", usage_date=today,
            service_name=f"{marker} Compute", cost=Decimal("1.5"),
        )  # fmt: skip
        usage_daily = UsageDaily.objects.create(
            customer=customer, cloud_account=account, day=today, provider=CloudProvider.M365,
            service_name=f"{marker} Service", currency="USD", cost=Decimal("1"), price=Decimal("2"),
        )  # fmt: skip
    tenant = Tenant(reseller=reseller, marker=marker, owner=owner, spend=spend)
    tenant.objects = {
        Customer: customer,
        Contact: contact,
        CloudAccount: account,
        Alert: alert,
        ActivityLog: activity,
        CustomFieldDefinition: definition,
        CustomFieldValue: value,
        TestDrive: drive,
        DailySpend: spend_row,
        UsageImport: usage_import,
        UsageRow: usage_row,
        UsageDaily: usage_daily,
        **billing_rows_for(reseller, customer, account, marker),
    }
    tenant.objects.update(order_rows_for(reseller, customer, account, owner, marker))
    tenant.objects.update(quote_rows_for(reseller, customer, owner, tenant.objects[OrderLine], marker))
    # Tenant models added later get whatever row of this reseller exists, so the checks can name
    # them; test_world_has_a_row_of_every_tenant_model says when one has none.
    with platform_scope():
        for model in tenant_models():
            if model not in tenant.objects:
                row = model._base_manager.filter(reseller_id=reseller.pk).order_by("pk").first()
                if row is not None:
                    tenant.objects[model] = row
    return tenant


@dataclass
class World:
    a: Tenant
    b: Tenant
    b_owner: Client  # signed in as reseller B's owner
    b_admin: Client  # reseller B's owner with is_staff: a reseller admin in the admin site
    a_viewer: Client  # signed in as a viewer of reseller A
    anonymous: Client
    platform_staff: Client  # a superuser with no reseller

    @property
    def markers(self):
        return [self.a.marker.lower()]


def signed_in(user) -> Client:
    client = Client()
    assert client.login(email=user.email, password=DEFAULT_PASSWORD)
    client.user = user
    return client


@pytest.fixture
def world(db, settings):
    # Fast hashing: the world signs in four users, and the matrix only cares who they are.
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
    a = build_tenant(MARKER_A, "marker-a", "a7f3c", SPEND_A)
    b = build_tenant(MARKER_B, "marker-b", "b19d2", SPEND_B)
    viewer = UserFactory(reseller=a.reseller, role=Role.VIEWER, email="viewer@marker-a.example")
    b_admin = UserFactory(reseller=b.reseller, role=Role.OWNER, email="admin@marker-b.example", is_staff=True)
    staff = User.objects.create_superuser("platform@customer360.example", DEFAULT_PASSWORD)
    return World(
        a=a,
        b=b,
        b_owner=signed_in(b.owner),
        b_admin=signed_in(b_admin),
        a_viewer=signed_in(viewer),
        anonymous=Client(),
        platform_staff=signed_in(staff),
    )
