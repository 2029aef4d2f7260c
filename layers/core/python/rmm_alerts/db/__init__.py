"""Database access: connection pool, unit of work, and the repositories (hand-written SQL).

A process keeps one lazily opened pool (never at import). In Lambda that pool is reused across
warm invocations; broken connections are checked and replaced on checkout, and every session
carries a statement timeout well inside API Gateway's 29 s limit.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
from psycopg.rows import dict_row
from psycopg.types.json import set_json_dumps
from psycopg_pool import ConnectionPool

from rmm_alerts.config import DatabaseSettings

_lock = threading.Lock()
_pool: ConnectionPool[Any] | None = None


def conninfo(settings: DatabaseSettings) -> str:
    """libpq connection string: ``DATABASE_URL`` locally, the proxy and its secret in AWS."""
    if settings.database_url:
        return settings.database_url
    from aws_lambda_powertools.utilities import parameters

    assert settings.db_secret_arn is not None
    # Cached by Powertools for 5 minutes, so rotation is picked up without a cold start.
    secret = parameters.get_secret(settings.db_secret_arn, transform="json", max_age=300)
    if not isinstance(secret, dict):
        raise RuntimeError("database secret is not a JSON object")
    return psycopg.conninfo.make_conninfo(
        host=settings.db_host,
        port=str(settings.db_port),
        dbname=settings.db_name,
        user=str(secret["username"]),
        password=str(secret["password"]),
        sslmode="require",
    )


def session_options(settings: DatabaseSettings) -> str:
    timeout = settings.db_statement_timeout_ms
    # A frozen or killed Lambda must not keep a transaction (and its advisory lock) open behind the proxy.
    idle = max(timeout * 3, 15_000)
    return f"-c statement_timeout={timeout} -c lock_timeout={timeout} -c idle_in_transaction_session_timeout={idle}"


def create_pool(
    settings: DatabaseSettings,
    *,
    max_size: int = 2,
    name: str = "rmm-alerts",
    configure: Callable[[psycopg.Connection[Any]], None] | None = None,
) -> ConnectionPool[Any]:
    """A pool for ``settings`` (not opened: the first checkout opens it)."""
    # A callable: each new connection reads the (Powertools-cached) secret, so a rotated database
    # password is picked up without a cold start; nothing is fetched before the first checkout.
    return ConnectionPool(
        lambda: conninfo(settings),
        min_size=1,
        max_size=max_size,
        open=False,
        name=name,
        check=ConnectionPool.check_connection,
        configure=configure,
        timeout=float(settings.db_connect_timeout_s) + 1,
        reconnect_timeout=30.0,
        kwargs={
            "options": session_options(settings),
            "connect_timeout": settings.db_connect_timeout_s,
            "application_name": name,
            # No server-side prepared statements: they pin sessions on RDS Proxy.
            "prepare_threshold": None,
        },
    )


def get_pool(settings: DatabaseSettings, *, max_size: int = 2) -> ConnectionPool[Any]:
    """The process-wide pool, created and opened on first use."""
    global _pool
    with _lock:
        if _pool is None:
            _pool = create_pool(settings, max_size=max_size)
        if _pool.closed:
            _pool.open(wait=False)
        return _pool


def reset_pool() -> None:
    """Close the process-wide pool (tests, credential rotation)."""
    global _pool
    with _lock:
        if _pool is not None:
            _pool.close()
        _pool = None


def json_default(value: Any) -> Any:
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> str:
    return json.dumps(value, default=json_default, separators=(",", ":"))


# jsonb parameters may hold datetimes and UUIDs (traces, event payloads).
set_json_dumps(dumps)


class UnitOfWork:
    """One transaction on one pooled connection, with the repositories bound to it.

    ``with uow:`` commits when the block succeeds and rolls back on any exception.
    """

    def __init__(self, pool: ConnectionPool[Any]) -> None:
        self._pool = pool
        self._cm: Any = None
        self.conn: psycopg.Connection[dict[str, Any]]

    def __enter__(self) -> UnitOfWork:
        from rmm_alerts.db.alerts import AlertRepository
        from rmm_alerts.db.outbox import OutboxRepository
        from rmm_alerts.db.psa import PsaRepository

        self._cm = self._pool.connection()
        conn = self._cm.__enter__()
        conn.row_factory = dict_row
        self.conn = conn
        self.alerts = AlertRepository(conn)
        self.psa = PsaRepository(conn)
        self.outbox = OutboxRepository(conn)
        return self

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        cm, self._cm = self._cm, None
        # The pool's context commits on success, rolls back on error, and discards broken connections.
        cm.__exit__(exc_type, exc, tb)

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Send the enclosed statements in one round trip (libpq pipeline mode)."""
        with self.conn.pipeline():
            yield
