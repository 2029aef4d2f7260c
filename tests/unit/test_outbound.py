"""Pure parts of the ticket-closed subscriber: which alerts, who closed, event parsing, the dev bus."""

from __future__ import annotations

import json
import uuid
from pathlib import Path
from typing import Any

import pytest

from rmm_alerts import localbus, ticket_closed_app
from rmm_alerts.outbound import closed_by_label, wants_reset

USER = uuid.UUID("00000000-0000-4000-8000-000000000001")


@pytest.mark.parametrize(
    ("actions", "expected"),
    [
        (None, True),  # no rule (deleted, or none matched)
        ({}, True),  # default true
        ({"createTicket": True}, True),
        ({"resetAlertOnTicketClose": True}, True),
        ({"resetAlertOnTicketClose": False}, False),
        ({"resetAlertOnTicketClose": None}, True),
    ],
)
def test_wants_reset(actions: dict[str, Any] | None, expected: bool) -> None:
    assert wants_reset(actions) is expected


@pytest.mark.parametrize(
    ("user", "name", "expected"),
    [(None, None, "system"), (None, "Tess Tech", "system"), (USER, "Tess Tech", "Tess Tech"), (USER, None, str(USER))],
)
def test_closed_by_label(user: uuid.UUID | None, name: str | None, expected: str) -> None:
    assert closed_by_label(user, name) == expected


def test_detail_reads_optional_fields_leniently() -> None:
    tenant, ticket = uuid.uuid4(), uuid.uuid4()
    detail = ticket_closed_app.TicketClosedDetail.model_validate(
        {"tenantId": str(tenant), "ticketId": str(ticket), "closedByUserId": "psa-user-7", "closedAt": "yesterday"}
    )
    assert (detail.tenant_id, detail.ticket_id, detail.closed_by_user_id, detail.closed_at) == (
        tenant,
        ticket,
        None,
        None,
    )


@pytest.mark.parametrize(
    ("event", "reason"),
    [
        ({"source": "rmm-alerts", "detail-type": "TICKET_CLOSED", "detail": {}}, "own_event"),
        (
            {
                "source": "psa",
                "detail-type": "TICKET_CLOSED",
                "detail": {"tenantId": str(USER), "ticketId": str(USER), "closedBy": "rmm-alerts"},
            },
            "own_event",
        ),
        ({"source": "psa", "detail-type": "TICKET_CREATED", "detail": {}}, "unexpected_detail_type"),
        ({"source": "psa", "detail-type": "TICKET_CLOSED", "detail": {"tenantId": "x"}}, "malformed"),
        ("not an event", "malformed"),
    ],
)
def test_events_dropped_before_any_database_work(event: Any, reason: str) -> None:
    # No pool, no settings: these return before either is needed.
    out = ticket_closed_app.handle(event, pool=object(), client_factory=lambda row: None)
    assert out["status"] == "ignored" and out["reason"] == reason


def test_local_bus_delivers_in_order_once_and_parks_failures(tmp_path: Path) -> None:
    got: list[str] = []

    def target(event: dict[str, Any]) -> dict[str, Any]:
        if event["detail"].get("boom"):
            raise RuntimeError("boom")
        got.append(event["detail"]["n"])
        return {"status": "ok", "ticketId": event["detail"]["n"], "resolved": 1}

    for n in ("a", "b"):
        localbus.publish(tmp_path, detail_type="TICKET_CLOSED", source="psa.local", detail={"n": n})
    localbus.publish(tmp_path, detail_type="TICKET_CLOSED", source="psa.local", detail={"boom": True})
    localbus.publish(tmp_path, detail_type="OTHER", source="psa.local", detail={"n": "x"})
    lines: list[str] = []
    after: list[int] = []
    bus = localbus.LocalEventBus(tmp_path, {"TICKET_CLOSED": target}, echo=lines.append, after=lambda: after.append(1))
    assert bus.drain() == 2
    assert got == ["a", "b"] and after == [1]
    assert lines[0] == "bus     TICKET_CLOSED -> ticket a resolved=1"
    assert any("failed: RuntimeError: boom" in line for line in lines)
    (parked,) = (tmp_path / localbus.BUS_DIR / "failed").glob("*.json")
    event = json.loads(parked.read_text())
    assert event["detail-type"] == "TICKET_CLOSED" and event["detail"] == {"boom": True}
    assert {"version", "id", "source", "account", "time", "region", "resources"} <= set(event)
    assert not list((tmp_path / localbus.BUS_DIR).glob("*.json"))
    assert bus.drain() == 0
