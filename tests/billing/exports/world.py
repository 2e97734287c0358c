"""A billing export of a tenancy-matrix world's reseller, with a finished run and its stored file,
carrying the world's marker (tests/foundation/test_tenancy_matrix.py)."""

from billing.exports import services
from billing.models_exports import BillingExport, ExportRun
from customer360.tenancy import tenant_scope


def add_export_rows(tenant) -> None:
    from customers.models import Customer

    marker = tenant.marker
    with tenant_scope(tenant.reseller):
        customer = tenant.objects.get(Customer)
        export = services.do_create_export(
            None, name=f"{marker} export", customer=customer, period_kind="last_month", month=None,
            providers=[], cloud_account_ids=[], format="csv", basis="resale", destination="download",
            settings={"prefix": f"{marker.lower()}-focus"}, schedule="monthly",
        )  # fmt: skip
        run = services.execute_run(services.do_start_run(None, export, queue=False))
        ExportRun.objects.filter(pk=run.pk).update(error=f"{marker} note")
        run.refresh_from_db()
    tenant.objects.update({BillingExport: export, ExportRun: run})
