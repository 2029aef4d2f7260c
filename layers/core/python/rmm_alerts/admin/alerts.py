"""Alerts: keyset-paged listing (with the linked ticket's number), detail with the decision trace,
the linked ticket and its newest notes, and the ``rmm.alerts.create_ticket`` action.

``create_ticket`` makes the same ticket the pipeline would (``tickets.draft_ticket``), with the
same side effects (initial system note, asset association, ``TICKET_CREATED`` in the outbox), in
one transaction holding the alert row lock, so two concurrent calls cannot both create a ticket.
The alert's ``auto_ticket_created`` stays false: the ticket was asked for, not made by a rule.
"""

from __future__ import annotations

import base64
import binascii
import json
import uuid
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from rmm_alerts import dedup, events, outbox, tickets
from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps
from rmm_alerts.admin.errors import Problems, conflict, invalid, not_found
from rmm_alerts.contracts import EventKind, NormalizedAlertEvent, RuleActions
from rmm_alerts.db import UnitOfWork


def _readable(column: str) -> str:
    """A timestamp as Python can hold it: a row written before ingest range checks (or by hand) with
    a BC, year-10000 or infinite time reads as NULL instead of failing the whole page."""
    return f"(CASE WHEN {column} BETWEEN '0001-01-02 UTC' AND '9999-12-30 UTC' THEN {column} END)"


def _columns(alias: str = "") -> str:
    a = f"{alias}." if alias else ""
    plain = """alert_id, integration_id, provider, external_alert_id, external_device_id, device_name, condition_id,
               activity_type, alert_class, source_type, severity, message, external_organization_id,
               external_organization_name, status, dedup_key, occurrence_count, matched_rule_id,
               auto_ticket_created, suppressed_by_window_id, ticket_id, asset_id, client_id, created_at, updated_at"""
    cols = [a + c.strip() for c in plain.split(",")]
    cols.append(f"coalesce({_readable(a + 'triggered_at')}, {a}created_at) AS triggered_at")
    cols += [f"{_readable(a + c)} AS {c}" for c in ("last_occurrence_at", "acknowledged_at", "resolved_at")]
    return ", ".join(cols)


_COLUMNS = _columns()
_ALERT_COLUMNS = _columns("a")

# The alert detail shows the ticket's newest notes, oldest first; a ticket that collected thousands
# of occurrence notes must not make the response unbounded.
MAX_NOTES = 50
MAX_NOTE_CHARS = 4000


def encode_cursor(created_at: datetime, alert_id: UUID) -> str:
    raw = json.dumps([created_at.isoformat(), str(alert_id)]).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> tuple[datetime, UUID]:
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        created, alert_id = json.loads(raw)
        at = datetime.fromisoformat(created)
        if at.tzinfo is None:
            raise ValueError("naive")
        return at, UUID(alert_id)
    except (binascii.Error, ValueError, TypeError, UnicodeDecodeError):
        raise invalid("cursor", "not a cursor from a previous page") from None


class AdminAlertRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def page(
        self,
        tenant: UUID,
        *,
        integration_id: UUID | None,
        status: str | None,
        external_device_id: str | None,
        after: tuple[datetime, UUID] | None,
        limit: int,
    ) -> list[dict[str, Any]]:
        return self.conn.execute(
            f"""SELECT {_ALERT_COLUMNS}, t.ticket_number
                  FROM rmm_alerts a
                  LEFT JOIN tickets t ON t.tenant = a.tenant AND t.ticket_id = a.ticket_id
                 WHERE a.tenant = %(t)s
                   AND (%(i)s::uuid IS NULL OR a.integration_id = %(i)s)
                   AND (%(st)s::text IS NULL OR a.status = %(st)s)
                   AND (%(dev)s::text IS NULL OR a.external_device_id = %(dev)s)
                   AND (%(at)s::timestamptz IS NULL OR (a.created_at, a.alert_id) < (%(at)s, %(aid)s::uuid))
                 ORDER BY a.created_at DESC, a.alert_id DESC
                 LIMIT %(n)s""",
            {
                "t": tenant,
                "i": integration_id,
                "st": status,
                "dev": external_device_id,
                "at": after[0] if after else None,
                "aid": after[1] if after else None,
                "n": limit,
            },
        ).fetchall()

    def detail(self, tenant: UUID, alert_id: UUID) -> dict[str, Any] | None:
        return self.conn.execute(
            f"""SELECT {_ALERT_COLUMNS}, rmm_decision_trace(a) AS decision_trace, a.metadata,
                       t.ticket_number, t.title AS ticket_title, st.name AS ticket_status_name,
                       (t.closed_at IS NOT NULL OR coalesce(st.is_closed, false)) AS ticket_closed
                  FROM rmm_alerts a
                  LEFT JOIN tickets t ON t.tenant = a.tenant AND t.ticket_id = a.ticket_id
                  LEFT JOIN statuses st ON st.tenant = t.tenant AND st.status_id = t.status_id
                 WHERE a.tenant = %s AND a.alert_id = %s""",
            (tenant, alert_id),
        ).fetchone()

    def notes(self, tenant: UUID, ticket_id: UUID) -> list[dict[str, Any]]:
        """The ticket's newest ``MAX_NOTES`` comments, oldest first, each with the total count."""
        return self.conn.execute(
            """SELECT * FROM (
                   SELECT created_at, comment_id, user_id, is_internal, is_system_generated,
                          left(note, %(chars)s) AS note, length(note) > %(chars)s AS clipped,
                          count(*) OVER () AS total
                     FROM comments
                    WHERE tenant = %(t)s AND ticket_id = %(ticket)s
                    ORDER BY created_at DESC, comment_id DESC
                    LIMIT %(n)s) newest
                ORDER BY created_at, comment_id""",
            {"t": tenant, "ticket": ticket_id, "chars": MAX_NOTE_CHARS, "n": MAX_NOTES},
        ).fetchall()

    def lock(self, tenant: UUID, alert_id: UUID) -> dict[str, Any] | None:
        return self.conn.execute(
            "SELECT * FROM rmm_alerts WHERE tenant = %s AND alert_id = %s FOR UPDATE", (tenant, alert_id)
        ).fetchone()

    def references(self, tenant: UUID, body: s.CreateTicketIn) -> dict[str, Any]:
        row = self.conn.execute(
            """SELECT EXISTS (SELECT 1 FROM boards WHERE tenant = %(t)s AND board_id = %(b)s AND NOT is_inactive)
                          AS board_ok,
                      EXISTS (SELECT 1 FROM priorities WHERE tenant = %(t)s AND priority_id = %(p)s) AS priority_ok,
                      EXISTS (SELECT 1 FROM users WHERE tenant = %(t)s AND user_id = %(u)s AND NOT is_inactive)
                          AS user_ok""",
            {"t": tenant, "b": body.board_id, "p": body.priority_id, "u": body.assign_to_user_id},
        ).fetchone()
        assert row is not None
        return row

    def link_ticket(
        self,
        tenant: UUID,
        alert_id: UUID,
        *,
        ticket_id: UUID,
        client_id: UUID,
        asset_id: UUID | None,
        trace: dict[str, Any],
    ) -> dict[str, Any]:
        """Link the ticket; the alert's client and asset as stored (kept when it had them)."""
        # A suppressed alert someone made a ticket for is active again: its reset then notes and
        # closes the ticket, a technician's close resets it in the RMM, and the window's end no
        # longer re-decides it (which would unlink the ticket).
        row = self.conn.execute(
            """UPDATE rmm_alerts
                  SET ticket_id = %s, client_id = coalesce(client_id, %s), asset_id = coalesce(asset_id, %s),
                      status = CASE WHEN status = 'suppressed' THEN 'active' ELSE status END,
                      decision_trace = decision_trace || jsonb_build_object('manualTicket',
                          %s::jsonb || jsonb_build_object('unsuppressed', status = 'suppressed')),
                      updated_at = now()
                WHERE tenant = %s AND alert_id = %s
            RETURNING client_id, asset_id""",
            (ticket_id, client_id, asset_id, Jsonb(trace), tenant, alert_id),
        ).fetchone()
        assert row is not None
        return row


def _summary(row: dict[str, Any]) -> s.AlertOut:
    return s.AlertOut.model_validate({k: row[k] for k in s.AlertOut.model_fields})


def list_alerts(
    deps: Deps,
    p: Principal,
    *,
    integration_id: UUID | None,
    status: str | None,
    external_device_id: str | None,
    limit: int,
    cursor: str | None,
) -> s.AlertPage:
    after = decode_cursor(cursor) if cursor else None
    with deps.uow_factory() as uow:
        rows = AdminAlertRepository(uow.conn).page(
            p.tenant,
            integration_id=integration_id,
            status=status,
            external_device_id=external_device_id,
            after=after,
            limit=limit + 1,
        )
    more = len(rows) > limit
    rows = rows[:limit]
    nxt = encode_cursor(rows[-1]["created_at"], rows[-1]["alert_id"]) if more and rows else None
    return s.AlertPage(items=[_summary(r) for r in rows], next_cursor=nxt)


