"""python manage.py bench_marketplace: the marketplace pages on the demo catalog with N subscriptions for
one customer (default 10,000): SQL queries per page (must not grow with N) and p50/p95 server time, then
checkout of a 50-line cart. Run on a seeded demo database (seed_demo), never on production data."""

import statistics
import time
import uuid

from django.core.management.base import BaseCommand, CommandError
from django.db import connection, transaction
from django.test import Client
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from accounts.models import Reseller, Role, User
from customer360.tenancy import tenant_scope
from customers.models import Customer
from marketplace.demo_orders import _license_plans, seed_bulk_subscriptions
from marketplace.models import Subscription
from marketplace.services_cart import access_cart, cart_lines, do_add_to_cart, price_cart
from marketplace.services_insights import provider_insights
from marketplace.services_orders import do_checkout


class Command(BaseCommand):
    help = __doc__

    def add_arguments(self, parser):
        parser.add_argument("--subscriptions", type=int, default=10_000)
        parser.add_argument("--runs", type=int, default=20)
        parser.add_argument("--lines", type=int, default=50, help="cart lines for the checkout timing")

    def handle(self, *args, **opts):
        reseller = Reseller.objects.order_by("slug").first()
        if reseller is None:
            raise CommandError("No reseller: run seed_demo first.")
        user = User.objects.filter(reseller=reseller, role=Role.SALES).first()
        with tenant_scope(reseller):
            customer = Customer.objects.filter(name__startswith="Benchmark ").first()
            if customer is None:
                template = Customer.objects.order_by("name").first()
                customer = Customer.objects.create(
                    name="Benchmark Subscriptions Ltd", currency=template.currency, credit_limit=10**9
                )
            have = Subscription.objects.filter(customer=customer).count()
            if have < opts["subscriptions"]:
                self.stdout.write(f"Creating {opts['subscriptions'] - have:,} subscriptions ...")
                seed_bulk_subscriptions(customer, opts["subscriptions"] - have)
            total = Subscription.objects.filter(customer=customer).count()
            small = Customer.objects.filter(subscriptions__isnull=False).exclude(pk=customer.pk).first()
        with connection.cursor() as cursor:
            cursor.execute("ANALYZE")
        client = Client(HTTP_HOST="localhost")
        client.force_login(user)
        pages = [
            ("Managed Products", "customers:managed-products", {}),
            ("Managed Products, expired", "customers:managed-products", {"show": "expired"}),
            ("Purchased Products", "customers:purchases", {}),
            ("Buy Products", "customers:buy", {}),
            ("Buy Products, filtered", "customers:buy", {"q": "plan"}),
            ("Buy: Microsoft 365 plans", "customers:buy-provider", {"_code": "m365"}),
            (
                "Buy: M365, term filter (htmx)",
                "customers:buy-provider",
                {"_code": "m365", "attr_term": "annual"},
            ),
        ]
        rows = [f"Customer with {total:,} subscriptions; {opts['runs']} runs per page (Django test client, "
                "server time incl. template rendering).", "",
                "| Page | SQL queries (10k subs) | SQL queries (small customer) | p50 ms | p95 ms |",
                "|---|---|---|---|---|"]  # fmt: skip
        for label, name, params in pages:
            params = dict(params)
            code = params.pop("_code", None)
            args = [customer.pk] + ([code] if code else [])
            path = reverse(name, args=args)
            small_path = reverse(name, args=[small.pk] + ([code] if code else [])) if small else None
            queries, times = self.measure(client, path, params, opts["runs"])
            small_queries = self.measure(client, small_path, params, 1)[0] if small_path else "-"
            rows.append(
                f"| {label} | {queries} | {small_queries} | {self.pct(times, 50):.1f} | {self.pct(times, 95):.1f} |"
            )
        connection.queries_log.clear()
        with tenant_scope(reseller), CaptureQueriesContext(connection) as ctx:
            start = time.perf_counter()
            provider_insights(customer)
            insights_ms = (time.perf_counter() - start) * 1000
        rows.append(
            f"| Provider Insights alone (service) | {len(ctx.captured_queries)} | | {insights_ms:.1f} | |"
        )
        rows += ["", self.checkout(reseller, user, customer, opts["lines"])]
        self.stdout.write("\n".join(rows))

    def measure(self, client, path, params, runs):
        times, queries = [], None
        for _ in range(runs + 1):
            connection.queries_log.clear()  # the log keeps 9,000 queries; counts are wrong past that
            with CaptureQueriesContext(connection) as ctx:
                start = time.perf_counter()
                response = client.get(path, params)
                elapsed = (time.perf_counter() - start) * 1000
            if response.status_code != 200:
                raise CommandError(f"{path} answered {response.status_code}")
            queries = len(ctx.captured_queries)
            times.append(elapsed)
        return queries, times[1:]  # the first run warms caches

    @staticmethod
    def pct(values, p):
        ordered = sorted(values)
        return (
            ordered[min(len(ordered) - 1, round(p / 100 * (len(ordered) - 1)))] if ordered else statistics.nan
        )

    def checkout(self, reseller, user, customer, lines):
        """Time do_checkout of a `lines`-line cart (rolled back: the benchmark leaves no order)."""
        import random

        with tenant_scope(reseller):
            try:
                with transaction.atomic():
                    plans = _license_plans(random.Random(7), lines)
                    for plan in plans:
                        do_add_to_cart(user, customer, plan_id=plan.pk, quantity=max(plan.min_quantity, 1))
                    priced = price_cart(customer, cart_lines(access_cart(user, customer)))
                    confirmed = {
                        str(p.line.pk): str(p.quote.unit_price.amount) for p in priced.lines if p.quote
                    }
                    connection.queries_log.clear()
                    with CaptureQueriesContext(connection) as ctx:
                        start = time.perf_counter()
                        order, _ = do_checkout(user, customer, token=str(uuid.uuid4()), confirmed=confirmed)
                        elapsed = (time.perf_counter() - start) * 1000
                    text = (f"Checkout of a {order.lines.count()}-line cart (re-price, checks, order, lines, "
                            f"subscriptions): {elapsed:.0f} ms server time, {len(ctx.captured_queries)} SQL queries.")  # fmt: skip
                    raise _Rollback(text)
            except _Rollback as done:
                return str(done)


class _Rollback(Exception):
    pass
