"""Webhook ingestion as a service: authenticate, parse, normalize, process.

The webhook Lambdas stay thin: they hand the path id, the ``X-Webhook-Secret`` header and the raw
body to :func:`receive` and turn the :class:`WebhookResponse` into an API Gateway response.

Status codes (docs/errors.md): 404 unknown or disconnected integration (or another
provider's), 401 missing or wrong secret and also when no secret is configured (never open),
413 body over 256 KiB (checked before anything else), 400 bad JSON or a payload that cannot be
an alert (the message names the field), 200 otherwise, including non-alert activities
(``processed: false``). Unexpected errors propagate: the handler answers 500 and the transaction
has rolled back, so the RMM's retry is safe.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import psycopg

from rmm_alerts import normalizers
from rmm_alerts.contracts import EventKind, NormalizedAlertEvent
from rmm_alerts.db import UnitOfWork
from rmm_alerts.db.alerts import EMPTY_CONFIG
from rmm_alerts.pipeline import StoredConfig, apply_event, resolve_config, stored_config

MAX_BODY_BYTES = 256 * 1024
SECRET_HEADER = "X-Webhook-Secret"  # noqa: S105 - a header name, not a secret
# Never compare against an empty hash: a digest of random bytes nobody knows stands in for "no secret".
_NO_SECRET = hashlib.sha256(secrets.token_bytes(32)).hexdigest()


def hash_secret(secret: str) -> str:
    """What the database keeps of a webhook secret (secrets are 256-bit random, so a plain
    SHA-256 is enough; there is nothing to brute-force)."""
    return hashlib.sha256(secret.encode("utf-8")).hexdigest()


def new_secret() -> str:
    return secrets.token_urlsafe(32)


@dataclass(frozen=True)
class Integration:
    tenant: UUID
    integration_id: UUID
    provider: str
    is_active: bool
    webhook_secret_hash: str | None
    previous_webhook_secret_hash: str | None
    previous_secret_expires_at: datetime | None
    channel_secret_hash: str | None = None
    previous_channel_secret_hash: str | None = None
    # The channel's previous secret has a grace of its own (migration 0013): re-registering the
    # webhook rotates the header secret alone and must not revive a channel URL rotated away.
    previous_channel_secret_expires_at: datetime | None = None


def secret_matches(integration: Integration, presented: str | None, now: datetime) -> bool:
    """Constant-time check against the current secret and, until it expires, the previous one."""
    if not presented or not integration.webhook_secret_hash:
        # Still do the work so timing does not reveal which case this is.
        hmac.compare_digest(hash_secret(presented or ""), _NO_SECRET)
        return False
    digest = hash_secret(presented)
    ok = hmac.compare_digest(digest, integration.webhook_secret_hash)
    previous = integration.previous_webhook_secret_hash
    expires = integration.previous_secret_expires_at
    in_grace = previous is not None and expires is not None and now < expires
    ok_previous = hmac.compare_digest(digest, previous if in_grace and previous else _NO_SECRET)
    return ok or ok_previous


def channel_secret_matches(integration: Integration, presented: str | None, now: datetime) -> bool:
    """The NinjaOne UI-channel path secret: same rules as the header secret, its own hashes and
    expiry."""
    as_header = Integration(
        integration.tenant,
        integration.integration_id,
        integration.provider,
        integration.is_active,
        integration.channel_secret_hash,
        integration.previous_channel_secret_hash,
        integration.previous_channel_secret_expires_at,
    )
    return secret_matches(as_header, presented, now)


@dataclass
class WebhookResponse:
    status: int
    body: dict[str, Any]
    tenant: UUID | None = None
    integration_id: UUID | None = None
    log: dict[str, Any] = field(default_factory=dict)


def _error(status: int, message: str, **extra: Any) -> WebhookResponse:
    return WebhookResponse(status, {"error": message, **extra})


# The delivery's first round trip (migration 0011): the integration and, for a trigger, its context
# (db/alerts.py's config read) in one function call, planned once per server connection. It opens
# no transaction (the unit of work is begun lazily), so a replay is answered in it.
_LOOKUP = """SELECT * FROM rmm_webhook_lookup(%(i)s, %(context)s, %(x)s, %(o)s, %(dev)s, %(known)s::bigint)"""
_INTEGRATION_FIELDS = (
    "tenant",
    "integration_id",
    "provider",
    "is_active",
    "webhook_secret_hash",
    "previous_webhook_secret_hash",
    "previous_secret_expires_at",
    "channel_secret_hash",
    "previous_channel_secret_hash",
    "previous_channel_secret_expires_at",
)


def _lookup_params(iid: UUID, event: NormalizedAlertEvent | None, known: StoredConfig | None) -> dict[str, Any]:
    """_LOOKUP's parameters: with the context for a trigger ``event``, the integration alone without."""
    return {
        "i": iid,
        "context": event is not None,
        "x": event.external_alert_id if event else None,
        "o": event.external_organization_id if event else None,
        "dev": event.external_device_id if event else None,
        "known": known.version if known else None,
    }