def _note(row: dict[str, Any]) -> s.TicketNote:
    text = str(row["note"]) + ("…" if row["clipped"] else "")
    return s.TicketNote(
        created_at=row["created_at"],
        author="system" if row["is_system_generated"] else "human",
        user_id=row["user_id"],
        is_internal=bool(row["is_internal"]),
        text=text,
    )


def get_alert(deps: Deps, p: Principal, alert_id: UUID) -> s.AlertDetail:
    with deps.uow_factory() as uow:
        repo = AdminAlertRepository(uow.conn)
        row = repo.detail(p.tenant, alert_id)
        if row is None:
            raise not_found("alert")
        notes = repo.notes(p.tenant, row["ticket_id"]) if row["ticket_number"] is not None else []
    ticket = None
    if row["ticket_id"] is not None and row["ticket_number"] is not None:
        ticket = s.TicketLink(
            ticket_id=row["ticket_id"],
            ticket_number=row["ticket_number"],
            title=row["ticket_title"],
            status_name=row["ticket_status_name"],
            is_closed=bool(row["ticket_closed"]),
            note_count=int(notes[0]["total"]) if notes else 0,
            notes=[_note(n) for n in notes],
        )
    fields = {k: row[k] for k in s.AlertOut.model_fields}
    return s.AlertDetail(**fields, decision_trace=row["decision_trace"], metadata=row["metadata"], ticket=ticket)


def stored_event(row: dict[str, Any]) -> NormalizedAlertEvent:
    """A stored ``rmm_alerts`` row as the trigger event the pipeline saw (the fields the matcher and
    the ticket draft read are stored as-is). ``pairing_key`` and ``metadata`` are optional columns:
    a row read without them (rule preview never reads raw payloads) gets no pairing id and no raw."""
    raw = (row.get("metadata") or {}).get("raw")
    return NormalizedAlertEvent(
        tenant_id=row["tenant"],
        integration_id=row["integration_id"],
        provider=row["provider"],
        kind=EventKind.TRIGGERED,
        external_alert_id=row["external_alert_id"],
        external_device_id=row["external_device_id"],
        condition_id=row["condition_id"] or row["dedup_key"],
        pairing_id=row.get("pairing_key"),
        activity_type=row["activity_type"],
        alert_class=row["alert_class"],
        source_type=row["source_type"],
        severity=row["severity"],
        message=row["message"],
        device_name=row["device_name"],
        external_organization_id=row["external_organization_id"],
        external_organization_name=row["external_organization_name"],
        occurred_at=row["triggered_at"],
        raw=raw if isinstance(raw, dict) else {},
    )


def _client(uow: UnitOfWork, row: dict[str, Any], event: NormalizedAlertEvent) -> tuple[tickets.ClientChoice, Any]:
    """The client as the pipeline would choose it now (mappings may have changed since the alert
    arrived), else the one recorded on the alert."""
    cfg = uow.alerts.trigger_config(
        row["tenant"],
        row["integration_id"],
        external_device_id=event.external_device_id,
        external_organization_id=event.external_organization_id,
    )
    choice = tickets.choose_client(cfg)
    if choice.client_id is None and row["client_id"] is not None:
        choice = tickets.ClientChoice(row["client_id"], None, "alert")
    return choice, cfg.get("asset_id") or row["asset_id"]


def _open_group_ticket(uow: UnitOfWork, row: dict[str, Any], now: datetime) -> dict[str, Any] | None:
    """The open ticket of the alert's dedup group (its device + condition), if any."""
    state = uow.alerts.query_group_state(
        row["tenant"],
        row["integration_id"],
        external_alert_id=row["external_alert_id"],
        external_device_id=row["external_device_id"],
        dedup_key=row["dedup_key"],
        pairing_key=row["pairing_key"],
        occurred_at=row["triggered_at"],
        now=now,
    ).fetchone()
    assert state is not None
    group: dict[str, Any] | None = state["open_group"]
    return group


