"""The usage import pages: upload (queues the task), progress, unmatched accounts and their reassignment."""

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.urls import reverse

from accounts.models import Role
from billing.models import DailySpend
from billing.models_usage import UsageImport
from billing.tasks import run_usage_import
from customer360.tenancy import tenant_scope

from ..factories import CustomerFactory
from .focus_files import accounts_of, generate, import_file

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="session")
def focus_dir(tmp_path_factory):
    return tmp_path_factory.mktemp("focus-pages")


@pytest.fixture(autouse=True)
def media(settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"


def test_billing_user_uploads_and_watches_progress(
    focus_dir, make_client, reseller, django_capture_on_commit_callbacks
):
    path = generate(focus_dir, "azure", "1.3", 80)
    client = make_client(reseller, Role.BILLING)
    page = client.get(reverse("billing:usage_imports"))
    assert page.status_code == 200 and b"Usage imports" in page.content and b'name="file"' in page.content
    upload = SimpleUploadedFile(path.name, path.read_bytes(), content_type="text/csv")
    with django_capture_on_commit_callbacks() as callbacks:
        response = client.post(reverse("billing:usage_imports"), {"file": upload, "provider": ""})
    assert response.status_code == 302 and len(callbacks) == 1
    with tenant_scope(reseller):
        record = UsageImport.objects.get()
    queued = client.get(response.url, HTTP_HX_REQUEST="true")
    assert b"Queued" in queued.content and b"every 2s" in queued.content  # polls while running
    assert run_usage_import(str(record.pk), str(reseller.pk)) == UsageImport.Status.DONE
    assert run_usage_import(str(record.pk), str(reseller.pk)) == UsageImport.Status.DONE  # twice: no-op
    done = client.get(response.url)
    assert b"every 2s" not in done.content
    assert b'data-testid="rows-unmatched">80<' in done.content  # no account is linked yet


def test_bad_uploads_say_why(make_client, reseller, tmp_path):
    client = make_client(reseller, Role.OWNER)
    text = SimpleUploadedFile("usage.xlsx", b"x")
    response = client.post(reverse("billing:usage_imports"), {"file": text})
    assert response.status_code == 400 and b"Choose a .csv, .csv.gz or .parquet file." in response.content
    with tenant_scope(reseller):
        assert not UsageImport.objects.exists()


def test_sales_and_viewers_cannot_import(make_client, reseller):
    for role in (Role.SALES, Role.VIEWER):
        client = make_client(reseller, role)
        assert client.get(reverse("billing:usage_imports")).status_code == 200
        upload = SimpleUploadedFile("a.csv", b"ProviderName\n")
        assert client.post(reverse("billing:usage_imports"), {"file": upload}).status_code == 403


def test_unmatched_accounts_are_linked_from_the_page(focus_dir, make_client, reseller, other_reseller):
    path = generate(focus_dir, "aws", "1.2", 90)
    customer = CustomerFactory(reseller=reseller, name="Initech")
    with tenant_scope(reseller):
        import_file(path)
    with tenant_scope(other_reseller):
        import_file(path)  # the other reseller's own unmatched rows of the same accounts
    client = make_client(reseller, Role.BILLING)
    number = sorted(accounts_of(path))[0]
    page = client.get(reverse("billing:usage_unmatched"))
    assert page.content.count(b'data-testid="unmatched-row"') == len(accounts_of(path))
    wrong = client.post(
        reverse("billing:usage_unmatched"), {"provider": "aws", "account_id": number, "customer": "Nobody"}
    )
    assert wrong.status_code == 400 and b"No customer is named" in wrong.content
    linked = client.post(
        reverse("billing:usage_unmatched"), {"provider": "aws", "account_id": number, "customer": "initech"}
    )
    assert linked.status_code == 302
    page = client.get(reverse("billing:usage_unmatched"))
    assert page.content.count(b'data-testid="unmatched-row"') == len(accounts_of(path)) - 1
    with tenant_scope(reseller):
        assert DailySpend.objects.filter(customer=customer).exists()
        assert customer.activity.filter(action="cloud_account.linked").exists()
    with tenant_scope(other_reseller):
        assert not DailySpend.objects.exists()
    other = make_client(other_reseller, Role.BILLING)
    assert other.get(reverse("billing:usage_unmatched")).content.count(b'data-testid="unmatched-row"') == len(
        accounts_of(path)
    )
