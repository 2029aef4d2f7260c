"""Issue 10, items 10-13 through the real handlers on real PostgreSQL: the admin API refuses what it
cannot hold with 422 (never 500), rule saves are budgeted, and failures log no database text."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from functions.webhook_ninjaone import handler as ninja
from rmm_alerts.contracts import (
    MAX_KEYWORDS,
    MAX_PATTERN_LENGTH,
    MAX_RULES_PER_INTEGRATION,
)
from tests.integration.conftest import fixture
from tests.support.admin_api import Api, errors
from tests.support.apigw import FakeContext, webhook_event
from tests.support.world import Tenant, set_webhook_secret

ISSUE_PATTERN = "(a|b){1,1000}c|(a|b){1,1000}d|(a|b){1,1000}e"


def rules_url(api: Api) -> str:
    return f"/v1/integrations/{api.connect()['integrationId']}/rules"


# -- item 10 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "raw",
    [
        '{"name": ' + "[" * 5000 + "]" * 5000 + "}",
        '{"name": ' + "[" * 40 + "]" * 40 + ', "conditions": {}, "actions": {}}',
        '{"name": "r", "conditions": {}, "actions": {"boardId": ' + "9" * 5000 + "}}",
        '{"name": "r", "conditions": {}, "actions": {"boardId": 1e999}}',
        '{"name": NaN, "conditions": {}, "actions": {}}',
        '{"name": "r\\ud800", "conditions": {}, "actions": {}}',
        '{"name": "r\\u0000", "conditions": {}, "actions": {}}',
        '{"name": "r", "conditions": {"keywords": ["\\udfff"]}, "actions": {}}',
        '{"name": "r", "conditions": {}, "actions": {}, "\\ud800": 1}',
    ],
    ids=[
        "deep-5000",
        "deep-40",
        "5000-digit-int",
        "infinite-float",
        "nan",
        "surrogate",
        "nul",
        "surrogate-in-list",
        "surrogate-key",
    ],
)
def test_bodies_json_or_postgresql_cannot_hold_are_422(api: Api, raw: str) -> None:
    status, data = api.call("POST", rules_url(api), raw)
    assert status == 422, data
    assert api.world.q("SELECT 1 FROM rmm_alert_rules") == []


def test_unstorable_text_names_its_field(api: Api) -> None:
    status, data = api.call("POST", rules_url(api), '{"name": "r", "conditions": {"keywords": ["ok", "\\u0000"]}}')
    assert (status, errors(data)) == (422, ["conditions.keywords[1]"])


def test_non_utf8_bodies_are_422(api: Api) -> None:
    from functions.rules_api import handler as rules_api
    from tests.support.admin_api import claims
    from tests.support.apigw import rest_event

    url = rules_url(api)
    event = rest_event(
        "POST",
        url,
        resource="/v1/{proxy+}",
        path_parameters={"proxy": url.removeprefix("/v1/")},
        body=b'{"name": "\xff\xfe"}',
        base64_body=True,
        headers={"Content-Type": "application/json"},
        claims=claims(api.world),
    )
    response = rules_api.handler(event, FakeContext())
    assert response["statusCode"] == 422


@pytest.mark.parametrize("zone", ["localtime", "posixrules", "../../etc/passwd", "Europe/Nowhere", "right/UTC"])
def test_window_timezone_must_be_an_iana_name(api: Api, zone: str) -> None:
    body: dict[str, Any] = {
        "name": "w",
        "recurrence": {"type": "weekly", "days": [1], "startTime": "01:00", "endTime": "02:00", "timezone": zone},
    }
    status, data = api.call("POST", "/v1/maintenance-windows", body)
    assert (status, errors(data)) == (422, ["recurrence.timezone"]), data
    body["recurrence"]["timezone"] = "Europe/Berlin"
    api.ok("POST", "/v1/maintenance-windows", body, 201)


# -- item 11 ---------------------------------------------------------------------------------


def test_the_issue_pattern_is_refused_at_save(api: Api) -> None:
    status, data = api.call(
        "POST", rules_url(api), {"name": "r", "conditions": {"messagePattern": ISSUE_PATTERN}, "actions": {}}
    )
    assert (status, errors(data)) == (422, ["conditions.messagePattern"]), data


def test_pattern_program_and_length_caps(api: Api) -> None:
    url = rules_url(api)
    too_complex = {"name": "r", "conditions": {"messagePattern": "(a|b){1,60}c"}, "actions": {}}
    status, data = api.call("POST", url, too_complex)
    assert (status, errors(data)) == (422, ["conditions.messagePattern"])
    assert "too complex" in data["errors"][0]["message"]
    too_long = {"name": "r", "conditions": {"messagePattern": "a" * (MAX_PATTERN_LENGTH + 1)}, "actions": {}}
    assert errors(api.call("POST", url, too_long)[1]) == ["conditions.messagePattern"]


def test_the_integrations_patterns_share_one_budget(api: Api) -> None:
    url = rules_url(api)
    pattern = "(a|b){{1,20}}c{}"
    saved = 0
    while True:
        status, data = api.call(
            "POST", url, {"name": f"r{saved}", "conditions": {"messagePattern": pattern.format(saved)}, "actions": {}}
        )
        if status != 201:
            break
        saved += 1
    assert saved >= 2
    assert (status, errors(data)) == (422, ["conditions.messagePattern"])
    assert "together" in data["errors"][0]["message"]
    # Replacing a rule's own pattern does not count it twice.
    first = api.ok("GET", url)["items"][0]
    body = {"name": "r0", "conditions": {"messagePattern": pattern.format("x")}, "actions": {}}
    api.ok("PUT", f"{url}/{first['ruleId']}", body)


def test_keyword_caps(api: Api) -> None:
    url = rules_url(api)
    many = {"name": "r", "conditions": {"keywords": [f"k{i}" for i in range(MAX_KEYWORDS + 1)]}, "actions": {}}
    assert errors(api.call("POST", url, many)[1]) == ["conditions.keywords"]
    long = {"name": "r", "conditions": {"keywords": ["ok", "k" * 101]}, "actions": {}}
    assert errors(api.call("POST", url, long)[1]) == ["conditions.keywords[1]"]


def test_rules_per_integration_cap(api: Api) -> None:
    url = rules_url(api)
    integration = url.split("/")[3]
    for i in range(MAX_RULES_PER_INTEGRATION):
        api.world.add_rule(f"r{i}", integration_id=uuid.UUID(integration))
    status, data = api.call("POST", url, {"name": "one too many", "conditions": {}, "actions": {}})
    assert status == 422 and "at most" in data["errors"][0]["message"], data


# -- item 12 ---------------------------------------------------------------------------------


@pytest.mark.parametrize(("field", "limit"), [("titleTemplate", 500), ("descriptionTemplate", 10_000)])
def test_template_length_is_limited_at_save(api: Api, field: str, limit: int) -> None:
    url = rules_url(api)
    body = {"name": "r", "conditions": {}, "actions": {"ticketTemplate": {field: "{{message}}" * (limit // 11 + 1)}}}
    status, data = api.call("POST", url, body)
    assert (status, errors(data)) == (422, [f"actions.ticketTemplate.{field}"])


# -- item 13 ---------------------------------------------------------------------------------


def test_database_error_text_never_reaches_the_logs(
    world: Tenant, lambda_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    world.add_rule(actions={"autoResolveTicket": True})
    set_webhook_secret(world, "log-secret-0123456789")
    world.q(
        """CREATE FUNCTION reject_alert() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN RAISE EXCEPTION 'cannot store %%', NEW.message USING ERRCODE = 'P0001'; END $$"""
    )
    world.q("CREATE TRIGGER reject BEFORE INSERT ON rmm_alerts FOR EACH ROW EXECUTE FUNCTION reject_alert()")
    body = {**fixture("ninjaone/condition_triggered.json"), "message": "PAYLOAD-SECRET-VALUE"}
    event = webhook_event("ninjaone", str(world.integration_id), json.dumps(body), secret="log-secret-0123456789")
    response = ninja.handler(event, FakeContext())
    assert response["statusCode"] == 500
    logged = caplog.text + " ".join(str(record.__dict__) for record in caplog.records)
    assert "webhook failed" in logged
    assert "P0001" in logged and "RaiseException" in logged
    assert "PAYLOAD-SECRET-VALUE" not in logged


@pytest.mark.parametrize(
    "when", ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "2400-01-01T00:00:00Z", "1969-01-01T00:00:00Z"]
)
def test_window_times_out_of_range_are_422_and_the_list_stays_readable(api: Api, when: str) -> None:
    body = {"name": "w", "startsAt": "2026-01-01T00:00:00Z", "endsAt": when}
    if when < "2026":
        body = {"name": "w", "startsAt": when, "endsAt": "2026-01-01T00:00:00Z"}
    status, data = api.call("POST", "/v1/maintenance-windows", body)
    assert status == 422, data
    assert errors(data)[0] in {"startsAt", "endsAt"}
    api.ok("GET", "/v1/maintenance-windows")


def test_a_stored_out_of_range_window_does_not_hide_the_list(api: Api) -> None:
    api.world.q(
        """INSERT INTO rmm_maintenance_windows (tenant, name, starts_at, ends_at)
           VALUES (%s, 'far', '2026-01-01T00:00:00Z', '10000-01-01T00:00:00Z')""",
        api.world.tenant,
    )
    items = api.ok("GET", "/v1/maintenance-windows")["items"]
    assert [(w["name"], w["endsAt"], w["activeNow"]) for w in items] == [("far", None, False)]
    api.ok("GET", f"/v1/maintenance-windows/{items[0]['windowId']}")
