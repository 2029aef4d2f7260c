"""Admin API: the alert list shows the linked ticket's number, the alert detail the ticket's notes
(occurrence and resolution notes readable without SQL), bounded and tenant-scoped."""

from __future__ import annotations

import io
import json
import uuid
from datetime import UTC, datetime, timedelta
from typing import Any

from rmm_alerts.admin.alerts import MAX_NOTE_CHARS, MAX_NOTES
from rmm_alerts.observability import logger
from rmm_alerts.pipeline import process_event
from tests.support.admin_api import Api, claims
from tests.support.events import event
from tests.support.world import Tenant


def _comment(world: Tenant, ticket_id: Any, note: str, *, at: datetime, system: bool = False, user: Any = None) -> None:
    world.q(
        """INSERT INTO comments (tenant, ticket_id, user_id, note, is_internal, is_system_generated, created_at)
           VALUES (%s, %s, %s, %s, true, %s, %s)""",
        world.tenant,
        ticket_id,
        user,
        note,
        system,
        at,
    )


def test_list_and_detail_show_ticket_number_and_notes(api: Api, uow_factory: Any) -> None:
    w = api.world
    w.map_org("2")
    w.add_rule(actions={"autoResolveTicket": True})
    first = process_event(event(w, message="Disk C: is 95% full"), uow_factory())
    second = process_event(event(w, message="Disk C: is 97% full"), uow_factory())
    unlinked = process_event(event(w, org="99", device="202", condition="other"), uow_factory())
    assert (first.outcome, second.outcome, unlinked.outcome) == (
        "ticket_created",
        "occurrence_appended",
        "recorded_only",
    )
    ticket_id = first.ticket_id
    _comment(w, ticket_id, "Looking at it", at=datetime.now(UTC), user=w.user_id)

    items = {a["alertId"]: a for a in api.ok("GET", "/v1/alerts")["items"]}
    assert items[str(first.alert_id)]["ticketNumber"] == "TIC000001"
    assert items[str(second.alert_id)]["ticketNumber"] == "TIC000001"
    assert items[str(unlinked.alert_id)]["ticketNumber"] is None and items[str(unlinked.alert_id)]["ticketId"] is None

    detail = api.ok("GET", f"/v1/alerts/{second.alert_id}")
    assert detail["ticketNumber"] == "TIC000001"
    ticket = detail["ticket"]
    assert ticket["ticketNumber"] == "TIC000001" and ticket["noteCount"] == 3
    notes = ticket["notes"]
    assert [n["author"] for n in notes] == ["system", "system", "human"]
    assert notes[0]["text"].startswith("Ticket created automatically from NinjaOne alert")
    assert notes[1]["text"] == "Alert re-triggered — occurrence 2: Disk C: is 97% full"
    assert notes[2] == {
        "createdAt": notes[2]["createdAt"],
        "author": "human",
        "userId": str(w.user_id),
        "isInternal": True,
        "text": "Looking at it",
    }
    assert [n["createdAt"] for n in notes] == sorted(n["createdAt"] for n in notes)
    assert api.ok("GET", f"/v1/alerts/{unlinked.alert_id}")["ticket"] is None

    # The reset's note says why the ticket stayed open (a technician commented): readable here too.
    process_event(event(w, "reset"), uow_factory())
    notes = api.ok("GET", f"/v1/alerts/{first.alert_id}")["ticket"]["notes"]
    assert notes[-1]["author"] == "system" and "because a technician commented" in notes[-1]["text"]


def test_notes_are_bounded_newest_kept(api: Api, uow_factory: Any) -> None:
    w = api.world
    w.map_org("2")
    w.add_rule()
    created = process_event(event(w), uow_factory())
    base = datetime.now(UTC) + timedelta(minutes=1)
    for i in range(MAX_NOTES + 10):
        _comment(w, created.ticket_id, f"note {i:03d}", at=base + timedelta(seconds=i), system=True)
    _comment(w, created.ticket_id, "x" * (MAX_NOTE_CHARS + 100), at=base + timedelta(hours=1), user=w.user_id)
    ticket = api.ok("GET", f"/v1/alerts/{created.alert_id}")["ticket"]
    assert ticket["noteCount"] == MAX_NOTES + 12  # + the initial note and the long one
    notes = ticket["notes"]
    assert len(notes) == MAX_NOTES
    assert notes[0]["text"] == "note 011" and notes[-2]["text"] == f"note {MAX_NOTES + 9:03d}"
    assert notes[-1]["text"] == "x" * MAX_NOTE_CHARS + "…"


def test_notes_and_numbers_are_tenant_scoped(api: Api, uow_factory: Any, other: Tenant) -> None:
    w = api.world
    w.map_org("2")
    w.add_rule()
    mine = process_event(event(w), uow_factory())
    # Tenant B holds a ticket with the very same ticket id (keys are per tenant), with its own note.
    other.q(
        """INSERT INTO tickets (tenant, ticket_id, ticket_number, title, board_id, status_id, client_id)
           VALUES (%s, %s, 'B-SECRET-1', 'B ticket', %s, %s, %s)""",
        other.tenant,
        mine.ticket_id,
        other.board_id,
        other.open_status_id,
        other.client_id,
    )
    _comment(other, mine.ticket_id, "tenant B's private note", at=datetime.now(UTC) + timedelta(minutes=1))

    detail = api.ok("GET", f"/v1/alerts/{mine.alert_id}")
    texts = [n["text"] for n in detail["ticket"]["notes"]]
    assert detail["ticket"]["ticketNumber"] == "TIC000001" and detail["ticket"]["noteCount"] == 1
    assert all("tenant B" not in t for t in texts)
    listed = api.ok("GET", "/v1/alerts")["items"]
    assert [a["ticketNumber"] for a in listed] == ["TIC000001"]
    # B cannot read A's alert, nor see it listed
    assert api.call("GET", f"/v1/alerts/{mine.alert_id}", claims=claims(other))[0] == 404
    assert api.ok("GET", "/v1/alerts", claims=claims(other))["items"] == []
    assert api.call("GET", f"/v1/alerts/{uuid.uuid4()}")[0] == 404


def test_every_admin_request_is_one_structured_log_line(api: Api) -> None:
    """In Lambda, each admin request logs `admin request` with method, path, status and duration —
    refused ones too — and never the body."""
    handler = logger.registered_handler
    stream = io.StringIO()
    old = handler.setStream(stream)  # type: ignore[attr-defined]
    try:
        api.call("POST", "/v1/maintenance-windows", {"name": "secret-window-name"})  # 422
        api.call("GET", "/v1/alerts", anonymous=True)  # 401, refused before routing
        api.call("GET", "/v1/alerts")
    finally:
        handler.setStream(old)  # type: ignore[attr-defined]
    records = [json.loads(line) for line in stream.getvalue().splitlines() if line.startswith("{")]
    lines = [r for r in records if r.get("message") == "admin request"]
    assert [(r["method"], r["path"], r["status"]) for r in lines] == [
        ("POST", "/v1/maintenance-windows", 422),
        ("GET", "/v1/alerts", 401),
        ("GET", "/v1/alerts", 200),
    ]
    assert all(isinstance(r["duration_ms"], float) and r["duration_ms"] >= 0 for r in lines)
    assert lines[2]["tenant_id"] == str(api.world.tenant) and lines[0]["correlation_id"]
    assert "secret-window-name" not in stream.getvalue()
