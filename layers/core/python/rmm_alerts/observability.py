"""One Powertools setup for every function: Logger, Metrics, Tracer.

Created at import (cheap: no network, no clients); the service name comes from
``POWERTOOLS_SERVICE_NAME`` that each function sets. Secrets and full payloads are never logged.
"""

from __future__ import annotations

import os

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
