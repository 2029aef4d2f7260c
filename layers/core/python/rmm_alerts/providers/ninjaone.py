"""NinjaOne REST API v2 client (docs/polling.md).

OAuth 2 client credentials at ``{instanceUrl}/ws/oauth/token``; the token is cached per
integration (process-wide, so warm Lambdas reuse it) until shortly before it expires, and fetched
again once when the API answers 401.
"""

from __future__ import annotations

import hashlib
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from rmm_alerts.providers.base import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderResponseError,
    RemoteAlert,
)
from rmm_alerts.providers.http import DEFAULT_POLICY, HttpPolicy, Transport

PROVIDER = "ninjaone"
TOKEN_PATH = "/ws/oauth/token"  # noqa: S105 - a path
SCOPE = "monitoring management control"
# Refetch this long before the token's stated expiry.
TOKEN_EARLY_SECONDS = 60.0
PAGE_SIZE = 1000
MAX_PAGES = 10_000
# Every CONDITION lifecycle the webhook path understands.
WEBHOOK_ACTIVITIES: dict[str, list[str]] = {"CONDITION": ["TRIGGERED", "RESET", "ACKNOWLEDGED"]}


@dataclass
class _Token:
    fingerprint: str
    value: str
    expires_at: float  # time.monotonic()


_tokens: dict[str, _Token] = {}
_tokens_lock = threading.Lock()


def clear_token_cache() -> None:
    with _tokens_lock:
        _tokens.clear()


def _text(value: object) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int | float):
        return str(int(value)) if float(value).is_integer() else str(value)
    if isinstance(value, str) and value.strip():
        return value.strip()
    return None


def _epoch(value: object) -> datetime | None:
    try:
        seconds = float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None
    if seconds <= 0 or seconds != seconds or seconds > 1e11:
        return None
    return datetime.fromtimestamp(seconds, tz=UTC)


def remote_alert(raw: dict[str, Any]) -> RemoteAlert | None:
    """A REST alert object -> RemoteAlert; None when it has no uid."""
    uid = _text(raw.get("uid"))
    if uid is None:
        return None
    device = raw.get("device") if isinstance(raw.get("device"), dict) else {}
    assert isinstance(device, dict)
    refs = device.get("references") if isinstance(device.get("references"), dict) else {}
    org = refs.get("organization") if isinstance(refs, dict) and isinstance(refs.get("organization"), dict) else {}
    assert isinstance(org, dict)
    return RemoteAlert(
        provider=PROVIDER,
        alert_id=uid,
        device_id=_text(raw.get("deviceId")) or _text(device.get("id")),
        device_name=_text(device.get("displayName")) or _text(device.get("systemName")) or _text(device.get("dnsName")),
        organization_id=_text(device.get("organizationId")) or _text(org.get("id")),
        organization_name=_text(org.get("name")),
        message=_text(raw.get("message")) or _text(raw.get("subject")),
        created_at=_epoch(raw.get("createTime")),
        raw=raw,
    )


