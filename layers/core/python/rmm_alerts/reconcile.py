"""One reconciliation cycle of one integration (docs/polling.md).

1. **Lock.** A transaction-scoped advisory lock on the integration, taken with
   ``pg_try_advisory_xact_lock`` on a connection of its own that stays open for the cycle: a
   second concurrent cycle returns at once (``skipped``, ``cycle_in_progress``).
2. **Fetch** every active alert from the RMM (all pages). Any failure — a 5xx, a timeout, a bad
   page, bad credentials — ends the cycle having changed nothing but ``last_poll_error``: a failed
   or partial fetch is never "no active alerts".
3. **Diff**, set-based: one query returns the integration's open alerts (with their windows) and
   which remote alerts are already known; everything else is computed in memory. Remote and local
   alerts meet on the **dedup key** (device + condition identity), the same one webhooks produce
   (NinjaOne ``sourceConfigUid``; Tactical ``check:<id>``/``task:<id>``/``availability``).
4. **Apply**, each through the webhook pipeline in its own transaction:
   * a remote alert matching a local active/acknowledged/suppressed alert *is* that alert: its RMM
     uid is recorded on it (one bulk UPDATE), nothing else;
   * a remote alert with no local counterpart is ingested as a ``triggered`` event (NinjaOne:
     organization and name resolved with ``GET /api/v2/device/{id}`` once per device per cycle);
   * a local open alert with no remote counterpart, created before the fetch began, gets a
     synthesized ``reset`` (untouched tickets close as on a webhook RESET);
   * a suppressed alert still active remotely whose window no longer covers now (ended,
     deactivated, deleted) is re-decided at now (:func:`pipeline.release_suppressed`).
5. **Stamp** ``last_polled_at`` and clear ``last_poll_error`` (or store the error), commit, unlock.

A cycle that finds nothing new runs a fixed number of statements whatever the alert count:
lock + integration, diff, uid update, stamp (``scripts/bench`` measures it).
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable, Iterable
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from pydantic import ValidationError

from rmm_alerts import dedup, normalizers, pipeline, windows
from rmm_alerts.contracts import EventKind, MaintenanceWindow, NormalizedAlertEvent
from rmm_alerts.db import UnitOfWork
from rmm_alerts.providers import (
    NinjaOneClient,
    ProviderError,
    ProviderNotFound,
    RemoteAlert,
    client_for_integration,
)

logger = logging.getLogger(__name__)

# Fetching may take a while (retries, pages); the lock's transaction must not be cut as idle meanwhile.
LOCK_IDLE_TIMEOUT = "300s"
MAX_ERROR_LENGTH = 1000
# Events applied per transaction. Each holds its dedup group's lock (and the tenant's ticket-number
# row) until the chunk commits, so chunks stay small enough for concurrent webhooks to wait briefly.
CHUNK = 50


class AlertSource(Protocol):
    """What a cycle needs of a client (an :class:`~rmm_alerts.providers.RmmClient` is one)."""

    def list_active_alerts(self) -> list[RemoteAlert]: ...

    def close(self) -> None: ...


ClientFactory = Callable[[dict[str, Any]], AlertSource]


@dataclass
class CycleSummary:
    tenant_id: str
    integration_id: str
    provider: str | None = None
    status: str = "ok"  # ok | failed | skipped
    reason: str | None = None
    fetched: int = 0
    triggered: int = 0
    matched: int = 0
    resolved: int = 0
    released: int = 0
    unreadable: int = 0
    snoozed: int = 0
    failed_events: int = 0
    duration_ms: float = 0.0
    error: str | None = None
    outcomes: dict[str, int] = field(default_factory=dict)

    def as_dict(self) -> dict[str, Any]:
        out = asdict(self)
        return {
            "tenantId": out.pop("tenant_id"),
            "integrationId": out.pop("integration_id"),
            "failedEvents": out.pop("failed_events"),
            "durationMs": round(out.pop("duration_ms"), 1),
            **out,
        }


def lock_key(tenant: UUID, integration_id: UUID) -> int:
    digest = hashlib.blake2b(f"poll:{tenant}:{integration_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)


# -- remote alerts -> events ------------------------------------------------------------------------


def _ninjaone_body(remote: RemoteAlert, device: dict[str, Any] | None) -> dict[str, Any]:
    raw = remote.raw
    expanded = raw.get("device") if isinstance(raw.get("device"), dict) else None
    if device is not None:
        org_id = device.get("organizationId")
        expanded = {**device, "references": {"organization": {"id": org_id, "name": None}}}
    return {
        "id": remote.alert_id,
        "activityType": "CONDITION",
        "statusCode": "TRIGGERED",
        "activityTime": raw.get("createTime"),
        "deviceId": raw.get("deviceId"),
        "device": expanded,
        "sourceConfigUid": raw.get("sourceConfigUid"),
        "sourceName": raw.get("sourceName"),
        "sourceType": raw.get("sourceType"),
        "severity": raw.get("severity"),
        "priority": raw.get("priority"),
        "message": raw.get("message"),
        "subject": raw.get("subject"),
        "data": raw.get("data"),
    }


def _tactical_body(remote: RemoteAlert) -> dict[str, Any]:
    raw = remote.raw
    return {
        "event": "trigger",
        "alertId": raw.get("id"),
        "alertType": raw.get("alert_type"),
        "checkId": raw.get("assigned_check"),
        "taskId": raw.get("assigned_task"),
        "agentId": raw.get("agent_id"),
        "hostname": raw.get("hostname"),
        "clientId": remote.organization_id,
        "clientName": raw.get("client"),
        "siteName": raw.get("site"),
        "severity": raw.get("severity"),
        "message": raw.get("message"),
        "alertTime": raw.get("alert_time"),
    }


def to_event(
    remote: RemoteAlert,
    *,
    tenant: UUID,
    integration_id: UUID,
    now: datetime,
    device: dict[str, Any] | None = None,
) -> NormalizedAlertEvent:
    """A remote alert as the ``triggered`` event a webhook for it would have produced (same
    normalizer, so the same condition identity and dedup key). Raises MalformedPayload/NotAnAlert."""
    body = _ninjaone_body(remote, device) if remote.provider == "ninjaone" else _tactical_body(remote)
    event = normalizers.normalize(
        remote.provider, body, tenant_id=tenant, integration_id=integration_id, received_at=now
    )
    return event.model_copy(update={"raw": {"source": "poll", "alert": remote.raw}})


# -- SQL ----------------------------------------------------------------------------------------------

_START = """
SELECT set_config('idle_in_transaction_session_timeout', %(idle)s, true) AS idle,
       pg_try_advisory_xact_lock(%(k)s) AS locked,
       clock_timestamp() AS started,
       (SELECT row_to_json(i) FROM (
            SELECT integration_id, provider, instance_url, credentials_ref, is_active
              FROM rmm_integrations WHERE tenant = %(t)s AND integration_id = %(i)s) i) AS integration
