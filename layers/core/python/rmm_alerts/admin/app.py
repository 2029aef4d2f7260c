"""The admin API's Powertools resolver (``rules_api``, base path ``/v1``).

Order of checks for every request, before routing: body size (413), caller identity (401), the
``rmm-admin`` group for writes (403); then the route's pydantic validation (422, or 404 for a
malformed id in the path) and the service (404/409/422). Every error has one shape (see
:mod:`rmm_alerts.admin.errors`); a 500 says nothing about the cause.
"""

from __future__ import annotations

import base64
import binascii
import json
import math
import os
import re
import threading
import time
from collections.abc import Mapping
from typing import Any

import psycopg
from aws_lambda_powertools.event_handler import APIGatewayRestResolver, CORSConfig, Response, content_types
from aws_lambda_powertools.event_handler.exceptions import NotFoundError
from aws_lambda_powertools.event_handler.openapi.exceptions import RequestUnsupportedContentType, RequestValidationError
from aws_lambda_powertools.metrics import MetricUnit
from aws_lambda_powertools.utilities.typing import LambdaContext

from rmm_alerts.admin import routes
from rmm_alerts.admin.auth import authorize
from rmm_alerts.admin.errors import ApiError, FieldError, error
from rmm_alerts.admin.schemas import MAX_BODY_BYTES
from rmm_alerts.observability import log_failure, logger, metrics

API_TITLE = "rmm-alerts admin API"
API_VERSION = "1.0.0"


def _body_size(event: Mapping[str, Any]) -> int:
    body = event.get("body")
    if not body:
        return 0
    text = str(body)
    if event.get("isBase64Encoded"):
        try:
            return len(base64.b64decode(text, validate=False))
        except (binascii.Error, ValueError):
            return len(text)
    return len(text.encode("utf-8", "surrogatepass"))


def _is_json(event: Mapping[str, Any]) -> bool:
    headers = event.get("headers") or {}
    ctype = next((str(v) for k, v in headers.items() if str(k).lower() == "content-type"), "")
    media = ctype.split(";", 1)[0].strip().lower()
    return media in ("", "application/json") or media.endswith("+json")


def _is_utf8(event: Mapping[str, Any]) -> bool:
    if not event.get("isBase64Encoded"):
        return True
    try:
        base64.b64decode(str(event.get("body")), validate=False).decode("utf-8")
    except (binascii.Error, ValueError):  # UnicodeDecodeError is a ValueError
        return False
    return True


# JSON bodies the API takes: no deeper than this, numbers a double holds, text PostgreSQL stores.
MAX_JSON_DEPTH = 32
_UNSTORABLE = re.compile("[\x00\ud800-\udfff]")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError("number out of range")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


def _unstorable_path(value: Any, path: str = "", depth: int = 0) -> str | None:
    """The path of the first key or string PostgreSQL cannot store (U+0000, unpaired surrogate)."""
    if depth > MAX_JSON_DEPTH:
        raise RecursionError
    if isinstance(value, str):
        return (path or "body") if _UNSTORABLE.search(value) else None
    if isinstance(value, list):
        items: list[tuple[str, Any]] = [(f"{path}[{n}]", v) for n, v in enumerate(value)]
    elif isinstance(value, dict):
        items = []
        for key, v in value.items():
            child = f"{path}.{key}" if path else str(key)
            if _UNSTORABLE.search(str(key)):
                return child
            items.append((child, v))
    else:
        return None
    for child, v in items:
        found = _unstorable_path(v, child, depth + 1)
        if found is not None:
            return found
    return None


