"""Apply versioned SQL migrations under a PostgreSQL advisory lock.

Files in this package named ``NNNN_description.sql`` are applied in order, each in its own
transaction, and recorded in ``schema_migrations`` with a checksum. Rerunning is a no-op; two
concurrent runs serialize on the advisory lock, and the second finds nothing to do. A changed
checksum for an applied file is an error: applied migrations are never rewritten.

Each migration runs with ``SET LOCAL lock_timeout`` and ``statement_timeout``: a DDL statement
waiting for a table lock makes every later query on that table queue behind it, so a migration
gives up quickly (and is retried a few times) rather than stall live traffic behind a long
transaction. The connection is direct and owns its session (the advisory lock is session-level).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import logging
import os
import time
from collections.abc import Callable
from dataclasses import dataclass
from importlib import resources
from typing import TYPE_CHECKING, Any, TypeVar
from uuid import UUID, uuid4

import psycopg
from psycopg import sql

logger = logging.getLogger(__name__)

# Arbitrary constant shared by every process that migrates this schema.
MIGRATION_LOCK_KEY = 0x524D4D5F414C5254  # "RMM_ALRT"
# The role the functions log in as (migration 0003).
APP_ROLE = "rmm_app"
# How long a refused owner login is retried (with the secret fetched again): see with_owner_login.
OWNER_LOGIN_ATTEMPTS = 10
OWNER_LOGIN_WAIT_S = 6.0

if TYPE_CHECKING:
    from rmm_alerts.config import DatabaseSettings

T = TypeVar("T")


@dataclass(frozen=True)
class Migration:
    version: str
    name: str
    sql: str

    @property
    def checksum(self) -> str:
        return hashlib.sha256(self.sql.encode()).hexdigest()


class MigrationError(RuntimeError):
    pass


def available() -> list[Migration]:
    """The migrations shipped in the package, in order."""
    folder = resources.files(__name__)
    found: list[Migration] = []
    for entry in folder.iterdir():
        if entry.name.endswith(".sql"):
            version, _, rest = entry.name.partition("_")
            found.append(Migration(version=version, name=rest.removesuffix(".sql"), sql=entry.read_text("utf-8")))
    found.sort(key=lambda m: m.version)
    versions = [m.version for m in found]
    if len(set(versions)) != len(versions):
        raise MigrationError(f"duplicate migration versions: {versions}")
    return found


def apply_all(
    conninfo: str,
    *,
    lock_timeout_ms: int = 5_000,
    statement_timeout_ms: int = 120_000,
    attempts: int = 3,
    retry_pause_s: float = 2.0,
) -> list[str]:
    """Apply every pending migration; return the versions applied by this call.

    A migration that cannot get its locks within ``lock_timeout_ms`` is rolled back and retried
    (``attempts`` in all), then fails with a ``MigrationError`` naming it.
    """
    applied_now: list[str] = []
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute("SELECT pg_advisory_lock(%s)", (MIGRATION_LOCK_KEY,))
        try:
            conn.execute(
                """CREATE TABLE IF NOT EXISTS schema_migrations (
                       version    text PRIMARY KEY,
                       name       text NOT NULL,
                       checksum   text NOT NULL,
                       applied_at timestamptz NOT NULL DEFAULT now())"""
            )
            done = {row[0]: row[1] for row in conn.execute("SELECT version, checksum FROM schema_migrations")}
            for migration in available():
                if migration.version in done:
                    if done[migration.version] != migration.checksum:
                        raise MigrationError(
                            f"migration {migration.version}_{migration.name} changed after it was applied"
                        )
                    continue
                for attempt in range(1, attempts + 1):
                    try:
                        _apply_one(conn, migration, lock_timeout_ms, statement_timeout_ms)
                        break
                    except psycopg.errors.LockNotAvailable as exc:
                        logger.warning(
                            "migration %s_%s: lock wait over %d ms (attempt %d of %d)",
                            migration.version,
                            migration.name,
                            lock_timeout_ms,
                            attempt,
                            attempts,
                        )
                        if attempt == attempts:
                            raise MigrationError(
                                f"migration {migration.version}_{migration.name} gave up: a table it changes "
                                f"stayed locked by another transaction for over {lock_timeout_ms} ms "
                                f"({attempts} attempts); nothing of it was applied, retry the deploy"
                            ) from exc
                        time.sleep(retry_pause_s)
                    except psycopg.errors.QueryCanceled as exc:
                        raise MigrationError(
                            f"migration {migration.version}_{migration.name} ran over its statement timeout "
                            f"of {statement_timeout_ms} ms; nothing of it was applied"
                        ) from exc
                logger.info("applied migration %s_%s", migration.version, migration.name)
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now


def _apply_one(conn: psycopg.Connection[Any], migration: Migration, lock_timeout_ms: int, statement_ms: int) -> None:
    with conn.transaction():
        # set_config(..., true) is SET LOCAL: it ends with this transaction.
        conn.execute(
            "SELECT set_config('lock_timeout', %s, true), set_config('statement_timeout', %s, true)",
            (f"{lock_timeout_ms}ms", f"{statement_ms}ms"),
        )
        conn.execute(migration.sql.encode())
        conn.execute(
            "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
            (migration.version, migration.name, migration.checksum),
        )


def scram_verifier(password: str, *, salt: bytes | None = None, iterations: int = 4096) -> str:
    """PostgreSQL's stored form of ``password`` (SCRAM-SHA-256), so the plaintext never reaches the
    server (nor its statement log)."""
    salt = salt if salt is not None else os.urandom(16)
    salted = hashlib.pbkdf2_hmac("sha256", password.encode(), salt, iterations)
    client_key = hmac.new(salted, b"Client Key", "sha256").digest()
    server_key = hmac.new(salted, b"Server Key", "sha256").digest()
    b64 = base64.b64encode
    stored = hashlib.sha256(client_key).digest()
    return f"SCRAM-SHA-256${iterations}:{b64(salt).decode()}${b64(stored).decode()}:{b64(server_key).decode()}"


def grant_app_login(conninfo: str, username: str, password: str) -> None:
    """Let the application role log in with ``password`` (run on every deploy, after migrating)."""
    if username != APP_ROLE:
        raise MigrationError(f"the application secret's username must be {APP_ROLE!r}, not {username!r}")
    with psycopg.connect(conninfo, autocommit=True) as conn:
        conn.execute(
            sql.SQL("ALTER ROLE {} WITH LOGIN PASSWORD {}").format(
                sql.Identifier(username), sql.Literal(scram_verifier(password))
            )
        )


def create_tenant(conninfo: str, name: str, tenant_id: UUID | None = None) -> tuple[UUID, bool]:
    """Create the tenant row (or find it by id); return its id and whether this call created it."""
    name = name.strip()
    if not name or len(name) > 255:
        raise ValueError("name: 1 to 255 characters")
    tenant = tenant_id or uuid4()
    with psycopg.connect(conninfo) as conn:
        row = conn.execute(
            """INSERT INTO tenants (tenant, tenant_name) VALUES (%s, %s)
               ON CONFLICT (tenant) DO NOTHING RETURNING tenant""",
            (tenant, name),
        ).fetchone()
    return tenant, row is not None


def with_owner_login(
    settings: DatabaseSettings,
    work: Callable[[str], T],
    *,
    attempts: int = OWNER_LOGIN_ATTEMPTS,
    wait_s: float = OWNER_LOGIN_WAIT_S,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """``work(conninfo)`` as the database owner, retrying a refused login with the secret fetched
    again, for about a minute.

    The owner's secret is rotated on a schedule, and right away when the stack is created, which is
    when this first runs: between the rotation's setSecret and finishSecret steps the database
    already has the new password while the secret's AWSCURRENT still holds the old one."""
    from rmm_alerts import db

    credentials = db.Credentials(settings)
    for attempt in range(1, attempts + 1):
        try:
            return work(credentials.conninfo())
        except psycopg.OperationalError as exc:
            if attempt == attempts or not db.is_auth_failure(exc) or not credentials.refresh():
                raise
            logger.warning("owner login refused (secret being rotated?); retrying", extra={"attempt": attempt})
        sleep(wait_s)
    raise AssertionError("unreachable")


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point of the deploy-time migration function (CDK ``triggers.Trigger``).

    Without an ``action`` (the deploy trigger) it migrates, then (with ``APP_DB_SECRET_ARN``) gives
    the application role its login. ``{"action": "create_tenant", "name": ..., "tenantId"?: ...}``
    creates a tenant (``rmm-alerts admin create-tenant`` invokes it: the database is only reachable
    from inside the VPC).
    """
    from rmm_alerts import config

    settings = config.cached(config.MigrateSettings)
    action = (event or {}).get("action", "migrate")
    if action == "migrate":

        def migrate(owner: str) -> list[str]:
            applied = apply_all(
                owner,
                lock_timeout_ms=settings.migrate_lock_timeout_ms,
                statement_timeout_ms=settings.db_statement_timeout_ms,
            )
            if settings.app_db_secret_arn:
                from aws_lambda_powertools.utilities import parameters

                secret = parameters.get_secret(settings.app_db_secret_arn, transform="json", force_fetch=True)
                if not isinstance(secret, dict):
                    raise MigrationError("APP_DB_SECRET_ARN is not a JSON object")
                grant_app_login(owner, str(secret["username"]), str(secret["password"]))
            return applied

        return {"applied": with_owner_login(settings, migrate)}
    if action == "create_tenant":
        raw_id = event.get("tenantId")
        try:
            tenant_id = UUID(str(raw_id)) if raw_id else None
        except ValueError:
            return {"error": "tenantId: not a UUID"}
        name = str(event.get("name") or "")
        try:
            tenant, created = with_owner_login(settings, lambda owner: create_tenant(owner, name, tenant_id))
        except ValueError as exc:
            return {"error": str(exc)}
        return {"tenantId": str(tenant), "created": created}
    return {"error": f"action: unknown action {action!r} (migrate, create_tenant)"}
