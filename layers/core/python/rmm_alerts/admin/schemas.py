"""Request and response bodies of the admin API (camelCase on the wire)."""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, Any, Literal
from urllib.parse import urlsplit
from uuid import UUID

from pydantic import AfterValidator, BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel

from rmm_alerts.contracts import AlertStatus, Id, Provider, RuleActions, RuleConditions, Severity

MAX_BODY_BYTES = 64 * 1024


# defer_build: a model's validator and serializer are built on its first use, not at import (cold
# start; one request touches a few of these). pydantic >= 2.14 makes that first build thread-safe.
class _In(BaseModel):
    model_config = ConfigDict(
        strict=True, extra="forbid", alias_generator=to_camel, populate_by_name=True, defer_build=True
    )


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True, defer_build=True)


def _http_url(value: str) -> str:
    parts = urlsplit(value)
    if parts.scheme not in ("https", "http") or not parts.hostname:
        raise ValueError("must be an http(s) URL")
    return value.rstrip("/")


Name = Annotated[str, Field(min_length=1, max_length=200)]
HttpUrl = Annotated[str, Field(min_length=1, max_length=500), AfterValidator(_http_url)]
ExternalId = Annotated[str, Field(min_length=1, max_length=255)]


# -- integrations -----------------------------------------------------------------------------


class IntegrationIn(_In):
    provider: Provider = Field(description="Which RMM: `ninjaone` or `tacticalrmm`.")
    name: Name = Field(description="A name for people, e.g. `NinjaOne EU`.")
    instance_url: HttpUrl | None = Field(
        default=None,
        description="The RMM's API base URL (NinjaOne region, e.g. `https://eu.ninjarmm.com`; TacticalRMM "
        "API host), used by polling and resets.",
    )
    credentials: dict[str, Any] | None = Field(
        default=None,
        description="NinjaOne: {clientId, clientSecret}; TacticalRMM: {apiKey}. Stored in the secret store, "
        "never returned.",
    )


class IntegrationPatch(_In):
    name: Name | None = Field(default=None, description="A new name; absent: unchanged.")
    instance_url: HttpUrl | None = Field(default=None, description="A new API base URL; null clears it.")
    credentials: dict[str, Any] | None = Field(
        default=None, description="New credentials (same shape as on create); null removes them."
    )


class RotateIn(_In):
    grace_hours: int = Field(default=24, ge=0, le=168, description="How long the previous secret stays valid.")


class PollingIn(_In):
    enabled: bool = Field(
        description="Poll the RMM for missed alerts and resets (the schedule is disabled when false)."
    )
    interval_minutes: int = Field(default=15, ge=5, le=60, description="Minutes between polls.")


class PollingOut(_Out):
    enabled: bool = Field(description="Whether the poll schedule runs.")
    interval_minutes: int = Field(description="Minutes between polls.")
    last_polled_at: datetime | None = Field(description="When the last poll finished; null: never.")
    schedule_name: str = Field(description="The EventBridge Scheduler schedule, `rmm-poll-<integrationId>`.")


class WebhookRegistration(_Out):
    """NinjaOne only: the webhook this service registered through NinjaOne's API."""

    status: Literal["registered", "failed", "deleted", "skipped"]
    error: str | None = None
    at: datetime


class TestConnectionOut(_Out):
    ok: bool
    error: str | None = None


class AlertTemplate(_Out):
    """What to paste into a TacticalRMM alert template's two URL actions (method POST)."""

    url: str = Field(description="The URL of both actions: this integration's webhook URL.")
    headers: dict[str, str] = Field(description="The headers of both actions, with the webhook secret.")
    trigger_body: str = Field(description="The body of the failure action.")
    resolve_body: str = Field(description="The body of the resolved action.")


