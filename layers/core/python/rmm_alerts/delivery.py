"""Ports the outbox dispatcher delivers through, each with an AWS and a local adapter.

* :class:`EventPublisher`: workflow events. AWS: EventBridge ``PutEvents`` on ``EVENT_BUS_NAME``
  (at most 10 entries per call, one result per entry). Local: printed on the ``rmm-alerts dev``
  console and kept in memory.
* :class:`EmailSender`: notification e-mails. AWS: SES v2 ``SendEmail`` from
  ``NOTIFICATION_SENDER``. Local: one ``.eml`` file per message under ``LOCAL_MAIL_DIR``.
* :class:`DispatcherKick`: "outbox rows were committed, deliver them now". AWS: an asynchronous
  Lambda ``Invoke`` (``InvocationType=Event``) of the outbox function named by
  ``OUTBOX_FUNCTION_NAME``; its failure is only logged (the one-minute schedule is the safety
  net). Local: nothing (``rmm-alerts dev`` delivers after each request itself).

boto3 clients are created on first use, never at import.
"""

from __future__ import annotations

import json
import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from email.message import EmailMessage
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

if TYPE_CHECKING:
    from mypy_boto3_events import EventBridgeClient
    from mypy_boto3_lambda import LambdaClient
    from mypy_boto3_sesv2 import SESV2Client

logger = logging.getLogger(__name__)

PUT_EVENTS_MAX_ENTRIES = 10  # EventBridge's limit per PutEvents call
PUT_EVENTS_MAX_BYTES = 256 * 1024  # EventBridge's limit per entry (and per call)


@dataclass(frozen=True)
class OutboundEvent:
    detail_type: str
    detail: dict[str, Any]
    time: datetime
    source: str = "rmm-alerts"


@dataclass(frozen=True)
class Email:
    to: str
    subject: str
    text: str
    html: str


@dataclass(frozen=True)
class SendResult:
    """``error`` None: accepted. ``permanent``: retrying cannot help (the entry is parked at once)."""

    error: str | None = None
    permanent: bool = False

    @property
    def ok(self) -> bool:
        return self.error is None


OK = SendResult()


class EventPublisher(Protocol):
    def publish(self, events: list[OutboundEvent]) -> list[SendResult]:
        """One result per event, in order. Never raises for a delivery failure."""


class EmailSender(Protocol):
    sender: str

    def send(self, email: Email) -> SendResult:
        """Never raises for a delivery failure."""


class DispatcherKick(Protocol):
    def kick(self) -> bool:
        """Ask for a delivery run soon; never raises. Whether the request was accepted."""


# ---------------------------------------------------------------------------------------------
# AWS adapters

# Errors where the same request may succeed later.
_TRANSIENT_CODES = frozenset(
    {
        "ThrottlingException",
        "Throttling",
        "TooManyRequestsException",
        "LimitExceededException",
        "InternalException",
        "InternalFailure",
        "ServiceUnavailable",
        "ServiceUnavailableException",
        "RequestTimeout",
    }
)


