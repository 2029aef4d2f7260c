"""Workflow event payloads: ``RMM_ALERT_RESOLVED`` for a stored alert row, as the pipeline's reset
and the ticket-closed subscriber write it to the outbox."""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from rmm_alerts import events

TENANT = uuid.UUID("00000000-0000-4000-8000-000000000001")
INTEGRATION = uuid.UUID("00000000-0000-4000-8000-000000000002")
ALERT = uuid.UUID("00000000-0000-4000-8000-000000000003")
ASSET = uuid.UUID("00000000-0000-4000-8000-000000000004")
CLIENT = uuid.UUID("00000000-0000-4000-8000-000000000005")
TICKET = uuid.UUID("00000000-0000-4000-8000-000000000006")
AT = datetime(2026, 11, 30, 5, 0, 1, tzinfo=UTC)

FULL = {
    "alert_id": ALERT,
    "external_alert_id": "ninja-101",
    "severity": "critical",
    "external_device_id": "dev-7",
    "asset_id": ASSET,
    "client_id": CLIENT,
    "message": "Disk C: 95% full",
    "source_type": "CONDITION",
    "alert_class": "disk",
    "status": "active",  # other columns of the row are ignored
}
BARE = {**FULL, "external_device_id": None, "asset_id": None, "client_id": None, "message": None}
BARE.update(source_type=None, alert_class=None)


@pytest.mark.parametrize(
    ("row", "ticket", "expected"),
    [
        (
            FULL,
            TICKET,
            '{"tenantId": "00000000-0000-4000-8000-000000000001", "integrationId": '
            '"00000000-0000-4000-8000-000000000002", "provider": "ninjaone", "alertId": '
            '"00000000-0000-4000-8000-000000000003", "externalAlertId": "ninja-101", "severity": "critical", '
            '"externalDeviceId": "dev-7", "assetId": "00000000-0000-4000-8000-000000000004", "clientId": '
            '"00000000-0000-4000-8000-000000000005", "ticketId": "00000000-0000-4000-8000-000000000006", '
            '"message": "Disk C: 95% full", "sourceType": "CONDITION", "alertClass": "disk", '
            '"resolvedAt": "2026-11-30T05:00:01+00:00"}',
        ),
        (  # absent values are left out, not sent as null
            BARE,
            None,
            '{"tenantId": "00000000-0000-4000-8000-000000000001", "integrationId": '
            '"00000000-0000-4000-8000-000000000002", "provider": "ninjaone", "alertId": '
            '"00000000-0000-4000-8000-000000000003", "externalAlertId": "ninja-101", "severity": "critical", '
            '"resolvedAt": "2026-11-30T05:00:01+00:00"}',
        ),
    ],
)
def test_alert_resolved_payload(row: dict[str, Any], ticket: uuid.UUID | None, expected: str) -> None:
    payload = events.alert_resolved(
        row, tenant_id=TENANT, integration_id=INTEGRATION, provider="ninjaone", ticket_id=ticket, resolved_at=AT
    )
    assert json.dumps(payload) == expected  # key order included: the bytes the outbox stores
