"""What an engineer running this in AWS relies on: logs, connection reuse, a cheap import."""

from __future__ import annotations

import io
import json
import subprocess
import sys
import warnings
from collections.abc import Iterator
from typing import Any

import psycopg
import pytest

from functions.webhook_ninjaone import handler as ninja
from rmm_alerts import config, db
from rmm_alerts.localpooler import PgBouncer
from rmm_alerts.observability import logger
from tests.integration.conftest import fixture
from tests.support.apigw import FakeContext, webhook_event
from tests.support.world import Tenant, make_tenant, set_webhook_secret

SECRET = "log-test-secret-value-0123456789abcdef"


@pytest.fixture
def world(conn: Any, lambda_env: str) -> Tenant:
    w = make_tenant(conn)
    w.map_org("2")
    w.add_rule()
    set_webhook_secret(w, SECRET)
    return w


def _logs(out: str) -> list[dict[str, Any]]:
    records = []
    for line in out.splitlines():
        if line.startswith("{") and '"level"' in line:
            records.append(json.loads(line))
    return records


@pytest.fixture
def log_stream() -> Iterator[io.StringIO]:
    """What the Powertools logger writes (it keeps the stream it was built with, so swap it)."""
    stream = io.StringIO()
    old = logger.registered_handler.setStream(stream)  # type: ignore[attr-defined]
    yield stream
    logger.registered_handler.setStream(old)  # type: ignore[attr-defined]


def test_logs_carry_correlation_and_tenant_but_no_secret_or_payload(world: Tenant, log_stream: io.StringIO) -> None:
    body = fixture("ninjaone/condition_triggered.json")
    event = webhook_event("ninjaone", str(world.integration_id), body, secret=SECRET)
    assert ninja.handler(event, FakeContext())["statusCode"] == 200
    out = log_stream.getvalue()
    records = [r for r in _logs(out) if r.get("message") == "webhook handled"]
    assert len(records) == 1
    record = records[0]
    assert record["correlation_id"] == event["requestContext"]["requestId"]
    assert record["tenant_id"] == str(world.tenant)
    assert record["integration_id"] == str(world.integration_id)
    assert record["outcome"] == "ticket_created"
    assert SECRET not in out
    assert body["message"] not in out  # payload content never logged
    # the wrong-secret path logs no secret either
    bad = webhook_event("ninjaone", str(world.integration_id), body, secret="not-" + SECRET)
    ninja.handler(bad, FakeContext())
    assert "not-" + SECRET not in log_stream.getvalue()


def test_connection_is_reused_and_replaced_after_failure(world: Tenant, pooler: PgBouncer, conn: Any) -> None:
    body = fixture("ninjaone/condition_triggered.json")

    def send(activity: int) -> int:
        b = {**body, "id": activity}
        return int(
            ninja.handler(webhook_event("ninjaone", str(world.integration_id), b, secret=SECRET), FakeContext())[
                "statusCode"
            ]
        )

    def opened() -> int:
        assert db._pool is not None
        return int(db._pool.get_stats().get("connections_num", 0))

    assert send(1) == 200
    first = opened()
    assert first >= 1, "the pool keeps a warm connection"
    assert send(2) == 200
    assert opened() == first  # reused across warm invocations
    # The proxy drops every connection (failover, idle timeout, ...).
    pooler.drop_connections(conn.info.dbname)
    assert send(3) == 200  # the first statement finds it dead: retried once, on checked connections
    assert opened() > first
    assert len(world.alerts()) == 3


def test_import_connects_to_nothing() -> None:
    code = (
        "import os; os.environ['DATABASE_URL']='postgresql://nobody@127.0.0.1:1/x';"
        "import functions.webhook_ninjaone.handler, functions.webhook_tactical.handler;"
        "from rmm_alerts import db; assert db._pool is None; print('ok')"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True, timeout=60)
    assert out.stdout.strip() == "ok"


def test_sessions_run_under_the_app_roles_limits_without_startup_options(world: Tenant) -> None:
    pool = db.get_pool(config.cached(config.WebhookSettings))
    with pool.connection() as conn:
        row = conn.execute(
            "SELECT current_user, current_setting('statement_timeout'), current_setting('lock_timeout'),"
            " current_setting('idle_in_transaction_session_timeout')"
        ).fetchone()
        prepare = conn.prepare_threshold
        options = conn.info.get_parameters().get("options")
    assert row is not None and tuple(row) == ("rmm_app", "5s", "5s", "15s")
    assert prepare is None
    assert options is None


def test_the_pooler_refuses_startup_options_as_rds_proxy_does(lambda_env: str) -> None:
    """The guard that would have caught the RDS Proxy blocker: our pooler is as strict."""
    with pytest.raises(psycopg.OperationalError, match="unsupported startup parameter: options"):
        psycopg.connect(lambda_env, options="-c statement_timeout=1000")


def test_metrics_count_alerts_by_provider_and_outcome_with_duration(
    world: Tenant, capsys: pytest.CaptureFixture[str]
) -> None:
    event = webhook_event(
        "ninjaone", str(world.integration_id), fixture("ninjaone/condition_triggered.json"), secret=SECRET
    )
    capsys.readouterr()
    assert ninja.handler(event, FakeContext())["statusCode"] == 200
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    (blob,) = [b for b in emf if "AlertsReceived" in b]
    assert blob["provider"] == "ninjaone" and blob["outcome"] == "ticket_created"
    assert blob["AlertsReceived"] == [1.0]
    assert blob["WebhookDuration"][0] > 0
    (directive,) = blob["_aws"]["CloudWatchMetrics"]
    assert {"provider", "outcome"} <= set(directive["Dimensions"][0])
    units = {m["Name"]: m["Unit"] for m in directive["Metrics"]}
    assert units == {"AlertsReceived": "Count", "WebhookDuration": "Milliseconds"}


@pytest.mark.parametrize("metrics_disabled", [True, False], ids=["metrics-off", "metrics-on"])
def test_a_webhook_burst_raises_no_powertools_warning(
    world: Tenant, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str], metrics_disabled: bool
) -> None:
    """Warm invocations with different outcomes must not inherit the previous one's dimensions
    (Powertools only clears them when it prints them, and never with metrics disabled)."""
    if metrics_disabled:
        monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    trigger = fixture("ninjaone/condition_triggered.json")
    reset = fixture("ninjaone/condition_reset.json")
    bodies = [trigger, trigger, reset, {**trigger, "id": 1, "seriesUid": "s-2"}, {**trigger, "id": 2}, b"{not json"]
    outcomes = []
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for body in bodies * 2:
            event = webhook_event("ninjaone", str(world.integration_id), body, secret=SECRET)
            response = ninja.handler(event, FakeContext())
            outcomes.append(json.loads(response["body"]).get("outcome", response["statusCode"]))
    assert {"ticket_created", "skipped", "resolved", "occurrence_appended", 400} <= set(outcomes)
    assert [str(w.message) for w in caught] == []
    emf = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    if metrics_disabled:
        assert emf == []
    else:  # one blob per invocation, each with its own outcome only
        expected = [o if isinstance(o, str) else f"http_{o}" for o in outcomes]
        assert [b["outcome"] for b in emf if "AlertsReceived" in b] == expected
