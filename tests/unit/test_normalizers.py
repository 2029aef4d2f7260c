"""Normalizers: raw NinjaOne / TacticalRMM payloads -> NormalizedAlertEvent (docs/payloads.md)."""

from __future__ import annotations

import copy
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from rmm_alerts.contracts import EventKind, NormalizedAlertEvent
from rmm_alerts.normalizers import (
    MalformedPayload,
    NotAnAlert,
    clean_json,
    normalize,
    normalize_ninjaone,
    normalize_tactical,
    parse_json,
    tactical_condition_id,
    tactical_severity,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures"
TENANT = UUID("11111111-1111-4111-8111-111111111111")
INTEGRATION = UUID("22222222-2222-4222-8222-222222222222")
RECEIVED = datetime(2025, 3, 19, 15, 0, tzinfo=UTC)


def fixture(name: str) -> Any:
    return json.loads((FIXTURES / name).read_text())


def ninja(payload: object, **kwargs: Any) -> NormalizedAlertEvent:
    return normalize_ninjaone(payload, tenant_id=TENANT, integration_id=INTEGRATION, **kwargs)


def tactical(payload: object, **kwargs: Any) -> NormalizedAlertEvent:
    return normalize_tactical(payload, tenant_id=TENANT, integration_id=INTEGRATION, **kwargs)


def without(payload: dict[str, Any], *keys: str) -> dict[str, Any]:
    out = copy.deepcopy(payload)
    for key in keys:
        out.pop(key, None)
    return out


# ---------------------------------------------------------------------------------------------
# NinjaOne fixtures, both shapes

DISK_CONFIG = "9b1e2c1a-7d4f-4e8b-a6c3-1f0e9d8c7b6a"
DISK_SERIES = "5f3c6e8a-2b1d-4c7e-9a0f-3e2d1c4b5a69"


@pytest.mark.parametrize(
    ("name", "kind", "alert_id", "condition", "pairing", "occurred"),
    [
        ("condition_triggered", EventKind.TRIGGERED, "884211", DISK_CONFIG, DISK_SERIES, 1742391675.556),
        ("condition_acknowledged", EventKind.ACKNOWLEDGED, "884290", DISK_CONFIG, DISK_SERIES, 1742392500.25),
        ("condition_reset", EventKind.RESET, "884377", DISK_CONFIG, DISK_SERIES, 1742395275),
        ("alt_triggered", EventKind.TRIGGERED, "884211", "DISK_SPACE_LOW", None, 1742391675.556),
        ("alt_acknowledged", EventKind.ACKNOWLEDGED, "884290", "DISK_SPACE_LOW", None, 1742392500.25),
        ("alt_reset", EventKind.RESET, "884377", "DISK_SPACE_LOW", None, 1742395275),
    ],
)
def test_ninjaone_fixtures(
    name: str, kind: EventKind, alert_id: str, condition: str, pairing: str | None, occurred: float
) -> None:
    payload = fixture(f"ninjaone/{name}.json")
    event = ninja(payload)
    assert event.provider == "ninjaone"
    assert event.tenant_id == TENANT
    assert event.integration_id == INTEGRATION
    assert event.kind is kind
    assert event.external_alert_id == alert_id
    assert event.condition_id == condition
    assert event.pairing_id == pairing
    assert event.external_device_id == "101"
    assert event.external_organization_id == "2"
    assert event.external_organization_name == "Acme Corp"
    assert event.severity == "major"
    assert event.activity_type == "CONDITION"
    assert event.source_type == "CONDITION"
    assert event.occurred_at == datetime.fromtimestamp(occurred, tz=UTC)
    assert event.raw == payload
    assert event.condition_id.upper() not in {"TRIGGERED", "RESET", "ACKNOWLEDGED"}


def test_ninjaone_documented_shape_details() -> None:
    event = ninja(fixture("ninjaone/condition_triggered.json"))
    assert event.device_name == "ACME-WS-01"
    assert event.alert_class == "vmm_cond_disk_free_space_lt"
    assert event.message == "Disk C: free space is 7.8% (threshold 10%)"
    assert event.occurred_at == datetime(2025, 3, 19, 13, 41, 15, 556000, tzinfo=UTC)


def test_ninjaone_alt_shape_details() -> None:
    event = ninja(fixture("ninjaone/alt_triggered.json"))
    assert event.device_name == "ACME-WS-01"  # device expanded
    assert event.external_organization_id == "2"
    assert event.alert_class == "DISK_SPACE_LOW"
    bare = ninja({k: v for k, v in fixture("ninjaone/alt_triggered.json").items() if k != "device"})
    assert bare.device_name is None
    assert bare.external_organization_id == "2"  # from the root in this shape


def test_ninjaone_reset_pairs_with_trigger_via_series() -> None:
    trigger = ninja(fixture("ninjaone/condition_triggered.json"))
    reset = ninja(fixture("ninjaone/condition_reset.json"))
    assert trigger.external_alert_id != reset.external_alert_id  # different activities...
    assert trigger.pairing_id == reset.pairing_id == DISK_SERIES  # ...one series
    assert (trigger.external_device_id, trigger.condition_id) == (
        reset.external_device_id,
        reset.condition_id,
    )


def test_ninjaone_alt_reset_pairs_on_device_and_condition() -> None:
    trigger = ninja(fixture("ninjaone/alt_triggered.json"))
    reset = ninja(fixture("ninjaone/alt_reset.json"))
    assert trigger.pairing_id is None
    assert reset.pairing_id is None
    assert (trigger.external_device_id, trigger.condition_id) == (
        reset.external_device_id,
        reset.condition_id,
    )


def test_two_conditions_on_one_device_differ() -> None:
    disk = ninja(fixture("ninjaone/condition_triggered.json"))
    cpu = ninja(fixture("ninjaone/condition_triggered_other_condition.json"))
    assert disk.external_device_id == cpu.external_device_id
    assert disk.condition_id != cpu.condition_id
    assert cpu.severity == "critical"
    assert cpu.alert_class == "vmm_cond_cpu_usage_ge"


@pytest.mark.parametrize("name", ["actionset", "system"])
def test_ninjaone_non_condition_is_not_an_alert(name: str) -> None:
    with pytest.raises(NotAnAlert) as info:
        ninja(fixture(f"ninjaone/{name}.json"))
    assert name.upper() in info.value.reason


@pytest.mark.parametrize(
    ("status_code", "status", "kind"),
    [
        ("TRIGGERED", "Triggered", EventKind.TRIGGERED),
        ("triggered", None, EventKind.TRIGGERED),
        ("Reset", "whatever", EventKind.RESET),
        ("acknowledged", None, EventKind.ACKNOWLEDGED),
        ("DISK_SPACE_LOW", "triggered", EventKind.TRIGGERED),
        ("DISK_SPACE_LOW", "RESET", EventKind.RESET),
        (None, "Acknowledged", EventKind.ACKNOWLEDGED),
        ("RESET", "TRIGGERED", EventKind.RESET),  # statusCode wins when both hold a lifecycle word
    ],
)
def test_ninjaone_lifecycle_in_either_field(status_code: str | None, status: str | None, kind: EventKind) -> None:
    payload = without(fixture("ninjaone/condition_triggered.json"), "statusCode", "status")
    payload |= {k: v for k, v in {"statusCode": status_code, "status": status}.items() if v is not None}
    event = ninja(payload)
    assert event.kind is kind
    assert event.condition_id == DISK_CONFIG


@pytest.mark.parametrize(
    ("drop", "extra", "condition", "source_field"),
    [
        ((), {}, DISK_CONFIG, "sourceConfigUid"),
        (("sourceConfigUid",), {}, "vmm_cond_disk_free_space_lt", "data.message.code"),
        (("sourceConfigUid", "data"), {}, "Disk Space C: below 10%", "sourceName"),
        # alternative shape: the condition code in statusCode beats data.message.code
        (("sourceConfigUid",), {"statusCode": "DISK_SPACE_LOW", "status": "TRIGGERED"}, "DISK_SPACE_LOW", ""),
        # a lifecycle word is never the identity, wherever it appears
        (("sourceConfigUid", "data"), {"sourceName": "Triggered"}, None, "sourceConfigUid"),
    ],
)
def test_ninjaone_condition_identity(
    drop: tuple[str, ...], extra: dict[str, Any], condition: str | None, source_field: str
) -> None:
    payload = without(fixture("ninjaone/condition_triggered.json"), *drop) | extra
    if condition is None:
        with pytest.raises(MalformedPayload) as info:
            ninja(payload)
        assert info.value.field == source_field
    else:
        assert ninja(payload).condition_id == condition


def test_ninjaone_condition_identity_is_never_the_lifecycle_word_in_alt_shape() -> None:
    # the reference implementation's flaw (statusCode as identity), replayed on a real payload
    events = [ninja(fixture(f"ninjaone/{n}.json")) for n in ("condition_triggered", "condition_reset")]
    assert {e.condition_id for e in events} == {DISK_CONFIG}


@pytest.mark.parametrize(
    ("mutate", "expected"),
    [
        (lambda p: p, "2"),  # device.organizationId
        (lambda p: p["device"].pop("organizationId") and p, "2"),  # device.references.organization.id
        (lambda p: p["device"].update(organizationId=None, references={"organization": {"id": 7}}) or p, "7"),
        (lambda p: p.pop("device") and p | {"organizationId": 9}, "9"),  # root organizationId
        (lambda p: p.pop("device") and p, None),
    ],
)
def test_ninjaone_org_id_sources(mutate: Any, expected: str | None) -> None:
    payload = mutate(copy.deepcopy(fixture("ninjaone/condition_triggered.json")))
    assert ninja(payload).external_organization_id == expected


def test_ninjaone_org_name_from_root_and_device_name_fallbacks() -> None:
    payload = fixture("ninjaone/condition_triggered.json")
    payload["device"] = {"id": 101, "systemName": "SYS-NAME", "dnsName": "dns.example"}
    payload["organizationName"] = "Root Org"
    event = ninja(payload)
    assert event.external_organization_name == "Root Org"
    assert event.device_name == "SYS-NAME"
    payload["device"] = {"id": 555, "dnsName": "dns.example"}
    payload.pop("deviceId")
    event = ninja(payload)
    assert event.device_name == "dns.example"
    assert event.external_device_id == "555"


@pytest.mark.parametrize(
    ("severity", "expected"),
    [
        ("CRITICAL", "critical"),
        ("MAJOR", "major"),
        ("Moderate", "moderate"),
        ("minor", "minor"),
        ("NONE", "none"),
        ("URGENT", "none"),
        (None, "none"),
        (3, "none"),
        ("None", "none"),
    ],
)
def test_ninjaone_severity(severity: object, expected: str) -> None:
    payload = fixture("ninjaone/condition_triggered.json") | {"severity": severity}
    assert ninja(payload).severity == expected


def test_ninjaone_message_falls_back_to_subject_and_source_type() -> None:
    payload = without(fixture("ninjaone/condition_triggered.json"), "message") | {"sourceType": "CONDITION_ACTIONSET"}
    event = ninja(payload)
    assert event.message == "Disk space low on ACME-WS-01"
    assert event.source_type == "CONDITION_ACTIONSET"


@pytest.mark.parametrize(
    ("activity_time", "expected"),
    [
        (1742391675, datetime(2025, 3, 19, 13, 41, 15, tzinfo=UTC)),
        (1742391675.5, datetime(2025, 3, 19, 13, 41, 15, 500000, tzinfo=UTC)),
        ("1742391675.5", datetime(2025, 3, 19, 13, 41, 15, 500000, tzinfo=UTC)),
        (1742391675500, datetime(2025, 3, 19, 13, 41, 15, 500000, tzinfo=UTC)),  # milliseconds
        ("2025-03-19T13:41:15Z", datetime(2025, 3, 19, 13, 41, 15, tzinfo=UTC)),
        ("2025-03-19T14:41:15+01:00", datetime(2025, 3, 19, 13, 41, 15, tzinfo=UTC)),
        ("2025-03-19 13:41:15", datetime(2025, 3, 19, 13, 41, 15, tzinfo=UTC)),  # naive = UTC
    ],
)
def test_ninjaone_activity_time_formats(activity_time: object, expected: datetime) -> None:
    payload = fixture("ninjaone/condition_triggered.json") | {"activityTime": activity_time}
    assert ninja(payload).occurred_at == expected


def test_ninjaone_missing_time_uses_received_at_else_malformed() -> None:
    payload = without(fixture("ninjaone/condition_triggered.json"), "activityTime")
    assert ninja(payload, received_at=RECEIVED).occurred_at == RECEIVED
    with pytest.raises(MalformedPayload) as info:
        ninja(payload)
    assert info.value.field == "activityTime"


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ([], "body"),
        ("TRIGGERED", "body"),
        (None, "body"),
        (42, "body"),
        ({}, "statusCode"),
        ({"activityType": 5, "statusCode": "TRIGGERED"}, "activityType"),
        (without(fixture("ninjaone/condition_triggered.json"), "id"), "id"),
        (fixture("ninjaone/condition_triggered.json") | {"id": True}, "id"),
        (without(fixture("ninjaone/alt_triggered.json"), "activityId"), "id"),
        (
            without(fixture("ninjaone/condition_triggered.json"), "sourceConfigUid", "data", "sourceName"),
            "sourceConfigUid",
        ),
        (fixture("ninjaone/condition_triggered.json") | {"activityTime": "yesterday"}, "activityTime"),
        (fixture("ninjaone/condition_triggered.json") | {"activityTime": True}, "activityTime"),
        (fixture("ninjaone/condition_triggered.json") | {"activityTime": -5}, "activityTime"),
        (fixture("ninjaone/condition_triggered.json") | {"activityTime": [1]}, "activityTime"),
        (fixture("ninjaone/condition_triggered.json") | {"seriesUid": "x" * 300}, "seriesUid"),
        (fixture("ninjaone/condition_triggered.json") | {"sourceConfigUid": "x" * 600}, "sourceConfigUid"),
        (fixture("ninjaone/condition_triggered.json") | {"id": "9" * 300}, "id"),
    ],
)
def test_ninjaone_malformed(payload: object, field: str) -> None:
    with pytest.raises(MalformedPayload) as info:
        ninja(payload, received_at=RECEIVED)
    assert info.value.field == field
    assert str(info.value) == f"{field}: {info.value.message}"


