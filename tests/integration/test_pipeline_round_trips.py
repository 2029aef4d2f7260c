"""The webhook path's round trips are few and fixed: they do not grow with rules or windows."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import psycopg
import pytest
from psycopg_pool import ConnectionPool

from rmm_alerts.db import UnitOfWork
from rmm_alerts.pipeline import process_event
from tests.support.events import event, later
from tests.support.world import Tenant, make_tenant


class CountingConnection(psycopg.Connection[Any]):
    """Counts statements sent outside a pipeline, and each pipeline as one round trip."""

    round_trips = 0
    _in_pipeline = False

    def execute(self, *args: Any, **kwargs: Any) -> Any:
        if not self._in_pipeline:
            CountingConnection.round_trips += 1
        return super().execute(*args, **kwargs)

    @contextmanager
    def pipeline(self) -> Iterator[Any]:
        CountingConnection.round_trips += 1
        self._in_pipeline = True
        try:
            with super().pipeline() as p:
                yield p
        finally:
            self._in_pipeline = False


@pytest.fixture
def counting_pool(database_url: str) -> Iterator[ConnectionPool[Any]]:
    pool: ConnectionPool[Any] = ConnectionPool(
        database_url, min_size=1, max_size=1, connection_class=CountingConnection, open=True
    )
    yield pool
    pool.close()


def trips(pool: ConnectionPool[Any], ev: Any) -> tuple[str, int]:
    CountingConnection.round_trips = 0
    result = process_event(ev, UnitOfWork(pool))
    return result.outcome, CountingConnection.round_trips


def _configure(world: Tenant, extra: int) -> None:
    world.map_org("2")
    for i in range(extra):
        world.add_rule(f"never {i}", conditions={"keywords": [f"zzz{i}"], "messagePattern": f"^nope{i}$"})
        world.add_window(
            f"past {i}",
            starts_at=datetime(2020, 1, 1, tzinfo=UTC),
            ends_at=datetime(2020, 1, 2, tzinfo=UTC),
        )
    world.add_rule("catch-all", actions={"autoResolveTicket": True})


@pytest.mark.parametrize("extra", [0, 60])
def test_round_trips_per_outcome(conn: Any, counting_pool: ConnectionPool[Any], extra: int) -> None:
    world = make_tenant(conn)
    _configure(world, extra)
    assert trips(counting_pool, event(world, external_alert_id="1")) == ("ticket_created", 4)
    assert trips(counting_pool, event(world, external_alert_id="1")) == ("skipped", 2)
    assert trips(counting_pool, event(world, external_alert_id="2", at=later(1))) == ("occurrence_appended", 3)
    assert trips(counting_pool, event(world, "acknowledged")) == ("acknowledged", 3)
    assert trips(counting_pool, event(world, "reset")) == ("resolved", 3)
    assert trips(counting_pool, event(world, "reset")) == ("skipped", 3)
    assert trips(counting_pool, event(world, external_alert_id="3", org="999", device="9")) == ("recorded_only", 3)
    world.add_window("now", starts_at=datetime(2026, 1, 1, tzinfo=UTC), ends_at=datetime(2027, 1, 1, tzinfo=UTC))
    assert trips(counting_pool, event(world, external_alert_id="4", device="8")) == ("suppressed", 3)
