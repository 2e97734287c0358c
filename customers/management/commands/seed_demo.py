"""python manage.py seed_demo: a deterministic demo platform (resellers, users, customers, accounts).

The rows come from customers.demo; this command writes them: resellers and users through the ORM,
customers, contacts and cloud accounts through COPY (one reseller at a time, every row carrying its
reseller_id), alerts and activity through the tenant-scoped ORM. All in one transaction, then ANALYZE.
"""

import random
import time
import uuid
from datetime import timedelta

from django.apps import apps
from django.conf import settings
from django.contrib.auth import authenticate
from django.contrib.auth.hashers import make_password
from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction

from accounts.models import Reseller, User
from billing.demo_billing import seed_invoices
from billing.demo_usage import seed_usage
from customer360.rls import as_owner, copy_from_stdin
from customer360.tenancy import TenantModel, tenant_scope
from customers import demo
from customers.models import ActivityLog, Alert, CloudAccount, CloudProvider, Contact, Customer
from marketplace.demo_catalog import seed_catalog
from marketplace.demo_orders import seed_orders
from quotes.demo_quotes import seed_quotes


class Command(BaseCommand):
    help = (
        "Seed demo resellers, their users (owner/sales/billing/viewer@<slug>.example), a platform admin "
        "(admin@platform.example) and customers with contacts and cloud accounts. Same arguments, same data."
    )

    def add_arguments(self, parser):
        parser.add_argument("--resellers", type=int, default=3, help="number of resellers (default 3)")
        parser.add_argument(
            "--customers", type=int, default=1000, help="customers per reseller (default 1000)"
        )
        parser.add_argument("--seed", type=int, default=42, help="random seed (default 42)")
        parser.add_argument(
            "--password", help="password of every demo user (default: C360_DEMO_PASSWORD_DEFAULT)"
        )
        parser.add_argument(
            "--big-reseller-customers",
            type=int,
            metavar="M",
            help="the first reseller gets M customers instead (for benchmarks, e.g. 200000)",
        )
        parser.add_argument(
            "--usage-months",
            type=int,
            default=3,
            help="months of generated FOCUS usage to import per reseller (default 3; 0: none)",
        )
        when = parser.add_mutually_exclusive_group()
        when.add_argument(
            "--reset", action="store_true", help="delete all resellers, users and tenant data first"
        )
        parser.add_argument(
            "--no-history", action="store_true",
            help="no invoices (the last two months, run, finalized, partly paid) and no quotes",
        )  # fmt: skip
        when.add_argument(
            "--if-empty", action="store_true", help="when data exists, print the logins and exit quietly"
        )

    def execute(self, *args, **options):
        # A reseed wipes every reseller's rows (TRUNCATE, which the app's role may not do): the owner does it.
        with as_owner():
            return super().execute(*args, **options)

    def handle(self, *args, **opts):
        password = opts["password"] or settings.C360_DEMO_PASSWORD_DEFAULT
        big = opts["big_reseller_customers"]
        if opts["resellers"] < 1 or opts["customers"] < 0 or (big is not None and big < 0):
            raise CommandError("--resellers must be at least 1 and customer counts at least 0.")
        existing = Reseller.objects.count()
        if existing and not opts["reset"]:
            if opts["if_empty"]:
                self.stdout.write(f"Demo data already present ({existing} resellers); nothing seeded.")
                known = authenticate(email=demo.SUPERUSER_EMAIL, password=password) is not None
                self.print_logins(password if known else None)
                return
            raise CommandError(
                f"The database already has {existing} reseller(s); run seed_demo --reset to replace "
                "everything, or --if-empty to keep it."
            )
        if opts["reset"]:
            self.stdout.write("Deleting all resellers, users and tenant data ...")
            reset()
        self.stdout.write(
            f"Seeding {opts['resellers']} reseller(s) x {opts['customers']:,} customers"
            + (f" (the first one: {big:,})" if big else "")
            + f", seed {opts['seed']} ..."
        )
        totals = seed(
            resellers=opts["resellers"],
            customers=opts["customers"],
            seed=opts["seed"],
            password=password,
            big_reseller_customers=big,
            log=self.stdout.write if opts["verbosity"] >= 1 else None,
        )
        catalog = seed_catalog(opts["seed"])
        orders = seed_orders(opts["seed"])
        if opts["usage_months"] > 0:
            # Needs the catalog (pricing) and the demo customers' cloud accounts, so it runs last.
            usage = seed_usage(
                opts["seed"],
                months=opts["usage_months"],
                log=self.stdout.write if opts["verbosity"] >= 1 else None,
            )
            self.stdout.write(
                f"Usage: {usage['imports']} FOCUS imports, {usage['rows']:,} rows ({usage['unmatched']:,} unmatched)."
            )
        if not opts["no_history"]:
            # Invoices need the usage and the subscriptions; quotes the catalog and the pricebooks.
            invoices = seed_invoices(opts["seed"], log=self.stdout.write if opts["verbosity"] >= 1 else None)
            self.stdout.write(
                f"Invoices: {invoices['invoices']} finalized, {invoices['paid']} with a payment."
            )
            quotes = seed_quotes(opts["seed"])
            self.stdout.write(
                f"Quotes: {quotes['quotes']} ({quotes['converted']} converted to orders), "
                f"{quotes['inquiries']} inquiries."
            )
        self.stdout.write(
            f"Catalog: {catalog['providers']} providers, {catalog['plans']} plans; authorizations and "
            f"pricebooks for {catalog['resellers']} resellers; {orders['orders']} orders, "
            f"{orders['subscriptions']} subscriptions."
        )
        self.stdout.write(
            self.style.SUCCESS(
                f"Seeded {totals['resellers']} resellers, {totals['customers']:,} customers, "
                f"{totals['contacts']:,} contacts, {totals['accounts']:,} cloud accounts "
                f"in {totals['seconds']:.1f}s."
            )
        )
        self.print_logins(password)

    def print_logins(self, password):
        self.stdout.write("Logins:")
        if User.objects.filter(email=demo.SUPERUSER_EMAIL).exists():
            self.stdout.write(f"  {demo.SUPERUSER_EMAIL}  (platform admin)")
        order = {role: i for i, role in enumerate(demo.ROLES)}
        users = sorted(
            User.objects.filter(reseller__isnull=False).select_related("reseller"),
            key=lambda u: (u.reseller.created_at, u.reseller.slug, order.get(u.role, len(order))),
        )
        for u in users:
            self.stdout.write(f"  {u.email}  ({u.reseller.name}, {u.role})")
        if password:
            self.stdout.write(f"Password: {password}")
        else:
            self.stdout.write("Password: the one given when the data was seeded (not the one given now)")


