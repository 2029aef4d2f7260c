"""Issue 10, items 2-4 and 11 (the lock): how a RESET finds its TRIGGER, on real PostgreSQL.

NinjaOne allows one active alert per device and condition, so a reset pairs by pairing id within
its own device, else by device + condition; a reset that arrives before its trigger is remembered
for a bounded time and the late trigger is recorded already resolved, with no ticket."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

import psycopg
import pytest

from rmm_alerts import pipeline, rules
from rmm_alerts.pipeline import EARLY_RESET_TTL
from tests.support.events import T0, event, later, run
from tests.support.world import Tenant


@pytest.fixture
def ticketing(world: Tenant) -> Tenant:
    world.add_rule(actions={"autoResolveTicket": True})
    return world


# -- item 2 ----------------------------------------------------------------------------------


def test_reset_with_another_series_falls_back_to_device_and_condition(ticketing: Tenant, uow_factory: Any) -> None:
    trig = run(uow_factory, event(ticketing, pairing="series-trigger"))
    reset = run(uow_factory, event(ticketing, "reset", pairing="series-reset", at=later(5)))
    assert (reset.outcome, reset.alert_id) == ("resolved", trig.alert_id)
    assert ticketing.alert(trig.alert_id)["status"] == "auto_resolved"
    assert ticketing.ticket(trig.ticket_id)["closed_at"] is not None


def test_reset_pairing_match_wins_over_the_fallback(ticketing: Tenant, uow_factory: Any) -> None:
    a = run(uow_factory, event(ticketing, pairing="series-a"))
    b = run(uow_factory, event(ticketing, pairing="series-b", at=later(1)))
    run(uow_factory, event(ticketing, "reset", pairing="series-b", at=later(2)))
    assert ticketing.alert(a.alert_id)["status"] == "active"
    assert ticketing.alert(b.alert_id)["status"] == "resolved"


# -- item 3 ----------------------------------------------------------------------------------


def test_reset_never_pairs_across_devices(ticketing: Tenant, uow_factory: Any) -> None:
    seventy_seven = run(uow_factory, event(ticketing, device="77", pairing="shared-series"))
    reset = run(uow_factory, event(ticketing, "reset", device="78", pairing="shared-series", at=later(5)))
    assert reset.outcome == "skipped"
    assert ticketing.alert(seventy_seven.alert_id)["status"] == "active"
    assert ticketing.ticket(seventy_seven.ticket_id)["closed_at"] is None


def test_acknowledge_never_pairs_across_devices(ticketing: Tenant, uow_factory: Any) -> None:
    seventy_seven = run(uow_factory, event(ticketing, device="77", pairing="shared-series"))
    ack = run(uow_factory, event(ticketing, "acknowledged", device="78", pairing="shared-series", at=later(5)))
    assert ack.outcome == "skipped"
    assert ticketing.alert(seventy_seven.alert_id)["status"] == "active"


# -- item 4 ----------------------------------------------------------------------------------


def test_reset_before_its_trigger_records_the_trigger_resolved_without_ticket(
    ticketing: Tenant, uow_factory: Any
) -> None:
    early = run(uow_factory, event(ticketing, "reset", at=later(5)))
    assert early.outcome == "skipped"
    outbox = len(ticketing.outbox())
    late = run(uow_factory, event(ticketing, at=T0))
    assert (late.outcome, late.reason, late.ticket_id) == ("recorded_only", "already_reset", None)
    alert = ticketing.alert(late.alert_id)
    assert alert["status"] == "resolved" and alert["ticket_id"] is None
    assert alert["resolved_at"] == later(5)
    assert alert["decision_trace"]["outcome"] == "already_reset"
    assert ticketing.tickets() == []
    kinds = [row["event_type"] for row in ticketing.outbox()[outbox:]]
    assert kinds == ["RMM_ALERT_TRIGGERED", "RMM_ALERT_RESOLVED"]
    # The remembered reset is used once: the next firing opens a ticket as usual.
    again = run(uow_factory, event(ticketing, at=later(10)))
    assert again.outcome == "ticket_created"


def test_early_reset_with_another_series_still_matches_device_and_condition(
    ticketing: Tenant, uow_factory: Any
) -> None:
    run(uow_factory, event(ticketing, "reset", pairing="series-reset", at=later(5)))
    late = run(uow_factory, event(ticketing, pairing="series-trigger", at=T0))
    assert (late.outcome, late.reason) == ("recorded_only", "already_reset")


def test_early_reset_does_not_cover_a_later_firing_or_another_device(ticketing: Tenant, uow_factory: Any) -> None:
    run(uow_factory, event(ticketing, "reset", at=later(5)))
    other_device = run(uow_factory, event(ticketing, device="202", at=T0))
    assert other_device.outcome == "ticket_created"
    newer = run(uow_factory, event(ticketing, at=later(6)))
    assert newer.outcome == "ticket_created"


def test_early_reset_is_forgotten_after_its_time(ticketing: Tenant, uow_factory: Any) -> None:
    pipeline.process_event(event(ticketing, "reset", at=later(5)), uow_factory(), now=later(6))
    within = pipeline.process_event(event(ticketing, "reset", at=later(5)), uow_factory(), now=later(6))
    assert within.outcome == "skipped"
    stale = later(6) + EARLY_RESET_TTL + timedelta(minutes=1)
    late = pipeline.process_event(event(ticketing, at=T0), uow_factory(), now=stale)
    assert late.outcome == "ticket_created"


def test_replayed_early_reset_is_remembered_once(ticketing: Tenant, uow_factory: Any) -> None:
    run(uow_factory, event(ticketing, "reset", external_alert_id="r-1", at=later(5)))
    run(uow_factory, event(ticketing, "reset", external_alert_id="r-1", at=later(5)))
    assert ticketing.one("SELECT count(*) AS n FROM rmm_early_resets WHERE tenant = %s", ticketing.tenant)["n"] == 1


def test_the_pollers_reset_for_an_alert_resolved_meanwhile_is_not_remembered(
    ticketing: Tenant, uow_factory: Any
) -> None:
    # The poller synthesizes a reset for an open alert the RMM no longer lists; a webhook reset
    # resolved it first. Its reset is not early: remembering it would resolve a later firing.
    trig = run(uow_factory, event(ticketing, at=T0))
    run(uow_factory, event(ticketing, "reset", at=later(1)))
    polled = pipeline.process_event(
        event(ticketing, "reset", external_alert_id=f"poll-reset:{trig.alert_id}", at=later(3)),
        uow_factory(),
        synthesized=True,
    )
    assert (polled.outcome, polled.reason) == ("skipped", "already_resolved")
    assert ticketing.one("SELECT count(*) AS n FROM rmm_early_resets WHERE tenant = %s", ticketing.tenant)["n"] == 0
    again = run(uow_factory, event(ticketing, at=later(2)))
    assert again.outcome == "ticket_created"


# -- item 11: no regex under the group lock -----------------------------------------------------


def test_rules_are_evaluated_before_the_group_lock(
    ticketing: Tenant, uow_factory: Any, database_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    held: list[int] = []
    original = rules.first_match

    def spy(*args: Any, **kwargs: Any) -> Any:
        with psycopg.connect(database_url, autocommit=True) as other:
            row = other.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND granted").fetchone()
        held.append(int(row[0]) if row else -1)
        return original(*args, **kwargs)

    monkeypatch.setattr(rules, "first_match", spy)
    assert run(uow_factory, event(ticketing)).outcome == "ticket_created"
    assert held == [0]


def test_an_early_reset_never_covers_another_tenants_trigger(conn: Any, ticketing: Tenant, uow_factory: Any) -> None:
    from tests.support.world import make_tenant

    other = make_tenant(conn, name="Other MSP")
    other.map_org("2")
    other.add_rule(actions={"autoResolveTicket": True})
    run(uow_factory, event(ticketing, "reset", at=later(5)))
    theirs = run(uow_factory, event(other, at=T0))
    assert theirs.outcome == "ticket_created"
    ours = run(uow_factory, event(ticketing, at=T0))
    assert (ours.outcome, ours.reason) == ("recorded_only", "already_reset")
