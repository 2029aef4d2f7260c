"""``process_event``: one normalized alert event in, alerts and tickets changed in one transaction.

Round trips per event, counted on the wire (``tests/integration/test_pipeline_round_trips.py``
reads libpq's protocol trace). Each query loads all rules/windows at once, so the count never
depends on how many rules or windows a tenant has. A "batch" (``db.UnitOfWork.batch``) is one
simple-protocol query message holding several statements: one round trip. The unit of work is
begun lazily (``db.UnitOfWork.begin_lazily``): the config read runs in autocommit, ``BEGIN`` rides
in front of the group batch and ``COMMIT`` behind the writes, so neither costs a trip of its own,
and a replay opens no transaction at all. The pool's checkout check is not counted (+1 only for a
connection idle for db.CHECK_IDLE_S). A webhook reads its integration together with a trigger's
config, in one statement, so a webhook trigger costs what is below; a reset or ack adds one trip
for the lookup. The statement and lock timeouts cost no trip: they are settings of the database
role (migration 0003), not SETs.

=====================  ======  ================================================================
outcome                trips   what
=====================  ======  ================================================================
ticket_created         3       config, batch(BEGIN, trigger state: lock, group, ticket
                               defaults), batch(ticket, alert, note, asset, outbox, COMMIT)
occurrence_appended    3       config, batch(BEGIN, trigger state), batch(alert, count+note,
                               outbox, COMMIT)
recorded_only          3       config, batch(BEGIN, trigger state), batch(alert, outbox, COMMIT)
  (already_reset)      3       ... batch(alert, forget the early reset, outbox, COMMIT)
suppressed             3       config, batch(BEGIN, trigger state), batch(alert, COMMIT)
triggered, skipped     1       config: the alert is stored already (a replay); no transaction,
                               no group lock
  (a duplicate that    3       config, batch(BEGIN, trigger state), COMMIT
   raced its original)
  (already_ingested_   3       config, batch(BEGIN, trigger state), batch(adopt the webhook's
   by_poll)                    ids into the polled alert, COMMIT)
  (already_ingested_   3       the poller's trigger: config, batch(BEGIN, trigger state),
   by_webhook)                 COMMIT (the cycle records its RMM uid with the others)
resolved/acknowledged  2       batch(BEGIN, lock, targets (+ticket state, group check, close
                               status)), batch(closes, notes, updates, outbox, COMMIT)
reset, skipped         2       batch(BEGIN, lock, targets), batch(remember the reset +
                               was-seen check, COMMIT)
  (poller's reset)     2       batch(BEGIN, lock, targets), COMMIT (nothing remembered)
=====================  ======  ================================================================

The poller's :func:`release_suppressed` (not on the webhook path) costs what the trigger rows above
cost (one no longer suppressed: 3, like the raced duplicate): its group query also reads the
released alert's status, and the alert row is updated in place. Inside the poller's cycle
transaction (reconcile) there is no BEGIN or COMMIT per event. The config, trigger-state, group
and targets reads, the ticket defaults, an occurrence's count and note, the alert insert, a reset's
alert updates, notes and ticket closes and the outbox insert are PL/pgSQL function calls
(migrations 0008-0011) for their cached plans, the reads on forced generic plans (0011); the rules
and windows are sent only when the tenant's configuration version moved (0010,
:func:`resolve_config`).

"config" (mappings, rules, windows) is read before the group lock, and rules and windows are
evaluated then: no tenant regex runs while other deliveries of the group wait. The advisory lock
is taken before the group is read, by a statement of its own (resets: the lock, then the targets,
in one batch) or first thing in the VOLATILE ``rmm_trigger_state`` function (triggers): under READ
COMMITTED the read's snapshot is taken after the lock is held, so it sees what the previous
holder committed.

Concurrency: every writer of one ``(tenant, integration, dedup key)`` takes a transaction-scoped
advisory lock first, so simultaneous deliveries of one condition serialize: the first creates the
ticket, the next joins it. The unique index on ``(tenant, integration, external alert id)`` makes
replays no-ops.
"""

from __future__ import annotations

import functools
import json
import logging
import uuid
from collections import OrderedDict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, Literal, TypeVar
from uuid import UUID

from pydantic import ValidationError

