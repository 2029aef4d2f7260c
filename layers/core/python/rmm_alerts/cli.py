"""The ``rmm-alerts`` command: ``migrate``, ``dev`` and ``admin create-tenant``."""

from __future__ import annotations

import argparse
import logging
import os
import sys
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


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="rmm-alerts", description="RMM alerts to PSA tickets")
    sub = parser.add_subparsers(dest="command", required=True)
    p_migrate = sub.add_parser("migrate", help="apply pending migrations to DATABASE_URL (or the local database)")
    p_migrate.set_defaults(func=cmd_migrate)
    p_dev = sub.add_parser("dev", help="run the whole service locally")
    p_dev.add_argument("--host", default="127.0.0.1")
    p_dev.add_argument("--port", type=int, default=8000)
    p_dev.set_defaults(func=cmd_dev)
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
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(level=os.environ.get("LOG_LEVEL", "WARNING"), stream=sys.stderr)
    return int(args.func(args))


if __name__ == "__main__":
    raise SystemExit(main())
