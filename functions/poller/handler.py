"""EventBridge Scheduler -> one reconciliation cycle of one integration (docs/polling.md).

Input ``{"tenantId": ..., "integrationId": ...}``; returns the cycle summary; raises when the
cycle failed so the schedule's retry policy applies.

The body (:mod:`rmm_alerts.poller_app`: the database driver, the RMM clients, httpx) is imported on
the first invocation, not at import: the cold import stays small (docs/performance.md); later
invocations find it in Python's module cache.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.utilities.typing import LambdaContext

from rmm_alerts.observability import instrumented


@instrumented()
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from rmm_alerts.poller_app import handle

    return handle(event)
