"""Least privilege: the functions' role (``rmm_app``, migration 0003) reads and writes rows, through
PgBouncer, and can change nothing else; the owner keeps the schema. Logging in as it with the
deploy-time password, and refreshing a rotated secret once."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws
from psycopg import sql

from rmm_alerts import config, db
from rmm_alerts.localpooler import PgBouncer
from rmm_alerts.migrations import APP_ROLE, MigrationError, grant_app_login, scram_verifier, with_owner_login

DENIED = (psycopg.errors.InsufficientPrivilege,)


@pytest.fixture
def app(database_url: str) -> Iterator[psycopg.Connection[Any]]:
    """The application role, through the pooler, as the functions connect."""
    with psycopg.connect(database_url, autocommit=True, prepare_threshold=None) as c:
        yield c


@pytest.mark.parametrize(
    "statement",
    [
        "CREATE TABLE sneaky (id int)",
        "ALTER TABLE rmm_alerts ADD COLUMN sneaky int",
        "DROP TABLE rmm_outbox",
        "TRUNCATE rmm_alerts",
        "CREATE INDEX sneaky ON rmm_alerts (tenant)",
        "SELECT * FROM schema_migrations",
        "DELETE FROM schema_migrations",
        "SET ROLE postgres",
        "CREATE SCHEMA sneaky",
    ],
)
def test_the_app_role_cannot_change_the_schema(app: psycopg.Connection[Any], statement: str) -> None:
    with pytest.raises(DENIED):
        app.execute(statement)


def test_the_app_role_reads_and_writes_every_service_table(conn: Any, app: psycopg.Connection[Any]) -> None:
    assert app.execute("SELECT current_user").fetchone() == ("rmm_app",)
    tables = [
        r["tablename"]
        for r in conn.execute("SELECT tablename FROM pg_tables WHERE schemaname = 'public' ORDER BY 1").fetchall()
    ]
    assert "rmm_alerts" in tables and "tickets" in tables
    for table in tables:
        expected = table != "schema_migrations"
        for privilege in ("SELECT", "INSERT", "UPDATE", "DELETE"):
            row = conn.execute("SELECT has_table_privilege('rmm_app', %s, %s) AS ok", (table, privilege)).fetchone()
            assert row["ok"] is expected, (table, privilege)
    tenant = uuid.uuid4()
    app.execute("INSERT INTO tenants (tenant, tenant_name) VALUES (%s, 'x')", (tenant,))
    app.execute("UPDATE tenants SET tenant_name = 'y' WHERE tenant = %s", (tenant,))
    assert app.execute("SELECT tenant_name FROM tenants WHERE tenant = %s", (tenant,)).fetchone() == ("y",)
    app.execute("DELETE FROM tenants WHERE tenant = %s", (tenant,))


def test_tables_of_later_migrations_are_granted_automatically(conn: Any, app: psycopg.Connection[Any]) -> None:
    # What a later migration does, as the owner: the default privileges of 0003 cover it.
    conn.execute("CREATE TABLE later_feature (tenant uuid NOT NULL, id bigserial, note text, PRIMARY KEY (tenant, id))")
    tenant = uuid.uuid4()
    app.execute("INSERT INTO later_feature (tenant, note) VALUES (%s, 'hello')", (tenant,))
    assert app.execute("SELECT note FROM later_feature WHERE tenant = %s", (tenant,)).fetchone() == ("hello",)
    with pytest.raises(DENIED):
        app.execute("ALTER TABLE later_feature ADD COLUMN sneaky int")


def test_role_limits_apply_through_the_pooler(app: psycopg.Connection[Any]) -> None:
    row = app.execute(
        "SELECT current_setting('statement_timeout'), current_setting('lock_timeout'),"
        " current_setting('idle_in_transaction_session_timeout')"
    ).fetchone()
    assert row == ("5s", "5s", "15s")
    with pytest.raises(psycopg.errors.QueryCanceled):
        app.execute("SELECT pg_sleep(6)")


# -- logging in -----------------------------------------------------------------------------


@pytest.fixture
def rotating_role(conn: Any, pg_admin_url: str) -> Iterator[str]:
    """A login role with rmm_app's rights, so changing its password leaves rmm_app alone."""
    name = f"rmm_app_rot_{uuid.uuid4().hex[:8]}"
    conn.execute(sql.SQL("CREATE ROLE {} LOGIN IN ROLE rmm_app").format(sql.Identifier(name)))
    yield name
    with psycopg.connect(pg_admin_url, autocommit=True) as admin:
        admin.execute(sql.SQL("DROP ROLE IF EXISTS {}").format(sql.Identifier(name)))


