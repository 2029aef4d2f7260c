"""The one small interface every RMM client offers, and the errors they raise.

A :class:`ProviderError` names the provider, the endpoint (method and path template, never a
query string, token or credential) and the HTTP status. ``transient`` says whether trying again
later can help (timeouts, connection errors, 429, 5xx); the poller lets the schedule retry either
way, the admin API shows it.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol, runtime_checkable


class ProviderError(Exception):
    """A call to an RMM failed. ``str()`` is safe to log and to show to an admin."""

    def __init__(self, provider: str, endpoint: str, status: int | None, message: str, *, transient: bool) -> None:
        self.provider = provider
        self.endpoint = endpoint
        self.status = status
        self.transient = transient
        self.detail = message
        where = f"{provider} {endpoint}"
        super().__init__(f"{where}: {message}" + (f" (HTTP {status})" if status is not None else ""))


class ProviderAuthError(ProviderError):
    """401/403 (after one token refetch for NinjaOne), or the token endpoint refused the credentials."""


class ProviderNotFound(ProviderError):
    """404: the endpoint or the object (device, alert) does not exist."""


class ProviderRequestError(ProviderError):
    """Any other 4xx: our request was refused; not retried."""


class ProviderUnavailable(ProviderError):
    """Connection error, timeout, 429 or 5xx, still failing after the retries."""


class ProviderResponseError(ProviderError):
    """The RMM answered 2xx with something unusable: malformed JSON, an unexpected shape, too large,
    or pagination that does not advance."""


class ProviderConfigError(ProviderError):
    """The integration cannot be called at all: no instance URL, or no/incomplete credentials."""


@dataclass(frozen=True)
class RemoteAlert:
    """One active alert as the RMM's REST API reports it, lightly normalized; ``raw`` is the
    API object unchanged. The poller turns it into a ``NormalizedAlertEvent``."""

    provider: str
    # NinjaOne alert uid; Tactical alert id (as text). What reset/resolve calls need.
    alert_id: str
    device_id: str | None
    device_name: str | None = None
    organization_id: str | None = None
    organization_name: str | None = None
    message: str | None = None
    created_at: datetime | None = None
    raw: dict[str, Any] = field(default_factory=dict)
    # Silenced by a technician for a while (TacticalRMM's snooze): still failing, so the poll keeps
    # its local alert open, but opens nothing for it until the snooze ends.
    snoozed: bool = False


@runtime_checkable
class RmmClient(Protocol):
    """What the poller, the admin API (test connection) and the ticket-closed subscriber use.

    Provider-specific outbound calls live on the concrete classes:
    ``NinjaOneClient.device(id)``, ``.device_alerts(id)``, ``.reset_alert(uid)``,
    ``.register_webhook(...)``, ``.delete_webhook()``; ``TacticalClient.resolve_alert(id)``,
    ``.clients()``.
    """

    provider: str

    def list_active_alerts(self) -> list[RemoteAlert]:
        """Every active alert, all pages. Raises ProviderError on any failure: never a partial list."""
        ...

    def test_connection(self) -> None:
        """Authenticate and make one cheap list call; raises ProviderError when that fails."""
        ...

    def close(self) -> None: ...
