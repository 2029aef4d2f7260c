"""One Powertools setup for every function: Logger, Metrics, Tracer.

Created at import (cheap: no network, no clients); the service name comes from
``POWERTOOLS_SERVICE_NAME`` that each function sets. Secrets and full payloads are never logged.
"""

from __future__ import annotations

import os

from aws_lambda_powertools import Logger, Metrics, Tracer

SERVICE = os.environ.get("POWERTOOLS_SERVICE_NAME", "rmm-alerts")
NAMESPACE = os.environ.get("POWERTOOLS_METRICS_NAMESPACE", "RmmAlerts")

logger = Logger(service=SERVICE)
metrics = Metrics(namespace=NAMESPACE, service=SERVICE)
tracer = Tracer(service=SERVICE)
