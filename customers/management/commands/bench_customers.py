"""python manage.py bench_customers: server-side response times of the customer list at 200,000 customers.

Runs the views in-process through django.test.Client (no network, no browser), signed in as each
reseller's owner, and compares the 200,000-customer reseller with a 1,000-customer one.
See docs/benchmarks.md.
"""

import html
import math
import os
import re
import time
from dataclasses import dataclass, field

from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.db.models import Count
from django.test import Client
from django.test.utils import CaptureQueriesContext, override_settings

from accounts.models import Reseller, Role, User
from customer360.tenancy import platform_scope, tenant_scope
from customers.models import CloudAccount, Customer

BIG, SMALL = 200_000, 1_000
SORTS = ["name", "providers", "accounts", "subscriptions", "spend", "status", "created"]
# Company-name fragments of the demo data: "ing" is common (Engineering, Consulting, ...: ~14% of names,
# a full page at 1k too), "harbor" selective (~3%) and also the prefix of many domain-style account ids.
NAME_WORDS = ["ing", "harbor"]
DEEP_PAGES = 100
DEEP_SORTS = ["name", "-created", "status"]
LIST_RATIO, DEEP_RATIO = 1.5, 1.2
WHO = {"big": "200k", "small": "1k", "page1": "200k page 1"}
NEXT_LINK = re.compile(r'<a [^>]*rel="next" href="([^"]+)"')
PREV_LINK = re.compile(r'<a [^>]*rel="prev" href="([^"]+)"')
CAPPED_COUNT = re.compile(
    r"^\s*SELECT COUNT\(\*\)(?: AS \"__count\")? FROM \(SELECT .* LIMIT \d+\) subquery\s*$", re.S
)
# The profile's per-customer figures (subscriptions, licenses, quotes) count one customer's rows through
# the customer_id index: bounded by that customer, not by the reseller's size.
ONE_CUSTOMERS_COUNT = re.compile(r'"customer_id" = \S+', re.S)


@dataclass
class Result:
    label: str
    kind: str  # "list", "deep" (compared with page 1, timed alongside as "page1") or "profile"
    times: dict = field(default_factory=dict)  # "big"/"small"/"page1" -> sorted ms
    queries: dict = field(default_factory=dict)  # "big"/"small" -> captured queries of one request
    rows: dict = field(default_factory=dict)  # "big"/"small" -> customer rows on the page
    problems: list = field(default_factory=list)


def pct(values, p):
    """Nearest-rank percentile of sorted values."""
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)] if values else float("nan")


def p95(result, who):
    return pct(result.times.get(who, []), 95)


