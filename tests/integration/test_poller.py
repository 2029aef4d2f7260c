"""Reconciliation cycles (rmm_alerts.reconcile) on PostgreSQL against the loopback RMM fakes."""

from __future__ import annotations

import json
import logging
import threading
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID

import psycopg
import pytest

from rmm_alerts import reconcile, webhooks
from rmm_alerts.ports import LocalSecretStore
from rmm_alerts.providers import HttpPolicy, NinjaOneClient, TacticalClient, client_for_integration
from rmm_alerts.simulator import NinjaOneSim, TacticalSim
from tests.support.world import Tenant, make_tenant, set_webhook_secret

FAST = HttpPolicy(connect_timeout=1.0, read_timeout=1.0, max_attempts=2, backoff_base=0.01, backoff_cap=0.02)
HOOK_SECRET = "hook-secret-for-tests"


@pytest.fixture
def store() -> LocalSecretStore:
    return LocalSecretStore()


def connect(world: Tenant, store: LocalSecretStore, url: str, creds: dict[str, str], iid: UUID | None = None) -> None:
    iid = iid or world.integration_id
    ref = store.put(f"creds/{iid}", creds)
    world.q(
        "UPDATE rmm_integrations SET instance_url = %s, credentials_ref = %s WHERE tenant = %s AND integration_id = %s",
        url,
        ref,
        world.tenant,
        iid,
    )
    set_webhook_secret(world, HOOK_SECRET, iid)


NINJA_CREDS = {"clientId": "sim-client", "clientSecret": "sim-client-secret"}
TACTICAL_CREDS = {"apiKey": "sim-api-key"}


@pytest.fixture
def nworld(conn: Any, store: LocalSecretStore, ninja: NinjaOneSim) -> Tenant:
    w = make_tenant(conn)
    w.map_org("2")
    w.add_rule(actions={"autoResolveTicket": True})
    connect(w, store, ninja.url, NINJA_CREDS)
    return w


def factory(store: LocalSecretStore) -> Any:
    return lambda row: client_for_integration(row, store=store, policy=FAST, allow_loopback=True)


def poll(world: Tenant, pool: Any, store: LocalSecretStore, iid: UUID | None = None) -> reconcile.CycleSummary:
    return reconcile.poll(world.tenant, iid or world.integration_id, pool=pool, client_factory=factory(store))


def deliver(world: Tenant, uow_factory: Any, provider: str, body: Any, iid: UUID | None = None) -> dict[str, Any]:
    response = webhooks.receive(
        provider, str(iid or world.integration_id), HOOK_SECRET, json.dumps(body).encode(), uow_factory
    )
    assert response.status == 200, response.body
    return response.body


def integration(world: Tenant) -> dict[str, Any]:
    return world.one(
        "SELECT * FROM rmm_integrations WHERE tenant = %s AND integration_id = %s", world.tenant, world.integration_id
    )


# -- missed triggers ------------------------------------------------------------------------------


def test_a_missed_trigger_is_ingested_and_bare_alerts_are_routed_by_device(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore
) -> None:
    ninja.bare_alerts = True  # no device, severity or priority in the REST alert
    ninja.add_device(102, organization_id=2, name="ACME-SRV-02")
    a1 = ninja.fire(102, "disk")
    ninja.fire(102, "cpu")
    summary = poll(nworld, pool, store)
    assert summary.status == "ok" and summary.fetched == 2 and summary.triggered == 2
    assert len(ninja.calls("GET", "/api/v2/device/102")) == 1  # once per device per cycle
    alerts = {a["condition_id"]: a for a in nworld.alerts()}
    disk = alerts["disk"]
    assert disk["rmm_alert_uid"] == a1["uid"] and disk["external_alert_id"] == a1["uid"]
    assert disk["external_organization_id"] == "2" and disk["device_name"] == "ACME-SRV-02"
    assert disk["severity"] == "none" and disk["ticket_id"] is not None
    assert disk["dedup_key"] == "102:disk"
    assert disk["metadata"]["raw"]["source"] == "poll"
    assert len(nworld.tickets()) == 2
    row = integration(nworld)
    assert row["last_polled_at"] is not None and row["last_poll_error"] is None
    # The next cycle finds nothing new.
    again = poll(nworld, pool, store)
    assert (again.triggered, again.matched, again.resolved) == (0, 2, 0)
    assert len(nworld.alerts()) == 2


