"""EventBridge ``TICKET_CLOSED`` -> reset the ticket's alerts in their RMMs (README.md, the
ticket-closed subscriber).

Returns a summary; raises only for transient failures (recorded first) so EventBridge retries
and then dead-letters; malformed events and the service's own ``TICKET_CLOSED`` are dropped.

The body (:mod:`rmm_alerts.ticket_closed_app`: the database driver, the RMM clients, httpx) is imported on
the first invocation, not at import: the cold import stays small (docs/performance.md); later
invocations find it in Python's module cache.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rmm_alerts.observability import instrumented


@instrumented()
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from rmm_alerts.ticket_closed_app import handle

    return handle(event)
