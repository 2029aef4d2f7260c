"""One Powertools setup for every function: Logger, Metrics, Tracer.

Created at import (cheap: no network, no clients); the service name comes from
``POWERTOOLS_SERVICE_NAME`` that each function sets. Secrets and full payloads are never logged.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "rmm-alerts")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "RmmAlerts")


class InvocationMetrics(AmazonCloudWatchEMFProvider):
    """Every invocation starts with no metrics and no dimensions.

    Powertools clears them only when it actually prints them: with ``POWERTOOLS_METRICS_DISABLED``
    (``rmm-alerts dev``, tests) they pile up across warm invocations, so the next invocation's
    ``add_dimension("outcome", ...)`` warns "Dimension 'outcome' has already been added" and the
    metric set grows without bound. ``log_metrics`` calls this at the end of every invocation.
    An invocation without metrics flushes nothing, quietly (Powertools would warn).
    """

    # With metrics disabled nothing is recorded at all: the local gateway runs handlers in threads
    # that share this provider, and a neighbour's "outcome" must not collide with ours.
    def add_metric(
        self,
        name: str,
        unit: MetricUnit | str,
        value: float,
        resolution: MetricResolution | int = 60,
    ) -> None:
        if not is_metrics_disabled():
            super().add_metric(name=name, unit=unit, value=value, resolution=resolution)

    def add_dimension(self, name: str, value: str) -> None:
        if not is_metrics_disabled():
            super().add_dimension(name=name, value=value)

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        try:
            if self.metric_set or raise_on_empty_metrics:
                super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
        finally:
            self.clear_metrics()


logger = Logger(service=SERVICE)
metrics = Metrics(provider=InvocationMetrics(namespace=NAMESPACE, service=SERVICE))
tracer = Tracer(service=SERVICE)


def _database_error(exc: BaseException) -> Any:
    """The psycopg error that caused ``exc`` (itself, or in its cause/context chain), if any."""
    import psycopg

    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, psycopg.Error):
            return current
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return None


def log_failure(message: str, exc: BaseException, **extra: Any) -> None:
    """Log an unexpected failure at ERROR. A PostgreSQL error's text can quote the payload
    (``Key (ticket_number)=(…)``, a value that failed a cast): for those only the error class,
    the SQLSTATE and the code locations are logged, never the message or the traceback text."""
    db_error = _database_error(exc)
    if db_error is None:
        logger.exception(message, extra={"error_type": type(exc).__name__, **extra})
        return
    frames = [f"{f.filename}:{f.lineno} {f.name}" for f in traceback.extract_tb(exc.__traceback__)]
    logger.error(
        message,
        extra={
            "error_type": type(exc).__name__,
            "db_error_type": type(db_error).__name__,
            "sqlstate": getattr(db_error, "sqlstate", None),
            "frames": frames[-15:],
            **extra,
        },
    )
