"""Notification requests for a rule's ``notifyUserIds``: in-app and email, written to
the outbox with the new ticket and delivered later, honouring per-user preferences."""

from __future__ import annotations

from typing import Any
from uuid import UUID

NOTIFICATION_CATEGORY = "rmm-alert"


def ticket_notifications(
    *,
    tenant_id: UUID,
    user_ids: list[UUID],
    ticket_id: UUID,
    title: str,
    severity: str,
    device: str,
    alert_id: UUID,
) -> list[dict[str, Any]]:
    """One request per distinct user, in the order given."""
    seen: set[UUID] = set()
    out: list[dict[str, Any]] = []
    for user in user_ids:
        if user in seen:
            continue
        seen.add(user)
        out.append(
            {
                "tenantId": str(tenant_id),
                "userId": str(user),
                "category": NOTIFICATION_CATEGORY,
                "channels": ["in_app", "email"],
                # In-app type: "error" for critical, else "warning".
                "type": "error" if severity == "critical" else "warning",
                "title": f"RMM alert ticket: {title}",
                "emailSubject": f"RMM Alert ({severity}): {device}",
                "link": f"/msp/tickets/{ticket_id}",
                "ticketId": str(ticket_id),
                "alertId": str(alert_id),
                "severity": severity,
            }
        )
    return out