def test_ninjaone_condition_without_lifecycle_is_not_an_alert() -> None:
    payload = fixture("ninjaone/condition_triggered.json") | {"statusCode": "UPDATED", "status": "Updated"}
    with pytest.raises(NotAnAlert, match="lifecycle"):
        ninja(payload)


def test_ninjaone_alt_shape_with_activity_type_and_alias_free_id() -> None:
    payload = fixture("ninjaone/alt_triggered.json") | {"activityType": "condition", "activityId": "884211"}
    event = ninja(payload)
    assert event.activity_type == "CONDITION"
    assert event.external_alert_id == "884211"


# ---------------------------------------------------------------------------------------------
# TacticalRMM

AGENT = "kHaQcsUgHhLfRwyJOTuSwFYfPqrSQvtmkmnUcQkN"
T_ALERT = datetime(2025, 3, 19, 13, 41, 15, 556123, tzinfo=UTC)
T_RESOLVED = datetime(2025, 3, 19, 14, 31, 15, 87011, tzinfo=UTC)


@pytest.mark.parametrize(
    ("name", "kind", "alert_id", "condition", "severity", "source_type", "occurred"),
    [
        ("check_trigger", EventKind.TRIGGERED, "412", "check:17", "critical", "diskspace", T_ALERT),
        ("check_resolve", EventKind.RESET, "412", "check:17", "critical", "diskspace", T_RESOLVED),
        ("task_trigger", EventKind.TRIGGERED, "413", "task:9", "moderate", "task", T_ALERT),
        ("task_resolve", EventKind.RESET, "413", "task:9", "moderate", "task", T_RESOLVED),
        (
            "availability_trigger",
            EventKind.TRIGGERED,
            "414",
            "availability",
            "critical",
            "availability",
            T_ALERT,
        ),
        (
            "availability_resolve",
            EventKind.RESET,
            "414",
            "availability",
            "critical",
            "availability",
            T_RESOLVED,
        ),
    ],
)
def test_tactical_fixtures(
    name: str,
    kind: EventKind,
    alert_id: str,
    condition: str,
    severity: str,
    source_type: str,
    occurred: datetime,
) -> None:
    payload = fixture(f"tactical/{name}.json")
    event = tactical(payload)
    assert event.provider == "tacticalrmm"
    assert event.kind is kind
    assert event.external_alert_id == event.pairing_id == alert_id
    assert event.condition_id == condition
    assert event.severity == severity
    assert event.alert_class == name.split("_")[0]
    assert event.source_type == source_type
    assert event.activity_type is None
    assert event.external_device_id == AGENT
    assert event.device_name == "ACME-WS-01"
    assert event.external_organization_id == "2"
    assert event.external_organization_name == "Acme Corp"
    assert event.occurred_at == occurred
    assert "ACME-WS-01" in (event.message or "")
    assert event.raw == payload


