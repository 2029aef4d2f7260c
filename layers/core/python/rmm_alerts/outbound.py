"""Ticket closed → reset the alert in the RMM (README.md, the
ticket-closed subscriber; docs/polling.md for the RMM APIs).

For every alert linked to the closed ticket that is still ``active`` or ``acknowledged`` and whose
matched rule's ``resetAlertOnTicketClose`` holds (no rule: it holds):

1. **Read** the targets in one indexed statement (nothing else for a ticket without open alerts
   or an unknown tenant), and end that transaction.
   The alerts to call are then **claimed** (one UPDATE, ``metadata.ticketCloseClaim``, expiring
   after the function's timeout) so that a concurrent duplicate delivery does not call the RMM
   again: it finds them claimed and fails transiently, and its retry finds them resolved.
2. **Call the RMM** with no transaction or lock open. NinjaOne resets by alert uid: the one a
   poll recorded (``rmm_alert_uid``), else the device's active alert whose ``sourceConfigUid`` is
   the alert's condition; no such alert (or a 404) means it already cleared there. TacticalRMM
   resolves by alert id (a 404: already gone).
3. **Write** each outcome in a short transaction under the alert's dedup-group lock (the one the
   webhook pipeline takes), re-checking the status: an alert a webhook RESET resolved meanwhile
   is left alone. Success: ``resolved``, a trace naming who closed the ticket, and
   ``RMM_ALERT_RESOLVED`` in the outbox. Failure: the status is kept and ``metadata.ticketClose``
   records the error (``ProviderError`` text: endpoint and status, never a credential), the time
   and the attempt count.

The ticket's close is never blocked or undone (this runs after it, on its event). Transient
failures are reported in the summary so the caller raises after everything is recorded (the
EventBridge retry policy and DLQ apply); permanent ones are not retried. A redelivered event
finds resolved alerts gone from step 1 and resets nothing twice; a reset the RMM applied before
a crash answers 404 on redelivery and is resolved locally.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from rmm_alerts import dedup, events
from rmm_alerts.db import UnitOfWork
from rmm_alerts.db.ticket_close import TicketCloseRepository
from rmm_alerts.providers import (
    NinjaOneClient,
    ProviderError,
    ProviderNotFound,
    TacticalClient,
)

logger = logging.getLogger(__name__)

OPEN_STATUSES = ("active", "acknowledged")
MAX_ERROR_LENGTH = 500
# How long a claim keeps a concurrent duplicate delivery off an alert: longer than the function's
# timeout (1 minute), so a claim only outlives its invocation when that invocation died.
CLAIM_TTL_S = 90
PROVIDER_LABELS = {"ninjaone": "NinjaOne", "tacticalrmm": "TacticalRMM"}

ClientFactory = Callable[[dict[str, Any]], Any]


@dataclass(frozen=True)
class TicketClosed:
    """The ``detail`` of a ``TICKET_CLOSED`` event."""

    tenant_id: UUID
    ticket_id: UUID
    closed_by_user_id: UUID | None = None
    closed_at: datetime | None = None


@dataclass
class AlertOutcome:
    alert_id: UUID
    # reset | already_cleared | failed | opted_out | no_adapter | resolved_meanwhile | in_progress
    outcome: str
    uids: list[str] = field(default_factory=list)
    error: str | None = None
    transient: bool = False


@dataclass
class CloseSummary:
    tenant_id: str
    ticket_id: str
    closed_by: str
    alerts: list[AlertOutcome] = field(default_factory=list)
    wrote_outbox: bool = False

    def count(self, outcome: str) -> int:
        return sum(1 for a in self.alerts if a.outcome == outcome)

    @property
    def transient_failures(self) -> list[AlertOutcome]:
        return [a for a in self.alerts if a.outcome in ("failed", "in_progress") and a.transient]

    def as_dict(self) -> dict[str, Any]:
        return {
            "tenantId": self.tenant_id,
            "ticketId": self.ticket_id,
            "closedBy": self.closed_by,
            "alerts": len(self.alerts),
            "resolved": self.count("reset") + self.count("already_cleared"),
            "failed": self.count("failed"),
            "outcomes": [
                {"alertId": str(a.alert_id), "outcome": a.outcome, **({"error": a.error} if a.error else {})}
                for a in self.alerts
            ],
        }


def wants_reset(rule_actions: Mapping[str, Any] | None) -> bool:
    """The matched rule's ``resetAlertOnTicketClose`` (default true; no rule: true)."""
    if not rule_actions:
        return True
    return rule_actions.get("resetAlertOnTicketClose", True) is not False