"""

# The whole diff in one statement: open alerts (with their window), and which remote ids are known.
_DIFF = """
SELECT
  (SELECT coalesce(json_agg(a), '[]'::json) FROM (
      SELECT al.alert_id, al.status, al.dedup_key, al.pairing_key, al.rmm_alert_uid, al.external_alert_id,
             al.external_device_id, al.condition_id, al.created_at, al.suppressed_by_window_id,
             CASE WHEN al.status = 'suppressed' THEN row_to_json(w) END AS window,
             CASE WHEN al.status = 'suppressed' THEN json_build_object(
                 'provider', al.provider, 'activity_type', al.activity_type, 'alert_class', al.alert_class,
                 'source_type', al.source_type, 'severity', al.severity, 'message', al.message,
                 'device_name', al.device_name, 'external_organization_id', al.external_organization_id,
                 'external_organization_name', al.external_organization_name, 'triggered_at', al.triggered_at,
                 'raw', coalesce(al.metadata -> 'raw', '{}'::jsonb)) END AS stored
        FROM rmm_alerts al
        LEFT JOIN rmm_maintenance_windows w
               ON w.tenant = al.tenant AND w.window_id = al.suppressed_by_window_id
       WHERE al.tenant = %(t)s AND al.integration_id = %(i)s
         AND al.status IN ('active', 'acknowledged', 'suppressed')) a) AS open_alerts,
  (SELECT coalesce(json_agg(DISTINCT k), '[]'::json) FROM (
      SELECT external_alert_id AS k FROM rmm_alerts
       WHERE tenant = %(t)s AND integration_id = %(i)s AND external_alert_id = ANY(%(ids)s)
      UNION ALL
      SELECT rmm_alert_uid FROM rmm_alerts
       WHERE tenant = %(t)s AND integration_id = %(i)s AND rmm_alert_uid = ANY(%(ids)s)) known) AS known_ids
