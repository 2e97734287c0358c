"""The invoice run with real Celery worker processes killed (SIGKILL) at random points, then restarted:
one invoice per customer and the totals of an undisturbed run. Needs Redis (REDIS_URL): the worker and
this test share the broker; the worker uses this test's database and private queue."""

import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from billing.invoice_run import do_start_run
from billing.models import CreditApplication, Invoice, InvoiceRun
from customer360.celery import app
from customer360.tenancy import tenant_scope

from .invoice_helpers import OCT
from .test_invoice_run import run_once, snapshot, world

pytestmark = [
    pytest.mark.django_db(transaction=True),
    pytest.mark.skipif(
        not settings.CELERY_BROKER_URL.startswith("redis"), reason="needs REDIS_URL (a shared broker)"
    ),
]
ROOT = Path(__file__).resolve().parents[2]


def children(pid: int) -> list[int]:
    found = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == pid:
            found.append(int(stat.parent.name))
    return found


def start_worker(log: Path) -> subprocess.Popen:
    db = connection.settings_dict
    env = {
        **os.environ,
        "DATABASE_URL": f"postgresql://{db['USER']}@{db['HOST']}:{db['PORT']}/{db['NAME']}",
        "CELERY_TASK_ALWAYS_EAGER": "0",
    }
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "customer360", "worker", "-Q", app.conf.task_default_queue,
         "-c", "2", "-P", "prefork", "--without-mingle", "--without-gossip", "-l", "info"],
        cwd=ROOT, env=env, stdout=log.open("ab"), stderr=subprocess.STDOUT,
    )  # fmt: skip


def wait_for(run_pk, seconds=240) -> InvoiceRun:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        run = InvoiceRun.objects.get(pk=run_pk)
        if not run.running:
            return run
        time.sleep(0.3)
    raise AssertionError(f"run {run_pk} did not finish in {seconds} s")


def test_killed_workers_then_a_restarted_run_give_the_undisturbed_totals(reseller, tmp_path):
    world(reseller, n=30)
    run_once(reseller)
    expected = snapshot(reseller)
    with tenant_scope(reseller):
        Invoice.objects.all().delete()  # drafts only
        CreditApplication.objects.all().delete()
        run = do_start_run(None, OCT, queue=True, chunk_size=2)  # committed: the tasks are on the queue
    log = tmp_path / "worker.log"
    rng = random.Random(8)
    worker = start_worker(log)
    try:
        kills = 0
        with tenant_scope(reseller):
            deadline = time.monotonic() + 120
            while kills < 4 and time.monotonic() < deadline and InvoiceRun.objects.get(pk=run.pk).running:
                time.sleep(rng.uniform(0.3, 1.5))
                pool = children(worker.pid)
                if pool:
                    os.kill(rng.choice(pool), signal.SIGKILL)  # a pool process dies mid-chunk
                    kills += 1
            # Then the whole worker dies, and a new one starts with the run restarted.
            os.kill(worker.pid, signal.SIGKILL)
            worker.wait(timeout=30)
            for pid in children(worker.pid):
                os.kill(pid, signal.SIGKILL)
            assert kills >= 1, "no pool process was there to kill"
            worker = start_worker(log)
            restarted = do_start_run(None, OCT, queue=True, chunk_size=4)
        with tenant_scope(reseller):
            finished = wait_for(restarted.pk)
        assert (finished.status, finished.customers_done) == ("done", 30), log.read_text()[-3000:]
    finally:
        worker.send_signal(signal.SIGKILL)
        worker.wait(timeout=30)
    assert snapshot(reseller) == expected
    with tenant_scope(reseller):
        assert Invoice.objects.values("customer").distinct().count() == Invoice.objects.count() == 30
        applied = sum(a.amount for a in CreditApplication.objects.all())
        assert applied == sum(credits for _, _, _, credits, _ in expected)
