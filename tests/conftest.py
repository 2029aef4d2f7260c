"""Test database: one real PostgreSQL server per session (embedded, or ``DATABASE_URL``) with
PgBouncer in front of it (transaction pooling, as strict as RDS Proxy), one migrated template
database, and a fresh database cloned from it for every test that asks.

What the functions use (``database_url``, ``settings``, ``pool``) logs in as the application role
``rmm_app`` through PgBouncer; migrations and the tests' own arrange/assert connections
(``admin_database_url``, ``conn``) go directly to the server as its owner.
"""

from __future__ import annotations

import os
import shutil
import tempfile
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import psycopg
import pytest
from psycopg import sql

from rmm_alerts import config, db
from rmm_alerts.localdb import LocalServer, with_database
from rmm_alerts.localpooler import PgBouncer
from rmm_alerts.migrations import APP_ROLE, apply_all, grant_app_login
from tests.support.databases import cloned, drop, name_of

TEMPLATE = f"rmm_test_template_{os.getpid()}"
# The application role's password in the test server (the migrate function sets the real one).
APP_PASSWORD = f"app-{uuid.uuid4().hex}"


@pytest.fixture(scope="session")
def pg_admin_url() -> Iterator[str]:
    """A superuser-ish URL on the session's server."""
    external = os.environ.get("DATABASE_URL")
    if external:
        yield external
        return
    root = Path(tempfile.mkdtemp(prefix="rmm-alerts-test-"))
    root.chmod(0o755)
    server = LocalServer(root / "pgdata", delete_on_stop=True)
    try:
        yield server.uri()
    finally:
        server.stop()


@pytest.fixture(scope="session")
def pooler(pg_admin_url: str) -> Iterator[PgBouncer]:
    """PgBouncer in front of the session's server, reaching every database on it."""
    run_dir = Path(tempfile.mkdtemp(prefix="rmm-alerts-pgbouncer-"))
    bouncer = PgBouncer(pg_admin_url, run_dir)
    try:
        yield bouncer
    finally:
        bouncer.stop()
        shutil.rmtree(run_dir, ignore_errors=True)


@pytest.fixture(scope="session")
def template_db(pg_admin_url: str) -> Iterator[str]:
    drop(pg_admin_url, TEMPLATE)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(TEMPLATE)))
    apply_all(with_database(pg_admin_url, TEMPLATE))
    # What the migrate function does on deploy: the application role may now log in.
    grant_app_login(with_database(pg_admin_url, TEMPLATE), APP_ROLE, APP_PASSWORD)
    yield TEMPLATE
    drop(pg_admin_url, TEMPLATE)


@pytest.fixture
def admin_database_url(pg_admin_url: str, template_db: str) -> Iterator[str]:
    """A migrated database of its own for this test: the owner's direct URL."""
    with cloned(pg_admin_url, template_db) as url:
        try:
            yield url
        finally:
            db.reset_pool()


@pytest.fixture(scope="session")
def app_url_for(pooler: PgBouncer) -> Callable[[str], str]:
    """Maps a database's owner URL to the same database as the functions see it: the application
    role, through the session's PgBouncer (for fixtures that make their own databases)."""
    return lambda admin_url: pooler.url(name_of(admin_url), APP_ROLE, APP_PASSWORD)


@pytest.fixture
def database_url(admin_database_url: str, app_url_for: Callable[[str], str]) -> str:
    """This test's database as the functions see it: the application role, through PgBouncer."""
    return app_url_for(admin_database_url)


@pytest.fixture
def settings(database_url: str) -> config.DatabaseSettings:
    return config.load(config.DatabaseSettings, {"DATABASE_URL": database_url})


@pytest.fixture
def pool(settings: config.DatabaseSettings) -> Iterator[Any]:
    p = db.create_pool(settings, max_size=12, name="rmm-alerts-test")
    p.open(wait=True)
    try:
        yield p
    finally:
        p.close()


@pytest.fixture
def uow_factory(pool: Any) -> Callable[[], db.UnitOfWork]:
    return lambda: db.UnitOfWork(pool)


@pytest.fixture
def conn(admin_database_url: str) -> Iterator[psycopg.Connection[dict[str, Any]]]:
    """An autocommit connection for arranging and asserting (the owner, direct)."""
    from psycopg.rows import dict_row

    with psycopg.connect(admin_database_url, autocommit=True, row_factory=dict_row) as c:
        yield c