from rmm_alerts import dedup, events, notify, rules, templates, tickets, windows
from rmm_alerts.contracts import (
    PROVIDER_LABELS,
    EventKind,
    MaintenanceWindow,
    NormalizedAlertEvent,
    Rule,
    RuleActions,
)
from rmm_alerts.db import UnitOfWork
from rmm_alerts.db.alerts import TICKET_DEFAULT_FIELDS

logger = logging.getLogger(__name__)

Outcome = Literal[
    "ticket_created",
    "occurrence_appended",
    "recorded_only",
    "suppressed",
    "resolved",
    "acknowledged",
    "skipped",
]


@dataclass
class ProcessResult:
    outcome: Outcome
    alert_id: UUID | None = None
    ticket_id: UUID | None = None
    ticket_number: str | None = None
    rule_id: UUID | None = None
    window_id: UUID | None = None
    reason: str | None = None
    warnings: list[str] = field(default_factory=list)

    @property
    def processed(self) -> bool:
        return self.outcome != "skipped"

    def as_response(self) -> dict[str, Any]:
        """The webhook response body (README.md and docs/errors.md)."""
        body: dict[str, Any] = {"processed": self.processed, "outcome": self.outcome}
        if self.alert_id:
            body["alertId"] = str(self.alert_id)
        if self.ticket_id:
            body["ticketId"] = str(self.ticket_id)
        if self.ticket_number:
            body["ticketNumber"] = self.ticket_number
        if self.reason:
            body["reason"] = self.reason
        if self.warnings:
            body["warnings"] = list(self.warnings)
        return body


# How long a reset that matched no alert is remembered for its trigger (item 4 of issue 10): longer
# than any RMM's retry of a trigger that got a 5xx.
EARLY_RESET_TTL = timedelta(hours=24)


def _now() -> datetime:
    return datetime.now(UTC)


def process_event(
    event: NormalizedAlertEvent,
    uow: UnitOfWork,
    *,
    now: datetime | None = None,
    synthesized: bool = False,
    polled: bool = False,
) -> ProcessResult:
    """Apply one event in its own transaction; commit on success, roll back (and raise) on any error."""
    uow.begin_lazily()
    with uow:
        return apply_event(event, uow, now=now, synthesized=synthesized, polled=polled, commit=True)


def release_suppressed(
    event: NormalizedAlertEvent, alert_id: UUID, uow: UnitOfWork, *, now: datetime | None = None
) -> ProcessResult:
    """Re-decide a suppressed alert whose window no longer covers *now* (poller window catch-up,
    docs/polling.md): windows and rules are evaluated at now, and the alert row is updated in
    place (same alert id) with the outcome a fresh trigger would get. ``event`` is the alert's own
    trigger, rebuilt from the stored row. An alert that is no longer suppressed is left alone."""
    at = now or _now()
    uow.begin_lazily()
    with uow:
        # The alert's status is read with the group state, under the group lock (plan_trigger).
        return _triggered(event, uow, at, release=alert_id, commit=True)


def apply_event(
    event: NormalizedAlertEvent,
    uow: UnitOfWork,
    *,
    now: datetime | None = None,
    synthesized: bool = False,
    polled: bool = False,
    config: dict[str, Any] | None = None,
    commit: bool = False,
) -> ProcessResult:
    """Apply one event inside the caller's open unit of work (the webhook shares its connection
    with the integration lookup). ``synthesized``: the poller's reset for an alert it had (not a
    delivery from the RMM), never remembered as an early reset when that alert is gone meanwhile.
    ``polled``: a trigger the poller ingested from the RMM's list (not a webhook delivery).
    ``config``: a trigger's config read, already done by the caller (the webhook reads it in its
    lookup's round trip). ``commit``: the last writes carry the COMMIT (a lazily begun unit of
    work, see db.UnitOfWork); nothing may follow in the transaction."""
    if event.kind is EventKind.TRIGGERED:
        return _triggered(event, uow, now or _now(), config=config, commit=commit, polled=polled)
    if event.kind is EventKind.RESET:
        return _reset(event, uow, now or _now(), remember=not synthesized, commit=commit)
    return _acknowledged(event, uow, now or _now(), commit=commit)


# --------------------------------------------------------------------------------------------
# Triggered


M = TypeVar("M", Rule, MaintenanceWindow)


