"""POST /webhooks/tacticalrmm/{integrationId}: tacticalrmm alert webhooks (docs/errors.md)."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rmm_alerts.observability import logger, metrics, tracer
from rmm_alerts.webhook_app import build_app

app = build_app("tacticalrmm", "/webhooks/tacticalrmm")


@logger.inject_lambda_context(correlation_id_path=correlation_paths.API_GATEWAY_REST, clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return app.resolve(event, context)
