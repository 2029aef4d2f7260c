"""Normalized events for pipeline tests."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime, timedelta
from typing import Any

from rmm_alerts.contracts import EventKind, NormalizedAlertEvent
from rmm_alerts.pipeline import ProcessResult, process_event
from tests.support.world import Tenant

_ids = itertools.count(1000)
T0 = datetime(2026, 6, 12, 14, 0, tzinfo=UTC)


def event(
    world: Tenant,
    kind: str = "triggered",
    *,
    external_alert_id: str | None = None,
    device: str | None = "101",
    condition: str = "cond-disk-c",
    pairing: str | None = "series-1",
    severity: str = "critical",
    message: str | None = "Disk C: is 95% full",
    org: str | None = "2",
    at: datetime | None = None,
    **overrides: Any,
) -> NormalizedAlertEvent:
    fields: dict[str, Any] = {
        "tenant_id": world.tenant,
        "integration_id": world.integration_id,
        "provider": "ninjaone",
        "kind": EventKind(kind),
        "external_alert_id": external_alert_id or str(next(_ids)),
        "external_device_id": device,
        "condition_id": condition,
        "pairing_id": pairing,
        "activity_type": "CONDITION",
        "alert_class": "Disk Free Space",
        "source_type": "CONDITION",
        "severity": severity,
        "message": message,
        "device_name": f"SRV-{device}" if device else None,
        "external_organization_id": org,
        "external_organization_name": "Globex" if org else None,
        "occurred_at": at or T0,
        "raw": {"id": 1, "statusCode": kind.upper()},
    }
    fields.update(overrides)
    return NormalizedAlertEvent(**fields)


def later(minutes: int) -> datetime:
    return T0 + timedelta(minutes=minutes)


def run(uow_factory: Any, ev: NormalizedAlertEvent) -> ProcessResult:
    """process_event in a fresh unit of work, as a handler would call it."""
    return process_event(ev, uow_factory())
