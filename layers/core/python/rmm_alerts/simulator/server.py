"""A loopback HTTP server base for the RMM simulators, with fault injection and a request log.

Faults are queued per endpoint (``"GET /api/v2/alerts"``, matched on method and path prefix) and
consumed in order: an HTTP status (optionally with ``Retry-After``), a hang longer than the
client's read timeout, malformed JSON, or a body larger than the client accepts. ``skip`` lets
the first N matching requests through (fail page 2, not page 1).

A control API under ``/_sim/`` lets another process (``rmm-alerts sim ...``) drive a running
simulator; see :mod:`rmm_alerts.simulator`.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any, Literal
from urllib.parse import parse_qs, urlsplit

import httpx

FaultKind = Literal["status", "hang", "malformed", "oversize"]


@dataclass
class Fault:
    endpoint: str
    kind: FaultKind = "status"
    status: int = 503
    retry_after: str | None = None
    delay: float = 0.0
    times: int = 1
    skip: int = 0
    size: int = 0

    def matches(self, method: str, path: str) -> bool:
        want_method, _, want_path = self.endpoint.partition(" ")
        return want_method.upper() == method and path.startswith(want_path)


@dataclass
class Request:
    method: str
    path: str
    query: dict[str, list[str]]
    headers: dict[str, str]
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body) if self.body else None


@dataclass
class Reply:
    status: int = 200
    body: Any = None
    headers: dict[str, str] = field(default_factory=dict)
    raw: bytes | None = None


def post_webhook(url: str, body: Any, headers: dict[str, str], timeout: float) -> tuple[int | None, dict[str, Any]]:
    """Send one webhook the way an RMM does (once, no retry): the HTTP status (``None`` when the
    service was unreachable) and what the service answered (outcome, ticket number), for
    ``rmm-alerts sim`` to show."""
    try:
        response = httpx.post(url, json=body, headers=headers, timeout=timeout)
    except httpx.HTTPError:
        return None, {}
    return response.status_code, _answer(response)


def _answer(response: httpx.Response) -> dict[str, Any]:
    try:
        body = response.json()
    except ValueError:
        return {}
    if not isinstance(body, dict):
        return {}
    return {k: body[k] for k in ("outcome", "ticketNumber") if isinstance(body.get(k), str)}


class SimServer:
    """Subclasses implement :meth:`route` (the RMM API) and :meth:`control` (the ``/_sim/`` API,
    ending with ``return super().control(action, body)`` for the actions every simulator has)."""

    name = "sim"

    def __init__(self, host: str = "127.0.0.1", port: int = 0) -> None:
        self._lock = threading.RLock()
        self.faults: list[Fault] = []
        self.requests: list[Request] = []
        self.send_webhooks = True
        self.webhook_deliveries: list[dict[str, Any]] = []
        self._host, self._port = host, port
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None

    # -- lifecycle ------------------------------------------------------------------------------

    @property
    def url(self) -> str:
        assert self._httpd is not None, "not started"
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}"

    def start(self) -> SimServer:
        sim = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, format: str, *args: Any) -> None:
                return

            def _handle(self) -> None:
                sim._dispatch(self)

            do_GET = do_POST = do_PUT = do_PATCH = do_DELETE = _handle

        self._httpd = ThreadingHTTPServer((self._host, self._port), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(target=self._httpd.serve_forever, name=f"{self.name}-sim", daemon=True)
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None

    def __enter__(self) -> SimServer:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    # -- faults -----------------------------------------------------------------------------------

    def fail(self, endpoint: str, **kwargs: Any) -> Fault:
        fault = Fault(endpoint, **kwargs)
        with self._lock:
            self.faults.append(fault)
        return fault

    def clear_faults(self) -> None:
        with self._lock:
            self.faults.clear()

    def _take_fault(self, method: str, path: str) -> Fault | None:
        with self._lock:
            for fault in self.faults:
                if not fault.matches(method, path):
                    continue
                if fault.skip > 0:
                    fault.skip -= 1
                    return None
                fault.times -= 1
                if fault.times <= 0:
                    self.faults.remove(fault)
                return fault
        return None

    def calls(self, method: str, path_prefix: str) -> list[Request]:
        with self._lock:
            return [r for r in self.requests if r.method == method and r.path.startswith(path_prefix)]

    # -- dispatch ---------------------------------------------------------------------------------

    def route(self, req: Request) -> Reply:
        raise NotImplementedError

    def control(self, action: str, body: Any) -> Any:
        args = body if isinstance(body, dict) else {}
        if action == "webhooks":
            self.send_webhooks = bool(args.get("enabled", True))
            return {"sendWebhooks": self.send_webhooks}
        raise KeyError(f"unknown action {action!r}")

    def _dispatch(self, handler: BaseHTTPRequestHandler) -> None:
        parts = urlsplit(handler.path)
        length = int(handler.headers.get("Content-Length") or 0)
        body = handler.rfile.read(length) if length else b""
        req = Request(
            handler.command,
            parts.path,
            parse_qs(parts.query),
            {k: v for k, v in handler.headers.items()},
            body,
        )
        if parts.path.startswith("/_sim/"):
            try:
                result = self.control(parts.path.removeprefix("/_sim/").strip("/"), req.json())
                self._send(handler, Reply(200, result))
            except (KeyError, ValueError, TypeError) as exc:
                self._send(handler, Reply(400, {"error": str(exc)}))
            return
        with self._lock:
            self.requests.append(req)
        fault = self._take_fault(req.method, req.path)
        if fault is not None:
            if fault.kind == "hang":
                time.sleep(fault.delay or 5.0)
                reply = self._safe_route(req)
            elif fault.kind == "malformed":
                reply = Reply(200, raw=b'[{"uid": "broken", ')
            elif fault.kind == "oversize":
                reply = Reply(200, raw=b"[" + b" " * (fault.size or 1024 * 1024) + b"]")
            else:
                headers = {"Retry-After": fault.retry_after} if fault.retry_after is not None else {}
                reply = Reply(fault.status, {"error": "injected fault"}, headers)
        else:
            reply = self._safe_route(req)
        self._send(handler, reply)

    def _safe_route(self, req: Request) -> Reply:
        try:
            return self.route(req)
        except (KeyError, ValueError, TypeError) as exc:
            return Reply(400, {"error": f"bad request: {type(exc).__name__}"})

    def _send(self, handler: BaseHTTPRequestHandler, reply: Reply) -> None:
        if reply.raw is not None:
            payload = reply.raw
        elif reply.body is None and reply.status == 204:
            payload = b""
        else:
            payload = json.dumps(reply.body).encode()
        try:
            handler.send_response(reply.status)
            for key, value in reply.headers.items():
                handler.send_header(key, value)
            if payload:
                handler.send_header("Content-Type", "application/json")
            handler.send_header("Content-Length", str(len(payload)))
            handler.end_headers()
            if payload:
                handler.wfile.write(payload)
        except (BrokenPipeError, ConnectionResetError):
            return  # the client gave up (timeout tests)
