"""Apply versioned SQL migrations under a PostgreSQL advisory lock.

Files in this package named ``NNNN_description.sql`` are applied in order, each in its own
transaction, and recorded in ``schema_migrations`` with a checksum. Rerunning is a no-op; two
concurrent runs serialize on the advisory lock, and the second finds nothing to do. A changed
checksum for an applied file is an error: applied migrations are never rewritten.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass
from importlib import resources
from typing import Any

import psycopg

logger = logging.getLogger(__name__)

# Arbitrary constant shared by every process that migrates this schema.
MIGRATION_LOCK_KEY = 0x524D4D5F414C5254  # "RMM_ALRT"


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


def apply_all(conninfo: str) -> list[str]:
    """Apply every pending migration; return the versions applied by this call."""
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
                with conn.transaction():
                    conn.execute(migration.sql.encode())
                    conn.execute(
                        "INSERT INTO schema_migrations (version, name, checksum) VALUES (%s, %s, %s)",
                        (migration.version, migration.name, migration.checksum),
                    )
                logger.info("applied migration %s_%s", migration.version, migration.name)
                applied_now.append(migration.version)
        finally:
            conn.execute("SELECT pg_advisory_unlock(%s)", (MIGRATION_LOCK_KEY,))
    return applied_now


def lambda_handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
    """Entry point of the deploy-time migration function (CDK ``triggers.Trigger``)."""
    from rmm_alerts import config, db

    settings = config.cached(config.DatabaseSettings)
    applied = apply_all(db.conninfo(settings))
    return {"applied": applied}
