"""Notification payloads and messages: pure functions, table-driven."""

from __future__ import annotations

import uuid
from datetime import timedelta

import pytest

from rmm_alerts import notify
from rmm_alerts.db.outbox import order_key_for
from rmm_alerts.delivery import from_address
from rmm_alerts.outbox import backoff

TENANT, USER, TICKET, ALERT = (uuid.uuid4() for _ in range(4))


def request(**over: object) -> notify.NotificationRequest:
    payload = {
        "tenantId": str(TENANT),
        "userId": str(USER),
        "channel": "email",
        "alertId": str(ALERT),
        "ticketId": str(TICKET),
        "severity": "critical",
        "device": "SRV-01",
        "message": "Disk C: is 95% full",
        **over,
    }
    return notify.NotificationRequest.model_validate(payload)


def test_one_entry_per_user_and_channel_users_deduplicated_in_order() -> None:
    other = uuid.uuid4()
    out = notify.ticket_notifications(
        tenant_id=TENANT,
        user_ids=[USER, other, USER],
        ticket_id=TICKET,
        severity="major",
        device="SRV-01",
        message=None,
        alert_id=ALERT,
    )
    assert [(o["userId"], o["channel"]) for o in out] == [
        (str(USER), "in_app"),
        (str(USER), "email"),
        (str(other), "in_app"),
        (str(other), "email"),
    ]
    assert {o["category"] for o in out} == {"rmm-alerts"}
    assert all(notify.NotificationRequest.model_validate(o) for o in out)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("SRV-01", "SRV-01"),
        ("SRV\r\nBcc: x@evil", "SRV Bcc: x@evil"),
        ("a\rb\nc\r\n\r\nd", "a b c d"),
        ("line\u2028sep\u2029para\x85nel\x0bvt\x0cff", "line sep para nel vt ff"),
        ("  padded\n", "padded"),
        (None, ""),
        ("x" * 300, "x" * 199 + "…"),
    ],
)
def test_one_line(value: str | None, expected: str) -> None:
    assert notify.one_line(value) == expected


@pytest.mark.parametrize(
    ("severity", "kind"),
    [("critical", "error"), ("major", "warning"), ("moderate", "warning"), ("minor", "warning"), ("none", "warning")],
)
def test_in_app_type_title_link(severity: str, kind: str) -> None:
    item = notify.in_app(request(channel="in_app", severity=severity, device="SRV\n01"))
    assert item.type == kind
    assert item.title == f"RMM Alert ({severity}): SRV 01"
    assert item.link == f"/msp/tickets/{TICKET}"
    assert item.category == "rmm-alerts"
    assert item.message == "Disk C: is 95% full"


def test_in_app_without_message_says_what_happened() -> None:
    assert notify.in_app(request(message=None)).message == "critical alert on SRV-01"


@pytest.mark.parametrize(
    ("base", "link"),
    [
        ("https://psa.example.com", f"https://psa.example.com/msp/tickets/{TICKET}"),
        ("https://psa.example.com/", f"https://psa.example.com/msp/tickets/{TICKET}"),
        (None, f"/msp/tickets/{TICKET}"),
    ],
)
def test_email_bodies(base: str | None, link: str) -> None:
    mail = notify.email(
        request(device='<img src=x onerror="y">', message="50% & rising"),
        to="tech@acme.test",
        ticket_number="TIC000042",
        psa_base_url=base,
    )
    assert mail.to == "tech@acme.test"
    assert mail.subject == 'RMM Alert (critical): <img src=x onerror="y">'
    for part in ("critical", '<img src=x onerror="y">', "50% & rising", "TIC000042", link):
        assert part in mail.text
    assert "<img" not in mail.html and "&lt;img src=x onerror=&quot;y&quot;&gt;" in mail.html
    assert "50% &amp; rising" in mail.html and "TIC000042" in mail.html
    assert f'href="{link}"' in mail.html


def test_email_subject_never_holds_a_line_break() -> None:
    mail = notify.email(
        request(severity="critical\r\nX-Evil: 1", device="A\nB"),
        to="t@x.test\r\n",
        ticket_number=None,
        psa_base_url=None,
    )
    assert "\r" not in mail.subject and "\n" not in mail.subject and "\n" not in mail.to
    assert str(TICKET) in mail.text  # no number yet: the id stands in


@pytest.mark.parametrize(
    ("kind", "payload", "key"),
    [
        ("event", {"alertId": "a", "ticketId": "t"}, "a"),
        ("event", {"ticketId": "t"}, "t"),
        ("event", {}, None),
        ("notification", {"alertId": "a"}, None),
    ],
)
def test_order_key(kind: str, payload: dict[str, str], key: str | None) -> None:
    assert order_key_for(kind, payload) == key


@pytest.mark.parametrize(("attempts", "seconds"), [(1, 30), (2, 60), (3, 120), (7, 1920), (8, 3600), (50, 3600)])
def test_backoff(attempts: int, seconds: int) -> None:
    assert backoff(attempts) == timedelta(seconds=seconds)


@pytest.mark.parametrize(
    ("sender", "address"),
    [("alerts@msp.example.com", "alerts@msp.example.com"), ("msp.example.com", "rmm-alerts@msp.example.com")],
)
def test_from_address(sender: str, address: str) -> None:
    assert from_address(sender) == address