"""

_RECORD_UIDS = """
UPDATE rmm_alerts al SET rmm_alert_uid = m.uid, updated_at = now()
  FROM unnest(%(ids)s::uuid[], %(uids)s::text[]) AS m(alert_id, uid)
 WHERE al.tenant = %(t)s AND al.alert_id = m.alert_id AND al.rmm_alert_uid IS DISTINCT FROM m.uid
"""

# When each condition was last resolved, other than by this poller's own synthesized resets: a
# remote alert that fired before then is the RMM still listing an alert already resolved here (a
# RESET webhook ahead of the REST API, a reset call the RMM has not applied yet), not a new alert.
# The poller's own reset is left out because the API can lag the other way too: an alert it did not
# list yet was reset, and when the API lists it later, under a REST uid never seen here, it must be
# ingested again, not ignored for ever.
_LAST_RESOLVED = """
SELECT dedup_key, max(resolved_at) AS resolved_at FROM rmm_alerts
 WHERE tenant = %(t)s AND integration_id = %(i)s AND dedup_key = ANY(%(keys)s) AND resolved_at IS NOT NULL
   AND (metadata #>> '{reset,raw,source}') IS DISTINCT FROM 'poll'
 GROUP BY dedup_key
"""

_STAMP_OK = """
UPDATE rmm_integrations SET last_polled_at = now(), last_poll_error = NULL, last_poll_error_at = NULL
 WHERE tenant = %(t)s AND integration_id = %(i)s
"""

_STAMP_ERROR = """
UPDATE rmm_integrations SET last_poll_error = %(e)s, last_poll_error_at = now()
 WHERE tenant = %(t)s AND integration_id = %(i)s
"""


# -- the cycle ----------------------------------------------------------------------------------------


def _window_still_covers(row: dict[str, Any], now: datetime) -> bool:
    raw = row.get("window")
    if not raw or row.get("suppressed_by_window_id") is None:
        return False  # deleted (the FK set it NULL): the window has ended
    try:
        window = MaintenanceWindow.model_validate({k: v for k, v in raw.items() if k in MaintenanceWindow.model_fields})
    except ValidationError:
        return False
    return window.is_active and windows.covers(window, now)


def poll(
    tenant: UUID,
    integration_id: UUID,
    *,
    pool: Any,
    client_factory: ClientFactory | None = None,
    now: Callable[[], datetime] | None = None,
) -> CycleSummary:
    """Run one cycle; never raises for RMM or processing failures (they are in the summary and in
    ``last_poll_error``), only for database failures."""
    clock = now or (lambda: datetime.now(UTC))
    started_perf = time.perf_counter()
    summary = CycleSummary(str(tenant), str(integration_id))
    factory = client_factory or (lambda row: client_for_integration(row))
    try:
        with pool.connection() as lock_conn:
            _cycle(lock_conn, pool, tenant, integration_id, summary, factory, clock)
    finally:
        summary.duration_ms = (time.perf_counter() - started_perf) * 1000
    return summary


def _cycle(
    conn: Any,
    pool: Any,
    tenant: UUID,
    integration_id: UUID,
    summary: CycleSummary,
    factory: ClientFactory,
    clock: Callable[[], datetime],
) -> None:
    from psycopg.rows import dict_row

    conn.row_factory = dict_row
    params = {"t": tenant, "i": integration_id}
    start = conn.execute(
        _START, {**params, "k": lock_key(tenant, integration_id), "idle": LOCK_IDLE_TIMEOUT}
    ).fetchone()
    integration = start["integration"]
    if integration is None or not integration["is_active"]:
        summary.status, summary.reason = "skipped", "integration_not_found" if integration is None else "disconnected"
        logger.info("poll skipped", extra={"reason": summary.reason, "integration_id": str(integration_id)})
        return
    summary.provider = integration["provider"]
    if not start["locked"]:
        summary.status, summary.reason = "skipped", "cycle_in_progress"
        return
    fetch_started: datetime = start["started"]

    def fail(message: str) -> None:
        summary.status, summary.error = "failed", message[:MAX_ERROR_LENGTH]
        conn.execute(_STAMP_ERROR, {**params, "e": summary.error})

    # 2. Fetch: all or nothing.
    now = clock()
    try:
        client = factory(integration)
    except ProviderError as exc:
        fail(str(exc))
        return
    try:
        remote = client.list_active_alerts()
        summary.fetched = len(remote)
        events: dict[str, tuple[RemoteAlert, NormalizedAlertEvent]] = {}
        # Still active in the RMM, whether or not we could read them: never reset their local alerts.
        remote_ids = {alert.alert_id for alert in remote}
        unreadable_devices: set[str] = set()
        snoozed_keys: set[str] = set()
        for alert in remote:
            try:
                event = to_event(alert, tenant=tenant, integration_id=integration_id, now=now)
            except (normalizers.MalformedPayload, normalizers.NotAnAlert) as exc:
                summary.unreadable += 1
                if alert.device_id:
                    unreadable_devices.add(alert.device_id)
                logger.warning("unreadable remote alert skipped", extra={"alertId": alert.alert_id, "why": str(exc)})
                continue
            if alert.snoozed:
                # Silenced, still failing: its local alert stays open; nothing opens until it wakes.
                summary.snoozed += 1
                snoozed_keys.add(dedup.dedup_key_for(event))
                continue
            events.setdefault(dedup.dedup_key_for(event), (alert, event))

        # 3. Diff.
        ids = sorted({a.alert_id for a, _ in events.values()})
        diff = conn.execute(_DIFF, {**params, "ids": ids}).fetchone()
        open_alerts: list[dict[str, Any]] = diff["open_alerts"]
        known: set[str] = set(diff["known_ids"])
        open_by_key: dict[str, list[dict[str, Any]]] = {}
        for row in open_alerts:
            open_by_key.setdefault(row["dedup_key"], []).append(row)

        uid_ids: list[str] = []
        uid_values: list[str] = []
        new: list[tuple[RemoteAlert, NormalizedAlertEvent]] = []
        for key, (alert, event) in events.items():
            matches = open_by_key.get(key)
            if matches:
                summary.matched += 1
                for row in matches:
                    if row["rmm_alert_uid"] != alert.alert_id:
                        uid_ids.append(row["alert_id"])
                        uid_values.append(alert.alert_id)
            elif alert.alert_id not in known:
                new.append((alert, event))

        if new:
            last = {
                r["dedup_key"]: r["resolved_at"]
                for r in conn.execute(
                    _LAST_RESOLVED, {**params, "keys": [dedup.dedup_key_for(e) for _, e in new]}
                ).fetchall()
            }
            new = [(a, e) for a, e in new if not _resolved_since(last.get(dedup.dedup_key_for(e)), a, e)]

        releases = [
            row
            for row in open_alerts
            if row["status"] == "suppressed" and row["dedup_key"] in events and not _window_still_covers(row, now)
        ]
        resets: dict[tuple[str | None, str], dict[str, Any]] = {}
        for row in open_alerts:
            created = datetime.fromisoformat(row["created_at"])
            if row["dedup_key"] in events or row["dedup_key"] in snoozed_keys or created >= fetch_started:
                continue
            if (
                row["external_alert_id"] in remote_ids
                or row["rmm_alert_uid"] in remote_ids
                or row["external_device_id"] in unreadable_devices
            ):
                continue  # the RMM still lists it (or something unreadable on its device): not gone
            resets.setdefault((row["pairing_key"], row["dedup_key"]), row)

        # NinjaOne REST alerts may lack the device: resolve org and name once per device, before any change.
        if isinstance(client, NinjaOneClient):
            new = _enrich_ninjaone(client, new, tenant=tenant, integration_id=integration_id, now=now)
    except ProviderError as exc:
        fail(str(exc))
        return
    finally:
        client.close()

    # 4. Apply: every event through the pipeline, committed in chunks (one commit per chunk, not per
    # event). When an event of a chunk fails, the chunk rolls back and its events are applied again
    # one transaction each, so only the failing one is lost (and reported).
    errors: list[str] = []
    work: list[tuple[str, Callable[..., pipeline.ProcessResult], tuple[Any, ...], str | None]] = []
    for alert, event in new:
        work.append(("trigger", _polled_trigger, (event,), alert.alert_id))
    for row in resets.values():
        reset = _reset_event(
            row, tenant=tenant, integration_id=integration_id, provider=integration["provider"], now=now
        )
        work.append(("reset", _synthesized_reset, (reset,), None))
    for row in releases:
        stored = _release_event(row, tenant=tenant, integration_id=integration_id)
        work.append(("release", pipeline.release_suppressed, (stored, UUID(row["alert_id"])), None))

    def failed(what: str, exc: BaseException) -> None:
        summary.failed_events += 1
        errors.append(f"{what}: {type(exc).__name__}")
        logger.error("poll event failed", extra={"what": what, "error_type": type(exc).__name__})

    def apply(chunk: list[Any]) -> list[tuple[str, pipeline.ProcessResult, str | None]]:
        done: list[tuple[str, pipeline.ProcessResult, str | None]] = []
        with pool.connection() as work_conn, work_conn.transaction():
            uow = _SharedUnitOfWork(work_conn)
            for what, action, args, uid in chunk:
                done.append((what, action(*args, uow, now=now), uid))
        return done

    for start_at in range(0, len(work), CHUNK):
        chunk = work[start_at : start_at + CHUNK]
        results: list[tuple[str, pipeline.ProcessResult, str | None]] = []
        try:
            results = apply(chunk)
        except Exception:  # rolled back: apply one by one to isolate the failing event
            results = []
            for item in chunk:
                try:
                    results.extend(apply([item]))
                except Exception as exc:  # one bad event must not stop the others
                    failed(item[0], exc)
        for what, result, uid in results:
            summary.outcomes[result.outcome] = summary.outcomes.get(result.outcome, 0) + 1
            if what == "trigger":
                ingested = result.outcome != "skipped"
                summary.triggered += 1 if ingested else 0
                # A trigger that found, under the lock, the open alert a webhook brought since the
                # diff is that alert: its uid is recorded like those of the alerts the diff matched.
                adopted = result.reason == "already_ingested_by_webhook"
                if (ingested or adopted) and result.alert_id is not None and uid is not None:
                    uid_ids.append(str(result.alert_id))
                    uid_values.append(uid)
            elif what == "reset" and result.outcome == "resolved":
                summary.resolved += 1
            elif what == "release" and result.outcome not in ("skipped", "suppressed"):
                summary.released += 1
    if uid_ids:
        conn.execute(_RECORD_UIDS, {**params, "ids": uid_ids, "uids": uid_values})

    # 5. Stamp.
    if errors:
        fail(f"{len(errors)} event(s) failed: " + "; ".join(errors[:5]))
    else:
        conn.execute(_STAMP_OK, params)


def _polled_trigger(event: NormalizedAlertEvent, uow: UnitOfWork, *, now: datetime) -> pipeline.ProcessResult:
    # From the RMM's list: an open alert of its group found under the lock is this very alert.
    return pipeline.process_event(event, uow, now=now, polled=True)


def _synthesized_reset(event: NormalizedAlertEvent, uow: UnitOfWork, *, now: datetime) -> pipeline.ProcessResult:
    # For an alert we had: if it is gone meanwhile, the reset is not remembered as an early one.
    return pipeline.process_event(event, uow, now=now, synthesized=True)


class _SharedUnitOfWork(UnitOfWork):
    """The pipeline's repositories on a connection whose transaction the cycle manages (``with
    uow:`` is then a no-op: the chunk commits, a savepoint isolates each event)."""

    def __init__(self, conn: Any) -> None:
        self._bind(conn)

    def __enter__(self) -> UnitOfWork:
        return self

    def begin_lazily(self) -> None:
        """The cycle's own transaction is already open: events apply inside it."""

    def __exit__(self, exc_type: Any, exc: Any, tb: Any) -> None:
        return None


