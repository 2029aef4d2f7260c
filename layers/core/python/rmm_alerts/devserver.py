"""``rmm-alerts dev``: the whole service on one machine.

PostgreSQL (embedded, data under ``<home>/pgdata`` so it survives restarts, unless
``DATABASE_URL`` is set; ``MIGRATION_DATABASE_URL`` then optionally gives the owner's direct URL
for migrations and the seed, when ``DATABASE_URL`` goes through a pooler), migrations, the demo
tenant on first run, a local API Gateway that feeds the real Lambda handlers, and the outbox
function after each request (events on the console, e-mails as ``.eml`` files under
``<home>/mail``). Ctrl-C (or SIGTERM) stops the gateway and PostgreSQL cleanly.
"""

from __future__ import annotations

import hmac
import importlib.util
import json
import os
import signal
import sys
import threading
import traceback
from pathlib import Path
from types import FrameType, ModuleType
from typing import Any

from rmm_alerts.localgateway import LocalGateway, Route

REPO_ROOT = Path(__file__).resolve().parents[4]
FUNCTIONS = REPO_ROOT / "functions"


def load_function(name: str) -> ModuleType:
    """Import ``functions/<name>/handler.py`` the way Lambda does (its folder is the code root)."""
    path = FUNCTIONS / name / "handler.py"
    spec = importlib.util.spec_from_file_location(f"rmm_local_fn_{name}", path)
    if spec is None or spec.loader is None:
        raise RuntimeError(f"cannot load {path}")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def bearer_authorizer(token: str, claims: dict[str, Any]) -> Any:
    """Accept ``Authorization: Bearer <token>`` and hand over the claims a Cognito authorizer would."""

    def authorize(headers: dict[str, str]) -> dict[str, Any] | None:
        value = next((v for k, v in headers.items() if k.lower() == "authorization"), "")
        scheme, _, presented = value.partition(" ")
        if scheme.lower() != "bearer" or not hmac.compare_digest(presented.strip().encode(), token.encode()):
            return None
        return dict(claims)

    return authorize


def describe(route: Route, event: dict[str, Any], response: dict[str, Any]) -> str | None:
    """One readable line per processed webhook: provider, outcome, alert, ticket number."""
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


def run(host: str, port: int, home: Path) -> int:
    from rmm_alerts import demo
    from rmm_alerts.localdb import LocalServer, ensure_database
    from rmm_alerts.migrations import apply_all

    home.mkdir(parents=True, exist_ok=True)
    server: LocalServer | None = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        print(f"starting PostgreSQL (data in {home / 'pgdata'}) ...", flush=True)
        server = LocalServer(home / "pgdata")
        url = ensure_database(server.uri(), "rmm_alerts")
    http = None
    sims: Any = None
    stopping = threading.Event()
    # Migrations and the demo seed need the owner and a session of their own: with a pooler in
    # DATABASE_URL (the app role through PgBouncer), MIGRATION_DATABASE_URL is the direct owner URL.
    owner_url = os.environ.get("MIGRATION_DATABASE_URL") or url
    try:
        applied = apply_all(owner_url)
        print(f"migrations: {', '.join(applied) if applied else 'up to date'}", flush=True)
        creds, created = demo.seed(owner_url, home / "dev-credentials.json")

        # What a deployed function's environment would hold; quiet Powertools for a readable console.
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "rmm-alerts-dev")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("API_BASE_URL", f"http://{host}:{port}")
        # rules_api: local scheduler table and 0600 credential files instead of AWS (rmm_alerts.ports).
        os.environ.setdefault("LOCAL_STATE_DIR", str(home / "state"))
        # outbox: events printed here (no EVENT_BUS_NAME), e-mails written as .eml files.
        os.environ.setdefault("NOTIFICATION_SENDER", "rmm-alerts@localhost")
        os.environ.setdefault("LOCAL_MAIL_DIR", str(home / "mail"))
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
            api = load_function("rules_api").handler
            authorizer = bearer_authorizer(creds.admin_token, claims)
            routes.append(Route(None, "/v1/{proxy+}", api, "rules_api", authorizer=authorizer))

        deliver = LocalDelivery()

        def on_response(route: Route, event: dict[str, Any], response: dict[str, Any]) -> None:
            line = describe(route, event, response)
            if line:
                print(line, flush=True)
            deliver()

        http = LocalGateway(routes, on_response).server(host, port)
        bound_port = http.server_address[1]
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
        if http is not None:
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


def _banner(host: str, port: int, creds: Any, created: bool) -> None:
    base = f"http://{host}:{port}"
    ninja_url = f"{base}/webhooks/ninjaone/{creds.ninjaone_integration_id}"
    tactical_url = f"{base}/webhooks/tacticalrmm/{creds.tactical_integration_id}"
    fixtures = REPO_ROOT / "tests" / "fixtures" / "ninjaone"
    trigger = fixtures / "condition_triggered.json"
    reset = fixtures / "condition_reset.json"
    lines = [
        "",
        f"rmm-alerts dev is running on {base}  ({'demo tenant created' if created else 'reusing your data'})",
        "",
        f"  tenant            {creds.tenant_id}",
        f"  admin token       {creds.admin_token}    (Authorization: Bearer ... on /v1)",
        "",
        f"  NinjaOne webhook  {ninja_url}",
        f"    X-Webhook-Secret: {creds.ninjaone_secret}",
        f"  Tactical webhook  {tactical_url}",
        f"    X-Webhook-Secret: {creds.tactical_secret}",
        "",
        "  Try it: a NinjaOne TRIGGERED creates a ticket, its RESET closes it.",
        f"  curl -sS -X POST '{ninja_url}' -H 'Content-Type: application/json' \\",
        f"       -H 'X-Webhook-Secret: {creds.ninjaone_secret}' -d @{trigger}",
        f"  curl -sS -X POST '{ninja_url}' -H 'Content-Type: application/json' \\",
        f"       -H 'X-Webhook-Secret: {creds.ninjaone_secret}' -d @{reset}",
        "",
        "  Ctrl-C stops the gateway and PostgreSQL; the next start reuses the data.",
        "ready",
    ]
    print("\n".join(lines), flush=True)
    sys.stdout.flush()
