"""The published TacticalRMM alert template survives Tactical's own rendering and normalizes."""

from __future__ import annotations

import json
import re
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmm_alerts.contracts import EventKind, NormalizedAlertEvent
from rmm_alerts.normalizers import normalize_tactical
from rmm_alerts.tactical_template import (
    HEADERS,
    RESOLVE_BODY,
    TEMPLATE_VERSION,
    TRIGGER_BODY,
    alert_template,
    delivered_for_test,
    render_for_test,
)

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "tactical"
TENANT = UUID("11111111-1111-4111-8111-111111111111")
INTEGRATION = UUID("22222222-2222-4222-8222-222222222222")
T_ALERT = datetime(2025, 3, 19, 13, 41, 15, 556123, tzinfo=UTC)
T_RESOLVED = datetime(2025, 3, 19, 14, 31, 15, 87011, tzinfo=UTC)

# Values as Tactical's get_db_value would return them for an Alert instance.
AGENT_VARS: dict[str, object] = {
    "agent.agent_id": "kHaQcsUgHhLfRwyJOTuSwFYfPqrSQvtmkmnUcQkN",
    "agent.hostname": "ACME-WS-01",
    "client.id": 2,
    "client.name": "Acme Corp",
    "site.id": 5,
    "site.name": "Main Office",
}
CHECK_DESC = "Disk Space Drive Check: Drive C: -  Warning Threshold: 25% Error Threshold: 10%"
VARIABLES: dict[str, dict[str, object]] = {
    "check": AGENT_VARS
    | {
        "alert.id": 412,
        "alert.alert_type": "check",
        "alert.severity": "error",
        "alert.alert_time": T_ALERT,
        "alert.assigned_check.id": 17,
        "alert.assigned_check.check_type": "diskspace",
        "alert.assigned_check.readable_desc": CHECK_DESC,
        "alert.message": f"ACME-WS-01 has a diskspace check: {CHECK_DESC} that failed.",
    },
    "task": AGENT_VARS
    | {
        "alert.id": 413,
        "alert.alert_type": "task",
        "alert.severity": "warning",
        "alert.alert_time": T_ALERT,
        "alert.assigned_task.id": 9,
        "alert.assigned_task.name": "Nightly backup",
        "alert.message": "ACME-WS-01 has task: Nightly backup that failed.",
    },
    "availability": AGENT_VARS
    | {
        "alert.id": 414,
        "alert.alert_type": "availability",
        "alert.severity": "error",
        "alert.alert_time": T_ALERT,
        "alert.message": "ACME-WS-01 in Acme Corp, Main Office is overdue.",
    },
}
EXPECTED_CONDITION = {"check": "check:17", "task": "task:9", "availability": "availability"}
# Tactical's tacticalrmm/utils.py RE_DB_VALUE: only these placeholders are substituted.
TACTICAL_PLACEHOLDER = re.compile(r"\{\{\s*(client|site|agent|global|alert)(?:\.([\w\-\s\.]+))+\s*\}\}")


def deliver(body: str, variables: dict[str, object]) -> NormalizedAlertEvent:
    payload = delivered_for_test(render_for_test(body, variables))
    return normalize_tactical(payload, tenant_id=TENANT, integration_id=INTEGRATION)


# ---------------------------------------------------------------------------------------------
# The template text itself


@pytest.mark.parametrize(("body", "event"), [(TRIGGER_BODY, "trigger"), (RESOLVE_BODY, "resolve")])
def test_body_is_json_with_every_value_a_quoted_string(body: str, event: str) -> None:
    pairs = json.loads(body, object_pairs_hook=list)
    keys = [key for key, _ in pairs]
    assert len(keys) == len(set(keys))
    assert all(isinstance(value, str) for _, value in pairs)
    parsed = dict(pairs)
    assert parsed["event"] == event
    assert parsed["templateVersion"] == TEMPLATE_VERSION
    # identity fields and the event come after the free text (json.loads keeps the last duplicate)
    assert keys[-1] == "event"
    assert keys.index("alertId") > max(keys.index(k) for k in ("message", "clientName", "checkName"))