def test_tactical_trigger_and_resolve_pair_on_alert_id() -> None:
    for kind in ("check", "task", "availability"):
        trigger = tactical(fixture(f"tactical/{kind}_trigger.json"))
        resolve = tactical(fixture(f"tactical/{kind}_resolve.json"))
        assert trigger.pairing_id == resolve.pairing_id
        assert trigger.condition_id == resolve.condition_id


def test_tactical_identity_is_per_check_not_per_agent() -> None:
    ids = {tactical(fixture(f"tactical/{k}_trigger.json")).condition_id for k in ("check", "task", "availability")}
    assert len(ids) == 3
    other_check = fixture("tactical/check_trigger.json") | {"checkId": "18", "alertId": "500"}
    assert tactical(other_check).condition_id == "check:18"
    assert AGENT not in "".join(ids)


def test_tactical_unparseable_body_is_recovered() -> None:
    # A raw double quote in a check name breaks the JSON; Tactical then posts the text as a string.
    payload = fixture("tactical/check_trigger_unparseable.json")
    assert isinstance(payload, str)
    event = tactical(payload)
    assert event.external_alert_id == "415"
    assert event.condition_id == "check:18"
    assert event.source_type == "script"
    assert event.message == 'ACME-WS-01 has a script check: Script Check: Check "Print Spooler" that failed.'
    assert event.raw["checkName"] == 'Script Check: Check "Print Spooler"'
    assert event.raw["_recoveredFromText"] == payload


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("error", "critical"),
        ("warning", "moderate"),
        ("info", "minor"),
        ("ERROR", "critical"),
        ("critical", "critical"),
        ("bogus", "none"),
        ("None", "none"),
        (None, "none"),
        (1, "none"),
    ],
)
def test_tactical_severity_map(value: object, expected: str) -> None:
    assert tactical_severity(value) == expected
    assert tactical(fixture("tactical/check_trigger.json") | {"severity": value}).severity == expected


