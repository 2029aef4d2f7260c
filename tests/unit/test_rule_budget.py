"""Issue 10 item 11: the worst rule set a tenant can save costs at most 5 ms per alert.

The one timed test of the suite (the issue asks for a budget guard). It measures the matcher alone
(``rules.first_match``, validation included) on the most expensive rule set the save-time caps
allow, against a 250 KB adversarial message, and compares the median CPU time of several runs
with the budget, so a noisy, shared 2-core machine does not make it flaky. Patterns that make RE2's DFA
blow up (``(a|b)*a(a|b){n}``) are the worst case per program instruction."""

from __future__ import annotations

import random
import statistics
import time
import uuid
from datetime import UTC, datetime
from typing import Any

import pytest

from rmm_alerts import rules
from rmm_alerts.contracts import (
    MAX_INTEGRATION_PROGRAM_SIZE,
    MAX_KEYWORD_LENGTH,
    MAX_KEYWORDS,
    MAX_PATTERN_LENGTH,
    MAX_PATTERN_PROGRAM_SIZE,
    MAX_RULES_PER_INTEGRATION,
    EventKind,
    NormalizedAlertEvent,
    Rule,
    pattern_program_size,
)

BUDGET_SECONDS = 0.005
INTEGRATION = uuid.UUID(int=7)


def _costliest_patterns() -> list[str]:
    """Distinct DFA-hostile patterns, each as large as allowed, filling the integration's budget."""
    patterns: list[str] = []
    used = 0
    salt = 0
    while True:
        salt += 1
        best = None
        for n in range(1, 200):
            candidate = f"(a|b)*a(a|b){{{n}}}c{salt}"
            size = pattern_program_size(candidate)
            if size > MAX_PATTERN_PROGRAM_SIZE or used + size > MAX_INTEGRATION_PROGRAM_SIZE:
                break
            best = (candidate, size)
        if best is None:
            return patterns
        assert len(best[0]) <= MAX_PATTERN_LENGTH
        patterns.append(best[0])
        used += best[1]


def worst_rule_set() -> list[Rule]:
    patterns = _costliest_patterns()
    keywords = [f"k{i:02d}".ljust(MAX_KEYWORD_LENGTH, "z") for i in range(MAX_KEYWORDS)]
    built: list[Rule] = []
    for i in range(MAX_RULES_PER_INTEGRATION):
        conditions: dict[str, Any] = {
            "severities": ["critical", "major", "moderate", "minor", "none"],
            "keywords": keywords,
        }
        if i < len(patterns):
            conditions["messagePattern"] = patterns[i]
        built.append(
            Rule(
                rule_id=uuid.UUID(int=i + 1),
                integration_id=INTEGRATION,
                name=f"rule {i}",
                priority_order=i,
                conditions=conditions,
                actions={"autoResolveTicket": True, "ticketTemplate": {"titleTemplate": "{{message}}"}},
            )
        )
    return built


def _event(message: str) -> NormalizedAlertEvent:
    return NormalizedAlertEvent(
        tenant_id=uuid.UUID(int=1),
        integration_id=INTEGRATION,
        provider="ninjaone",
        kind=EventKind.TRIGGERED,
        external_alert_id="1",
        external_device_id="101",
        condition_id="c",
        message=message,
        occurred_at=datetime(2026, 6, 12, tzinfo=UTC),
        raw={},
    )


def test_the_worst_rule_set_fits_the_per_alert_budget() -> None:
    rule_set = worst_rule_set()
    assert (
        sum(pattern_program_size(r.conditions["messagePattern"]) for r in rule_set if "messagePattern" in r.conditions)
        <= MAX_INTEGRATION_PROGRAM_SIZE
    )
    rng = random.Random(10)
    rules.first_match(rule_set, _event("warm-up"))  # compile caches, as in a warm Lambda
    samples = []
    for _ in range(9):
        message = "".join(rng.choice("ab") for _ in range(250_000))  # a new adversarial text each time
        event = _event(message)
        # CPU time of this thread: what the alert costs, not how long other processes on a busy
        # shared machine kept it waiting for a core.
        started = time.thread_time()
        matched, _, trace = rules.first_match(rule_set, event)
        samples.append(time.thread_time() - started)
        assert matched is None and len(trace) == MAX_RULES_PER_INTEGRATION
    median = statistics.median(samples)
    assert median <= BUDGET_SECONDS, f"median {median * 1000:.2f} ms over {BUDGET_SECONDS * 1000:.0f} ms: {samples}"


@pytest.mark.parametrize("pattern", ["(a|b){1,1000}c|(a|b){1,1000}d|(a|b){1,1000}e", "\\pL{1,200}x"])
def test_the_issue_patterns_are_over_the_cap(pattern: str) -> None:
    try:
        size = pattern_program_size(pattern)
    except Exception:  # over RE2's memory bound: refused at save as an invalid pattern
        return
    assert size > MAX_PATTERN_PROGRAM_SIZE


def test_a_stored_pattern_over_the_cap_is_not_run() -> None:
    rule = Rule(
        rule_id=uuid.UUID(int=1),
        integration_id=INTEGRATION,
        name="old",
        priority_order=1,
        conditions={"messagePattern": "(a|b){1,1000}c|(a|b){1,1000}d|(a|b){1,1000}e"},
    )
    small_but_over = Rule(
        rule_id=uuid.UUID(int=2),
        integration_id=INTEGRATION,
        name="old 2",
        priority_order=2,
        conditions={"messagePattern": "(a|b){1,60}c"},
    )
    assert pattern_program_size("(a|b){1,60}c") > MAX_PATTERN_PROGRAM_SIZE
    _, _, trace = rules.first_match([small_but_over], _event("ab" * 10 + "c"))
    assert trace[0].error is not None and "regex budget" in trace[0].error
    matched, _, trace = rules.first_match([rule], _event("ab" * 1000 + "c"))
    assert matched is None
    # Too large for RE2's memory bound now, or over the program-size cap: either way never run.
    assert trace[0].error is not None and "messagePattern" in trace[0].error


def test_rules_look_at_a_bounded_prefix() -> None:
    rule = Rule(
        rule_id=uuid.UUID(int=1),
        integration_id=INTEGRATION,
        name="r",
        priority_order=1,
        conditions={"keywords": ["needle"]},
    )
    near = "x" * 100 + "needle"
    far = "x" * (rules.MATCH_PREFIX_BYTES + 10) + "needle"
    assert rules.first_match([rule], _event(near))[0] is not None
    assert rules.first_match([rule], _event(far))[0] is None
    assert len(rules.match_prefix("é" * 1000).encode()) <= rules.MATCH_PREFIX_BYTES
