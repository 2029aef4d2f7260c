"""Concurrent deliveries of one condition never open two tickets."""

from __future__ import annotations

import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import pytest

from rmm_alerts.pipeline import ProcessResult, process_event
from tests.support.events import event
from tests.support.world import Tenant, make_tenant

THREADS = 8


@pytest.fixture
def world(conn: Any) -> Tenant:
    w = make_tenant(conn)
    w.map_org("2")
    w.add_rule()
    return w


def _deliver_all(uow_factory: Any, events: list[Any]) -> list[ProcessResult]:
    barrier = threading.Barrier(len(events))

    def deliver(ev: Any) -> ProcessResult:
        barrier.wait()
        return process_event(ev, uow_factory())

    with ThreadPoolExecutor(max_workers=len(events)) as pool:
        return list(pool.map(deliver, events))


@pytest.mark.parametrize("round_", range(3))
def test_distinct_ids_one_ticket_and_counted_occurrences(world: Tenant, uow_factory: Any, round_: int) -> None:
    events = [event(world, external_alert_id=f"act-{round_}-{i}", pairing=f"s-{i}") for i in range(THREADS)]
    results = _deliver_all(uow_factory, events)
    outcomes = sorted(r.outcome for r in results)
    assert outcomes == ["occurrence_appended"] * (THREADS - 1) + ["ticket_created"]
    assert len(world.tickets()) == 1
    assert len({r.ticket_id for r in results}) == 1
    alerts = world.alerts()
    assert len(alerts) == THREADS
    primary = [a for a in alerts if a["auto_ticket_created"]]
    assert len(primary) == 1 and primary[0]["occurrence_count"] == THREADS
    ticket_id = results[0].ticket_id
    assert ticket_id is not None
    notes = [c["note"] for c in world.comments(ticket_id)]
    assert sorted(n for n in notes if n.startswith("Alert re-triggered")) == sorted(
        f"Alert re-triggered — occurrence {n}: Disk C: is 95% full" for n in range(2, THREADS + 1)
    )


@pytest.mark.parametrize("round_", range(3))
def test_identical_ids_one_alert_one_ticket(world: Tenant, uow_factory: Any, round_: int) -> None:
    events = [event(world, external_alert_id=f"same-{round_}") for _ in range(THREADS)]
    results = _deliver_all(uow_factory, events)
    assert sorted(r.outcome for r in results) == ["skipped"] * (THREADS - 1) + ["ticket_created"]
    assert len(world.alerts()) == 1
    assert len(world.tickets()) == 1
    assert world.alerts()[0]["occurrence_count"] == 1
    assert [o["event_type"] for o in world.outbox()] == ["RMM_ALERT_TRIGGERED", "TICKET_CREATED"]


def test_concurrent_trigger_and_reset_leave_a_consistent_state(world: Tenant, uow_factory: Any) -> None:
    world.q("UPDATE rmm_alert_rules SET actions = '{\"autoResolveTicket\": true}' WHERE tenant = %s", world.tenant)
    process_event(event(world, external_alert_id="t1"), uow_factory())
    results = _deliver_all(
        uow_factory,
        [event(world, "reset", external_alert_id="r1")] + [event(world, "reset", external_alert_id="r1")] * 3,
    )
    assert sorted(r.outcome for r in results) == ["resolved", "skipped", "skipped", "skipped"]
    assert [o["event_type"] for o in world.outbox()].count("TICKET_CLOSED") == 1
