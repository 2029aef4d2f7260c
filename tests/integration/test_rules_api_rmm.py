"""Admin API talking to the RMMs: instanceUrl rules, test-connection, NinjaOne webhook registration
and the UI-channel URL, lastPollError (loopback fakes, moto for AWS)."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from functions.webhook_ninjaone import handler as ninja_webhook
from rmm_alerts import reconcile, webhooks
from rmm_alerts.providers import client_for_integration
from rmm_alerts.providers.ninjaone import clear_token_cache
from rmm_alerts.simulator import NinjaOneSim, TacticalSim
from tests.support.admin_api import BASE_URL, Api, claims
from tests.support.apigw import FakeContext, rest_event, webhook_event

CREDS = {"clientId": "sim-client", "clientSecret": "sim-client-secret"}


@pytest.fixture
def sim(monkeypatch: pytest.MonkeyPatch) -> Iterator[NinjaOneSim]:
    monkeypatch.setenv("ALLOW_LOOPBACK_PROVIDERS", "true")
    clear_token_cache()
    with NinjaOneSim() as s:
        assert isinstance(s, NinjaOneSim)
        s.send_webhooks = False
        yield s


def channel_post(url: str, body: Any) -> tuple[int, Any]:
    path = url.removeprefix(BASE_URL)
    _, _, _provider, iid, secret = path.split("/")
    event = rest_event(
        "POST",
        path,
        resource="/webhooks/ninjaone/{integrationId}/{channelSecret}",
        path_parameters={"integrationId": iid, "channelSecret": secret},
        body=body,
        headers={"Content-Type": "application/json"},
    )
    response = ninja_webhook.handler(event, FakeContext())
    return int(response["statusCode"]), json.loads(response["body"])


def header_post(iid: str, secret: str, body: Any) -> int:
    """A NinjaOne delivery authenticated by its X-Webhook-Secret header."""
    return int(ninja_webhook.handler(webhook_event("ninjaone", iid, body, secret=secret), FakeContext())["statusCode"])


def end_graces(api: Api, iid: str) -> None:
    """As if every grace period had run out: the previous secrets' expiries in the past."""
    api.world.q(
        """UPDATE rmm_integrations
              SET previous_secret_expires_at = now() - interval '1 second',
                  previous_channel_secret_expires_at = now() - interval '1 second'
            WHERE integration_id = %s""",
        iid,
    )


@pytest.mark.parametrize(
    ("provider", "url"),
    [
        ("tacticalrmm", "http://169.254.169.254"),
        ("tacticalrmm", "https://169.254.169.254/latest"),
        ("tacticalrmm", "https://user@rmm.example.test"),
        ("ninjaone", "https://rmm.example.test"),
        ("ninjaone", "http://eu.ninjarmm.com"),
        ("ninjaone", "http://127.0.0.1:9000"),
        # An address in any spelling must be a public one.
        ("tacticalrmm", "https://[::ffff:127.0.0.1]:8443"),
        ("tacticalrmm", "https://[0:0:0:0:0:0:0:1]"),
        ("tacticalrmm", "https://2130706433"),
        ("tacticalrmm", "https://0x7f.1"),
        ("tacticalrmm", "https://10.0.0.5"),
        ("tacticalrmm", "https://172.16.0.1:8443"),
        ("tacticalrmm", "https://192.168.1.10"),
        ("tacticalrmm", "https://[fd00::1]"),
        ("tacticalrmm", "https://rmm.localhost"),
        ("tacticalrmm", "https://localhost./"),
        ("tacticalrmm", "https://169.254.169.254./"),
        ("tacticalrmm", "https://[64:ff9b::a00:1]"),
        ("tacticalrmm", "https://[::7f00:1]"),
        ("tacticalrmm", "https://[2002:a00:1::]"),
    ],
)
def test_instance_url_rules(api: Api, provider: str, url: str) -> None:
    status, data = api.call("POST", "/v1/integrations", {"provider": provider, "name": "x", "instanceUrl": url})
    assert status == 422 and [e["path"] for e in data["errors"]] == ["instanceUrl"]
    iid = api.connect(provider)["integrationId"]
    status, data = api.call("PATCH", f"/v1/integrations/{iid}", {"instanceUrl": url})
    assert status == 422 and data["errors"][0]["path"] == "instanceUrl"


