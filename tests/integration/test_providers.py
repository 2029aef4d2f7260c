"""Provider clients over real HTTP against the loopback fakes (rmm_alerts.simulator)."""

from __future__ import annotations

import logging

import pytest

from rmm_alerts.providers import (
    HttpPolicy,
    NinjaOneClient,
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderNotFound,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailable,
    TacticalClient,
    build_client,
)
from rmm_alerts.simulator import NinjaOneSim, TacticalSim

SECRET = "sim-client-secret"
FAST = HttpPolicy(connect_timeout=1.0, read_timeout=0.5, max_attempts=4, backoff_base=0.01, backoff_cap=0.02)


class Sleeps(list[float]):
    def __call__(self, seconds: float) -> None:
        self.append(seconds)


def ninja_client(sim: NinjaOneSim, sleeps: Sleeps | None = None, page_size: int = 1000) -> NinjaOneClient:
    return NinjaOneClient(
        sim.url,
        "sim-client",
        SECRET,
        cache_key="it-1",
        policy=FAST,
        sleep=sleeps if sleeps is not None else Sleeps(),
        page_size=page_size,
    )


def test_ninjaone_follows_every_page(ninja: NinjaOneSim) -> None:
    ninja.fire_many(25)
    client = ninja_client(ninja, page_size=10)
    alerts = client.list_active_alerts()
    assert sorted(a.alert_id for a in alerts) == sorted(ninja.alerts)
    pages = ninja.calls("GET", "/api/v2/alerts")
    assert len(pages) == 3
    assert "after" not in pages[0].query
    assert pages[1].query["after"] == [alerts[9].alert_id]


def test_ninjaone_token_is_cached_and_refetched_once_on_401(ninja: NinjaOneSim) -> None:
    ninja.fire(101, "disk")
    client = ninja_client(ninja)
    client.list_active_alerts()
    client.list_active_alerts()
    assert ninja.tokens_issued == 1
    # A second client object for the same integration (a warm Lambda's next cycle) reuses it.
    ninja_client(ninja).list_active_alerts()
    assert ninja.tokens_issued == 1
    ninja.expire_tokens()
    assert len(client.list_active_alerts()) == 1
    assert ninja.tokens_issued == 2


