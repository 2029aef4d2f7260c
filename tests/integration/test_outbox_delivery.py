"""Outbox delivery on PostgreSQL, with moto's EventBridge tapped by an SQS queue: exactly once
across dispatchers, commit order per alert, retries, parking, the poison entry, retention."""

from __future__ import annotations

import statistics
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from rmm_alerts import config, db, events, jsoncodec, outbox
from rmm_alerts.delivery import AwsEventPublisher, OutboundEvent, SendResult, SesEmailSender
from rmm_alerts.outbox import Dispatcher, backoff, deliver
from tests.support.delivery import BUS, SENDER, Tap, mocked_bus
from tests.support.events import event, run
from tests.support.world import Tenant


@pytest.fixture
def tap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tap]:
    with mocked_bus(monkeypatch) as t:
        yield t


def outbox_settings(database_url: str, **extra: Any) -> config.OutboxSettings:
    return config.load(
        config.OutboxSettings,
        {"DATABASE_URL": database_url, "EVENT_BUS_NAME": BUS, "NOTIFICATION_SENDER": SENDER, **extra},
    )


def make_dispatcher(
    uow_factory: Callable[[], db.UnitOfWork],
    database_url: str,
    *,
    publisher: Any = None,
    now: Callable[[], datetime] | None = None,
    **extra: Any,
) -> Dispatcher:
    d = Dispatcher(
        uow_factory=uow_factory,
        publisher=publisher or AwsEventPublisher(BUS),
        mailer=SesEmailSender(SENDER),
        settings=outbox_settings(database_url, **extra),
    )
    if now is not None:
        d.now = now
    return d


def add_event(uow_factory: Callable[[], db.UnitOfWork], tenant: uuid.UUID, event_type: str, **payload: Any) -> None:
    with uow_factory() as uow:
        uow.outbox.add(tenant, kind="event", event_type=event_type, payload={"tenantId": str(tenant), **payload})


