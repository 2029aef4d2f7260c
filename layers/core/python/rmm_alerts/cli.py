"""The ``rmm-alerts`` command: ``migrate``, ``dev``, ``poll`` and ``sim``."""

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


def cmd_poll(args: argparse.Namespace) -> int:
    """One reconciliation cycle now; prints its summary (exit 1 when it failed)."""
    import json
    from uuid import UUID

    from rmm_alerts import config, db, devsim, reconcile
    from rmm_alerts.providers import client_for_integration

    home = LOCAL_DIR.resolve()
    running = devsim.runtime(home)
    server = None
    url = os.environ.get("DATABASE_URL") or (running or {}).get("databaseUrl")
    if not url:
        url, server = _local_database_url()
    state = os.environ.get("LOCAL_STATE_DIR") or str(home / "state")
    if running:  # the dev simulator listens on loopback http
        os.environ.setdefault("ALLOW_LOOPBACK_PROVIDERS", "true")
    try:
        iid = UUID(args.integration_id)
    except ValueError:
        print("integration id must be a UUID", file=sys.stderr)
        return 2
    pool = db.create_pool(config.load(config.DatabaseSettings, {"DATABASE_URL": url}), max_size=3, name="rmm-poll")
    pool.open(wait=True)
    try:
        with pool.connection() as conn:
            row = conn.execute("SELECT tenant FROM rmm_integrations WHERE integration_id = %s", (iid,)).fetchone()
        if row is None:
            print(f"integration {iid} not found", file=sys.stderr)
            return 1
        summary = reconcile.poll(
            row["tenant"] if isinstance(row, dict) else row[0],
            iid,
            pool=pool,
            client_factory=lambda r: client_for_integration(r, local_state_dir=state),
        )
    finally:
        pool.close()
        if server is not None:
            server.stop()  # type: ignore[attr-defined]
    print(json.dumps(summary.as_dict(), indent=2))
    return 1 if summary.status == "failed" else 0


def cmd_sim(args: argparse.Namespace) -> int:
    """Drive the running dev simulator over its control API."""
    import json

    import httpx

    from rmm_alerts import devsim

    running = devsim.runtime(LOCAL_DIR.resolve())
    if not running:
        print("no running `rmm-alerts dev` found (start it first)", file=sys.stderr)
        return 1
    base = running[args.provider]
    body: dict[str, object] = {}
    if args.provider == "ninjaone":
        body.update(device=args.device or 101, condition=args.condition or "cpu-high")
    else:
        body.update(agent=args.agent or "agent-101", check=args.check if args.check is not None else 7)
        if args.alert_id is not None:
            body["id"] = args.alert_id
    if args.message:
        body["message"] = args.message
    if args.action == "clear" and args.no_webhook:
        body["webhook"] = False
    response = httpx.post(f"{base}/_sim/{args.action}", json=body, timeout=30.0)
    print(json.dumps(response.json(), indent=2))
    return 0 if response.status_code == 200 else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="rmm-alerts", description="RMM alerts to PSA tickets")
    sub = parser.add_subparsers(dest="command", required=True)
    p_migrate = sub.add_parser("migrate", help="apply pending migrations to DATABASE_URL (or the local database)")
    p_migrate.set_defaults(func=cmd_migrate)
    p_dev = sub.add_parser("dev", help="run the whole service locally")
    p_dev.add_argument("--host", default="127.0.0.1")
    p_dev.add_argument("--port", type=int, default=8000)
    p_dev.set_defaults(func=cmd_dev)
    p_poll = sub.add_parser("poll", help="run one reconciliation cycle of an integration now and print its summary")
    p_poll.add_argument("integration_id")
    p_poll.set_defaults(func=cmd_poll)
    p_sim = sub.add_parser("sim", help="drive the built-in RMM simulator of a running `rmm-alerts dev`")
    p_sim.add_argument("action", choices=["fire", "clear", "state"])
    p_sim.add_argument("provider", choices=["ninjaone", "tacticalrmm"])
    p_sim.add_argument("--device", type=int, help="NinjaOne device id (default 101)")
    p_sim.add_argument("--condition", help="NinjaOne condition uid (default cpu-high)")
    p_sim.add_argument("--agent", help="Tactical agent id (default agent-101)")
    p_sim.add_argument("--check", type=int, help="Tactical check id (default 7)")
    p_sim.add_argument("--alert-id", type=int, help="Tactical alert id to clear")
    p_sim.add_argument("--message")
    p_sim.add_argument("--no-webhook", action="store_true", help="clear silently: only the poller will notice")
    p_sim.set_defaults(func=cmd_sim)
    args = parser.parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
