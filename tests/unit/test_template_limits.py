"""Issue 10 item 12: a template cannot multiply a huge message into a huge ticket (or a huge
string on the way there): every substituted value and the rendered total are clipped."""

from __future__ import annotations

import tracemalloc
import uuid
from datetime import UTC, datetime

from rmm_alerts import templates, tickets
from rmm_alerts.contracts import EventKind, NormalizedAlertEvent, RuleActions


def _event(message: str) -> NormalizedAlertEvent:
    return NormalizedAlertEvent(
        tenant_id=uuid.UUID(int=1),
        integration_id=uuid.UUID(int=2),
        provider="ninjaone",
        kind=EventKind.TRIGGERED,
        external_alert_id="1",
        external_device_id="101",
        condition_id="c",
        message=message,
        device_name="SRV-01",
        occurred_at=datetime(2026, 6, 12, tzinfo=UTC),
        raw={},
    )


DEFAULTS = {
    "board_id": uuid.UUID(int=10),
    "board_name": "Service Desk",
    "default_status_id": uuid.UUID(int=11),
    "priorities": [],
    "assignee_ok": False,
    "contact_ok": False,
    "client_ok": True,
}


def _draft(title: str, description: str, message: str) -> tickets.TicketDraft:
    actions = RuleActions.model_validate(
        {"ticketTemplate": {"titleTemplate": title, "descriptionTemplate": description}}
    )
    return tickets.draft_ticket(
        _event(message),
        actions,
        DEFAULTS,
        ticket_id=uuid.uuid4(),
        alert_id=uuid.uuid4(),
        dedup_key="101:c",
        client=tickets.ClientChoice(uuid.UUID(int=12), None, "mapping"),
    )


def test_a_repeated_huge_message_stays_small_all_the_way() -> None:
    message = "m" * 100_000
    tracemalloc.start()
    try:
        draft = _draft("{{message}}" * 45, "{{message}}" * 900, message)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    assert len(draft.title) <= templates.MAX_TITLE_LENGTH
    assert len(draft.description) <= templates.MAX_DESCRIPTION_LENGTH
    assert draft.description.endswith("…")
    assert peak < 2_000_000, f"rendering peaked at {peak} bytes"


def test_each_value_is_clipped_before_it_is_substituted() -> None:
    text = templates.render("{{device}}|{{message}}", {"device": "d", "message": "x" * 5000}, value_limit=10)
    assert text == "d|" + "x" * 9 + "…"


def test_total_limit_keeps_text_after_the_last_placeholder() -> None:
    assert templates.render("a {{device}} b", {"device": "D"}, total_limit=100) == "a D b"
    assert templates.render("{{unknown}} stays", {}, total_limit=100) == "{{unknown}} stays"


def test_notes_clip_the_message() -> None:
    event = _event("n" * 50_000)
    assert len(tickets.initial_note(event, uuid.uuid4())) < templates.MAX_VALUE_LENGTH + 500
    assert len(tickets.occurrence_note(2, event)) < templates.MAX_VALUE_LENGTH + 100
