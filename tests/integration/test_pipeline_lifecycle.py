"""process_event on resets and acknowledgements, maintenance windows, tenant isolation."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest

from tests.support.events import event, later, run
from tests.support.world import Tenant, make_tenant


def test_reset_closes_an_untouched_ticket(world: Tenant, uow_factory: Any) -> None:
    world.add_rule(actions={"autoResolveTicket": True})
    trig = run(uow_factory, event(world, external_alert_id="100"))
    reset = run(uow_factory, event(world, "reset", external_alert_id="101", at=later(20)))
    assert reset.outcome == "resolved"
    assert reset.alert_id == trig.alert_id and reset.ticket_id == trig.ticket_id
    ticket = world.ticket(trig.ticket_id)
    assert ticket["closed_at"] is not None
    assert ticket["status_id"] == world.closed_status_id
    alert = world.alert(trig.alert_id)
    assert alert["status"] == "auto_resolved"
    assert alert["resolved_at"] == later(20)
    assert alert["metadata"]["reset"]["externalAlertId"] == "101"
    assert "closed automatically" in world.comments(trig.ticket_id)[-1]["note"]
    types = [o["event_type"] for o in world.outbox()]
    assert types[-2:] == ["TICKET_CLOSED", "RMM_ALERT_RESOLVED"]
    resolved = world.outbox()[-1]["payload"]
    assert resolved["alertId"] == str(trig.alert_id) and resolved["resolvedAt"] == later(20).isoformat()


def test_a_reset_that_closes_its_ticket_writes_the_ticket_row_once(world: Tenant, conn: Any, uow_factory: Any) -> None:
    # A second UPDATE of a row in one transaction makes PostgreSQL re-run all of the row's foreign-key
    # checks (five for a ticket): the close goes first, and the reset's note finds updated_at moved.
    world.add_rule(actions={"autoResolveTicket": True})
    trig = run(uow_factory, event(world))
    conn.execute("CREATE TABLE test_ticket_writes (ticket_id uuid NOT NULL, closed boolean NOT NULL)")
    conn.execute(
        """CREATE FUNCTION test_count_ticket_write() RETURNS trigger LANGUAGE plpgsql SECURITY DEFINER AS $$
           BEGIN INSERT INTO test_ticket_writes VALUES (NEW.ticket_id, NEW.closed_at IS NOT NULL); RETURN NEW; END $$"""
    )
    conn.execute(
        """CREATE TRIGGER test_count_ticket_write AFTER UPDATE ON tickets
           FOR EACH ROW EXECUTE FUNCTION test_count_ticket_write()"""
    )
    assert run(uow_factory, event(world, "reset", at=later(20))).outcome == "resolved"
    writes = conn.execute("SELECT closed FROM test_ticket_writes WHERE ticket_id = %s", (trig.ticket_id,)).fetchall()
    assert writes == [{"closed": True}]
    ticket = world.ticket(trig.ticket_id)
    assert ticket["closed_at"] is not None and ticket["updated_at"] == ticket["closed_at"]
    assert "closed automatically" in world.comments(trig.ticket_id)[-1]["note"]


def test_auto_resolve_status_from_the_rule(world: Tenant, uow_factory: Any) -> None:
    resolved_status = uuid.uuid4()
    world.q(
        """INSERT INTO statuses (tenant, status_id, board_id, name, is_closed, order_number)
               VALUES (%s, %s, %s, 'Auto-resolved', true, 9)""",
        world.tenant,
        resolved_status,
        world.board_id,
    )
    world.add_rule(actions={"autoResolveTicket": True, "autoResolveStatusId": str(resolved_status)})
    trig = run(uow_factory, event(world))
    run(uow_factory, event(world, "reset"))
    assert world.ticket(trig.ticket_id)["status_id"] == resolved_status


TOUCHES = {
    "human-comment": lambda w, t: w.q(
        """INSERT INTO comments (tenant, ticket_id, user_id, note, is_internal, is_system_generated)
           VALUES (%s, %s, %s, 'Looking into it', false, false)""",
        w.tenant,
        t,
        w.user_id,
    ),
    "time-entry": lambda w, t: w.q(
        """INSERT INTO time_entries (tenant, work_item_id, work_item_type, user_id, start_time, end_time)
           VALUES (%s, %s, 'ticket', %s, now() - interval '1 hour', now())""",
        w.tenant,
        t,
        w.user_id,
    ),
    "status-change": lambda w, t: w.q(
        "UPDATE tickets SET status_id = %s WHERE tenant = %s AND ticket_id = %s", w.working_status_id, w.tenant, t
    ),
}


@pytest.mark.parametrize("touch", list(TOUCHES), ids=list(TOUCHES))
def test_a_touched_ticket_stays_open_with_a_note(world: Tenant, uow_factory: Any, touch: str) -> None:
    world.add_rule(actions={"autoResolveTicket": True})
    trig = run(uow_factory, event(world))
    TOUCHES[touch](world, trig.ticket_id)
    reset = run(uow_factory, event(world, "reset"))
    assert reset.outcome == "resolved"
    assert world.ticket(trig.ticket_id)["closed_at"] is None
    assert world.alert(trig.alert_id)["status"] == "resolved"
    assert "stays open" in world.comments(trig.ticket_id)[-1]["note"]
    assert "TICKET_CLOSED" not in [o["event_type"] for o in world.outbox()]


def test_auto_assignment_is_not_a_touch(world: Tenant, uow_factory: Any) -> None:
    world.add_rule(actions={"autoResolveTicket": True, "assignToUserId": str(world.user_id)})
    trig = run(uow_factory, event(world))
    other = uuid.uuid4()
    world.q("INSERT INTO users (tenant, user_id, email) VALUES (%s, %s, 'b@x.test')", world.tenant, other)
    world.q("UPDATE tickets SET assigned_to = %s WHERE tenant = %s", other, world.tenant)  # reassignment
    run(uow_factory, event(world, "reset"))
    assert world.ticket(trig.ticket_id)["closed_at"] is not None


def test_without_auto_resolve_the_ticket_is_left_alone(world: Tenant, uow_factory: Any) -> None:
    world.add_rule()
    trig = run(uow_factory, event(world))
    before = world.comments(trig.ticket_id)
    reset = run(uow_factory, event(world, "reset"))
    assert reset.outcome == "resolved"
    assert world.ticket(trig.ticket_id)["closed_at"] is None
    assert world.comments(trig.ticket_id) == before
    assert world.alert(trig.alert_id)["status"] == "resolved"


def test_reset_pairs_by_pairing_id_not_activity_id(world: Tenant, uow_factory: Any) -> None:
    world.add_rule(actions={"autoResolveTicket": True})
    disk = run(uow_factory, event(world, condition="disk", pairing="s-disk"))
    cpu = run(uow_factory, event(world, condition="cpu", pairing="s-cpu"))
    # A reset for cpu with a brand-new activity id resolves only cpu.
    run(uow_factory, event(world, "reset", condition="cpu", pairing="s-cpu", external_alert_id="new-activity"))
    assert world.alert(cpu.alert_id)["status"] == "auto_resolved"
    assert world.alert(disk.alert_id)["status"] == "active"
    assert world.ticket(disk.ticket_id)["closed_at"] is None


def test_reset_without_pairing_falls_back_to_device_and_condition(world: Tenant, uow_factory: Any) -> None:
    world.add_rule(actions={"autoResolveTicket": True})
    trig = run(uow_factory, event(world, pairing=None))
    other_device = run(uow_factory, event(world, pairing=None, device="202"))
    run(uow_factory, event(world, "reset", pairing=None))
    assert world.alert(trig.alert_id)["status"] == "auto_resolved"
    assert world.alert(other_device.alert_id)["status"] == "active"


def test_reset_replay_and_unknown_reset_are_skipped(world: Tenant, uow_factory: Any) -> None:
    world.add_rule(actions={"autoResolveTicket": True})
    run(uow_factory, event(world))
    assert run(uow_factory, event(world, "reset", external_alert_id="r1")).outcome == "resolved"
    outbox = len(world.outbox())
    replay = run(uow_factory, event(world, "reset", external_alert_id="r1"))
    assert (replay.outcome, replay.reason) == ("skipped", "already_resolved")
    unknown = run(uow_factory, event(world, "reset", condition="never-seen", pairing="nope"))
    assert (unknown.outcome, unknown.reason) == ("skipped", "no_matching_alert")
    assert len(world.outbox()) == outbox


def test_group_aware_close(world: Tenant, uow_factory: Any) -> None:
    """Two alerts of one group share a ticket; the first reset leaves it open, the last closes it."""
    world.add_rule(actions={"autoResolveTicket": True})
    a = run(uow_factory, event(world, pairing="series-a", external_alert_id="a"))
    b = run(uow_factory, event(world, pairing="series-b", external_alert_id="b", at=later(1)))
    assert b.outcome == "occurrence_appended" and b.ticket_id == a.ticket_id
    run(uow_factory, event(world, "reset", pairing="series-a", at=later(2)))
    assert world.ticket(a.ticket_id)["closed_at"] is None
    assert world.alert(a.alert_id)["status"] == "resolved"
    assert "1 other alert is still active" in world.comments(a.ticket_id)[-1]["note"]
    run(uow_factory, event(world, "reset", pairing="series-b", at=later(3)))
    assert world.ticket(a.ticket_id)["closed_at"] is not None
    assert world.alert(b.alert_id)["status"] == "auto_resolved"


def test_acknowledged(world: Tenant, uow_factory: Any) -> None:
    world.add_rule()
    trig = run(uow_factory, event(world))
    ack = run(uow_factory, event(world, "acknowledged", at=later(3)))
    assert ack.outcome == "acknowledged" and ack.alert_id == trig.alert_id
    alert = world.alert(trig.alert_id)
    assert alert["status"] == "acknowledged"
    assert alert["acknowledged_at"] == later(3)
    assert run(uow_factory, event(world, "acknowledged")).outcome == "skipped"
    # an acknowledged alert still resets
    assert run(uow_factory, event(world, "reset")).outcome == "resolved"
    assert world.alert(trig.alert_id)["status"] == "resolved"


def test_window_suppresses_and_its_reset_is_quiet(world: Tenant, uow_factory: Any) -> None:
    world.add_rule(actions={"autoResolveTicket": True, "notifyUserIds": [str(world.user_id)]})
    window = world.add_window(
        "Patch night",
        client_id=world.client_id,
        starts_at=datetime(2026, 6, 12, 13, 0, tzinfo=UTC),
        ends_at=datetime(2026, 6, 12, 15, 0, tzinfo=UTC),
    )
    result = run(uow_factory, event(world))
    assert result.outcome == "suppressed" and result.window_id == window
    alert = world.alert(result.alert_id)
    assert alert["status"] == "suppressed" and alert["suppressed_by_window_id"] == window
    assert alert["decision_trace"]["window"]["windowId"] == str(window)
    assert world.tickets() == [] and world.outbox() == []
    reset = run(uow_factory, event(world, "reset"))
    assert reset.outcome == "resolved" and reset.reason == "suppressed_alert_resolved_quietly"
    assert world.alert(result.alert_id)["status"] == "resolved"
    assert world.outbox() == []
    # the same alert outside the window processes normally
    outside = run(uow_factory, event(world, at=datetime(2026, 6, 12, 15, 0, tzinfo=UTC)))
    assert outside.outcome == "ticket_created"
    # ... and its trace says which window was considered and why it did not match (time, with the alert's time).
    checks = world.alert(outside.alert_id)["decision_trace"]["windows"]
    assert world.alert(outside.alert_id)["decision_trace"]["window"] is None
    assert checks == {
        "at": "2026-06-12T15:00:00Z",
        "checked": [
            {
                "windowId": str(window),
                "name": "Patch night",
                "matched": False,
                "reason": "time: 2026-06-12T15:00:00Z is outside 2026-06-12T13:00:00Z – 2026-06-12T15:00:00Z",
            }
        ],
        "notListed": 0,
    }


@pytest.mark.parametrize(
    ("scope", "suppressed"),
    [
        pytest.param({}, True, id="tenant-wide"),
        pytest.param({"integration": True}, True, id="this-integration"),
        pytest.param({"other_integration": True}, False, id="other-integration"),
        pytest.param({"asset": True}, True, id="this-asset"),
        pytest.param({"other_client": True}, False, id="other-client"),
        pytest.param({"inactive": True}, False, id="inactive"),
    ],
)
def test_window_scopes(world: Tenant, uow_factory: Any, scope: dict[str, bool], suppressed: bool) -> None:
    asset = world.add_asset()
    world.map_device("101", asset)
    world.add_rule()
    cols: dict[str, Any] = {
        "recurrence": {
            "type": "weekly",
            "days": [5],
            "startTime": "09:00",
            "endTime": "11:00",
            "timezone": "America/New_York",
        },
    }
    if scope.get("integration"):
        cols["integration_id"] = world.integration_id
    if scope.get("other_integration"):
        cols["integration_id"] = world.add_integration()
    if scope.get("asset"):
        cols["asset_id"] = asset
    if scope.get("other_client"):
        cols["client_id"] = world.add_client()[0]
    if scope.get("inactive"):
        cols["is_active"] = False
    world.add_window(**cols)
    # Friday 2026-06-12 10:00 in New York
    result = run(uow_factory, event(world, at=datetime(2026, 6, 12, 14, 0, tzinfo=UTC)))
    assert (result.outcome == "suppressed") is suppressed


def test_tenant_isolation(conn: Any, uow_factory: Any) -> None:
    """Tenant B's rules, windows and alerts never affect tenant A, even with identical external ids."""
    a = make_tenant(conn, "A")
    b = make_tenant(conn, "B")
    a.map_org("2")
    b.map_org("2")
    a.add_rule()
    b.add_rule(actions={"createTicket": False})
    b.add_window("B always", starts_at=datetime(2000, 1, 1, tzinfo=UTC), ends_at=datetime(2100, 1, 1, tzinfo=UTC))
    # Same integration id would be impossible across tenants in practice; same external ids are not.
    rb = run(uow_factory, event(b, external_alert_id="shared-1"))
    ra = run(uow_factory, event(a, external_alert_id="shared-1"))
    assert rb.outcome == "suppressed"
    assert ra.outcome == "ticket_created"  # B's window and rule were not read
    assert ra.alert_id != rb.alert_id
    # A's reset touches only A's alert
    run(uow_factory, event(a, "reset"))
    assert a.alert(ra.alert_id)["status"] == "resolved"
    assert b.alert(rb.alert_id)["status"] == "suppressed"
    assert len(a.alerts()) == 1 and len(b.alerts()) == 1
    assert b.tickets() == []


