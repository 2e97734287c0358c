"""Where the database is: DATABASE_URL when set, otherwise an embedded PostgreSQL.

The embedded server (the `pgserver` wheel) keeps its data under `.data/pgdata` in the checkout
(git-ignored), so a new user needs no PostgreSQL installation. Every process (web, worker, manage.py,
pytest) that starts without DATABASE_URL attaches to the same embedded server, on a Unix socket only.
pgserver's build lacks the contrib extensions; objects that need one are skipped there (see
customer360/migration_ops.py).
"""

import os
import warnings
from pathlib import Path

import dj_database_url

from customer360.rls import app_role_settings

EMBEDDED_DB_NAME = "customer360"


def _pgserver():
    with warnings.catch_warnings():
        # platformdirs warns on import when XDG_RUNTIME_DIR is unset (CI, containers); it falls back fine.
        warnings.simplefilter("ignore")
        import pgserver  # imported lazily: only needed when no DATABASE_URL is given
    return pgserver


def embedded_database_url(base_dir: Path) -> str:
    module = _pgserver()
    data_dir = base_dir / ".data" / "pgdata"
    data_dir.parent.mkdir(parents=True, exist_ok=True)
    try:
        # cleanup_mode=None leaves the server running for the next process (web, worker, tests).
        server = module.get_server(data_dir, cleanup_mode=None)
        exists = server.psql(f"SELECT 1 FROM pg_database WHERE datname = '{EMBEDDED_DB_NAME}';")
        if "1 row" not in exists:
            server.psql(f"CREATE DATABASE {EMBEDDED_DB_NAME};")
        return server.get_uri(EMBEDDED_DB_NAME)
    except Exception as exc:  # initdb, pg_ctl and psql fail in many ways; each means the same here
        reason = (str(exc).strip().splitlines() or [exc.__class__.__name__])[0]
        raise SystemExit(
            f"customer360: cannot start the embedded PostgreSQL in .data/pgdata ({reason}); "
            "see .data/pgdata/log, or set DATABASE_URL"
        ) from exc


def database_config(base_dir: Path) -> dict:
    url = os.environ.get("DATABASE_URL") or embedded_database_url(base_dir)
    config = dj_database_url.parse(url, conn_max_age=int(os.environ.get("DB_CONN_MAX_AGE", "60")))
    if not config["ENGINE"].endswith("postgresql"):
        raise SystemExit(
            "DATABASE_URL must point at PostgreSQL (postgresql://...); Customer360 runs on nothing else."
        )
    # The URL names the tables' owner (migrate, flush); the app connects as a role under row-level
    # security (customer360.rls), through the backend that carries the tenant scope into the session.
    config["ENGINE"] = "customer360.rls"
    config["C360_OWNER"] = {"USER": config["USER"], "PASSWORD": config["PASSWORD"]}
    config["C360_APP"] = app_role_settings() or dict(config["C360_OWNER"])
    config.update(config["C360_APP"])
    config["CONN_HEALTH_CHECKS"] = True
    config.setdefault("OPTIONS", {})["connect_timeout"] = 5
    return config