def test_ninjaone_bad_credentials_is_an_auth_error_without_the_secret(
    ninja: NinjaOneSim, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    client = NinjaOneClient(ninja.url, "sim-client", "wrong-secret-value", cache_key="x", policy=FAST)
    with pytest.raises(ProviderAuthError) as err:
        client.list_active_alerts()
    assert err.value.provider == "ninjaone" and err.value.status == 401
    assert err.value.endpoint == "POST /ws/oauth/token" and not err.value.transient
    assert "wrong-secret-value" not in str(err.value) and "wrong-secret-value" not in caplog.text


def test_429_waits_as_retry_after_says(ninja: NinjaOneSim) -> None:
    ninja.fire(101, "disk")
    ninja.fail("GET /api/v2/alerts", status=429, retry_after="2", times=1)
    sleeps = Sleeps()
    assert len(ninja_client(ninja, sleeps).list_active_alerts()) == 1
    assert sleeps == [2.0]


def test_a_long_retry_after_fails_transiently_without_waiting(ninja: NinjaOneSim) -> None:
    ninja.fail("GET /api/v2/alerts", status=429, retry_after="3600")
    sleeps = Sleeps()
    with pytest.raises(ProviderUnavailable) as err:
        ninja_client(ninja, sleeps).list_active_alerts()
    assert err.value.transient and err.value.status == 429 and sleeps == []


def test_5xx_burst_is_retried_then_given_up(ninja: NinjaOneSim) -> None:
    ninja.fire(101, "disk")
    ninja.fail("GET /api/v2/alerts", status=503, times=3)
    sleeps = Sleeps()
    assert len(ninja_client(ninja, sleeps).list_active_alerts()) == 1
    assert len(sleeps) == 3 and all(0 <= s <= FAST.backoff_cap for s in sleeps)
    ninja.fail("GET /api/v2/alerts", status=502, times=4)
    with pytest.raises(ProviderUnavailable) as err:
        ninja_client(ninja).list_active_alerts()
    assert err.value.status == 502 and err.value.transient
    assert err.value.endpoint == "GET /api/v2/alerts"


def test_other_4xx_is_not_retried(ninja: NinjaOneSim) -> None:
    ninja.fail("GET /api/v2/alerts", status=400, times=5)
    with pytest.raises(ProviderRequestError):
        ninja_client(ninja).list_active_alerts()
    assert len(ninja.calls("GET", "/api/v2/alerts")) == 1
    with pytest.raises(ProviderNotFound):
        ninja_client(ninja).reset_alert("no-such-uid")


def test_timeouts_are_retried_and_reported(ninja: NinjaOneSim) -> None:
    ninja.fire(101, "disk")
    ninja.fail("GET /api/v2/alerts", kind="hang", delay=1.0, times=1)
    assert len(ninja_client(ninja).list_active_alerts()) == 1
    ninja.fail("GET /api/v2/alerts", kind="hang", delay=1.0, times=4)
    with pytest.raises(ProviderUnavailable) as err:
        ninja_client(ninja).list_active_alerts()
    assert err.value.status is None and "timed out" in str(err.value)


def test_malformed_json_and_oversize_are_response_errors(ninja: NinjaOneSim) -> None:
    ninja.fail("GET /api/v2/alerts", kind="malformed")
    with pytest.raises(ProviderResponseError, match="not valid JSON"):
        ninja_client(ninja).list_active_alerts()
    small = NinjaOneClient(
        ninja.url,
        "sim-client",
        SECRET,
        cache_key="it-1",
        policy=HttpPolicy(max_response_bytes=10_000, max_attempts=1),
    )
    ninja.fail("GET /api/v2/alerts", kind="oversize", size=50_000)
    with pytest.raises(ProviderResponseError, match="larger than"):
        small.list_active_alerts()


def test_a_bad_second_page_fails_the_whole_listing(ninja: NinjaOneSim) -> None:
    ninja.fire_many(15)
    ninja.fail("GET /api/v2/alerts", kind="malformed", skip=1, times=4)
    with pytest.raises(ProviderError):
        ninja_client(ninja, page_size=10).list_active_alerts()


def test_ninjaone_device_reset_and_webhook_calls(ninja: NinjaOneSim) -> None:
    alert = ninja.fire(101, "disk", webhook=False)
    client = ninja_client(ninja)
    assert client.device("101")["organizationId"] == 2
    assert [a.alert_id for a in client.device_alerts("101")] == [alert["uid"]]
    client.reset_alert(alert["uid"])
    assert ninja.resets == [alert["uid"]] and not ninja.alerts
    client.register_webhook("https://hooks.example/webhooks/ninjaone/x", "hook-secret")
    assert ninja.webhook is not None
    assert ninja.webhook["expand"] == ["device", "organization"]
    assert ninja.webhook["headers"] == [{"name": "X-Webhook-Secret", "value": "hook-secret"}]
    assert "CONDITION" in ninja.webhook["activities"]
    client.delete_webhook()
    assert ninja.webhook is None and ninja.webhook_deletes == 1


def test_tactical_lists_active_alerts_with_exactly_the_filter_body(tactical: TacticalSim) -> None:
    first = tactical.fire("agent-101", check_id=7)
    done = tactical.fire("agent-101", check_id=8)
    tactical.clear(done["id"])
    quiet = tactical.fire("agent-101", check_id=9)
    tactical.snooze(quiet["id"])
    client = TacticalClient(tactical.url, "sim-api-key", policy=FAST)
    alerts = client.list_active_alerts()
    # Snoozed alerts are still failing: listed, and marked.
    assert [(a.alert_id, a.snoozed) for a in alerts] == [(str(first["id"]), False), (str(quiet["id"]), True)]
    alerts = alerts[:1]
    assert alerts[0].organization_id == "2" and alerts[0].organization_name == "Acme Corp"
    assert alerts[0].device_id == "agent-101"
    (call,) = tactical.calls("PATCH", "/alerts/")
    assert call.json() == {"resolvedFilter": False, "snoozedFilter": True}
    assert call.headers["X-API-KEY"] == "sim-api-key"
    client.resolve_alert(str(first["id"]))
    assert tactical.resolves == [first["id"]]
    assert tactical.calls("PUT", "/alerts/")[0].json() == {"type": "resolve"}
    assert [a.alert_id for a in client.list_active_alerts()] == [str(quiet["id"])]


def test_tactical_nones(tactical: TacticalSim) -> None:
    alert = tactical.fire("agent-101", check_id=None, alert_type="availability")
    alert.update(hostname=None, client=None, site=None, message=None, severity=None)
    (remote,) = TacticalClient(tactical.url, "sim-api-key", policy=FAST).list_active_alerts()
    assert remote.device_name is None and remote.organization_id is None and remote.message is None


def test_tactical_wrong_key_is_an_auth_error_without_the_key(tactical: TacticalSim) -> None:
    with pytest.raises(ProviderAuthError) as err:
        TacticalClient(tactical.url, "not-the-key-123", policy=FAST).test_connection()
    assert "not-the-key-123" not in str(err.value) and err.value.provider == "tacticalrmm"


@pytest.mark.parametrize(
    ("provider", "url", "loopback", "ok"),
    [
        ("ninjaone", "https://eu.ninjarmm.com", False, True),
        ("ninjaone", "https://app.ninjarmm.com/", False, True),
        ("ninjaone", "https://evil.example.com", False, False),
        ("ninjaone", "https://user@eu.ninjarmm.com", False, False),
        ("ninjaone", "http://eu.ninjarmm.com", False, False),
        ("tacticalrmm", "https://api.rmm.example.com", False, True),
        ("tacticalrmm", "http://169.254.169.254", False, False),
        ("tacticalrmm", "http://169.254.169.254", True, False),
        ("tacticalrmm", "https://169.254.169.254", False, False),
        ("tacticalrmm", "https://user:pw@rmm.example.com", False, False),
        ("tacticalrmm", "http://127.0.0.1:9000", False, False),
        ("tacticalrmm", "http://127.0.0.1:9000", True, True),
        ("ninjaone", "http://localhost:9000", True, True),
        ("ninjaone", "http://user@127.0.0.1:9000", True, False),
    ],
)
def test_build_client_checks_the_instance_url(provider: str, url: str, loopback: bool, ok: bool) -> None:
    creds = {"clientId": "a", "clientSecret": "b", "apiKey": "k"}
    if ok:
        build_client(provider, url, creds, cache_key="k", allow_loopback=loopback).close()
    else:
        with pytest.raises(ProviderConfigError):
            build_client(provider, url, creds, cache_key="k", allow_loopback=loopback)