@pytest.mark.parametrize(
    ("event_word", "kind"),
    [
        ("trigger", EventKind.TRIGGERED),
        ("failure", EventKind.TRIGGERED),
        ("Trigger", EventKind.TRIGGERED),
        ("resolve", EventKind.RESET),
        ("resolved", EventKind.RESET),
        ("RESOLVED", EventKind.RESET),
    ],
)
def test_tactical_event_words(event_word: str, kind: EventKind) -> None:
    assert tactical(fixture("tactical/check_trigger.json") | {"event": event_word}).kind is kind


@pytest.mark.parametrize(
    ("changes", "condition"),
    [
        (
            {"checkId": "None"},
            "check:name:Disk Space Drive Check: Drive C: -  Warning Threshold: 25% Error Threshold: 10%",
        ),
        (
            {"checkId": ""},
            "check:name:Disk Space Drive Check: Drive C: -  Warning Threshold: 25% Error Threshold: 10%",
        ),
        ({"alertType": "None", "taskId": "None"}, "check:17"),  # type inferred from the check
        ({"alertType": "CHECK"}, "check:17"),
        ({"alertType": "custom", "message": "Backups stale"}, "custom:Backups stale"),
    ],
)
def test_tactical_condition_fallbacks(changes: dict[str, Any], condition: str) -> None:
    assert tactical(fixture("tactical/check_trigger.json") | changes).condition_id == condition


