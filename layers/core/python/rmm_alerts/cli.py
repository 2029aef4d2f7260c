"""The ``rmm-alerts`` command: ``migrate``, ``dev``, ``poll``, ``sim``, ``sample``, ``ticket close`` (dev)
and ``admin create-tenant``."""

from __future__ import annotations

import argparse
import json
import logging
import os
import sys
from importlib import metadata
from pathlib import Path
from typing import Any

from rmm_alerts import provisioning as p

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


def cmd_create_tenant(
    args: argparse.Namespace, *, invoker: p.FunctionInvoker | None = None, session: Any = None
) -> int:
    """A tenant and its first admin in a deployed stack (``rmm_alerts.provisioning``)."""
    if session is None:
        import boto3

        session = boto3.session.Session(region_name=args.region, profile_name=args.profile)
    function, pool = args.function, args.user_pool_id
    if not (function and pool):
        outputs = p.stack_outputs(session.client("cloudformation"), args.stack_name)
        function = function or outputs.get(p.FUNCTION_OUTPUT)
        pool = pool or outputs.get(p.USER_POOL_OUTPUT)
        if not (function and pool):
            print(
                f"error: stack {args.stack_name} has no {p.FUNCTION_OUTPUT}/{p.USER_POOL_OUTPUT} output",
                file=sys.stderr,
            )
            return 2
    try:
        created = p.create_tenant(
            name=args.name,
            admin_email=args.admin_email,
            invoker=invoker or p.LambdaInvoker(session.client("lambda")),
            function_name=function,
            cognito=session.client("cognito-idp"),
            user_pool_id=pool,
            tenant_id=args.tenant_id,
        )
    except p.ProvisioningError as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 1
    print(f"tenant {created.tenant_id} ({'created' if created.tenant_created else 'already there'})")
    state = "created, invitation e-mailed" if created.user_created else "already there"
    print(f"admin  {created.username} ({state}; group {p.ADMIN_GROUP}, {p.TENANT_ATTRIBUTE}={created.tenant_id})")
    return 0


def cmd_bench(args: argparse.Namespace) -> int:
    """Run the repository's benchmark (scripts/bench.py) with this interpreter."""
    import subprocess

    script = Path(__file__).resolve().parents[4] / "scripts" / "bench.py"
    if not script.is_file():
        print("rmm-alerts bench: needs a checkout of the repository (scripts/bench.py)", file=sys.stderr)
        return 2
    return subprocess.call([sys.executable, str(script), *args.bench_args])  # noqa: S603 (our own script)


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


