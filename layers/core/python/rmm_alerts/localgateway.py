"""A local stand-in for API Gateway: HTTP requests in, REST proxy events to the Lambda handlers,
proxy responses back out. For ``rmm-alerts dev`` only; binds to loopback by default.

The HTTP part is the standard library's ``ThreadingHTTPServer``; this module is only the adapter.
"""

from __future__ import annotations

import base64
import json
import mimetypes
import re
import threading
import time
import traceback
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

Handler = Callable[[dict[str, Any], Any], dict[str, Any]]
MAX_LOCAL_BODY = 10 * 1024 * 1024  # API Gateway's own payload limit


@dataclass
class Route:
    method: str | None  # None: any method
    template: str  # e.g. "/webhooks/ninjaone/{integrationId}" or "/v1/{proxy+}"
    handler: Handler
    name: str
    authorizer: Callable[[dict[str, str]], dict[str, Any] | None] | None = None
    _regex: re.Pattern[str] = field(init=False)

    def __post_init__(self) -> None:
        pattern = re.escape(self.template)
        pattern = re.sub(r"\\\{(\w+)\\\+\\\}", r"(?P<\1>.+)", pattern)
        pattern = re.sub(r"\\\{(\w+)\\\}", r"(?P<\1>[^/]+)", pattern)
        self._regex = re.compile(f"^{pattern}$")

    def match(self, method: str, path: str) -> dict[str, str] | None:
        if self.method is not None and self.method != method:
            return None
        m = self._regex.match(path)
        return m.groupdict() if m else None


@dataclass
class LocalContext:
    """The parts of a Lambda context that the handlers and Powertools read."""

    function_name: str
    aws_request_id: str = field(default_factory=lambda: str(uuid.uuid4()))
    memory_limit_in_mb: int = 512
    invoked_function_arn: str = "arn:aws:lambda:local:000000000000:function:local"
    log_group_name: str = "/local"
    log_stream_name: str = "local"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def build_event(
    route: Route,
    method: str,
    raw_path: str,
    headers: dict[str, str],
    body: bytes,
    path_params: dict[str, str],
    claims: dict[str, Any] | None,
) -> dict[str, Any]:
    """The REST API (v1) proxy event API Gateway would send for this request."""
    split = urlsplit(raw_path)
    query_pairs = parse_qsl(split.query, keep_blank_values=True)
    multi: dict[str, list[str]] = {}
    for k, v in query_pairs:
        multi.setdefault(k, []).append(v)
    is_text = _is_text(headers, body)
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "accountId": "000000000000",
        "apiId": "local",
        "stage": "local",
        "requestId": request_id,
        "resourcePath": route.template,
        "httpMethod": method,
        "path": f"/local{split.path}",
        "protocol": "HTTP/1.1",
        "requestTimeEpoch": int(time.time() * 1000),
        "requestTime": datetime.now(UTC).strftime("%d/%b/%Y:%H:%M:%S +0000"),
        "identity": {"sourceIp": headers.get("X-Forwarded-For", "127.0.0.1"), "userAgent": headers.get("User-Agent")},
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": route.template,
        "path": split.path,
        "httpMethod": method,
        "headers": dict(headers),
        "multiValueHeaders": {k: [v] for k, v in headers.items()},
        "queryStringParameters": {k: v[-1] for k, v in multi.items()} or None,
        "multiValueQueryStringParameters": multi or None,
        "pathParameters": path_params or None,
        "stageVariables": None,
        "requestContext": context,
        "body": (body.decode("utf-8") if is_text else base64.b64encode(body).decode()) if body else None,
        "isBase64Encoded": bool(body) and not is_text,
    }


def _is_text(headers: dict[str, str], body: bytes) -> bool:
    ctype = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    if ctype and not (ctype.startswith("text/") or "json" in ctype or "xml" in ctype):
        return False
    try:
        body.decode("utf-8")
    except UnicodeDecodeError:
        return False
    return True


# The admin UI's static files: same-origin API calls only, no framing, no sniffing.
STATIC_HEADERS = {
    "Content-Security-Policy": (
        "default-src 'self'; connect-src 'self'; img-src 'self' data:; style-src 'self'; "
        "script-src 'self'; frame-ancestors 'none'; base-uri 'none'; form-action 'self'"
    ),
    "X-Content-Type-Options": "nosniff",
    "Referrer-Policy": "no-referrer",
    "Cache-Control": "no-cache",
}
_NOT_BUILT = b"""<!doctype html><html lang="en"><title>Admin UI not built</title>
<p>The admin UI is not built: run <code>scripts/bootstrap</code> (it builds <code>ui/dist</code>).</p></html>"""