def _enrich_ninjaone(
    client: NinjaOneClient,
    new: Iterable[tuple[RemoteAlert, NormalizedAlertEvent]],
    *,
    tenant: UUID,
    integration_id: UUID,
    now: datetime,
) -> list[tuple[RemoteAlert, NormalizedAlertEvent]]:
    devices: dict[str, dict[str, Any] | None] = {}
    out: list[tuple[RemoteAlert, NormalizedAlertEvent]] = []
    for alert, event in new:
        device_id = event.external_device_id
        if device_id is None or (event.external_organization_id and event.device_name):
            out.append((alert, event))
            continue
        if device_id not in devices:
            try:
                devices[device_id] = client.device(device_id)
            except ProviderNotFound:
                devices[device_id] = None  # a deleted device: the alert is kept, unrouted
        device = devices[device_id]
        if device is None:
            out.append((alert, event))
            continue
        out.append((alert, to_event(alert, tenant=tenant, integration_id=integration_id, now=now, device=device)))
    return out


def _reset_event(
    row: dict[str, Any], *, tenant: UUID, integration_id: UUID, provider: str, now: datetime
) -> NormalizedAlertEvent:
    """A synthesized reset that pairs with ``row`` exactly as a webhook reset would (pairing key,
    else device + condition)."""
    return NormalizedAlertEvent(
        tenant_id=tenant,
        integration_id=integration_id,
        provider=provider,  # type: ignore[arg-type]
        kind=EventKind.RESET,
        external_alert_id=f"poll-reset:{row['alert_id']}",
        external_device_id=row["external_device_id"],
        condition_id=row["condition_id"] or row["dedup_key"],
        pairing_id=row["pairing_key"],
        occurred_at=now,
        raw={"source": "poll", "reason": "no longer active in the RMM"},
    )


