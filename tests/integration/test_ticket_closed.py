"""Ticket closed -> alert reset in the RMM (rmm_alerts.outbound, functions/ticket_closed) on
PostgreSQL, against the loopback RMM fakes (never mocked clients)."""

from __future__ import annotations

import json
import logging
import re
import threading
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, ClassVar
from uuid import UUID

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from rmm_alerts import config, db, events, outbound, reconcile, tactical_template, ticket_closed_app
from rmm_alerts.ports import LocalSecretStore
from rmm_alerts.simulator import NinjaOneSim, TacticalSim
from tests.integration.test_poller import FAST, NINJA_CREDS, TACTICAL_CREDS, connect, deliver
from tests.support.world import Tenant, make_tenant

SECRET_VALUES = ("sim-client-secret", "sim-api-key")


@pytest.fixture(autouse=True)
def _function_env(lambda_env: str) -> str:
    """The function's environment (TicketClosedSettings), pointed at this test's database."""
    return lambda_env


@pytest.fixture
def store(tmp_path: Path) -> LocalSecretStore:
    return LocalSecretStore(tmp_path / "state")


def factory(store: LocalSecretStore) -> Any:
    from rmm_alerts.providers import client_for_integration

    return lambda row: client_for_integration(row, store=store, policy=FAST, allow_loopback=True)


@pytest.fixture
def nworld(conn: Any, store: LocalSecretStore, ninja: NinjaOneSim) -> Tenant:
    w = make_tenant(conn)
    w.map_org("2")
    w.add_rule(priority_order=100)  # catch-all: every alert gets a ticket
    connect(w, store, ninja.url, NINJA_CREDS)
    return w


@pytest.fixture
def tworld(conn: Any, store: LocalSecretStore, tactical: TacticalSim) -> Tenant:
    w = make_tenant(conn, provider="tacticalrmm")
    w.map_org("2")
    w.add_rule(priority_order=100)
    connect(w, store, tactical.url, TACTICAL_CREDS)
    return w


def ninja_alert(world: Tenant, ninja: NinjaOneSim, uow_factory: Any, device: int, condition: str) -> dict[str, Any]:
    """An alert that arrived by webhook (no RMM uid recorded): returns the local row."""
    remote = ninja.fire(device, condition)
    body = deliver(world, uow_factory, "ninjaone", ninja.activity(remote, "TRIGGERED"))
    assert body["outcome"] == "ticket_created", body
    local = world.alert(UUID(body["alertId"]))
    assert local["rmm_alert_uid"] is None and local["condition_id"] == condition
    return local


def tactical_alert(world: Tenant, tactical: TacticalSim, uow_factory: Any, agent: str, check: int) -> dict[str, Any]:
    remote = tactical.fire(agent, check_id=check)
    body = tactical_template.delivered_for_test(
        tactical_template.render_for_test(tactical_template.TRIGGER_BODY, tactical.variables(remote))
    )
    result = deliver(world, uow_factory, "tacticalrmm", body)
    assert result["outcome"] == "ticket_created", result
    return world.alert(UUID(result["alertId"]))


def close_ticket(world: Tenant, ticket_id: UUID) -> None:
    world.q(
        "UPDATE tickets SET status_id = %s, closed_at = now() WHERE tenant = %s AND ticket_id = %s",
        world.closed_status_id,
        world.tenant,
        ticket_id,
    )


def bridge_event(
    tenant: UUID | str | None, ticket: UUID | str | None, user: UUID | None = None, source: str = "alga-psa"
) -> dict[str, Any]:
    """What EventBridge hands a Lambda target for a TICKET_CLOSED PutEvents entry."""
    detail: dict[str, Any] = {"closedAt": datetime.now(UTC).isoformat()}
    if tenant is not None:
        detail["tenantId"] = str(tenant)
    if ticket is not None:
        detail["ticketId"] = str(ticket)
    if user is not None:
        detail["closedByUserId"] = str(user)
    return {
        "version": "0",
        "id": str(uuid.uuid4()),
        "detail-type": "TICKET_CLOSED",
        "source": source,
        "account": "123456789012",
        "time": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "region": "eu-west-1",
        "resources": [],
        "detail": detail,
    }


def handle(event: dict[str, Any], pool: Any, store: LocalSecretStore) -> dict[str, Any]:
    return ticket_closed_app.handle(event, pool=pool, client_factory=factory(store))


def resolved_events(world: Tenant) -> list[dict[str, Any]]:
    return [r for r in world.outbox() if r["event_type"] == events.RMM_ALERT_RESOLVED]


