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


def test_a_migration_gives_up_when_a_long_transaction_holds_its_table(
    empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    apply_all(empty_db)
    extra = Migration("9999", "add_column", "ALTER TABLE rmm_alerts ADD COLUMN later int;")
    monkeypatch.setattr("rmm_alerts.migrations.available", lambda: [*available(), extra])
    with psycopg.connect(empty_db) as long_tx:
        long_tx.execute("SELECT count(*) FROM rmm_alerts")  # holds ACCESS SHARE until it ends
        with pytest.raises(MigrationError, match=r"9999_add_column gave up: .* locked .* over 200 ms \(2 attempts\)"):
            apply_all(empty_db, lock_timeout_ms=200, attempts=2, retry_pause_s=0.1)
        long_tx.rollback()
    assert "9999" not in [v for v, _ in _applied(empty_db)]
    with psycopg.connect(empty_db) as c:
        cols = c.execute(
            "SELECT 1 FROM information_schema.columns WHERE table_name = 'rmm_alerts' AND column_name = 'later'"
        ).fetchall()
        assert cols == []  # rolled back whole
    assert apply_all(empty_db, lock_timeout_ms=200) == ["9999"]  # once the table is free, it applies


def test_a_migration_runs_under_its_statement_timeout(empty_db: str, monkeypatch: pytest.MonkeyPatch) -> None:
    slow = Migration("9998", "slow", "SELECT pg_sleep(2);")
    monkeypatch.setattr("rmm_alerts.migrations.available", lambda: [slow])
    with pytest.raises(MigrationError, match="9998_slow ran over its statement timeout of 300 ms"):
        apply_all(empty_db, statement_timeout_ms=300)
    assert _applied(empty_db) == []


def test_each_migration_runs_under_its_lock_and_statement_timeouts(
    empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    probe = Migration(
        "9997",
        "probe",
        "CREATE TABLE probe AS"
        " SELECT current_setting('lock_timeout') AS lt, current_setting('statement_timeout') AS st;",
    )
    monkeypatch.setattr("rmm_alerts.migrations.available", lambda: [probe])
    apply_all(empty_db, lock_timeout_ms=1234, statement_timeout_ms=56_000)
    with psycopg.connect(empty_db) as conn:
        assert conn.execute("SELECT lt, st FROM probe").fetchone() == ("1234ms", "56s")
