"""python manage.py bench_quotes: quote PDF render times, the PDF renderer's memory, and email throughput.

* Render time p50/p95 of 1, 20, 100, 300 and 1,000-line quotes, through customer360.pdf.render_pdf as
  sending does (template + WeasyPrint in the helper process, restricted fetcher, time limit), and the
  1,000/100 ratio. The documents are synthetic snapshots (no database needed).
* Memory (RSS) of the render helper process after 10 and after 1,000 renders of a 20-line quote, with
  helper recycling switched off for the measurement, and their ratio.
* Send throughput: 100 quotes sent (revision, PDF) while no worker runs, so 100 emails wait in the
  broker; then one Celery worker (solo pool, in this process) drains them through a real aiosmtpd
  server on 127.0.0.1; emails/s from the worker's start to the last revision marked sent. Needs the
  database (a throwaway reseller, deleted afterwards) and runs only on a database whose name contains
  "bench". See docs/bench-quotes.md.
"""

import math
import os
import statistics
import tempfile
import time

from django.core.management.base import BaseCommand, CommandError
from django.db import connection
from django.test.utils import override_settings

from customer360 import pdf as pdfmod
from quotes.pdf import STYLESHEETS, render_snapshot_html, render_snapshot_pdf

SIZES = [1, 20, 100, 300, 1000]
RUNS = {1: 20, 20: 20, 100: 10, 300: 5, 1000: 3}
GOAL_20_P50_MS = 300
GOAL_RATIO_1000_100 = 12
GOAL_MEMORY_RATIO = 1.2


def pct(values, p):
    """Nearest-rank percentile of sorted values."""
    values = sorted(values)
    return values[max(0, math.ceil(p / 100 * len(values)) - 1)] if values else float("nan")


def synthetic_snapshot(lines: int, *, number: str = "Q-2026-00042") -> dict:
    """A quote of `lines` lines in sections of 20, shaped as services_send.build_snapshot makes it."""
    rows = [
        {
            "description": f"Microsoft 365 Business Standard, seat block {i + 1}",
            "sku": f"CFQ7TTC0LDPB-{i:04d}",
            "quantity": 5 + i % 40,
            "term": "1 year",
            "billing_frequency": "Monthly",
            "unit_price": "12.5000",
            "discount_percent": "5.00" if i % 7 == 0 else "0.00",
            "amount": f"{(5 + i % 40) * 12.5:.4f}",
        }  # fmt: skip
        for i in range(lines)
    ]
    sections = [
        {
            "id": str(k),
            "name": f"Licenses, group {k // 20 + 1}",
            "subtotal": "1000.00",
            "lines": rows[k : k + 20],
        }
        for k in range(0, lines, 20)
    ]
    return {
        "version": 1, "number": number, "revision": 1, "name": "Microsoft 365 rollout", "date": "2026-11-26",
        "valid_until": "2026-12-26", "currency": "USD", "notes": "Seats can be added at any time.",
        "terms": "Payment within 30 days of invoice.\nPrices exclude tax.",
        "seller": {"name": "Acme Cloud", "address_lines": ["500 Market Street", "94105 San Francisco", "US"],
                   "email": "sales@acme.example", "phone": "+1 415 555 0100", "logo": ""},
        "recipient": {"kind": "customer", "company": "Initech", "contact_name": "Pat Billing",
                      "contact_email": "pat@initech.example", "contact_phone": "",
                      "address_lines": ["4120 Freidrich Lane", "78744 Austin, TX", "US"]},
        "scenarios": [{"id": "s1", "name": "Business Standard, annual", "sections": sections,
                       "subtotal": "99999.00", "tax": "8250.00", "total": "108249.00"}],
        "accept_url": "https://crm.example/quotes/accept/eyJxIjoiMSJ9:1tQ:abc/",
    }  # fmt: skip


def rss_kib(pid: int) -> int:
    with open(f"/proc/{pid}/status") as status:
        for line in status:
            if line.startswith("VmRSS:"):
                return int(line.split()[1])
    raise CommandError(f"no VmRSS for process {pid}")