class IntegrationOut(_Out):
    integration_id: UUID
    provider: Provider
    name: str
    instance_url: str | None = Field(description="The RMM's API base URL.")
    is_active: bool = Field(description="False once disconnected: webhooks then answer 404 and writes 409.")
    has_credentials: bool = Field(description="Whether API credentials are stored (they are never returned).")
    webhook_url: str = Field(description="Where the RMM sends this integration's webhooks.")
    polling: PollingOut
    previous_secret_expires_at: datetime | None = Field(
        description="After a rotation: until when the previous webhook secret is still accepted."
    )
    connected_at: datetime
    disconnected_at: datetime | None
    created_at: datetime
    updated_at: datetime
    alert_template: AlertTemplate | None = Field(
        default=None, description="TacticalRMM only: what to paste into a Tactical alert template."
    )
    last_polled_at: datetime | None = Field(default=None, description="End of the last successful poll cycle.")
    last_poll_error: str | None = Field(default=None, description="The last cycle's error; null after a success.")
    webhook_registration: WebhookRegistration | None = None


class IntegrationCreated(IntegrationOut):
    webhook_secret: str = Field(description="Shown only here and on rotation.")
    channel_url: str | None = Field(
        default=None,
        description="NinjaOne only: the URL for a webhook notification channel set up in NinjaOne's UI "
        "(its last segment is a secret). Shown only here and on rotation.",
    )


class IntegrationList(_Out):
    items: list[IntegrationOut]


class SecretRotated(_Out):
    integration_id: UUID
    webhook_url: str
    webhook_secret: str = Field(description="The new secret for the `X-Webhook-Secret` header; shown only here.")
    previous_secret_expires_at: datetime | None = Field(description="Until when the previous secret is still accepted.")
    alert_template: AlertTemplate | None = Field(
        default=None, description="TacticalRMM only: the alert template with the new secret."
    )
    channel_url: str | None = Field(
        default=None, description="NinjaOne only: the new UI-channel URL (its last segment is the channel secret)."
    )
    webhook_registration: WebhookRegistration | None = Field(
        default=None, description="NinjaOne only: the result of re-registering the webhook with the new secret."
    )


# -- mappings ---------------------------------------------------------------------------------


class OrgMappingIn(_In):
    external_organization_id: ExternalId = Field(
        description="The RMM's organization id (NinjaOne organization id, TacticalRMM client id), as text."
    )
    external_organization_name: Annotated[str, Field(max_length=255)] | None = Field(
        default=None, description="Its name, for people."
    )
    client_id: Id = Field(description="The PSA client its alerts' tickets belong to.")
    default_contact_id: Id | None = Field(
        default=None, description="The contact of those tickets (a contact of that client); default: its primary."
    )


class OrgMappingOut(_Out):
    mapping_id: UUID
    integration_id: UUID
    external_organization_id: str
    external_organization_name: str | None
    client_id: UUID
    client_name: str | None
    default_contact_id: UUID | None
    created_at: datetime
    updated_at: datetime


class OrgMappingList(_Out):
    items: list[OrgMappingOut]


class DeviceMappingIn(_In):
    asset_id: Id = Field(
        description="The PSA asset this RMM device is; its client wins over the organization mapping's."
    )


class DeviceMappingOut(_Out):
    mapping_id: UUID
    integration_id: UUID
    external_device_id: str
    asset_id: UUID
    asset_name: str | None
    created_at: datetime
    updated_at: datetime


class DeviceMappingList(_Out):
    items: list[DeviceMappingOut]


# -- rules ------------------------------------------------------------------------------------


class RuleIn(_In):
    """An alert rule of one integration. Rules are tried in order; the first match decides."""

    name: Name
    description: Annotated[str, Field(max_length=2000)] | None = None
    is_active: bool = Field(default=True, description="An inactive rule is skipped.")
    conditions: RuleConditions = Field(description="When the rule applies; `{}` matches every alert.")
    actions: RuleActions = Field(description="What it does; `{}` creates tickets with every default.")