def test_webhook_then_poll_is_one_alert_with_its_uid(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    alert = ninja.fire(101, "disk")
    body = deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "TRIGGERED"))
    assert body["outcome"] == "ticket_created"
    summary = poll(nworld, pool, store)
    assert (summary.triggered, summary.matched) == (0, 1)
    (local,) = nworld.alerts()
    assert local["rmm_alert_uid"] == alert["uid"] and local["occurrence_count"] == 1
    assert len(nworld.comments(local["ticket_id"])) == 1  # the initial note only, no occurrence note


def test_poll_then_late_webhook_reset_pairs(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    alert = ninja.fire(101, "disk")
    poll(nworld, pool, store)
    # The TRIGGERED webhook arrives after the poll ingested the alert: the same alert, no new
    # alert and no occurrence note; a replay of it changes nothing either.
    trigger = ninja.activity(alert, "TRIGGERED")
    for _ in range(2):
        body = deliver(nworld, uow_factory, "ninjaone", trigger)
        assert (body["outcome"], body["reason"]) == ("skipped", "already_ingested_by_poll")
    (local,) = nworld.alerts()
    assert local["pairing_key"] == alert["_seriesUid"] and local["occurrence_count"] == 1
    assert local["metadata"]["webhookActivityId"] == str(trigger["id"])
    assert len(nworld.comments(local["ticket_id"])) == 1
    ninja.clear(101, "disk", webhook=False)
    body = deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "RESET"))
    assert body["outcome"] == "resolved"
    (local,) = nworld.alerts()
    assert local["status"] == "auto_resolved"


# -- missed resets --------------------------------------------------------------------------------


def test_a_missed_reset_closes_the_untouched_ticket(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    alert = ninja.fire(101, "disk")
    deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "TRIGGERED"))
    ninja.clear(101, "disk", webhook=False)  # the RESET webhook is lost
    summary = poll(nworld, pool, store)
    assert summary.resolved == 1
    (local,) = nworld.alerts()
    assert local["status"] == "auto_resolved"
    assert nworld.ticket(local["ticket_id"])["closed_at"] is not None
    assert [o["event_type"] for o in nworld.outbox()][-2:] == ["TICKET_CLOSED", "RMM_ALERT_RESOLVED"]
    # Idempotent: the next cycle resets nothing.
    assert poll(nworld, pool, store).resolved == 0


def test_a_failed_page_changes_nothing_and_is_shown(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    first = ninja.fire(101, "disk")
    deliver(nworld, uow_factory, "ninjaone", ninja.activity(first, "TRIGGERED"))
    ninja.fire_many(5)
    clients: list[NinjaOneClient] = []

    def paged(row: dict[str, Any]) -> Any:
        c = client_for_integration(row, store=store, policy=FAST, allow_loopback=True)
        assert isinstance(c, NinjaOneClient)
        c._page_size = 3
        clients.append(c)
        return c

    ninja.fail("GET /api/v2/alerts", status=500, skip=1, times=10)
    summary = reconcile.poll(nworld.tenant, nworld.integration_id, pool=pool, client_factory=paged)
    assert summary.status == "failed" and "GET /api/v2/alerts" in (summary.error or "")
    (local,) = nworld.alerts()
    assert local["status"] == "active"  # not reset although page 1 lacked it
    row = integration(nworld)
    assert row["last_poll_error"] == summary.error and row["last_polled_at"] is None
    ninja.clear_faults()
    ok = reconcile.poll(nworld.tenant, nworld.integration_id, pool=pool, client_factory=paged)
    assert ok.status == "ok" and ok.triggered == 5
    row = integration(nworld)
    assert row["last_poll_error"] is None and row["last_polled_at"] is not None


@pytest.mark.parametrize("fault", [{"kind": "malformed"}, {"kind": "hang", "delay": 1.5, "times": 2}])
def test_malformed_or_timed_out_fetch_is_a_failure_not_an_empty_list(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any, fault: dict[str, Any]
) -> None:
    alert = ninja.fire(101, "disk")
    deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "TRIGGERED"))
    ninja.fail("GET /api/v2/alerts", **fault)
    summary = poll(nworld, pool, store)
    assert summary.status == "failed"
    assert nworld.alerts()[0]["status"] == "active"