def create_ticket(deps: Deps, p: Principal, alert_id: UUID, body: s.CreateTicketIn | None) -> s.TicketCreated:
    body = body or s.CreateTicketIn()
    now = deps.now()
    with deps.uow_factory() as uow:
        repo = AdminAlertRepository(uow.conn)
        # Same order as the pipeline (group advisory lock, then the row) so a trigger of this
        # device+condition arriving now waits for this ticket and joins it, and nothing deadlocks.
        group = uow.conn.execute(
            "SELECT integration_id, dedup_key FROM rmm_alerts WHERE tenant = %s AND alert_id = %s",
            (p.tenant, alert_id),
        ).fetchone()
        if group is not None:
            uow.alerts.lock_group(dedup.lock_key(p.tenant, group["integration_id"], group["dedup_key"]))
        row = repo.lock(p.tenant, alert_id)
        if row is None:
            raise not_found("alert")
        if row["ticket_id"] is not None:
            raise conflict("the alert already has a ticket")
        # One open ticket per device and condition: never a second one for the group.
        group = _open_group_ticket(uow, row, now)
        if group is not None:
            raise conflict(
                f"ticket {group['ticket_number']} ({group['ticket_id']}) is already open for this alert's "
                "device and condition; a new ticket can be made once it is closed"
            )
        found = repo.references(p.tenant, body)
        problems = Problems()
        if body.board_id is not None and not found["board_ok"]:
            problems.add("boardId", "no such active board in this tenant")
        if body.priority_id is not None and not found["priority_ok"]:
            problems.add("priorityId", "no such priority in this tenant")
        if body.assign_to_user_id is not None and not found["user_ok"]:
            problems.add("assignToUserId", "no such active user in this tenant")
        problems.raise_if_any()
        try:
            event = stored_event(row)
        except ValidationError:
            raise invalid("", "the stored alert is incomplete; no ticket can be made from it") from None
        client, asset_raw = _client(uow, row, event)
        asset_id = tickets.as_uuid(asset_raw)
        actions = RuleActions(
            board_id=body.board_id, priority_override=body.priority_id, assign_to_user_id=body.assign_to_user_id
        )
        defaults = uow.psa.query_ticket_defaults(
            p.tenant,
            board_id=body.board_id,
            assignee=body.assign_to_user_id,
            contact=client.contact_id,
            client=client.client_id,
        ).fetchone()
        ticket_id = uuid.uuid4()
        try:
            draft = tickets.draft_ticket(
                event,
                actions,
                defaults,
                ticket_id=ticket_id,
                alert_id=alert_id,
                dedup_key=row["dedup_key"],
                client=client,
                title_template=body.title_template,
                description_template=body.description_template,
            )
        except tickets.CannotCreateTicket as exc:
            path = "boardId" if exc.reason in ("no_board", "no_status") else ""
            raise invalid(path, exc.message) from None
        cur = uow.psa.insert_ticket(p.tenant, draft, now)
        created = cur.fetchone()
        assert created is not None
        uow.psa.add_system_note(p.tenant, ticket_id, tickets.initial_note(event, alert_id, requested_by=p.user_id), now)
        if asset_id is not None:
            uow.psa.associate_asset(p.tenant, asset_id, ticket_id)
        linked = repo.link_ticket(
            p.tenant,
            alert_id,
            ticket_id=ticket_id,
            client_id=draft.client_id,
            asset_id=asset_id,
            trace={"ticketId": str(ticket_id), "by": p.user_id, "at": now.isoformat(), "warnings": draft.warnings},
        )
        entries = [("event", events.TICKET_CREATED, events.ticket_created(p.tenant, ticket_id, event.provider))]
        if row["status"] == "suppressed":
            # Active from now on: workflows hear of it now (a suppressed alert told them nothing),
            # so its reset's RMM_ALERT_RESOLVED does not come out of nowhere.
            triggered = events.alert_event(
                events.RMM_ALERT_TRIGGERED,
                tenant_id=p.tenant,
                integration_id=event.integration_id,
                provider=event.provider,
                alert_id=alert_id,
                external_alert_id=event.external_alert_id,
                severity=event.severity,
                external_device_id=event.external_device_id,
                asset_id=linked["asset_id"],
                client_id=linked["client_id"],
                ticket_id=ticket_id,
                message=event.message,
                source_type=event.source_type,
                alert_class=event.alert_class,
                at=event.occurred_at,
            )
            entries.insert(0, ("event", events.RMM_ALERT_TRIGGERED, triggered))
        uow.outbox.add_many(p.tenant, entries)
    outbox.kick(deps.settings)  # committed: deliver TICKET_CREATED now, not at the next minute
    return s.TicketCreated(ticket_id=ticket_id, ticket_number=str(created["ticket_number"]))