def _parse(model: type[M], rows: list[dict[str, Any]] | str, id_key: str) -> list[M]:
    """Stored rules/windows as models; an unreadable row is logged and skipped, never fatal. The
    config read gives them as JSON text: parsed once per distinct text (rules and windows are
    frozen models, shared by every alert until the configuration changes)."""
    if isinstance(rows, str):
        return list(_parsed(model, rows, id_key))
    parsed: list[M] = []
    for row in rows:
        try:
            parsed.append(model.model_validate({k: v for k, v in row.items() if k != "created_at"}))
        except ValidationError:
            logger.warning("skipping unreadable %s %s", model.__name__, row.get(id_key))
    return parsed


@functools.lru_cache(maxsize=256)
def _parsed(model: type[M], text: str, id_key: str) -> tuple[M, ...]:
    # Keyed by the text itself, so a change to any rule or window is a new key: nothing to invalidate.
    rows = json.loads(text)
    return tuple(_parse(model, rows if isinstance(rows, list) else [], id_key))


@dataclass(frozen=True)
class StoredConfig:
    """An integration's rules and windows, parsed, as of its tenant's configuration version."""

    version: int
    rules: tuple[Rule, ...]
    windows: tuple[MaintenanceWindow, ...]


# Per process (a warm Lambda keeps it): the config read sends rules and windows again only when the
# tenant's configuration version is not the one held here (migration 0010). Bounded, oldest out.
_STORED: OrderedDict[UUID, StoredConfig] = OrderedDict()
STORED_CONFIGS_MAX = 1024


def stored_config(integration_id: UUID) -> StoredConfig | None:
    """The copy to name in the next config read (take it before the read: the read answers for it)."""
    return _STORED.get(integration_id)


def resolve_config(integration_id: UUID, cfg: dict[str, Any], known: StoredConfig | None) -> dict[str, Any]:
    """``cfg`` (a config read's row) with its rules and windows as parsed tuples: the read's own
    when it sent them (kept for the next read), else ``known``'s, the copy the read was asked about
    (it sends none only when that copy's version is current)."""
    if isinstance(cfg["rules"], tuple):
        return cfg  # resolved already
    version = cfg.get("config_version")
    if cfg["rules"] is None and cfg["windows"] is None and known is not None and version == known.version:
        return {**cfg, "rules": known.rules, "windows": known.windows}
    fresh = StoredConfig(
        version if version is not None else -1,
        tuple(_parse(Rule, cfg["rules"] if cfg["rules"] is not None else "[]", "rule_id")),
        tuple(_parse(MaintenanceWindow, cfg["windows"] if cfg["windows"] is not None else "[]", "window_id")),
    )
    if version is not None:
        _STORED[integration_id] = fresh
        _STORED.move_to_end(integration_id)
        while len(_STORED) > STORED_CONFIGS_MAX:
            _STORED.popitem(last=False)
    return {**cfg, "rules": fresh.rules, "windows": fresh.windows}


def _window_trace(window: MaintenanceWindow) -> dict[str, Any]:
    return {"windowId": str(window.window_id), "name": window.name}


@dataclass(frozen=True)
class TriggerPlan:
    """What a trigger does, decided from the facts alone (:func:`plan_trigger`, pure);
    :func:`_triggered` applies it."""

    action: Literal["skip", "adopt", "adopt_uid", "already_reset", "suppress", "record", "join", "create"]
    reason: str | None = None
    warning: str | None = None