def _release_event(row: dict[str, Any], *, tenant: UUID, integration_id: UUID) -> NormalizedAlertEvent:
    """The suppressed alert's own trigger, rebuilt from the stored row."""
    stored = row["stored"]
    return NormalizedAlertEvent.model_validate(
        {
            **{k: v for k, v in stored.items() if k not in ("triggered_at",)},
            "tenant_id": tenant,
            "integration_id": integration_id,
            "kind": EventKind.TRIGGERED,
            "external_alert_id": row["external_alert_id"],
            "external_device_id": row["external_device_id"],
            "condition_id": row["condition_id"] or row["dedup_key"],
            "pairing_id": row["pairing_key"],
            "occurred_at": datetime.fromisoformat(stored["triggered_at"]),
            "raw": stored["raw"] if isinstance(stored["raw"], dict) else {},
        },
        strict=False,
    )


def _resolved_since(resolved_at: str | datetime | None, alert: RemoteAlert, event: NormalizedAlertEvent) -> bool:
    if resolved_at is None:
        return False
    when = datetime.fromisoformat(resolved_at) if isinstance(resolved_at, str) else resolved_at
    fired = alert.created_at or event.occurred_at
    return when >= fired


__all__ = ["CycleSummary", "lock_key", "poll", "to_event"]