def test_tactical_task_name_fallback_and_custom_long_message() -> None:
    assert (
        tactical(fixture("tactical/task_trigger.json") | {"taskId": "None"}).condition_id == "task:name:Nightly backup"
    )
    long_message = "x" * 5000
    cid = tactical_condition_id("custom", message=long_message)
    assert cid.startswith("custom:xxx")
    assert len(cid) < 255
    assert cid != tactical_condition_id("custom", message=long_message + "y")


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"event": "None"}, "event"),
        ({"event": "snoozed"}, "event"),
        ({"alertId": "None"}, "alertId"),
        ({"alertId": ""}, "alertId"),
        ({"checkId": "None", "checkName": "None"}, "checkId"),
        ({"alertType": "weird"}, "alertType"),
        ({"alertType": "None", "checkId": "None", "checkName": "None"}, "alertType"),
        ({"alertType": "custom", "message": "None"}, "message"),
        ({"alertTime": "not a time"}, "alertTime"),
        ({"alertId": "1" * 300}, "alertId"),
        ({"agentId": "a" * 300}, "agentId"),
    ],
)
def test_tactical_malformed(changes: dict[str, Any], field: str) -> None:
    with pytest.raises(MalformedPayload) as info:
        tactical(fixture("tactical/check_trigger.json") | changes, received_at=RECEIVED)
    assert info.value.field == field


