"""The ticket_closed Lambda's body: parse the EventBridge event, reset the ticket's alerts in their
RMMs (rmm_alerts.outbound), kick the outbox, log and emit metrics.

Dropped without touching the database: the service's own ``TICKET_CLOSED`` (source
``rmm-alerts``), other detail types, and malformed events (a missing or non-UUID ``tenantId`` or
``ticketId``), which are logged, never raised (a retry could not fix them). A transient RMM
failure raises after it is recorded, so EventBridge's retry policy and the DLQ apply.

``functions/ticket_closed/handler.py`` only wires the observability decorators around :func:`handle`.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any
from uuid import UUID

from aws_lambda_powertools.metrics import MetricUnit
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from rmm_alerts import config, db, events, outbound, outbox
from rmm_alerts.observability import logger, metrics
from rmm_alerts.providers import client_for_integration

DETAIL_TYPE = "TICKET_CLOSED"


class TicketClosedDetail(BaseModel):
    """``detail {tenantId, ticketId, closedByUserId?, closedAt}``; the optional fields are read
    leniently (a PSA user id that is not a UUID does not lose the event)."""

    model_config = ConfigDict(extra="ignore")
    tenant_id: UUID = Field(alias="tenantId")
    ticket_id: UUID = Field(alias="ticketId")
    closed_by_user_id: UUID | None = Field(default=None, alias="closedByUserId")
    closed_at: datetime | None = Field(default=None, alias="closedAt")
    closed_by: str | None = Field(default=None, alias="closedBy")

    @field_validator("closed_by_user_id", "closed_at", mode="wrap")
    @classmethod
    def _lenient(cls, value: Any, handler: Any) -> Any:
        try:
            return handler(value)
        except ValueError:
            return None

    @field_validator("closed_by", mode="before")
    @classmethod
    def _text(cls, value: Any) -> str | None:
        return value if isinstance(value, str) else None


class ResetFailed(RuntimeError):
    """A transient RMM failure (recorded on the alert); raised so the event is retried."""


def _ignored(reason: str, **extra: Any) -> dict[str, Any]:
    return {"status": "ignored", "reason": reason, **extra}


def handle(
    event: Any,
    *,
    pool: Any = None,
    client_factory: Callable[[dict[str, Any]], Any] | None = None,
) -> dict[str, Any]:
    if not isinstance(event, dict):
        logger.error("ticket_closed event is not a JSON object; dropped")
        return _ignored("malformed", fields="event")
    if event.get("source") == events.EVENT_SOURCE:
        return _ignored("own_event")  # the service closed the ticket itself: its alerts are resolved
    if event.get("detail-type") != DETAIL_TYPE:
        logger.warning("unexpected detail-type; dropped", extra={"detail_type": str(event.get("detail-type"))[:100]})
        return _ignored("unexpected_detail_type")
    try:
        detail = TicketClosedDetail.model_validate(event.get("detail"))
    except ValidationError as exc:
        fields = ", ".join(".".join(str(p) for p in e["loc"]) or "detail" for e in exc.errors())
        logger.error("malformed TICKET_CLOSED dropped", extra={"fields": fields, "source": str(event.get("source"))})
        metrics.add_metric(name="TicketClosedMalformed", unit=MetricUnit.Count, value=1)
        return _ignored("malformed", fields=fields)
    if detail.closed_by == events.EVENT_SOURCE:
        return _ignored("own_event")

    settings = config.cached(config.TicketClosedSettings)
    if pool is None:
        pool = db.get_pool(settings)
    if client_factory is None:

        def client_factory(row: dict[str, Any]) -> Any:
            return client_for_integration(row, local_state_dir=settings.local_state_dir)

    logger.append_keys(tenant_id=str(detail.tenant_id), ticket_id=str(detail.ticket_id))
    summary = outbound.on_ticket_closed(
        outbound.TicketClosed(detail.tenant_id, detail.ticket_id, detail.closed_by_user_id, detail.closed_at),
        pool=pool,
        client_factory=client_factory,
    )
    if summary.wrote_outbox:
        outbox.kick(settings)
    body = summary.as_dict()
    metrics.add_metric(name="TicketClosedAlertsResolved", unit=MetricUnit.Count, value=body["resolved"])
    metrics.add_metric(name="TicketClosedResetFailures", unit=MetricUnit.Count, value=body["failed"])
    if summary.alerts:
        log = logger.error if body["failed"] else logger.info
        log("ticket closed: alerts processed", extra={"summary": body})
    transient = summary.transient_failures
    if transient:
        raise ResetFailed(f"{len(transient)} alert reset(s) failed transiently: {transient[0].error}")
    return {"status": "ok", **body}