def plan_trigger(
    *,
    existing_alert_id: UUID | None,
    early_reset: dict[str, Any] | None,
    window: MaintenanceWindow | None,
    rule: Rule | None,
    actions: RuleActions | None,
    client_id: UUID | None,
    open_group: dict[str, Any] | None,
    unmapped_warning: str,
    poll_twin_id: UUID | None = None,
    provider: str | None = None,
    released_status: str | None = None,
    from_poll: bool = False,
) -> TriggerPlan:
    """The decision for one trigger, in order: a replay is skipped; a poll trigger for an open
    alert of its group is that alert, come by webhook since the poll's diff (its RMM id recorded,
    skipped); a NinjaOne trigger for an open alert the poller ingested is that alert's late webhook
    (adopted, skipped); a trigger whose reset already arrived is recorded resolved; a window
    suppresses; no ticket-making rule records only; an open ticket of the group is joined; no
    client records only (with a warning); else a ticket.

    ``released_status`` is set only for the poller's release of a suppressed alert (the alert's
    current status): one no longer suppressed is skipped, else the alert itself is re-decided, so
    the replay, late-webhook and early-reset checks (which would all find that alert) do not apply."""
    if released_status is not None:
        if released_status != "suppressed":
            return TriggerPlan("skip", "no_longer_suppressed")
    else:
        if existing_alert_id is not None:
            return TriggerPlan("skip", "duplicate_delivery")
        # The diff matches a remote alert to its group's open alert; one found here came since.
        if from_poll and poll_twin_id is not None:
            return TriggerPlan("adopt_uid", "already_ingested_by_webhook")
        # NinjaOne raises a condition again only after a reset, so an open polled alert of the group
        # is this very alert (the poller saw it by REST uid before its webhook came, by activity id).
        if poll_twin_id is not None and provider == "ninjaone":
            return TriggerPlan("adopt", "already_ingested_by_poll")
        if early_reset is not None:
            return TriggerPlan("already_reset", "already_reset")
    if window is not None:
        return TriggerPlan("suppress", "maintenance_window")
    if rule is None or actions is None or not actions.create_ticket:
        if client_id is None:
            return TriggerPlan("record", "organization_not_mapped", unmapped_warning)
        return TriggerPlan("record", "no_matching_rule" if rule is None else "rule_does_not_create_tickets")
    if open_group is not None:
        return TriggerPlan("join")
    if client_id is None:
        return TriggerPlan("record", "organization_not_mapped", unmapped_warning)
    return TriggerPlan("create")


