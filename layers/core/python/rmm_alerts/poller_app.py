"""The poller Lambda's body: parse the EventBridge Scheduler input, run one reconciliation cycle,
log and emit metrics, and raise when the cycle failed (so the schedule's retry policy applies).

``functions/poller/handler.py`` only wires the observability decorators around :func:`handle`.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from rmm_alerts import config, db, outbox, reconcile
from rmm_alerts.observability import logger, metrics
from rmm_alerts.providers import client_for_integration


class PollInput(BaseModel):
    """EventBridge Scheduler's target input (rmm_alerts.ports.PollSchedule.input)."""

    model_config = ConfigDict(extra="ignore")
    tenant_id: UUID = Field(alias="tenantId")
    integration_id: UUID = Field(alias="integrationId")


class PollFailed(RuntimeError):
    """The cycle failed (its error is stored as ``lastPollError``); raised so the invocation fails."""


def handle(
    event: dict[str, Any],
    *,
    pool: Any = None,
    client_factory: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    try:
        request = PollInput.model_validate(event)
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) for e in exc.errors())
        logger.error("poller input is not {tenantId, integrationId}", extra={"fields": fields})
        raise ValueError(f"poller input needs tenantId and integrationId (UUIDs): {fields}") from None
    settings = config.cached(config.PollerSettings)
    if pool is None:
        pool = db.get_pool(settings)
    if client_factory is None:

        def client_factory(row: dict[str, Any]) -> Any:
            return client_for_integration(row, local_state_dir=settings.local_state_dir)

    logger.append_keys(tenant_id=str(request.tenant_id), integration_id=str(request.integration_id))
    summary = reconcile.poll(request.tenant_id, request.integration_id, pool=pool, client_factory=client_factory)
    body = summary.as_dict()
    record(summary)
    # Every triggered, resolved or released alert committed outbox rows: deliver them now.
    if summary.triggered or summary.resolved or summary.released:
        outbox.kick(settings)
    if summary.status == "failed":
        raise PollFailed(summary.error or "poll cycle failed")
    return body


def record(summary: reconcile.CycleSummary) -> None:
    """One structured log line and the cycle's EMF metrics."""
    body = summary.as_dict()
    if summary.status == "failed":
        logger.error("poll cycle failed", extra={"summary": body})
    else:
        logger.info("poll cycle", extra={"summary": body})
    metrics.add_dimension(name="provider", value=summary.provider or "unknown")
    metrics.add_metric(name="PollCycles", unit=MetricUnit.Count, value=1)
    metrics.add_metric(name="PollAlertsFetched", unit=MetricUnit.Count, value=summary.fetched)
    metrics.add_metric(name="PollAlertsTriggered", unit=MetricUnit.Count, value=summary.triggered)
    metrics.add_metric(name="PollAlertsResolved", unit=MetricUnit.Count, value=summary.resolved)
    metrics.add_metric(name="PollAlertsReleased", unit=MetricUnit.Count, value=summary.released)
    metrics.add_metric(name="PollDuration", unit=MetricUnit.Milliseconds, value=summary.duration_ms)
    metrics.add_metric(name="PollErrors", unit=MetricUnit.Count, value=1 if summary.status == "failed" else 0)
