"""0006_outbox_delivery on a database that already holds undelivered outbox rows (written before
the upgrade): they get commit-order numbers and ordering keys, and stay deliverable."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from datetime import UTC, datetime

import psycopg
import pytest
from psycopg import sql
from psycopg.types.json import Jsonb

from rmm_alerts import migrations
from rmm_alerts.db.outbox import OutboxRepository
from rmm_alerts.localdb import with_database


@pytest.fixture
def empty_db(pg_admin_url: str) -> Iterator[str]:
    name = f"rmm_mig6_{uuid.uuid4().hex[:10]}"
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(name)))
    yield with_database(pg_admin_url, name)
    with psycopg.connect(pg_admin_url, autocommit=True) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))


def test_rows_written_before_the_upgrade_are_keyed_and_deliverable(
    empty_db: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    everything = migrations.available()
    before = [m for m in everything if m.version < "0006"]
    monkeypatch.setattr(migrations, "available", lambda: before)
    migrations.apply_all(empty_db)

    tenant, alert, ticket = uuid.uuid4(), str(uuid.uuid4()), str(uuid.uuid4())
    with psycopg.connect(empty_db, autocommit=True) as conn:
        conn.execute("INSERT INTO tenants (tenant) VALUES (%s)", (tenant,))
        for kind, event_type, payload in (
            ("event", "RMM_ALERT_TRIGGERED", {"alertId": alert, "ticketId": ticket}),
            ("event", "TICKET_CREATED", {"ticketId": ticket}),
            ("notification", "RMM_ALERT_NOTIFICATION", {"userId": str(uuid.uuid4())}),
            ("event", "RMM_ALERT_RESOLVED", {"alertId": alert}),
        ):
            conn.execute(
                "INSERT INTO rmm_outbox (tenant, kind, event_type, payload) VALUES (%s, %s, %s, %s)",
                (tenant, kind, event_type, Jsonb(payload)),
            )

    monkeypatch.setattr(migrations, "available", lambda: everything)
    assert "0006" in migrations.apply_all(empty_db)

    with psycopg.connect(empty_db, row_factory=psycopg.rows.dict_row) as conn:
        rows = conn.execute("SELECT event_type, seq, order_key FROM rmm_outbox ORDER BY seq").fetchall()
        assert [(r["event_type"], r["order_key"]) for r in rows] == [
            ("RMM_ALERT_TRIGGERED", alert),
            ("TICKET_CREATED", ticket),
            ("RMM_ALERT_NOTIFICATION", None),
            ("RMM_ALERT_RESOLVED", alert),
        ]
        # The heads of each key are due; the alert's resolve waits behind its trigger.
        claimed = OutboxRepository(conn).claim(limit=10, now=datetime.now(UTC))
        assert [e.event_type for e in claimed] == ["RMM_ALERT_TRIGGERED", "TICKET_CREATED", "RMM_ALERT_NOTIFICATION"]
