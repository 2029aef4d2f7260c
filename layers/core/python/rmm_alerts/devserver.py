"""``rmm-alerts dev``: the whole service on one machine.

PostgreSQL (embedded, data under ``<home>/pgdata`` so it survives restarts, unless
``DATABASE_URL`` is set; ``MIGRATION_DATABASE_URL`` then optionally gives the owner's direct URL
for migrations and the seed, when ``DATABASE_URL`` goes through a pooler), migrations, the demo
tenant on first run, a local API Gateway that feeds the real Lambda handlers, and the outbox
function after each request (events on the console, e-mails as ``.eml`` files under
``<home>/mail``). Ctrl-C (or SIGTERM) stops the gateway and PostgreSQL cleanly.
"""

from __future__ import annotations

import errno
import hmac
import importlib.util
import ipaddress
import json
import logging
import os
import signal
import sys
import threading
import time
import traceback
from http.server import ThreadingHTTPServer
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from rmm_alerts.localgateway import LocalGateway, Route, StaticSite

REPO_ROOT = Path(__file__).resolve().parents[4]
FUNCTIONS = REPO_ROOT / "functions"
UI_DIST = REPO_ROOT / "ui" / "dist"


def load_function(name: str) -> ModuleType:
    """Import ``functions/<name>/handler.py`` the way Lambda does (its folder is the code root)."""
    path = FUNCTIONS / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"rmm_local_fn_{name}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bearer_authorizer(token: str, claims: dict[str, Any], *others: tuple[str, dict[str, Any]]) -> Any:
    """Accept ``Authorization: Bearer <token>`` and hand over the claims a Cognito authorizer would;
    ``others`` are more (token, claims) pairs, e.g. a read-only user's."""
    pairs = [(token, claims), *others]

    def authorize(headers: dict[str, str]) -> dict[str, Any] | None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, presented = value.partition(" ")
        if scheme.lower() != "bearer":
            return None
        found = None
        for candidate, candidate_claims in pairs:  # compare with every token: no early exit
            if hmac.compare_digest(presented.strip().encode(), candidate.encode()):
                found = candidate_claims
        return dict(found) if found is not None else None

    return authorize


def describe(route: Route, event: dict[str, Any], response: dict[str, Any]) -> str | None:
    """One readable line per request: webhooks with provider, outcome, alert, ticket number;
    admin API calls with method, path, status and duration."""
    if route.name == "rules_api":
        started = (event.get("requestContext") or {}).get("requestTimeEpoch")
        took = f" {max(0, int(time.time() * 1000) - int(started))}ms" if isinstance(started, int) else ""
        return f"admin   {event.get('httpMethod', '-'):<6} {event.get('path', '-')} {response.get('statusCode')}{took}"
    if not route.name.startswith("webhook_"):
        return None
    try:
        body = json.loads(response.get("body") or "{}")
    except ValueError:
        body = {}
    provider = "ninjaone" if route.name == "webhook_ninjaone" else "tacticalrmm"
    status = response.get("statusCode")
    outcome = body.get("outcome") or body.get("error") or "-"
    parts = [f"webhook {provider:<11} {status} {outcome:<20}"]
    if body.get("alertId"):
        parts.append(f"alert={body['alertId']}")
    if body.get("ticketNumber"):
        parts.append(f"ticket={body['ticketNumber']}")
    if body.get("reason"):
        parts.append(f"reason={body['reason']}")
    return " ".join(parts)


class LocalDelivery:
    """The outbox function, run right after each request (so a webhook's events and e-mails are
    out before its response) and every ``interval`` seconds (retries; the AWS schedule's job).
    Events are printed on the console, e-mails written under ``LOCAL_MAIL_DIR``."""

    def __init__(self, interval: float = 30.0) -> None:
        self.interval = interval
        self._lock = threading.Lock()
        self._handler: Any = None

    def __call__(self) -> None:
        from rmm_alerts import outbox
        from rmm_alerts.localgateway import LocalContext

        with self._lock:
            try:
                if self._handler is None:
                    outbox.current(echo=lambda line: print(line, flush=True))  # the console adapters
                    self._handler = load_function("outbox").handler
                self._handler({}, LocalContext(function_name="outbox"))
            except Exception:
                traceback.print_exc()  # the console is the function's log here

    def start_schedule(self, stopping: threading.Event) -> None:
        def loop() -> None:
            while not stopping.wait(self.interval):
                self()

        threading.Thread(target=loop, name="outbox-schedule", daemon=True).start()