def _triggered(
    event: NormalizedAlertEvent,
    uow: UnitOfWork,
    now: datetime,
    *,
    release: UUID | None = None,
    config: dict[str, Any] | None = None,
    commit: bool = False,
    polled: bool = False,
) -> ProcessResult:
    tenant, integration = event.tenant_id, event.integration_id
    key = dedup.dedup_key_for(event)
    # Configuration first, without the group lock: windows and rules
    # (tenant regexes) are evaluated before the lock is taken, so no regex ever runs while other
    # deliveries of the group wait.
    cfg = config
    if cfg is None:
        known = stored_config(integration)
        cfg = resolve_config(
            integration,
            uow.alerts.trigger_config(
                tenant,
                integration,
                # A release re-decides its own stored alert: not a replay.
                external_alert_id=event.external_alert_id if release is None else None,
                external_device_id=event.external_device_id,
                external_organization_id=event.external_organization_id,
                known_version=known.version if known else None,
            ),
            known,
        )
    if release is None and cfg["existing_alert_id"] is not None:
        # A replay, seen by the config read: answered without the lock or a transaction. A replay
        # racing its first delivery is caught under the lock instead (plan_trigger).
        return ProcessResult("skipped", alert_id=cfg["existing_alert_id"], reason="duplicate_delivery")
    client = tickets.choose_client(cfg)
    asset_id = tickets.as_uuid(cfg["asset_id"])
    window, window_checks = windows.check_windows(
        cfg["windows"],
        integration_id=integration,
        client_id=client.client_id,
        asset_id=asset_id,
        # A release re-decides at now: the window that suppressed the alert may have ended.
        at=now if release is not None else event.occurred_at,
    )
    rule: Rule | None = None
    actions: RuleActions | None = None
    evaluations: list[rules.RuleEvaluation] = []
    if window is None:
        rule, actions, evaluations = rules.first_match(cfg["rules"], event)

    # Then the transaction, in one round trip: BEGIN, the group lock, the group's state and, when
    # this trigger may make a ticket and there is no open ticket to join, the ticket defaults
    # (configuration, but they need the matched rule's board): one statement (migration 0010).
    may_create = window is None and actions is not None and actions.create_ticket and client.client_id is not None
    from_poll = polled and release is None
    with uow.batch(begin=True):
        state_cur = uow.alerts.query_trigger_state(
            tenant,
            integration,
            lock_key=dedup.lock_key(tenant, integration, key),
            external_alert_id=event.external_alert_id,
            external_device_id=event.external_device_id,
            dedup_key=key,
            pairing_key=event.pairing_id,
            occurred_at=event.occurred_at,
            now=now,
            released_alert_id=release,
            defaults_for=(
                (actions.board_id, actions.assign_to_user_id, client.contact_id, client.client_id)
                if may_create and actions is not None
                else None
            ),
            from_poll=from_poll,
        )
    state = state_cur.fetchone()
    assert state is not None
    plan = plan_trigger(
        existing_alert_id=state["existing_alert_id"],
        early_reset=state["early_reset"],
        window=window,
        rule=rule,
        actions=actions,
        client_id=client.client_id,
        open_group=state["open_group"],
        unmapped_warning=_unmapped_warning(event),
        poll_twin_id=state["poll_twin_id"],
        provider=event.provider,
        released_status=state["released_status"] if release is not None else None,
        from_poll=from_poll,
    )
    if plan.action == "skip":
        return ProcessResult("skipped", alert_id=release or state["existing_alert_id"], reason=plan.reason)
    if plan.action == "adopt_uid":
        # The poll cycle records the RMM's uid on it, with those of the alerts its diff matched.
        return ProcessResult("skipped", alert_id=state["poll_twin_id"], reason=plan.reason)
    if plan.action == "adopt":
        twin = state["poll_twin_id"]
        with uow.batch(commit=commit):
            uow.alerts.adopt_webhook(tenant, twin, pairing_key=event.pairing_id, activity_id=event.external_alert_id)
        return ProcessResult("skipped", alert_id=twin, reason=plan.reason)

    alert_id = release or uuid.uuid4()
    warnings: list[str] = []
    trace: dict[str, Any] = {
        "kind": "triggered",
        "evaluatedAt": now.isoformat(),
        "dedupKey": key,
        "client": {"clientId": str(client.client_id) if client.client_id else None, "source": client.source},
        "assetId": str(asset_id) if asset_id else None,
        "window": _window_trace(window) if window else None,
        # Every window considered and why it did not match (docs/rules.md, "The decision trace").
        "windows": window_checks,
        "group": None,
    }
    rule_id = rule.rule_id if rule else None
    if rule is not None:
        trace["matchedRuleId"] = str(rule.rule_id)
    row: dict[str, Any] = {
        "tenant": tenant,
        "alert_id": alert_id,
        "integration_id": integration,
        "provider": event.provider,
        "external_alert_id": event.external_alert_id,
        "external_device_id": event.external_device_id,
        "condition_id": event.condition_id,
        "pairing_key": event.pairing_id,
        "dedup_key": key,
        "activity_type": event.activity_type,
        "alert_class": event.alert_class,
        "source_type": event.source_type,
        "severity": event.severity,
        "message": event.message,
        "device_name": event.device_name,
        "external_organization_id": event.external_organization_id,
        "external_organization_name": event.external_organization_name,
        "status": "active",
        "triggered_at": event.occurred_at,
        "matched_rule_id": rule_id,
        "suppressed_by_window_id": None,
        "ticket_id": None,
        "auto_ticket_created": False,
        "asset_id": asset_id,
        "client_id": client.client_id,
        "metadata": {"raw": event.raw, "receivedAt": now.isoformat()},
        "decision_trace": trace,
        # The rules evaluated, in a column of their own (migration 0011): the trace's "rules".
        "rule_trace": [e.as_trace() for e in evaluations],
        # A released suppressed alert is re-decided in place (AlertRepository.insert updates it).
        "replace_suppressed": release is not None,
    }
    if release is not None:
        trace["released"] = {"at": now.isoformat(), "reason": "maintenance window no longer covers now"}

    def alert_event(event_type: str, ticket_id: UUID | None, at: datetime) -> dict[str, Any]:
        return events.alert_event(
            event_type,
            tenant_id=tenant,
            integration_id=integration,
            provider=event.provider,
            alert_id=alert_id,
            external_alert_id=event.external_alert_id,
            severity=event.severity,
            external_device_id=event.external_device_id,
            asset_id=asset_id,
            client_id=client.client_id,
            ticket_id=ticket_id,
            message=event.message,
            source_type=event.source_type,
            alert_class=event.alert_class,
            at=at,
        )

    def alert_triggered(ticket_id: UUID | None) -> dict[str, Any]:
        return alert_event(events.RMM_ALERT_TRIGGERED, ticket_id, event.occurred_at)

    if plan.action == "already_reset":
        early = state["early_reset"]
        resolved_at = datetime.fromisoformat(early["occurred_at"])
        quiet = window is not None
        trace["outcome"] = "already_reset"
        trace["reset"] = {
            "at": now.isoformat(),
            "quiet": quiet,
            "externalAlertId": early["external_alert_id"],
            "reason": "the reset arrived before this trigger; recorded resolved, no ticket",
        }
        row["status"] = "resolved"
        row["resolved_at"] = resolved_at
        row["metadata"]["reset"] = {
            "raw": early["payload"],
            "externalAlertId": early["external_alert_id"],
            "receivedAt": early["received_at"],
        }
        with uow.batch(commit=commit):
            uow.alerts.insert(row)
            uow.alerts.consume_early_reset(tenant, UUID(early["reset_id"]))
            if not quiet:
                uow.outbox.add_many(
                    tenant,
                    [
                        ("event", events.RMM_ALERT_TRIGGERED, alert_triggered(None)),
                        ("event", events.RMM_ALERT_RESOLVED, alert_event(events.RMM_ALERT_RESOLVED, None, resolved_at)),
                    ],
                )
        return ProcessResult("recorded_only", alert_id=alert_id, rule_id=rule_id, reason=plan.reason)

    if plan.action == "suppress":
        assert window is not None
        trace["outcome"] = "suppressed"
        row["status"] = "suppressed"
        row["suppressed_by_window_id"] = window.window_id
        with uow.batch(commit=commit):
            uow.alerts.insert(row)
        return ProcessResult("suppressed", alert_id=alert_id, window_id=window.window_id, reason=plan.reason)

    def record_only(reason: str, warning: str | None = None) -> ProcessResult:
        if warning:
            warnings.append(warning)
            logger.warning("alert recorded without ticket: %s", warning)
        trace["outcome"] = "recorded_only"
        trace["reason"] = reason
        trace["warnings"] = warnings
        with uow.batch(commit=commit):
            uow.alerts.insert(row)
            uow.outbox.add(tenant, kind="event", event_type=events.RMM_ALERT_TRIGGERED, payload=alert_triggered(None))
        return ProcessResult("recorded_only", alert_id=alert_id, rule_id=rule_id, reason=reason, warnings=warnings)

    if plan.action == "record":
        assert plan.reason is not None
        return record_only(plan.reason, plan.warning)

    assert actions is not None
    # Join the open ticket of the dedup group.
    group = state["open_group"]
    if plan.action == "join":
        ticket_id = UUID(group["ticket_id"])
        primary = UUID(group["primary_alert_id"])
        trace["group"] = {"joinedTicketId": str(ticket_id), "primaryAlertId": str(primary)}
        trace["outcome"] = "occurrence_appended"
        row["ticket_id"] = ticket_id
        suffix = f": {templates.clip(event.message, templates.MAX_VALUE_LENGTH)}" if event.message else ""
        # Numbered from the count read under the lock: the trace is written once, with the number.
        number = int(group.get("occurrence_count") or 1) + 1
        trace["group"]["occurrence"] = number
        with uow.batch(commit=commit):
            uow.alerts.insert(row)
            uow.alerts.count_occurrence(
                tenant,
                primary_alert_id=primary,
                ticket_id=ticket_id,
                at=event.occurred_at,
                now=now,
                note=f"Alert re-triggered — occurrence {number}{suffix}",
            )
            uow.outbox.add(
                tenant, kind="event", event_type=events.RMM_ALERT_TRIGGERED, payload=alert_triggered(ticket_id)
            )
        return ProcessResult(
            "occurrence_appended",
            alert_id=alert_id,
            ticket_id=ticket_id,
            ticket_number=group.get("ticket_number"),
            rule_id=rule_id,
        )

    # Create the ticket (plan "create" implies may_create and no open group: the defaults were read
    # with the group state; no board row: NULLs).
    defaults = {k: state[k] for k in TICKET_DEFAULT_FIELDS} if state["board_id"] is not None else None
    ticket_id = uuid.uuid4()
    try:
        draft = tickets.draft_ticket(
            event, actions, defaults, ticket_id=ticket_id, alert_id=alert_id, dedup_key=key, client=client
        )
    except tickets.CannotCreateTicket as exc:
        return record_only(exc.reason, exc.message)
    warnings.extend(draft.warnings)
    trace["group"] = {"createdTicketId": str(ticket_id)}
    trace["outcome"] = "ticket_created"
    trace["warnings"] = warnings
    device = event.device_name or event.external_device_id or "unknown device"
    return _create(
        uow, event, row, draft, actions, alert_triggered(ticket_id), device, now, warnings, rule_id, commit=commit
    )


