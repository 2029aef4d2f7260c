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
    ],
)
def test_plan_trigger(facts: dict[str, Any], expected: TriggerPlan) -> None:
    assert plan(**facts) == expected
