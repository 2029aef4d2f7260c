"""Notifications for a rule's ``notifyUserIds``: what the pipeline
writes to the outbox with a new alert ticket, and what the dispatcher turns it into.

One outbox entry per (user, channel), so a failing e-mail is retried without repeating the in-app
notification. Who receives what is decided at delivery time: an inactive or missing user gets
nothing, and each channel honours the user's preferences then. Pure functions only.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from typing import Any, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict, Field

from rmm_alerts.delivery import Email

NOTIFICATION_CATEGORY = "rmm-alerts"
IN_APP = "in_app"
EMAIL = "email"
CHANNELS = (IN_APP, EMAIL)
MAX_FIELD = 200  # device and severity in titles/subjects


def ticket_notifications(
    *,
    tenant_id: UUID,
    user_ids: list[UUID],
    ticket_id: UUID,
    severity: str,
    device: str,
    message: str | None,
    alert_id: UUID,
) -> list[dict[str, Any]]:
    """Outbox payloads: per distinct user (in the order given), one per channel."""
    seen: set[UUID] = set()
    out: list[dict[str, Any]] = []
    for user in user_ids:
        if user in seen:
            continue
        seen.add(user)
        for channel in CHANNELS:
            out.append(
                {
                    "tenantId": str(tenant_id),
                    "userId": str(user),
                    "channel": channel,
                    "category": NOTIFICATION_CATEGORY,
                    "alertId": str(alert_id),
                    "ticketId": str(ticket_id),
                    "severity": severity,
                    "device": device,
                    "message": message,
                }
            )
    return out


class NotificationRequest(BaseModel):
    """An outbox notification payload, as the dispatcher reads it."""

    model_config = ConfigDict(extra="ignore", populate_by_name=True)

    tenant_id: UUID = Field(alias="tenantId")
    user_id: UUID = Field(alias="userId")
    channel: Literal["in_app", "email"]
    alert_id: UUID = Field(alias="alertId")
    ticket_id: UUID = Field(alias="ticketId")
    severity: str
    device: str
    message: str | None = None


_LINE_BREAKS = re.compile(r"[\r\n\x0b\x0c\x85\u2028\u2029]+")


def one_line(value: str | None, limit: int = MAX_FIELD) -> str:
    """``value`` with every line break (CR, LF and the Unicode ones) replaced by a space: nothing
    interpolated into a header can start a new header."""
    text = _LINE_BREAKS.sub(" ", value or "").strip()
    return text if len(text) <= limit else text[: limit - 1] + "…"


def title(severity: str, device: str) -> str:
    return f"RMM Alert ({one_line(severity)}): {one_line(device)}"


def ticket_path(ticket_id: UUID) -> str:
    return f"/msp/tickets/{ticket_id}"


@dataclass(frozen=True)
class InApp:
    title: str
    message: str
    type: str
    category: str
    link: str


def in_app(request: NotificationRequest) -> InApp:
    """The ``internal_notifications`` row: type ``error`` for critical, else ``warning``."""
    message = request.message or f"{request.severity} alert on {request.device}"
    return InApp(
        title=title(request.severity, request.device),
        message=message,
        type="error" if request.severity == "critical" else "warning",
        category=NOTIFICATION_CATEGORY,
        link=ticket_path(request.ticket_id),
    )


def ticket_url(psa_base_url: str | None, ticket_id: UUID) -> str:
    path = ticket_path(ticket_id)
    return f"{psa_base_url.rstrip('/')}{path}" if psa_base_url else path


def email(request: NotificationRequest, *, to: str, ticket_number: str | None, psa_base_url: str | None) -> Email:
    """Subject "RMM Alert (<severity>): <device>"; text and HTML bodies (every value escaped)."""
    url = ticket_url(psa_base_url, request.ticket_id)
    message = request.message or "(no message)"
    number = ticket_number or str(request.ticket_id)
    subject = title(request.severity, request.device)
    text = "\n".join(
        [
            subject,
            "",
            f"Severity: {request.severity}",
            f"Device:   {one_line(request.device, 1000)}",
            f"Message:  {message}",
            f"Ticket:   {number}",
            f"Open it:  {url}",
            "",
            "You receive this because an alert rule names you. Turn RMM alert e-mails off in your "
            "notification preferences.",
            "",
        ]
    )
    e = html.escape
    rows = "".join(
        f"<tr><th align='left'>{e(label)}</th><td>{e(value)}</td></tr>"
        for label, value in (
            ("Severity", request.severity),
            ("Device", request.device),
            ("Message", message),
            ("Ticket", number),
        )
    )
    body = (
        "<!DOCTYPE html><html><body>"
        f"<h2>{e(subject)}</h2><table>{rows}</table>"
        f'<p><a href="{e(url, quote=True)}">Open ticket {e(number)}</a></p>'
        "<p><small>You receive this because an alert rule names you. Turn RMM alert e-mails off in "
        "your notification preferences.</small></p>"
        "</body></html>"
    )
    return Email(to=one_line(to, 320), subject=subject, text=text, html=body)
