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


class _In(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


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
    provider: Provider
    name: Name
    instance_url: HttpUrl | None = None
    credentials: dict[str, Any] | None = Field(
        default=None,
        description="NinjaOne: {clientId, clientSecret}; TacticalRMM: {apiKey}. Stored in the secret store, "
        "never returned.",
    )


class IntegrationPatch(_In):
    name: Name | None = None
    instance_url: HttpUrl | None = None
    credentials: dict[str, Any] | None = None


class RotateIn(_In):
    grace_hours: int = Field(default=24, ge=0, le=168, description="How long the previous secret stays valid.")


class PollingIn(_In):
    enabled: bool
    interval_minutes: int = Field(default=15, ge=5, le=60)


class PollingOut(_Out):
    enabled: bool
    interval_minutes: int
    last_polled_at: datetime | None
    schedule_name: str


class AlertTemplate(_Out):
    url: str
    headers: dict[str, str]
    trigger_body: str
    resolve_body: str


class IntegrationOut(_Out):
    integration_id: UUID
    provider: Provider
    name: str
    instance_url: str | None
    is_active: bool
    has_credentials: bool
    webhook_url: str
    polling: PollingOut
    previous_secret_expires_at: datetime | None
    connected_at: datetime
    disconnected_at: datetime | None
    created_at: datetime
    updated_at: datetime
    alert_template: AlertTemplate | None = Field(
        default=None, description="TacticalRMM only: what to paste into a Tactical alert template."
    )


class IntegrationCreated(IntegrationOut):
    webhook_secret: str = Field(description="Shown only here and on rotation.")


class IntegrationList(_Out):
    items: list[IntegrationOut]


class SecretRotated(_Out):
    integration_id: UUID
    webhook_url: str
    webhook_secret: str
    previous_secret_expires_at: datetime | None
    alert_template: AlertTemplate | None = None


# -- mappings ---------------------------------------------------------------------------------


class OrgMappingIn(_In):
    external_organization_id: ExternalId
    external_organization_name: Annotated[str, Field(max_length=255)] | None = None
    client_id: Id
    default_contact_id: Id | None = None


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
    asset_id: Id


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
    name: Name
    description: Annotated[str, Field(max_length=2000)] | None = None
    is_active: bool = True
    conditions: RuleConditions
    actions: RuleActions


class RuleOrderIn(_In):
    rule_ids: list[Id] = Field(max_length=1000, description="Every rule id of the integration, in the new order.")


class RuleOut(_Out):
    rule_id: UUID
    integration_id: UUID
    name: str
    description: str | None
    is_active: bool
    priority_order: int
    conditions: dict[str, Any]
    actions: dict[str, Any]
    created_at: datetime
    updated_at: datetime


class RuleList(_Out):
    items: list[RuleOut]


# -- maintenance windows ----------------------------------------------------------------------


class WindowOut(_Out):
    window_id: UUID
    name: str
    is_active: bool
    integration_id: UUID | None
    client_id: UUID | None
    asset_id: UUID | None
    starts_at: datetime | None
    ends_at: datetime | None
    recurrence: dict[str, Any] | None
    active_now: bool
    next_starts_at: datetime | None = Field(description="The current occurrence's start when active, else the next.")
    next_ends_at: datetime | None
    created_at: datetime
    updated_at: datetime


class WindowList(_Out):
    items: list[WindowOut]


# -- alerts -----------------------------------------------------------------------------------


class TicketLink(_Out):
    ticket_id: UUID
    ticket_number: str
    title: str
    status_name: str | None
    is_closed: bool


class AlertOut(_Out):
    alert_id: UUID
    integration_id: UUID
    provider: Provider
    external_alert_id: str
    external_device_id: str | None
    device_name: str | None
    condition_id: str | None
    activity_type: str | None
    alert_class: str | None
    source_type: str | None
    severity: Severity
    message: str | None
    external_organization_id: str | None
    external_organization_name: str | None
    status: AlertStatus
    dedup_key: str
    occurrence_count: int
    triggered_at: datetime
    last_occurrence_at: datetime | None
    acknowledged_at: datetime | None
    resolved_at: datetime | None
    matched_rule_id: UUID | None
    auto_ticket_created: bool
    suppressed_by_window_id: UUID | None
    ticket_id: UUID | None
    asset_id: UUID | None
    client_id: UUID | None
    created_at: datetime
    updated_at: datetime


class AlertPage(_Out):
    items: list[AlertOut]
    next_cursor: str | None = Field(description="Pass as `cursor` for the next page; null on the last page.")


class AlertDetail(AlertOut):
    decision_trace: dict[str, Any]
    metadata: dict[str, Any]
    ticket: TicketLink | None


class CreateTicketIn(_In):
    """The ``rmm.alerts.create_ticket`` action (REFERENCE.md §3)."""

    board_id: Id | None = None
    priority_id: Id | None = None
    assign_to_user_id: Id | None = None
    title_template: Annotated[str, Field(max_length=500)] | None = None
    description_template: Annotated[str, Field(max_length=10_000)] | None = None


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
    message: str


class ErrorBody(_Out):
    errors: list[ErrorItem]


AlertStatusFilter = Literal["active", "acknowledged", "resolved", "auto_resolved", "suppressed"]
