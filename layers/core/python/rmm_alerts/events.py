"""Workflow event payloads (``RMM_ALERT_*``, ``TICKET_*``). Written to the outbox by the
pipeline; delivered to EventBridge (source ``rmm-alerts``) at least once."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any
from uuid import UUID

EVENT_SOURCE = "rmm-alerts"
RMM_ALERT_TRIGGERED = "RMM_ALERT_TRIGGERED"
RMM_ALERT_RESOLVED = "RMM_ALERT_RESOLVED"
TICKET_CREATED = "TICKET_CREATED"
TICKET_CLOSED = "TICKET_CLOSED"
RMM_ALERT_NOTIFICATION = "RMM_ALERT_NOTIFICATION"


def _s(value: Any) -> str | None:
    return None if value is None else str(value)


def _drop_none(payload: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in payload.items() if v is not None}


def alert_event(
    kind: str,
    *,
    tenant_id: UUID,
    integration_id: UUID,
    provider: str,
    alert_id: UUID,
    external_alert_id: str,
    severity: str,
    external_device_id: str | None,
    asset_id: UUID | None,
    client_id: UUID | None,
    ticket_id: UUID | None,
    message: str | None,
    source_type: str | None,
    alert_class: str | None,
    at: datetime,
) -> dict[str, Any]:
    """``RMM_ALERT_TRIGGERED`` (``triggeredAt``) or ``RMM_ALERT_RESOLVED`` (``resolvedAt``)."""
    when = "triggeredAt" if kind == RMM_ALERT_TRIGGERED else "resolvedAt"
    return _drop_none(
        {
            "tenantId": str(tenant_id),
            "integrationId": str(integration_id),
            "provider": provider,
            "alertId": str(alert_id),
            "externalAlertId": external_alert_id,
            "severity": severity,
            "externalDeviceId": external_device_id,
            "assetId": _s(asset_id),
            "clientId": _s(client_id),
            "ticketId": _s(ticket_id),
            "message": message,
            "sourceType": source_type,
            "alertClass": alert_class,
            when: at.isoformat(),
        }
    )


def alert_resolved(
    alert: Mapping[str, Any],
    *,
    tenant_id: UUID,
    integration_id: UUID,
    provider: str,
    ticket_id: UUID | None,
    resolved_at: datetime,
) -> dict[str, Any]:
    """``RMM_ALERT_RESOLVED`` for a stored alert: ``alert`` is its row (``alert_id``,
    ``external_alert_id``, ``severity``, ``external_device_id``, ``asset_id``, ``client_id``,
    ``message``, ``source_type``, ``alert_class``); the rest comes from the resolving caller."""
    return alert_event(
        RMM_ALERT_RESOLVED,
        tenant_id=tenant_id,
        integration_id=integration_id,
        provider=provider,
        alert_id=alert["alert_id"],
        external_alert_id=alert["external_alert_id"],
        severity=alert["severity"],
        external_device_id=alert["external_device_id"],
        asset_id=alert["asset_id"],
        client_id=alert["client_id"],
        ticket_id=ticket_id,
        message=alert["message"],
        source_type=alert["source_type"],
        alert_class=alert["alert_class"],
        at=resolved_at,
    )


def ticket_created(tenant_id: UUID, ticket_id: UUID, source: str) -> dict[str, Any]:
    return {"tenantId": str(tenant_id), "ticketId": str(ticket_id), "source": source}


def ticket_closed(tenant_id: UUID, ticket_id: UUID, closed_at: datetime) -> dict[str, Any]:
    # closedByUserId is absent: the service closed it (the ticket_closed subscriber finds no active alert).
    return {
        "tenantId": str(tenant_id),
        "ticketId": str(ticket_id),
        "closedAt": closed_at.isoformat(),
        "closedBy": EVENT_SOURCE,
    }