def is_loopback(host: str) -> bool:
    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


class ConsoleFormatter(logging.Formatter):
    """Log records in the console's own format: a lower-case level word, then the message (as the
    ``webhook ...`` and ``admin ...`` lines)."""

    def format(self, record: logging.LogRecord) -> str:
        line = f"{record.levelname.lower():<7} {record.getMessage()}"
        if record.exc_info:
            line += "\n" + self.formatException(record.exc_info)
        return line


def _console_logging() -> None:
    handler = logging.StreamHandler(sys.stdout)
    handler.setFormatter(ConsoleFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        root.removeHandler(old)
    root.addHandler(handler)


def _console_service_logs() -> None:
    """The functions' Powertools logger (JSON lines in Lambda) in the console's format. It stays a
    Powertools formatter: the logger also asks it to keep and clear per-invocation keys."""
    from aws_lambda_powertools.logging.formatter import LambdaPowertoolsFormatter

    from rmm_alerts.observability import logger as service_logger

    console = ConsoleFormatter()

    class ServiceConsoleFormatter(LambdaPowertoolsFormatter):
        def format(self, record: logging.LogRecord) -> str:
            return console.format(record)

    service_logger.registered_handler.setFormatter(ServiceConsoleFormatter())


def bind(host: str, port: int, gateway: LocalGateway) -> ThreadingHTTPServer | None:
    """Listen on ``host:port``, or say plainly why not (``None``)."""
    try:
        return gateway.server(host, port)
    except OSError as exc:
        if exc.errno == errno.EADDRINUSE:
            print(
                f"rmm-alerts dev: port {port} on {host} is already in use (is another rmm-alerts dev running?).\n"
                f"Stop the other process, or start on a free port: rmm-alerts dev --port {port + 1}",
                file=sys.stderr,
                flush=True,
            )
        else:
            print(
                f"rmm-alerts dev: cannot listen on {host}:{port}: {exc.strerror or exc}.\n"
                "Pick another address or port: rmm-alerts dev --host 127.0.0.1 --port 8000",
                file=sys.stderr,
                flush=True,
            )
        return None


def run(host: str, port: int, home: Path) -> int:
    from rmm_alerts import demo
    from rmm_alerts.localdb import LocalServer, ensure_database
    from rmm_alerts.migrations import apply_all

    if not is_loopback(host):
        print(
            f"warning listening on {host}, not loopback: anyone who can reach this machine can send webhooks, "
            "and the admin token printed below works from the network. Use --host 127.0.0.1 unless you mean it.",
            flush=True,
        )

    deliver = LocalDelivery()

    def on_response(route: Route, event: dict[str, Any], response: dict[str, Any]) -> None:
        line = describe(route, event, response)
        if line:
            print(line, flush=True)
        deliver()

    # Bind before starting anything, so a taken port fails fast with nothing to stop. Requests that
    # arrive before the routes are in place wait in the listen backlog until serve_forever().
    # The admin UI is served at / and calls the API on its own origin.
    gateway = LocalGateway([], on_response, static=StaticSite(UI_DIST, {"mode": "local", "apiUrl": ""}))
    http = bind(host, port, gateway)
    if http is None:
        return 1
    bound_port = http.server_address[1]
    _console_logging()

    server: LocalServer | None = None
    sims: Any = None
    stopping = threading.Event()
    try:
        home.mkdir(parents=True, exist_ok=True)
        url = os.environ.get("DATABASE_URL")
        if not url:
            print(f"starting PostgreSQL (data in {home / 'pgdata'}) ...", flush=True)
            server = LocalServer(home / "pgdata")
            url = ensure_database(server.uri(), "rmm_alerts")
        # Migrations and the demo seed need the owner and a session of their own: with a pooler in
        # DATABASE_URL (the app role through PgBouncer), MIGRATION_DATABASE_URL is the direct owner URL.
        owner_url = os.environ.get("MIGRATION_DATABASE_URL") or url
        applied = apply_all(owner_url)
        print(f"migrations: {', '.join(applied) if applied else 'up to date'}", flush=True)
        creds, created = demo.seed(owner_url, home / "dev-credentials.json")

        # What a deployed function's environment would hold; quiet Powertools for a readable console.
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "rmm-alerts-dev")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("API_BASE_URL", f"http://{host}:{bound_port}")
        # rules_api: local scheduler table and 0600 credential files instead of AWS (rmm_alerts.ports).
        os.environ.setdefault("LOCAL_STATE_DIR", str(home / "state"))
        # outbox: events printed here (no EVENT_BUS_NAME), e-mails written as .eml files.
        os.environ.setdefault("NOTIFICATION_SENDER", "rmm-alerts@localhost")
        os.environ.setdefault("LOCAL_MAIL_DIR", str(home / "mail"))
        # Delivery runs inline after each request (LocalDelivery), before its response: no lingering.
        os.environ["OUTBOX_LINGER_SECONDS"] = "0"
        # The built-in RMM simulator listens on loopback http (rmm_alerts.devsim).
        os.environ.setdefault("ALLOW_LOOPBACK_PROVIDERS", "true")

        routes = [
            Route(
                "POST",
                "/webhooks/ninjaone/{integrationId}",
                load_function("webhook_ninjaone").handler,
                "webhook_ninjaone",
            ),
            Route(
                "POST",
                "/webhooks/ninjaone/{integrationId}/{channelSecret}",
                load_function("webhook_ninjaone").handler,
                "webhook_ninjaone",
            ),
            Route(
                "POST",
                "/webhooks/tacticalrmm/{integrationId}",
                load_function("webhook_tactical").handler,
                "webhook_tactical",
            ),
        ]
        if (FUNCTIONS / "rules_api" / "handler.py").exists():
            claims = {
                "sub": creds.admin_user_id,
                "custom:tenant_id": creds.tenant_id,
                "cognito:groups": "rmm-admin",
                "email": "admin@demo-msp.test",
            }
            # A second, read-only user of the demo tenant (no rmm-admin group), to see the UI as one.
            reader = {
                "sub": creds.reader_user_id,
                "custom:tenant_id": creds.tenant_id,
                "cognito:groups": "",
                "email": "reader@demo-msp.test",
            }
            api = load_function("rules_api").handler
            authorizer = bearer_authorizer(creds.admin_token, claims, (creds.reader_token, reader))
            routes.append(Route(None, "/v1/{proxy+}", api, "rules_api", authorizer=authorizer))

        gateway.routes = routes
        _console_service_logs()
        deliver.start_schedule(stopping)
        os.environ["API_BASE_URL"] = f"http://{host}:{bound_port}"
        sims = _start_simulators(home, url, creds, f"http://{host}:{bound_port}")
        _start_event_bus(home, deliver, stopping)
        _sim_banner(sims, creds)
        _banner(host, bound_port, creds, created)

        def stop(signum: int, frame: FrameType | None) -> None:
            if not stopping.is_set():
                stopping.set()
                threading.Thread(target=http.shutdown, daemon=True).start()

        signal.signal(signal.SIGTERM, stop)
        signal.signal(signal.SIGINT, stop)
        http.serve_forever(poll_interval=0.2)
    finally:
        print("stopping ...", flush=True)
        if sims is not None:
            sims.stop()
        http.server_close()
        from rmm_alerts import db

        db.reset_pool()
        if server is not None:
            server.stop()
        print("stopped", flush=True)
    return 0


