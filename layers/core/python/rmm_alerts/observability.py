"""One Powertools setup for every function: Logger, Metrics, Tracer.

Created at import (cheap: no network, no clients); the service name comes from
``POWERTOOLS_SERVICE_NAME`` that each function sets. Secrets and full payloads are never logged.
"""

from __future__ import annotations

import os
import traceback
from typing import Any

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "rmm-alerts")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "RmmAlerts")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
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