def check_json_body(event: Mapping[str, Any]) -> None:
    """422 for a body the routes must never see: not JSON, NaN/Infinity, a number beyond a double
    or beyond Python's 4,300 digits, nesting deeper than MAX_JSON_DEPTH, or text that cannot be
    stored. Everything else is left to the route's own validation."""
    body = event.get("body")
    if not body:
        return
    text = str(body)
    if event.get("isBase64Encoded"):
        text = base64.b64decode(text, validate=False).decode("utf-8")  # checked by _is_utf8 first
    try:
        parsed = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
        bad = _unstorable_path(parsed)
    except json.JSONDecodeError:
        raise error(422, "not valid JSON", "body") from None
    except RecursionError:
        raise error(422, f"not valid JSON (nested deeper than {MAX_JSON_DEPTH} levels)", "body") from None
    except ValueError:
        raise error(422, "not valid JSON (a number is out of range)", "body") from None
    if bad is not None:
        raise error(422, "text must not contain U+0000 or unpaired surrogates", bad)


def ui_origins() -> list[str]:
    """The admin UI's origins (``ADMIN_UI_ORIGINS``, comma-separated, e.g. the CloudFront URL): the
    only origins whose browsers may read the API's answers."""
    raw = os.environ.get("ADMIN_UI_ORIGINS", "")
    return [o.strip().rstrip("/") for o in raw.split(",") if o.strip() and o.strip() != "*"]


def cors_config(origins: list[str]) -> CORSConfig | None:
    if not origins:
        return None
    return CORSConfig(
        allow_origin=origins[0],
        extra_origins=origins[1:],
        allow_headers=["Authorization", "Content-Type"],
        max_age=600,
        allow_credentials=False,  # bearer tokens, never cookies
    )


def _origin(event: Mapping[str, Any]) -> str | None:
    headers = event.get("headers") or {}
    return next((str(v) for k, v in headers.items() if str(k).lower() == "origin"), None)


def _raw_response(exc: ApiError, cors: dict[str, str]) -> dict[str, Any]:
    return {
        "statusCode": exc.status,
        "multiValueHeaders": {"Content-Type": [content_types.APPLICATION_JSON], **{k: [v] for k, v in cors.items()}},
        "body": json.dumps(exc.body(), separators=(",", ":")),
        "isBase64Encoded": False,
    }