def _start_simulators(home: Path, url: str, creds: Any, base_url: str) -> Any:
    """The built-in RMMs and the local poll scheduler (rmm_alerts.devsim)."""
    from rmm_alerts import devsim
    from rmm_alerts.localgateway import LocalContext
    from rmm_alerts.ports import LocalScheduler

    sims = devsim.start(home, url, creds, base_url)
    poller = load_function("poller").handler

    def fire(payload: dict[str, str]) -> None:
        try:
            summary = poller(dict(payload), LocalContext("poller"))
        except Exception as exc:
            print(f"poll {payload['integrationId']} failed: {exc}", flush=True)
            return
        print(
            f"poll    {summary.get('provider', ''):<11} {summary['status']:<6} fetched={summary['fetched']} "
            f"triggered={summary['triggered']} resolved={summary['resolved']} released={summary['released']}",
            flush=True,
        )

    seconds = os.environ.get("RMM_ALERTS_DEV_POLL_SECONDS")
    sims.scheduler = devsim.LocalPollScheduler(
        LocalScheduler(Path(os.environ["LOCAL_STATE_DIR"])), fire, float(seconds) if seconds else None
    ).start()
    return sims


def _start_event_bus(home: Path, deliver: LocalDelivery, stopping: threading.Event) -> None:
    """The local event bus: TICKET_CLOSED entries (``rmm-alerts ticket close``) -> ticket_closed."""
    from rmm_alerts.localbus import LocalEventBus
    from rmm_alerts.localgateway import LocalContext

    ticket_closed = load_function("ticket_closed").handler
    targets = {"TICKET_CLOSED": lambda event: ticket_closed(event, LocalContext("ticket_closed"))}
    LocalEventBus(home, targets, echo=lambda line: print(line, flush=True), after=deliver).start(stopping)