class Command(BaseCommand):
    help = (
        "Measure the customer list at 200,000 customers against 1,000 "
        "(only on a database whose name contains 'bench': it reseeds)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--reseed", action="store_true", help="wipe and seed the benchmark data first")
        parser.add_argument("--requests", type=int, default=30, help="timed requests per case (default 30)")
        parser.add_argument(
            "--warmup", type=int, default=3, help="untimed requests per case first (default 3)"
        )
        parser.add_argument(
            "--explain",
            action="store_true",
            help="print EXPLAIN ANALYZE of the slowest SQL of cases that miss a goal",
        )

    def handle(self, *args, **opts):
        name = connection.settings_dict["NAME"] or ""
        if "bench" not in name:
            raise CommandError(
                f"Refusing to run on database {name!r}: bench_customers reseeds, so it only runs on a "
                "database whose name contains 'bench' (e.g. DATABASE_URL=postgresql://.../c360_bench)."
            )
        self.requests, self.warmup = max(1, opts["requests"]), max(0, opts["warmup"])
        big, small = self.bench_resellers(opts["reseed"])
        self.clients = {"big": self.owner_client(big), "small": self.owner_client(small)}
        self.resellers = {"big": big, "small": small}
        load = ", ".join(f"{x:.2f}" for x in os.getloadavg())
        self.stdout.write(
            f"Database {name}, {os.cpu_count()} CPUs, load average {load}.\n"
            f"{big.name} ({big.n:,} customers) vs {small.name} ({small.n:,} customers): "
            f"{self.requests} timed requests per case after {self.warmup} warm-up requests."
        )
        with override_settings(DEBUG=False, ALLOWED_HOSTS=["testserver"]):
            results = self.run_cases()
        self.report(results, explain=opts["explain"])

    # -- data -----------------------------------------------------------------------------------------

    def bench_resellers(self, reseed):
        with platform_scope():
            counts = dict(
                Customer.objects.values_list("reseller").annotate(n=Count("id")).values_list("reseller", "n")
            )
        if reseed or not counts:
            self.stdout.write("Seeding 200,000 + 2 x 1,000 customers (seed_demo --reset) ...")
            call_command(
                "seed_demo",
                reset=True,
                resellers=3,
                customers=SMALL,
                big_reseller_customers=BIG,
                stdout=self.stdout,
            )
            return self.bench_resellers(False)
        ranked = sorted(counts.items(), key=lambda kv: kv[1])
        (small_id, small_n), (big_id, big_n) = ranked[0], ranked[-1]
        if big_n < BIG * 0.9 or small_n > SMALL * 10:
            raise CommandError(
                f"The data is not the benchmark's (largest reseller {big_n:,}, smallest {small_n:,} "
                "customers); run with --reseed."
            )
        big, small = Reseller.objects.get(pk=big_id), Reseller.objects.get(pk=small_id)
        big.n, small.n = big_n, small_n
        return big, small

    def owner_client(self, reseller):
        client = Client()
        client.force_login(User.objects.get(reseller=reseller, role=Role.OWNER))
        return client

    def probes(self, reseller):
        """Search terms that exist in this reseller's data, and a customer with a lively profile."""
        with tenant_scope(reseller):
            accounts = CloudAccount.objects.order_by("account_id")
            aws = accounts.filter(provider="aws").values_list("account_id", flat=True).first()
            azure = accounts.filter(provider="azure").values_list("account_id", flat=True).first()
            lively = Customer.objects.filter(activity__isnull=False).order_by("name").first()
        return {"aws": aws[:6], "azure": azure, "customer": lively.pk}

    # -- measuring ------------------------------------------------------------------------------------

    def get(self, who, path):
        response = self.clients[who].get(path)
        if response.status_code != 200:
            raise CommandError(
                f"GET {path} as the owner of {self.resellers[who].slug}: {response.status_code}"
            )
        return response

    def measure(self, result, paths):
        """Time each GET of paths ({key: (reseller key, path)}), interleaved so background load hits
        them alike; keeps sorted times, and the SQL and row count of one more request, per key."""
        for _ in range(self.warmup):
            for who, path in paths.values():
                self.get(who, path)
        times = {key: [] for key in paths}
        for _ in range(self.requests):
            for key, (who, path) in paths.items():
                started = time.perf_counter()
                self.get(who, path)
                times[key].append((time.perf_counter() - started) * 1000)
        responses = {}
        for key, (who, path) in paths.items():
            with CaptureQueriesContext(connection) as ctx:
                responses[key] = self.get(who, path)
            result.times[key] = sorted(times[key])
            result.queries[key] = list(ctx.captured_queries)
            result.rows[key] = responses[key].content.count(b'data-testid="customer-row"')
        return responses

    def run_cases(self):
        probes = {who: self.probes(r) for who, r in self.resellers.items()}
        cases = [
            ("default (sort=name, page 1)", lambda p: "/customers/"),
            *[(f"name search ?q={word}", lambda p, w=word: f"/customers/?q={w}") for word in NAME_WORDS],
            ("AWS account prefix ?q=<6 digits>", lambda p: f"/customers/?q={p['aws']}"),
            ("Azure subscription ?q=<exact GUID>", lambda p: f"/customers/?q={p['azure']}"),
            ("provider=gcp", lambda p: "/customers/?provider=gcp"),
            ("provider=aws&provider=azure", lambda p: "/customers/?provider=aws&provider=azure"),
        ]
        for key in SORTS:
            for sort in (key, f"-{key}"):
                cases.append((f"sort={sort}", lambda p, s=sort: f"/customers/?sort={s}"))
        results = []
        for label, make in cases:
            result = Result(label, "list")
            self.measure(result, {who: (who, make(probes[who])) for who in self.clients})
            self.progress(result)
            results.append(result)
        for sort in DEEP_SORTS:
            results.extend(self.deep_cases(sort))
        result = Result("customer profile /customers/<uuid>/", "profile")
        self.measure(result, {who: (who, f"/customers/{probes[who]['customer']}/") for who in self.clients})
        self.progress(result)
        results.append(result)
        return results

    def deep_cases(self, sort):
        """Page 1, then the page reached by following "Next" DEEP_PAGES times, and its next/prev pages."""
        page1 = Result(f"sort={sort} page 1", "list")
        first = f"/customers/?sort={sort}"
        response = self.measure(page1, {who: (who, first) for who in self.clients})["big"]
        started, path = time.perf_counter(), None
        for _ in range(DEEP_PAGES):
            path = "/customers/" + html.unescape(NEXT_LINK.search(response.content.decode()).group(1))
            response = self.get("big", path)
        elapsed = time.perf_counter() - started
        self.stdout.write(f"  followed Next {DEEP_PAGES} times (sort={sort}) in {elapsed:.1f}s")
        content = response.content.decode()
        links = {
            f"sort={sort} page {DEEP_PAGES + 1} (deep)": path,
            f"sort={sort} deep page's Next": "/customers/"
            + html.unescape(NEXT_LINK.search(content).group(1)),
            f"sort={sort} deep page's Previous": "/customers/"
            + html.unescape(PREV_LINK.search(content).group(1)),
        }
        results = [page1]
        for label, link in links.items():
            result = Result(label, "deep")
            self.measure(result, {"big": ("big", link), "page1": ("big", first)})
            results.append(result)
        for r in results:
            self.progress(r)
        return results

    def progress(self, r):
        self.stdout.write(
            f"  {r.label}: p95 {p95(r, 'big'):.1f} ms at 200k, {p95(r, 'small'):.1f} ms at 1k"
            if r.times.get("small")
            else f"  {r.label}: p95 {p95(r, 'big'):.1f} ms at 200k"
        )

    # -- goals and report -----------------------------------------------------------------------------

    def check_goals(self, r):
        big, small = p95(r, "big"), p95(r, "small")
        if r.kind == "list" and big > LIST_RATIO * small:
            r.problems.append(f"p95 {big / small:.2f}x of 1k (goal <= {LIST_RATIO}x)")
        if r.kind == "deep":
            ratio = big / p95(r, "page1")
            if ratio > DEEP_RATIO:
                r.problems.append(f"p95 {ratio:.2f}x of page 1 (goal <= {DEEP_RATIO}x)")
        for who, queries in r.queries.items():
            for q in queries:
                sql = q["sql"]
                if re.search(r"\bCOUNT\(", sql, re.I) and not (
                    CAPPED_COUNT.match(sql) or ONE_CUSTOMERS_COUNT.search(sql)
                ):
                    r.problems.append(f"unbounded COUNT ({WHO[who]}): {q['sql'][:160]}")

    def report(self, results, *, explain):
        rows = [
            "| Case | p50 200k | p95 200k | p50 1k | p95 1k | ratio p50 / p95 | rows | SQL queries | Goal |",
            "|---|--:|--:|--:|--:|--:|--:|--:|---|",
        ]
        for r in results:
            self.check_goals(r)
            b, s = r.times.get("big", []), r.times.get("small", [])
            ref = r.times["page1" if r.kind == "deep" else "small"]
            ratio = f"{pct(b, 50) / pct(ref, 50):.2f} / {pct(b, 95) / pct(ref, 95):.2f}"
            ratio += " vs page 1" if r.kind == "deep" else ""
            cells = [f"{pct(b, 50):.1f}", f"{pct(b, 95):.1f}"]
            cells += [f"{pct(s, 50):.1f}", f"{pct(s, 95):.1f}"] if s else ["—", "—"]
            cells.append(ratio)
            for counts in (r.rows if r.kind != "profile" else {}, {k: len(q) for k, q in r.queries.items()}):
                cells.append(" / ".join(str(counts[who]) for who in ("big", "small") if who in counts) or "—")
            cells.append("**MISSED**: " + "; ".join(r.problems) if r.problems else "met")
            rows.append(f"| {r.label} | " + " | ".join(cells) + " |")
        self.stdout.write(
            "\nTimes in ms, server-side (django.test.Client in-process); rows and SQL queries: 200k / 1k."
        )
        self.stdout.write("\n".join(rows) + "\n")
        missed = [r for r in results if r.problems]
        self.stdout.write(
            self.style.SUCCESS("All goals met.")
            if not missed
            else self.style.WARNING(f"{len(missed)} case(s) missed a goal.")
        )
        if explain:
            for r in missed:
                self.explain(r)

    def explain(self, r):
        """EXPLAIN ANALYZE of the two slowest queries of the 200k request (long literals shortened)."""
        slowest = sorted(r.queries["big"], key=lambda q: float(q["time"]), reverse=True)[:2]
        for q in slowest:
            sql = q["sql"]
            self.stdout.write(
                f"\n-- {r.label}: {float(q['time']) * 1000:.0f} ms\n{sql[:600]}"
                + (" ..." if len(sql) > 600 else "")
            )
            with connection.cursor() as cursor:
                cursor.execute("EXPLAIN (ANALYZE, BUFFERS) " + sql)
                self.stdout.write("\n".join(row[0][:200] for row in cursor.fetchall()))