class AdminResolver(APIGatewayRestResolver):
    """Checks size and identity before routing, so a caller without rights learns nothing from
    validation errors; then resolves as usual with the caller in ``context["principal"]``."""

    _lock = threading.Lock()

    def resolve(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        # Powertools keeps the current request in shared state: one request at a time for in-process
        # callers on threads (tests; the local gateway also runs one invocation at a time), uncontended
        # in Lambda.
        started = time.perf_counter()
        with self._lock:
            response = self._resolve_one(event, context)
        # One line per request, like the webhooks' "webhook handled" (the path, never the body).
        logger.info(
            "admin request",
            extra={
                "method": event.get("httpMethod"),
                "path": event.get("path"),
                "status": response.get("statusCode"),
                "duration_ms": round((time.perf_counter() - started) * 1000, 1),
            },
        )
        return response

    def _resolve_one(self, event: Mapping[str, Any], context: LambdaContext) -> dict[str, Any]:
        metrics.add_metric(name="AdminRequests", unit=MetricUnit.Count, value=1)
        try:
            if _body_size(event) > MAX_BODY_BYTES:
                raise error(413, f"body is larger than {MAX_BODY_BYTES} bytes")
            principal = authorize(event)
            if event.get("body"):
                if not _is_json(event):
                    raise error(415, "send the body as application/json", "body")
                if not _is_utf8(event):
                    raise error(422, "not valid JSON (UTF-8)", "body")
                check_json_body(event)
        except ApiError as exc:
            # logged as every request is, by resolve()
            origin = _origin(event)
            cors = self._cors.to_dict(origin) if self._cors is not None and origin else {}
            return _raw_response(exc, {**cors, "Vary": "Origin"} if cors else {})
        logger.append_keys(tenant_id=str(principal.tenant), user_id=principal.user_id)
        self.append_context(principal=principal)  # type: ignore[no-untyped-call]
        response = super().resolve(event, context)
        if self._cors is not None:  # caches must not serve one origin's answer to another
            response.setdefault("multiValueHeaders", {}).setdefault("Vary", ["Origin"])
        return response


def _json(status: int, body: dict[str, Any]) -> Response[str]:
    return Response(status_code=status, content_type=content_types.APPLICATION_JSON, body=json.dumps(body))


def _field_path(loc: tuple[Any, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        elif isinstance(item, str):
            if item.startswith("function-") or item in {"constrained-str"}:
                continue
            parts.append(("." if parts else "") + item)
    return "".join(parts)


def validation_errors(exc: RequestValidationError, allowed: list[str], method: str) -> tuple[int, list[FieldError]]:
    """Powertools' errors as ours: ``body.conditions.messagePattern`` -> ``conditions.messagePattern``,
    ``query.limit`` -> ``limit``. A malformed path id means the object cannot exist: 404."""
    out: list[FieldError] = []
    for err in exc.errors():
        loc = tuple(err.get("loc") or ())
        source, rest = (loc[0], loc[1:]) if loc else ("body", ())
        if source == "path":
            if allowed and method not in allowed:  # e.g. DELETE /rules/order matched as /rules/{ruleId}
                return 405, [FieldError("", "method not allowed")]
            return 404, [FieldError("", "not found")]
        if err.get("type") == "json_invalid":
            out.append(FieldError("body", "not valid JSON"))
            continue
        msg = str(err.get("msg") or "invalid")
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        path = _field_path(rest)
        out.append(FieldError(path or ("body" if source == "body" else str(source)), msg))
    return 422, out


_templates: list[tuple[int, re.Pattern[str], list[str]]] | None = None


def allowed_methods(resolver: APIGatewayRestResolver, path: str) -> list[str]:
    """The methods the API serves on ``path`` (the documented routes, as in its OpenAPI paths; the
    most literal template wins, as in routing), for 405 answers."""
    global _templates
    if _templates is None:
        # From the route table, not get_openapi_schema(): that builds every model's JSON schema
        # (~0.9 s) on the first 404 or 422 of each process, for the same paths and methods.
        by_path: dict[str, set[str]] = {}
        for route in resolver._dynamic_routes + resolver._static_routes:
            if route.include_in_schema:
                by_path.setdefault(route.openapi_path, set()).add(route.method.upper())
        _templates = [
            (
                template.count("{"),
                re.compile("^" + re.sub(r"\\{[^/]+?\\}", "[^/]+", re.escape(template)) + "$"),
                sorted(found),
            )
            for template, found in by_path.items()
        ]
    matches = [(params, methods) for params, pattern, methods in _templates if pattern.match(path)]
    if not matches:
        return []
    fewest = min(params for params, _ in matches)
    return sorted({m for params, methods in matches if params == fewest for m in methods})


def build_app(origins: list[str] | None = None, *, with_routes: bool = True) -> AdminResolver:
    """The admin API's resolver. ``with_routes=False``: its answers and error mapping without the
    routes (tests add their own): including the module's routers binds them to the new resolver, so
    building a second app with them would take them from the process's ``app``."""
    app = AdminResolver(enable_validation=True, cors=cors_config(ui_origins() if origins is None else origins))
    if with_routes:
        app.include_router(routes.integrations_router, prefix="/v1/integrations")
        app.include_router(routes.polling_router, prefix="/v1/integrations")
        app.include_router(routes.org_mappings_router, prefix="/v1/integrations")
        app.include_router(routes.device_mappings_router, prefix="/v1/integrations")
        app.include_router(routes.rules_router, prefix="/v1/integrations")
        app.include_router(routes.windows_router, prefix="/v1/maintenance-windows")
        app.include_router(routes.alerts_router, prefix="/v1/alerts")
        app.include_router(routes.me_router, prefix="/v1/me")
        app.include_router(routes.lookups_router, prefix="/v1/lookups")
        app.include_router(routes.session_router, prefix="/v1/me")

    @app.exception_handler(ApiError)  # type: ignore[untyped-decorator]
    def api_error(exc: ApiError) -> Response[str]:
        return _json(exc.status, exc.body())

    @app.exception_handler(RequestValidationError)  # type: ignore[untyped-decorator]
    def invalid_request(exc: RequestValidationError) -> Response[str]:
        method = app.current_event.http_method.upper()
        allowed = allowed_methods(app, app.current_event.path)
        status, errors = validation_errors(exc, allowed, method)
        response = _json(status, {"errors": [e.as_dict() for e in errors]})
        if status == 405:
            response.headers["Allow"] = ", ".join(allowed)
        return response

    @app.exception_handler(RequestUnsupportedContentType)  # type: ignore[untyped-decorator]
    def unsupported(exc: RequestUnsupportedContentType) -> Response[str]:
        return _json(415, {"errors": [{"path": "body", "message": "send the body as application/json"}]})

    @app.exception_handler(psycopg.errors.IntegrityError)  # type: ignore[untyped-decorator]
    def integrity(exc: psycopg.errors.IntegrityError) -> Response[str]:
        # A race lost to a concurrent writer (unique or foreign key); never echo the database's detail.
        logger.warning("integrity error", extra={"error_type": type(exc).__name__})
        return _json(409, {"errors": [{"path": "", "message": "conflicts with the current state; retry"}]})

    @app.not_found
    def not_found(_: NotFoundError) -> Response[str]:
        allowed = allowed_methods(app, app.current_event.path)
        if allowed and app.current_event.http_method.upper() not in allowed:
            response = _json(405, {"errors": [{"path": "", "message": "method not allowed"}]})
            response.headers["Allow"] = ", ".join(allowed)
            return response
        return _json(404, {"errors": [{"path": "", "message": "not found"}]})

    @app.exception_handler(psycopg.DataError)  # type: ignore[untyped-decorator]
    def unstorable(exc: psycopg.DataError) -> Response[str]:
        # Valid JSON that PostgreSQL cannot hold, e.g. U+0000 inside a string.
        logger.info("unstorable value", extra={"error_type": type(exc).__name__})
        message = "a value cannot be stored (text must not contain U+0000)"
        return _json(422, {"errors": [{"path": "", "message": message}]})

    @app.exception_handler(Exception)  # type: ignore[untyped-decorator]
    def unexpected(exc: Exception) -> Response[str]:
        log_failure("admin request failed", exc)
        metrics.add_metric(name="AdminApiErrors", unit=MetricUnit.Count, value=1)
        return _json(500, {"errors": [{"path": "", "message": "internal error"}]})

    return app


app = build_app()


def openapi_json() -> str:
    """The OpenAPI document committed as ``docs/openapi.json`` (stable: sorted keys, 2-space indent)."""
    # Powertools' OpenAPI models take ~60 ms to build: only the document needs them, never a request.
    from aws_lambda_powertools.event_handler.openapi.models import APIKey, APIKeyIn, Server

    schema = app.get_openapi_json_schema(
        title=API_TITLE,
        version=API_VERSION,
        summary="Manage RMM integrations, mappings, alert rules, maintenance windows and alerts",
        description=(
            "Behind an API Gateway Cognito authorizer: send the Cognito ID token in `Authorization`. "
            "Claims used: `sub`, `custom:tenant_id`, `cognito:groups` (writes need `rmm-admin`, except to your own "
            "`/v1/me/notification-preferences`). "
            'Every error is `{"errors": [{"path": "...", "message": "..."}]}`.'
        ),
        servers=[Server(url="/", description="The API stage's base URL")],
        security_schemes={"cognito": APIKey(name="Authorization", in_=APIKeyIn.header)},
        security=[{"cognito": []}],
    )
    return json.dumps(json.loads(schema), indent=2, sort_keys=True) + "\n"
