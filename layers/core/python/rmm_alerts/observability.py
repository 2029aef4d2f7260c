"""One Powertools setup for every function: Logger, Metrics, Tracer.

Logger and Metrics are created at import (cheap: no network, no clients); the service name comes
from ``POWERTOOLS_SERVICE_NAME`` that each function sets. Secrets and full payloads are never logged.

The X-Ray SDK is not imported at import time: ``aws_xray_sdk.core`` pulls in botocore and patches
libraries, about 0.4 s of every cold start measured on the dev box (docs/performance.md). Every
function runs with Lambda's active tracing, so the runtime records each invocation's segment
without any SDK. :class:`LazyTracer` adds the Powertools Tracer (``## handler`` subsegment,
ColdStart annotation, boto/httpx subsegments) on the first invocation, and only in Lambda with
``POWERTOOLS_TRACE_DISABLED`` unset: the webhook functions set it (infra/constants.py), since
their path makes no outbound call an SDK subsegment would show.
"""

from __future__ import annotations

import os
import traceback
from collections.abc import Callable
from functools import wraps
from typing import Any, TypeVar

from aws_lambda_powertools import Logger, Metrics
from aws_lambda_powertools.metrics import MetricResolution, MetricUnit
from aws_lambda_powertools.metrics.functions import is_metrics_disabled
from aws_lambda_powertools.metrics.provider.cloudwatch_emf.cloudwatch import AmazonCloudWatchEMFProvider

from rmm_alerts.jsoncodec import log_dumps

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

    _recording = False  # metrics were on at this invocation's first metric or dimension

    def _is_disabled(self) -> bool:
        # Powertools' check reads and parses two environment variables per call. Once they said
        # "on" in this invocation, they hold until the flush (clear_metrics): one read per webhook,
        # not four. While off, every call reads them, so nothing stale outlives a change.
        if self._recording:
            return False
        disabled = is_metrics_disabled()
        self._recording = not disabled
        return disabled

    # With metrics disabled nothing is recorded at all: in-process callers on threads (tests) share
    # this provider, and a neighbour's "outcome" must not collide with ours.
    def add_metric(
        self,
        name: str,
        unit: MetricUnit | str,
        value: float,
        resolution: MetricResolution | int = 60,
    ) -> None:
        if not self._is_disabled():
            super().add_metric(name=name, unit=unit, value=value, resolution=resolution)

    def add_dimension(self, name: str, value: str) -> None:
        if not self._is_disabled():
            super().add_dimension(name=name, value=value)

    def clear_metrics(self) -> None:
        super().clear_metrics()
        self._recording = False

    def flush_metrics(self, raise_on_empty_metrics: bool = False) -> None:
        try:
            if self.metric_set or raise_on_empty_metrics:
                super().flush_metrics(raise_on_empty_metrics=raise_on_empty_metrics)
        finally:
            self.clear_metrics()


logger = Logger(service=SERVICE, json_serializer=log_dumps)
metrics = Metrics(provider=InvocationMetrics(namespace=NAMESPACE, service=SERVICE))
F = TypeVar("F", bound=Callable[..., Any])


def sdk_tracing_enabled() -> bool:
    """Whether the X-Ray SDK should trace here: in Lambda, unless ``POWERTOOLS_TRACE_DISABLED``."""
    disabled = os.environ.get("POWERTOOLS_TRACE_DISABLED", "").strip().lower() in {"1", "true", "yes", "on"}
    return bool(os.environ.get("AWS_LAMBDA_FUNCTION_NAME")) and not disabled


class LazyTracer:
    """``capture_lambda_handler`` without importing the X-Ray SDK until the first invocation."""

    def __init__(self, service: str) -> None:
        self.service = service
        self.real: Any = None  # the Powertools Tracer, once created

    def capture_lambda_handler(self, *, capture_response: bool = False) -> Callable[[F], F]:
        def decorate(fn: F) -> F:
            traced: list[Callable[..., Any]] = []

            @wraps(fn)
            def handler(event: Any, context: Any) -> Any:
                if not traced:
                    traced.append(self._wrap(fn, capture_response))
                return traced[0](event, context)

            return handler  # type: ignore[return-value]

        return decorate

    def _wrap(self, fn: Callable[..., Any], capture_response: bool) -> Callable[..., Any]:
        if not sdk_tracing_enabled():
            return fn
        if self.real is None:
            from aws_lambda_powertools import Tracer

            self.real = Tracer(service=self.service)
        wrapped: Callable[..., Any] = self.real.capture_lambda_handler(fn, capture_response=capture_response)
        return wrapped


tracer = LazyTracer(SERVICE)


def instrumented(*, correlation_id_path: str | None = None) -> Callable[[Callable[..., Any]], Callable[..., Any]]:
    """Every function's entry point, decorated the same way: the Logger's Lambda context (state
    cleared per invocation; the correlation id read at ``correlation_id_path``, e.g. API
    Gateway's request id), the invocation's metrics flushed, and the lazy Tracer. Responses are
    never recorded in traces: the admin API's can hold a freshly issued webhook secret.

    The decorated handler imports its body (the database driver, the RMM clients, httpx) inside
    the function, so on the first invocation, not at import: the cold import stays small
    (docs/performance.md, tests/unit/test_cold_imports.py); later invocations find it in Python's
    module cache.
    """

    def decorate(fn: Callable[..., Any]) -> Callable[..., Any]:
        traced = tracer.capture_lambda_handler(capture_response=False)(fn)
        measured = metrics.log_metrics(traced)
        return logger.inject_lambda_context(correlation_id_path=correlation_id_path, clear_state=True)(measured)

    return decorate


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
