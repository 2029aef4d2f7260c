"""The metrics provider every function shares: each invocation starts clean, and with metrics
disabled (rmm-alerts dev, tests) nothing is recorded at all."""

from __future__ import annotations

import json
import warnings

import pytest

from rmm_alerts.observability import InvocationMetrics


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
