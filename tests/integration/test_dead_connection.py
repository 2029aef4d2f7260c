"""A pooled connection that died while idle in the pool (server restart, proxy or NAT timeout).

The pool checks a connection on checkout only when it sat idle for ``db.CHECK_IDLE_S``; one used
moments ago is trusted, and if it died in that window the webhook path retries its unit of work
once, because its first statement failed and so nothing can have committed. Direct connections
(not PgBouncer) so that killing the backend kills the client's connection.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest
from psycopg.rows import tuple_row
from psycopg_pool import ConnectionPool

from rmm_alerts import config, db, webhooks
from rmm_alerts.pipeline import process_event
from tests.integration.conftest import fixture
from tests.support.events import event
from tests.support.world import Tenant, make_tenant, set_webhook_secret

SECRET = "dead-connection-secret-0123456789abcdef"


@pytest.fixture
def direct_pool(admin_database_url: str) -> Iterator[ConnectionPool[Any]]:
    settings = config.load(config.DatabaseSettings, {"DATABASE_URL": admin_database_url})
    pool = db.create_pool(settings, max_size=1, name="dead-connection-test")
    pool.open(wait=True)
    yield pool
    pool.close()


@pytest.fixture
def world(conn: Any) -> Tenant:
    w = make_tenant(conn)
    w.map_org("2")
    w.add_rule(actions={"autoResolveTicket": True})
    set_webhook_secret(w, SECRET)
    return w


def backend_pid(pool: ConnectionPool[Any]) -> int:
    with pool.connection() as c, c.cursor(row_factory=tuple_row) as cur:
        row = cur.execute("SELECT pg_backend_pid()").fetchone()
        assert row is not None
        return int(row[0])


def kill(conn: Any, pid: int) -> None:
    conn.execute("SELECT pg_terminate_backend(%s)", (pid,))
    for _ in range(200):
        if not conn.execute("SELECT 1 FROM pg_stat_activity WHERE pid = %s", (pid,)).fetchall():
            return
        time.sleep(0.01)
    raise AssertionError(f"backend {pid} still alive")


def deliver(world: Tenant, pool: ConnectionPool[Any]) -> webhooks.WebhookResponse:
    body = json.dumps(fixture("ninjaone/condition_triggered.json")).encode()
    return webhooks.receive("ninjaone", str(world.integration_id), SECRET, body, lambda: db.UnitOfWork(pool))


def test_a_recently_used_connection_is_not_checked_so_its_death_reaches_the_first_statement(
    conn: Any, world: Tenant, direct_pool: ConnectionPool[Any]
) -> None:
    kill(conn, backend_pid(direct_pool))
    with pytest.raises(psycopg.OperationalError):
        process_event(event(world, external_alert_id="1"), db.UnitOfWork(direct_pool))
    assert world.alerts() == []  # nothing committed; the pool replaced the connection
    assert process_event(event(world, external_alert_id="1"), db.UnitOfWork(direct_pool)).outcome == "ticket_created"


def test_the_webhook_retries_once_on_a_connection_that_died_before_its_first_statement(
    conn: Any, world: Tenant, direct_pool: ConnectionPool[Any]
) -> None:
    dead = backend_pid(direct_pool)
    kill(conn, dead)
    response = deliver(world, direct_pool)
    assert response.status == 200 and response.body["outcome"] == "ticket_created"
    assert len(world.tickets()) == 1 and len(world.alerts()) == 1
    assert backend_pid(direct_pool) != dead


def test_a_connection_idle_long_enough_is_checked_and_replaced_on_checkout(
    conn: Any, world: Tenant, direct_pool: ConnectionPool[Any], monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(db, "CHECK_IDLE_S", 0.0)
    dead = backend_pid(direct_pool)
    kill(conn, dead)
    # The check discards the dead connection before the unit of work sees it: no error at all.
    assert process_event(event(world, external_alert_id="1"), db.UnitOfWork(direct_pool)).outcome == "ticket_created"
    assert backend_pid(direct_pool) != dead