def test_pipeline_events_reach_the_bus_once_with_event_id_and_client_id(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    world.add_rule(actions={"autoResolveTicket": True})
    trig = run(uow_factory, event(world))
    run(uow_factory, event(world, "reset"))
    rows = world.outbox()
    assert [r["event_type"] for r in rows] == [
        "RMM_ALERT_TRIGGERED",
        "TICKET_CREATED",
        "TICKET_CLOSED",
        "RMM_ALERT_RESOLVED",
    ]

    summary = deliver(make_dispatcher(uow_factory, database_url))
    assert (summary.sent, summary.retrying, summary.parked, summary.pending) == (4, 0, 0, 0)

    got = {e["detail"]["eventId"]: e for e in tap.events()}
    assert set(got) == {str(r["outbox_id"]) for r in rows}
    for row in rows:
        e = got[str(row["outbox_id"])]
        assert e["source"] == "rmm-alerts"
        assert e["detail-type"] == row["event_type"]
        assert e["detail"] == {**row["payload"], "eventId": str(row["outbox_id"])}
    by_type = {e["detail-type"]: e["detail"] for e in got.values()}
    for kind in ("RMM_ALERT_TRIGGERED", "RMM_ALERT_RESOLVED"):
        assert by_type[kind]["clientId"] == str(world.client_id)
        assert by_type[kind]["alertId"] == str(trig.alert_id)
        assert by_type[kind]["ticketId"] == str(trig.ticket_id)
    # The TICKET_CLOSED event: TICKET_CLOSED {tenantId, ticketId, closedByUserId?, closedAt}; the service
    # closed it, so no closedByUserId.
    closed = by_type["TICKET_CLOSED"]
    assert closed["tenantId"] == str(world.tenant) and closed["ticketId"] == str(trig.ticket_id)
    assert datetime.fromisoformat(closed["closedAt"]) and "closedByUserId" not in closed
    assert by_type["TICKET_CREATED"] == {
        "tenantId": str(world.tenant),
        "ticketId": str(trig.ticket_id),
        "source": "ninjaone",
        "eventId": by_type["TICKET_CREATED"]["eventId"],
    }

    after = world.outbox()
    assert all(r["dispatched_at"] is not None and r["outcome"] == "sent" and r["attempts"] == 1 for r in after)
    # Nothing is sent twice.
    assert deliver(make_dispatcher(uow_factory, database_url)).sent == 0
    assert tap.events() == []


def test_two_concurrent_dispatchers_send_each_event_exactly_once_in_order_per_alert(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    alerts = [uuid.uuid4() for _ in range(25)]
    for alert in alerts:
        add_event(uow_factory, world.tenant, events.RMM_ALERT_TRIGGERED, alertId=str(alert))
        add_event(uow_factory, world.tenant, events.RMM_ALERT_RESOLVED, alertId=str(alert))
    expected = {str(r["outbox_id"]) for r in world.outbox()}
    assert len(expected) == 50

    start = threading.Barrier(2)
    summaries: list[Any] = []
    errors: list[BaseException] = []

    def dispatcher() -> None:
        try:
            d = make_dispatcher(uow_factory, database_url, OUTBOX_BATCH_SIZE="4")
            start.wait()
            summaries.append(deliver(d))
        except BaseException as exc:
            errors.append(exc)

    threads = [threading.Thread(target=dispatcher) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    assert sum(s.sent for s in summaries) == 50

    sent = Counter(e["detail"]["eventId"] for e in tap.events())
    assert set(sent) == expected
    assert set(sent.values()) == {1}, [k for k, v in sent.items() if v > 1]
    # Commit order per alert: the trigger went out (and was recorded) before the resolve.
    rows = world.outbox()
    for alert in alerts:
        trig, res = [r for r in rows if r["payload"]["alertId"] == str(alert)]
        assert trig["event_type"] == "RMM_ALERT_TRIGGERED"
        assert trig["dispatched_at"] < res["dispatched_at"]


class Poisoned:
    """EventBridge (moto) except for events carrying ``poison``: those fail as EventBridge reports
    a per-entry failure."""

    def __init__(self, permanent: bool = False) -> None:
        self.inner = AwsEventPublisher(BUS)
        self.permanent = permanent
        self.calls: list[list[str]] = []

    def publish(self, batch: list[OutboundEvent]) -> list[SendResult]:
        self.calls.append([e.detail["eventId"] for e in batch])
        good = [e for e in batch if not e.detail.get("poison")]
        results = iter(self.inner.publish(good))
        failed = SendResult("InternalFailure: try again", permanent=self.permanent)
        return [failed if e.detail.get("poison") else next(results) for e in batch]


class Clock:
    def __init__(self) -> None:
        self.at = datetime.now(UTC)

    def __call__(self) -> datetime:
        return self.at


def test_failing_entry_backs_off_then_parks_and_never_blocks_the_rest(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap, caplog: pytest.LogCaptureFixture
) -> None:
    a, b = str(uuid.uuid4()), str(uuid.uuid4())
    add_event(uow_factory, world.tenant, events.RMM_ALERT_TRIGGERED, alertId=a, poison=True)
    add_event(uow_factory, world.tenant, events.RMM_ALERT_RESOLVED, alertId=a)
    add_event(uow_factory, world.tenant, events.RMM_ALERT_TRIGGERED, alertId=b)
    clock = Clock()
    publisher = Poisoned()
    d = make_dispatcher(uow_factory, database_url, publisher=publisher, now=clock, OUTBOX_MAX_ATTEMPTS="3")

    def row(event_type: str, alert: str) -> dict[str, Any]:
        (found,) = [r for r in world.outbox() if r["event_type"] == event_type and r["payload"]["alertId"] == alert]
        return found

    # Attempt 1: the other alert goes out; the poison waits 30 s, and its alert's next event behind it.
    s1 = deliver(d)
    assert (s1.sent, s1.retrying, s1.parked, s1.pending) == (1, 1, 0, 2)
    assert [e["detail"]["alertId"] for e in tap.events()] == [b]
    poison = row("RMM_ALERT_TRIGGERED", a)
    assert poison["attempts"] == 1 and "InternalFailure" in poison["last_error"]
    assert poison["available_at"] == clock.at + backoff(1) == clock.at + timedelta(seconds=30)
    assert row("RMM_ALERT_RESOLVED", a)["dispatched_at"] is None

    # Not due yet: nothing is tried.
    calls = len(publisher.calls)
    assert deliver(d).claimed == 0 and len(publisher.calls) == calls

    # Attempt 2 after the backoff: fails again, next wait doubles.
    clock.at += timedelta(seconds=31)
    assert deliver(d).retrying == 1
    poison = row("RMM_ALERT_TRIGGERED", a)
    assert poison["attempts"] == 2 and poison["available_at"] == clock.at + timedelta(seconds=60)

    # Attempt 3 is the last: parked; the alert's later event is no longer held back.
    clock.at += timedelta(seconds=61)
    s3 = deliver(d)
    assert (s3.parked, s3.sent, s3.parked_total, s3.pending) == (1, 1, 1, 0)
    poison = row("RMM_ALERT_TRIGGERED", a)
    assert poison["parked_at"] == clock.at and poison["dispatched_at"] is None and poison["attempts"] == 3
    assert [(e["detail-type"], e["detail"]["alertId"]) for e in tap.events()] == [("RMM_ALERT_RESOLVED", a)]
    assert any("parked" in r.getMessage() for r in caplog.records if r.levelname == "ERROR")

    # Parked is final.
    clock.at += timedelta(days=1)
    assert deliver(d).claimed == 0


def test_a_permanent_error_parks_at_once(world: Tenant, uow_factory: Any, database_url: str, tap: Tap) -> None:
    add_event(uow_factory, world.tenant, events.TICKET_CREATED, ticketId=str(uuid.uuid4()), poison=True)
    summary = deliver(make_dispatcher(uow_factory, database_url, publisher=Poisoned(permanent=True)))
    assert (summary.parked, summary.parked_total) == (1, 1)
    (r,) = world.outbox()
    assert r["attempts"] == 1 and r["parked_at"] is not None


def test_a_call_refused_as_a_whole_is_retried_entry_by_entry(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    """EventBridge refuses a PutEvents call over 256 KB as a whole: only the oversized entry fails."""
    add_event(uow_factory, world.tenant, events.RMM_ALERT_TRIGGERED, alertId="big", message="x" * 300_000)
    for n in range(3):
        add_event(uow_factory, world.tenant, events.RMM_ALERT_TRIGGERED, alertId=f"small-{n}")
    summary = deliver(make_dispatcher(uow_factory, database_url))
    assert summary.sent == 3 and summary.parked + summary.retrying == 1
    assert sorted(e["detail"]["alertId"] for e in tap.events()) == ["small-0", "small-1", "small-2"]


def test_delivered_rows_are_purged_after_the_retention(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    now = datetime.now(UTC)
    for n, (dispatched, parked) in enumerate(
        [
            (now - timedelta(days=8), None),  # purged
            (now - timedelta(days=6), None),  # kept
            (None, now - timedelta(days=31)),  # parked long ago: purged
            (None, now - timedelta(days=2)),  # parked recently: kept
            (None, None),  # pending: kept (and delivered now)
        ]
    ):
        world.q(
            """INSERT INTO rmm_outbox (tenant, kind, event_type, payload, dispatched_at, parked_at)
               VALUES (%s, 'event', 'TICKET_CREATED', %s, %s, %s)""",
            world.tenant,
            jsoncodec.dumps_text({"tenantId": str(world.tenant), "ticketId": str(uuid.uuid4()), "n": n}),
            dispatched,
            parked,
        )
    summary = deliver(make_dispatcher(uow_factory, database_url))
    assert summary.purged == 2 and summary.sent == 1 and summary.parked_total == 1
    assert sorted(r["payload"]["n"] for r in world.outbox()) == [1, 3, 4]


def test_commit_to_bus_lag(world: Tenant, uow_factory: Any, database_url: str, tap: Tap) -> None:
    """Measures (no assertion on time) what one kick costs: from a pipeline commit to PutEvents
    accepted by the bus, when the dispatcher runs right after the commit. Reported in the README."""
    world.add_rule()
    d = make_dispatcher(uow_factory, database_url)
    lags: list[float] = []
    for n in range(20):
        run(uow_factory, event(world, device=str(500 + n)))
        committed = time.perf_counter()
        deliver(d)
        lags.append((time.perf_counter() - committed) * 1000)
    assert len(tap.events()) == 40  # trigger + ticket created, each delivered
    lags.sort()
    print(
        f"\ncommit -> bus lag over {len(lags)} commits: median {statistics.median(lags):.1f} ms, max {lags[-1]:.1f} ms"
    )


class FakeTime:
    """deliver's clock and sleep: sleeping moves the clock; ``on_sleep`` runs at each sleep, as a
    webhook committing while the run lingers."""

    def __init__(self, on_sleep: Callable[[int], None] = lambda n: None) -> None:
        self.now = 0.0
        self.sleeps = 0
        self.on_sleep = on_sleep

    def clock(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.sleeps += 1
        self.now += seconds
        self.on_sleep(self.sleeps)


def test_a_run_that_delivered_lingers_for_what_commits_while_its_kick_is_held_back(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    world.add_rule()
    run(uow_factory, event(world, device="601"))

    def commit(n: int) -> None:
        if n == 2:  # half a second into the linger: a commit whose kick the throttle held back
            run(uow_factory, event(world, device="602"))

    t = FakeTime(commit)
    summary = deliver(make_dispatcher(uow_factory, database_url), linger_s=2.0, sleep=t.sleep, clock=t.clock)
    assert summary.sent == 4 and summary.batches == 2  # both triggers' events, in the same run
    assert len(tap.events()) == 4
    # It polled every LINGER_POLL_S until nothing had been due for linger_s, then returned.
    assert t.now == pytest.approx(0.5 + 2.0, abs=outbox.LINGER_POLL_S)


def test_a_run_that_found_nothing_stays_one_kick_interval_for_held_back_commits(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    # Its kick's entries were taken by another run; a commit 0.75 s after that kick was held back by
    # it. This run, started by that kick, still delivers it.
    world.add_rule()

    def commit(n: int) -> None:
        if n == 3:
            run(uow_factory, event(world, device="603"))

    t = FakeTime(commit)
    summary = deliver(make_dispatcher(uow_factory, database_url), linger_s=2.0, sleep=t.sleep, clock=t.clock)
    assert summary.sent == 2 and len(tap.events()) == 2


def test_a_run_that_finds_nothing_returns_after_one_kick_interval(
    world: Tenant, uow_factory: Any, database_url: str
) -> None:
    t = FakeTime()
    summary = deliver(make_dispatcher(uow_factory, database_url), linger_s=2.0, sleep=t.sleep, clock=t.clock)
    assert summary.claimed == 0
    assert t.now == pytest.approx(outbox.MIN_LINGER_S, abs=outbox.LINGER_POLL_S)
    # Without lingering (rmm-alerts dev, tests) it returns at once.
    t = FakeTime()
    deliver(make_dispatcher(uow_factory, database_url), sleep=t.sleep, clock=t.clock)
    assert t.sleeps == 0


def test_the_shortest_linger_covers_a_kick_interval_and_one_poll() -> None:
    assert outbox.MIN_LINGER_S == outbox.KICK_INTERVAL_S + outbox.LINGER_POLL_S
    with pytest.raises(ValueError, match="OUTBOX_LINGER_SECONDS"):
        config.load(config.OutboxSettings, {"DATABASE_URL": "postgresql://x/y", "OUTBOX_LINGER_SECONDS": "0.5"})
    for ok in ("0", "1.25", "2"):
        settings = config.load(config.OutboxSettings, {"DATABASE_URL": "postgresql://x/y", "OUTBOX_LINGER_SECONDS": ok})
        assert settings.linger_seconds == float(ok)
