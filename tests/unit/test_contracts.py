"""contracts.py: what the shapes reject, with the exact error path, and their defaults."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from pydantic import BaseModel, ValidationError

from rmm_alerts.contracts import (
    EventKind,
    MaintenanceWindowIn,
    NormalizedAlertEvent,
    RuleActions,
    RuleConditions,
    compile_tenant_pattern,
    error_list,
)


def _errors(model: type[BaseModel], data: dict[str, Any], prefix: str = "") -> list[dict[str, str]]:
    with pytest.raises(ValidationError) as info:
        model.model_validate(data)
    return error_list(info.value, prefix)


def _weekly(**overrides: Any) -> dict[str, Any]:
    recurrence: dict[str, Any] = {
        "type": "weekly",
        "days": [5],
        "startTime": "10:00",
        "endTime": "11:00",
        "timezone": "America/New_York",
    }
    recurrence.update(overrides)
    return {"name": "Patch night", "recurrence": recurrence}


@pytest.mark.parametrize(
    ("model", "data", "prefix", "path", "message"),
    [
        (
            RuleConditions,
            {"messagePattern": "("},
            "conditions",
            "conditions.messagePattern",
            "invalid regular expression",
        ),
        (
            RuleConditions,
            {"messagePattern": "(?<=a)b"},
            "conditions",
            "conditions.messagePattern",
            "invalid regular expression",
        ),
        (
            RuleConditions,
            {"messagePattern": ""},
            "conditions",
            "conditions.messagePattern",
            "at least 1 character",
        ),
        (
            RuleConditions,
            {"colour": ["red"]},
            "conditions",
            "conditions.colour",
            "Extra inputs are not permitted",
        ),
        (
            RuleConditions,
            {"severities": ["warning"]},
            "conditions",
            "conditions.severities[0]",
            "Input should be",
        ),
        (RuleConditions, {"severities": "critical"}, "conditions", "conditions.severities", "valid list"),
        (RuleConditions, {"keywords": [""]}, "conditions", "conditions.keywords[0]", "at least 1 character"),
        (
            RuleActions,
            {"sendPigeon": True},
            "actions",
            "actions.sendPigeon",
            "Extra inputs are not permitted",
        ),
        (RuleActions, {"createTicket": "yes"}, "actions", "actions.createTicket", "valid boolean"),
        (RuleActions, {"boardId": "not-a-uuid"}, "actions", "actions.boardId", "valid UUID"),
        (
            RuleActions,
            {"ticketTemplate": {"subject": "x"}},
            "actions",
            "actions.ticketTemplate.subject",
            "Extra inputs",
        ),
        (RuleActions, {"notifyUserIds": ["nope"]}, "actions", "actions.notifyUserIds[0]", "valid UUID"),
        (MaintenanceWindowIn, _weekly(days=[7]), "", "recurrence.days[0]", "less than or equal to 6"),
        (MaintenanceWindowIn, _weekly(days=[-1]), "", "recurrence.days[0]", "greater than or equal to 0"),
        (MaintenanceWindowIn, _weekly(days=[]), "", "recurrence.days", "at least 1 item"),
        (MaintenanceWindowIn, _weekly(days=[1, 1]), "", "recurrence.days", "must not repeat"),
        (MaintenanceWindowIn, _weekly(startTime="25:00"), "", "recurrence.startTime", "HH:MM"),
        (MaintenanceWindowIn, _weekly(endTime="9:00"), "", "recurrence.endTime", "HH:MM"),
        (
            MaintenanceWindowIn,
            _weekly(endTime="10:00"),
            "",
            "recurrence",
            "startTime and endTime must differ",
        ),
        (
            MaintenanceWindowIn,
            _weekly(timezone="Mars/Olympus"),
            "",
            "recurrence.timezone",
            "unknown IANA timezone",
        ),
        (MaintenanceWindowIn, _weekly(type="daily"), "", "recurrence.type", "Input should be 'weekly'"),
        (
            MaintenanceWindowIn,
            {**_weekly(), "startsAt": "2026-06-12T10:00:00Z", "endsAt": "2026-06-12T12:00:00Z"},
            "",
            "body",
            "not both",
        ),
        (
            MaintenanceWindowIn,
            {"name": "x", "startsAt": "2026-06-12T12:00:00Z", "endsAt": "2026-06-12T10:00:00Z"},
            "",
            "body",
            "endsAt must be after startsAt",
        ),
        (
            MaintenanceWindowIn,
            {"name": "x", "startsAt": "2026-06-12T12:00:00Z", "endsAt": "2026-06-12T12:00:00Z"},
            "",
            "body",
            "endsAt must be after startsAt",
        ),
        (MaintenanceWindowIn, {"name": "x", "startsAt": "2026-06-12T12:00:00Z"}, "", "body", "needs both"),
        (MaintenanceWindowIn, {"name": "x"}, "", "body", "or a recurrence"),
        (
            MaintenanceWindowIn,
            {"name": "x", "startsAt": "2026-06-12T10:00:00", "endsAt": "2026-06-12T12:00:00Z"},
            "",
            "startsAt",
            "timezone",
        ),
        (MaintenanceWindowIn, {**_weekly(), "name": ""}, "window", "window.name", "at least 1 character"),
    ],
    ids=[
        "bad-regex",
        "lookbehind-unsupported-by-re2",
        "empty-pattern",
        "unknown-condition-key",
        "unknown-severity",
        "severities-not-list",
        "empty-keyword",
        "unknown-action-key",
        "create-ticket-strict-bool",
        "board-id-not-uuid",
        "unknown-template-key",
        "notify-user-not-uuid",
        "day-7",
        "day-negative",
        "no-days",
        "repeated-day",
        "hour-25",
        "unpadded-hour",
        "start-equals-end",
        "unknown-timezone",
        "not-weekly",
        "one-off-and-recurrence",
        "ends-before-starts",
        "ends-equals-starts",
        "one-off-missing-end",
        "no-schedule",
        "naive-starts-at",
        "empty-name-with-prefix",
    ],
)
def test_rejections(model: type[BaseModel], data: dict[str, Any], prefix: str, path: str, message: str) -> None:
    errors = _errors(model, data, prefix)
    assert [e["path"] for e in errors] == [path]
    assert message in errors[0]["message"]


@pytest.mark.parametrize("value", ["10:00\n", "1\u0660:00"], ids=["trailing-newline", "arabic-indic-digit"])
def test_hhmm_rejects_lookalikes(value: str) -> None:
    _errors(MaintenanceWindowIn, _weekly(startTime=value))


@pytest.mark.parametrize(
    ("model", "data"),
    [
        (RuleConditions, {}),
        (RuleConditions, {"messagePattern": "(a+)+$"}),
        (RuleConditions, {"messagePattern": r"(?i)disk\s+\d+%", "keywords": ["disk"], "severities": []}),
        (RuleConditions, {"message_pattern": "x"}),  # populate_by_name: snake_case names accepted too
        (RuleActions, {}),
        (MaintenanceWindowIn, _weekly(startTime="22:00", endTime="02:00")),
        (
            MaintenanceWindowIn,
            {"name": "x", "startsAt": "2026-06-12T10:00:00Z", "endsAt": "2026-06-12T12:00:00+01:00"},
        ),
    ],
    ids=[
        "empty-conditions",
        "pathological-pattern",
        "mixed-conditions",
        "snake-case-name",
        "empty-actions",
        "crossing-midnight",
        "one-off",
    ],
)
def test_accepted(model: type[BaseModel], data: dict[str, Any]) -> None:
    model.model_validate(data)


def test_pathological_pattern_runs_in_linear_time() -> None:
    # Catastrophic on a backtracking engine; RE2 answers in one linear pass.
    pattern = RuleConditions.model_validate({"messagePattern": "(a+)+$"}).message_pattern
    assert pattern is not None
    assert compile_tenant_pattern(pattern).search("a" * 100_000 + "!") is None


def test_rule_actions_defaults() -> None:
    actions = RuleActions.model_validate({})
    assert actions.create_ticket is True
    assert actions.auto_resolve_ticket is False
    assert actions.reset_alert_on_ticket_close is True
    assert actions.notify_user_ids == []
    assert actions.board_id is None
    assert actions.priority_override is None
    assert actions.ticket_template is None


def test_rule_actions_camel_case_round_trip() -> None:
    board = "00000000-0000-0000-0000-0000000000b1"
    actions = RuleActions.model_validate({"boardId": board, "ticketTemplate": {"titleTemplate": "{{device}}"}})
    assert actions.board_id == UUID(board)
    dumped = actions.model_dump(mode="json", by_alias=True)
    assert dumped["boardId"] == board
    assert dumped["ticketTemplate"]["titleTemplate"] == "{{device}}"
    assert dumped["resetAlertOnTicketClose"] is True


def _event_data(**overrides: Any) -> dict[str, Any]:
    data: dict[str, Any] = {
        "tenant_id": "00000000-0000-0000-0000-0000000000f1",
        "integration_id": "00000000-0000-0000-0000-0000000000a1",
        "provider": "ninjaone",
        "kind": EventKind.TRIGGERED,
        "external_alert_id": "1001",
        "condition_id": "cond-disk",
        "occurred_at": datetime(2026, 6, 12, 14, 30, tzinfo=UTC),
        "raw": {},
    }
    data.update(overrides)
    return data


@pytest.mark.parametrize(
    ("overrides", "path", "message"),
    [
        ({"occurred_at": datetime(2026, 6, 12, 14, 30)}, "occurred_at", "timezone"),
        ({"severity": "warning"}, "severity", "Input should be"),
        ({"severity": "CRITICAL"}, "severity", "Input should be"),
        ({"provider": "datto"}, "provider", "Input should be"),
        ({"external_alert_id": ""}, "external_alert_id", "at least 1 character"),
        ({"condition_id": ""}, "condition_id", "at least 1 character"),
        ({"lifecycle": "TRIGGERED"}, "lifecycle", "Extra inputs are not permitted"),
    ],
    ids=[
        "naive-occurred-at",
        "unknown-severity",
        "severity-case-sensitive",
        "unknown-provider",
        "empty-alert-id",
        "empty-condition-id",
        "unknown-field",
    ],
)
def test_event_rejections(overrides: dict[str, Any], path: str, message: str) -> None:
    errors = _errors(NormalizedAlertEvent, _event_data(**overrides))
    assert [e["path"] for e in errors] == [path]
    assert message in errors[0]["message"]


def test_event_defaults() -> None:
    event = NormalizedAlertEvent.model_validate(_event_data())
    assert event.severity == "none"
    assert event.tenant_id == UUID("00000000-0000-0000-0000-0000000000f1")
    assert event.external_device_id is None
    assert event.message is None