def test_tactical_task_without_identity() -> None:
    with pytest.raises(MalformedPayload) as info:
        tactical(fixture("tactical/task_trigger.json") | {"taskId": "None", "taskName": ""})
    assert info.value.field == "taskId"


@pytest.mark.parametrize("payload", [[], None, 3, "", "not json", "[1, 2]", '{"event": "trigger"'])
def test_tactical_non_object_body(payload: object) -> None:
    with pytest.raises(MalformedPayload) as info:
        tactical(payload)
    assert info.value.field == "body"


def test_tactical_json_text_body_is_accepted() -> None:
    payload = fixture("tactical/check_trigger.json")
    assert tactical(json.dumps(payload)).condition_id == "check:17"


def test_tactical_none_strings_are_missing() -> None:
    payload = fixture("tactical/availability_trigger.json") | {
        "hostname": "None",
        "clientId": "None",
        "message": "None",
        "agentId": "None",
    }
    event = tactical(payload)
    assert event.device_name is None
    assert event.external_device_id is None
    assert event.message is None
    assert event.external_organization_id == "Acme Corp"  # client name when the id is missing
    assert event.external_organization_name == "Acme Corp"


def test_tactical_times() -> None:
    trigger = fixture("tactical/check_trigger.json")
    assert tactical(trigger | {"alertTime": "None"}, received_at=RECEIVED).occurred_at == RECEIVED
    with pytest.raises(MalformedPayload) as info:
        tactical(trigger | {"alertTime": "None"})
    assert info.value.field == "alertTime"
    resolve = fixture("tactical/check_resolve.json")
    # resolve: resolvedOn, else the receive time, else the alert time
    assert tactical(resolve | {"resolvedOn": "None"}, received_at=RECEIVED).occurred_at == RECEIVED
    assert tactical(resolve | {"resolvedOn": "None"}).occurred_at == T_ALERT
    assert tactical(trigger | {"alertTime": "2025-03-19T13:41:15Z"}).occurred_at == T_ALERT.replace(microsecond=0)


def test_tactical_reference_implementation_snake_case_body() -> None:
    body = {
        "event": "trigger",
        "alert_id": "77",
        "alert_type": "check",
        "check_id": "3",
        "agent_id": "agent-9",
        "severity": "warning",
        "message": "Disk space low",
        "alert_time": "2026-02-13T18:25:43.511Z",
        "client_id": "1",
        "site_id": "10",
    }
    event = tactical(body)
    assert (event.external_alert_id, event.condition_id, event.external_device_id) == (
        "77",
        "check:3",
        "agent-9",
    )
    assert event.external_organization_id == "1"
    assert event.severity == "moderate"


# ---------------------------------------------------------------------------------------------
# Dispatcher


def test_normalize_dispatch() -> None:
    assert (
        normalize(
            "ninjaone",
            fixture("ninjaone/condition_triggered.json"),
            tenant_id=TENANT,
            integration_id=INTEGRATION,
        ).provider
        == "ninjaone"
    )
    assert (
        normalize(
            "tacticalrmm",
            fixture("tactical/check_trigger.json"),
            tenant_id=TENANT,
            integration_id=INTEGRATION,
        ).provider
        == "tacticalrmm"
    )
    event = normalize(
        "ninjaone",
        without(fixture("ninjaone/condition_triggered.json"), "activityTime"),
        tenant_id=TENANT,
        integration_id=INTEGRATION,
        received_at=RECEIVED,
    )
    assert event.occurred_at == RECEIVED
    with pytest.raises(ValueError, match="unknown provider"):
        normalize("datto", {}, tenant_id=TENANT, integration_id=INTEGRATION)