# -- NinjaOne ------------------------------------------------------------------------------------


def test_ninjaone_finds_the_uid_by_condition_when_the_device_has_two(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    disk = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    cpu = ninja_alert(nworld, ninja, uow_factory, 101, "cpu")
    remote_disk = ninja.find(101, "disk")
    assert remote_disk is not None
    close_ticket(nworld, disk["ticket_id"])

    out = handle(bridge_event(nworld.tenant, disk["ticket_id"], nworld.user_id), pool, store)

    assert out["status"] == "ok" and out["resolved"] == 1, out
    assert ninja.resets == [remote_disk["uid"]]  # the disk alert, not the cpu one
    assert ninja.find(101, "cpu") is not None
    local = nworld.alert(disk["alert_id"])
    assert local["status"] == "resolved" and local["resolved_at"] is not None
    assert local["decision_trace"]["ticketClose"]["reason"] == "ticket closed by Tess Tech"
    assert local["decision_trace"]["ticketClose"]["rmm"] == "reset in NinjaOne"
    assert local["metadata"]["ticketClose"]["attempts"] == 1
    assert local["metadata"]["ticketClose"]["rmmAlertIds"] == [remote_disk["uid"]]
    assert nworld.alert(cpu["alert_id"])["status"] == "active"
    # The close itself is untouched.
    assert nworld.ticket(disk["ticket_id"])["status_id"] == nworld.closed_status_id


def test_ninjaone_uses_the_recorded_uid(nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore) -> None:
    remote = ninja.fire(101, "disk")
    summary = reconcile.poll(nworld.tenant, nworld.integration_id, pool=pool, client_factory=factory(store))
    assert summary.triggered == 1
    (local,) = nworld.alerts()
    assert local["rmm_alert_uid"] == remote["uid"]
    close_ticket(nworld, local["ticket_id"])
    before = len(ninja.calls("GET", "/api/v2/device/"))

    out = handle(bridge_event(nworld.tenant, local["ticket_id"]), pool, store)

    assert out["resolved"] == 1
    assert ninja.resets == [remote["uid"]]
    assert len(ninja.calls("GET", "/api/v2/device/")) == before  # no lookup needed
    row = nworld.alert(local["alert_id"])
    assert row["status"] == "resolved"
    assert row["decision_trace"]["ticketClose"]["reason"] == "ticket closed by system"


def test_already_cleared_in_the_rmm_resolves_locally(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    ninja.clear(101, "disk", webhook=False)  # cleared in NinjaOne; the RESET never arrived
    close_ticket(nworld, local["ticket_id"])

    out = handle(bridge_event(nworld.tenant, local["ticket_id"]), pool, store)

    assert out["resolved"] == 1
    assert ninja.resets == []
    row = nworld.alert(local["alert_id"])
    assert row["status"] == "resolved"
    assert row["decision_trace"]["ticketClose"]["rmm"] == "already cleared in NinjaOne: resolved locally"
    assert len(resolved_events(nworld)) == 1


def test_the_resolved_event_goes_through_the_outbox(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    close_ticket(nworld, local["ticket_id"])
    handle(bridge_event(nworld.tenant, local["ticket_id"]), pool, store)
    (row,) = resolved_events(nworld)
    assert row["kind"] == "event"
    payload = row["payload"]
    assert payload["alertId"] == str(local["alert_id"])
    assert payload["ticketId"] == str(local["ticket_id"])
    assert payload["tenantId"] == str(nworld.tenant)
    assert payload["provider"] == "ninjaone" and payload["externalDeviceId"] == "101"
    assert payload["clientId"] == str(nworld.client_id)
    assert "resolvedAt" in payload


# -- Tactical ------------------------------------------------------------------------------------


def test_tactical_resolves_by_alert_id(
    tworld: Tenant, tactical: TacticalSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    first = tactical_alert(tworld, tactical, uow_factory, "agent-101", 7)
    other = tactical.fire("agent-101", check_id=8)
    # Acknowledged alerts are reset too.
    tworld.q(
        "UPDATE rmm_alerts SET status = 'acknowledged' WHERE tenant = %s AND alert_id = %s",
        tworld.tenant,
        first["alert_id"],
    )
    close_ticket(tworld, first["ticket_id"])

    out = handle(bridge_event(tworld.tenant, first["ticket_id"]), pool, store)

    assert out["resolved"] == 1
    assert tactical.resolves == [int(first["external_alert_id"])]
    assert not tactical.alerts[other["id"]]["resolved"]
    row = tworld.alert(first["alert_id"])
    assert row["status"] == "resolved"
    assert row["decision_trace"]["ticketClose"]["rmm"] == "reset in TacticalRMM"
    assert len(resolved_events(tworld)) == 1


# -- failures --------------------------------------------------------------------------------------


def test_transient_failure_is_recorded_then_raised_and_a_retry_succeeds(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    close_ticket(nworld, local["ticket_id"])
    ninja.fail("POST /api/v2/alert/", status=503, times=10)
    event = bridge_event(nworld.tenant, local["ticket_id"])

    with pytest.raises(ticket_closed_app.ResetFailed):
        handle(event, pool, store)

    row = nworld.alert(local["alert_id"])
    assert row["status"] == "active"  # kept
    record = row["metadata"]["ticketClose"]
    assert record["status"] == "failed" and record["transient"] is True and record["attempts"] == 1
    assert "503" in record["lastError"] and record["lastErrorAt"]
    assert resolved_events(nworld) == []
    assert nworld.ticket(local["ticket_id"])["closed_at"] is not None  # never undone

    with pytest.raises(ticket_closed_app.ResetFailed):
        handle(event, pool, store)  # EventBridge retries
    assert nworld.alert(local["alert_id"])["metadata"]["ticketClose"]["attempts"] == 2

    ninja.clear_faults()
    out = handle(event, pool, store)
    assert out["resolved"] == 1 and len(ninja.resets) == 1
    row = nworld.alert(local["alert_id"])
    assert row["status"] == "resolved"
    assert row["metadata"]["ticketClose"]["attempts"] == 3 and row["metadata"]["ticketClose"]["lastError"] is None


def test_permanent_failure_is_recorded_and_not_raised(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    close_ticket(nworld, local["ticket_id"])
    ninja.fail("POST /api/v2/alert/", status=400, times=10)

    out = handle(bridge_event(nworld.tenant, local["ticket_id"]), pool, store)

    assert out["status"] == "ok" and out["failed"] == 1
    row = nworld.alert(local["alert_id"])
    assert row["status"] == "active"
    record = row["metadata"]["ticketClose"]
    assert record["status"] == "failed" and record["transient"] is False and "400" in record["lastError"]
    assert ninja.resets == []


def test_bad_credentials_are_a_permanent_failure_and_secrets_stay_out(
    nworld: Tenant,
    ninja: NinjaOneSim,
    pool: Any,
    store: LocalSecretStore,
    uow_factory: Any,
    caplog: pytest.LogCaptureFixture,
    capsys: pytest.CaptureFixture[str],
) -> None:
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    close_ticket(nworld, local["ticket_id"])
    ref = nworld.one(
        "SELECT credentials_ref FROM rmm_integrations WHERE tenant = %s AND integration_id = %s",
        nworld.tenant,
        nworld.integration_id,
    )["credentials_ref"]
    wrong = "wrong-secret-value-must-not-leak"
    store.put(ref.removeprefix("local:"), {"clientId": "sim-client", "clientSecret": wrong})
    caplog.set_level(logging.DEBUG)

    out = handle(bridge_event(nworld.tenant, local["ticket_id"]), pool, store)

    assert out["failed"] == 1
    row = nworld.alert(local["alert_id"])
    assert row["status"] == "active"
    stored = json.dumps(row["metadata"]) + json.dumps(row["decision_trace"])
    logged = caplog.text + "".join(capsys.readouterr())
    for secret in (wrong, *SECRET_VALUES):
        assert secret not in stored and secret not in logged and secret not in json.dumps(out)
    assert "oauth" in row["metadata"]["ticketClose"]["lastError"].lower()


# -- idempotency, opt-out, concurrency ----------------------------------------------------------


def test_a_redelivered_event_resets_nothing_twice(
    nworld: Tenant,
    ninja: NinjaOneSim,
    tactical: TacticalSim,
    conn: Any,
    pool: Any,
    store: LocalSecretStore,
    uow_factory: Any,
) -> None:
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    close_ticket(nworld, local["ticket_id"])
    event = bridge_event(nworld.tenant, local["ticket_id"])
    handle(event, pool, store)
    again = handle(event, pool, store)
    assert again["alerts"] == 0
    assert len(ninja.resets) == 1
    assert len(resolved_events(nworld)) == 1

    tw = make_tenant(conn, name="Tactical MSP", provider="tacticalrmm")
    tw.map_org("2")
    tw.add_rule()
    connect(tw, store, tactical.url, TACTICAL_CREDS)
    talert = tactical_alert(tw, tactical, uow_factory, "agent-101", 7)
    close_ticket(tw, talert["ticket_id"])
    tevent = bridge_event(tw.tenant, talert["ticket_id"])
    handle(tevent, pool, store)
    handle(tevent, pool, store)
    assert tactical.resolves == [int(talert["external_alert_id"])]


def test_concurrent_duplicate_deliveries_call_the_rmm_once(
    tworld: Tenant, tactical: TacticalSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    local = tactical_alert(tworld, tactical, uow_factory, "agent-101", 7)
    close_ticket(tworld, local["ticket_id"])
    event = bridge_event(tworld.tenant, local["ticket_id"])
    calling, go = threading.Event(), threading.Event()

    def slow_factory(row: dict[str, Any]) -> Any:
        client = factory(store)(row)
        real = client.resolve_alert

        def resolve(alert_id: str) -> None:
            calling.set()
            assert go.wait(30)
            real(alert_id)

        client.resolve_alert = resolve
        return client

    results: list[Any] = []
    first = threading.Thread(
        target=lambda: results.append(ticket_closed_app.handle(event, pool=pool, client_factory=slow_factory))
    )
    first.start()
    try:
        assert calling.wait(30)
        # The duplicate arrives while the first is calling Tactical: it does not call, and fails
        # transiently so EventBridge retries it.
        with pytest.raises(ticket_closed_app.ResetFailed):
            handle(event, pool, store)
    finally:
        go.set()
        first.join(30)
    assert results and results[0]["resolved"] == 1
    assert tactical.resolves == [int(local["external_alert_id"])]
    # The retry finds it resolved.
    assert handle(event, pool, store)["alerts"] == 0
    assert tactical.resolves == [int(local["external_alert_id"])]
    row = tworld.alert(local["alert_id"])
    assert row["status"] == "resolved" and row["metadata"]["ticketCloseClaim"] is None
    assert len(resolved_events(tworld)) == 1


def test_rule_opt_out_and_missing_rule(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    keep = nworld.add_rule(
        "Keep", conditions={"keywords": ["disk"]}, actions={"resetAlertOnTicketClose": False}, priority_order=1
    )
    kept = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    assert kept["matched_rule_id"] == keep
    nworld.add_rule("Reset", actions={"resetAlertOnTicketClose": True}, priority_order=2)
    reset = ninja_alert(nworld, ninja, uow_factory, 102, "cpu")
    norule = ninja_alert(nworld, ninja, uow_factory, 103, "mem")
    # The rule was deleted afterwards: a missing rule means reset.
    nworld.q(
        "UPDATE rmm_alerts SET matched_rule_id = NULL WHERE tenant = %s AND alert_id = %s",
        nworld.tenant,
        norule["alert_id"],
    )
    # One ticket holding all three (e.g. merged by a technician).
    for a in (reset, norule):
        nworld.q(
            "UPDATE rmm_alerts SET ticket_id = %s WHERE tenant = %s AND alert_id = %s",
            kept["ticket_id"],
            nworld.tenant,
            a["alert_id"],
        )
    close_ticket(nworld, kept["ticket_id"])

    out = handle(bridge_event(nworld.tenant, kept["ticket_id"]), pool, store)

    assert out["resolved"] == 2
    assert nworld.alert(kept["alert_id"])["status"] == "active"
    assert nworld.alert(reset["alert_id"])["status"] == "resolved"
    assert nworld.alert(norule["alert_id"])["status"] == "resolved"
    assert ninja.find(101, "disk") is not None
    assert ninja.find(102, "cpu") is None and ninja.find(103, "mem") is None
    assert len(ninja.resets) == 2


def test_a_webhook_reset_in_between_wins(
    nworld: Tenant, ninja: NinjaOneSim, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    """The RESET webhook lands while the subscriber is calling the RMM: its write stands, no second
    RMM_ALERT_RESOLVED, nothing recorded as a failure."""
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    close_ticket(nworld, local["ticket_id"])
    remote = ninja.find(101, "disk")
    assert remote is not None

    def client_factory(row: dict[str, Any]) -> Any:
        client = factory(store)(row)
        real_reset = client.reset_alert

        def reset_then_webhook(uid: str) -> None:
            real_reset(uid)
            deliver(nworld, uow_factory, "ninjaone", ninja.activity(remote, "RESET"))

        client.reset_alert = reset_then_webhook
        return client

    out = ticket_closed_app.handle(
        bridge_event(nworld.tenant, local["ticket_id"]), pool=pool, client_factory=client_factory
    )

    assert out["outcomes"][0]["outcome"] == "resolved_meanwhile"
    row = nworld.alert(local["alert_id"])
    assert row["status"] == "resolved" and "reset" in row["decision_trace"]
    assert "ticketClose" not in row["decision_trace"]
    assert len(resolved_events(nworld)) == 1


# -- tenancy, malformed, no-ops ---------------------------------------------------------------


def test_tenant_b_cannot_touch_tenant_a(
    nworld: Tenant, ninja: NinjaOneSim, conn: Any, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    close_ticket(nworld, local["ticket_id"])
    other = make_tenant(conn, name="Other MSP")

    out = handle(bridge_event(other.tenant, local["ticket_id"]), pool, store)

    assert out["alerts"] == 0
    assert ninja.resets == []
    assert nworld.alert(local["alert_id"])["status"] == "active"


@pytest.mark.parametrize(
    ("detail", "field"),
    [
        ({"ticketId": str(uuid.uuid4())}, "tenantId"),
        ({"tenantId": str(uuid.uuid4())}, "ticketId"),
        ({"tenantId": "acme", "ticketId": str(uuid.uuid4())}, "tenantId"),
        ({"tenantId": str(uuid.uuid4()), "ticketId": 42}, "ticketId"),
        (None, "detail"),
        ("not an object", "detail"),
    ],
)
def test_malformed_events_are_logged_and_dropped(
    detail: Any, field: str, lambda_env: str, caplog: pytest.LogCaptureFixture
) -> None:
    event = bridge_event(None, None)
    event["detail"] = detail
    caplog.set_level(logging.INFO)
    from functions.ticket_closed.handler import handler
    from tests.support.apigw import FakeContext

    out = handler(event, FakeContext())
    assert out["status"] == "ignored" and out["reason"] == "malformed"
    assert field in out["fields"]
    assert "malformed TICKET_CLOSED dropped" in caplog.text


class Counting(psycopg.Connection[Any]):
    """Counts the statements the service sends (every one goes through ``execute``)."""

    statements: ClassVar[list[str]] = []

    def execute(self, query: Any, params: Any = None, **kwargs: Any) -> Any:
        Counting.statements.append(str(query))
        return super().execute(query, params, **kwargs)


@pytest.fixture
def counting_pool(database_url: str) -> Iterator[ConnectionPool[Any]]:
    Counting.statements = []
    p: ConnectionPool[Any] = ConnectionPool(
        database_url,
        connection_class=Counting,
        min_size=1,
        max_size=2,
        kwargs={"prepare_threshold": None},
        open=True,
    )
    p.wait()
    Counting.statements = []
    try:
        yield p
    finally:
        p.close()


def test_no_ops_cost_one_indexed_query_at_most(
    nworld: Tenant,
    ninja: NinjaOneSim,
    uow_factory: Any,
    counting_pool: ConnectionPool[Any],
    store: LocalSecretStore,
    conn: Any,
) -> None:
    bare = nworld.q(
        """INSERT INTO tickets (tenant, ticket_id, ticket_number, title, board_id, status_id, client_id, closed_at)
           VALUES (%s, gen_random_uuid(), 'T-9', 'No alerts', %s, %s, %s, now()) RETURNING ticket_id""",
        nworld.tenant,
        nworld.board_id,
        nworld.closed_status_id,
        nworld.client_id,
    )[0]["ticket_id"]
    # Another ticket's alert exists, so "no alerts" is not just an empty table.
    ninja_alert(nworld, ninja, uow_factory, 101, "disk")

    def statements(event: dict[str, Any]) -> list[str]:
        Counting.statements = []
        out = handle(event, counting_pool, store)
        assert out.get("alerts", 0) == 0 and ninja.resets == []
        return list(Counting.statements)

    assert len(statements(bridge_event(nworld.tenant, bare))) == 1
    assert len(statements(bridge_event(uuid.uuid4(), uuid.uuid4()))) == 1  # unknown tenant
    own = bridge_event(nworld.tenant, bare, source=events.EVENT_SOURCE)
    assert statements(own) == []  # the service's own TICKET_CLOSED: nothing at all

    # That one statement can use the (tenant, ticket_id) index.
    from rmm_alerts.db import ticket_close

    with conn.transaction():
        conn.execute("SET LOCAL enable_seqscan = off")
        plan = "\n".join(
            r["QUERY PLAN"]
            for r in conn.execute(
                "EXPLAIN " + ticket_close._TARGETS, {"t": nworld.tenant, "k": bare, "u": None}
            ).fetchall()
        )
    # The alerts are found by an index on (tenant, ..., ticket_id), not by scanning the tenant.
    assert re.search(
        r"Index Scan using \w+ on rmm_alerts al[^\n]*\n\s+Index Cond: \(\(tenant = \S+ AND \(ticket_id = ", plan
    ), plan


def test_the_lambda_handler_with_a_real_eventbridge_event(
    nworld: Tenant,
    ninja: NinjaOneSim,
    uow_factory: Any,
    lambda_env: str,
    store: LocalSecretStore,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ALLOW_LOOPBACK_PROVIDERS", "true")
    config.cached.cache_clear()
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    close_ticket(nworld, local["ticket_id"])
    from functions.ticket_closed.handler import handler
    from tests.support.apigw import FakeContext

    out = handler(bridge_event(nworld.tenant, local["ticket_id"], nworld.user_id), FakeContext())

    assert out["status"] == "ok" and out["resolved"] == 1 and out["closedBy"] == "Tess Tech"
    assert len(ninja.resets) == 1
    assert nworld.alert(local["alert_id"])["status"] == "resolved"
    db.reset_pool()


def test_service_summary_is_empty_for_a_ticket_of_another_tenant_even_with_the_same_id(
    nworld: Tenant, ninja: NinjaOneSim, conn: Any, pool: Any, store: LocalSecretStore, uow_factory: Any
) -> None:
    """Directly through the service: tenant scoping is in the SQL, not only in the handler."""
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    other = make_tenant(conn, name="Other MSP")
    summary = outbound.on_ticket_closed(
        outbound.TicketClosed(other.tenant, local["ticket_id"]), pool=pool, client_factory=factory(store)
    )
    assert summary.alerts == [] and not summary.wrote_outbox


# -- rmm-alerts dev: ticket close -> local event bus -> ticket_closed -------------------------------


def test_dev_ticket_close_publishes_on_the_local_bus_which_resets_the_alert(
    nworld: Tenant,
    ninja: NinjaOneSim,
    uow_factory: Any,
    admin_database_url: str,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    from functions.ticket_closed.handler import handler
    from rmm_alerts import cli, devsim, localbus
    from tests.support.apigw import FakeContext

    monkeypatch.setenv("LOCAL_STATE_DIR", str(tmp_path / "state"))
    monkeypatch.setenv("ALLOW_LOOPBACK_PROVIDERS", "true")
    config.cached.cache_clear()
    home = tmp_path / "home"
    home.mkdir()
    (home / devsim.RUNTIME_FILE).write_text(json.dumps({"databaseUrl": admin_database_url}))
    monkeypatch.setattr(cli, "LOCAL_DIR", home)
    local = ninja_alert(nworld, ninja, uow_factory, 101, "disk")
    number = nworld.ticket(local["ticket_id"])["ticket_number"]

    assert cli.main(["ticket", "close", number, "--user-id", str(nworld.user_id), "--no-wait"]) == 0
    ticket = nworld.ticket(local["ticket_id"])
    assert ticket["closed_at"] is not None and ticket["status_id"] == nworld.closed_status_id
    assert ninja.resets == []  # nothing happens until the bus delivers

    lines: list[str] = []
    bus = localbus.LocalEventBus(home, {"TICKET_CLOSED": lambda e: handler(e, FakeContext())}, echo=lines.append)
    assert bus.drain() == 1
    assert len(ninja.resets) == 1
    row = nworld.alert(local["alert_id"])
    assert row["status"] == "resolved"
    assert row["decision_trace"]["ticketClose"]["reason"] == "ticket closed by Tess Tech"
    assert lines == [f"bus     TICKET_CLOSED -> ticket {local['ticket_id']} resolved=1"]
    assert bus.drain() == 0  # delivered once, removed

    # The service's own TICKET_CLOSED on the bus matches no rule; an unknown ticket number is an error.
    localbus.publish(home, detail_type="TICKET_CLOSED", source=events.EVENT_SOURCE, detail={})
    assert bus.drain() == 0 and not list((home / localbus.BUS_DIR).glob("*.json"))
    assert cli.main(["ticket", "close", "NOPE-1"]) == 1
    assert "not found" in capsys.readouterr().err
    db.reset_pool()
