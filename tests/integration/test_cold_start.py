"""Cold start: a handler's import loads no database driver, HTTP client or AWS SDK, and its first
invocation (which loads them) answers as every later one does.

Each function runs in a fresh interpreter the way Lambda starts it (``import handler`` from its
folder, the layer on the path), pointed at this test's database. No timing here: ``scripts/bench``
measures cold imports (docs/performance.md).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import uuid
from pathlib import Path
from typing import Any

import pytest

from functions.rules_api import handler as rules_api
from rmm_alerts.admin import app as admin_app
from tests.integration.conftest import fixture
from tests.support.admin_api import claims
from tests.support.apigw import FakeContext, rest_event, webhook_event
from tests.support.world import Tenant, make_tenant, set_webhook_secret

ROOT = Path(__file__).resolve().parents[2]
SECRET = "cold-start-secret-0123456789abcdef0123"
# Loaded by a handler's first invocation at the earliest (the X-Ray SDK only where SDK tracing is on).
HEAVY = (
    "psycopg",
    "psycopg_pool",
    "httpx",
    "boto3",
    "aws_xray_sdk",
    "aws_lambda_powertools.event_handler.openapi.models",
)

# Reads {"heavy": [...], "events": [...]} on stdin, imports the handler, invokes it once per event, and prints what
# was loaded before and after, and the answers.
PROBE = """
import json, sys
given = json.load(sys.stdin)
HEAVY = given["heavy"]
def heavy():
    return sorted(m for m in sys.modules if any(m == h or m.startswith(h + ".") for h in HEAVY))
class Context:
    function_name = "rmm-cold-start"
    memory_limit_in_mb = 256
    invoked_function_arn = "arn:aws:lambda:eu-west-1:123456789012:function:rmm-cold-start"
    aws_request_id = "00000000-0000-0000-0000-000000000001"
    def get_remaining_time_in_millis(self):
        return 29_000
events = given["events"]
import handler
at_import = heavy()
answers = []
for event in events:
    try:
        answers.append({"ok": handler.handler(event, Context())})
    except Exception as exc:
        answers.append({"error": type(exc).__name__, "message": str(exc)})
