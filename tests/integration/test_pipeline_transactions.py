"""The alert path's unit of work: a replay answered without the group lock, connections handed back
to the pool transactional, a failing write undoing everything, and cached rules that follow every
change (the configuration version, migration 0010)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from rmm_alerts import db, dedup, pipeline
from rmm_alerts.pipeline import process_event
from tests.support.events import event, run
from tests.support.world import Tenant, make_tenant


def _world(conn: Any) -> Tenant:
    world = make_tenant(conn)
    world.map_org("2")
    world.add_rule("catch-all", actions={"autoResolveTicket": True})
    return world


def test_a_replay_is_answered_while_another_delivery_holds_the_group_lock(
    conn: Any, uow_factory: Callable[[], db.UnitOfWork], admin_database_url: str
) -> None:
    world = _world(conn)
    first = event(world, external_alert_id="a-1")
    assert run(uow_factory, first).outcome == "ticket_created"
    key = dedup.lock_key(world.tenant, world.integration_id, dedup.dedup_key_for(first))
    with psycopg.connect(admin_database_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (key,))  # held until this block ends
        replay = run(uow_factory, event(world, external_alert_id="a-1"))
        # Answered from the config read: it never waited for the lock (it would have, until the
        # role's lock_timeout, had it asked for it).
        assert (replay.outcome, replay.reason) == ("skipped", "duplicate_delivery")
        outcome: list[str] = []
        repeat = threading.Thread(
            target=lambda: outcome.append(run(uow_factory, event(world, external_alert_id="a-2")).outcome)
        )
        repeat.start()
        repeat.join(0.5)
        assert repeat.is_alive(), "a new occurrence must wait for the group lock"
        holder.rollback()
    repeat.join(10)
    assert outcome == ["occurrence_appended"]


def test_connections_go_back_to_the_pool_transactional(conn: Any, pool: ConnectionPool[Any]) -> None:
    """The next user of an alert path's connection gets psycopg's usual transactions."""
    world = _world(conn)
    assert process_event(event(world), db.UnitOfWork(pool)).outcome == "ticket_created"
    for _ in range(pool.get_stats()["pool_available"] or 1):
        with pool.connection() as c:
            assert c.autocommit is False

    # And a plain unit of work on them is still one transaction: an error rolls all of it back.
    def change_then_fail() -> None:
        with db.UnitOfWork(pool) as uow:
            uow.conn.execute("UPDATE tickets SET title = 'changed' WHERE tenant = %s", (world.tenant,))
            uow.conn.execute("SELECT 1 / 0")

    with pytest.raises(psycopg.errors.DivisionByZero):
        change_then_fail()
    titles = conn.execute("SELECT title FROM tickets WHERE tenant = %s", (world.tenant,)).fetchall()
    assert titles and all(t["title"] != "changed" for t in titles)


def test_a_failing_write_rolls_back_the_whole_transaction(conn: Any, uow_factory: Callable[[], db.UnitOfWork]) -> None:
    world = _world(conn)
    ev = event(world, external_alert_id="boom")
    # The ticket insert fails in the writes' batch (after BEGIN and the lock were sent): nothing stays.
    conn.execute("ALTER TABLE tickets ADD CONSTRAINT no_tickets_now CHECK (false) NOT VALID")
    try:
        with pytest.raises(psycopg.errors.CheckViolation):
            run(uow_factory, ev)
    finally:
        conn.execute("ALTER TABLE tickets DROP CONSTRAINT no_tickets_now")
    assert conn.execute("SELECT count(*) AS n FROM rmm_alerts WHERE tenant = %s", (world.tenant,)).fetchone() == {
        "n": 0
    }
    # The retry (what the RMM does after the 500) goes through, and the group lock was released.
    assert run(uow_factory, ev).outcome == "ticket_created"


def test_rule_changes_apply_to_the_next_alert(conn: Any, uow_factory: Callable[[], db.UnitOfWork]) -> None:
    """Parsed rules are kept per integration with the tenant's configuration version, which every
    change to a rule or window moves in the same transaction: an edit is never a stale hit."""
    world = make_tenant(conn)
    world.map_org("2")
    rule = world.add_rule("tickets", actions={"createTicket": True})
    assert run(uow_factory, event(world, device="1")).outcome == "ticket_created"
    conn.execute(
        "UPDATE rmm_alert_rules SET actions = actions || '{\"createTicket\": false}' WHERE rule_id = %s", (rule,)
    )
    second = run(uow_factory, event(world, device="2"))
    assert (second.outcome, second.reason) == ("recorded_only", "rule_does_not_create_tickets")
    conn.execute("UPDATE rmm_alert_rules SET is_active = false WHERE rule_id = %s", (rule,))
    third = run(uow_factory, event(world, device="3"))
    assert (third.outcome, third.reason) == ("recorded_only", "no_matching_rule")
    # Windows too: one that covers the alerts suppresses the next one; deleted, it no longer does.
    conn.execute("UPDATE rmm_alert_rules SET is_active = true WHERE rule_id = %s", (rule,))
    window = world.add_window(
        "all year", starts_at=datetime(2026, 1, 1, tzinfo=UTC), ends_at=datetime(2027, 1, 1, tzinfo=UTC)
    )
    assert run(uow_factory, event(world, device="4")).outcome == "suppressed"
    conn.execute("DELETE FROM rmm_maintenance_windows WHERE window_id = %s", (window,))
    assert run(uow_factory, event(world, device="5")).outcome == "recorded_only"
    # The cached copy is the current version's; the next read names it and gets no rules back.
    held = pipeline.stored_config(world.integration_id)
    assert held is not None and held.version == _version(conn, world)


def _version(conn: Any, world: Tenant) -> int | None:
    row = conn.execute("SELECT version FROM rmm_config_versions WHERE tenant = %s", (world.tenant,)).fetchone()
    return None if row is None else int(row["version"])


def test_every_rule_and_window_change_moves_its_tenants_configuration_version(conn: Any) -> None:
    world, other = make_tenant(conn), make_tenant(conn)
    seen: list[int | None] = []

    def changed() -> None:
        version = _version(conn, world)
        assert version is not None and version not in seen, "every change must give a version never seen"
        seen.append(version)

    rule = world.add_rule("r")
    changed()
    conn.execute("UPDATE rmm_alert_rules SET name = 'r2' WHERE rule_id = %s", (rule,))
    changed()
    window = world.add_window("w", starts_at=datetime(2026, 1, 1, tzinfo=UTC), ends_at=datetime(2026, 1, 2, tzinfo=UTC))
    changed()
    conn.execute("UPDATE rmm_maintenance_windows SET is_active = false WHERE window_id = %s", (window,))
    changed()
    conn.execute("DELETE FROM rmm_maintenance_windows WHERE window_id = %s", (window,))
    changed()
    conn.execute("DELETE FROM rmm_alert_rules WHERE rule_id = %s", (rule,))
    changed()
    # Another tenant's edits leave this one's version alone (and get their own).
    before = _version(conn, world)
    other.add_rule("theirs")
    assert _version(conn, world) == before and _version(conn, other) not in (None, before)


def test_the_config_read_sends_rules_and_windows_only_for_a_stale_copy(conn: Any) -> None:
    world = make_tenant(conn)
    world.add_rule("r")
    current = _version(conn, world)
    read = "SELECT config_version, rules, windows FROM rmm_trigger_context(%s, %s, NULL, NULL, NULL, %s)"
    fresh = conn.execute(read, (world.tenant, world.integration_id, None)).fetchone()
    assert fresh["config_version"] == current and fresh["rules"] is not None and fresh["windows"] == "[]"
    held = conn.execute(read, (world.tenant, world.integration_id, current)).fetchone()
    assert held == {"config_version": current, "rules": None, "windows": None}
    stale = conn.execute(read, (world.tenant, world.integration_id, (current or 0) - 1)).fetchone()
    assert stale["rules"] == fresh["rules"]
    # Scoped by tenant: another tenant's id finds nothing.
    other = make_tenant(conn)
    assert conn.execute(read, (other.tenant, world.integration_id, None)).fetchone() is None