def closed_by_label(user_id: UUID | None, name: str | None) -> str:
    """Who closed the ticket, for the trace: the user's name, else their id, else "system"."""
    if user_id is None:
        return "system"
    return name or str(user_id)


class _Clients:
    """One client per integration for the invocation (a config error is remembered, not retried)."""

    def __init__(self, factory: ClientFactory) -> None:
        self._factory = factory
        self._made: dict[UUID, Any] = {}
        # Uids reset during this invocation: two local alerts of one RMM alert reset it once.
        self.reset_uids: set[tuple[UUID, str]] = set()

    def get(self, row: dict[str, Any]) -> Any:
        iid: UUID = row["integration_id"]
        if iid not in self._made:
            try:
                self._made[iid] = self._factory(
                    {
                        "integration_id": iid,
                        "provider": row["provider"],
                        "instance_url": row["instance_url"],
                        "credentials_ref": row["credentials_ref"],
                    }
                )
            except ProviderError as exc:
                self._made[iid] = exc
        made = self._made[iid]
        if isinstance(made, ProviderError):
            raise made
        return made

    def close(self) -> None:
        for made in self._made.values():
            if not isinstance(made, ProviderError):
                made.close()


def _reset_ninjaone(client: NinjaOneClient, row: dict[str, Any], clients: _Clients) -> AlertOutcome:
    iid: UUID = row["integration_id"]
    uids: list[str]
    if row["rmm_alert_uid"]:
        uids = [str(row["rmm_alert_uid"])]
    else:
        device, condition = row["external_device_id"], row["condition_id"]
        if not device or not condition:
            return AlertOutcome(
                row["alert_id"], "failed", error="cannot find the alert in NinjaOne: it has no device or condition"
            )
        try:
            remote = client.device_alerts(str(device))
        except ProviderNotFound:
            return AlertOutcome(row["alert_id"], "already_cleared")  # the device is gone
        uids = [a.alert_id for a in remote if str(a.raw.get("sourceConfigUid")) == str(condition)]
    reset: list[str] = []
    for uid in uids:
        if (iid, uid) in clients.reset_uids:
            reset.append(uid)
            continue
        try:
            client.reset_alert(uid)
        except ProviderNotFound:
            continue  # no longer active: cleared already
        clients.reset_uids.add((iid, uid))
        reset.append(uid)
    return AlertOutcome(row["alert_id"], "reset" if reset else "already_cleared", uids=reset)


def _resolve_tactical(client: TacticalClient, row: dict[str, Any], clients: _Clients) -> AlertOutcome:
    iid: UUID = row["integration_id"]
    alert_id = str(row["rmm_alert_uid"] or row["external_alert_id"])
    if (iid, alert_id) not in clients.reset_uids:
        try:
            client.resolve_alert(alert_id)
        except ProviderNotFound:
            return AlertOutcome(row["alert_id"], "already_cleared")
        clients.reset_uids.add((iid, alert_id))
    return AlertOutcome(row["alert_id"], "reset", uids=[alert_id])


def _call_rmm(row: dict[str, Any], clients: _Clients) -> AlertOutcome:
    try:
        client = clients.get(row)
        if isinstance(client, NinjaOneClient):
            return _reset_ninjaone(client, row, clients)
        if isinstance(client, TacticalClient):
            return _resolve_tactical(client, row, clients)
        return AlertOutcome(row["alert_id"], "no_adapter")
    except ProviderError as exc:
        return AlertOutcome(row["alert_id"], "failed", error=str(exc)[:MAX_ERROR_LENGTH], transient=exc.transient)