print("PROBE " + json.dumps({"at_import": at_import, "answers": answers, "after": heavy()}, default=str))
"""


def _cold_start(folder: str, events: list[dict[str, Any]], database_url: str, **env: str) -> dict[str, Any]:
    base = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN", "DATABASE_"))}
    base.update(
        PYTHONPATH=str(ROOT / "layers" / "core" / "python"),
        DATABASE_URL=database_url,
        AWS_LAMBDA_FUNCTION_NAME=f"rmm-{folder}",
        AWS_REGION="eu-west-1",
        POWERTOOLS_SERVICE_NAME="rmm-alerts",
        # No X-Ray daemon here; SDK tracing on the first invocation is covered by tests/unit/test_cold_imports.py.
        POWERTOOLS_TRACE_DISABLED="true",
        POWERTOOLS_METRICS_DISABLED="true",
        **env,
    )
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT / "functions" / folder,
        env=base,
        input=json.dumps({"heavy": HEAVY, "events": events}),
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert out.returncode == 0, out.stderr[-3000:]
    line = next(x for x in reversed(out.stdout.splitlines()) if x.startswith("PROBE "))
    result: dict[str, Any] = json.loads(line.removeprefix("PROBE "))
    return result


@pytest.fixture
def world(conn: Any, lambda_env: str) -> Tenant:
    w = make_tenant(conn)
    w.map_org("2")
    w.add_rule()
    set_webhook_secret(w, SECRET)
    return w


def test_webhook_first_invocation_loads_the_pipeline_and_opens_the_ticket(world: Tenant, lambda_env: str) -> None:
    body = fixture("ninjaone/condition_triggered.json")
    event = webhook_event("ninjaone", str(world.integration_id), body, secret=SECRET)
    got = _cold_start("webhook_ninjaone", [event, event], lambda_env)
    assert got["at_import"] == []
    first, replay = (json.loads(a["ok"]["body"]) for a in got["answers"])
    assert [a["ok"]["statusCode"] for a in got["answers"]] == [200, 200]
    assert first["outcome"] == "ticket_created"
    assert replay["outcome"] == "skipped"  # a replay: no second ticket
    assert "psycopg" in got["after"] and "httpx" not in got["after"] and "boto3" not in got["after"]
    assert len(world.alerts()) == 1 and len(world.tickets()) == 1


def _admin(world: Tenant, method: str, path: str, body: Any = None) -> dict[str, Any]:
    return rest_event(
        method,
        path,
        resource="/v1/{proxy+}",
        path_parameters={"proxy": path.removeprefix("/v1/")},
        body=body,
        headers={"Content-Type": "application/json"},
        claims=claims(world),
    )


def test_admin_api_first_invocation_answers_and_validates_as_later_ones(
    world: Tenant, lambda_env: str, tmp_path: Path
) -> None:
    invalid = _admin(world, "POST", "/v1/integrations", {"provider": "nope", "name": "", "extra": 1})
    events = [
        invalid,  # the first request of the process fails validation: the same 422 as ever
        _admin(world, "GET", "/v1/integrations"),
        invalid,
        _admin(world, "DELETE", "/v1/integrations"),  # 405 with the methods the path serves
    ]
    got = _cold_start("rules_api", events, lambda_env, LOCAL_STATE_DIR=str(tmp_path))
    assert got["at_import"] == []
    answers = [a["ok"] for a in got["answers"]]
    assert [a["statusCode"] for a in answers] == [422, 200, 422, 405]
    # The same answers as this (warm) process gives.
    expected = rules_api.handler(invalid, FakeContext())
    assert json.loads(answers[0]["body"]) == json.loads(answers[2]["body"]) == json.loads(expected["body"])
    assert {e["path"] for e in json.loads(answers[0]["body"])["errors"]} >= {"provider", "name"}
    listed = json.loads(answers[1]["body"])
    assert [i["integrationId"] for i in listed["items"]] == [str(world.integration_id)]
    assert answers[3]["multiValueHeaders"]["Allow"] == ["GET, POST"]
    # The services the requests used loaded; the RMM clients (httpx) only with an integration route.
    assert "psycopg" in got["after"] and "aws_lambda_powertools.event_handler.openapi.models" not in got["after"]


def test_poller_ticket_closed_and_outbox_first_invocations_work(world: Tenant, lambda_env: str, tmp_path: Path) -> None:
    poll = {"tenantId": str(world.tenant), "integrationId": str(uuid.uuid4())}
    got = _cold_start("poller", [poll, {"integrationId": "x"}], lambda_env, LOCAL_STATE_DIR=str(tmp_path))
    assert got["at_import"] == []
    skipped, invalid = got["answers"]
    assert skipped["ok"]["status"] == "skipped" and skipped["ok"]["reason"] == "integration_not_found"
    assert invalid["error"] == "ValueError" and "tenantId" in invalid["message"]
    assert {"psycopg", "httpx"} <= set(got["after"])

    closed = {
        "source": "psa",
        "detail-type": "TICKET_CLOSED",
        "detail": {"tenantId": str(world.tenant), "ticketId": str(uuid.uuid4())},
    }
    got = _cold_start("ticket_closed", [closed], lambda_env, LOCAL_STATE_DIR=str(tmp_path))
    assert got["at_import"] == []
    assert got["answers"][0]["ok"]["status"] == "ok" and got["answers"][0]["ok"]["resolved"] == 0

    got = _cold_start("outbox", [{}], lambda_env)
    assert got["at_import"] == []
    assert got["answers"][0]["ok"]["claimed"] == 0


def test_the_allowed_methods_are_the_openapi_documents() -> None:
    # 405 answers read the route table, not the (slow to build) OpenAPI document: same methods.
    schema = admin_app.app.get_openapi_schema(title=admin_app.API_TITLE, version=admin_app.API_VERSION)
    assert schema.paths
    for template, item in schema.paths.items():
        documented = sorted(
            m.upper() for m in item.model_dump(exclude_none=True) if m in {"get", "put", "post", "delete", "patch"}
        )
        path = re.sub(r"\{[^/]+?\}", "00000000-0000-0000-0000-000000000000", template)
        assert admin_app.allowed_methods(admin_app.app, path) == documented, template