def test_an_alert_triggered_after_the_fetch_began_is_not_reset(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    late = {
        "id": 5555,
        "activityTime": datetime.now(UTC).timestamp(),
        "deviceId": 101,
        "seriesUid": "s-late",
        "activityType": "CONDITION",
        "statusCode": "TRIGGERED",
        "sourceConfigUid": "late-cond",
        "device": {"id": 101, "organizationId": 2},
    }

    class DuringFetch:
        def __init__(self, inner: Any) -> None:
            self.inner = inner

        def list_active_alerts(self) -> Any:
            result = self.inner.list_active_alerts()
            deliver(nworld, uow_factory, "ninjaone", late)  # a webhook lands while the fetch runs
            return result

        def close(self) -> None:
            self.inner.close()

    summary = reconcile.poll(
        nworld.tenant, nworld.integration_id, pool=pool, client_factory=lambda row: DuringFetch(factory(store)(row))
    )
    assert summary.status == "ok" and summary.resolved == 0
    assert nworld.alerts()[0]["status"] == "active"


def test_an_alert_reset_because_the_api_did_not_list_it_yet_is_ingested_when_it_does(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    alert = ninja.fire(101, "disk")
    deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "TRIGGERED"))
    hidden = ninja.alerts.pop(alert["uid"])  # the REST API lags behind the webhook

    assert poll(nworld, pool, store).resolved == 1  # so the poll takes it for gone
    (first,) = nworld.alerts()
    assert first["status"] == "auto_resolved"

    ninja.alerts[alert["uid"]] = hidden  # the API catches up: the condition never cleared
    summary = poll(nworld, pool, store)
    assert (summary.triggered, summary.resolved) == (1, 0)
    again = next(a for a in nworld.alerts() if a["alert_id"] != first["alert_id"])
    assert again["status"] == "active" and again["ticket_id"] not in (None, first["ticket_id"])
    assert nworld.ticket(again["ticket_id"])["closed_at"] is None
    assert poll(nworld, pool, store).triggered == 0  # and once only


def test_an_alert_the_api_still_lists_after_a_webhook_reset_is_not_ingested_again(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    alert = ninja.fire(101, "disk")
    deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "TRIGGERED"))
    deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "RESET"))  # the API has not caught up
    summary = poll(nworld, pool, store)
    assert (summary.triggered, summary.resolved) == (0, 0)
    assert [a["status"] for a in nworld.alerts()] == ["auto_resolved"]


def test_a_webhook_landing_between_the_diff_and_the_ingest_is_still_one_alert(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    ninja.bare_alerts = True  # the REST alert needs a device lookup: after the diff, before the ingest
    ninja.add_device(102, organization_id=2, name="ACME-SRV-02")
    alert = ninja.fire(102, "disk", webhook=False)

    def with_webhook_first(row: Any) -> Any:
        client = factory(store)(row)
        lookup = client.device

        def device(device_id: str) -> Any:
            deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "TRIGGERED"))  # it lands now
            return lookup(device_id)

        client.device = device
        return client

    summary = reconcile.poll(nworld.tenant, nworld.integration_id, pool=pool, client_factory=with_webhook_first)
    assert summary.status == "ok" and summary.outcomes == {"skipped": 1}
    (local,) = nworld.alerts()  # the webhook's alert, now known by its REST uid too
    assert local["rmm_alert_uid"] == alert["uid"] and local["occurrence_count"] == 1
    assert len(nworld.tickets()) == 1
    # Its RESET resolves it and closes the ticket: no second alert keeps the ticket open.
    deliver(nworld, uow_factory, "ninjaone", ninja.activity(alert, "RESET"))
    ninja.clear(102, "disk", webhook=False)
    (local,) = nworld.alerts()
    assert local["status"] == "auto_resolved" and nworld.ticket(local["ticket_id"])["closed_at"] is not None
    assert poll(nworld, pool, store).resolved == 0


# -- window catch-up ------------------------------------------------------------------------------


