"""Issue 10, items 8-9: bad input that used to answer 500 (retried forever) or made the alert list
unreadable. Each case is a real webhook delivery on real PostgreSQL."""

from __future__ import annotations

import json
from typing import Any

import pytest

from rmm_alerts import webhooks
from tests.integration.conftest import fixture
from tests.support.admin_api import Api
from tests.support.world import Tenant, set_webhook_secret

SECRET = "hardening-secret-0123456789"
TRIGGERED = fixture("ninjaone/condition_triggered.json")
TACTICAL = fixture("tactical/check_trigger.json")


@pytest.fixture
def ninja(world: Tenant) -> Tenant:
    world.add_rule(actions={"autoResolveTicket": True})
    set_webhook_secret(world, SECRET)
    return world


def deliver(world: Tenant, uow_factory: Any, body: bytes | str, provider: str = "ninjaone") -> webhooks.WebhookResponse:
    raw = body.encode("utf-8", "surrogatepass") if isinstance(body, str) else body
    return webhooks.receive(provider, str(world.integration_id), SECRET, raw, uow_factory)


def ninja_body(**patch: Any) -> str:
    return json.dumps({**TRIGGERED, **patch})


# -- item 8 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "body",
    [
        ninja_body(message="disk \ud800 full"),
        ninja_body(extra={"\udfff": 1}),
        ninja_body(device={**TRIGGERED["device"], "displayName": "ACME-\ud83d"}),  # half an emoji
    ],
    ids=["surrogate-in-string", "surrogate-in-key", "half-emoji-device-name"],
)
def test_lone_surrogates_are_stored_cleaned(ninja: Tenant, uow_factory: Any, body: str) -> None:
    response = deliver(ninja, uow_factory, body)
    assert response.status == 200, response.body
    assert response.body["outcome"] == "ticket_created"
    alert = ninja.alerts()[0]
    assert "\ud800" not in (alert["message"] or "") and "\ud83d" not in (alert["device_name"] or "")


def test_half_emoji_bytes_are_a_400(ninja: Tenant, uow_factory: Any) -> None:
    raw = ninja_body(message="x").encode().replace(b'"x"', b'"\xf0\x9f"')
    response = deliver(ninja, uow_factory, raw)
    assert response.status == 400 and response.body["field"] == "body"


@pytest.mark.parametrize(
    "raw",
    [
        ninja_body().replace('"deviceId": 101', '"deviceId": ' + "9" * 5000),
        ninja_body().replace('"activityTime": 1742391675.556', '"activityTime": 1e999'),
        ninja_body().replace('"deviceId": 101', '"deviceId": NaN'),
    ],
    ids=["5000-digit-integer", "infinite-float", "nan"],
)
def test_numbers_json_cannot_hold_are_a_400(ninja: Tenant, uow_factory: Any, raw: str) -> None:
    response = deliver(ninja, uow_factory, raw)
    assert response.status == 400, response.body
    assert response.body["field"] == "body"
    assert ninja.alerts() == []


def test_tactical_inner_json_with_nul_is_stored_cleaned(world: Tenant, uow_factory: Any) -> None:
    world.q("UPDATE rmm_integrations SET provider = 'tacticalrmm' WHERE integration_id = %s", world.integration_id)
    set_webhook_secret(world, SECRET)
    inner = json.dumps({**TACTICAL, "message": "bad\u0000value", "hostname": "HOST\u0000"})
    response = deliver(world, uow_factory, json.dumps(inner), provider="tacticalrmm")
    assert response.status == 200, response.body
    alert = world.alerts()[0]
    assert "\x00" not in alert["message"] and alert["message"].startswith("bad")


# -- item 9 ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "when",
    ["9999-12-31T23:59:59-14:00", "0001-01-01T00:00:00+14:00", "0001-01-01T00:00:00Z", "2400-01-01T00:00:00Z"],
)
def test_out_of_range_activity_time_is_a_400_naming_the_field(ninja: Tenant, uow_factory: Any, when: str) -> None:
    response = deliver(ninja, uow_factory, ninja_body(activityTime=when))
    assert response.status == 400, response.body
    assert response.body["field"] == "activityTime"
    assert "range" in response.body["error"]
    assert ninja.alerts() == []


def test_out_of_range_tactical_time_names_its_field(world: Tenant, uow_factory: Any) -> None:
    world.q("UPDATE rmm_integrations SET provider = 'tacticalrmm' WHERE integration_id = %s", world.integration_id)
    set_webhook_secret(world, SECRET)
    body = json.dumps({**TACTICAL, "alertTime": "0001-01-01 00:00:00+14:00"})
    response = deliver(world, uow_factory, body, provider="tacticalrmm")
    assert response.status == 400 and response.body["field"] == "alertTime", response.body


def test_one_unreadable_row_never_hides_the_alert_list(api: Api) -> None:
    world = api.world
    integration = api.connect()["integrationId"]
    world.q(
        """INSERT INTO rmm_alerts (tenant, integration_id, provider, external_alert_id, dedup_key, status,
                                   triggered_at, resolved_at, last_occurrence_at)
           VALUES (%s, %s, 'ninjaone', 'far', 'k', 'resolved', '10000-01-01T00:00:00Z', '0100-01-01 BC',
                   'infinity'),
                  (%s, %s, 'ninjaone', 'ok', 'k', 'active', '2026-01-01T00:00:00Z', NULL, NULL)""",
        world.tenant,
        integration,
        world.tenant,
        integration,
    )
    page = api.ok("GET", "/v1/alerts")
    assert {a["externalAlertId"] for a in page["items"]} == {"far", "ok"}
    far = next(a for a in page["items"] if a["externalAlertId"] == "far")
    assert far["resolvedAt"] is None and far["lastOccurrenceAt"] is None
    api.ok("GET", f"/v1/alerts/{far['alertId']}")
