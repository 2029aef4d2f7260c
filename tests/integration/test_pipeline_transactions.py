"""The alert path's unit of work: a replay answered without the group lock, connections handed back
to the pool transactional, a failing write undoing everything, and cached rules that follow every
change (the configuration version, migration 0010)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from rmm_alerts import db, dedup
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