@pytest.mark.parametrize("body", [TRIGGER_BODY, RESOLVE_BODY])
def test_every_placeholder_is_one_tactical_substitutes(body: str) -> None:
    placeholders = re.findall(r"\{\{[^}]*\}\}", body)
    assert placeholders
    for placeholder in placeholders:
        assert TACTICAL_PLACEHOLDER.fullmatch(placeholder), placeholder
    required = {"{{alert.id}}", "{{agent.agent_id}}", "{{agent.hostname}}", "{{client.id}}", "{{client.name}}"}
    required |= {"{{alert.severity}}", "{{alert.message}}", "{{alert.alert_time}}", "{{alert.alert_type}}"}
    required |= {"{{alert.assigned_check.id}}", "{{alert.assigned_task.id}}"}
    assert required <= set(placeholders)
    assert ("{{alert.resolved_on}}" in placeholders) is (body is RESOLVE_BODY)


def test_alert_template_and_headers() -> None:
    template = alert_template("https://api.example/webhooks/tacticalrmm/abc", "s3cret")
    assert template == {
        "url": "https://api.example/webhooks/tacticalrmm/abc",
        "headers": {"Content-Type": "application/json", "X-Webhook-Secret": "s3cret"},
        "triggerBody": TRIGGER_BODY,
        "resolveBody": RESOLVE_BODY,
    }
    assert alert_template("u")["headers"]["X-Webhook-Secret"] == "<webhook secret>"
    assert HEADERS == {"Content-Type": "application/json", "X-Webhook-Secret": "<your webhook secret>"}
    json.dumps(template)  # the API returns it as JSON


# ---------------------------------------------------------------------------------------------
# Tactical's substitution, re-implemented


def test_render_mimics_tactical() -> None:
    variables: dict[str, object] = {"alert.id": 7, "agent.hostname": "", "client.id": 0, "alert.flag": True}
    text = "{{alert.id}}|{{ alert.id }}|{{agent.hostname}}|{{client.id}}|{{alert.flag}}|{{site.name}}|{{other.x}}"
    # falsy and absent values render as None; unknown models are left alone
    assert render_for_test(text, variables) == "7|7|None|None|True|None|{{other.x}}"
    assert render_for_test("a\x01b\tc\\d\\n", {}) == "a b\tc\\\\d\\n"  # sanitize: control chars, lone \
    assert render_for_test("{{alert.alert_time}}", {"alert.alert_time": T_ALERT}) == (
        "2025-03-19 13:41:15.556123+00:00"
    )


@pytest.mark.parametrize("kind", ["check", "task", "availability"])
@pytest.mark.parametrize(("body", "event"), [(TRIGGER_BODY, "trigger"), (RESOLVE_BODY, "resolve")])
def test_rendered_template_normalizes(kind: str, body: str, event: str) -> None:
    variables = VARIABLES[kind] | ({"alert.resolved_on": T_RESOLVED} if event == "resolve" else {})
    rendered = render_for_test(body, variables)
    payload = delivered_for_test(rendered)
    assert isinstance(payload, dict)  # valid JSON as rendered
    # the committed fixtures are exactly what the template renders
    assert payload == json.loads((FIXTURES / f"{kind}_{event}.json").read_text())
    result = normalize_tactical(payload, tenant_id=TENANT, integration_id=INTEGRATION)
    assert result.kind is (EventKind.TRIGGERED if event == "trigger" else EventKind.RESET)
    assert result.external_alert_id == result.pairing_id == str(variables["alert.id"])
    assert result.condition_id == EXPECTED_CONDITION[kind]
    assert result.alert_class == kind
    assert result.external_device_id == AGENT_VARS["agent.agent_id"]
    assert result.device_name == "ACME-WS-01"
    assert result.external_organization_id == "2"
    assert result.external_organization_name == "Acme Corp"
    assert result.occurred_at == (T_ALERT if event == "trigger" else T_RESOLVED)


def test_missing_values_render_as_none_and_are_treated_as_missing() -> None:
    variables = dict(VARIABLES["check"])
    for key in ("agent.hostname", "client.id", "site.name", "alert.message"):
        variables.pop(key)
    rendered = render_for_test(TRIGGER_BODY, variables)
    assert '"hostname": "None"' in rendered
    event = deliver(TRIGGER_BODY, variables)
    assert event.device_name is None
    assert event.message is None
    assert event.external_organization_id == "Acme Corp"  # falls back to the client name
    assert event.condition_id == "check:17"