def _suppressed(world: Tenant, ninja: NinjaOneSim, uow_factory: Any) -> tuple[UUID, dict[str, Any]]:
    now = datetime.now(UTC)
    wid = world.add_window(starts_at=now - timedelta(hours=1), ends_at=now + timedelta(hours=1))
    alert = ninja.fire(101, "disk")
    body = deliver(world, uow_factory, "ninjaone", ninja.activity(alert, "TRIGGERED"))
    assert body["outcome"] == "suppressed"
    return wid, body


@pytest.mark.parametrize("how", ["ended", "deleted", "deactivated"])
def test_a_suppressed_alert_is_released_when_its_window_no_longer_covers_now(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any, how: str
) -> None:
    wid, body = _suppressed(nworld, ninja, uow_factory)
    assert poll(nworld, pool, store).released == 0  # still inside the window
    assert nworld.alerts()[0]["status"] == "suppressed"
    if how == "ended":
        nworld.q("UPDATE rmm_maintenance_windows SET ends_at = now() - interval '1 minute' WHERE window_id = %s", wid)
    elif how == "deleted":
        nworld.q("DELETE FROM rmm_maintenance_windows WHERE window_id = %s", wid)
    else:
        nworld.q("UPDATE rmm_maintenance_windows SET is_active = false WHERE window_id = %s", wid)
    summary = poll(nworld, pool, store)
    assert summary.released == 1 and summary.triggered == 0
    (local,) = nworld.alerts()
    assert str(local["alert_id"]) == body["alertId"]
    assert local["status"] == "active" and local["ticket_id"] is not None
    assert local["suppressed_by_window_id"] is None
    assert local["decision_trace"]["released"]["reason"]
    assert [o["event_type"] for o in nworld.outbox()][:2] == ["RMM_ALERT_TRIGGERED", "TICKET_CREATED"]
    assert poll(nworld, pool, store).released == 0