# ---------------------------------------------------------------------------------------------
# Properties: arbitrary input never raises anything but NotAnAlert / MalformedPayload.

JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda children: st.lists(children, max_size=4) | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=20,
)
SCALAR = (
    st.none()
    | st.booleans()
    | st.integers()
    | st.floats()
    | st.text(max_size=30)
    | st.sampled_from(
        [
            "None",
            "",
            "TRIGGERED",
            "reset",
            "Acknowledged",
            "CONDITION",
            "ACTIONSET",
            "trigger",
            "resolve",
            "check",
            "task",
            "availability",
            "custom",
            "error",
            "1742391675.556",
            "2025-03-19 13:41:15.556123+00:00",
            "1e400",
            "x" * 600,
        ]
    )
)
VALUE = SCALAR | JSON

NINJA_KEYS = [
    "id",
    "activityId",
    "statusCode",
    "status",
    "seriesUid",
    "sourceConfigUid",
    "sourceName",
    "deviceId",
    "device",
    "activityTime",
    "activityType",
    "severity",
    "message",
    "subject",
    "data",
    "organizationId",
    "organizationName",
    "sourceType",
    "type",
]
TACTICAL_KEYS = [
    "event",
    "alertId",
    "alertType",
    "severity",
    "alertTime",
    "resolvedOn",
    "agentId",
    "hostname",
    "clientId",
    "clientName",
    "siteId",
    "siteName",
    "checkId",
    "checkType",
    "checkName",
    "taskId",
    "taskName",
    "message",
    "alert_id",
    "agent_id",
    "alert_time",
]


def _maybe(**fields: st.SearchStrategy[Any]) -> st.SearchStrategy[dict[str, Any]]:
    """Dicts holding any subset of ``fields``."""
    return st.fixed_dictionaries({}, optional=fields)


ORGANIZATION = _maybe(id=VALUE, name=VALUE)
DEVICE = _maybe(
    id=VALUE,
    organizationId=VALUE,
    displayName=VALUE,
    systemName=VALUE,
    dnsName=VALUE,
    references=_maybe(organization=ORGANIZATION | VALUE) | VALUE,
)
NINJA_PAYLOAD = st.fixed_dictionaries(
    {},
    optional={key: VALUE for key in NINJA_KEYS}
    | {"device": DEVICE | VALUE, "data": _maybe(message=_maybe(code=VALUE) | VALUE) | VALUE},
)
TACTICAL_PAYLOAD = st.fixed_dictionaries({}, optional={k: VALUE for k in TACTICAL_KEYS})
PROPERTY = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def _only_expected_errors(provider: str, payload: object, received_at: datetime | None) -> None:
    outcome: NormalizedAlertEvent | NotAnAlert | MalformedPayload
    try:
        outcome = normalize(provider, payload, tenant_id=TENANT, integration_id=INTEGRATION, received_at=received_at)
    except (NotAnAlert, MalformedPayload) as exc:  # anything else fails the test
        outcome = exc
    if isinstance(outcome, NotAnAlert):
        assert isinstance(outcome.reason, str)
    elif isinstance(outcome, MalformedPayload):
        assert outcome.field
        assert str(outcome) == f"{outcome.field}: {outcome.message}"
    else:
        assert outcome.condition_id.upper() not in {"TRIGGERED", "RESET", "ACKNOWLEDGED"}
        assert outcome.external_alert_id


@PROPERTY
@given(payload=JSON, provider=st.sampled_from(["ninjaone", "tacticalrmm"]), received=st.booleans())
def test_property_arbitrary_json(payload: object, provider: str, received: bool) -> None:
    _only_expected_errors(provider, payload, RECEIVED if received else None)


@PROPERTY
@given(payload=NINJA_PAYLOAD, received=st.booleans())
def test_property_ninjaone_shaped(payload: dict[str, Any], received: bool) -> None:
    _only_expected_errors("ninjaone", payload, RECEIVED if received else None)


@PROPERTY
@given(payload=TACTICAL_PAYLOAD, received=st.booleans(), as_text=st.booleans())
def test_property_tactical_shaped(payload: dict[str, Any], received: bool, as_text: bool) -> None:
    body: object = payload
    if as_text:  # the text form Tactical posts when its JSON parse fails
        body = "{\n" + ",\n".join(f'  "{k}": "{v}"' for k, v in payload.items()) + "\n}"
    _only_expected_errors("tacticalrmm", body, RECEIVED if received else None)


