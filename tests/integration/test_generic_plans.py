"""The alert path's reads run generic plans that look rows up by index (migration 0011).

A PL/pgSQL statement's plan is cached per server connection, but PostgreSQL re-plans it on every
call while it judges its generic plan costlier than a custom one, which, with a deployment's
statistics, it did for the group state and the lifecycle targets (~0.5 ms of planning per call).
The functions now force generic plans; these tests check, on a database with another tenant's
history and fresh statistics, that those plans are generic and never scan a whole table of
alerts, tickets or notes. The plans are read with auto_explain (nested statements, plans only).
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from tests.support.events import event, run
from tests.support.history import seed_history
from tests.support.world import Tenant

BIG_TABLES = ("rmm_alerts", "tickets", "comments")


@pytest.fixture
def plans(conn: psycopg.Connection[dict[str, Any]], world: Tenant) -> Iterator[list[str]]:
    """The plans of every statement the owner's session runs from here on, nested ones included."""
    seed_history(conn, 3000)
    captured: list[str] = []

    def keep(diag: psycopg.errors.Diagnostic) -> None:
        if diag.message_primary and "plan:" in diag.message_primary:
            captured.append(diag.message_primary)

    conn.execute("LOAD 'auto_explain'")
    conn.execute("SET auto_explain.log_min_duration = 0")
    conn.execute("SET auto_explain.log_nested_statements = on")
    conn.execute("SET client_min_messages = log")
    conn.add_notice_handler(keep)
    try:
        yield captured
    finally:
        conn.remove_notice_handler(keep)
        conn.execute("RESET client_min_messages")


def _nested(plans: list[str], marker: str) -> str:
    """The plan of the nested statement whose text contains ``marker``."""
    found = [p for p in plans if marker in p and "Function Scan" not in p.splitlines()[-1]]
    assert found, f"no plan for {marker!r} among {len(plans)}"
    return found[-1]


def _assert_indexed(plan: str) -> None:
    for table in BIG_TABLES:
        assert not re.search(rf"Seq Scan on {table}\b", plan), plan


def _assert_generic(plan: str) -> None:
    # A generic plan compares with the statement's parameters ($n), a custom one with their values.
    assert re.search(r"Index Cond: \(.*= \$\d+", plan), plan


def test_the_group_state_plan_is_generic_and_indexed(
    conn: psycopg.Connection[dict[str, Any]], world: Tenant, plans: list[str]
) -> None:
    for n in range(3):  # the same cached plan on every call
        conn.execute(
            "SELECT * FROM rmm_group_state(%s, %s, %s, 'dev', 'dev:cond', 'pair', now(), now(), %s)",
            (world.tenant, world.integration_id, f"ext-{n}", uuid.uuid4()),
        ).fetchall()
        plan = _nested(plans, "row_to_json(g)")
        _assert_indexed(plan)
        _assert_generic(plan)
        # The open group's tickets are looked up by key, per alert of the group.
        assert re.search(r"Index Scan using tickets_pkey on tickets", plan), plan


def test_the_lifecycle_targets_plan_is_generic_and_indexed(
    conn: psycopg.Connection[dict[str, Any]], world: Tenant, plans: list[str]
) -> None:
    for statuses in (["active", "acknowledged", "suppressed"], ["active"]):
        with conn.transaction(force_rollback=True):
            conn.execute(
                "SELECT * FROM rmm_lifecycle_targets(%s, %s, 'dev', 'pair', 'dev:cond', %s)",
                (world.tenant, world.integration_id, statuses),
            ).fetchall()
        plan = _nested(plans, "WITH candidates")
        _assert_indexed(plan)
        _assert_generic(plan)
        # The candidates come from the partial indexes on the open alerts' keys.
        assert "rmm_alerts_dedup_idx" in plan and "rmm_alerts_pairing_idx" in plan, plan


def test_the_trigger_context_and_ticket_defaults_plans_are_generic_and_indexed(
    conn: psycopg.Connection[dict[str, Any]], world: Tenant, plans: list[str]
) -> None:
    conn.execute(
        "SELECT * FROM rmm_webhook_lookup(%s, true, 'ext-1', 'org', 'dev', NULL)", (world.integration_id,)
    ).fetchall()
    context = _nested(plans, "json_agg(r ORDER BY")
    _assert_indexed(context)
    assert "rmm_alerts_external_idx" in context, context
    conn.execute(
        "SELECT * FROM rmm_ticket_defaults(%s, %s, %s, %s, %s)",
        (world.tenant, world.board_id, world.user_id, world.contact_id, world.client_id),
    ).fetchall()
    _assert_indexed(_nested(plans, "board_name"))


def _trigger_state(
    conn: psycopg.Connection[dict[str, Any]],
    world: Tenant,
    external_alert_id: str,
    dedup_key: str,
    from_poll: str = ", false",
) -> dict[str, Any]:
    """rmm_trigger_state for a trigger that may create a ticket (defaults for the world's board);
    ``from_poll=""`` calls it as the previous release did, with 15 arguments."""
    with conn.transaction(force_rollback=True):
        row = conn.execute(
            "SELECT * FROM rmm_trigger_state(42, %s, %s, %s, '101', %s, NULL, now(), now(),"
            " NULL, true, %s, %s, %s, %s" + from_poll + ")",
            (
                world.tenant,
                world.integration_id,
                external_alert_id,
                dedup_key,
                world.board_id,
                world.user_id,
                world.contact_id,
                world.client_id,
            ),
        ).fetchone()
    assert row is not None
    return row


def test_the_trigger_state_reads_ticket_defaults_only_when_no_group_is_open(
    conn: psycopg.Connection[dict[str, Any]], world: Tenant, uow_factory: Any, plans: list[str]
) -> None:
    world.add_rule()
    created = run(uow_factory, event(world))
    assert created.outcome == "ticket_created"
    key = world.alert(created.alert_id)["dedup_key"]

    # No open group (another condition): the defaults are read and returned, as 0010 returned them.
    plans.clear()
    state = _trigger_state(conn, world, "new-1", key + ":other")
    assert state["open_group"] is None and state["existing_alert_id"] is None
    assert state["board_id"] == world.board_id and state["default_status_id"] is not None
    assert state["assignee_ok"] and state["contact_ok"] and state["client_ok"]
    assert any("board_name" in p for p in plans)

    # The condition's ticket is open: an occurrence needs no defaults, and they are not read (0012).
    plans.clear()
    state = _trigger_state(conn, world, "new-2", key)
    assert state["open_group"]["ticket_id"] == str(created.ticket_id)
    assert state["board_id"] is None and state["priorities"] is None
    assert plans and not any("board_name" in p for p in plans), plans


def test_the_previous_release_still_finds_the_trigger_state_during_a_deploy(
    conn: psycopg.Connection[dict[str, Any]], world: Tenant, uow_factory: Any
) -> None:
    """Migrations run before the functions are updated (and stay after a rollback): 0014's new
    parameter has a default, so the 15-argument call of the previous release still resolves, as a
    webhook trigger; a poll trigger (true) is told about the group's open alert."""
    world.add_rule()
    created = run(uow_factory, event(world))
    key = world.alert(created.alert_id)["dedup_key"]
    old = _trigger_state(conn, world, "new-3", key, from_poll="")
    assert old["open_group"]["ticket_id"] == str(created.ticket_id) and old["poll_twin_id"] is None
    polled = _trigger_state(conn, world, "new-3", key, from_poll=", true")
    assert polled["poll_twin_id"] == created.alert_id