def _create(
    uow: UnitOfWork,
    event: NormalizedAlertEvent,
    row: dict[str, Any],
    draft: tickets.TicketDraft,
    actions: RuleActions,
    triggered_payload: dict[str, Any],
    device: str,
    now: datetime,
    warnings: list[str],
    rule_id: UUID | None,
    *,
    commit: bool,
) -> ProcessResult:
    tenant, alert_id, ticket_id = event.tenant_id, row["alert_id"], draft.ticket_id
    with uow.batch(commit=commit):
        cur = uow.psa.insert_ticket(tenant, draft, now)
        row["ticket_id"] = ticket_id
        row["auto_ticket_created"] = True
        uow.alerts.insert(row)
        uow.psa.add_system_note(tenant, ticket_id, tickets.initial_note(event, alert_id), now)
        if row["asset_id"] is not None:
            uow.psa.associate_asset(tenant, row["asset_id"], ticket_id)
        uow.outbox.add_many(
            tenant,
            [
                ("event", events.RMM_ALERT_TRIGGERED, triggered_payload),
                ("event", events.TICKET_CREATED, events.ticket_created(tenant, ticket_id, event.provider)),
                *(
                    ("notification", events.RMM_ALERT_NOTIFICATION, request)
                    for request in notify.ticket_notifications(
                        tenant_id=tenant,
                        user_ids=list(actions.notify_user_ids),
                        ticket_id=ticket_id,
                        severity=event.severity,
                        device=device,
                        message=event.message,
                        alert_id=alert_id,
                    )
                ),
            ],
        )
    created = cur.fetchone()
    number = str(created["ticket_number"]) if created else None
    return ProcessResult(
        "ticket_created",
        alert_id=alert_id,
        ticket_id=ticket_id,
        ticket_number=number,
        rule_id=rule_id,
        warnings=warnings,
    )


