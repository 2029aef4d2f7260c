"""Nothing slow at import: a handler's cold import pulls in neither the X-Ray SDK nor boto3, nor
the database driver, the HTTP client or Powertools' OpenAPI models (each loads on first use).

Each handler is imported the way Lambda does (``import handler`` from the function's folder, the
layer on the path) in a fresh interpreter, and its ``sys.modules`` inspected. No timing here:
``scripts/bench`` measures the cold imports (docs/performance.md).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/handler.py"))
# aws_xray_sdk and boto3 load botocore's client machinery (the bulk of the cost); the bare
# ``botocore`` package init is cheap and may be touched by Powertools. psycopg, httpx and the
# OpenAPI models load with a handler's first invocation (tests/integration/test_cold_start.py),
# except in migrate: it is all database work, run once per deploy (about 0.15 s with psycopg).
FORBIDDEN = (
    "aws_xray_sdk",
    "boto3",
    "botocore.session",
    "botocore.client",
    "psycopg",
    "psycopg_pool",
    "httpx",
    "aws_lambda_powertools.event_handler.openapi.models",
)

PROBE = """
import json, sys
import handler
print(json.dumps(sorted(sys.modules)))
"""


def _modules_after_import(folder: str, env: dict[str, str]) -> list[str]:
    out = subprocess.run(
        [sys.executable, "-c", PROBE],
        cwd=ROOT / "functions" / folder,
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=120,
    )
    loaded: list[str] = json.loads(out.stdout.strip().splitlines()[-1])
    return loaded


def _env(**extra: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN"))}
    env["PYTHONPATH"] = str(ROOT / "layers" / "core" / "python")
    env["POWERTOOLS_SERVICE_NAME"] = "rmm-alerts"
    env.update(extra)
    return env


def test_every_function_folder_is_checked() -> None:
    assert {"webhook_ninjaone", "webhook_tactical", "rules_api", "poller", "outbox", "migrate"} <= set(HANDLERS)


@pytest.mark.parametrize("folder", HANDLERS)
def test_handler_import_pulls_in_no_sdk_driver_or_http_client(folder: str) -> None:
    # As in Lambda (the function name set, active tracing on): the import alone stays light.
    env = _env(AWS_LAMBDA_FUNCTION_NAME=f"rmm-{folder}", AWS_REGION="eu-west-1")
    loaded = _modules_after_import(folder, env)
    forbidden = [f for f in FORBIDDEN if folder != "migrate" or not f.startswith("psycopg")]
    heavy = sorted(m for m in loaded if any(m == f or m.startswith(f + ".") for f in forbidden))
    assert heavy == []
    assert "handler" in loaded


TRACED = """
import json, sys
from rmm_alerts.observability import tracer

@tracer.capture_lambda_handler(capture_response=False)
def handler(event, context):
    return {"ok": event["n"]}

before = "aws_xray_sdk.core" in sys.modules
results = [handler({"n": 1}, None), handler({"n": 2}, None)]
print(json.dumps({"before": before, "results": results, "real": type(tracer.real).__name__,
                  "after": "aws_xray_sdk.core" in sys.modules}))
"""


def _traced(env: dict[str, str]) -> dict[str, object]:
    out = subprocess.run(
        [sys.executable, "-c", TRACED], cwd=ROOT, env=env, capture_output=True, text=True, check=True, timeout=120
    )
    result: dict[str, object] = json.loads(out.stdout.strip().splitlines()[-1])
    return result


def test_in_lambda_the_sdk_tracer_wraps_the_handler_on_first_invocation() -> None:
    env = _env(
        AWS_LAMBDA_FUNCTION_NAME="rmm-poller",
        AWS_REGION="eu-west-1",
        _X_AMZN_TRACE_ID="Root=1-5759e988-bd862e3fe1be46a994272793;Parent=53995c3f42cd8ad8;Sampled=1",
    )
    assert _traced(env) == {"before": False, "results": [{"ok": 1}, {"ok": 2}], "real": "Tracer", "after": True}


@pytest.mark.parametrize(
    "extra", [{"AWS_LAMBDA_FUNCTION_NAME": "rmm-webhook", "POWERTOOLS_TRACE_DISABLED": "true"}, {}]
)
def test_without_sdk_tracing_the_handler_runs_plain(extra: dict[str, str]) -> None:
    # webhooks in AWS (runtime tracing only), and local runs/tests: the SDK is never imported.
    assert _traced(_env(**extra)) == {
        "before": False,
        "results": [{"ok": 1}, {"ok": 2}],
        "real": "NoneType",
        "after": False,
    }


MODELS = """
import json, sys
from pydantic import BaseModel
import rmm_alerts.config, rmm_alerts.contracts, rmm_alerts.admin.schemas, rmm_alerts.admin.app
mods = ("rmm_alerts.config", "rmm_alerts.contracts", "rmm_alerts.admin.schemas")
models = [m for mod in mods for m in vars(sys.modules[mod]).values()
          if isinstance(m, type) and issubclass(m, BaseModel) and m.__module__ == mod]
built = sorted(m.__name__ for m in models if m.__pydantic_complete__)
settings = rmm_alerts.config.load(rmm_alerts.config.WebhookSettings, {"DATABASE_URL": "postgresql://x/y"})
try:
    rmm_alerts.config.load(rmm_alerts.config.OutboxSettings, {"DATABASE_URL": "x", "OUTBOX_BATCH_SIZE": "0"})
    refused = None
except Exception as exc:
    refused = [e["loc"] for e in exc.errors()]
print(json.dumps({"models": len(models), "built": built, "url": settings.database_url, "refused": refused,
                  "webhook_built": rmm_alerts.config.WebhookSettings.__pydantic_complete__,
                  "openapi_models": "aws_lambda_powertools.event_handler.openapi.models" in sys.modules}))
"""


def test_pydantic_models_are_built_on_first_use_not_at_import() -> None:
    # defer_build: importing the settings, contracts, admin schemas and the admin resolver builds no
    # validator; the first validation builds (and validates with) the model's.
    out = subprocess.run(
        [sys.executable, "-c", MODELS], cwd=ROOT, env=_env(), capture_output=True, text=True, check=True, timeout=120
    )
    got = json.loads(out.stdout.strip().splitlines()[-1])
    assert got["models"] > 40
    assert got["built"] == []
    assert got["url"] == "postgresql://x/y" and got["webhook_built"] is True
    assert got["refused"] == [["OUTBOX_BATCH_SIZE"]]
    assert got["openapi_models"] is False
