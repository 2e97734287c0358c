#!/usr/bin/env python
import os
import sys


def main():
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "customer360.settings")
    from django.core.management import execute_from_command_line
    from django.db.utils import OperationalError

    try:
        execute_from_command_line(sys.argv)
    except OperationalError as exc:
        # Bad configuration (an unreachable DATABASE_URL) stops with one clear line, not a traceback.
        first_line = str(exc).strip().splitlines()[0] if str(exc).strip() else exc.__class__.__name__
        sys.stderr.write(f"customer360: cannot use the database: {first_line}\n")
        sys.exit(1)


if __name__ == "__main__":
    main()
