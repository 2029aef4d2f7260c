"""Ticket text: placeholders, default title/description, severity -> priority."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from uuid import UUID, uuid4

import pytest

from rmm_alerts import normalizers
from rmm_alerts.contracts import PROVIDER_LABELS, EventKind, NormalizedAlertEvent
from rmm_alerts.templates import (
    MAX_DESCRIPTION_LENGTH,
    clip_title,
    condition_name,
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
    ("condition", "device", "message", "expected"),
    [
        ("Disk Space", "SRV-01", "Disk low", "[NinjaOne Alert] Disk Space on SRV-01: Disk low"),
        (None, "SRV-01", None, "[NinjaOne Alert] Alert on SRV-01"),
        ("  ", "SRV-01", "  ", "[NinjaOne Alert] Alert on SRV-01"),
        ("CPU", "SRV-01", "  padded  ", "[NinjaOne Alert] CPU on SRV-01: padded"),
        ("CPU", "SRV-01", "m" * 81, "[NinjaOne Alert] CPU on SRV-01: " + "m" * 81),
        ("CPU", "SRV-01", "line one\nline two", "[NinjaOne Alert] CPU on SRV-01: line one line two"),
        ("CPU", "SRV-01", "line one\r\n", "[NinjaOne Alert] CPU on SRV-01: line one"),
        ("CPU\nload", "SRV\t01", None, "[NinjaOne Alert] CPU load on SRV 01"),
        ("CPU", "", None, "[NinjaOne Alert] CPU on unknown device"),
        ("Disk full", "SRV-01", "disk FULL", "[NinjaOne Alert] Disk full on SRV-01"),
    ],
    ids=[
        "condition-device-message",
        "condition-fallback-no-message",
        "blank-condition-blank-message",
        "message-stripped",
        "long-message-kept",
        "multiline-message-joined",
        "trailing-newline-stripped",
        "whitespace-collapsed",
        "blank-device",
        "message-equal-to-condition-not-repeated",
    ],
)
def test_default_title(condition: str | None, device: str, message: str | None, expected: str) -> None:
    assert default_title("NinjaOne", condition, device, message) == expected


def test_default_title_capped_keeps_device_and_message() -> None:
    title = default_title("TacticalRMM", "C" * 300, "D" * 300, "short " + "m" * 400)
    assert len(title) == 255
    assert title.startswith("[TacticalRMM Alert] " + "C" * 99 + "… on " + "D" * 63 + "…: short mmm")
    assert title.endswith("…")


_TACTICAL_DISK = (
    "Disk space on C: is below 10% (4.2 GB free of 237 GB); "
    "threshold 10%, checked by the TacticalRMM agent every 120 seconds"
)


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        (
            {
                "raw": {"sourceName": "Disk Free Space", "data": {"message": {"code": "vmm_cond_disk_free_space_lt"}}},
                "alert_class": "vmm_cond_disk_free_space_lt",
            },
            "Disk Free Space",
        ),
        ({"raw": {"subject": "Low disk on C:"}, "alert_class": "vmm_cond_disk_free_space_lt"}, "Low disk on C:"),
        ({"raw": {}, "alert_class": "vmm_cond_disk_free_space_lt"}, "Disk free space below"),
        ({"raw": {"sourceName": "TRIGGERED"}, "alert_class": "cpu_usage_gt"}, "Cpu usage above"),
        ({"raw": {}, "alert_class": None, "condition_id": "abc-123"}, "abc-123"),
        (
            {
                "provider": "tacticalrmm",
                "alert_class": "check",
                "source_type": "diskspace",
                "raw": {"checkName": "Disk Space Drive C:"},
            },
            "Disk Space Drive C:",
        ),
        (
            {"provider": "tacticalrmm", "alert_class": "check", "source_type": "diskspace", "raw": {}},
            "Diskspace check",
        ),
        ({"provider": "tacticalrmm", "alert_class": "task", "raw": {"task_name": "Nightly backup"}}, "Nightly backup"),
        ({"provider": "tacticalrmm", "alert_class": "availability", "raw": {}}, "Agent offline"),
        ({"provider": "tacticalrmm", "alert_class": "custom", "raw": {}}, "Custom alert"),
    ],
    ids=[
        "ninja-source-name-over-code",
        "ninja-subject",
        "ninja-code-in-words",
        "ninja-lifecycle-word-ignored",
        "ninja-condition-id-fallback",
        "tactical-check-name",
        "tactical-check-type",
        "tactical-task-name-snake",
        "tactical-availability",
        "tactical-custom",
    ],
)
def test_condition_name(overrides: dict[str, Any], expected: str) -> None:
    assert condition_name(_event(**overrides)) == expected


def test_tactical_disk_check_title_keeps_message() -> None:
    event = _event(
        provider="tacticalrmm",
        alert_class="check",
        source_type="diskspace",
        device_name="ACME-WS-01",
        message=_TACTICAL_DISK,
        raw={"checkName": "Disk Space Drive C:"},
    )
    title = default_title("TacticalRMM", condition_name(event), "ACME-WS-01", event.message)
    assert title == "[TacticalRMM Alert] Disk Space Drive C: on ACME-WS-01: " + _TACTICAL_DISK
    assert "vmm_" not in title and len(title) <= 255


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


_FIXTURES = Path(__file__).resolve().parents[1] / "fixtures"


@pytest.mark.parametrize(
    ("fixture", "expected"),
    [
        (
            "ninjaone/condition_triggered.json",
            "[NinjaOne Alert] Disk Space C: below 10% on ACME-WS-01: Disk C: free space is 7.8% (threshold 10%)",
        ),
        (
            "tactical/check_trigger.json",
            "[TacticalRMM Alert] Disk Space Drive Check: Drive C: - Warning Threshold: 25% Error Threshold: 10% "
            "on ACME-WS-01: ACME-WS-01 has a diskspace check: Disk Space Drive Check: Drive C: - Warning "
            "Threshold: 25% Error Threshold: 10% that failed.",
        ),
        (
            "tactical/availability_trigger.json",
            "[TacticalRMM Alert] Agent offline on ACME-WS-01: ACME-WS-01 in Acme Corp, Main Office is overdue.",
        ),
        (
            "tactical/task_trigger.json",
            "[TacticalRMM Alert] Nightly backup on ACME-WS-01: ACME-WS-01 has task: Nightly backup that failed.",
        ),
    ],
    ids=["ninjaone-condition", "tactical-disk-check", "tactical-availability", "tactical-task"],
)
def test_default_title_of_the_sample_payloads(fixture: str, expected: str) -> None:
    """From the real payload through the normalizer: what the ticket draft's default title is."""
    body = json.loads((_FIXTURES / fixture).read_text())
    normalize = normalizers.normalize_tactical if fixture.startswith("tactical") else normalizers.normalize_ninjaone
    event = normalize(body, tenant_id=uuid4(), integration_id=uuid4())
    title = default_title(
        PROVIDER_LABELS[event.provider], condition_name(event), placeholder_values(event)["device"] or "", event.message
    )
    assert title == expected
    assert "vmm_cond" not in title and " check on " not in title and len(title) <= 255
