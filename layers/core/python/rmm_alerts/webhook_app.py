"""The API Gateway side of the webhook Lambdas: one Powertools resolver per provider.

Kept in the layer so both webhook functions share it; each ``functions/webhook_*/handler.py`` only
builds its app and wires the observability decorators.

The domain (database driver, pipeline, models) loads on the first request, not at import: the
import stays within the cold-start budget (docs/performance.md), and Python's module cache makes
the later requests' ``import`` a dictionary lookup.
"""

from __future__ import annotations

import base64
import binascii
import time
from typing import TYPE_CHECKING, Any

from aws_lambda_powertools.event_handler import APIGatewayRestResolver, Response, content_types
from aws_lambda_powertools.metrics import MetricUnit

from rmm_alerts.jsoncodec import dumps_text
from rmm_alerts.observability import log_failure, logger, metrics

if TYPE_CHECKING:
    from rmm_alerts import db, webhooks


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=dumps_text(body))


def _uow_factory() -> db.UnitOfWork:
    from rmm_alerts import config, db

    return db.UnitOfWork(db.get_pool(config.cached(config.WebhookSettings)))


def _kick_if_wrote(opened: list[db.UnitOfWork]) -> None:
    """Committed (receive raises otherwise): deliver the new outbox rows now, not next minute."""
    from rmm_alerts import config, outbox

    if any(outbox.wrote(uow) for uow in opened):
        outbox.kick(config.cached(config.WebhookSettings))


def raw_body(event: Any) -> bytes:
    """The request body as bytes, decoding API Gateway's base64 when flagged."""
    body = event.body or ""
    if event.is_base64_encoded:
        try:
            return base64.b64decode(body, validate=False)
        except (binascii.Error, ValueError):
            return b"\xff"  # not JSON: answered 400 after authentication
    return str(body).encode("utf-8")


def _finish(
    provider: str, response: webhooks.WebhookResponse, started: float, *, channel: bool = False
) -> Response[str]:
    if response.tenant:
        logger.append_keys(tenant_id=str(response.tenant), integration_id=str(response.integration_id))
    outcome = str(response.body.get("outcome", f"http_{response.status}"))
    extra: dict[str, Any] = {"provider": provider, "status": response.status, "outcome": outcome, **response.log}
    if channel:
        extra["via"] = "ui-channel"
    logger.info("webhook handled", extra=extra)
    # One alert per invocation, so the invocation's dimensions are the alert's.
    metrics.add_dimension(name="provider", value=provider)
    metrics.add_dimension(name="outcome", value=outcome)
    metrics.add_metric(name="AlertsReceived", unit=MetricUnit.Count, value=1)
    metrics.add_metric(
        name="WebhookDuration", unit=MetricUnit.Milliseconds, value=(time.perf_counter() - started) * 1000
    )
    return _json(response.status, response.body)


def build_app(provider: str, path: str, uow_factory: Any = None) -> APIGatewayRestResolver:
    """A resolver serving ``POST <path>/<integrationId>`` for ``provider``."""
    app = APIGatewayRestResolver()
    factory = uow_factory or _uow_factory

    @app.post(f"{path}/<integrationId>")
    def webhook(integrationId: str) -> Response[str]:
        from rmm_alerts import webhooks

        started = time.perf_counter()
        event = app.current_event
        opened: list[db.UnitOfWork] = []

        def tracked() -> db.UnitOfWork:
            uow: db.UnitOfWork = factory()
            opened.append(uow)
            return uow

        response = webhooks.receive(
            provider,
            integrationId,
            event.headers.get(webhooks.SECRET_HEADER),
            raw_body(event),
            tracked,
        )
        _kick_if_wrote(opened)
        return _finish(provider, response, started)

    if provider == "ninjaone":

        @app.post(f"{path}/<integrationId>/<channelSecret>")
        def channel_webhook(integrationId: str, channelSecret: str) -> Response[str]:
            # A NinjaOne notification channel set up in its UI: no custom header, the secret is the
            # last path segment. It is never logged (only the route template is).
            from rmm_alerts import webhooks

            started = time.perf_counter()
            opened: list[db.UnitOfWork] = []

            def tracked() -> db.UnitOfWork:
                uow: db.UnitOfWork = factory()
                opened.append(uow)
                return uow

            response = webhooks.receive(
                provider,
                integrationId,
                None,
                raw_body(app.current_event),
                tracked,
                channel_secret=channelSecret,
                via_channel=True,
            )
            _kick_if_wrote(opened)
            return _finish(provider, response, started, channel=True)

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(exc: Exception) -> Response[str]:
        # The transaction has rolled back; 500 makes the RMM retry, and a replay is a no-op.
        log_failure("webhook failed", exc, provider=provider)
        metrics.add_metric(name="WebhookErrors", unit=MetricUnit.Count, value=1)
        return _json(500, {"error": "internal error; retry later"})

    @app.not_found
    def not_found(_: Exception) -> Response[str]:
        return _json(404, {"error": "not found"})

    return app