class NinjaOneClient:
    provider = PROVIDER

    def __init__(
        self,
        instance_url: str,
        client_id: str,
        client_secret: str,
        *,
        cache_key: str,
        policy: HttpPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        page_size: int = PAGE_SIZE,
    ) -> None:
        if not instance_url:
            raise ProviderConfigError(
                PROVIDER, "configuration", None, "the integration has no instanceUrl", transient=False
            )
        if not client_id or not client_secret:
            raise ProviderConfigError(
                PROVIDER, "configuration", None, "the integration has no credentials", transient=False
            )
        self._client_id = client_id
        self._client_secret = client_secret
        self._cache_key = cache_key
        # A rotated client secret must not reuse the old token: the cache entry is keyed by both.
        self._fingerprint = hashlib.sha256(f"{instance_url}\0{client_id}\0{client_secret}".encode()).hexdigest()
        self._page_size = page_size
        self.http = Transport(PROVIDER, instance_url, policy=policy, sleep=sleep)

    def close(self) -> None:
        self.http.close()

    # -- auth -------------------------------------------------------------------------------------

    def _fetch_token(self) -> str:
        endpoint = f"POST {TOKEN_PATH}"
        response = self.http.request(
            "POST",
            TOKEN_PATH,
            endpoint=endpoint,
            form={
                "grant_type": "client_credentials",
                "client_id": self._client_id,
                "client_secret": self._client_secret,
                "scope": SCOPE,
            },
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        body = response.json()
        token = body.get("access_token") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token:
            raise ProviderResponseError(
                PROVIDER, endpoint, response.status, "no access_token in the token response", transient=False
            )
        expires_in = body.get("expires_in") if isinstance(body, dict) else None
        lifetime = float(expires_in) if isinstance(expires_in, int | float) and expires_in > 0 else 3600.0
        entry = _Token(self._fingerprint, token, time.monotonic() + max(0.0, lifetime - TOKEN_EARLY_SECONDS))
        with _tokens_lock:
            _tokens[self._cache_key] = entry
        return token

    def _token(self) -> str:
        with _tokens_lock:
            entry = _tokens.get(self._cache_key)
        if entry and entry.fingerprint == self._fingerprint and time.monotonic() < entry.expires_at:
            return entry.value
        return self._fetch_token()

    def _forget_token(self) -> None:
        with _tokens_lock:
            _tokens.pop(self._cache_key, None)

    def _call(
        self,
        method: str,
        path: str,
        endpoint: str,
        *,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
    ) -> Any:
        for attempt in (1, 2):
            headers = {"Authorization": f"Bearer {self._token()}"}
            try:
                response = self.http.request(
                    method, path, endpoint=endpoint, headers=headers, params=params, json_body=json_body
                )
            except ProviderAuthError as exc:
                if attempt == 1 and exc.status == 401:
                    self._forget_token()  # expired or revoked early: one fresh token, once
                    continue
                raise
            return response.json()
        raise AssertionError("unreachable")

    # -- API ----------------------------------------------------------------------------------------

    def list_active_alerts(self) -> list[RemoteAlert]:
        """``GET /api/v2/alerts``, following ``pageSize`` + ``after`` cursor pages until a short page."""
        endpoint = "GET /api/v2/alerts"
        out: list[RemoteAlert] = []
        seen: set[str] = set()
        after: str | None = None
        for _ in range(MAX_PAGES):
            params: dict[str, Any] = {"pageSize": self._page_size}
            if after is not None:
                params["after"] = after
            page = _list_body(self._call("GET", "/api/v2/alerts", endpoint, params=params), endpoint)
            fresh = 0
            for raw in page:
                if not isinstance(raw, dict):
                    raise ProviderResponseError(
                        PROVIDER, endpoint, 200, "an alert is not a JSON object", transient=False
                    )
                alert = remote_alert(raw)
                if alert is None:
                    raise ProviderResponseError(PROVIDER, endpoint, 200, "an alert has no uid", transient=False)
                if alert.alert_id in seen:
                    continue
                seen.add(alert.alert_id)
                out.append(alert)
                fresh += 1
            if len(page) < self._page_size:
                return out
            if fresh == 0:
                raise ProviderResponseError(PROVIDER, endpoint, 200, "pagination does not advance", transient=False)
            after = out[-1].alert_id
        raise ProviderResponseError(PROVIDER, endpoint, 200, f"more than {MAX_PAGES} pages", transient=False)

    def test_connection(self) -> None:
        self._forget_token()
        self._call("GET", "/api/v2/alerts", "GET /api/v2/alerts", params={"pageSize": 1})

    def device(self, device_id: str) -> dict[str, Any]:
        endpoint = "GET /api/v2/device/{id}"
        body = self._call("GET", f"/api/v2/device/{_segment(device_id)}", endpoint)
        if not isinstance(body, dict):
            raise ProviderResponseError(PROVIDER, endpoint, 200, "device is not a JSON object", transient=False)
        return body

    def device_alerts(self, device_id: str) -> list[RemoteAlert]:
        endpoint = "GET /api/v2/device/{id}/alerts"
        page = _list_body(self._call("GET", f"/api/v2/device/{_segment(device_id)}/alerts", endpoint), endpoint)
        alerts = [remote_alert(raw) for raw in page if isinstance(raw, dict)]
        return [a for a in alerts if a is not None]

    def reset_alert(self, uid: str) -> None:
        """``POST /api/v2/alert/{uid}/reset`` (204). A 404 raises ProviderNotFound: nothing to reset."""
        self._call("POST", f"/api/v2/alert/{_segment(uid)}/reset", "POST /api/v2/alert/{uid}/reset")

    def register_webhook(self, url: str, secret: str) -> None:
        """``PUT /api/v2/webhook``: one per API client; replaces any earlier registration."""
        self._call(
            "PUT",
            "/api/v2/webhook",
            "PUT /api/v2/webhook",
            json_body={
                "url": url,
                "activities": WEBHOOK_ACTIVITIES,
                "expand": ["device", "organization"],
                "headers": [{"name": "X-Webhook-Secret", "value": secret}],
            },
        )

    def delete_webhook(self) -> None:
        self._call("DELETE", "/api/v2/webhook", "DELETE /api/v2/webhook")


def _segment(value: str) -> str:
    from urllib.parse import quote

    return quote(str(value), safe="")


def _list_body(body: Any, endpoint: str) -> list[Any]:
    if isinstance(body, list):
        return body
    if isinstance(body, dict):
        for key in ("results", "alerts", "data"):
            if isinstance(body.get(key), list):
                return list(body[key])
    raise ProviderResponseError(PROVIDER, endpoint, 200, "expected a JSON array", transient=False)