def _sim_banner(sims: Any, creds: Any) -> None:
    lines = [
        "  Built-in RMM simulator (loopback fakes; the demo integrations are connected to them):",
        f"    NinjaOne     {sims.ninjaone.url}   Tactical  {sims.tactical.url}",
        "    rmm-alerts sim fire ninjaone --device 101 --condition cpu-high   (alert -> webhook -> ticket)",
        "    rmm-alerts sim clear ninjaone --device 101 --condition cpu-high --no-webhook",
        f"    rmm-alerts poll {creds.ninjaone_integration_id}   (the poller closes the ticket)",
        "    rmm-alerts ticket close <number>   (a technician closes it: the alert is reset in the RMM)",
        "",
    ]
    print("\n".join(lines), flush=True)


def _command_name() -> str:
    """How to call ``rmm-alerts`` from here: the venv's script, relative when it is below the cwd."""
    script = Path(sys.executable).parent / "rmm-alerts"
    if not script.exists():
        return "rmm-alerts"
    try:
        return str(script.relative_to(Path.cwd()))
    except ValueError:
        return str(script)


def _banner(host: str, port: int, creds: Any, created: bool) -> None:
    base = f"http://{host}:{port}"
    ninja_url = f"{base}/webhooks/ninjaone/{creds.ninjaone_integration_id}"
    tactical_url = f"{base}/webhooks/tacticalrmm/{creds.tactical_integration_id}"
    sample = _command_name() + " sample ninjaone"
    lines = [
        "",
        f"rmm-alerts dev is running on {base}  ({'demo tenant created' if created else 'reusing your data'})",
        "",
        f"  tenant            {creds.tenant_id}",
        f"  admin token       {creds.admin_token}    (Authorization: Bearer ... on /v1)",
        f"  read-only token   {creds.reader_token}",
        "",
        f"  Admin UI          {base}/#token={creds.admin_token}",
        f"    read-only       {base}/#token={creds.reader_token}",
        "",
        f"  NinjaOne webhook  {ninja_url}",
        f"    X-Webhook-Secret: {creds.ninjaone_secret}",
        f"  Tactical webhook  {tactical_url}",
        f"    X-Webhook-Secret: {creds.tactical_secret}",
        "",
        "  Try it: a NinjaOne TRIGGERED creates a ticket, its RESET closes it.",
        f"  {sample} trigger | curl -sS -X POST '{ninja_url}' \\",
        f"       -H 'Content-Type: application/json' -H 'X-Webhook-Secret: {creds.ninjaone_secret}' -d @-",
        f"  {sample} reset | curl -sS -X POST '{ninja_url}' \\",
        f"       -H 'Content-Type: application/json' -H 'X-Webhook-Secret: {creds.ninjaone_secret}' -d @-",
        "",
        "  Ctrl-C stops the gateway and PostgreSQL; the next start reuses the data.",
        "ready",
    ]
    print("\n".join(lines), flush=True)
    sys.stdout.flush()