class Command(BaseCommand):
    help = "Measure quote PDF render times and memory, and the email throughput of 100 queued quotes."

    def add_arguments(self, parser):
        parser.add_argument("--sizes", default=",".join(map(str, SIZES)), help="line counts to time")
        parser.add_argument("--memory-renders", type=int, default=1000, help="renders for the memory check")
        parser.add_argument("--emails", type=int, default=100, help="quotes to send through SMTP")
        parser.add_argument("--skip", default="", help="comma list of parts to skip: render,memory,send")

    def handle(self, *args, **options):
        skip = set(filter(None, options["skip"].split(",")))
        self.failed = []
        self.stdout.write(f"bench_quotes on {os.cpu_count()} CPUs, WeasyPrint {_weasyprint_version()}")
        if "render" not in skip:
            self.render_times([int(s) for s in options["sizes"].split(",")])
        if "memory" not in skip:
            self.memory(options["memory_renders"])
        if "send" not in skip:
            self.send_throughput(options["emails"])
        pdfmod.shutdown_helpers()
        if self.failed:
            self.stdout.write(self.style.WARNING("goals missed: " + "; ".join(self.failed)))
        else:
            self.stdout.write(self.style.SUCCESS("all goals met"))

    def goal(self, ok: bool, text: str) -> str:
        if not ok:
            self.failed.append(text)
        return "ok" if ok else "MISSED"

    # --- Render time ------------------------------------------------------------------------------------

    def render_times(self, sizes):
        render_snapshot_pdf(synthetic_snapshot(1))  # start the helper (imports WeasyPrint)
        self.stdout.write(
            "\nPDF render time, ms: wall = what sending waits for (template + WeasyPrint in the helper);"
            f" cpu = the helper's CPU time (load average now {os.getloadavg()[0]:.1f})"
        )
        self.stdout.write(
            f"{'lines':>6} {'runs':>5} {'pages':>6} {'wall p50':>9} {'wall p95':>9} {'cpu p50':>8} {'cpu p95':>8} {'KiB':>6}"
        )
        p50s, cpu50s = {}, {}
        for lines in sizes:
            html = render_snapshot_html(synthetic_snapshot(lines))
            walls, cpus, document = [], [], b""
            for _ in range(RUNS.get(lines, 5)):
                started = time.perf_counter()
                result = pdfmod.render_pdf_result(html, stylesheets=STYLESHEETS, timeout=300)
                walls.append((time.perf_counter() - started) * 1000)
                cpus.append(result.cpu_seconds * 1000)
                document = result.pdf
            p50s[lines], cpu50s[lines] = pct(walls, 50), pct(cpus, 50)
            self.stdout.write(
                f"{lines:>6} {len(walls):>5} {_page_count(document):>6} {pct(walls, 50):>9.0f} {pct(walls, 95):>9.0f}"
                f" {pct(cpus, 50):>8.0f} {pct(cpus, 95):>8.0f} {len(document) / 1024:>6.0f}"
            )
        if 20 in p50s:
            ok = p50s[20] < GOAL_20_P50_MS
            self.stdout.write(
                f"20-line wall p50 {p50s[20]:.0f} ms (cpu {cpu50s[20]:.0f} ms), goal < {GOAL_20_P50_MS} ms:"
                f" {self.goal(ok, '20-line p50')}"
            )
        if 100 in p50s and 1000 in p50s:
            ratio, cpu_ratio = p50s[1000] / p50s[100], cpu50s[1000] / cpu50s[100]
            ok = ratio < GOAL_RATIO_1000_100
            self.stdout.write(
                f"1,000/100-line ratio {ratio:.1f}x wall ({cpu_ratio:.1f}x cpu), goal < {GOAL_RATIO_1000_100}x:"
                f" {self.goal(ok, '1000/100 ratio')}"
            )

    # --- Memory -----------------------------------------------------------------------------------------

    def memory(self, renders):
        snapshot = synthetic_snapshot(20)
        pdfmod.shutdown_helpers()
        self.stdout.write(f"\nRender helper memory over {renders} renders of a 20-line quote (recycling off)")
        with override_settings(C360_PDF_RENDERS_PER_PROCESS=10**9, C360_PDF_PROCESSES=1):
            pdfmod._pool = None  # a pool that reads the settings above
            marks = {}
            started = time.perf_counter()
            for n in range(1, renders + 1):
                render_snapshot_pdf(snapshot, timeout=120)
                if n in (10, 100, renders):
                    [pid] = pdfmod.helper_pids()
                    marks[n] = rss_kib(pid)
            elapsed = time.perf_counter() - started
            pdfmod.shutdown_helpers()
            pdfmod._pool = None
        for n, kib in marks.items():
            self.stdout.write(f"  after {n:>5} renders: {kib / 1024:7.1f} MiB")
        ratio = marks[renders] / marks[10]
        ok = ratio <= GOAL_MEMORY_RATIO
        self.stdout.write(
            f"after {renders} / after 10: {ratio:.2f}x, goal <= {GOAL_MEMORY_RATIO}x: {self.goal(ok, 'memory')}"
            f"  ({renders / elapsed:.1f} renders/s; this process: {rss_kib(os.getpid()) / 1024:.0f} MiB)"
        )

    # --- Send throughput --------------------------------------------------------------------------------

    def send_throughput(self, count):
        if "bench" not in connection.settings_dict["NAME"]:
            self.stdout.write(
                "\nSend throughput: skipped (it writes a throwaway reseller; run on a database whose name "
                "contains 'bench', e.g. DATABASE_URL=postgresql://postgres@127.0.0.1:5432/c360_bench)"
            )
            return
        try:
            from aiosmtpd.controller import Controller
        except ImportError as exc:
            raise CommandError("the send benchmark needs aiosmtpd: pip install -e '.[test]'") from exc
        with tempfile.TemporaryDirectory() as media, override_settings(
            MEDIA_ROOT=media, EMAIL_BACKEND="django.core.mail.backends.smtp.EmailBackend", EMAIL_HOST="127.0.0.1",
            EMAIL_USE_TLS=False, EMAIL_HOST_USER="", EMAIL_HOST_PASSWORD="",
        ):  # fmt: skip
            result = SendBench(Controller, count, self.stdout).run()
        self.stdout.write(
            f"\nSend throughput: {result['sent']} emails with PDF through aiosmtpd in {result['seconds']:.2f} s"
            f" = {result['sent'] / result['seconds']:.1f} emails/s (one solo worker; preparing the {count}"
            f" revisions and PDFs took {result['prepare']:.1f} s, {statistics.mean(result['sizes']) / 1024:.0f} KiB"
            " per email)"
        )
        if result["sent"] != count:
            self.failed.append(f"only {result['sent']} of {count} emails sent")