def test_resolve_without_resolved_on_falls_back_to_alert_time() -> None:
    event = deliver(RESOLVE_BODY, VARIABLES["task"])
    assert event.kind is EventKind.RESET
    assert event.occurred_at == T_ALERT


def test_awkward_text_still_valid_json() -> None:
    variables = VARIABLES["check"] | {
        "alert.message": "C:\\Windows\\Temp full\n\tsecond line\x07",
        "client.name": "Acme\\",
    }
    rendered = render_for_test(TRIGGER_BODY, variables)
    assert isinstance(delivered_for_test(rendered), dict)
    event = deliver(TRIGGER_BODY, variables)
    assert event.message == "C:\\Windows\\Temp full\n\tsecond line"
    assert event.external_organization_name == "Acme\\"


def test_raw_quote_breaks_json_but_is_recovered() -> None:
    variables = VARIABLES["check"] | {"alert.message": 'Service "Spooler" stopped', "client.name": 'Bob "B" Ltd'}
    delivered = delivered_for_test(render_for_test(TRIGGER_BODY, variables))
    assert isinstance(delivered, str)  # Tactical posts the text as a JSON string
    event = normalize_tactical(delivered, tenant_id=TENANT, integration_id=INTEGRATION)
    assert event.message == 'Service "Spooler" stopped'
    assert event.external_organization_name == 'Bob "B" Ltd'
    assert event.condition_id == "check:17"


@pytest.mark.parametrize(
    "smuggled",
    [
        'x", "alertId": "999", "event": "resolve',  # valid JSON with duplicate keys
        'x"\n  "alertId": "999",\n  "event": "resolve',  # invalid JSON, lenient recovery
    ],
)
def test_smuggled_keys_in_free_text_do_not_override_identity(smuggled: str) -> None:
    variables = VARIABLES["check"] | {"alert.message": smuggled, "alert.assigned_check.readable_desc": smuggled}
    event = deliver(TRIGGER_BODY, variables)
    assert event.external_alert_id == "412"
    assert event.kind is EventKind.TRIGGERED
    assert event.condition_id == "check:17"


FREE_TEXT = st.lists(
    st.characters(codec="utf-8").map(str) | st.sampled_from(['"', "\\", "\n", ", ", '": "', "{{", "None"]),
    max_size=20,
).map("".join)


@settings(max_examples=300, deadline=None)
@given(
    kind=st.sampled_from(["check", "task", "availability"]),
    resolve=st.booleans(),
    texts=st.fixed_dictionaries(
        {
            key: FREE_TEXT
            for key in (
                "alert.message",
                "client.name",
                "site.name",
                "alert.assigned_check.readable_desc",
                "alert.assigned_task.name",
            )
        }
    ),
)
def test_property_free_text_never_breaks_identity(kind: str, resolve: bool, texts: dict[str, Any]) -> None:
    variables = VARIABLES[kind] | texts | ({"alert.resolved_on": T_RESOLVED} if resolve else {})
    event = deliver(RESOLVE_BODY if resolve else TRIGGER_BODY, variables)
    assert event.kind is (EventKind.RESET if resolve else EventKind.TRIGGERED)
    assert event.external_alert_id == str(variables["alert.id"])
    assert event.condition_id == EXPECTED_CONDITION[kind]
    assert event.external_device_id == AGENT_VARS["agent.agent_id"]
    assert event.external_organization_id == "2"
    assert event.severity in {"critical", "moderate"}


def test_readme_shows_the_exact_trigger_body_and_headers() -> None:
    """What an admin pastes from the README is exactly what the normalizer is built for."""
    import re
    from pathlib import Path

    from rmm_alerts.tactical_template import TRIGGER_BODY

    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text()
    match = re.search(r"Failure action body:\s*```json\n(.*?)\n```", readme, re.S)
    assert match is not None
    assert match.group(1) == TRIGGER_BODY
    assert 'Headers: {"Content-Type": "application/json", "X-Webhook-Secret": "<webhook secret>"}' in readme
