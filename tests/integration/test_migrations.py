"""rmm-alerts migrate: ordered, recorded, idempotent, safe to run twice at once."""

from __future__ import annotations

import subprocess
import sys
import threading
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg import sql

from rmm_alerts.localdb import with_database
from rmm_alerts.migrations import Migration, MigrationError, apply_all, available


@pytest.fixture
def empty_db(pg_admin_url: str) -> Iterator[str]:
    name = f"rmm_mig_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def _applied(url: str) -> list[tuple[Any, ...]]:
    with psycopg.connect(url) as conn:
        return conn.execute("SELECT version, name FROM schema_migrations ORDER BY version").fetchall()


def test_applies_in_order_and_records(empty_db: str) -> None:
    versions = [m.version for m in available()]
    assert versions == sorted(versions) and versions[:2] == ["0001", "0002"]
    assert apply_all(empty_db) == versions
    assert [v for v, _ in _applied(empty_db)] == versions


def test_rerun_is_a_no_op(empty_db: str) -> None:
    apply_all(empty_db)
    assert apply_all(empty_db) == []


def test_two_concurrent_runs_are_safe(empty_db: str) -> None:
    results: list[list[str]] = []
    errors: list[BaseException] = []
    barrier = threading.Barrier(2)

    def run() -> None:
        barrier.wait()
        try:
            results.append(apply_all(empty_db))
        except BaseException as exc:  # pragma: no cover - reported below
            errors.append(exc)

    threads = [threading.Thread(target=run) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert errors == []
    assert sorted(map(len, results)) == [0, len(available())]


def test_a_changed_applied_migration_is_refused(empty_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    apply_all(empty_db)
    tampered = [Migration(m.version, m.name, m.sql + "\n-- edited") for m in available()]
    monkeypatch.setattr("rmm_alerts.migrations.available", lambda: tampered)
    with pytest.raises(MigrationError, match="changed after it was applied"):
        apply_all(empty_db)


def test_cli_migrate_uses_database_url(empty_db: str) -> None:
    def migrate() -> str:
        return subprocess.run(
            [sys.executable, "-m", "rmm_alerts.cli", "migrate"],
            env={"DATABASE_URL": empty_db, "PATH": "/usr/bin:/bin"},
            capture_output=True,
            text=True,
            check=True,
        ).stdout

    assert f"applied migrations: {', '.join(m.version for m in available())}" in migrate()
    assert "up to date" in migrate()


def test_check_constraints_guard_the_vocabularies(empty_db: str) -> None:
    apply_all(empty_db)
    with psycopg.connect(empty_db, autocommit=True) as conn:
        t = uuid.uuid4()
        conn.execute("INSERT INTO tenants (tenant) VALUES (%s)", (t,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute("INSERT INTO rmm_integrations (tenant, provider, name) VALUES (%s, 'datto', 'x')", (t,))
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO rmm_outbox (tenant, kind, event_type, payload) VALUES (%s, 'event', 'NOPE', '{}')",
                (t,),
            )
        with pytest.raises(psycopg.errors.CheckViolation):
            conn.execute(
                "INSERT INTO rmm_integrations (tenant, provider, name, polling_interval_minutes)"
                " VALUES (%s, 'ninjaone', 'x', 61)",
                (t,),
            )
