"""outbox: deliver every pending side effect (events, in-app notifications, e-mails) and return a
summary (README.md). Input ``{}``; runs every minute and after commits (async invoke, at most one
a second per committing process); a run lingers (``OUTBOX_LINGER_SECONDS``, ``outbox.deliver``)
for the commits whose kicks were held back. The work lives in the layer
(:mod:`rmm_alerts.outbox`), imported on the first invocation (with the database driver and the AWS
SDK), not at import: the cold import stays small."""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from rmm_alerts.observability import instrumented, logger, metrics

# Stop starting new batches with this much of the invocation left (a batch takes well under it).
RESERVE_MS = 10_000


@instrumented()
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from rmm_alerts import outbox

    dispatcher = outbox.current()
    summary = outbox.deliver(
        dispatcher,
        should_stop=lambda: context.get_remaining_time_in_millis() < RESERVE_MS,
        linger_s=dispatcher.settings.linger_seconds,
    )
    metrics.add_metric(name="OutboxSent", unit=MetricUnit.Count, value=summary.sent)
    metrics.add_metric(name="OutboxSkipped", unit=MetricUnit.Count, value=summary.skipped)
    metrics.add_metric(name="OutboxRetrying", unit=MetricUnit.Count, value=summary.retrying)
    metrics.add_metric(name="OutboxParked", unit=MetricUnit.Count, value=summary.parked)
    # Gauges for the alarms: the backlog's age and the parked entries waiting for an operator.
    metrics.add_metric(name="OutboxPending", unit=MetricUnit.Count, value=summary.pending)
    metrics.add_metric(
        name="OutboxBacklogAgeSeconds", unit=MetricUnit.Seconds, value=summary.oldest_pending_age_seconds
    )
    metrics.add_metric(name="OutboxParkedEntries", unit=MetricUnit.Count, value=summary.parked_total)
    result = summary.as_dict()
    logger.info("outbox delivered", extra=result)
    return result
