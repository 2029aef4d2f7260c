"""Outbox delivery: every pending side effect (workflow events, in-app notifications, e-mails)
that a committed transaction wrote to ``rmm_outbox`` goes out at least once.

:func:`deliver` drains due entries in batches. Each batch is one transaction: claim (``FOR UPDATE
SKIP LOCKED``, so two dispatchers never hold one entry), send, record the results, commit. A batch
holds at most one entry per ordering key (an alert, or a ticket), so one alert's events go out in
commit order; an entry of a key waits until the earlier one is delivered or parked.

* Events: EventBridge ``PutEvents`` (10 per call, per-entry results), source ``rmm-alerts``,
  ``detail-type`` the event type, ``detail`` the payload plus ``eventId`` (the outbox id, stable
  across redeliveries: consumers deduplicate on it), ``time`` the commit time.
* Notifications: one entry per (user, channel); see :mod:`rmm_alerts.notify`. In-app rows are
  written in the batch's own transaction; an inactive or missing user, a channel turned off in the
  user's preferences, or (e-mail) no sender configured is skipped, logged, and counts as done.
* Failures: attempt counted, error kept, retried after an exponential backoff; after
  ``OUTBOX_MAX_ATTEMPTS`` (or at once for a permanent error such as an invalid entry) the entry is
  parked: never retried, counted in the ``OutboxParkedEntries`` metric (alarmed). Parked and
  failing entries never hold back other keys.
* Retention: delivered rows are purged after ``OUTBOX_RETENTION_DAYS``, parked ones after
  ``OUTBOX_PARKED_RETENTION_DAYS``.

Committing functions call :func:`kick` after their commit when they wrote outbox rows.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any
from uuid import UUID

from pydantic import ValidationError
from pydantic.alias_generators import to_camel

from rmm_alerts import config, db, notify
from rmm_alerts.db.outbox import Failure, OutboxEntry
from rmm_alerts.delivery import (
    AwsEventPublisher,
    DispatcherKick,
    EmailSender,
    EventPublisher,
    LambdaDispatcherKick,
    LocalEventPublisher,
    LocalMailbox,
    NoKick,
    OutboundEvent,
    SendResult,
    SesEmailSender,
)
from rmm_alerts.events import EVENT_SOURCE

logger = logging.getLogger(__name__)

BACKOFF_BASE = timedelta(seconds=30)
BACKOFF_MAX = timedelta(hours=1)
PURGE_CHUNK = 5000


def backoff(attempts: int) -> timedelta:
    """Delay before the next try after ``attempts`` failed ones: 30 s, 1 min, 2 min, ... 1 h."""
    delay: timedelta = BACKOFF_BASE * (2 ** min(max(attempts - 1, 0), 16))
    return min(delay, BACKOFF_MAX)


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Dispatcher:
    """What delivery needs: a unit of work, the two ports, settings and a clock."""

    uow_factory: Callable[[], db.UnitOfWork]
    publisher: EventPublisher
    mailer: EmailSender | None
    settings: config.OutboxSettings
    now: Callable[[], datetime] = field(default=_utcnow)


@dataclass
class Summary:
    batches: int = 0
    claimed: int = 0
    sent: int = 0
    skipped: int = 0
    retrying: int = 0
    parked: int = 0
    purged: int = 0
    pending: int = 0
    oldest_pending_age_seconds: float = 0.0
    parked_total: int = 0

    def as_dict(self) -> dict[str, Any]:
        """camelCase, like every JSON the service returns."""
        return {to_camel(k): v for k, v in asdict(self).items()}


@dataclass(frozen=True)
class _Done:
    outcome: str


_Result = _Done | SendResult


# After-commit kicks are throttled to one per KICK_INTERVAL_S per process (a webhook instance), so
# every run keeps looking for at least MIN_LINGER_S after it starts: a commit whose kick was held
# back by the kick that started this run is then delivered by it (kick, deliver).
KICK_INTERVAL_S = config.OUTBOX_KICK_INTERVAL_S
LINGER_POLL_S = config.OUTBOX_LINGER_POLL_S
MIN_LINGER_S = config.OUTBOX_MIN_LINGER_S


def deliver(
    dispatcher: Dispatcher,
    *,
    max_batches: int = 200,
    should_stop: Callable[[], bool] = lambda: False,
    linger_s: float = 0.0,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> Summary:
    """Drain due entries (until none is due, ``max_batches``, or ``should_stop()``), purge old
    rows, and report the backlog. With ``linger_s`` (the outbox function: ``OUTBOX_LINGER_SECONDS``,
    0 or at least ``MIN_LINGER_S``) the run polls every ``LINGER_POLL_S`` when nothing is due: until
    ``MIN_LINGER_S`` after its start while it has claimed nothing (a kick's run covers the commits
    whose kicks that kick held back, even when another run took its entries), then until nothing
    has been due for ``linger_s`` since its last claim."""
    summary = Summary()
    started = clock()
    idle_since: float | None = None
    while summary.batches < max_batches and not should_stop():
        if _batch(dispatcher, summary):
            idle_since = None
            continue
        if linger_s <= 0:
            break
        tick = clock()
        if summary.claimed == 0:
            if tick - started >= min(linger_s, MIN_LINGER_S):
                break
        else:
            if idle_since is None:
                idle_since = tick
            if tick - idle_since >= linger_s:
                break
        sleep(LINGER_POLL_S)
    now = dispatcher.now()
    s = dispatcher.settings
    with dispatcher.uow_factory() as uow:
        summary.purged = uow.outbox.purge(
            delivered_before=now - timedelta(days=s.retention_days),
            parked_before=now - timedelta(days=s.parked_retention_days),
            limit=PURGE_CHUNK,
        )
        backlog = uow.outbox.backlog(now)
    summary.pending = backlog.pending
    summary.parked_total = backlog.parked
    if backlog.oldest_pending_at is not None:
        summary.oldest_pending_age_seconds = max((now - backlog.oldest_pending_at).total_seconds(), 0.0)
    return summary


def _batch(dispatcher: Dispatcher, summary: Summary) -> bool:
    s = dispatcher.settings
    with dispatcher.uow_factory() as uow:
        entries = uow.outbox.claim(limit=s.batch_size, now=dispatcher.now())
        if not entries:
            return False
        summary.batches += 1
        summary.claimed += len(entries)
        results: dict[UUID, _Result] = {}
        events = [e for e in entries if e.kind == "event"]
        if events:
            try:
                sent = dispatcher.publisher.publish([_outbound(e) for e in events])
            except Exception as exc:  # adapters report failures per entry; this is a bug or an outage
                logger.exception("publishing events failed")
                sent = [_unexpected(exc)] * len(events)
            results.update({e.outbox_id: r for e, r in zip(events, sent, strict=True)})
        for entry in entries:
            if entry.kind == "notification":
                # A savepoint each: one entry's unexpected error is that entry's failure (retried,
                # then parked), never the batch's, so it cannot block the others.
                try:
                    with uow.conn.transaction():
                        results[entry.outbox_id] = _notification(dispatcher, uow, entry)
                except Exception as exc:
                    logger.exception("notification delivery failed", extra={"outbox_id": str(entry.outbox_id)})
                    results[entry.outbox_id] = _unexpected(exc)
            elif entry.kind != "event":
                results[entry.outbox_id] = SendResult(f"unknown outbox kind {entry.kind!r}", permanent=True)

        now = dispatcher.now()
        done: list[tuple[UUID, UUID, str]] = []
        failures: list[Failure] = []
        for entry in entries:
            result = results[entry.outbox_id]
            if isinstance(result, _Done):
                done.append((entry.tenant, entry.outbox_id, result.outcome))
                summary.skipped += result.outcome != "sent"
                summary.sent += result.outcome == "sent"
                continue
            if result.error is None:
                done.append((entry.tenant, entry.outbox_id, "sent"))
                summary.sent += 1
                continue
            attempts = entry.attempts + 1
            park = result.permanent or attempts >= s.max_attempts
            retry_at = None if park else now + backoff(attempts)
            failures.append(Failure(entry.tenant, entry.outbox_id, result.error, retry_at))
            log = logger.error if park else logger.warning
            log(
                "outbox entry %s",
                "parked" if park else "failed; will retry",
                extra={
                    "tenant_id": str(entry.tenant),
                    "outbox_id": str(entry.outbox_id),
                    "event_type": entry.event_type,
                    "attempts": attempts,
                    "error": result.error,
                },
            )
            if park:
                summary.parked += 1
            else:
                summary.retrying += 1
        with uow.batch():
            uow.outbox.mark_done(done, now)
            uow.outbox.mark_failed(failures, now)
    return True


def _unexpected(exc: Exception) -> SendResult:
    return SendResult(f"{type(exc).__name__}: {exc}"[:500])


def _outbound(entry: OutboxEntry) -> OutboundEvent:
    detail = {**entry.payload, "eventId": str(entry.outbox_id)}
    return OutboundEvent(detail_type=entry.event_type, detail=detail, time=entry.created_at, source=EVENT_SOURCE)


_no_sender_logged = threading.Event()


def _skip(entry: OutboxEntry, reason: str) -> _Done:
    logger.info(
        "notification skipped: %s",
        reason,
        extra={
            "tenant_id": str(entry.tenant),
            "outbox_id": str(entry.outbox_id),
            "user_id": entry.payload.get("userId"),
        },
    )
    return _Done(f"skipped: {reason}")


def _notification(dispatcher: Dispatcher, uow: db.UnitOfWork, entry: OutboxEntry) -> _Result:
    try:
        request = notify.NotificationRequest.model_validate(entry.payload)
    except ValidationError as exc:
        return SendResult(f"unreadable notification payload: {exc.error_count()} errors", permanent=True)
    if request.tenant_id != entry.tenant:
        return SendResult("notification payload names another tenant", permanent=True)
    if request.channel == notify.EMAIL and dispatcher.mailer is None:
        if not _no_sender_logged.is_set():
            _no_sender_logged.set()
            logger.warning("NOTIFICATION_SENDER is not set: notification e-mails are skipped")
        return _Done("skipped: no sender configured")
    who = uow.outbox.recipient(entry.tenant, request.user_id, request.ticket_id)
    if not who["found"]:
        return _skip(entry, "user not found")
    if who["is_inactive"]:
        return _skip(entry, "user inactive")
    if request.channel == notify.IN_APP:
        if not who["in_app"]:
            return _skip(entry, "in-app turned off by the user")
        item = notify.in_app(request)
        uow.outbox.add_internal_notification(
            entry.tenant,
            request.user_id,
            title=item.title,
            message=item.message,
            type_=item.type,
            category=item.category,
            link=item.link,
        )
        return _Done("sent")
    if not who["email_on"]:
        return _skip(entry, "e-mail turned off by the user")
    if not who["email"]:
        return _skip(entry, "user has no e-mail address")
    assert dispatcher.mailer is not None
    message = notify.email(
        request,
        to=str(who["email"]),
        ticket_number=who["ticket_number"],
        psa_base_url=dispatcher.settings.psa_base_url,
    )
    return dispatcher.mailer.send(message)


# ---------------------------------------------------------------------------------------------
# Wiring from settings


def publisher_for(settings: config.OutboxSettings, echo: Callable[[str], None] | None = None) -> EventPublisher:
    if settings.event_bus_name:
        return AwsEventPublisher(settings.event_bus_name)
    return LocalEventPublisher(echo=echo)


def mailer_for(settings: config.OutboxSettings, echo: Callable[[str], None] | None = None) -> EmailSender | None:
    if not settings.notification_sender:
        return None
    if settings.local_mail_dir:
        return LocalMailbox(Path(settings.local_mail_dir), settings.notification_sender, echo=echo)
    return SesEmailSender(settings.notification_sender)


_lock = threading.Lock()
_current: tuple[config.OutboxSettings, Dispatcher] | None = None


def current(echo: Callable[[str], None] | None = None) -> Dispatcher:
    """The process's dispatcher (clients reused across warm invocations), rebuilt when the cached
    settings change (tests)."""
    global _current
    settings = config.cached(config.OutboxSettings)
    with _lock:
        if _current is None or _current[0] is not settings:
            dispatcher = Dispatcher(
                uow_factory=lambda: db.UnitOfWork(db.get_pool(settings)),
                publisher=publisher_for(settings, echo),
                mailer=mailer_for(settings, echo),
                settings=settings,
            )
            _current = (settings, dispatcher)
        return _current[1]


_kicks: dict[str, DispatcherKick] = {}


def kicker(settings: config.CommitterSettings) -> DispatcherKick:
    name = settings.outbox_function_name
    if not name:
        return NoKick()
    with _lock:
        if name not in _kicks:
            _kicks[name] = LambdaDispatcherKick(name)
        return _kicks[name]


def wrote(uow: db.UnitOfWork) -> bool:
    """Whether ``uow`` (entered at least once) wrote outbox rows."""
    repo = getattr(uow, "outbox", None)
    return bool(repo is not None and repo.written)


_last_kick: dict[str, float] = {}
# Wall-clock time, not time.monotonic(): a monotonic clock may stand still while a Lambda
# environment is frozen between invocations, and would then hold back every later kick.
_clock: Callable[[], float] = time.time  # tests move it


def kick(settings: config.CommitterSettings) -> None:
    """Call after a commit that wrote outbox rows: the dispatcher runs now (async Lambda invoke;
    a failure is only logged), not at the next scheduled minute. At most one kick per
    ``KICK_INTERVAL_S`` per process: the invoke is an API call on the caller's clock (tens of
    milliseconds in AWS, more than the rest of a webhook), and the run a kick starts lingers
    (``deliver``) for the commits whose kicks it held back. A kick that failed holds nothing back."""
    name = settings.outbox_function_name or ""
    with _lock:
        now = _clock()
        last = _last_kick.get(name)
        if last is not None and 0 <= now - last < KICK_INTERVAL_S:
            return
        _last_kick[name] = now
    if not kicker(settings).kick():
        with _lock:
            if _last_kick.get(name) == now:
                del _last_kick[name]
