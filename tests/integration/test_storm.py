"""An alert storm through the real webhook handler on 8 threads: many devices × conditions, ~30 %
duplicate deliveries, repeats, resets interleaved out of order (tests/support/storm.py).

Scaled down to stay bounded in CI; ``scripts/bench`` runs the full 5,000-alert storm. The wall
time is printed, never asserted.
"""

from __future__ import annotations

from typing import Any

import pytest

from functions.webhook_ninjaone import handler as ninja
from rmm_alerts import config, db
from tests.support.apigw import FakeContext, response_json, webhook_event
from tests.support.storm import check_outcomes, check_storm, plan_storm, run_storm
from tests.support.world import make_tenant, set_webhook_secret

SECRET = "storm-secret-0123456789abcdef0123456789"


def test_storm_on_8_workers_opens_one_ticket_per_condition_and_applies_every_reset(
    conn: Any, lambda_env: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Threads share one metrics provider (as under rmm-alerts dev): no metrics, as there.
    monkeypatch.setenv("POWERTOOLS_METRICS_DISABLED", "true")
    world = make_tenant(conn)
    world.map_org("2")
    for i in range(20):  # 21 rules, as the benchmark: only the last matches
        world.add_rule(f"never {i}", conditions={"keywords": [f"zzz{i}"], "messagePattern": f"^nope{i}$"})
    world.add_rule("catch-all", actions={"autoResolveTicket": True})
    set_webhook_secret(world, SECRET)
    # 8 workers in one process share the handler's pool: size it before the first call.
    db.get_pool(config.cached(config.WebhookSettings), max_size=8)

    def call(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        event = webhook_event("ninjaone", str(world.integration_id), body, secret=SECRET)
        response = ninja.handler(event, FakeContext())
        return int(response["statusCode"]), response_json(response)

    plan = plan_storm(alerts=480, devices=30, conditions=8)
    assert plan.duplicates == 144 and plan.reset_pairs and plan.open_pairs
    report = run_storm(plan, call, workers=8)
    print(f"\nstorm: {len(plan.deliveries)} alerts on 8 workers in {report.wall_s:.2f} s ({report.per_second:.0f}/s)")
    print(dict(sorted(report.outcomes.items())))

    assert report.errors == []
    assert sum(report.outcomes.values()) == len(plan.deliveries)
    assert check_outcomes(plan, report) == []
    # One ticket per condition that fired, one resolution per condition reset.
    assert sum(n for k, n in report.outcomes.items() if k.endswith(": ticket_created")) == len(
        plan.reset_pairs | plan.open_pairs
    )
    assert report.outcomes["reset: resolved"] == len(plan.reset_pairs)
    assert check_storm(conn, world.tenant, world.integration_id, plan) == []
