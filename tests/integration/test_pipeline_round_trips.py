"""The webhook path's round trips are few and fixed: they do not grow with rules or windows.

Counted on the wire (libpq's protocol trace): one round trip is the client sending, then waiting
for the server. BEGIN and COMMIT are included; the pool's checkout check is not (it runs only for
a connection that sat idle, db.check_if_idle), and a test below proves it still runs then.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

import pytest
from psycopg_pool import ConnectionPool

from rmm_alerts import db, webhooks
from rmm_alerts.pipeline import process_event, release_suppressed
from tests.integration.conftest import fixture
from tests.support.events import event, later
from tests.support.wire import Wire
from tests.support.world import Tenant, make_tenant, set_webhook_secret


def _configure(world: Tenant, extra: int) -> None:
    world.map_org("2")
    for i in range(extra):
        world.add_rule(f"never {i}", conditions={"keywords": [f"zzz{i}"], "messagePattern": f"^nope{i}$"})
        world.add_window(
            f"past {i}", starts_at=datetime(2020, 1, 1, tzinfo=UTC), ends_at=datetime(2020, 1, 2, tzinfo=UTC)
        )
    world.add_rule("catch-all", actions={"autoResolveTicket": True})


# (outcome, round trips): the pipeline's own (see pipeline.py); BEGIN and COMMIT ride with other
# statements; no checkout check.
PIPELINE_EXPECTED = [
    ("ticket_created", 3),
    ("skipped", 1),
    ("occurrence_appended", 3),
    ("acknowledged", 2),
    ("resolved", 2),
    ("skipped", 2),
    ("recorded_only", 3),
    ("suppressed", 3),
]


@pytest.mark.parametrize("extra", [0, 60])
def test_pipeline_round_trips_per_outcome(
    conn: Any, counting_pool: ConnectionPool[Any], wire: Wire, extra: int
) -> None:
    world = make_tenant(conn)
    _configure(world, extra)
    events = [
        event(world, external_alert_id="1"),
        event(world, external_alert_id="1"),
        event(world, external_alert_id="2", at=later(1)),
        event(world, "acknowledged"),
        event(world, "reset"),
        event(world, "reset"),
        event(world, external_alert_id="3", org="999", device="9"),
    ]
    seen = []
    wire.round_trips()
    for ev in events:
        result = process_event(ev, db.UnitOfWork(counting_pool))
        seen.append((result.outcome, wire.round_trips()))
    world.add_window("now", starts_at=datetime(2026, 1, 1, tzinfo=UTC), ends_at=datetime(2027, 1, 1, tzinfo=UTC))
    wire.round_trips()
    result = process_event(event(world, external_alert_id="4", device="8"), db.UnitOfWork(counting_pool))
    seen.append((result.outcome, wire.round_trips()))
    assert seen == PIPELINE_EXPECTED


@pytest.mark.parametrize("extra", [0, 60])
def test_webhook_round_trips(conn: Any, counting_pool: ConnectionPool[Any], wire: Wire, extra: int) -> None:
    """A whole webhook delivery: the integration lookup shares the pipeline's transaction."""
    world = make_tenant(conn)
    _configure(world, extra)
    set_webhook_secret(world, "s3cret")

    def deliver(name: str) -> tuple[str, int]:
        wire.round_trips()
        body = json.dumps(fixture(f"ninjaone/{name}.json")).encode()
        response = webhooks.receive(
            "ninjaone", str(world.integration_id), "s3cret", body, lambda: db.UnitOfWork(counting_pool)
        )
        return str(response.body["outcome"]), wire.round_trips()

    assert deliver("condition_triggered") == ("ticket_created", 3)
    assert deliver("condition_triggered") == ("skipped", 1)
    assert deliver("condition_reset") == ("resolved", 3)


