"""The metrics provider every function shares: each invocation starts clean, and with metrics
disabled (rmm-alerts dev, tests) nothing is recorded at all. The entry-point decorator every
function uses (``instrumented``): Logger context, metrics and the lazy Tracer around the body."""

from __future__ import annotations

import json
import warnings
from typing import Any

import pytest
from aws_lambda_powertools.logging import correlation_paths
from aws_lambda_powertools.metrics.functions import is_metrics_disabled

from rmm_alerts import observability
from rmm_alerts.observability import InvocationMetrics, instrumented, logger, metrics
from tests.support.apigw import FakeContext


def _invocation(provider: InvocationMetrics, outcome: str) -> None:
    provider.add_dimension(name="outcome", value=outcome)
    provider.add_metric(name="AlertsReceived", unit="Count", value=1)


def test_interleaved_invocations_with_metrics_off_record_nothing(monkeypatch: pytest.MonkeyPatch) -> None:
    # the local gateway runs handlers in threads sharing one provider: B's outcome arrives before
    # A flushes. Disabled metrics must neither warn nor pile up.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    provider = InvocationMetrics(namespace="Test", service="test")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _invocation(provider, "ticket_created")
        _invocation(provider, "skipped")
        provider.flush_metrics()
    assert [str(w.message) for w in caught] == []
    assert provider.metric_set == {} and "outcome" not in provider.dimension_set


def test_each_invocation_starts_clean_with_metrics_on(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    provider = InvocationMetrics(namespace="Test", service="test")
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        for outcome in ("ticket_created", "skipped", "resolved"):
            _invocation(provider, outcome)
            provider.flush_metrics()
        provider.flush_metrics()  # an invocation without metrics: nothing printed, no warning
    assert [str(w.message) for w in caught] == []
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [b["outcome"] for b in blobs] == ["ticket_created", "skipped", "resolved"]
    assert [b["AlertsReceived"] for b in blobs] == [[1.0], [1.0], [1.0]]  # never the previous one's too


def test_the_switch_is_read_until_the_invocation_records_something(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    reads: list[bool] = []

    def counted() -> bool:
        reads.append(True)
        return is_metrics_disabled()

    monkeypatch.setattr(observability, "is_metrics_disabled", counted)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    provider = InvocationMetrics(namespace="Test", service="test")
    # Metrics off, and the invocation never flushed: nothing recorded, so nothing stale is left.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    _invocation(provider, "skipped")
    assert provider.metric_set == {} and provider.dimension_set == {}
    # On again: the next invocation reads the switch once, at its first metric, and records them all.
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED")
    reads.clear()
    provider.add_dimension(name="provider", value="ninjaone")
    _invocation(provider, "resolved")
    provider.add_metric(name="WebhookDuration", unit="Milliseconds", value=3.5)
    assert len(reads) == 1
    provider.flush_metrics()
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [(b["provider"], b["outcome"], b["AlertsReceived"]) for b in blobs] == [("ninjaone", "resolved", [1.0])]


def test_instrumented_handler_gets_the_lambda_context_a_fresh_log_state_and_flushed_metrics(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.delenv("POWERTOOLS_METRICS_DISABLED", raising=False)
    monkeypatch.delenv("POWERTOOLS_DEV", raising=False)
    seen: list[dict[str, Any]] = []

    @instrumented(correlation_id_path=correlation_paths.API_GATEWAY_REST)
    def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
        seen.append({"correlation": logger.get_correlation_id(), "keys": dict(logger.get_current_keys())})
        logger.append_keys(tenant_id=event["tenant"])  # must not leak into the next invocation
        metrics.add_metric(name="Handled", unit="Count", value=1)
        return {"n": event["n"]}

    answers = [
        handler({"n": n, "tenant": f"t-{n}", "requestContext": {"requestId": f"req-{n}"}}, FakeContext())
        for n in (1, 2)
    ]
    assert answers == [{"n": 1}, {"n": 2}]
    assert handler.__name__ == "handler"
    assert [s["correlation"] for s in seen] == ["req-1", "req-2"]
    assert [s["keys"]["function_request_id"] for s in seen] == [FakeContext.aws_request_id] * 2
    assert [s["keys"].get("tenant_id") for s in seen] == [None, None]  # clear_state
    blobs = [json.loads(line) for line in capsys.readouterr().out.splitlines() if '"_aws"' in line]
    assert [b["Handled"] for b in blobs] == [[1.0], [1.0]]  # flushed after each invocation


def test_instrumented_handler_without_a_correlation_path_has_none(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    seen: list[str | None] = []

    @instrumented()
    def handler(event: dict[str, Any], context: Any) -> None:
        seen.append(logger.get_correlation_id())

    handler({"requestContext": {"requestId": "req-1"}}, FakeContext())
    assert seen == [None]