def cmd_ticket_close(args: argparse.Namespace) -> int:
    """Dev only: close a ticket in the PSA tables as a technician would, and publish TICKET_CLOSED
    on the local event bus of the running ``rmm-alerts dev`` (which resets the alert in the RMM)."""
    from datetime import UTC, datetime
    from uuid import UUID

    import psycopg
    from psycopg.rows import dict_row

    from rmm_alerts import devsim, localbus
    from rmm_alerts.db.ticket_close import TicketCloseRepository

    home = LOCAL_DIR.resolve()
    running = devsim.runtime(home)
    if not running:
        print("no running `rmm-alerts dev` found (start it first)", file=sys.stderr)
        return 1
    try:
        tenant = UUID(args.tenant) if args.tenant else None
        user = UUID(args.user_id) if args.user_id else None
    except ValueError:
        print("--tenant and --user-id must be UUIDs", file=sys.stderr)
        return 2
    now = datetime.now(UTC)
    with psycopg.connect(running["databaseUrl"], row_factory=dict_row) as conn:
        rows = TicketCloseRepository(conn).close_by_number(args.ticket_number, tenant, now)
    if not rows:
        print(f"ticket {args.ticket_number} not found", file=sys.stderr)
        return 1
    if len(rows) > 1:
        print(f"ticket {args.ticket_number} exists in several tenants: pass --tenant", file=sys.stderr)
        return 2
    (row,) = rows
    if row["closed_at"] is not None:
        print(f"ticket {args.ticket_number} was already closed; publishing TICKET_CLOSED again")
    detail = {"tenantId": str(row["tenant"]), "ticketId": str(row["ticket_id"]), "closedAt": now.isoformat()}
    if user is not None:
        detail["closedByUserId"] = str(user)
    entry = localbus.publish(home, detail_type="TICKET_CLOSED", source="psa.local", detail=detail)
    print(f"closed ticket {args.ticket_number} ({row['ticket_id']}); TICKET_CLOSED is on the local bus")
    if args.no_wait:
        return 0
    # The dev server removes the entry once ticket_closed has handled it (or parks it when it failed):
    # wait for that, so what follows (e.g. `sim state`) sees the reset.
    import time

    deadline = time.monotonic() + 60
    while entry.exists() and time.monotonic() < deadline:
        time.sleep(0.1)
    if entry.exists():
        print("TICKET_CLOSED not delivered yet (is rmm-alerts dev still running?)", file=sys.stderr)
        return 1
    if (entry.parent / "failed" / entry.name).exists():
        print("TICKET_CLOSED delivery failed: see the dev console", file=sys.stderr)
        return 1
    print("TICKET_CLOSED delivered to ticket_closed")
    return 0


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

    p_bench = sub.add_parser(
        "bench",
        help="measure ingest latency, round trips, throughput, a storm, poll cycles, cold imports, layer size",
        description="Run scripts/bench (docs/performance.md) and print its Markdown table. Options after "
        "'bench' go to the benchmark: 'rmm-alerts bench --help' lists them.",
        add_help=False,
    )
    p_bench.add_argument("bench_args", nargs=argparse.REMAINDER)
    p_bench.set_defaults(func=cmd_bench)

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

    p_admin = sub.add_parser("admin", help="operate a deployed stack")
    admin_sub = p_admin.add_subparsers(dest="admin_command", required=True)
    p_tenant = admin_sub.add_parser(
        "create-tenant", help="create a tenant (through the stack's migrate function) and its first Cognito admin"
    )
    p_tenant.add_argument("--name", required=True, help="the tenant's name")
    p_tenant.add_argument(
        "--admin-email", required=True, help="the first admin's e-mail (Cognito sends the invitation)"
    )
    p_tenant.add_argument("--tenant-id", help="use this tenant id (e.g. the PSA's own) instead of a new one")
    p_tenant.add_argument("--stack-name", default="RmmAlerts", help="CloudFormation stack to read outputs from")
    p_tenant.add_argument("--function", help="the migrate function's name (default: stack output MigrateFunctionName)")
    p_tenant.add_argument("--user-pool-id", help="the Cognito user pool (default: stack output UserPoolId)")
    p_tenant.add_argument("--region", help="AWS region (default: the AWS CLI's)")
    p_tenant.add_argument("--profile", help="AWS profile (default: the AWS CLI's)")
    p_tenant.set_defaults(func=cmd_create_tenant)
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
    p_ticket = sub.add_parser("ticket", help="dev only: act on a ticket of a running `rmm-alerts dev` as the PSA would")
    ticket_sub = p_ticket.add_subparsers(dest="ticket_command", required=True)
    p_close = ticket_sub.add_parser(
        "close", help="close a ticket like a technician and publish TICKET_CLOSED on the local event bus"
    )
    p_close.add_argument("ticket_number", help="the ticket's number, as the PSA shows it")
    p_close.add_argument("--tenant", help="the tenant id (needed only when several tenants have that number)")
    p_close.add_argument("--user-id", help="the closing technician's user id (default: none, shown as system)")
    p_close.add_argument(
        "--no-wait",
        action="store_true",
        help="return once TICKET_CLOSED is on the bus (default: wait up to 60 s until rmm-alerts dev delivered it)",
    )
    p_close.set_defaults(func=cmd_ticket_close)
    return parser


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if argv[:1] == ["bench"]:  # everything after it is the benchmark's (argparse would eat "--x")
        return cmd_bench(argparse.Namespace(bench_args=argv[1:]))
    args = build_parser().parse_args(argv)
    if getattr(args, "provider", None) == "tactical":
        args.provider = "tacticalrmm"
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