def _classify(exc: Exception) -> SendResult:
    """A boto3 exception as a result: client errors (4xx, not throttling) are permanent."""
    from botocore.exceptions import ClientError

    if isinstance(exc, ClientError):
        err = exc.response.get("Error", {})
        code = str(err.get("Code", ""))
        status = int(exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode", 0) or 0)
        permanent = code not in _TRANSIENT_CODES and 400 <= status < 500
        return SendResult(f"{code}: {err.get('Message', '')}"[:500], permanent=permanent)
    return SendResult(f"{type(exc).__name__}: {exc}"[:500])


class AwsEventPublisher:
    """EventBridge ``PutEvents``, ten entries per call; per-entry failures come back per entry.

    A whole call refused as invalid (e.g. one oversized entry) is retried one entry at a time, so
    only the offending entry fails."""

    def __init__(self, bus_name: str, client: Any = None) -> None:
        self.bus_name = bus_name
        self._client: EventBridgeClient | None = client

    @property
    def client(self) -> EventBridgeClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("events")
        return self._client

    def _entry(self, event: OutboundEvent) -> dict[str, Any]:
        from rmm_alerts.jsoncodec import dumps_text

        return {
            "Source": event.source,
            "DetailType": event.detail_type,
            "Detail": dumps_text(event.detail),
            "EventBusName": self.bus_name,
            "Time": event.time,
        }

    def _put(self, events: list[OutboundEvent]) -> list[SendResult]:
        try:
            answer = self.client.put_events(Entries=[self._entry(e) for e in events])  # type: ignore[misc]
        except Exception as exc:
            result = _classify(exc)
            if result.permanent and len(events) > 1:
                return [r for e in events for r in self._put([e])]
            return [result] * len(events)
        entries = answer.get("Entries", [])
        out: list[SendResult] = []
        for n in range(len(events)):
            entry = entries[n] if n < len(entries) else {"ErrorCode": "MissingEntry"}
            code = entry.get("ErrorCode")
            if code:
                permanent = code not in _TRANSIENT_CODES and code != "MissingEntry"
                out.append(SendResult(f"{code}: {entry.get('ErrorMessage', '')}"[:500], permanent=permanent))
            else:
                out.append(OK)
        return out

    @staticmethod
    def _size(entry: dict[str, Any]) -> int:
        # EventBridge's own entry size arithmetic: the strings in UTF-8 plus 14 bytes for Time.
        return sum(len(str(entry[k]).encode()) for k in ("Source", "DetailType", "Detail")) + 14

    def publish(self, events: list[OutboundEvent]) -> list[SendResult]:
        results: list[SendResult | None] = [None] * len(events)
        sendable: list[int] = []
        for n, event in enumerate(events):
            if self._size(self._entry(event)) > PUT_EVENTS_MAX_BYTES:
                results[n] = SendResult("EntryTooLarge: over 256 KB", permanent=True)
            else:
                sendable.append(n)
        # Calls of at most 10 entries and 256 KB each.
        calls: list[list[int]] = []
        size = 0
        for n in sendable:
            entry_size = self._size(self._entry(events[n]))
            if not calls or len(calls[-1]) == PUT_EVENTS_MAX_ENTRIES or size + entry_size > PUT_EVENTS_MAX_BYTES:
                calls.append([])
                size = 0
            calls[-1].append(n)
            size += entry_size
        for call in calls:
            for n, result in zip(call, self._put([events[n] for n in call]), strict=True):
                results[n] = result
        return [r if r is not None else SendResult("not sent") for r in results]


def from_address(sender: str) -> str:
    """``NOTIFICATION_SENDER`` names an SES identity: an address is used as is; a domain sends as
    ``rmm-alerts@<domain>``."""
    return sender if "@" in sender else f"rmm-alerts@{sender}"


class SesEmailSender:
    """SES v2 ``SendEmail`` (simple content: subject, text and HTML bodies, UTF-8)."""

    def __init__(self, sender: str, client: Any = None) -> None:
        self.sender = from_address(sender)
        self._client: SESV2Client | None = client

    @property
    def client(self) -> SESV2Client:
        if self._client is None:
            import boto3

            self._client = boto3.client("sesv2")
        return self._client

    def send(self, email: Email) -> SendResult:
        try:
            self.client.send_email(
                FromEmailAddress=self.sender,
                Destination={"ToAddresses": [email.to]},
                Content={
                    "Simple": {
                        "Subject": {"Data": email.subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": email.text, "Charset": "UTF-8"},
                            "Html": {"Data": email.html, "Charset": "UTF-8"},
                        },
                    }
                },
            )
        except Exception as exc:
            return _classify(exc)
        return OK


class LambdaDispatcherKick:
    """Asynchronous invoke of the outbox function. Short timeouts and no retries: the webhook must
    not wait for it, and a lost kick only delays delivery until the next scheduled run."""

    def __init__(self, function_name: str, client: Any = None) -> None:
        self.function_name = function_name
        self._client: LambdaClient | None = client

    @property
    def client(self) -> LambdaClient:
        if self._client is None:
            import boto3
            from botocore.config import Config

            self._client = boto3.client(
                "lambda", config=Config(connect_timeout=1, read_timeout=2, retries={"max_attempts": 1})
            )
        return self._client

    def kick(self) -> bool:
        try:
            self.client.invoke(FunctionName=self.function_name, InvocationType="Event", Payload=b"{}")
        except Exception as exc:
            logger.warning("could not invoke the outbox dispatcher: %s", type(exc).__name__)
            return False
        return True


# ---------------------------------------------------------------------------------------------
# Local adapters


@dataclass
class LocalEventPublisher:
    """Keeps every event; ``echo`` (e.g. ``print``) gets one readable line per event."""

    echo: Callable[[str], None] | None = None
    published: list[OutboundEvent] = field(default_factory=list)

    def publish(self, events: list[OutboundEvent]) -> list[SendResult]:
        for event in events:
            self.published.append(event)
            if self.echo is not None:
                self.echo(describe_event(event))
        return [OK] * len(events)


def describe_event(event: OutboundEvent) -> str:
    d = event.detail
    parts = [f"event   {event.detail_type:<20}"]
    for key in ("alertId", "ticketId", "severity", "clientId"):
        if d.get(key):
            parts.append(f"{key}={d[key]}")
    parts.append(f"eventId={d.get('eventId')}")
    return " ".join(parts)


class LocalMailbox:
    """Writes each e-mail as ``<directory>/<time>-<n>.eml`` (open it with any mail client)."""

    def __init__(self, directory: Path, sender: str, echo: Callable[[str], None] | None = None) -> None:
        self.directory = directory
        self.sender = from_address(sender)
        self.echo = echo
        self._lock = threading.Lock()
        self._n = 0

    def send(self, email: Email) -> SendResult:
        message = EmailMessage()
        message["From"] = self.sender
        message["To"] = email.to
        message["Subject"] = email.subject
        message.set_content(email.text)
        message.add_alternative(email.html, subtype="html")
        self.directory.mkdir(parents=True, exist_ok=True)
        with self._lock:
            self._n += 1
            name = f"{datetime.now().strftime('%Y%m%dT%H%M%S%f')}-{self._n}.eml"
        path = self.directory / name
        path.write_bytes(bytes(message))
        if self.echo is not None:
            self.echo(f"e-mail  to={email.to} subject={json.dumps(email.subject)} file={path}")
        return OK


class NoKick:
    def kick(self) -> bool:
        return True
