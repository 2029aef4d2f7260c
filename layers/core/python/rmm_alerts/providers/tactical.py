"""TacticalRMM REST API client (docs/polling.md; amidaware/tacticalrmm ``alerts/views.py``).

Auth is the ``X-API-KEY`` header. Active alerts: ``PATCH /alerts/`` with exactly
``{"resolvedFilter": false, "snoozedFilter": true}``: the unresolved ones, snoozed included (Tactical
filters on a filter key only when its value is false; any unknown key makes it return every alert,
resolved ones included). A snoozed alert is still failing: the poll must not reset it. API alerts
carry the client's *name*; webhooks carry its id, which org mappings key on, so names are mapped to
ids with ``GET /clients/``.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from datetime import UTC, datetime
from typing import Any, Final

from rmm_alerts.providers.base import ProviderConfigError, ProviderResponseError, RemoteAlert
from rmm_alerts.providers.http import DEFAULT_POLICY, HttpPolicy, Transport

PROVIDER = "tacticalrmm"
ACTIVE_FILTER: Final[dict[str, bool]] = {"resolvedFilter": False, "snoozedFilter": True}


def _text(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return str(value)
    if isinstance(value, str) and value.strip() and value.strip() != "None":
        return value.strip()
    return None


def _time(value: object) -> datetime | None:
    if not isinstance(value, str) or not value.strip():
        return None
    try:
        parsed = datetime.fromisoformat(value.strip().replace("Z", "+00:00"))
    except ValueError:
        return None
    return parsed if parsed.tzinfo else parsed.replace(tzinfo=UTC)


def remote_alert(raw: dict[str, Any], client_ids: dict[str, str]) -> RemoteAlert | None:
    """An API alert -> RemoteAlert (None without an id). ``client_ids`` maps client name -> id."""
    alert_id = _text(raw.get("id"))
    if alert_id is None:
        return None
    client_name = _text(raw.get("client"))
    return RemoteAlert(
        provider=PROVIDER,
        alert_id=alert_id,
        device_id=_text(raw.get("agent_id")),
        device_name=_text(raw.get("hostname")),
        organization_id=client_ids.get(client_name) if client_name else None,
        organization_name=client_name,
        message=_text(raw.get("message")),
        created_at=_time(raw.get("alert_time")),
        raw=raw,
        snoozed=raw.get("snoozed") is True,
    )


class TacticalClient:
    provider = PROVIDER

    def __init__(
        self,
        instance_url: str,
        api_key: str,
        *,
        policy: HttpPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
    ) -> None:
        if not instance_url:
            raise ProviderConfigError(
                PROVIDER, "configuration", None, "the integration has no instanceUrl", transient=False
            )
        if not api_key:
            raise ProviderConfigError(
                PROVIDER, "configuration", None, "the integration has no credentials", transient=False
            )
        self._headers = {"X-API-KEY": api_key}
        self.http = Transport(PROVIDER, instance_url, policy=policy, sleep=sleep)

    def close(self) -> None:
        self.http.close()

    def _call(self, method: str, path: str, endpoint: str, json_body: Any = None) -> Any:
        return self.http.request(method, path, endpoint=endpoint, headers=self._headers, json_body=json_body).json()

    def clients(self) -> dict[str, str]:
        """``GET /clients/`` as ``{name: id}``."""
        endpoint = "GET /clients/"
        body = self._call("GET", "/clients/", endpoint)
        if not isinstance(body, list):
            raise ProviderResponseError(PROVIDER, endpoint, 200, "expected a JSON array", transient=False)
        out: dict[str, str] = {}
        for item in body:
            if isinstance(item, dict):
                name, cid = _text(item.get("name")), _text(item.get("id"))
                if name and cid:
                    out[name] = cid
        return out

    def _alerts(self) -> list[Any]:
        endpoint = "PATCH /alerts/"
        body = self._call("PATCH", "/alerts/", endpoint, dict(ACTIVE_FILTER))
        if not isinstance(body, list):
            raise ProviderResponseError(PROVIDER, endpoint, 200, "expected a JSON array", transient=False)
        return body

    def list_active_alerts(self) -> list[RemoteAlert]:
        endpoint = "PATCH /alerts/"
        raw_alerts = self._alerts()
        client_ids = self.clients()
        out: list[RemoteAlert] = []
        for raw in raw_alerts:
            if not isinstance(raw, dict):
                raise ProviderResponseError(PROVIDER, endpoint, 200, "an alert is not a JSON object", transient=False)
            # The filter asks for the unresolved ones; snoozed and hidden ones are still failing.
            if raw.get("resolved") is True:
                continue
            alert = remote_alert(raw, client_ids)
            if alert is None:
                raise ProviderResponseError(PROVIDER, endpoint, 200, "an alert has no id", transient=False)
            out.append(alert)
        return out

    def test_connection(self) -> None:
        self._alerts()

    def resolve_alert(self, alert_id: str) -> None:
        """``PUT /alerts/{id}/`` with ``{"type": "resolve"}``. A 404 raises ProviderNotFound."""
        from urllib.parse import quote

        self._call("PUT", f"/alerts/{quote(str(alert_id), safe='')}/", "PUT /alerts/{id}/", {"type": "resolve"})