@dataclass
class StaticSite:
    """Files under ``root`` at ``/`` (``index.html`` for ``/``), plus a generated ``/config.json``."""

    root: Path
    config: dict[str, Any]

    def get(self, path: str) -> tuple[int, dict[str, str], bytes]:
        if path == "/config.json":
            return 200, {"Content-Type": "application/json", **STATIC_HEADERS}, json.dumps(self.config).encode()
        root = self.root.resolve()
        if not (root / "index.html").is_file():
            return 503, {"Content-Type": "text/html; charset=utf-8", **STATIC_HEADERS}, _NOT_BUILT
        relative = "index.html" if path in ("", "/") else path.lstrip("/")
        target = (root / relative).resolve()
        if not target.is_relative_to(root) or not target.is_file():  # no way out of the folder
            return 404, {"Content-Type": "text/plain", **STATIC_HEADERS}, b"Not Found"
        ctype = mimetypes.guess_type(target.name)[0] or "application/octet-stream"
        if ctype.startswith("text/") or ctype in ("application/javascript", "application/json"):
            ctype += "; charset=utf-8"
        return 200, {"Content-Type": ctype, **STATIC_HEADERS}, target.read_bytes()


class LocalGateway:
    def __init__(
        self,
        routes: list[Route],
        on_response: Callable[[Route, dict[str, Any], dict[str, Any]], None] | None = None,
        static: StaticSite | None = None,
    ) -> None:
        self.routes = routes
        self.on_response = on_response
        self.static = static
        # One invocation at a time, as a Lambda instance runs one event at a time: the HTTP server is
        # threaded (the UI asks in parallel), and Powertools' resolvers keep the current request in
        # state shared by all of them (``BaseRouter.current_event`` is a class attribute), so two
        # functions running side by side could route or read each other's request.
        self._invoking = threading.Lock()

    def dispatch(
        self, method: str, raw_path: str, headers: dict[str, str], body: bytes
    ) -> tuple[int, dict[str, str], bytes]:
        path = urlsplit(raw_path).path
        for route in self.routes:
            params = route.match(method, path)
            if params is None:
                continue
            claims = None
            if route.authorizer is not None:
                claims = route.authorizer(headers)
                if claims is None:
                    denied = {"statusCode": 401, "body": _error_body("Unauthorized").decode()}
                    if self.on_response is not None:  # refused requests are worth a console line too
                        self.on_response(
                            route, build_event(route, method, raw_path, headers, body, params, None), denied
                        )
                    return 401, {"Content-Type": "application/json"}, _error_body("Unauthorized")
            event = build_event(route, method, raw_path, headers, body, params, claims)
            with self._invoking:
                response = route.handler(event, LocalContext(function_name=route.name))
            if self.on_response is not None:
                self.on_response(route, event, response)
            return _to_http(response)
        if self.static is not None and method in ("GET", "HEAD") and not path.startswith(("/v1/", "/webhooks/")):
            return self.static.get(path)
        return 404, {"Content-Type": "application/json"}, _error_body("Not Found")

    def server(self, host: str, port: int) -> ThreadingHTTPServer:
        gateway = self

        class RequestHandler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def _handle(self) -> None:
                length = int(self.headers.get("Content-Length") or 0)
                if length > MAX_LOCAL_BODY:
                    self._send(413, {"Content-Type": "application/json"}, _error_body("Request too long"))
                    return
                body = self.rfile.read(length) if length else b""
                try:
                    status, headers, payload = gateway.dispatch(
                        self.command, self.path, dict(self.headers.items()), body
                    )
                except Exception:  # the real gateway answers 502 when a function crashes
                    traceback.print_exc()  # the developer's console is the function's log here
                    status, headers = 502, {"Content-Type": "application/json"}
                    payload = _error_body("Internal server error")
                self._send(status, headers, payload)

            def _send(self, status: int, headers: dict[str, str], payload: bytes) -> None:
                self.send_response(status)
                for k, v in headers.items():
                    if k.lower() not in {"content-length", "connection"}:
                        self.send_header(k, v)
                self.send_header("Content-Length", str(len(payload)))
                self.end_headers()
                if self.command != "HEAD":
                    self.wfile.write(payload)

            do_GET = do_HEAD = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

            def log_message(self, format: str, *args: Any) -> None:
                return  # one readable line per webhook is printed by the dev server instead

        return ThreadingHTTPServer((host, port), RequestHandler)


def _error_body(message: str) -> bytes:
    """Gateway-made errors in the service's one error shape (as the stack's gateway responses)."""
    return json.dumps({"errors": [{"path": "", "message": message}]}).encode()


def _to_http(response: dict[str, Any]) -> tuple[int, dict[str, str], bytes]:
    status = int(response.get("statusCode", 502))
    headers = {str(k): str(v) for k, v in (response.get("headers") or {}).items()}
    for k, values in (response.get("multiValueHeaders") or {}).items():
        if values:
            headers[str(k)] = ", ".join(str(v) for v in values)
    body = response.get("body") or ""
    payload = base64.b64decode(body) if response.get("isBase64Encoded") else str(body).encode("utf-8")
    return status, headers, payload
