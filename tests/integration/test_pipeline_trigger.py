"""process_event on triggers: docs/rules.md, scenario by scenario, on real PostgreSQL."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any

import pytest

from tests.support.events import event, later, run
from tests.support.world import Tenant, make_tenant


def test_routed_ticket_has_every_field(world: Tenant, uow_factory: Any) -> None:
    board2 = uuid.uuid4()
    status_new, status_closed = uuid.uuid4(), uuid.uuid4()
    world.q("INSERT INTO boards (tenant, board_id, board_name) VALUES (%s, %s, 'Monitoring')", world.tenant, board2)
    world.q(
        """INSERT INTO statuses (tenant, status_id, board_id, name, is_closed, is_default, order_number)
           VALUES (%s, %s, %s, 'Triage', false, true, 1), (%s, %s, %s, 'Done', true, false, 2)""",
        world.tenant,
        status_new,
        board2,
        world.tenant,
        status_closed,
        board2,
    )
    asset = world.add_asset("SRV-101")
    world.map_device("101", asset)
    rule = world.add_rule(
        "Critical disks",
        conditions={"severities": ["critical"], "keywords": ["disk"]},
        actions={
            "boardId": str(board2),
            "priorityOverride": str(world.priorities["High"]),
            "assignToUserId": str(world.user_id),
            "ticketTemplate": {
                "titleTemplate": "{{ Severity }}: {{device}} ({{organization}})",
                "descriptionTemplate": "Device {{device}} says {{message}} {{unknown}}",
            },
            "notifyUserIds": [str(world.user_id)],
        },
    )
    result = run(uow_factory, event(world, external_alert_id="9001"))

    assert result.outcome == "ticket_created"
    assert result.rule_id == rule
    assert result.ticket_number == "TIC000001"
    t = world.ticket(result.ticket_id)
    assert t["title"] == "critical: SRV-101 (Globex)"
    assert t["description"] == "Device SRV-101 says Disk C: is 95% full {{unknown}}"
    assert t["board_id"] == board2
    assert t["status_id"] == status_new  # the board's default status
    assert t["priority_id"] == world.priorities["High"]  # override beats the severity mapping
    assert t["assigned_to"] == world.user_id
    assert t["client_id"] == world.client_id  # from the asset
    assert t["contact_name_id"] == world.contact_id  # the client's primary contact
    assert t["source"] == "ninjaone"
    assert t["attributes"]["source_reference"] == "9001"
    assert t["closed_at"] is None
    assoc = world.one("SELECT * FROM asset_associations WHERE tenant = %s", world.tenant)
    assert (assoc["asset_id"], assoc["entity_id"], assoc["entity_type"]) == (asset, t["ticket_id"], "ticket")
    [note] = world.comments(t["ticket_id"])
    assert note["is_internal"] and note["is_system_generated"] and note["user_id"] is None
    assert "9001" in note["note"] and str(result.alert_id) in note["note"]

    alert = world.alert(result.alert_id)
    assert alert["status"] == "active"
    assert alert["ticket_id"] == t["ticket_id"]
    assert alert["matched_rule_id"] == rule
    assert alert["auto_ticket_created"] is True
    assert alert["dedup_key"] == "101:cond-disk-c"
    assert alert["asset_id"] == asset
    assert alert["metadata"]["raw"] == {"id": 1, "statusCode": "TRIGGERED"}
    trace = world.trace(result.alert_id)
    assert trace["matchedRuleId"] == str(rule)
    assert trace["rules"][0]["matched"] is True
    # Stored apart from the rest of the trace (migration 0011), which later patches rewrite.
    assert "rules" not in alert["decision_trace"] and alert["rule_trace"] == trace["rules"]
    assert trace["client"] == {"clientId": str(world.client_id), "source": "asset"}

    outbox = world.outbox()
    assert [o["event_type"] for o in outbox] == [
        "RMM_ALERT_TRIGGERED",
        "TICKET_CREATED",
        "RMM_ALERT_NOTIFICATION",
        "RMM_ALERT_NOTIFICATION",
    ]
    triggered = outbox[0]["payload"]
    assert triggered["alertId"] == str(result.alert_id)
    assert triggered["ticketId"] == str(t["ticket_id"])
    assert triggered["clientId"] == str(world.client_id)
    assert triggered["assetId"] == str(asset)
    assert triggered["externalDeviceId"] == "101"
    assert triggered["severity"] == "critical"
    assert "triggeredAt" in triggered
    assert outbox[1]["payload"] == {
        "tenantId": str(world.tenant),
        "ticketId": str(t["ticket_id"]),
        "source": "ninjaone",
    }
    # One entry per channel, so a failing e-mail never repeats the in-app notification.
    assert [o["kind"] for o in outbox[2:]] == ["notification", "notification"]
    assert [o["payload"]["channel"] for o in outbox[2:]] == ["in_app", "email"]
    assert outbox[2]["payload"] == {
        "tenantId": str(world.tenant),
        "userId": str(world.user_id),
        "channel": "in_app",
        "category": "rmm-alerts",
        "alertId": str(result.alert_id),
        "ticketId": str(t["ticket_id"]),
        "severity": "critical",
        "device": "SRV-101",
        "message": "Disk C: is 95% full",
    }
    # Events of one alert are delivered in commit order; notifications are not ordered.
    assert [o["order_key"] for o in outbox] == [str(result.alert_id), str(t["ticket_id"]), None, None]


def test_default_title_and_numbers_per_tenant(world: Tenant, conn: Any, uow_factory: Any) -> None:
    world.add_rule()
    r1 = run(uow_factory, event(world, device="101"))
    r2 = run(uow_factory, event(world, device="102"))
    other = make_tenant(conn, "Other MSP")
    other.map_org("2")
    other.add_rule()
    r3 = run(uow_factory, event(other))
    assert (r1.ticket_number, r2.ticket_number, r3.ticket_number) == ("TIC000001", "TIC000002", "TIC000001")
    assert world.ticket(r1.ticket_id)["title"] == "[NinjaOne Alert] Disk Free Space on SRV-101: Disk C: is 95% full"


def test_replay_is_a_no_op(world: Tenant, uow_factory: Any) -> None:
    world.add_rule()
    first = run(uow_factory, event(world, external_alert_id="77"))
    outbox_before = len(world.outbox())
    again = run(uow_factory, event(world, external_alert_id="77"))
    assert again.outcome == "skipped" and not again.processed
    assert again.alert_id == first.alert_id
    assert len(world.alerts()) == 1 and len(world.tickets()) == 1
    assert len(world.outbox()) == outbox_before
    assert len(world.comments(first.ticket_id)) == 1


def test_repeat_becomes_an_occurrence(world: Tenant, uow_factory: Any) -> None:
    world.add_rule()
    first = run(uow_factory, event(world))
    second = run(uow_factory, event(world, at=later(5), message="Disk C: is 97% full"))
    third = run(uow_factory, event(world, at=later(10)))
    assert (second.outcome, third.outcome) == ("occurrence_appended", "occurrence_appended")
    assert second.ticket_id == third.ticket_id == first.ticket_id
    assert len(world.tickets()) == 1
    primary = world.alert(first.alert_id)
    assert primary["occurrence_count"] == 3
    assert primary["last_occurrence_at"] == later(10)
    notes = [c["note"] for c in world.comments(first.ticket_id)]
    assert "Alert re-triggered — occurrence 2: Disk C: is 97% full" in notes
    assert any(n.startswith("Alert re-triggered — occurrence 3") for n in notes)
    assert world.alert(third.alert_id)["decision_trace"]["group"]["occurrence"] == 3
    # occurrences emit the trigger event but never a second TICKET_CREATED
    types = [o["event_type"] for o in world.outbox()]
    assert types.count("TICKET_CREATED") == 1 and types.count("RMM_ALERT_TRIGGERED") == 3


def test_another_device_or_condition_gets_its_own_ticket(world: Tenant, uow_factory: Any) -> None:
    world.add_rule()
    a = run(uow_factory, event(world, device="101"))
    b = run(uow_factory, event(world, device="102"))
    c = run(uow_factory, event(world, device="101", condition="cond-cpu", pairing="series-2"))
    assert {a.outcome, b.outcome, c.outcome} == {"ticket_created"}
    assert len({a.ticket_id, b.ticket_id, c.ticket_id}) == 3


def test_new_ticket_after_the_ticket_closes(world: Tenant, uow_factory: Any) -> None:
    world.add_rule()
    first = run(uow_factory, event(world))
    world.q(
        "UPDATE tickets SET status_id = %s, closed_at = now() WHERE tenant = %s AND ticket_id = %s",
        world.closed_status_id,
        world.tenant,
        first.ticket_id,
    )
    again = run(uow_factory, event(world, at=later(30)))
    assert again.outcome == "ticket_created"
    assert again.ticket_id != first.ticket_id


def test_closed_status_without_closed_at_still_counts_as_closed(world: Tenant, uow_factory: Any) -> None:
    world.add_rule()
    first = run(uow_factory, event(world))
    world.q("UPDATE tickets SET status_id = %s WHERE tenant = %s", world.closed_status_id, world.tenant)
    assert run(uow_factory, event(world, at=later(1))).ticket_id != first.ticket_id


@pytest.mark.parametrize(
    ("rules", "reason"),
    [
        pytest.param([], "no_matching_rule", id="no-rules"),
        pytest.param([({"severities": ["minor"]}, {})], "no_matching_rule", id="no-rule-matches"),
        pytest.param([({}, {"createTicket": False})], "rule_does_not_create_tickets", id="create-ticket-false"),
    ],
)
def test_record_only(world: Tenant, uow_factory: Any, rules: list[Any], reason: str) -> None:
    for conditions, actions in rules:
        world.add_rule(conditions=conditions, actions=actions)
    result = run(uow_factory, event(world))
    assert result.outcome == "recorded_only" and result.processed
    assert result.reason == reason
    assert world.tickets() == []
    assert world.alert(result.alert_id)["status"] == "active"
    assert [o["event_type"] for o in world.outbox()] == ["RMM_ALERT_TRIGGERED"]


def test_no_client_is_stored_with_a_warning(world: Tenant, uow_factory: Any) -> None:
    world.add_rule()
    result = run(uow_factory, event(world, org="999"))
    assert result.outcome == "recorded_only"
    assert result.reason == "organization_not_mapped"
    assert result.warnings and "999" in result.warnings[0]
    alert = world.alert(result.alert_id)
    assert alert["client_id"] is None and alert["ticket_id"] is None
    assert alert["decision_trace"]["warnings"] == result.warnings


def test_no_board_is_recorded_with_a_warning(world: Tenant, uow_factory: Any) -> None:
    world.q("UPDATE boards SET is_default = false WHERE tenant = %s", world.tenant)
    world.add_rule()
    result = run(uow_factory, event(world))
    assert (result.outcome, result.reason) == ("recorded_only", "no_board")
    assert world.tickets() == []


@pytest.mark.parametrize(
    ("priority_names", "severity", "expected"),
    [
        pytest.param(["Urgent", "High", "Medium", "Low"], "critical", "Urgent", id="critical-urgent"),
        pytest.param(["Critical", "High", "Normal", "Low"], "critical", "Critical", id="critical-fallback"),
        pytest.param(["P1 - Urgent", "P2 - High", "P3 - Medium", "P4 - Low"], "major", "P2 - High", id="substring"),
        pytest.param(["Urgent", "Very High", "High"], "major", "High", id="exact-beats-substring"),
        pytest.param(["Urgent", "High", "Normal", "Low"], "moderate", "Normal", id="moderate-normal"),
        pytest.param(["Urgent", "High", "Medium", "Low"], "minor", "Low", id="minor-low"),
        pytest.param(["Urgent", "High", "Medium", "Low"], "none", "Low", id="none-low"),
        pytest.param(["Sev A", "Sev B"], "critical", None, id="no-match"),
    ],
)
def test_severity_to_priority(
    conn: Any, uow_factory: Any, priority_names: list[str], severity: str, expected: str | None
) -> None:
    world = make_tenant(conn)
    world.map_org("2")
    world.q("DELETE FROM priorities WHERE tenant = %s", world.tenant)
    ids = {}
    for order, name in enumerate(priority_names):
        ids[name] = uuid.uuid4()
        world.q(
            "INSERT INTO priorities (tenant, priority_id, priority_name, order_number) VALUES (%s, %s, %s, %s)",
            world.tenant,
            ids[name],
            name,
            order,
        )
    world.add_rule()
    result = run(uow_factory, event(world, severity=severity))
    assert world.ticket(result.ticket_id)["priority_id"] == (ids[expected] if expected else None)


def test_client_from_asset_else_mapping(world: Tenant, uow_factory: Any) -> None:
    other_client, other_contact = world.add_client("Initech")
    asset = world.add_asset("WS-7", client_id=other_client)
    world.map_device("700", asset)
    world.add_rule()
    from_asset = run(uow_factory, event(world, device="700"))
    from_mapping = run(uow_factory, event(world, device="701"))
    assert world.ticket(from_asset.ticket_id)["client_id"] == other_client
    assert world.ticket(from_asset.ticket_id)["contact_name_id"] == other_contact
    assert world.ticket(from_mapping.ticket_id)["client_id"] == world.client_id


def test_mapping_default_contact_wins_over_primary(conn: Any, uow_factory: Any) -> None:
    world = make_tenant(conn)
    contact = uuid.uuid4()
    world.q(
        "INSERT INTO contacts (tenant, contact_name_id, client_id, full_name) VALUES (%s, %s, %s, 'Dee Fault')",
        world.tenant,
        contact,
        world.client_id,
    )
    world.map_org("2", contact_id=contact)
    world.add_rule()
    result = run(uow_factory, event(world))
    assert world.ticket(result.ticket_id)["contact_name_id"] == contact


def test_inactive_higher_rule_is_ignored(world: Tenant, uow_factory: Any) -> None:
    world.add_rule("Off", actions={"createTicket": False}, is_active=False)
    on = world.add_rule("On")
    result = run(uow_factory, event(world))
    assert result.outcome == "ticket_created"
    assert result.rule_id == on


def test_first_match_by_priority_order(world: Tenant, uow_factory: Any) -> None:
    low = world.add_rule("Second", priority_order=2)
    high = world.add_rule(
        "First", conditions={"severities": ["critical"]}, actions={"createTicket": False}, priority_order=1
    )
    assert run(uow_factory, event(world, severity="critical")).rule_id == high
    assert run(uow_factory, event(world, severity="minor", device="9")).rule_id == low


def test_broken_rule_is_skipped_and_traced(world: Tenant, uow_factory: Any) -> None:
    broken = world.add_rule("Broken", conditions={"messagePattern": "(unclosed"})
    good = world.add_rule("Good")
    result = run(uow_factory, event(world))
    assert result.rule_id == good
    rules = world.trace(result.alert_id)["rules"]
    assert rules[0]["ruleId"] == str(broken) and rules[0]["matched"] is False and rules[0]["error"]
    assert rules[1]["ruleId"] == str(good) and rules[1]["matched"] is True


def test_unknown_board_falls_back_to_default_with_warning(world: Tenant, uow_factory: Any) -> None:
    world.add_rule(actions={"boardId": str(uuid.uuid4())})
    result = run(uow_factory, event(world))
    assert result.outcome == "ticket_created"
    assert world.ticket(result.ticket_id)["board_id"] == world.board_id
    assert result.warnings


def test_an_alert_stored_before_rule_trace_keeps_its_rules_in_its_trace(world: Tenant, uow_factory: Any) -> None:
    # Migration 0011 moved the rules evaluated to rule_trace; older rows hold them in decision_trace.
    world.add_rule("Good")
    result = run(uow_factory, event(world))
    rules = world.trace(result.alert_id)["rules"]
    world.q(
        """UPDATE rmm_alerts SET decision_trace = decision_trace || jsonb_build_object('rules', rule_trace),
                                 rule_trace = NULL
            WHERE tenant = %s AND alert_id = %s RETURNING alert_id""",
        world.tenant,
        result.alert_id,
    )
    assert world.alert(result.alert_id)["rule_trace"] is None
    assert world.trace(result.alert_id)["rules"] == rules


def test_a_note_touches_its_ticket_only_when_it_moves_updated_at(world: Tenant, conn: Any, uow_factory: Any) -> None:
    # Migration 0012: a touch that would not move updated_at writes no new row version (for a new
    # ticket's own note it also re-ran the ticket's foreign-key checks).
    world.add_rule()
    created = run(uow_factory, event(world))
    ticket = created.ticket_id

    def version() -> tuple[Any, Any]:
        row = world.one("SELECT xmin::text AS v, updated_at FROM tickets WHERE ticket_id = %s", ticket)
        return row["v"], row["updated_at"]

    def note(text: str, at: Any) -> None:
        conn.execute("SELECT rmm_add_system_note(%s, %s, %s, %s)", (world.tenant, ticket, text, at))

    v0, at = version()
    note("same time", at)
    note("earlier", at - timedelta(minutes=1))
    assert version() == (v0, at)
    # An occurrence processed later moves it: the row is written.
    assert run(uow_factory, event(world, at=later(5))).outcome == "occurrence_appended"
    v1, at1 = version()
    assert v1 != v0 and at1 > at
    note("an hour on", at1 + timedelta(hours=1))
    v2, at2 = version()
    assert v2 != v1 and at2 == at1 + timedelta(hours=1)
    # An occurrence processed before that time leaves the ticket row alone; its note is kept.
    assert run(uow_factory, event(world, at=later(10))).outcome == "occurrence_appended"
    assert version() == (v2, at2)
    notes = [c["note"] for c in world.comments(ticket)]
    assert {"same time", "earlier", "an hour on"} <= set(notes)
    assert sum(n.startswith("Alert re-triggered") for n in notes) == 2
