"""The ``rmm-alerts`` command: ``migrate``, ``dev`` and ``sample``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from importlib import metadata
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


def cmd_sample(args: argparse.Namespace) -> int:
    from rmm_alerts import samples

    payload, note = samples.generate(
        args.provider,
        args.kind,
        state_dir=LOCAL_DIR.resolve(),
        device=args.device,
        organization=args.organization,
        condition=args.condition,
        severity=args.severity,
        pairing=args.pairing,
    )
    if note:
        print(f"note: {note}", file=sys.stderr)
    print(json.dumps(payload, indent=2))
    return 0


def _version() -> str:
    try:
        return metadata.version("rmm-alerts")
    except metadata.PackageNotFoundError:  # running from a source tree without installing
        return "unknown"


_HOME_HELP = f"Local state lives in {LOCAL_DIR}/ (set RMM_ALERTS_HOME to move it)."


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="rmm-alerts",
        description="RMM alerts to PSA tickets: NinjaOne and TacticalRMM webhooks, tenant rules, one open "
        "ticket per device and condition.",
        epilog=f"Run 'rmm-alerts COMMAND --help' for a command's options. {_HOME_HELP} "
        "Set LOG_LEVEL (default WARNING) for more console output.",
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {_version()}")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p_migrate = sub.add_parser(
        "migrate",
        help="apply pending database migrations",
        description="Apply pending migrations to DATABASE_URL, or, when it is unset, to the embedded local "
        "database (started for the run and stopped after). Idempotent; safe to run from two processes at once.",
        epilog=_HOME_HELP,
    )
    p_migrate.set_defaults(func=cmd_migrate)

    p_dev = sub.add_parser(
        "dev",
        help="run the whole service locally",
        description="Run the whole service on this machine: embedded PostgreSQL (or DATABASE_URL), migrations, "
        "a demo tenant on first start, and a local API Gateway in front of the real handlers "
        "(webhooks and the /v1 admin API). Prints the URLs, webhook secrets and the admin token. "
        "Ctrl-C stops everything; the next start reuses the data.",
        epilog=_HOME_HELP,
    )
    p_dev.add_argument(
        "--host",
        default="127.0.0.1",
        help="address to listen on. Anything other than loopback exposes the webhooks and the admin API, "
        "and its admin token, to the network (default: %(default)s)",
    )
    p_dev.add_argument("--port", type=int, default=8000, help="port to listen on (default: %(default)s)")
    p_dev.set_defaults(func=cmd_dev)

    p_sample = sub.add_parser(
        "sample",
        help="print a sample webhook payload dated now",
        description="Print a webhook payload with fresh ids and the current time, ready for "
        "'curl -d @-'. A trigger remembers its pairing id (NinjaOne seriesUid, TacticalRMM alertId) so that "
        "the next reset of the same device and condition pairs with it. Defaults match the demo tenant "
        "(NinjaOne organization 2 and TacticalRMM client 2 are mapped to 'Acme Corp').",
        epilog=_HOME_HELP,
    )
    p_sample.add_argument("provider", choices=["ninjaone", "tactical"], help="which RMM's webhook body")
    p_sample.add_argument("kind", choices=["trigger", "reset"], help="alert triggered, or reset/resolved")
    p_sample.add_argument(
        "--device",
        help="RMM device id (NinjaOne deviceId; TacticalRMM agentId) "
        "(default: the demo device: NinjaOne 101, TacticalRMM ACME-WS-01's agent)",
    )
    p_sample.add_argument(
        "--organization", help="RMM organization id (NinjaOne organizationId; TacticalRMM clientId) (default: 2)"
    )
    p_sample.add_argument(
        "--condition",
        help="condition identity (NinjaOne sourceConfigUid; TacticalRMM checkId) "
        "(default: the demo disk space condition)",
    )
    p_sample.add_argument(
        "--severity",
        help="NinjaOne CRITICAL|MAJOR|MODERATE|MINOR|NONE; TacticalRMM error|warning|info (default: MAJOR / error)",
    )
    p_sample.add_argument(
        "--pairing",
        help="pairing id (NinjaOne seriesUid, TacticalRMM alertId) instead of a fresh one (trigger) "
        "or the remembered one (reset)",
    )
    p_sample.set_defaults(func=cmd_sample)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    if getattr(args, "provider", None) == "tactical":
        args.provider = "tacticalrmm"
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