def on_ticket_closed(
    event: TicketClosed,
    *,
    pool: Any,
    client_factory: ClientFactory,
    now: Callable[[], datetime] | None = None,
) -> CloseSummary:
    """Reset the closed ticket's open alerts in their RMMs. Raises only for database errors;
    RMM failures are recorded on the alerts and listed in the summary."""
    clock = now or (lambda: datetime.now(UTC))
    tenant, ticket = event.tenant_id, event.ticket_id

    # 1. Read (one statement), then let the connection go before any RMM call.
    with UnitOfWork(pool) as uow:
        rows = TicketCloseRepository(uow.conn).targets(tenant, ticket, event.closed_by_user_id)
    by = closed_by_label(event.closed_by_user_id, rows[0]["closed_by_name"] if rows else None)
    summary = CloseSummary(str(tenant), str(ticket), by)
    if not rows:
        return summary

    todo: list[dict[str, Any]] = []
    for row in rows:
        if not wants_reset(row["rule_actions"]):
            summary.alerts.append(AlertOutcome(row["alert_id"], "opted_out"))
        elif not row["integration_active"]:
            # A disconnected (or deleted) integration has no adapter: nothing to call.
            summary.alerts.append(AlertOutcome(row["alert_id"], "no_adapter"))
        else:
            todo.append(row)
    if not todo:
        return summary

    # Claim them (a concurrent duplicate delivery must not call the RMM a second time). An alert
    # claimed elsewhere is retried later: by then it is resolved, or its claim has expired.
    with UnitOfWork(pool) as uow:
        claimed = TicketCloseRepository(uow.conn).claim(tenant, [r["alert_id"] for r in todo], CLAIM_TTL_S)
    for row in todo:
        if row["alert_id"] not in claimed:
            summary.alerts.append(AlertOutcome(row["alert_id"], "resolved_meanwhile"))
        elif not claimed[row["alert_id"]]:
            summary.alerts.append(AlertOutcome(row["alert_id"], "in_progress", transient=True))

    # 2. Call the RMMs, outside any transaction.
    work: list[tuple[dict[str, Any], AlertOutcome]] = []
    clients = _Clients(client_factory)
    try:
        for row in todo:
            if claimed.get(row["alert_id"]):
                work.append((row, _call_rmm(row, clients)))
    finally:
        clients.close()

    # 3. Write each outcome in its own short transaction, under the alert's group lock.
    reason = f"ticket closed by {by}"
    for row, outcome in work:
        with UnitOfWork(pool) as uow:
            _write(uow, event, row, outcome, reason=reason, at=clock())
        if uow.outbox.written:
            summary.wrote_outbox = True
        summary.alerts.append(outcome)
    return summary


def _write(
    uow: UnitOfWork, event: TicketClosed, row: dict[str, Any], outcome: AlertOutcome, *, reason: str, at: datetime
) -> None:
    tenant, alert_id = event.tenant_id, row["alert_id"]
    repo = TicketCloseRepository(uow.conn)
    uow.alerts.lock_group(dedup.lock_key(tenant, row["integration_id"], row["dedup_key"]))
    current = repo.current(tenant, alert_id)
    if current is None or current["status"] not in OPEN_STATUSES:
        # A webhook RESET (or a poll) resolved it while we were calling the RMM: that write stands,
        # and a failed call no longer matters.
        outcome.outcome, outcome.transient = "resolved_meanwhile", False
        return
    previous = current["ticket_close"] if isinstance(current["ticket_close"], dict) else {}
    if previous.get("ticketId") != str(event.ticket_id):
        previous = {}
    attempts = int(previous.get("attempts") or 0) + 1
    record: dict[str, Any] = {
        "ticketId": str(event.ticket_id),
        "attempts": attempts,
        "lastAttemptAt": at.isoformat(),
        "reason": reason,
    }
    if outcome.outcome == "failed":
        record.update(
            {
                "status": "failed",
                "lastError": outcome.error,
                "lastErrorAt": at.isoformat(),
                "transient": outcome.transient,
            }
        )
        repo.record(tenant, alert_id, record)
        return

    label = PROVIDER_LABELS.get(row["provider"], row["provider"])
    action = f"reset in {label}" if outcome.outcome == "reset" else f"already cleared in {label}: resolved locally"
    record.update({"status": outcome.outcome, "lastError": None, "rmmAlertIds": outcome.uids})
    uow.alerts.resolve(
        tenant,
        alert_id,
        status="resolved",
        resolved_at=at,
        metadata_patch={"ticketClose": record, "ticketCloseClaim": None},
        trace_patch={
            "ticketClose": {
                "at": at.isoformat(),
                "ticketId": str(event.ticket_id),
                "closedByUserId": str(event.closed_by_user_id) if event.closed_by_user_id else None,
                "ticketClosedAt": event.closed_at.isoformat() if event.closed_at else None,
                "reason": reason,
                "rmm": action,
            }
        },
    )
    uow.outbox.add(
        tenant,
        kind="event",
        event_type=events.RMM_ALERT_RESOLVED,
        payload=events.alert_resolved(
            row,
            tenant_id=tenant,
            integration_id=row["integration_id"],
            provider=row["provider"],
            ticket_id=event.ticket_id,
            resolved_at=at,
        ),
    )


__all__ = [
    "AlertOutcome",
    "CloseSummary",
    "TicketClosed",
    "closed_by_label",
    "on_ticket_closed",
    "wants_reset",
]
