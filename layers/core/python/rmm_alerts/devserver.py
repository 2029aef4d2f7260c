"""``rmm-alerts dev``: the whole service on one machine.

PostgreSQL (embedded, data under ``<home>/pgdata`` so it survives restarts, unless
``DATABASE_URL`` is set), migrations, the demo tenant on first run, and a local API Gateway that
feeds the real Lambda handlers. Ctrl-C (or SIGTERM) stops the gateway and PostgreSQL cleanly.
"""

from __future__ import annotations

import hmac
import importlib.util
import json
import os
import signal
import sys
import threading
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
    stopping = threading.Event()
    try:
        applied = apply_all(url)
        print(f"migrations: {', '.join(applied) if applied else 'up to date'}", flush=True)
        creds, created = demo.seed(url, home / "dev-credentials.json")

        # What a deployed function's environment would hold; quiet Powertools for a readable console.
        os.environ["DATABASE_URL"] = url
        os.environ.setdefault("POWERTOOLS_SERVICE_NAME", "rmm-alerts-dev")
        os.environ.setdefault("POWERTOOLS_LOG_LEVEL", "WARNING")
        os.environ.setdefault("POWERTOOLS_METRICS_DISABLED", "true")
        os.environ.setdefault("API_BASE_URL", f"http://{host}:{port}")
        # rules_api: local scheduler table and 0600 credential files instead of AWS (rmm_alerts.ports).
        os.environ.setdefault("LOCAL_STATE_DIR", str(home / "state"))

        routes = [
            Route(
                "POST",
                "/webhooks/ninjaone/{integrationId}",
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

        def on_response(route: Route, event: dict[str, Any], response: dict[str, Any]) -> None:
            line = describe(route, event, response)
            if line:
                print(line, flush=True)

        site = StaticSite(UI_DIST, {"mode": "local", "apiUrl": ""})  # the UI calls the API on its own origin
        http = LocalGateway(routes, on_response, site).server(host, port)
        bound_port = http.server_address[1]
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
        if http is not None:
            http.server_close()
        from rmm_alerts import db

        db.reset_pool()
        if server is not None:
            server.stop()
        print("stopped", flush=True)
    return 0


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