def _set_password(conn: Any, role: str, password: str) -> None:
    conn.execute(
        sql.SQL("ALTER ROLE {} PASSWORD {}").format(sql.Identifier(role), sql.Literal(scram_verifier(password)))
    )


def _secret_login(conn: Any, pooler: PgBouncer, role: str, password: str) -> tuple[Any, str, config.DatabaseSettings]:
    """A (moto) Secrets Manager secret holding ``role``'s ``password``, and settings that log in
    with it through the pooler: (client, secret ARN, settings)."""
    sm = boto3.client("secretsmanager", region_name="eu-west-1")
    arn = sm.create_secret(Name=f"db-{role}", SecretString=f'{{"username": "{role}", "password": "{password}"}}')["ARN"]
    settings = config.load(
        config.DatabaseSettings,
        {
            "DB_HOST": "127.0.0.1",
            "DB_PORT": str(pooler.port),
            "DB_NAME": conn.info.dbname,
            "DB_SECRET_ARN": arn,
            "DB_SSLMODE": "disable",  # the test pooler speaks no TLS
        },
    )
    return sm, arn, settings


def test_scram_verifier_is_what_postgres_checks(conn: Any, pooler: PgBouncer, rotating_role: str) -> None:
    _set_password(conn, rotating_role, "correct horse")
    dbname = conn.info.dbname
    with psycopg.connect(pooler.url(dbname, rotating_role, "correct horse"), autocommit=True) as c:
        assert c.execute("SELECT 1").fetchone() == (1,)
    with pytest.raises(psycopg.OperationalError) as info:
        psycopg.connect(pooler.url(dbname, rotating_role, "wrong horse"))
    assert db.is_auth_failure(info.value)
    stored = conn.execute("SELECT rolpassword FROM pg_authid WHERE rolname = %s", (rotating_role,)).fetchone()
    assert stored["rolpassword"].startswith("SCRAM-SHA-256$4096:") and "correct horse" not in stored["rolpassword"]


def test_grant_app_login_only_touches_the_app_role(admin_database_url: str) -> None:
    with pytest.raises(MigrationError, match="must be 'rmm_app'"):
        grant_app_login(admin_database_url, "postgres", "x")
    assert APP_ROLE == "rmm_app"


def test_a_rotated_secret_is_refreshed_once_on_an_auth_failure(
    conn: Any, pooler: PgBouncer, rotating_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        sm, arn, settings = _secret_login(conn, pooler, rotating_role, "before")
        _set_password(conn, rotating_role, "before")

        def who() -> Any:
            pool = db.create_pool(settings, max_size=1, name="rotation-test")
            pool.open(wait=False)
            try:
                with pool.connection() as c:
                    return c.execute("SELECT current_user").fetchone()
            finally:
                pool.close()

        assert who() == (rotating_role,)  # the secret is now cached (5 min)
        # Rotation: the password changes in the database and in the secret.
        _set_password(conn, rotating_role, "after")
        sm.put_secret_value(SecretId=arn, SecretString=f'{{"username": "{rotating_role}", "password": "after"}}')
        stale = db.Credentials(settings).conninfo()
        assert "password=before" in stale  # still cached ...
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(stale)  # ... and refused
        assert who() == (rotating_role,)  # refreshed once on the failure, then logged in


def test_the_migration_waits_out_an_owner_secret_being_rotated(
    conn: Any, pooler: PgBouncer, rotating_role: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        sm, arn, settings = _secret_login(conn, pooler, rotating_role, "old")
        # Mid-rotation: setSecret has changed the password, finishSecret has not yet moved AWSCURRENT.
        _set_password(conn, rotating_role, "new")
        waits: list[float] = []

        def finish_rotation_after_two_waits(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 2:
                sm.put_secret_value(SecretId=arn, SecretString=f'{{"username": "{rotating_role}", "password": "new"}}')

        def who(owner: str) -> Any:
            with psycopg.connect(owner, autocommit=True) as c:
                return c.execute("SELECT current_user").fetchone()

        assert with_owner_login(settings, who, wait_s=0.5, sleep=finish_rotation_after_two_waits) == (rotating_role,)
        assert waits == [0.5, 0.5]

        # A password that never comes right fails after the last attempt, with the login error.
        _set_password(conn, rotating_role, "newer")
        tries: list[float] = []
        with pytest.raises(psycopg.OperationalError) as info:
            with_owner_login(settings, who, attempts=3, wait_s=0.1, sleep=tries.append)
        assert db.is_auth_failure(info.value) and tries == [0.1, 0.1]

        # Anything but a refused login is not retried.
        def broken(owner: str) -> Any:
            raise psycopg.OperationalError("connection refused")

        with pytest.raises(psycopg.OperationalError, match="connection refused"):
            with_owner_login(settings, broken, sleep=tries.append)
        assert tries == [0.1, 0.1]