class SendBench:
    """The throughput part: a throwaway reseller with `count` sent quotes whose emails wait in a private
    queue, drained by one in-process Celery worker through aiosmtpd on 127.0.0.1."""

    def __init__(self, controller_class, count, stdout):
        self.controller_class, self.count, self.stdout = controller_class, count, stdout
        self.received = []

    def run(self) -> dict:
        from celery.contrib.testing.worker import start_worker
        from django.conf import settings

        from customer360.celery import app

        outer = self

        class Handler:
            async def handle_DATA(self, server, session, envelope):
                outer.received.append(len(envelope.content))
                return "250 OK"

        port = _free_port()
        controller = self.controller_class(Handler(), hostname="127.0.0.1", port=port)
        before_queue = app.conf.task_default_queue
        app.conf.task_default_queue = f"bench-quotes-{os.getpid()}"  # never another process's tasks
        from accounts.models import Reseller

        tag = os.getpid()
        reseller = Reseller.objects.create(name=f"Bench quotes {tag}", slug=f"bench-quotes-{tag}")
        controller.start()
        try:
            with override_settings(EMAIL_PORT=port):
                revisions, prepare = self.prepare(reseller)
                started = time.perf_counter()
                with start_worker(app, pool="solo", perform_ping_check=False, shutdown_timeout=30):
                    sent = self.wait_until_sent(reseller, revisions, started)
                    seconds = time.perf_counter() - started
        finally:
            controller.stop()
            app.conf.task_default_queue = before_queue
            self.cleanup(reseller)
        self.stdout.write(f"  broker: {settings.CELERY_BROKER_URL.split('@')[-1]}")
        return {"sent": sent, "seconds": seconds, "prepare": prepare, "sizes": self.received or [0]}

    def prepare(self, reseller):
        """Send `count` three-line quotes (revision + PDF + queued email each) with no worker running."""
        import datetime
        from decimal import Decimal

        from django.utils import timezone

        from accounts.models import Role, User
        from customer360.tenancy import tenant_scope
        from customers.models import Contact, Customer
        from marketplace.models import Plan, Product, Provider
        from marketplace.services import do_authorize_provider
        from quotes.models import Quote, QuoteLine, QuoteScenario, QuoteSection
        from quotes.services import line_amount
        from quotes.services_send import do_send_quote

        owner = User.objects.create_user(
            f"{reseller.slug}@bench.example", reseller=reseller, role=Role.SALES, full_name="Bench Seller"
        )
        provider, _ = Provider.objects.get_or_create(code="m365", defaults={"name": "Microsoft 365"})
        product, _ = Product.objects.get_or_create(
            provider=provider,
            name="Bench quote product",
            defaults={"category": "Productivity", "type": "license"},
        )
        plan, _ = Plan.objects.get_or_create(
            sku="BENCH-QUOTE-PLAN", defaults={"product": product, "name": "Bench plan",
                                              "unit_cost": Decimal("10"), "list_price": Decimal("12.5")},
        )  # fmt: skip
        started = time.perf_counter()
        revisions = []
        with tenant_scope(reseller):
            do_authorize_provider(None, reseller, provider)
            customer = Customer.objects.create(name="Initech", city="Austin", country="US")
            Contact.objects.create(
                customer=customer, name="Pat Billing", email="pat@initech.example", is_admin=True
            )
            for n in range(self.count):
                quote = Quote.objects.create(
                    number=f"Q-BENCH-{n:05d}", customer=customer, category=provider, name=f"Bench quote {n}",
                    currency="USD", created_by=owner, step=Quote.Step.SUMMARY,
                    valid_until=timezone.localdate() + datetime.timedelta(days=30),
                )  # fmt: skip
                section = QuoteSection.objects.create(
                    scenario=QuoteScenario.objects.create(quote=quote, name="Standard"), name="Licenses"
                )
                QuoteLine.objects.bulk_create(
                    [  # a list: TenantQuerySet.bulk_create reads its argument twice
                        QuoteLine(
                            reseller=reseller,
                            section=section,
                            plan=plan,
                            description=f"Seats {i}",
                            sku=plan.sku,
                            quantity=10,
                            term=plan.billing_term,
                            billing_frequency=plan.billing_frequency,
                            currency="USD",
                            list_price=plan.list_price,
                            unit_price=Decimal("12"),
                            unit_cost=plan.unit_cost,
                            amount=line_amount(Decimal("12"), 10, 0, "USD"),
                            position=i,
                        )  # fmt: skip
                        for i in range(3)
                    ]
                )
                revision, _ = do_send_quote(owner, quote, to="pat@initech.example", cc=owner.email)
                revisions.append(revision.pk)
        return revisions, time.perf_counter() - started

    def wait_until_sent(self, reseller, revisions, started, limit=600) -> int:
        from customer360.tenancy import tenant_scope
        from quotes.models import QuoteRevision

        with tenant_scope(reseller):
            while True:
                sent = QuoteRevision.objects.filter(pk__in=revisions, delivery="sent").count()
                if sent == len(revisions) or time.perf_counter() - started > limit:
                    return sent
                time.sleep(0.05)

    def cleanup(self, reseller):
        from customer360.tenancy import tenant_scope
        from quotes.models import Quote

        with tenant_scope(reseller):
            Quote.objects.all().delete()  # quotes PROTECT their customer: they go first
        reseller.delete()


def _page_count(document: bytes) -> str:
    try:
        from pypdf import PdfReader  # a test dependency; the count is only informative
    except ImportError:
        return "?"
    import io

    return str(len(PdfReader(io.BytesIO(document)).pages))


def _free_port() -> int:
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _weasyprint_version() -> str:
    import weasyprint

    return weasyprint.__version__