def receive(
    provider: str,
    integration_id: str | None,
    presented_secret: str | None,
    body: bytes,
    uow_factory: Any,
    *,
    now: datetime | None = None,
    channel_secret: str | None = None,
    via_channel: bool = False,
) -> WebhookResponse:
    """Handle one webhook delivery end to end (see the module docstring for status codes).

    ``via_channel``: the NinjaOne UI-channel route, authenticated by ``channel_secret`` (the last
    path segment) instead of the header."""
    now = now or datetime.now(UTC)
    if len(body) > MAX_BODY_BYTES:
        return _error(413, f"body is larger than {MAX_BODY_BYTES} bytes")
    try:
        iid = UUID(str(integration_id))
    except ValueError:
        return _error(404, "integration not found")
    # One unit of work for the lookup and the pipeline: one pool checkout; the lookup runs before
    # the transaction, whose BEGIN and COMMIT ride with the pipeline's batches.
    # The pool checks only connections that sat idle (db.check_if_idle): one that died since its
    # last use fails the first statement, and then, and only then, the delivery runs once more on
    # a fresh connection. Nothing can have committed: no statement had succeeded on it.
    try:
        return _receive_in(uow_factory, provider, iid, presented_secret, body, now, channel_secret, via_channel, True)
    except DeadConnection:
        return _receive_in(uow_factory, provider, iid, presented_secret, body, now, channel_secret, via_channel, False)


class DeadConnection(Exception):
    """The unit of work's first statement found its pooled connection dead (the pool discards it)."""


@dataclass
class _Parsed:
    """The body, parsed before the lookup so a trigger's config read can share its round trip;
    what it says is acted on only after authentication (401 before 400)."""

    event: NormalizedAlertEvent | None = None
    error: WebhookResponse | None = None


# Parsed with this stand-in tenant; the integration's own replaces it once authenticated.
_NO_TENANT = UUID(int=0)


def _parse(provider: str, iid: UUID, body: bytes, now: datetime) -> _Parsed:
    try:
        payload = normalizers.parse_json(body)
        event = normalizers.normalize(provider, payload, tenant_id=_NO_TENANT, integration_id=iid, received_at=now)
    except normalizers.NotAnAlert as exc:
        return _Parsed(error=WebhookResponse(200, {"processed": False, "outcome": "skipped", "reason": exc.reason}))
    except normalizers.MalformedPayload as exc:
        return _Parsed(error=_error(400, str(exc), field=exc.field))
    return _Parsed(event)


def _first_trip(
    uow: UnitOfWork, iid: UUID, event: NormalizedAlertEvent | None, *, may_retry: bool
) -> tuple[Integration | None, dict[str, Any] | None]:
    """The delivery's first round trip, outside any transaction: the integration lookup and, for a
    trigger, its config read (scoped to the path's integration and its tenant; used only once the
    delivery is authenticated; a replay is seen there)."""
    trigger = event is not None and event.kind is EventKind.TRIGGERED
    known = stored_config(iid)  # taken before the read: the read answers for this very copy
    try:
        row = uow.execute(_LOOKUP, _lookup_params(iid, event if trigger else None, known)).fetchone()
    except psycopg.OperationalError as exc:
        if may_retry and uow.conn.broken:
            raise DeadConnection(str(exc)) from exc
        raise
    if row is None:
        return None, None
    integration = Integration(**{k: row[k] for k in _INTEGRATION_FIELDS})
    if not trigger:
        return integration, None
    config = {k: v for k, v in row.items() if k not in _INTEGRATION_FIELDS}
    config["tenant"] = config.pop("config_tenant")
    if config["tenant"] is None:
        config = dict(EMPTY_CONFIG)
    return integration, resolve_config(iid, config, known)


def _receive_in(
    uow_factory: Any,
    provider: str,
    iid: UUID,
    presented_secret: str | None,
    body: bytes,
    now: datetime,
    channel_secret: str | None,
    via_channel: bool,
    may_retry: bool,
) -> WebhookResponse:
    parsed = _parse(provider, iid, body, now)
    uow = uow_factory()
    uow.begin_lazily()
    with uow:
        integration, config = _first_trip(uow, iid, parsed.event, may_retry=may_retry)
        if integration is None or integration.provider != provider or not integration.is_active:
            return _error(404, "integration not found")
        if via_channel:
            if not channel_secret_matches(integration, channel_secret, now):
                return _error(401, "invalid channel URL")
        elif not secret_matches(integration, presented_secret, now):
            return _error(401, f"missing or invalid {SECRET_HEADER} header")
        if parsed.error is not None:
            return parsed.error
        assert parsed.event is not None
        event = parsed.event.model_copy(update={"tenant_id": integration.tenant})
        result = apply_event(event, uow, now=now, config=config, commit=True)
    response = WebhookResponse(200, result.as_response())
    response.log = {"kind": event.kind.value, "externalAlertId": event.external_alert_id}
    response.tenant = integration.tenant
    response.integration_id = iid
    return response
