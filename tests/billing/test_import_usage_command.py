"""python manage.py import_usage FILE --reseller SLUG"""

import pytest
from django.core.management import CommandError, call_command

from billing.models_usage import UsageImport
from customer360.tenancy import tenant_scope

from ..factories import CloudAccountFactory, CustomerFactory
from .focus_files import accounts_of, generate

pytestmark = pytest.mark.django_db


def test_the_command_imports_and_reports(reseller, settings, tmp_path, capsys):
    settings.MEDIA_ROOT = tmp_path / "media"
    path = generate(tmp_path, "gcp", "1.3", 40)
    first, *rest = sorted(accounts_of(path))
    CloudAccountFactory(customer=CustomerFactory(reseller=reseller), provider="gcp", account_id=first)
    call_command("import_usage", str(path), "--reseller", reseller.slug)
    out = capsys.readouterr().out
    assert "40 rows read, 40 new" in out and f"unmatched: gcp {rest[0]}" in out
    with tenant_scope(reseller):
        assert UsageImport.objects.get().status == UsageImport.Status.DONE


def test_the_command_refuses_unknown_resellers_and_bad_files(reseller, settings, tmp_path):
    settings.MEDIA_ROOT = tmp_path / "media"
    with pytest.raises(CommandError, match="No reseller has the slug 'nope'"):
        call_command("import_usage", "x.csv", "--reseller", "nope")
    bad = tmp_path / "bad.csv"
    bad.write_text("Foo,Bar\n1,2\n")
    with pytest.raises(CommandError, match="lacks the required column"):
        call_command("import_usage", str(bad), "--reseller", reseller.slug)