def reset():
    """Delete every reseller, user and tenant row (and the sessions of the deleted users)."""
    tenant_tables = [m._meta.db_table for m in apps.get_models() if issubclass(m, TenantModel)]
    existing = set(connection.introspection.table_names())
    tables = [Reseller._meta.db_table, User._meta.db_table, "django_session", *tenant_tables]
    tables = [t for t in tables if t in existing]  # CASCADE reaches the rest through their foreign keys
    with connection.cursor() as cursor:
        if connection.in_atomic_block:  # TRUNCATE refuses while deferred FK checks are pending
            cursor.execute("SET CONSTRAINTS ALL IMMEDIATE")
        cursor.execute(f"TRUNCATE {', '.join(connection.ops.quote_name(t) for t in tables)} CASCADE")


def _copy(cursor, model, columns, rows):
    table = connection.ops.quote_name(model._meta.db_table)
    with copy_from_stdin(cursor, table, columns) as copy:
        for row in rows:
            copy.write_row(row)


def _uuid(rng):
    return uuid.UUID(int=rng.getrandbits(128), version=4)


def seed(*, resellers, customers, seed, password, big_reseller_customers=None, log=None) -> dict:
    """Write the demo platform in one transaction; returns counts and the elapsed seconds."""
    log = log or (lambda msg: None)
    started = time.monotonic()
    encoded = make_password(password)  # hashing is slow: once, shared by every demo user
    used_ids = {p.value: set() for p in CloudProvider}  # account numbers are unique platform-wide
    totals = {"resellers": 0, "customers": 0, "contacts": 0, "accounts": 0}
    with transaction.atomic():
        made = []
        for i, (name, slug, currency) in enumerate(demo.reseller_specs(resellers)):
            rng = random.Random(f"{seed}/{slug}")
            created = demo.BASE_DATE - timedelta(days=4 * 365 - i)
            reseller = Reseller.objects.create(
                id=_uuid(rng), name=name, slug=slug, default_currency=currency, created_at=created
            )
            users = User.objects.bulk_create(
                User(
                    id=_uuid(rng),
                    email=email,
                    password=encoded,
                    full_name=f"{rng.choice(demo.FIRST_NAMES)} {rng.choice(demo.SURNAMES)}",
                    reseller=reseller,
                    role=role,
                    # Owners and billing users configure their pricebooks in the admin site.
                    is_staff=role in ("owner", "billing"),
                    date_joined=created,
                )
                for role, email in demo.login_emails(slug)
            )
            made.append((reseller, {u.role: u for u in users}, rng))
        if not User.objects.filter(email=demo.SUPERUSER_EMAIL).exists():
            admin = User.objects.create_superuser(demo.SUPERUSER_EMAIL, None, full_name="Platform Admin")
            User.objects.filter(pk=admin.pk).update(password=encoded)
        with connection.cursor() as cursor:
            for i, (reseller, users, rng) in enumerate(made):
                n = big_reseller_customers if i == 0 and big_reseller_customers is not None else customers
                data = demo.ResellerData(reseller.pk, reseller.default_currency, rng, used_ids)
                done = 0
                for chunk_customers, chunk_contacts, chunk_accounts in data.customers(n):
                    with tenant_scope(reseller):  # the rows pass row-level security as their reseller's
                        _copy(cursor, Customer, demo.CUSTOMER_COLUMNS, chunk_customers)
                        _copy(cursor, Contact, demo.CONTACT_COLUMNS, chunk_contacts)
                        _copy(cursor, CloudAccount, demo.ACCOUNT_COLUMNS, chunk_accounts)
                    done += len(chunk_customers)
                    totals["customers"] += len(chunk_customers)
                    totals["contacts"] += len(chunk_contacts)
                    totals["accounts"] += len(chunk_accounts)
                    log(f"  {reseller.slug}: {done:,}/{n:,} customers ({time.monotonic() - started:.1f}s)")
                entries, alerts = demo.activity(
                    reseller, users, data.lively, random.Random(f"{seed}/{reseller.slug}/activity")
                )
                with tenant_scope(reseller):
                    ActivityLog.objects.bulk_create(entries, batch_size=2000)
                    Alert.objects.bulk_create(alerts, batch_size=2000)
        log(f"  committing ({time.monotonic() - started:.1f}s)")
    # Fresh statistics for the planner; VACUUM too (only possible outside a transaction) sets the
    # visibility map, so index-only scans work at once, as they would after autovacuum.
    command = "ANALYZE" if connection.in_atomic_block else "VACUUM (ANALYZE)"
    with connection.cursor() as cursor:
        for model in (Customer, Contact, CloudAccount, Alert, ActivityLog):
            cursor.execute(f"{command} {connection.ops.quote_name(model._meta.db_table)}")
    totals["resellers"] = len(made)
    totals["seconds"] = time.monotonic() - started
    log(f"  {command} done ({totals['seconds']:.1f}s)")
    return totals