def test_loopback_needs_the_flag(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOOPBACK_PROVIDERS", "true")
    data = api.connect("tacticalrmm", instanceUrl="http://127.0.0.1:9000")
    assert data["instanceUrl"] == "http://127.0.0.1:9000"
    assert api.connect("ninjaone", instanceUrl="https://eu.ninjarmm.com")["instanceUrl"] == "https://eu.ninjarmm.com"


def test_stored_credentials_never_follow_a_new_instance_url(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOOPBACK_PROVIDERS", "true")
    with TacticalSim() as tactical, TacticalSim(api_key="elsewhere-key") as elsewhere:
        iid = api.connect("tacticalrmm", instanceUrl=tactical.url, credentials={"apiKey": "sim-api-key"})[
            "integrationId"
        ]
        status, data = api.call("PATCH", f"/v1/integrations/{iid}", {"instanceUrl": elsewhere.url})
        assert status == 422 and [e["path"] for e in data["errors"]] == ["credentials"]
        assert api.ok("GET", f"/v1/integrations/{iid}")["instanceUrl"] == tactical.url
        api.ok("POST", f"/v1/integrations/{iid}/test-connection")
        assert elsewhere.calls("PATCH", "/alerts/") == []  # the stored key went nowhere new
        # The same URL again, or a name, needs nothing; a new URL with its own credentials is fine.
        assert api.ok("PATCH", f"/v1/integrations/{iid}", {"instanceUrl": tactical.url, "name": "T"})["name"] == "T"
        moved = {"instanceUrl": elsewhere.url, "credentials": {"apiKey": "elsewhere-key"}}
        assert api.ok("PATCH", f"/v1/integrations/{iid}", moved)["instanceUrl"] == elsewhere.url
        assert api.ok("POST", f"/v1/integrations/{iid}/test-connection")["ok"] is True
        assert len(elsewhere.calls("PATCH", "/alerts/")) == 1


def test_test_connection(api: Api, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("ALLOW_LOOPBACK_PROVIDERS", "true")
    with TacticalSim() as tactical:
        good = api.connect("tacticalrmm", instanceUrl=tactical.url, credentials={"apiKey": "sim-api-key"})
        assert api.ok("POST", f"/v1/integrations/{good['integrationId']}/test-connection") == {
            "ok": True,
            "error": None,
        }
        assert tactical.calls("PATCH", "/alerts/")[0].json() == {"resolvedFilter": False, "snoozedFilter": True}
        bad = api.connect("tacticalrmm", instanceUrl=tactical.url, credentials={"apiKey": "wrong-key-xyz"})
        out = api.ok("POST", f"/v1/integrations/{bad['integrationId']}/test-connection")
        assert out["ok"] is False and "HTTP 401" in out["error"] and "wrong-key-xyz" not in out["error"]
    none = api.connect("tacticalrmm")
    out = api.ok("POST", f"/v1/integrations/{none['integrationId']}/test-connection")
    assert out["ok"] is False and "no credentials" in out["error"]
    status, _ = api.call(
        "POST", f"/v1/integrations/{good['integrationId']}/test-connection", claims=claims(api.world, admin=False)
    )
    assert status == 403


def test_ninjaone_connect_registers_the_webhook_and_offers_a_channel_url(api: Api, sim: NinjaOneSim) -> None:
    data = api.connect("ninjaone", instanceUrl=sim.url, credentials=CREDS)
    iid = data["integrationId"]
    assert data["webhookRegistration"]["status"] == "registered"
    assert sim.webhook is not None
    assert sim.webhook["url"] == f"{BASE_URL}/webhooks/ninjaone/{iid}"
    assert sim.webhook["headers"] == [{"name": "X-Webhook-Secret", "value": data["webhookSecret"]}]
    assert sim.webhook["expand"] == ["device", "organization"] and "CONDITION" in sim.webhook["activities"]
    channel = data["channelUrl"]
    assert channel.startswith(f"{BASE_URL}/webhooks/ninjaone/{iid}/")
    secret = channel.rsplit("/", 1)[1]
    read = api.ok("GET", f"/v1/integrations/{iid}")
    assert read["webhookRegistration"]["status"] == "registered"
    assert "channelUrl" not in read and secret not in json.dumps(read)
    row = api.world.one("SELECT * FROM rmm_integrations WHERE integration_id = %s", iid)
    assert secret not in json.dumps(row, default=str)

    # The UI channel delivers with no header; the path secret authenticates it.
    alert = sim.fire(101, "disk", webhook=False)
    status, body = channel_post(channel, sim.activity(alert, "TRIGGERED"))
    assert status == 200 and body["outcome"] in ("recorded_only", "ticket_created")
    status, _ = channel_post(channel[:-4] + "AAAA", sim.activity(alert, "RESET"))
    assert status == 401

    # Rotation: a new channel URL and a re-registration with the new header secret; the old
    # channel URL keeps working during the grace period.
    rotated = api.ok("POST", f"/v1/integrations/{iid}/webhook-secret/rotate")
    assert rotated["channelUrl"] != channel and rotated["webhookRegistration"]["status"] == "registered"
    assert sim.webhook["headers"] == [{"name": "X-Webhook-Secret", "value": rotated["webhookSecret"]}]
    assert channel_post(rotated["channelUrl"], sim.activity(alert, "RESET"))[0] == 200
    assert channel_post(channel, sim.activity(alert, "RESET"))[0] == 200

    # Disconnect removes it from NinjaOne.
    api.ok("DELETE", f"/v1/integrations/{iid}", status=204)
    assert sim.webhook is None and sim.webhook_deletes == 1


def test_a_failed_registration_never_fails_connect_and_can_be_retried(api: Api, sim: NinjaOneSim) -> None:
    sim.fail("PUT /api/v2/webhook", status=500, times=1)  # the admin path does not retry
    data = api.connect("ninjaone", instanceUrl=sim.url, credentials=CREDS)
    reg = data["webhookRegistration"]
    assert reg["status"] == "failed" and "PUT /api/v2/webhook" in reg["error"] and "HTTP 500" in reg["error"]
    assert "sim-client-secret" not in json.dumps(data)
    iid = data["integrationId"]
    assert api.ok("GET", f"/v1/integrations/{iid}")["webhookRegistration"]["status"] == "failed"
    out = api.ok("POST", f"/v1/integrations/{iid}/webhook-registration")
    assert out["status"] == "registered" and out["error"] is None
    assert sim.webhook is not None
    assert api.ok("GET", f"/v1/integrations/{iid}")["webhookRegistration"]["status"] == "registered"
    tactical = api.connect("tacticalrmm")["integrationId"]
    assert api.call("POST", f"/v1/integrations/{tactical}/webhook-registration")[0] == 409


def test_registering_again_never_revives_a_channel_url_rotated_away(api: Api, sim: NinjaOneSim) -> None:
    data = api.connect("ninjaone", instanceUrl=sim.url, credentials=CREDS)
    iid, first = data["integrationId"], data["channelUrl"]
    rotated = api.ok("POST", f"/v1/integrations/{iid}/webhook-secret/rotate", {"graceHours": 1})
    alert = sim.fire(101, "disk", webhook=False)
    assert channel_post(first, sim.activity(alert, "TRIGGERED"))[0] == 200  # in its grace
    end_graces(api, iid)
    assert channel_post(first, sim.activity(alert, "TRIGGERED"))[0] == 401

    # Registering again rotates the header secret (24 h of grace for the old one) and nothing else.
    assert api.ok("POST", f"/v1/integrations/{iid}/webhook-registration")["status"] == "registered"
    assert channel_post(first, sim.activity(alert, "TRIGGERED"))[0] == 401
    assert channel_post(rotated["channelUrl"], sim.activity(alert, "TRIGGERED"))[0] == 200
    assert header_post(iid, rotated["webhookSecret"], sim.activity(alert, "TRIGGERED")) == 200  # its grace
    assert sim.webhook is not None
    new_secret = sim.webhook["headers"][0]["value"]
    assert new_secret != rotated["webhookSecret"]
    assert header_post(iid, new_secret, sim.activity(alert, "TRIGGERED")) == 200


def test_a_refused_registration_leaves_the_secret_ninjaone_sends(api: Api, sim: NinjaOneSim) -> None:
    data = api.connect("ninjaone", instanceUrl=sim.url, credentials=CREDS)
    iid, secret = data["integrationId"], data["webhookSecret"]
    sim.fail("PUT /api/v2/webhook", status=500, times=1)
    assert api.ok("POST", f"/v1/integrations/{iid}/webhook-registration")["status"] == "failed"
    assert sim.webhook is not None
    assert sim.webhook["headers"] == [{"name": "X-Webhook-Secret", "value": secret}]  # what NinjaOne still has
    # The old secret is current again; the new one is the previous one, for a day, in case NinjaOne
    # took it before the failure.
    row = api.world.one("SELECT * FROM rmm_integrations WHERE integration_id = %s", iid)
    assert row["webhook_secret_hash"] == webhooks.hash_secret(secret)
    assert row["previous_webhook_secret_hash"] not in (None, row["webhook_secret_hash"])
    assert row["previous_secret_expires_at"] is not None
    end_graces(api, iid)  # a day later: it must still be the current secret, not a previous one
    alert = sim.fire(101, "disk", webhook=False)
    assert header_post(iid, secret, sim.activity(alert, "TRIGGERED")) == 200

    # Registered the next time: the secret NinjaOne now has is the current one.
    assert api.ok("POST", f"/v1/integrations/{iid}/webhook-registration")["status"] == "registered"
    end_graces(api, iid)
    assert sim.webhook is not None
    assert header_post(iid, sim.webhook["headers"][0]["value"], sim.activity(alert, "RESET")) == 200
    assert header_post(iid, secret, sim.activity(alert, "RESET")) == 401


def test_retrying_after_a_failed_rotation_keeps_the_secret_ninjaone_still_has(api: Api, sim: NinjaOneSim) -> None:
    data = api.connect("ninjaone", instanceUrl=sim.url, credentials=CREDS)
    iid, first = data["integrationId"], data["webhookSecret"]
    sim.fail("PUT /api/v2/webhook", status=500, times=2)
    rotated = api.ok("POST", f"/v1/integrations/{iid}/webhook-secret/rotate", {"graceHours": 48})
    assert rotated["webhookRegistration"]["status"] == "failed"  # NinjaOne still sends the first
    assert api.ok("POST", f"/v1/integrations/{iid}/webhook-registration")["status"] == "failed"
    assert sim.webhook is not None and sim.webhook["headers"][0]["value"] == first
    alert = sim.fire(101, "disk", webhook=False)
    assert header_post(iid, first, sim.activity(alert, "TRIGGERED")) == 200  # still in its 48 h
    assert header_post(iid, rotated["webhookSecret"], sim.activity(alert, "TRIGGERED")) == 200


def test_get_shows_the_last_poll_error_and_success(api: Api, sim: NinjaOneSim, pool: Any) -> None:
    data = api.connect("ninjaone", instanceUrl=sim.url, credentials=CREDS)
    iid = data["integrationId"]
    from rmm_alerts.admin.deps import current

    def factory(row: dict[str, Any]) -> Any:
        return client_for_integration(row, store=current().secrets, allow_loopback=True)

    sim.fail("GET /api/v2/alerts", status=503, times=10)
    failed = reconcile.poll(api.world.tenant, iid, pool=pool, client_factory=factory)
    assert failed.status == "failed"
    out = api.ok("GET", f"/v1/integrations/{iid}")
    assert "HTTP 503" in out["lastPollError"] and out["lastPolledAt"] is None
    sim.clear_faults()
    assert reconcile.poll(api.world.tenant, iid, pool=pool, client_factory=factory).status == "ok"
    out = api.ok("GET", f"/v1/integrations/{iid}")
    assert out["lastPollError"] is None and out["lastPolledAt"] is not None
    assert out["polling"]["lastPolledAt"] == out["lastPolledAt"]
