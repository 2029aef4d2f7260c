"""/v1/*: the admin REST API (docs/admin-api.md). Routes and services live in the layer
(:mod:`rmm_alerts.admin`); this module only wires the observability decorators.

The resolver (its routes, request models and validation machinery, then each service with the
database driver on its first call) is imported on the first invocation, not at import: the cold
import stays small (docs/performance.md); later invocations find it in Python's module cache.
"""

from __future__ import annotations

from typing import Any

from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.utilities.typing import LambdaContext

from rmm_alerts.observability import instrumented


# Responses can hold a freshly issued webhook secret: ``instrumented`` never records them in traces.
@instrumented(correlation_id_path=correlation_paths.API_GATEWAY_REST)
def handler(event: dict[str, Any], context: LambdaContext) -> dict[str, Any]:
    from rmm_alerts.admin.app import app

    return app.resolve(event, context)
