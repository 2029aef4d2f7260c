"""Notifications (docs/rules.md, notifyUserIds) end to end on PostgreSQL: pipeline -> outbox -> dispatcher -> in-app
rows and SES (moto) e-mails, per-user preferences, skipped users, header injection."""

from __future__ import annotations

import email
import email.policy
import itertools
import logging
import uuid
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest

from rmm_alerts import config, notify
from rmm_alerts.delivery import AwsEventPublisher, Email, LocalMailbox, SendResult, SesEmailSender
from rmm_alerts.outbox import Dispatcher, deliver
from tests.support.delivery import BUS, PSA_URL, SENDER, Tap, mocked_bus
from tests.support.events import event, run
from tests.support.world import Tenant, make_tenant


@pytest.fixture
def tap(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tap]:
    with mocked_bus(monkeypatch) as t:
        yield t


def dispatcher(uow_factory: Any, database_url: str, *, mailer: Any = "ses", **env: str) -> Dispatcher:
    settings = config.load(
        config.OutboxSettings,
        {
            "DATABASE_URL": database_url,
            "EVENT_BUS_NAME": BUS,
            "NOTIFICATION_SENDER": SENDER,
            "PSA_BASE_URL": PSA_URL,
            **env,
        },
    )
    return Dispatcher(
        uow_factory=uow_factory,
        publisher=AwsEventPublisher(BUS),
        mailer=SesEmailSender(SENDER) if mailer == "ses" else mailer,
        settings=settings,
    )


def add_user(world: Tenant, email_addr: str | None, *, inactive: bool = False, name: str = "Uma") -> uuid.UUID:
    uid = uuid.uuid4()
    world.q(
        """INSERT INTO users (tenant, user_id, email, first_name, last_name, is_inactive)
           VALUES (%s, %s, %s, %s, 'User', %s)""",
        world.tenant,
        uid,
        email_addr,
        name,
        inactive,
    )
    return uid


def set_prefs(world: Tenant, user: uuid.UUID, in_app: bool, mail: bool) -> None:
    world.q(
        "INSERT INTO rmm_notification_preferences (tenant, user_id, rmm_in_app, rmm_email) VALUES (%s, %s, %s, %s)",
        world.tenant,
        user,
        in_app,
        mail,
    )


def in_app_rows(world: Tenant) -> list[dict[str, Any]]:
    return world.q("SELECT * FROM internal_notifications WHERE tenant = %s ORDER BY created_at, user_id", world.tenant)


def notification_outcomes(world: Tenant) -> dict[tuple[str, str], str | None]:
    return {
        (r["payload"]["userId"], r["payload"]["channel"]): r["outcome"]
        for r in world.outbox()
        if r["kind"] == "notification"
    }


