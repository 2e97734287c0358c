"""Bad configuration stops start-up with one clear line per problem, not a traceback."""

import os
import subprocess
import sys
from pathlib import Path

BASE_DIR = Path(__file__).resolve().parents[2]


def run_preflight(**env_overrides):
    env = {k: v for k, v in os.environ.items() if k not in {"REDIS_URL", "CELERY_BROKER_URL"}}
    env.update(env_overrides)
    return subprocess.run(
        [sys.executable, "-m", "customer360.preflight"],
        cwd=BASE_DIR,
        env=env,
        capture_output=True,
        text=True,
        timeout=60,
    )


def test_unreachable_database_is_one_clear_line():
    result = run_preflight(DATABASE_URL="postgresql://postgres@127.0.0.1:1/nope")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr == "customer360: cannot connect to the database at 127.0.0.1:1: connection refused\n"


def test_each_problem_gets_its_own_line():
    result = run_preflight(
        DATABASE_URL="postgresql://postgres@127.0.0.1:1/nope", REDIS_URL="redis://127.0.0.1:1/0"
    )
    assert result.returncode == 1
    assert result.stderr.splitlines() == [
        "customer360: cannot connect to the database at 127.0.0.1:1: connection refused",
        "customer360: cannot connect to Redis at 127.0.0.1:1: connection refused",
    ]


def test_a_database_url_that_is_not_postgresql_is_refused():
    result = run_preflight(DATABASE_URL="sqlite:///db.sqlite3")
    assert result.returncode == 1
    assert result.stderr == "customer360: DATABASE_URL must point at PostgreSQL (postgresql://...)\n"
