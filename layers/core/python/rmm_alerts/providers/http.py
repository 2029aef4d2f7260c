"""The HTTP transport both RMM clients share (httpx).

* explicit connect and read timeouts;
* bounded retries with full-jitter exponential backoff on connection errors, timeouts, 429 and
  5xx, honouring ``Retry-After`` (seconds or an HTTP date) up to a cap; never on another 4xx;
* a cap on the response size, enforced while streaming (a lying or missing Content-Length
  cannot make us buffer more);
* errors are :class:`~rmm_alerts.providers.base.ProviderError` subclasses naming provider,
  endpoint and status. Request headers, bodies and URLs with query strings never reach an error
  or a log line (tokens and API keys travel in headers and form bodies).
"""

from __future__ import annotations

import email.utils
import json
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import httpx

from rmm_alerts.providers.base import (
    ProviderAuthError,
    ProviderError,
    ProviderNotFound,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailable,
)

logger = logging.getLogger(__name__)

USER_AGENT = "rmm-alerts/1 (+https://github.com/)"


@dataclass(frozen=True)
class HttpPolicy:
    connect_timeout: float = 5.0
    read_timeout: float = 20.0
    # Total attempts per request (1 = no retry).
    max_attempts: int = 4
    backoff_base: float = 0.5
    backoff_cap: float = 8.0
    # A Retry-After longer than this is not waited for: the call fails (transient) and the
    # schedule's next cycle tries again.
    max_retry_after: float = 30.0
    max_response_bytes: int = 32 * 1024 * 1024


DEFAULT_POLICY = HttpPolicy()


def retry_after_seconds(value: str | None, now: datetime | None = None) -> float | None:
    """``Retry-After`` as seconds: delta-seconds or an HTTP date; None when absent or unreadable."""
    if not value:
        return None
    text = value.strip()
    try:
        return max(0.0, float(text))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(text)
    except (TypeError, ValueError, IndexError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - (now or datetime.now(UTC))).total_seconds())


@dataclass
class Response:
    status: int
    headers: httpx.Headers
    content: bytes
    endpoint: str
    provider: str

    def json(self) -> Any:
        """The body as JSON; malformed JSON is a ProviderResponseError (never a partial result)."""
        if not self.content.strip():
            return None
        try:
            return json.loads(self.content)
        except (ValueError, RecursionError):
            raise ProviderResponseError(
                self.provider, self.endpoint, self.status, "response is not valid JSON", transient=True
            ) from None


class Transport:
    """One httpx client per RMM client (connections are reused within a cycle)."""

    def __init__(
        self,
        provider: str,
        base_url: str,
        *,
        policy: HttpPolicy = DEFAULT_POLICY,
        sleep: Callable[[float], None] = time.sleep,
        rng: random.Random | None = None,
    ) -> None:
        self.provider = provider
        self.policy = policy
        self._sleep = sleep
        self._rng = rng or random.Random()
        self._client = httpx.Client(
            base_url=base_url.rstrip("/"),
            timeout=httpx.Timeout(
                connect=policy.connect_timeout, read=policy.read_timeout, write=policy.read_timeout, pool=5.0
            ),
            follow_redirects=False,  # a redirect could carry our headers elsewhere
            headers={"User-Agent": USER_AGENT, "Accept": "application/json"},
        )

    def close(self) -> None:
        self._client.close()

    def _backoff(self, attempt: int) -> float:
        ceiling = min(self.policy.backoff_cap, self.policy.backoff_base * (2 ** (attempt - 1)))
        return self._rng.uniform(0, ceiling)

    def request(
        self,
        method: str,
        path: str,
        *,
        endpoint: str,
        headers: dict[str, str] | None = None,
        params: dict[str, Any] | None = None,
        json_body: Any = None,
        form: dict[str, str] | None = None,
        retry: bool = True,
    ) -> Response:
        """Send with retries; return a 2xx/3xx response or raise ProviderError.

        401/403 come back as :class:`ProviderAuthError` so a caller can refetch its token once.
        """
        attempts = self.policy.max_attempts if retry else 1
        last: ProviderError | None = None
        for attempt in range(1, attempts + 1):
            wait: float | None = None
            try:
                response = self._send(method, path, endpoint, headers, params, json_body, form)
            except ProviderUnavailable as exc:
                last = exc
                wait = self._backoff(attempt)
            else:
                status = response.status
                if status < 400:
                    return response
                if status == 429 or status >= 500:
                    last = ProviderUnavailable(
                        self.provider,
                        endpoint,
                        status,
                        "rate limited" if status == 429 else "server error",
                        transient=True,
                    )
                    hinted = retry_after_seconds(response.headers.get("Retry-After"))
                    if hinted is not None and hinted > self.policy.max_retry_after:
                        raise ProviderUnavailable(
                            self.provider,
                            endpoint,
                            status,
                            f"asked to retry after {hinted:.0f} s",
                            transient=True,
                        )
                    wait = hinted if hinted is not None else self._backoff(attempt)
                else:
                    raise _client_error(self.provider, endpoint, status)
            if attempt < attempts:
                logger.warning(
                    "rmm call failed, retrying",
                    extra={
                        "provider": self.provider,
                        "endpoint": endpoint,
                        "status": last.status if last else None,
                        "attempt": attempt,
                        "waitSeconds": round(wait or 0.0, 3),
                    },
                )
                self._sleep(wait or 0.0)
        assert last is not None
        raise last

    def _send(
        self,
        method: str,
        path: str,
        endpoint: str,
        headers: dict[str, str] | None,
        params: dict[str, Any] | None,
        json_body: Any,
        form: dict[str, str] | None,
    ) -> Response:
        cap = self.policy.max_response_bytes
        try:
            with self._client.stream(
                method, path, headers=headers, params=params, json=json_body, data=form
            ) as response:
                declared = response.headers.get("Content-Length")
                if declared and declared.isdigit() and int(declared) > cap:
                    raise _too_large(self.provider, endpoint, response.status_code, cap)
                chunks: list[bytes] = []
                size = 0
                for chunk in response.iter_bytes():
                    size += len(chunk)
                    if size > cap:
                        raise _too_large(self.provider, endpoint, response.status_code, cap)
                    chunks.append(chunk)
                return Response(response.status_code, response.headers, b"".join(chunks), endpoint, self.provider)
        except httpx.TimeoutException as exc:
            raise ProviderUnavailable(
                self.provider, endpoint, None, f"timed out ({type(exc).__name__})", transient=True
            ) from None
        except httpx.TransportError as exc:
            # The exception text can hold the URL; only its type is kept.
            raise ProviderUnavailable(
                self.provider, endpoint, None, f"connection failed ({type(exc).__name__})", transient=True
            ) from None


def _too_large(provider: str, endpoint: str, status: int, cap: int) -> ProviderResponseError:
    return ProviderResponseError(provider, endpoint, status, f"response larger than {cap} bytes", transient=False)


def _client_error(provider: str, endpoint: str, status: int) -> ProviderError:
    if status in (401, 403):
        return ProviderAuthError(provider, endpoint, status, "not authorized", transient=False)
    if status == 404:
        return ProviderNotFound(provider, endpoint, status, "not found", transient=False)
    return ProviderRequestError(provider, endpoint, status, "request refused", transient=False)
