"""Issue 10, items 5 and 6: ``POST /v1/alerts/{id}/ticket`` respects the dedup group; a close
status never comes from another board (at rule save and at close time)."""

from __future__ import annotations

import uuid
from datetime import timedelta
from typing import Any
from uuid import UUID

from tests.support.admin_api import Api, errors
from tests.support.events import T0, event, later, run
from tests.support.world import Tenant


def add_board(world: Tenant, name: str, *, closed: bool = True, default: bool = False) -> tuple[UUID, UUID, UUID]:
    """A board with an open status and (optionally) a closed one: (board, open, closed)."""
    board, s_open, s_closed = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
    world.q(
        "INSERT INTO boards (tenant, board_id, board_name, is_default) VALUES (%s, %s, %s, %s)",
        world.tenant,
        board,
        name,
        default,
    )
    world.q(
        """INSERT INTO statuses (tenant, status_id, board_id, name, is_closed, is_default, order_number)
           VALUES (%s, %s, %s, 'Open', false, true, 1)""",
        world.tenant,
        s_open,
        board,
    )
    if closed:
        world.q(
            """INSERT INTO statuses (tenant, status_id, board_id, name, is_closed, is_default, order_number)
               VALUES (%s, %s, %s, 'Done', true, false, 2)""",
            world.tenant,
            s_closed,
            board,
        )
    return board, s_open, s_closed


# -- item 5 ----------------------------------------------------------------------------------


def test_create_ticket_never_opens_a_second_ticket_for_the_group(api: Api, uow_factory: Any) -> None:
    world = api.world
    world.map_org("2")
    first = run(uow_factory, event(world, external_alert_id="a1", pairing="s1"))
    second = run(uow_factory, event(world, external_alert_id="a2", pairing="s2", at=later(1)))
    assert (first.outcome, second.outcome) == ("recorded_only", "recorded_only")
    created = api.ok("POST", f"/v1/alerts/{first.alert_id}/ticket", None, 201)
    status, data = api.call("POST", f"/v1/alerts/{second.alert_id}/ticket")
    assert status == 409, data
    assert created["ticketNumber"] in data["errors"][0]["message"]
    assert len(world.tickets()) == 1
    # Once the group's ticket is closed, the other alert may get one.
    world.q(
        "UPDATE tickets SET closed_at = now(), status_id = %s WHERE tenant = %s",
        world.closed_status_id,
        world.tenant,
    )
    api.ok("POST", f"/v1/alerts/{second.alert_id}/ticket", None, 201)
    assert len(world.tickets()) == 2


def test_a_ticket_made_for_a_suppressed_alert_makes_it_active_again(api: Api, uow_factory: Any) -> None:
    world = api.world
    world.map_org("2")
    world.add_rule(actions={"autoResolveTicket": True})
    world.add_window(starts_at=T0 - timedelta(hours=1), ends_at=T0 + timedelta(hours=1))
    trigger = run(uow_factory, event(world, external_alert_id="m1"))
    assert trigger.outcome == "suppressed"
    created = api.ok("POST", f"/v1/alerts/{trigger.alert_id}/ticket", None, 201)
    (alert,) = world.alerts()
    assert alert["status"] == "active" and str(alert["ticket_id"]) == created["ticketId"]
    assert alert["decision_trace"]["manualTicket"]["unsuppressed"] is True
    # Workflows hear of it now, as of an alert that triggered with its ticket.
    triggered = [o for o in world.outbox() if o["event_type"] == "RMM_ALERT_TRIGGERED"]
    assert [(t["payload"]["alertId"], t["payload"]["ticketId"]) for t in triggered] == [
        (str(trigger.alert_id), created["ticketId"])
    ]
    # Its reset is an ordinary one now, not a suppressed alert's quiet one: it reaches the ticket
    # (which no rule made, so a technician closes it) and tells the workflows.
    reset = run(uow_factory, event(world, "reset", external_alert_id="m1-reset", at=later(5)))
    assert reset.outcome == "resolved"
    (alert,) = world.alerts()
    assert alert["status"] == "resolved" and alert["decision_trace"]["reset"]["quiet"] is False
    assert alert["decision_trace"]["reset"]["ticket"]["ticketId"] == created["ticketId"]
    assert "RMM_ALERT_RESOLVED" in [o["event_type"] for o in world.outbox()]


# -- item 6 ----------------------------------------------------------------------------------


def test_rule_save_refuses_another_boards_close_status(api: Api) -> None:
    world = api.world
    integration = api.connect()["integrationId"]
    url = f"/v1/integrations/{integration}/rules"
    other_board, _, other_closed = add_board(world, "Projects")
    # No boardId: the status must belong to the tenant's default board.
    status, data = api.call(
        "POST", url, {"name": "r", "conditions": {}, "actions": {"autoResolveStatusId": str(other_closed)}}
    )
    assert (status, errors(data)) == (422, ["actions.autoResolveStatusId"]), data
    api.ok(
        "POST",
        url,
        {"name": "ok", "conditions": {}, "actions": {"autoResolveStatusId": str(world.closed_status_id)}},
        201,
    )
    # With a boardId: the status must belong to that board.
    body: dict[str, Any] = {
        "name": "r",
        "conditions": {},
        "actions": {"boardId": str(other_board), "autoResolveStatusId": str(world.closed_status_id)},
    }
    status, data = api.call("POST", url, body)
    assert (status, errors(data)) == (422, ["actions.autoResolveStatusId"]), data
    body["actions"] = {"boardId": str(other_board), "autoResolveStatusId": str(other_closed)}
    api.ok("POST", url, body, 201)


def test_close_uses_only_a_closed_status_of_the_tickets_board(world: Tenant, uow_factory: Any) -> None:
    _, _, foreign_closed = add_board(world, "Projects")
    # A rule stored before save-time checks, naming another board's closed status.
    world.add_rule(actions={"autoResolveTicket": True, "autoResolveStatusId": str(foreign_closed)})
    trig = run(uow_factory, event(world))
    run(uow_factory, event(world, "reset", at=later(5)))
    ticket = world.ticket(trig.ticket_id)
    assert ticket["closed_at"] is not None
    assert ticket["status_id"] == world.closed_status_id


def test_board_without_closed_status_leaves_the_ticket_open(world: Tenant, uow_factory: Any) -> None:
    board, _, _ = add_board(world, "No closing", closed=False)
    world.add_rule(actions={"autoResolveTicket": True, "boardId": str(board)})
    trig = run(uow_factory, event(world))
    assert world.ticket(trig.ticket_id)["board_id"] == board
    run(uow_factory, event(world, "reset", at=later(5)))
    assert world.ticket(trig.ticket_id)["closed_at"] is None
    assert "no closed status" in world.comments(trig.ticket_id)[-1]["note"]
