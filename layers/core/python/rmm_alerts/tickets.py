"""Ticket decisions as pure functions: what a new alert ticket looks like, the notes the pipeline
writes, and whether a reset may close a ticket (docs/rules.md)."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

from rmm_alerts import templates
from rmm_alerts.contracts import PROVIDER_LABELS, NormalizedAlertEvent, RuleActions


@dataclass(frozen=True)
class ClientChoice:
    client_id: UUID | None
    contact_id: UUID | None
    source: str | None  # "asset" | "mapping" | None


def as_uuid(value: Any) -> UUID | None:
    if value is None or value == "":
        return None
    if isinstance(value, UUID):
        return value
    try:
        return UUID(str(value))
    except ValueError:
        return None


def choose_client(context: dict[str, Any]) -> ClientChoice:
    """Client from the device's asset, else from the organization mapping. Contact: the mapping's
    default contact (when the mapping's client is the chosen one), else the client's primary contact."""
    asset_client = as_uuid(context.get("asset_client_id"))
    mapping_client = as_uuid(context.get("mapping_client_id"))
    if asset_client is not None:
        client, source = asset_client, "asset"
        primary = as_uuid(context.get("asset_client_primary_contact"))
    elif mapping_client is not None:
        client, source = mapping_client, "mapping"
        primary = as_uuid(context.get("mapping_client_primary_contact"))
    else:
        return ClientChoice(None, None, None)
    mapping_contact = as_uuid(context.get("mapping_contact_id")) if mapping_client == client else None
    return ClientChoice(client, mapping_contact or primary, source)


@dataclass(frozen=True)
class TicketDraft:
    ticket_id: UUID
    title: str
    description: str
    board_id: UUID
    status_id: UUID
    priority_id: UUID | None
    client_id: UUID
    contact_id: UUID | None
    assigned_to: UUID | None
    source: str
    attributes: dict[str, Any]
    warnings: list[str] = field(default_factory=list)


class CannotCreateTicket(Exception):
    """No ticket can be made (no client, no board, no open status). ``reason`` is machine-readable."""

    def __init__(self, reason: str, message: str) -> None:
        super().__init__(message)
        self.reason = reason
        self.message = message


def draft_ticket(
    event: NormalizedAlertEvent,
    actions: RuleActions,
    defaults: dict[str, Any] | None,
    *,
    ticket_id: UUID,
    alert_id: UUID,
    dedup_key: str,
    client: ClientChoice,
    title_template: str | None = None,
    description_template: str | None = None,
) -> TicketDraft:
    """The new alert ticket (docs/rules.md, Actions), from the rule's actions and the tenant's defaults row
    (see ``PsaRepository.query_ticket_defaults``)."""
    if client.client_id is None:
        raise CannotCreateTicket("no_client", "no client: map the device to an asset or the organization to a client")
    if defaults is None:
        raise CannotCreateTicket("no_board", "no board: set the rule's boardId or mark a board as default")
    status_id = as_uuid(defaults.get("default_status_id"))
    if status_id is None:
        raise CannotCreateTicket("no_status", f"board {defaults.get('board_name')!r} has no open status")
    if defaults.get("client_ok") is False:
        raise CannotCreateTicket("no_client", "the resolved client does not exist in this tenant")
    warnings: list[str] = []
    board_id = as_uuid(defaults["board_id"])
    assert board_id is not None
    if actions.board_id is not None and actions.board_id != board_id:
        warnings.append(f"rule board {actions.board_id} is missing or inactive; used the default board")

    priorities = [(str(p[0]), str(p[1])) for p in defaults.get("priorities") or []]
    override = str(actions.priority_override) if actions.priority_override else None
    picked = templates.pick_priority(event.severity, priorities, override)
    if override and picked != override:
        warnings.append(f"priorityOverride {override} not found; used the severity mapping")

    assignee = actions.assign_to_user_id
    if assignee is not None and not defaults.get("assignee_ok"):
        warnings.append(f"assignToUserId {assignee} is not an active user; left unassigned")
        assignee = None
    contact = client.contact_id
    if contact is not None and not defaults.get("contact_ok"):
        contact = None

    values = templates.placeholder_values(event)
    tpl = actions.ticket_template
    title_tpl = title_template or (tpl.title_template if tpl else None)
    desc_tpl = description_template or (tpl.description_template if tpl else None)
    device = values.get("device") or "unknown device"
    label = PROVIDER_LABELS[event.provider]
    condition = templates.condition_name(event)
    if title_tpl:
        # A template that renders to nothing falls back to the default title without the message.
        rendered = templates.render_title(title_tpl, values)
        title = rendered or templates.default_title(label, condition, device, None)
    else:
        title = templates.default_title(label, condition, device, event.message)
    description = templates.render_description(desc_tpl, values) if desc_tpl else templates.default_description(event)

    return TicketDraft(
        ticket_id=ticket_id,
        title=title,
        description=description,
        board_id=board_id,
        status_id=status_id,
        priority_id=as_uuid(picked),
        client_id=client.client_id,
        contact_id=contact,
        assigned_to=assignee,
        source=event.provider,
        attributes={
            "source_reference": event.external_alert_id,
            "rmm_alert": {
                "alert_id": str(alert_id),
                "integration_id": str(event.integration_id),
                "provider": event.provider,
                "dedup_key": dedup_key,
                "initial_status_id": str(status_id),
            },
        },
        warnings=warnings,
    )


def initial_note(event: NormalizedAlertEvent, alert_id: UUID, *, requested_by: str | None = None) -> str:
    """The internal note a new alert ticket starts with: by a rule, or on a user's request."""
    label = PROVIDER_LABELS[event.provider]
    device = event.device_name or event.external_device_id or "unknown device"
    how = f"on request (user {requested_by})" if requested_by else "automatically"
    lines = [
        f"Ticket created {how} from {label} alert {event.external_alert_id} (alert {alert_id}).",
        f"Device: {device}. Severity: {event.severity}. Condition: {event.condition_id}.",
    ]
    if event.message:
        lines.append(f"Message: {templates.clip(event.message, templates.MAX_VALUE_LENGTH)}")
    return "\n".join(lines)


def occurrence_note(occurrence: int, event: NormalizedAlertEvent) -> str:
    note = f"Alert re-triggered — occurrence {occurrence}"
    if event.message:
        note += f": {templates.clip(event.message, templates.MAX_VALUE_LENGTH)}"
    return note


@dataclass(frozen=True)
class TicketState:
    ticket_closed: bool
    status_id: UUID | None
    initial_status_id: UUID | None
    has_human_comment: bool
    has_time_entry: bool


def touches(state: TicketState) -> list[str]:
    """Why a human has touched the ticket; empty means untouched. Assignment never counts."""
    found: list[str] = []
    if state.has_human_comment:
        found.append("a technician commented")
    if state.has_time_entry:
        found.append("time was logged")
    if state.initial_status_id is not None and state.status_id != state.initial_status_id:
        found.append("the status was changed")
    return found


@dataclass(frozen=True)
class CloseDecision:
    close: bool
    note: str


def reset_decision(label: str, state: TicketState, *, others_active: int, close_status: UUID | None) -> CloseDecision:
    """What an auto-resolving reset does to its ticket, and the note that says why."""
    base = f"{label} alert reset: the condition has cleared."
    if state.ticket_closed:
        return CloseDecision(False, base + " The ticket was already closed.")
    if others_active > 0:
        plural = "alert is" if others_active == 1 else "alerts are"
        return CloseDecision(False, base + f" The ticket stays open: {others_active} other {plural} still active.")
    reasons = touches(state)
    if reasons:
        return CloseDecision(False, base + " The ticket stays open because " + " and ".join(reasons) + ".")
    if close_status is None:
        return CloseDecision(False, base + " The ticket stays open: this tenant has no closed status.")
    return CloseDecision(True, base + " The ticket was untouched, so it was closed automatically.")