def test_preference_matrix_in_app_and_email_content(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    users: dict[tuple[bool, bool], uuid.UUID] = {}
    for in_app, mail in itertools.product([True, False], repeat=2):
        uid = add_user(world, f"u-{int(in_app)}{int(mail)}@msp.example.com")
        users[(in_app, mail)] = uid
        if not (in_app and mail):  # the all-on user keeps the defaults (no row)
            set_prefs(world, uid, in_app, mail)
    world.add_rule(actions={"notifyUserIds": [str(u) for u in users.values()]})
    result = run(uow_factory, event(world, severity="critical", message="Disk C: is 95% full"))
    assert result.outcome == "ticket_created"

    summary = deliver(dispatcher(uow_factory, database_url))
    assert summary.sent == 2 + 4 and summary.skipped == 4  # 2 events, 2 in-app + 2 e-mails sent

    rows = in_app_rows(world)
    assert {r["user_id"] for r in rows} == {users[(True, True)], users[(True, False)]}
    for r in rows:
        assert r["title"] == "RMM Alert (critical): SRV-101"
        assert r["message"] == "Disk C: is 95% full"
        assert (r["type"], r["category"], r["is_read"]) == ("error", "rmm-alerts", False)
        assert r["link"] == f"/msp/tickets/{result.ticket_id}"

    sent = tap.emails()
    assert sorted(m.destinations["ToAddresses"][0] for m in sent) == [
        "u-01@msp.example.com",
        "u-11@msp.example.com",
    ]
    for m in sent:
        assert m.source == SENDER
        assert m.subject == "RMM Alert (critical): SRV-101"
        # moto keeps the HTML body: severity, device, message, ticket number and link.
        for part in ("critical", "SRV-101", "Disk C: is 95% full", "TIC000001"):
            assert part in m.body
        assert f'href="{PSA_URL}/msp/tickets/{result.ticket_id}"' in m.body

    outcomes = notification_outcomes(world)
    assert outcomes[(str(users[(False, True)]), "in_app")] == "skipped: in-app turned off by the user"
    assert outcomes[(str(users[(True, False)]), "email")] == "skipped: e-mail turned off by the user"
    assert outcomes[(str(users[(False, False)]), "email")] == "skipped: e-mail turned off by the user"
    assert outcomes[(str(users[(True, True)]), "email")] == "sent"


def test_type_is_warning_below_critical(world: Tenant, uow_factory: Any, database_url: str, tap: Tap) -> None:
    world.add_rule(actions={"notifyUserIds": [str(world.user_id)]})
    run(uow_factory, event(world, severity="moderate"))
    deliver(dispatcher(uow_factory, database_url))
    (row,) = in_app_rows(world)
    assert row["type"] == "warning" and row["title"] == "RMM Alert (moderate): SRV-101"


def test_device_name_cannot_inject_headers(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap, tmp_path: Path
) -> None:
    world.add_rule(actions={"notifyUserIds": [str(world.user_id)]})
    evil = "SRV-9\r\nBcc: victim@evil.example\r\n\r\n<script>alert(1)</script>"
    run(uow_factory, event(world, device_name=evil, message="a <b>bold</b> claim"))
    deliver(dispatcher(uow_factory, database_url))
    (m,) = tap.emails()
    assert "\r" not in m.subject and "\n" not in m.subject
    assert m.subject == "RMM Alert (critical): SRV-9 Bcc: victim@evil.example <script>alert(1)</script>"
    assert "<script>" not in m.body and "&lt;script&gt;" in m.body
    assert "<b>bold</b>" not in m.body and "&lt;b&gt;bold&lt;/b&gt;" in m.body
    (row,) = in_app_rows(world)
    assert "\n" not in row["title"] and "\r" not in row["title"]

    # The same message as a real MIME file: one To, no Bcc, the subject on one header line.
    box = LocalMailbox(tmp_path, SENDER)
    outbox_row = next(r for r in world.outbox() if r["payload"].get("channel") == "email")
    msg = notify.email(
        notify.NotificationRequest.model_validate(outbox_row["payload"]),
        to="tech@acme.test",
        ticket_number="TIC000001",
        psa_base_url=PSA_URL,
    )
    box.send(msg)
    (eml,) = tmp_path.glob("*.eml")
    parsed = email.message_from_bytes(eml.read_bytes(), policy=email.policy.default)
    assert parsed["Bcc"] is None and parsed["To"] == "tech@acme.test"
    assert parsed["Subject"] == m.subject


def test_inactive_and_missing_users_are_skipped_and_logged(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap, caplog: pytest.LogCaptureFixture
) -> None:
    inactive = add_user(world, "gone@msp.example.com")
    missing = uuid.uuid4()
    # Saved while the user was active (the API checks at save time); deactivated since.
    world.add_rule(actions={"notifyUserIds": [str(inactive), str(missing), str(world.user_id)]})
    world.q("UPDATE users SET is_inactive = true WHERE tenant = %s AND user_id = %s", world.tenant, inactive)
    run(uow_factory, event(world))
    with caplog.at_level(logging.INFO, logger="rmm_alerts.outbox"):
        summary = deliver(dispatcher(uow_factory, database_url))
    assert summary.parked == 0 and summary.retrying == 0
    assert [r["user_id"] for r in in_app_rows(world)] == [world.user_id]
    assert [m.destinations["ToAddresses"] for m in tap.emails()] == [["tech@acme.test"]]
    outcomes = notification_outcomes(world)
    assert outcomes[(str(inactive), "in_app")] == outcomes[(str(inactive), "email")] == "skipped: user inactive"
    assert outcomes[(str(missing), "in_app")] == outcomes[(str(missing), "email")] == "skipped: user not found"
    skipped = [r for r in caplog.records if r.getMessage().startswith("notification skipped")]
    assert {getattr(r, "user_id", None) for r in skipped} == {str(inactive), str(missing)}


def test_no_sender_means_no_email_logged_once(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap, caplog: pytest.LogCaptureFixture
) -> None:
    from rmm_alerts import outbox

    outbox._no_sender_logged.clear()
    second = add_user(world, "second@msp.example.com")
    world.add_rule(actions={"notifyUserIds": [str(world.user_id), str(second)]})
    run(uow_factory, event(world))
    with caplog.at_level(logging.WARNING, logger="rmm_alerts.outbox"):
        summary = deliver(dispatcher(uow_factory, database_url, mailer=None))
    assert tap.emails() == []
    assert len(in_app_rows(world)) == 2
    assert summary.skipped == 2
    warnings = [r for r in caplog.records if "NOTIFICATION_SENDER" in r.getMessage()]
    assert len(warnings) == 1


class FailingOnce:
    """An e-mail sender whose first send fails transiently (SES throttling), then works."""

    sender = SENDER

    def __init__(self) -> None:
        self.sent: list[Email] = []
        self.failed = False

    def send(self, message: Email) -> SendResult:
        if not self.failed:
            self.failed = True
            return SendResult("Throttling: slow down")
        self.sent.append(message)
        return SendResult()


def test_a_failed_email_is_retried_without_repeating_the_in_app_row(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    world.add_rule(actions={"notifyUserIds": [str(world.user_id)]})
    run(uow_factory, event(world))
    mailer = FailingOnce()
    d = dispatcher(uow_factory, database_url, mailer=mailer)
    first = deliver(d)
    assert first.retrying == 1 and len(in_app_rows(world)) == 1 and mailer.sent == []
    d.now = lambda: datetime.now(UTC).replace(year=2100)  # long past the backoff
    second = deliver(d)
    assert second.sent == 1 and len(mailer.sent) == 1
    assert len(in_app_rows(world)) == 1


def test_only_new_tickets_notify_never_occurrences_or_suppressed(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    world.add_rule(actions={"notifyUserIds": [str(world.user_id)]})
    first = run(uow_factory, event(world))
    again = run(uow_factory, event(world))  # same device and condition: an occurrence
    assert (first.outcome, again.outcome) == ("ticket_created", "occurrence_appended")
    world.add_window("Now", starts_at=datetime(2000, 1, 1, tzinfo=UTC), ends_at=datetime(2100, 1, 1, tzinfo=UTC))
    quiet = run(uow_factory, event(world, device="202"))
    assert quiet.outcome == "suppressed"
    assert len([r for r in world.outbox() if r["kind"] == "notification"]) == 2  # in-app + e-mail, once
    deliver(dispatcher(uow_factory, database_url))
    assert len(in_app_rows(world)) == 1 and len(tap.emails()) == 1


def test_notifications_stay_in_their_tenant(
    world: Tenant, conn: Any, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    other = make_tenant(conn, "Other MSP")
    other.map_org("2")
    # The same user id exists in the other tenant, with e-mail turned off there.
    conn.execute(
        "INSERT INTO users (tenant, user_id, email) VALUES (%s, %s, 'twin@other.example')",
        (other.tenant, world.user_id),
    )
    set_prefs(other, world.user_id, False, False)
    world.add_rule(actions={"notifyUserIds": [str(world.user_id)]})
    run(uow_factory, event(world))
    deliver(dispatcher(uow_factory, database_url))
    assert [m.destinations["ToAddresses"] for m in tap.emails()] == [["tech@acme.test"]]
    assert len(in_app_rows(world)) == 1 and in_app_rows(other) == []


class ExplodingFor:
    """An e-mail sender with a bug for one address: it raises instead of reporting a result."""

    sender = SENDER

    def __init__(self, address: str) -> None:
        self.address = address
        self.sent: list[str] = []

    def send(self, message: Email) -> SendResult:
        if message.to == self.address:
            raise RuntimeError("adapter bug")
        self.sent.append(message.to)
        return SendResult()


def test_an_entry_that_raises_fails_alone_and_is_parked_in_the_end(
    world: Tenant, uow_factory: Any, database_url: str, tap: Tap
) -> None:
    poison = add_user(world, "poison@msp.example.com")
    world.add_rule(actions={"notifyUserIds": [str(poison), str(world.user_id)]})
    run(uow_factory, event(world))
    mailer = ExplodingFor("poison@msp.example.com")
    d = dispatcher(uow_factory, database_url, mailer=mailer, OUTBOX_MAX_ATTEMPTS="2")
    first = deliver(d)
    assert (first.sent, first.retrying) == (5, 1)  # 2 events, 2 in-app, 1 e-mail; the poison waits
    assert mailer.sent == ["tech@acme.test"] and len(in_app_rows(world)) == 2
    assert len(tap.events()) == 2
    d.now = lambda: datetime.now(UTC).replace(year=2100)
    second = deliver(d)
    assert (second.parked, second.parked_total) == (1, 1)
    (parked,) = [r for r in world.outbox() if r["parked_at"] is not None]
    assert parked["payload"]["userId"] == str(poison) and "RuntimeError: adapter bug" in parked["last_error"]