def _unmapped_warning(event: NormalizedAlertEvent) -> str:
    org = event.external_organization_id or "(none)"
    return f"organization {org} is not mapped to a client and device {event.external_device_id} has no asset"


# --------------------------------------------------------------------------------------------
# Reset and acknowledged


def _reset(
    event: NormalizedAlertEvent, uow: UnitOfWork, now: datetime, *, remember: bool = True, commit: bool = False
) -> ProcessResult:
    tenant, integration = event.tenant_id, event.integration_id
    key = dedup.dedup_key_for(event)
    targets = _locked_targets(uow, event, key, ["active", "acknowledged", "suppressed"])
    if not targets and not remember:
        # The poller's reset for an alert it had: resolved meanwhile (e.g. by a webhook). Not early.
        return ProcessResult("skipped", reason="already_resolved")
    if not targets:
        # Perhaps it overtook its trigger (only the trigger was retried after a 5xx): remember it for
        # a while, so that trigger is recorded already resolved instead of opening a ticket forever.
        with uow.batch(commit=commit):
            seen_cur = uow.alerts.remember_reset(
                tenant,
                integration,
                external_alert_id=event.external_alert_id,
                external_device_id=event.external_device_id,
                pairing_key=event.pairing_id,
                dedup_key=key,
                occurred_at=event.occurred_at,
                now=now,
                expires_at=now + EARLY_RESET_TTL,
                payload=event.raw,
            )
        seen_row = seen_cur.fetchone()
        seen = bool(seen_row and seen_row["seen"])
        return ProcessResult("skipped", reason="already_resolved" if seen else "no_matching_alert")

    label = PROVIDER_LABELS[event.provider]
    auto = {t["alert_id"]: _auto_resolve(t) for t in targets if t["ticket_id"] is not None}
    reset_meta = {
        "reset": {"raw": event.raw, "externalAlertId": event.external_alert_id, "receivedAt": now.isoformat()}
    }
    result = ProcessResult("resolved")
    handled_tickets: dict[UUID, bool] = {}
    # Every target's events, in order, as one insert at the end of the batch.
    outbox: list[tuple[str, str, dict[str, Any]]] = []
    with uow.batch(commit=commit):
        for target in targets:
            alert_id: UUID = target["alert_id"]
            result.alert_id = result.alert_id or alert_id
            quiet = target["status"] == "suppressed"
            status = "resolved"
            reset_trace: dict[str, Any] = {"at": now.isoformat(), "quiet": quiet}
            ticket_id: UUID | None = target["ticket_id"]
            if ticket_id is not None and not quiet:
                result.ticket_id = result.ticket_id or ticket_id
                result.ticket_number = result.ticket_number or target["ticket_number"]
                if auto[alert_id]:
                    if ticket_id not in handled_tickets:
                        state = tickets.TicketState(
                            ticket_closed=bool(target["ticket_closed"]),
                            status_id=target["ticket_status_id"],
                            initial_status_id=tickets.as_uuid(target["initial_status_id"]),
                            has_human_comment=bool(target["has_human_comment"]),
                            has_time_entry=bool(target["has_time_entry"]),
                        )
                        decision = tickets.reset_decision(
                            label,
                            state,
                            others_active=int(target["others_active"]),
                            close_status=target["close_status_id"],
                        )
                        # The close first: it moves updated_at, so the note then leaves the ticket row
                        # alone. A second UPDATE of a row in one transaction re-runs all of the row's
                        # foreign-key checks (five for a ticket).
                        if decision.close:
                            uow.psa.close_ticket(tenant, ticket_id, target["close_status_id"], now)
                            outbox.append(("event", events.TICKET_CLOSED, events.ticket_closed(tenant, ticket_id, now)))
                        uow.psa.add_system_note(tenant, ticket_id, decision.note, now)
                        handled_tickets[ticket_id] = decision.close
                        reset_trace["ticket"] = {
                            "ticketId": str(ticket_id),
                            "closed": decision.close,
                            "note": decision.note,
                        }
                    if handled_tickets[ticket_id]:
                        status = "auto_resolved"
                else:
                    reset_trace["ticket"] = {
                        "ticketId": str(ticket_id),
                        "closed": False,
                        "note": None,
                        "reason": "rule does not auto-resolve tickets",
                    }
            uow.alerts.resolve(
                tenant,
                alert_id,
                status=status,
                resolved_at=event.occurred_at,
                metadata_patch=reset_meta,
                trace_patch={"reset": reset_trace},
            )
            if not quiet:
                outbox.append(
                    (
                        "event",
                        events.RMM_ALERT_RESOLVED,
                        events.alert_resolved(
                            target,
                            tenant_id=tenant,
                            integration_id=integration,
                            provider=event.provider,
                            ticket_id=ticket_id,
                            resolved_at=event.occurred_at,
                        ),
                    )
                )
        uow.outbox.add_many(tenant, outbox)
    if all(t["status"] == "suppressed" for t in targets):
        result.reason = "suppressed_alert_resolved_quietly"
    return result