@PROPERTY
@given(
    base=st.sampled_from(["condition_triggered", "condition_reset", "alt_triggered", "actionset"]),
    key=st.sampled_from(NINJA_KEYS),
    value=VALUE,
)
def test_property_ninjaone_fixture_with_one_field_replaced(base: str, key: str, value: object) -> None:
    payload = fixture(f"ninjaone/{base}.json") | {key: value}
    _only_expected_errors("ninjaone", payload, None)


@PROPERTY
@given(
    base=st.sampled_from(["check_trigger", "task_resolve", "availability_trigger"]),
    key=st.sampled_from(TACTICAL_KEYS),
    value=VALUE,
)
def test_property_tactical_fixture_with_one_field_replaced(base: str, key: str, value: object) -> None:
    payload = fixture(f"tactical/{base}.json") | {key: value}
    _only_expected_errors("tacticalrmm", payload, None)


def test_tactical_resolve_without_alert_id_pairs_on_agent_and_check() -> None:
    """A resolve that lost its alert id must still find its trigger."""
    body = {k: v for k, v in fixture("tactical/check_resolve.json").items() if k != "alertId"}
    event = normalize_tactical(body, tenant_id=TENANT, integration_id=INTEGRATION)
    assert event.kind is EventKind.RESET
    assert event.pairing_id is None
    assert event.condition_id == "check:17"
    assert event.external_alert_id.startswith("resolve:")
    trigger = {k: v for k, v in fixture("tactical/check_trigger.json").items() if k != "alertId"}
    with pytest.raises(MalformedPayload) as raised:
        normalize_tactical(trigger, tenant_id=TENANT, integration_id=INTEGRATION)
    assert raised.value.field == "alertId"
    no_agent = {k: v for k, v in body.items() if k != "agentId"}
    with pytest.raises(MalformedPayload) as raised:
        normalize_tactical(no_agent, tenant_id=TENANT, integration_id=INTEGRATION)
    assert raised.value.field == "alertId"


# ---------------------------------------------------------------------------------------------
# parse_json: the walk-free path returns exactly what cleaning every value returns


@pytest.mark.parametrize(
    "text",
    [
        '{"message": "plain ascii", "n": [1, 2.5, {"k": null}]}',
        '{"message": "caf\u00e9 \u2603 \U0001f600"}',  # raw non-ASCII (valid UTF-8)
        '{"message": "caf\\u00e9"}',  # a harmless escape
        '{"message": "nul \\u0000 inside", "k\\u0000": 1}',
        '{"message": "lone \\ud800 surrogate", "\\uDC00key": "x"}',
        '{"message": "emoji pair \\ud83d\\ude00"}',
        '{"message": "escaped backslash \\\\u0000 is text"}',
        '{"message": "brackets in text [[[{{{"}',
        "[" * 63 + "]" * 63,
        "[" * 64 + "]" * 64,
        '{"a": "' + "[" * 70 + '"}',  # many brackets, shallow: cleaned the slow way, same result
    ],
)
@pytest.mark.parametrize("as_bytes", [True, False])
def test_parse_json_equals_cleaning_every_value(text: str, as_bytes: bool) -> None:
    body: bytes | str = text.encode("utf-8") if as_bytes else text
    assert parse_json(body) == clean_json(json.loads(text))


def test_parse_json_str_body_with_raw_lone_surrogate_is_cleaned() -> None:
    assert parse_json('{"m": "a\ud800b"}') == {"m": "a\ufffdb"}


@pytest.mark.parametrize("depth", [65, 70])
def test_parse_json_too_deep_is_malformed(depth: int) -> None:
    with pytest.raises(MalformedPayload, match="nested deeper than 64"):
        parse_json("[" * depth + "]" * depth)


def test_a_typical_webhook_body_takes_the_walk_free_path() -> None:
    from rmm_alerts.normalizers import _already_clean

    text = (Path(__file__).resolve().parent.parent / "fixtures" / "ninjaone" / "condition_triggered.json").read_text()
    assert _already_clean(text, decoded=True)
    assert not _already_clean(text.replace('"', '"\\u0000', 1), decoded=True)
