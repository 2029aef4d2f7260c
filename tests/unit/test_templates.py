"""Ticket text: placeholders, default title/description, severity -> priority."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone
from typing import Any
from uuid import UUID

import pytest

from rmm_alerts.contracts import EventKind, NormalizedAlertEvent
from rmm_alerts.templates import (
    MAX_DESCRIPTION_LENGTH,
    clip_title,
    default_description,
    default_title,
    pick_priority,
    placeholder_values,
    render,
)


def _event(**overrides: Any) -> NormalizedAlertEvent:
    data: dict[str, Any] = {
        "tenant_id": UUID("00000000-0000-0000-0000-0000000000f1"),
        "integration_id": UUID("00000000-0000-0000-0000-0000000000a1"),
        "provider": "ninjaone",
        "kind": EventKind.TRIGGERED,
        "external_alert_id": "1001",
        "external_device_id": "42",
        "condition_id": "cond-disk",
        "activity_type": "CONDITION",
        "alert_class": "Disk Space",
        "source_type": "CONDITION",
        "severity": "critical",
        "message": "Disk C: below 10%",
        "device_name": "SRV-01",
        "external_organization_id": "7",
        "external_organization_name": "Acme",
        "occurred_at": datetime(2026, 6, 12, 14, 30, tzinfo=UTC),
        "raw": {},
    }
    data.update(overrides)
    return NormalizedAlertEvent.model_validate(data)


VALUES: dict[str, str | None] = {
    "device": "SRV-01",
    "message": "Disk low",
    "severity": "critical",
    "organization": None,
}


@pytest.mark.parametrize(
    ("template", "expected"),
    [
        ("{{device}}", "SRV-01"),
        ("{{DEVICE}} / {{Device}}", "SRV-01 / SRV-01"),
        ("{{ device }}", "SRV-01"),
        ("{{  Severity\t}}", "critical"),
        ("[{{severity}}] {{message}} on {{device}}", "[critical] Disk low on SRV-01"),
        ("org={{organization}}.", "org=."),
        ("{{unknown}} {{ Unknown }}", "{{unknown}} {{ Unknown }}"),
        ("{device} {{device} {{ dev ice }}", "{device} {{device} {{ dev ice }}"),
        ("{{{device}}}", "{SRV-01}"),
        ("{{\ndevice}}", "{{\ndevice}}"),
        ("no placeholders", "no placeholders"),
        ("", ""),
    ],
    ids=[
        "plain",
        "case-insensitive",
        "spaces-inside",
        "spaces-and-tab",
        "several",
        "none-renders-empty",
        "unknown-left-as-is",
        "malformed-left-as-is",
        "triple-braces",
        "newline-not-allowed",
        "no-placeholders",
        "empty",
    ],
)
def test_render(template: str, expected: str) -> None:
    assert render(template, VALUES) == expected


def test_render_is_single_pass() -> None:
    values: dict[str, str | None] = {"message": "{{device}} {{ severity }}", "device": "SRV", "severity": "x"}
    assert render("{{message}} | {{device}}", values) == "{{device}} {{ severity }} | SRV"


def test_render_value_with_backslashes_is_literal() -> None:
    assert render("{{message}}", {"message": r"C:\temp\1 \g<0>"}) == r"C:\temp\1 \g<0>"


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {},
            {
                "device": "SRV-01",
                "message": "Disk C: below 10%",
                "severity": "critical",
                "organization": "Acme",
            },
        ),
        (
            {"device_name": None, "external_organization_name": None},
            {"device": "42", "message": "Disk C: below 10%", "severity": "critical", "organization": "7"},
        ),
        (
            {
                "device_name": " ",
                "external_device_id": None,
                "message": None,
                "external_organization_name": None,
                "external_organization_id": None,
                "severity": "none",
            },
            {"device": "unknown device", "message": None, "severity": "none", "organization": None},
        ),
    ],
    ids=["names", "ids-fallback", "nothing-known"],
)
def test_placeholder_values(overrides: dict[str, Any], expected: dict[str, str | None]) -> None:
    assert placeholder_values(_event(**overrides)) == expected


@pytest.mark.parametrize(
    ("alert_class", "device", "message", "expected"),
    [
        ("Disk Space", "SRV-01", "Disk low", "[NinjaOne Alert] Disk Space on SRV-01: Disk low"),
        (None, "SRV-01", None, "[NinjaOne Alert] Alert on SRV-01"),
        ("  ", "SRV-01", "  ", "[NinjaOne Alert] Alert on SRV-01"),
        ("CPU", "SRV-01", "  padded  ", "[NinjaOne Alert] CPU on SRV-01: padded"),
        ("CPU", "SRV-01", "m" * 80, "[NinjaOne Alert] CPU on SRV-01: " + "m" * 80),
        ("CPU", "SRV-01", "m" * 81, "[NinjaOne Alert] CPU on SRV-01"),
        ("CPU", "SRV-01", "line one\nline two", "[NinjaOne Alert] CPU on SRV-01"),
        ("CPU", "SRV-01", "line one\r\n", "[NinjaOne Alert] CPU on SRV-01: line one"),
        ("CPU\nload", "SRV\t01", None, "[NinjaOne Alert] CPU load on SRV 01"),
        ("CPU", "", None, "[NinjaOne Alert] CPU on unknown device"),
    ],
    ids=[
        "class-device-message",
        "class-fallback-no-message",
        "blank-class-blank-message",
        "message-stripped",
        "message-80-chars-kept",
        "message-81-chars-dropped",
        "multiline-message-dropped",
        "trailing-newline-stripped",
        "whitespace-collapsed",
        "blank-device",
    ],
)
def test_default_title(alert_class: str | None, device: str, message: str | None, expected: str) -> None:
    assert default_title("NinjaOne", alert_class, device, message) == expected


def test_default_title_capped() -> None:
    title = default_title("TacticalRMM", "C" * 300, "D" * 300, "short")
    assert len(title) == 255
    assert title.startswith("[TacticalRMM Alert] CCC")
    assert title.endswith("…")


@pytest.mark.parametrize(
    ("title", "expected"),
    [("a\n b", "a b"), ("  x  ", "x"), ("y" * 300, "y" * 254 + "…"), ("z" * 255, "z" * 255)],
    ids=["collapse", "strip", "cap", "exactly-255"],
)
def test_clip_title(title: str, expected: str) -> None:
    assert clip_title(title) == expected


def test_default_description_full() -> None:
    text = default_description(_event(occurred_at=datetime(2026, 6, 12, 10, 30, tzinfo=timezone(timedelta(hours=-4)))))
    assert text.splitlines() == [
        "NinjaOne alert",
        "",
        "Device: SRV-01 (device id 42)",
        "Organization: Acme (organization id 7)",
        "Severity: critical",
        "Condition: Disk Space",
        "Condition id: cond-disk",
        "Source type: CONDITION",
        "Activity type: CONDITION",
        "Occurred at: 2026-06-12T14:30:00+00:00",
        "External alert id: 1001",
        "",
        "Message:",
        "Disk C: below 10%",
    ]


def test_default_description_sparse() -> None:
    event = _event(
        provider="tacticalrmm",
        device_name=None,
        external_device_id=None,
        alert_class=None,
        source_type=None,
        activity_type=None,
        external_organization_id=None,
        external_organization_name=None,
        message=None,
        severity="none",
    )
    assert default_description(event).splitlines() == [
        "TacticalRMM alert",
        "",
        "Device: unknown device",
        "Organization: unknown",
        "Severity: none",
        "Condition: cond-disk",
        "Occurred at: 2026-06-12T14:30:00+00:00",
        "External alert id: 1001",
        "",
        "Message:",
        "(no message)",
    ]


def test_default_description_capped() -> None:
    text = default_description(_event(message="x" * 20_000))
    assert len(text) == MAX_DESCRIPTION_LENGTH
    assert text.endswith("…")


TENANT_PRIORITIES = [("p-low", "Low"), ("p-med", "Medium"), ("p-high", "High"), ("p-urg", "Urgent")]


@pytest.mark.parametrize(
    ("severity", "priorities", "override", "expected"),
    [
        ("critical", TENANT_PRIORITIES, None, "p-urg"),
        ("major", TENANT_PRIORITIES, None, "p-high"),
        ("moderate", TENANT_PRIORITIES, None, "p-med"),
        ("minor", TENANT_PRIORITIES, None, "p-low"),
        ("none", TENANT_PRIORITIES, None, "p-low"),
        ("critical", [("a", "Critical"), ("b", "Low")], None, "a"),
        ("critical", [("a", "P1 - Critical"), ("b", "Urgent")], None, "b"),
        ("critical", [("a", "Critical"), ("b", "P1 Urgent")], None, "a"),
        ("critical", [("a", "P2 critical"), ("b", "P1 Urgent")], None, "b"),
        ("moderate", [("a", "Normal"), ("b", "Medium-ish")], None, "a"),
        ("moderate", [("a", "NORMAL"), ("b", "medium")], None, "b"),
        ("major", [("a", "  high  ")], None, "a"),
        ("minor", [("a", "Low"), ("b", "low")], None, "a"),
        ("major", [("a", "Low")], None, None),
        ("major", [], None, None),
        ("unknown", TENANT_PRIORITIES, None, None),
        ("CRITICAL", TENANT_PRIORITIES, None, "p-urg"),
        ("minor", TENANT_PRIORITIES, "p-high", "p-high"),
        ("minor", TENANT_PRIORITIES, "P-HIGH", "p-high"),
        ("minor", TENANT_PRIORITIES, "deleted-id", "p-low"),
        ("major", [("a", "Low")], "deleted-id", None),
    ],
    ids=[
        "critical-urgent",
        "major-high",
        "moderate-medium",
        "minor-low",
        "none-low",
        "critical-falls-to-critical",
        "exact-beats-substring",
        "first-candidate-exact-wins",
        "all-exact-before-any-substring",
        "second-candidate-exact-beats-first-substring",
        "first-candidate-exact-first",
        "names-stripped",
        "tenant-order-breaks-ties",
        "no-match",
        "no-priorities",
        "unknown-severity",
        "severity-case-insensitive",
        "override-wins",
        "override-case-insensitive-returns-canonical",
        "stale-override-falls-back",
        "stale-override-no-match",
    ],
)
def test_pick_priority(
    severity: str, priorities: list[tuple[str, str]], override: str | None, expected: str | None
) -> None:
    assert pick_priority(severity, priorities, override) == expected
