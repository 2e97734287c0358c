"""Start-up checks: is the database (and Redis, when configured) reachable?

    python -m customer360.preflight [--create-database]

Prints one line per problem, e.g.
`customer360: cannot connect to the database at 127.0.0.1:1: connection refused`, and exits 1;
prints nothing and exits 0 when everything answers. With --create-database, a missing database on a
reachable server is created. Runs before Django is set up, so a bad setting never ends in a traceback.
"""

import argparse
import os
import sys
from pathlib import Path
from urllib.parse import urlsplit

BASE_DIR = Path(__file__).resolve().parent.parent
PREFIX = "customer360: "


class Problem(Exception):
    """A configuration problem, described in one line."""


def _first_line(exc: BaseException | str) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _reason(exc: BaseException) -> str:
    """A short, lower-case reason from a driver error (psycopg, redis-py or the socket layer)."""
    text = str(exc)
    lowered = text.lower()
    if "connection refused" in lowered or "error 111" in lowered or "errno 61" in lowered:
        return "connection refused"
    if "timeout" in lowered or "timed out" in lowered:
        return "timed out"
    if "could not translate host name" in lowered or "name or service not known" in lowered:
        return "unknown host"
    if "nodename nor servname" in lowered or "name resolution" in lowered:
        return "unknown host"
    if "password authentication failed" in lowered or "authentication failed" in lowered:
        return "authentication failed"
    if "no such file or directory" in lowered:
        return "no server is listening on that socket"
    if "FATAL:" in text:  # the server answered and refused: its own words are the clearest
        return _first_line(text.split("FATAL:", 1)[1])
    line = _first_line(exc)
    for noise in ("connection failed: ", "connection is bad: "):
        if line.lower().startswith(noise):
            line = line[len(noise) :]
    return line


def _where(host: str | None, port: int | str | None) -> str:
    if not host:
        return "the local socket"
    if host.startswith("/"):
        return f"the socket in {host}"
    return f"{host}:{port or 5432}"


def _database_url() -> tuple[str, str]:
    """(url, how it was found). Starts the embedded server when DATABASE_URL is unset."""
    url = os.environ.get("DATABASE_URL", "").strip()
    if url:
        return url, "DATABASE_URL"
    from customer360.database import embedded_database_url

    try:
        return embedded_database_url(BASE_DIR), "embedded"
    except SystemExit as exc:  # database.py describes the problem in one line
        raise Problem(str(exc.code).removeprefix(PREFIX)) from exc


def check_database(create: bool = False) -> str | None:
    """Connect to the configured database. Returns a message when something printable happened."""
    import dj_database_url
    import psycopg

    url, source = _database_url()
    try:
        config = dj_database_url.parse(url)
    except Exception as exc:
        raise Problem(f"DATABASE_URL is not a valid database URL ({_first_line(exc)})") from exc
    if not config.get("ENGINE", "").endswith("postgresql"):
        raise Problem("DATABASE_URL must point at PostgreSQL (postgresql://...)")
    params = {
        "host": config.get("HOST") or None,
        "port": config.get("PORT") or None,
        "user": config.get("USER") or None,
        "password": config.get("PASSWORD") or None,
        "connect_timeout": 5,
    }
    params.update({k: v for k, v in (config.get("OPTIONS") or {}).items() if k != "connect_timeout"})
    name = config.get("NAME") or "postgres"
    where = _where(params["host"], params["port"])
    if source == "embedded":
        where = "the embedded PostgreSQL (.data/pgdata)"
    try:
        psycopg.connect(dbname=name, **params).close()
        return None
    except psycopg.OperationalError as exc:
        missing = f'database "{name}" does not exist' in str(exc)
        if not (missing and create):
            reason = f'database "{name}" does not exist' if missing else _reason(exc)
            raise Problem(f"cannot connect to the database at {where}: {reason}") from exc
    # The server answers but the database is missing: create it through the maintenance database.
    try:
        with psycopg.connect(dbname="postgres", autocommit=True, **params) as conn:
            conn.execute(psycopg.sql.SQL("CREATE DATABASE {}").format(psycopg.sql.Identifier(name)))
    except psycopg.Error as exc:
        raise Problem(f'cannot create database "{name}" at {where}: {_reason(exc)}') from exc
    return f'created database "{name}" at {where}'


def check_redis() -> None:
    """Ping the broker when it is Redis (REDIS_URL or CELERY_BROKER_URL); the filesystem broker needs nothing."""
    url = os.environ.get("CELERY_BROKER_URL") or os.environ.get("REDIS_URL") or ""
    if not url.startswith(("redis://", "rediss://", "unix://")):
        return
    import redis

    parts = urlsplit(url)
    where = f"{parts.hostname or 'localhost'}:{parts.port or 6379}" if parts.scheme != "unix" else parts.path
    try:
        client = redis.Redis.from_url(url, socket_connect_timeout=3, socket_timeout=3)
        client.ping()
        client.close()
    except (redis.RedisError, OSError, ValueError) as exc:
        raise Problem(f"cannot connect to Redis at {where}: {_reason(exc)}") from exc


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m customer360.preflight", description=__doc__.split("\n")[0]
    )
    parser.add_argument(
        "--create-database", action="store_true", help="create the database when the server has none"
    )
    args = parser.parse_args(argv)
    failed = False
    for check in (lambda: check_database(create=args.create_database), check_redis):
        try:
            note = check()
        except Problem as problem:
            sys.stderr.write(f"{PREFIX}{problem}\n")
            failed = True
        else:
            if note:
                sys.stdout.write(f"{PREFIX}{note}\n")
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