def test_a_suppressed_alert_gone_from_the_rmm_is_resolved_quietly(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    _suppressed(nworld, ninja, uow_factory)
    ninja.clear(101, "disk", webhook=False)
    summary = poll(nworld, pool, store)
    assert summary.resolved == 1
    assert nworld.alerts()[0]["status"] == "resolved" and nworld.tickets() == []


# -- concurrency, isolation, disconnected -------------------------------------------------------------


def test_a_second_concurrent_cycle_returns_at_once(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, database_url: str
) -> None:
    ninja.fire(101, "disk")
    with psycopg.connect(database_url) as holder:
        holder.execute("SELECT pg_advisory_xact_lock(%s)", (reconcile.lock_key(nworld.tenant, nworld.integration_id),))
        summary = poll(nworld, pool, store)
        assert (summary.status, summary.reason) == ("skipped", "cycle_in_progress")
        assert ninja.calls("GET", "/api/v2/alerts") == []
    assert poll(nworld, pool, store).triggered == 1


def test_concurrent_cycles_ingest_once(nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore) -> None:
    for n in range(5):
        ninja.fire(101, f"cond-{n}")
    ninja.fail("GET /api/v2/alerts", kind="hang", delay=0.3, times=1)
    results: list[reconcile.CycleSummary] = []
    threads = [threading.Thread(target=lambda: results.append(poll(nworld, pool, store))) for _ in range(3)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sum(r.triggered for r in results) == 5
    assert len(nworld.alerts()) == 5 and len(nworld.tickets()) == 5


def test_tenant_isolation(
    conn: Any, nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    other = make_tenant(conn, name="Other MSP")
    other.map_org("2")
    with NinjaOneSim() as other_sim:
        assert isinstance(other_sim, NinjaOneSim)
        connect(other, store, other_sim.url, NINJA_CREDS)
        other_alert = other_sim.fire(101, "disk", webhook=False)
        deliver(other, uow_factory, "ninjaone", other_sim.activity(other_alert, "TRIGGERED"))
        # Tenant A's RMM has nothing active: polling A must not reset B's alert.
        assert poll(nworld, pool, store).resolved == 0
        assert other.alerts()[0]["status"] == "active"
        # A's tenant with B's integration id is unknown.
        wrong = reconcile.poll(nworld.tenant, other.integration_id, pool=pool, client_factory=factory(store))
        assert (wrong.status, wrong.reason) == ("skipped", "integration_not_found")
        assert other_sim.calls("GET", "/api/v2/alerts") == []


def test_a_disconnected_integration_is_a_no_op(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore
) -> None:
    ninja.fire(101, "disk")
    nworld.q("UPDATE rmm_integrations SET is_active = false WHERE integration_id = %s", nworld.integration_id)
    summary = poll(nworld, pool, store)
    assert (summary.status, summary.reason) == ("skipped", "disconnected")
    assert nworld.alerts() == [] and ninja.calls("GET", "/api/v2/alerts") == []


def test_bad_credentials_fail_without_leaking(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    connect(nworld, store, ninja.url, {"clientId": "sim-client", "clientSecret": "leaky-secret-value-42"})
    summary = poll(nworld, pool, store)
    assert summary.status == "failed" and "HTTP 401" in (summary.error or "")
    assert "leaky-secret-value-42" not in json.dumps(summary.as_dict())
    assert "leaky-secret-value-42" not in caplog.text
    assert "leaky-secret-value-42" not in str(integration(nworld)["last_poll_error"])


# -- TacticalRMM ----------------------------------------------------------------------------------


@pytest.fixture
def tworld(conn: Any, store: LocalSecretStore, tactical: TacticalSim) -> Tenant:
    w = make_tenant(conn, provider="tacticalrmm")
    w.map_org("2")
    w.add_rule(actions={"autoResolveTicket": True})
    connect(w, store, tactical.url, TACTICAL_CREDS)
    return w


def test_tactical_missed_trigger_maps_client_names_and_matches_the_webhook_identity(
    tworld: Tenant, tactical: TacticalSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    alert = tactical.fire("agent-101", check_id=7)
    summary = poll(tworld, pool, store)
    assert summary.triggered == 1
    (local,) = tworld.alerts()
    assert local["external_organization_id"] == "2" and local["client_id"] == tworld.client_id
    assert local["dedup_key"] == "agent-101:check:7" and local["rmm_alert_uid"] == str(alert["id"])
    # The late webhook for the same alert is a replay, not a second alert.
    from rmm_alerts import tactical_template

    body = tactical_template.delivered_for_test(
        tactical_template.render_for_test(tactical_template.TRIGGER_BODY, tactical.variables(alert))
    )
    assert deliver(tworld, uow_factory, "tacticalrmm", body)["outcome"] == "skipped"
    tactical.clear(alert["id"], webhook=False)
    assert poll(tworld, pool, store).resolved == 1
    assert tworld.alerts()[0]["status"] == "auto_resolved"


def test_a_snoozed_tactical_alert_keeps_its_ticket_and_an_unknown_one_waits_for_the_snooze_to_end(
    tworld: Tenant, tactical: TacticalSim, pool: Any, store: LocalSecretStore
) -> None:
    known = tactical.fire("agent-101", check_id=7)
    assert poll(tworld, pool, store).triggered == 1
    (local,) = tworld.alerts()
    assert local["ticket_id"] is not None
    tactical.snooze(known["id"])  # a technician silences it for a day: it is still failing
    other = tactical.fire("agent-102", check_id=7)
    tactical.snooze(other["id"])  # silenced before we ever saw it

    summary = poll(tworld, pool, store)
    assert (summary.status, summary.snoozed, summary.resolved, summary.triggered) == ("ok", 2, 0, 0)
    (local,) = tworld.alerts()
    assert local["status"] == "active" and tworld.ticket(local["ticket_id"])["closed_at"] is None

    # The snooze ends: the unknown one is ingested now; the check passes: the known one resolves.
    tactical.unsnooze(other["id"])
    tactical.unsnooze(known["id"])
    tactical.clear(known["id"], webhook=False)
    summary = poll(tworld, pool, store)
    assert (summary.snoozed, summary.resolved, summary.triggered) == (0, 1, 1)
    by_device = {a["external_device_id"]: a for a in tworld.alerts()}
    assert by_device["agent-101"]["status"] == "auto_resolved" and by_device["agent-102"]["status"] == "active"


def test_tactical_nones(tworld: Tenant, tactical: TacticalSim, pool: Any, store: LocalSecretStore) -> None:
    bare = tactical.fire("agent-101", check_id=None, alert_type="availability")
    bare.update(hostname=None, client=None, site=None, message=None, severity=None)
    custom = tactical.fire("agent-101", check_id=None, alert_type="custom")
    custom.update(message=None)  # a custom alert without a message cannot be identified
    summary = poll(tworld, pool, store)
    assert summary.status == "ok" and summary.triggered == 1 and summary.unreadable == 1
    (local,) = tworld.alerts()
    assert local["condition_id"] == "availability" and local["severity"] == "none"
    assert local["external_organization_id"] is None and local["ticket_id"] is None  # recorded only


# -- the Lambda handler ---------------------------------------------------------------------------


def test_the_poller_handler_takes_the_scheduler_input(
    nworld: Tenant, ninja: NinjaOneSim, lambda_env: str, monkeypatch: pytest.MonkeyPatch, tmp_path: Any
) -> None:
    from functions.poller import handler as poller
    from rmm_alerts.ports import poll_schedule
    from tests.support.apigw import FakeContext

    local = LocalSecretStore(tmp_path)
    ref = local.put("creds", NINJA_CREDS)
    nworld.q("UPDATE rmm_integrations SET credentials_ref = %s WHERE integration_id = %s", ref, nworld.integration_id)
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path))
    monkeypatch.setenv("ALLOW_LOOPBACK_PROVIDERS", "true")
    monkeypatch.setenv("POWERTOOLS_METRICS_NAMESPACE", "RmmAlertsTest")
    ninja.fire(101, "disk")
    schedule = poll_schedule(nworld.tenant, nworld.integration_id, interval_minutes=15, enabled=True)
    result = poller.handler(dict(schedule.input), FakeContext())
    assert result["status"] == "ok" and result["triggered"] == 1 and result["integrationId"] == schedule.integration_id
    ninja.fail("GET /api/v2/alerts", status=503, times=10)
    with pytest.raises(Exception, match="HTTP 503"):
        poller.handler(dict(schedule.input), FakeContext())
    with pytest.raises(ValueError, match="tenantId"):
        poller.handler({"integrationId": schedule.integration_id}, FakeContext())


def test_unused_clients_are_typed() -> None:
    assert NinjaOneClient.provider == "ninjaone" and TacticalClient.provider == "tacticalrmm"


def test_one_failing_event_does_not_stop_the_others(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore
) -> None:
    for n in range(3):
        ninja.fire(101, f"cond-{n}")
    nworld.q(
        """CREATE FUNCTION refuse_cond_1() RETURNS trigger LANGUAGE plpgsql AS $$
           BEGIN IF NEW.condition_id = 'cond-1' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$"""
    )
    nworld.q("CREATE TRIGGER refuse BEFORE INSERT ON rmm_alerts FOR EACH ROW EXECUTE FUNCTION refuse_cond_1()")
    summary = poll(nworld, pool, store)
    assert (summary.status, summary.triggered, summary.failed_events) == ("failed", 2, 1)
    assert sorted(a["condition_id"] for a in nworld.alerts()) == ["cond-0", "cond-2"]
    assert "1 event(s) failed" in (integration(nworld)["last_poll_error"] or "")
    nworld.q("DROP TRIGGER refuse ON rmm_alerts")
    again = poll(nworld, pool, store)
    assert (again.status, again.triggered) == ("ok", 1)
    assert len(nworld.tickets()) == 3


def test_an_alert_the_rmm_still_lists_is_never_reset_even_when_unreadable(
    tworld: Tenant, tactical: TacticalSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    from rmm_alerts import tactical_template

    alert = tactical.fire("agent-101", check_id=7)
    body = tactical_template.delivered_for_test(
        tactical_template.render_for_test(tactical_template.TRIGGER_BODY, tactical.variables(alert))
    )
    assert deliver(tworld, uow_factory, "tacticalrmm", body)["outcome"] == "ticket_created"
    alert["assigned_check"] = None  # e.g. the check was deleted: the API alert no longer says which
    summary = poll(tworld, pool, store)
    assert (summary.status, summary.unreadable, summary.resolved) == ("ok", 1, 0)
    assert tworld.alerts()[0]["status"] == "active"
