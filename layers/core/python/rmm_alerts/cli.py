"""The ``rmm-alerts`` command: ``migrate`` and ``dev``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
from pathlib import Path

LOCAL_DIR = Path(os.environ.get("RMM_ALERTS_HOME", ".rmm-alerts"))
LOCAL_DB = "rmm_alerts"


def _local_database_url() -> tuple[str, object | None]:
    """``DATABASE_URL`` if set, else the project-local embedded server (started here)."""
    url = os.environ.get("DATABASE_URL")
    if url:
        return url, None
    from rmm_alerts.localdb import LocalServer, ensure_database

    server = LocalServer(LOCAL_DIR.resolve() / "pgdata")
    return ensure_database(server.uri(), LOCAL_DB), server


def cmd_migrate(args: argparse.Namespace) -> int:
    from rmm_alerts.migrations import apply_all

    url, server = _local_database_url()
    try:
        applied = apply_all(url)
    finally:
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    if applied:
        print(f"applied migrations: {', '.join(applied)}")
    else:
        print("database is up to date")
    return 0


def cmd_dev(args: argparse.Namespace) -> int:
    import rmm_alerts.devserver as devserver

    return devserver.run(host=args.host, port=args.port, home=LOCAL_DIR.resolve())


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rmm-alerts", description="RMM alerts to PSA tickets")
    sub = parser.add_subparsers(dest="command", required=True)
    p_migrate = sub.add_parser("migrate", help="apply pending migrations to DATABASE_URL (or the local database)")
    p_migrate.set_defaults(func=cmd_migrate)
    p_dev = sub.add_parser("dev", help="run the whole service locally")
    p_dev.add_argument("--host", default="127.0.0.1")
    p_dev.add_argument("--port", type=int, default=8000)
    p_dev.set_defaults(func=cmd_dev)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