def test_early_reset_round_trips(conn: Any, counting_pool: ConnectionPool[Any], wire: Wire) -> None:
    """A reset that finds nothing is remembered in its was-seen statement; the late trigger it covers
    is recorded resolved in the recorded_only batch (issue 10 item 4): no extra round trips."""
    world = make_tenant(conn)
    _configure(world, 0)
    wire.round_trips()
    reset = process_event(event(world, "reset", at=later(5)), db.UnitOfWork(counting_pool))
    assert (reset.outcome, wire.round_trips()) == ("skipped", 2)
    trigger = process_event(event(world), db.UnitOfWork(counting_pool))
    assert (trigger.outcome, trigger.reason, wire.round_trips()) == ("recorded_only", "already_reset", 3)


def test_poller_paths_round_trips(conn: Any, counting_pool: ConnectionPool[Any], wire: Wire) -> None:
    """The poller's additions keep pipeline.py's table true: a late NinjaOne webhook of a polled
    alert adopts it (one trip more than a plain skip), the poller's reset for an alert resolved
    meanwhile remembers nothing (one trip less), and a release costs what a trigger costs."""
    world = make_tenant(conn)
    _configure(world, 0)
    polled = process_event(
        event(world, external_alert_id="uid-1", raw={"source": "poll", "alert": {}}), db.UnitOfWork(counting_pool)
    )
    assert polled.outcome == "ticket_created"
    wire.round_trips()
    late = process_event(event(world, external_alert_id="activity-1"), db.UnitOfWork(counting_pool))
    assert (late.outcome, late.reason, late.alert_id, wire.round_trips()) == (
        "skipped",
        "already_ingested_by_poll",
        polled.alert_id,
        3,
    )
    process_event(event(world, "reset", at=later(1)), db.UnitOfWork(counting_pool))
    wire.round_trips()
    gone = process_event(
        event(world, "reset", external_alert_id=f"poll-reset:{polled.alert_id}", at=later(2)),
        db.UnitOfWork(counting_pool),
        synthesized=True,
    )
    assert (gone.outcome, gone.reason, wire.round_trips()) == ("skipped", "already_resolved", 2)

    world.add_window("brief", starts_at=later(-60), ends_at=later(60))
    held = event(world, external_alert_id="held", device="7")
    suppressed = process_event(held, db.UnitOfWork(counting_pool))
    assert suppressed.outcome == "suppressed" and suppressed.alert_id is not None
    wire.round_trips()
    released = release_suppressed(held, suppressed.alert_id, db.UnitOfWork(counting_pool), now=later(120))
    assert (released.outcome, released.alert_id, wire.round_trips()) == ("ticket_created", suppressed.alert_id, 3)
    again = release_suppressed(held, suppressed.alert_id, db.UnitOfWork(counting_pool), now=later(121))
    assert (again.outcome, again.reason, wire.round_trips()) == ("skipped", "no_longer_suppressed", 3)


def test_a_connection_idle_for_check_idle_s_costs_one_more_trip_the_check(
    conn: Any, counting_pool: ConnectionPool[Any], wire: Wire, monkeypatch: pytest.MonkeyPatch
) -> None:
    world = make_tenant(conn)
    _configure(world, 0)
    monkeypatch.setattr(db, "CHECK_IDLE_S", 0.0)  # every connection counts as idle
    wire.round_trips()
    result = process_event(event(world, external_alert_id="1"), db.UnitOfWork(counting_pool))
    assert (result.outcome, wire.round_trips()) == ("ticket_created", PIPELINE_EXPECTED[0][1] + 1)


def test_the_counter_sees_every_turn_even_what_libpq_still_buffers(database_url: str, wire: Wire) -> None:
    """psycopg's own BEGIN is a round trip of its own; the counter must see it (it flushes libpq's
    buffered trace stream before counting)."""
    import psycopg

    with psycopg.connect(database_url, prepare_threshold=None) as c:
        wire.attach(c)
        wire.round_trips()
        c.execute("SELECT 1").fetchone()
        assert wire.round_trips() == 2  # BEGIN, then the statement
        c.execute("SELECT 2").fetchone()
        assert wire.round_trips() == 1
        c.commit()
        assert wire.round_trips() == 1
        c.autocommit = True
        with c.pipeline():
            c.execute("BEGIN")
            c.execute("SELECT 3")
            c.execute("COMMIT")
        assert wire.round_trips() == 1
