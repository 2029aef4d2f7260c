"""EventBridge ``TICKET_CLOSED`` -> reset the ticket's alerts in their RMMs (README.md, the
ticket-closed subscriber).

Returns a summary; raises only for transient failures (recorded first) so EventBridge retries
and then dead-letters; malformed events and the service's own ``TICKET_CLOSED`` are dropped.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rmm_alerts.observability import logger, metrics, tracer
from rmm_alerts.ticket_closed_app import handle


@logger.inject_lambda_context(clear_state=True)
@metrics.log_metrics
@tracer.capture_lambda_handler(capture_response=False)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    return handle(event)