def _auto_resolve(target: dict[str, Any]) -> bool:
    raw = target.get("rule_actions")
    if not raw:
        return False
    try:
        return RuleActions.model_validate(raw).auto_resolve_ticket
    except ValidationError:
        logger.warning("rule %s has unreadable actions; not auto-resolving", target.get("matched_rule_id"))
        return False


def _locked_targets(
    uow: UnitOfWork, event: NormalizedAlertEvent, key: str, statuses: list[str]
) -> list[dict[str, Any]]:
    """The alerts a reset/ack applies to, under the group lock: BEGIN, the lock and the read in one
    round trip (the read's snapshot is taken once the lock is held)."""
    with uow.batch(begin=True):
        uow.alerts.lock_group(dedup.lock_key(event.tenant_id, event.integration_id, key))
        cur = uow.alerts.lifecycle_targets(
            event.tenant_id,
            event.integration_id,
            external_device_id=event.external_device_id,
            pairing_key=event.pairing_id,
            dedup_key=key,
            statuses=statuses,
        )
    return cur.fetchall()


def _acknowledged(
    event: NormalizedAlertEvent, uow: UnitOfWork, now: datetime, *, commit: bool = False
) -> ProcessResult:
    key = dedup.dedup_key_for(event)
    tenant = event.tenant_id
    targets = _locked_targets(uow, event, key, ["active"])
    if not targets:
        return ProcessResult("skipped", reason="no_active_alert")
    by = _acknowledged_by(event.raw)
    with uow.batch(commit=commit):
        for target in targets:
            uow.alerts.acknowledge(
                tenant,
                target["alert_id"],
                at=event.occurred_at,
                by=by,
                metadata_patch={"acknowledged": {"raw": event.raw, "receivedAt": now.isoformat()}},
            )
    first = targets[0]
    return ProcessResult(
        "acknowledged",
        alert_id=first["alert_id"],
        ticket_id=first["ticket_id"],
        ticket_number=first["ticket_number"],
    )


def _acknowledged_by(raw: dict[str, Any]) -> str | None:
    for key in ("acknowledgedBy", "user", "userName"):
        value = raw.get(key)
        if isinstance(value, str) and value:
            return value[:255]
    return None
