"""pipeline.plan_trigger: the trigger decision as a pure function, table-tested."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from rmm_alerts.contracts import MaintenanceWindow, Rule, RuleActions
from rmm_alerts.pipeline import TriggerPlan, plan_trigger

RULE = Rule(rule_id=uuid.UUID(int=1), integration_id=uuid.UUID(int=2), name="r", priority_order=1)
WINDOW = MaintenanceWindow(window_id=uuid.UUID(int=3), name="w")
CLIENT = uuid.UUID(int=4)
GROUP = {"ticket_id": str(uuid.UUID(int=5)), "primary_alert_id": str(uuid.UUID(int=6))}
EARLY = {"reset_id": str(uuid.UUID(int=7))}
TWIN = uuid.UUID(int=8)
TICKETS = RuleActions()
NO_TICKETS = RuleActions(create_ticket=False)
UNMAPPED = TriggerPlan("record", "organization_not_mapped", "unmapped")


def plan(**facts: Any) -> TriggerPlan:
    base: dict[str, Any] = {
        "existing_alert_id": None,
        "early_reset": None,
        "window": None,
        "rule": RULE,
        "actions": TICKETS,
        "client_id": CLIENT,
        "open_group": None,
        "unmapped_warning": "unmapped",
    }
    return plan_trigger(**{**base, **facts})


@pytest.mark.parametrize(
    ("facts", "expected"),
    [
        ({}, TriggerPlan("create")),
        ({"existing_alert_id": uuid.uuid4(), "early_reset": EARLY}, TriggerPlan("skip", "duplicate_delivery")),
        ({"early_reset": EARLY, "window": WINDOW}, TriggerPlan("already_reset", "already_reset")),
        ({"window": WINDOW}, TriggerPlan("suppress", "maintenance_window")),
        ({"rule": None, "actions": None}, TriggerPlan("record", "no_matching_rule")),
        ({"actions": NO_TICKETS}, TriggerPlan("record", "rule_does_not_create_tickets")),
        (
            {"rule": None, "actions": None, "client_id": None},
            TriggerPlan("record", "organization_not_mapped", "unmapped"),
        ),
        ({"open_group": GROUP}, TriggerPlan("join")),
        ({"open_group": GROUP, "client_id": None}, TriggerPlan("join")),
        ({"client_id": None}, UNMAPPED),
        (
            {"poll_twin_id": TWIN, "provider": "ninjaone", "early_reset": EARLY},
            TriggerPlan("adopt", "already_ingested_by_poll"),
        ),
        (
            {"poll_twin_id": TWIN, "provider": "ninjaone", "existing_alert_id": TWIN},
            TriggerPlan("skip", "duplicate_delivery"),
        ),
        ({"poll_twin_id": TWIN, "provider": "tacticalrmm", "open_group": GROUP}, TriggerPlan("join")),
        (
            {
                "released_status": "suppressed",
                "existing_alert_id": TWIN,
                "poll_twin_id": TWIN,
                "provider": "ninjaone",
                "early_reset": EARLY,
            },
            TriggerPlan("create"),
        ),
        ({"released_status": "suppressed", "window": WINDOW}, TriggerPlan("suppress", "maintenance_window")),
        ({"released_status": "suppressed", "open_group": GROUP}, TriggerPlan("join")),
        ({"released_status": "resolved", "existing_alert_id": TWIN}, TriggerPlan("skip", "no_longer_suppressed")),
        (
            {"from_poll": True, "poll_twin_id": TWIN, "provider": "ninjaone", "open_group": GROUP, "window": WINDOW},
            TriggerPlan("adopt_uid", "already_ingested_by_webhook"),
        ),
        (
            {"from_poll": True, "poll_twin_id": TWIN, "existing_alert_id": TWIN},
            TriggerPlan("skip", "duplicate_delivery"),
        ),
        ({"from_poll": True, "open_group": GROUP}, TriggerPlan("join")),
        ({"from_poll": True, "released_status": "suppressed", "poll_twin_id": TWIN}, TriggerPlan("create")),
    ],
    ids=[
        "ticket",
        "replay-first",
        "early-reset-before-window",
        "window",
        "no-rule",
        "rule-without-tickets",
        "no-rule-no-client",
        "join-open-ticket",
        "join-even-without-client",
        "no-client",
        "ninjaone-late-webhook-of-polled-alert",
        "replay-before-polled-twin",
        "polled-twin-only-for-ninjaone",
        "release-ignores-its-own-row-and-early-resets",
        "release-still-in-a-window",
        "release-joins-open-ticket",
        "release-of-an-alert-no-longer-suppressed",
        "poll-trigger-meets-the-open-alert-a-webhook-brought-since-the-diff",
        "poll-replay-first",
        "poll-trigger-after-a-reset-joins-the-still-open-ticket",
        "release-is-never-its-own-twin",
    ],
)
def test_plan_trigger(facts: dict[str, Any], expected: TriggerPlan) -> None:
    assert plan(**facts) == expected