class RuleOrderIn(_In):
    rule_ids: list[Id] = Field(max_length=1000, description="Every rule id of the integration, in the new order.")


class RuleOut(_Out):
    rule_id: UUID
    integration_id: UUID
    name: str
    description: str | None
    is_active: bool
    priority_order: int = Field(description="Position in the evaluation order (ascending; the first match decides).")
    conditions: dict[str, Any] = Field(description="As stored: see `RuleConditions`.")
    actions: dict[str, Any] = Field(description="As stored, every default written out: see `RuleActions`.")
    created_at: datetime
    updated_at: datetime


class RuleList(_Out):
    items: list[RuleOut]


# -- maintenance windows ----------------------------------------------------------------------


class WindowOut(_Out):
    window_id: UUID
    name: str
    is_active: bool
    integration_id: UUID | None = Field(description="Scope: only this integration; null: any.")
    client_id: UUID | None = Field(description="Scope: only this client; null: any.")
    asset_id: UUID | None = Field(description="Scope: only this asset; null: any.")
    starts_at: datetime | None = Field(description="One-off window start (included).")
    ends_at: datetime | None = Field(description="One-off window end (excluded).")
    recurrence: dict[str, Any] | None = Field(description="A weekly window: see `WeeklyRecurrence`.")
    active_now: bool = Field(description="Whether the window suppresses alerts happening now.")
    next_starts_at: datetime | None = Field(description="The current occurrence's start when active, else the next.")
    next_ends_at: datetime | None = Field(description="The end of that occurrence; null when there is none.")
    created_at: datetime
    updated_at: datetime


class WindowList(_Out):
    items: list[WindowOut]


# -- alerts -----------------------------------------------------------------------------------


class TicketNote(_Out):
    created_at: datetime = Field(description="When the note was written.")
    author: Literal["system", "human"] = Field(
        description="`system`: written by this service (creation, occurrence and reset notes); "
        "`human`: written by a technician."
    )
    user_id: UUID | None = Field(description="The PSA user who wrote it, when known.")
    is_internal: bool = Field(description="An internal note (not visible to the client).")
    text: str = Field(description="The note, cut to 4000 characters (ending in `…` when cut).")


class TicketLink(_Out):
    """The alert's PSA ticket."""

    ticket_id: UUID
    ticket_number: str = Field(description="The PSA ticket number, e.g. `TIC000001`.")
    title: str
    status_name: str | None = Field(description="The ticket's current status.")
    is_closed: bool
    note_count: int = Field(description="How many notes the ticket has in all.")
    notes: list[TicketNote] = Field(
        description="The ticket's newest notes (at most 50), oldest first: the initial note, "
        '"Alert re-triggered — occurrence N" notes, the reset note, and technicians\' comments.'
    )


class AlertOut(_Out):
    alert_id: UUID
    integration_id: UUID
    provider: Provider
    external_alert_id: str = Field(
        description="The RMM's id of the triggering delivery (NinjaOne activity id, TacticalRMM alert id)."
    )
    external_device_id: str | None = Field(
        description="The RMM's device id (NinjaOne device id, TacticalRMM agent id)."
    )
    device_name: str | None
    condition_id: str | None = Field(
        description="What fired on the device (NinjaOne sourceConfigUid; TacticalRMM `check:<id>`, …)."
    )
    activity_type: str | None
    alert_class: str | None
    source_type: str | None
    severity: Severity = Field(description="Normalized: critical, major, moderate, minor, none.")
    message: str | None
    external_organization_id: str | None
    external_organization_name: str | None
    status: AlertStatus = Field(
        description="`active`, `acknowledged`, `resolved`, `auto_resolved` (resolved and its ticket closed), "
        "`suppressed` (by a maintenance window)."
    )
    dedup_key: str = Field(description="Device + condition: alerts with one key share one open ticket.")
    occurrence_count: int = Field(description="How often this condition fired while its ticket was open.")
    triggered_at: datetime = Field(description="When the RMM says the alert happened.")
    last_occurrence_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    matched_rule_id: UUID | None = Field(description="The rule that decided (first match); null: none matched.")
    auto_ticket_created: bool = Field(description="A rule created the ticket (false when asked for by a user).")
    suppressed_by_window_id: UUID | None = Field(description="The maintenance window that suppressed it.")
    ticket_id: UUID | None = Field(description="The linked PSA ticket (created or joined).")
    ticket_number: str | None = Field(description="The linked ticket's number, e.g. `TIC000001`; null without one.")
    asset_id: UUID | None
    client_id: UUID | None
    created_at: datetime
    updated_at: datetime