def test_an_integration_id_belongs_to_one_tenant(conn: Any) -> None:
    """Webhooks resolve the tenant from the integration id, so the database refuses to share one."""
    a = make_tenant(conn, "A")
    b = make_tenant(conn, "B")
    with pytest.raises(psycopg.errors.UniqueViolation):
        b.q(
            "INSERT INTO rmm_integrations (tenant, integration_id, provider, name) VALUES (%s, %s, 'ninjaone', 'x')",
            b.tenant,
            a.integration_id,
        )


def test_only_ticket_statuses_are_used(world: Tenant, uow_factory: Any) -> None:
    """Project or interaction statuses never land on an alert ticket, even when they sort first."""
    world.q(
        """INSERT INTO statuses (tenant, name, status_type, is_closed, is_default, order_number)
           VALUES (%s, 'Project done', 'project', true, false, 0), (%s, 'Project new', 'project', false, true, 0)""",
        world.tenant,
        world.tenant,
    )
    world.q("UPDATE statuses SET board_id = NULL WHERE tenant = %s", world.tenant)
    world.add_rule(actions={"autoResolveTicket": True})
    trig = run(uow_factory, event(world))
    assert world.ticket(trig.ticket_id)["status_id"] == world.open_status_id
    run(uow_factory, event(world, "reset"))
    assert world.ticket(trig.ticket_id)["status_id"] == world.closed_status_id
