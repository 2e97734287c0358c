import pytest
from django.urls import reverse

from ..factories import AlertFactory, CloudAccountFactory, ContactFactory, CustomerFactory

pytestmark = pytest.mark.django_db


def test_profile_pages_render(owner_client, reseller):
    c = CustomerFactory(reseller=reseller, name="Initech")
    ContactFactory(customer=c, is_admin=True, name="Peter Gibbons")
    CloudAccountFactory(customer=c)
    AlertFactory(customer=c, title="Spend high")
    for name in ("detail", "general", "activity", "summary"):
        r = owner_client.get(reverse(f"customers:{name}", args=[c.pk]))
        assert r.status_code == 200, name
    r = owner_client.get(reverse("customers:detail", args=[c.pk]))
    assert b"Peter Gibbons" in r.content and b"Spend high" in r.content
    assert owner_client.get(reverse("dashboard")).status_code == 200
    assert b"Initech" in owner_client.get(reverse("customers:list")).content