class AlertPage(_Out):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class AlertDetail(AlertOut):
    decision_trace: dict[str, Any] = Field(
        description="Why the alert did what it did: window, rules evaluated with reasons, the ticket group, "
        "the reset decision (see docs/rules.md)."
    )
    metadata: dict[str, Any] = Field(description="The raw RMM payloads (`raw`, `reset.raw`, …) and receive times.")
    ticket: TicketLink | None = Field(description="The linked ticket with its notes; null without one.")


class CreateTicketIn(_In):
    """The ``rmm.alerts.create_ticket`` action: a ticket for an alert that has none, made as a rule
    would make it. Every field is optional."""

    board_id: Id | None = Field(default=None, description="Board; default: the tenant's default board.")
    priority_id: Id | None = Field(default=None, description="Priority; default: picked from the severity.")
    assign_to_user_id: Id | None = Field(default=None, description="Assign the ticket to this user.")
    title_template: Annotated[str, Field(max_length=500)] | None = Field(
        default=None, description="Title; placeholders `{{device}}`, `{{message}}`, `{{severity}}`, `{{organization}}`."
    )
    description_template: Annotated[str, Field(max_length=10_000)] | None = Field(
        default=None, description="Description; same placeholders."
    )


class TicketCreated(_Out):
    ticket_id: UUID
    ticket_number: str


# -- lookups and rule preview (admin UI) ------------------------------------------------------


class Me(_Out):
    user_id: str
    tenant_id: UUID
    groups: list[str]
    is_admin: bool = Field(description="Whether the caller may change anything (the rmm-admin group).")


class LookupItem(_Out):
    id: UUID
    name: str
    detail: str | None = Field(default=None, description="A second line for the picker, e.g. an e-mail.")


class LookupPage(_Out):
    items: list[LookupItem]
    next_offset: int | None = Field(description="Pass as `offset` for the next page; null on the last page.")


class RulePreviewIn(_In):
    conditions: RuleConditions


class PreviewExample(_Out):
    alert_id: UUID
    triggered_at: datetime
    severity: Severity
    status: AlertStatus
    device_name: str | None
    external_organization_name: str | None
    message: str | None = Field(description="The first 300 characters.")


class RulePreview(_Out):
    evaluated: int = Field(description="How many recent alerts were evaluated (at most `limit`).")
    matched: int
    limit: int
    examples: list[PreviewExample]


# -- errors -----------------------------------------------------------------------------------


class ErrorItem(_Out):
    path: str = Field(description='Dotted camelCase field path, or "" for the request as a whole.')
    message: str = Field(description="What is wrong, for people.")


class ErrorBody(_Out):
    errors: list[ErrorItem]


AlertStatusFilter = Literal["active", "acknowledged", "resolved", "auto_resolved", "suppressed"]


# -- notification preferences -----------------------------------------------------------------


class RmmAlertChannels(_In):
    in_app: bool = Field(description="In-app notifications (internal_notifications) for RMM alert tickets.")
    email: bool = Field(description="E-mail notifications for RMM alert tickets.")


class NotificationPreferences(_In):
    """The caller's own preferences; both channels default to on."""

    rmm_alerts: RmmAlertChannels
