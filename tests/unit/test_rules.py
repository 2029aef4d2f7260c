"""Rule matching: docs/rules.md conditions and first-match-by-priority_order."""

from __future__ import annotations

import json
import logging
from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from rmm_alerts.contracts import EventKind, NormalizedAlertEvent, Rule, RuleActions, RuleConditions
from rmm_alerts.rules import RuleEvaluation, first_match, match_conditions

INTEGRATION = UUID("00000000-0000-0000-0000-0000000000a1")


def _event(**overrides: Any) -> NormalizedAlertEvent:
    data: dict[str, Any] = {
        "tenant_id": UUID("00000000-0000-0000-0000-0000000000f1"),
        "integration_id": INTEGRATION,
        "provider": "ninjaone",
        "kind": EventKind.TRIGGERED,
        "external_alert_id": "1001",
        "external_device_id": "42",
        "condition_id": "cond-disk",
        "activity_type": "CONDITION",
        "alert_class": "Disk Space",
        "source_type": "CONDITION",
        "severity": "critical",
        "message": "Disk C: free space below 10% on SRV-01",
        "device_name": "SRV-01",
        "external_organization_id": "7",
        "external_organization_name": "Acme",
        "occurred_at": datetime(2026, 6, 12, 14, 30, tzinfo=UTC),
        "raw": {},
    }
    data.update(overrides)
    return NormalizedAlertEvent.model_validate(data)


def _rule(
    order: int,
    conditions: dict[str, Any] | None = None,
    actions: dict[str, Any] | None = None,
    *,
    active: bool = True,
    name: str | None = None,
    integration_id: UUID = INTEGRATION,
) -> Rule:
    return Rule(
        rule_id=uuid4(),
        integration_id=integration_id,
        name=name or f"rule {order}",
        priority_order=order,
        is_active=active,
        conditions=conditions or {},
        actions=actions or {},
    )


# ---------------------------------------------------------------------------------------------
# match_conditions


@pytest.mark.parametrize(
    ("conditions", "event_overrides", "matched"),
    [
        ({}, {}, True),
        ({}, {"message": None, "alert_class": None, "external_organization_id": None}, True),
        ({"severities": ["critical"]}, {}, True),
        ({"severities": ["critical", "major"]}, {"severity": "major"}, True),
        ({"severities": ["critical"]}, {"severity": "minor"}, False),
        ({"activityTypes": ["CONDITION"]}, {}, True),
        ({"activityTypes": ["condition"]}, {}, False),
        ({"activityTypes": ["CONDITION"]}, {"activity_type": None}, False),
        ({"alertClasses": ["Disk Space"]}, {}, True),
        ({"alertClasses": ["Disk"]}, {}, False),
        ({"alertClasses": ["Disk Space"]}, {"alert_class": None}, False),
        ({"sourceTypes": ["CONDITION"]}, {}, True),
        ({"sourceTypes": ["PATCH"]}, {}, False),
        ({"sourceTypes": ["CONDITION"]}, {"source_type": None}, False),
        ({"organizationIds": ["7", "8"]}, {}, True),
        ({"organizationIds": ["70"]}, {}, False),
        ({"organizationIds": ["7"]}, {"external_organization_id": None}, False),
        ({"organizationIds": ["Acme"]}, {}, False),
        ({"keywords": ["disk c:"]}, {}, True),
        ({"keywords": ["memory", "FREE SPACE"]}, {}, True),
        ({"keywords": ["memory"]}, {}, False),
        ({"keywords": ["disk"]}, {"message": None}, False),
        ({"keywords": ["STRASSE"]}, {"message": "Straße down"}, True),
        ({"messagePattern": r"below \d+%"}, {}, True),
        ({"messagePattern": r"^free"}, {}, False),
        ({"messagePattern": r"SRV-\d+$"}, {}, True),
        ({"messagePattern": r"(?i)^disk"}, {}, True),
        ({"messagePattern": r"disk"}, {}, False),
        ({"messagePattern": r".*"}, {"message": None}, False),
        ({"messagePattern": r"\x{FFFD}"}, {"message": "bad \ud800 text"}, True),
        ({"severities": []}, {"severity": "none"}, True),
        ({"keywords": [], "organizationIds": []}, {"message": None, "external_organization_id": None}, True),
        ({"severities": ["critical"], "keywords": ["disk"], "messagePattern": "SRV"}, {}, True),
        ({"severities": ["critical"], "keywords": ["disk"], "messagePattern": "XYZ"}, {}, False),
        ({"severities": ["minor"], "keywords": ["disk"]}, {}, False),
    ],
    ids=[
        "empty-matches-all",
        "empty-matches-sparse-event",
        "severity-member",
        "severity-one-of-several",
        "severity-not-member",
        "activity-type-member",
        "activity-type-case-sensitive",
        "activity-type-none-never-matches",
        "alert-class-member",
        "alert-class-no-substring",
        "alert-class-none-never-matches",
        "source-type-member",
        "source-type-not-member",
        "source-type-none-never-matches",
        "org-member",
        "org-exact-not-prefix",
        "org-none-never-matches",
        "org-name-is-not-id",
        "keyword-case-insensitive",
        "keyword-any-of",
        "keyword-none-present",
        "keyword-none-message",
        "keyword-casefold",
        "pattern-search-anywhere",
        "pattern-anchored-miss",
        "pattern-end-anchor",
        "pattern-inline-flag",
        "pattern-case-sensitive-default",
        "pattern-none-message",
        "pattern-lone-surrogate-message",
        "empty-list-no-constraint",
        "empty-lists-no-constraint-sparse-event",
        "all-fields-match",
        "one-field-fails",
        "two-fields-fail",
    ],
)
def test_match_conditions(conditions: dict[str, Any], event_overrides: dict[str, Any], matched: bool) -> None:
    got, reasons = match_conditions(RuleConditions.model_validate(conditions), _event(**event_overrides))
    assert got is matched
    assert reasons


@pytest.mark.parametrize(
    ("conditions", "event_overrides", "reasons"),
    [
        ({}, {}, ("no conditions (catch-all)",)),
        ({"severities": []}, {}, ("no conditions (catch-all)",)),
        ({"severities": ["critical"]}, {}, ("all conditions matched",)),
        ({"severities": ["critical"]}, {"severity": "minor"}, ("severity 'minor' not in ['critical']",)),
        (
            {"alertClasses": ["Disk Space"]},
            {"alert_class": None},
            ("alertClass is unknown (required one of ['Disk Space'])",),
        ),
        (
            {"severities": ["minor"], "organizationIds": ["9"]},
            {},
            ("severity 'critical' not in ['minor']", "organizationId '7' not in ['9']"),
        ),
        ({"keywords": ["x"]}, {"message": None}, ("message is missing (keywords required)",)),
        ({"keywords": ["x"]}, {}, ("message contains none of the keywords ['x']",)),
        ({"messagePattern": "x"}, {}, ("message does not match messagePattern",)),
        (
            {"organizationIds": [str(i) for i in range(12)]},
            {"external_organization_id": "99"},
            ("organizationId '99' not in ['0', '1', '2', '3', '4', '5', '6', '7', '8', '9', ... 2 more]",),
        ),
    ],
    ids=[
        "catch-all",
        "empty-list-is-catch-all",
        "all-matched",
        "severity-miss",
        "none-value",
        "every-failure-listed",
        "keywords-no-message",
        "keywords-miss",
        "pattern-miss-does-not-quote-message",
        "long-list-truncated",
    ],
)
def test_match_reasons(conditions: dict[str, Any], event_overrides: dict[str, Any], reasons: tuple[str, ...]) -> None:
    _, got = match_conditions(RuleConditions.model_validate(conditions), _event(**event_overrides))
    assert got == reasons


def test_pathological_pattern_runs_linear() -> None:
    conditions = RuleConditions.model_validate({"messagePattern": "(a+)+$"})
    matched, _ = match_conditions(conditions, _event(message="a" * 100_000 + "!"))
    assert matched is False


# ---------------------------------------------------------------------------------------------
# first_match


def _names(trace: list[RuleEvaluation]) -> list[str]:
    return [e.name for e in trace]


@pytest.mark.parametrize(
    ("rules", "event_overrides", "winner", "traced"),
    [
        ([], {}, None, []),
        ([_rule(1, name="a")], {}, "a", ["a"]),
        (
            [_rule(2, name="b"), _rule(1, {"severities": ["minor"]}, name="a"), _rule(3, name="c")],
            {},
            "b",
            ["a", "b"],
        ),
        (
            [_rule(5, name="first-given"), _rule(5, name="second-given")],
            {},
            "first-given",
            ["first-given"],
        ),
        (
            [_rule(1, name="off", active=False), _rule(2, {"severities": ["critical"]}, name="on")],
            {},
            "on",
            ["off", "on"],
        ),
        (
            [_rule(1, {"severities": ["minor"]}, name="a"), _rule(2, {"keywords": ["nope"]}, name="b")],
            {},
            None,
            ["a", "b"],
        ),
        (
            [_rule(1, {"messagePattern": "("}, name="bad"), _rule(2, name="good")],
            {},
            "good",
            ["bad", "good"],
        ),
        (
            [_rule(1, actions={"createTicket": "yes"}, name="bad-actions"), _rule(2, name="good")],
            {},
            "good",
            ["bad-actions", "good"],
        ),
        (
            [_rule(1, {"unknown": 1}, name="bad-key"), _rule(2, name="good")],
            {},
            "good",
            ["bad-key", "good"],
        ),
        (
            [_rule(1, name="other", integration_id=uuid4()), _rule(2, name="mine")],
            {},
            "mine",
            ["other", "mine"],
        ),
        (
            [_rule(-10, {"severities": ["minor"]}, name="neg"), _rule(0, name="zero")],
            {"severity": "minor"},
            "neg",
            ["neg"],
        ),
    ],
    ids=[
        "no-rules",
        "single-catch-all",
        "sorted-by-priority-order-stops-at-first",
        "ties-keep-given-order",
        "inactive-skipped-and-traced",
        "nothing-matches",
        "invalid-pattern-skipped",
        "invalid-actions-skipped",
        "unknown-condition-key-skipped",
        "other-integration-skipped",
        "negative-order-first",
    ],
)
def test_first_match(rules: list[Rule], event_overrides: dict[str, Any], winner: str | None, traced: list[str]) -> None:
    rule, actions, trace = first_match(rules, _event(**event_overrides))
    assert (rule.name if rule else None) == winner
    assert (actions is not None) == (winner is not None)
    assert _names(trace) == traced
    assert [e.matched for e in trace] == [winner is not None and i == len(trace) - 1 for i in range(len(trace))]


def test_first_match_returns_validated_actions() -> None:
    board = uuid4()
    rule = _rule(1, actions={"boardId": str(board), "autoResolveTicket": True})
    _, actions, _ = first_match([rule], _event())
    assert actions == RuleActions(board_id=board, auto_resolve_ticket=True)


@pytest.mark.parametrize(
    ("rule", "reasons", "error_fragment"),
    [
        (_rule(1, active=False), ("inactive",), None),
        (_rule(1, {"messagePattern": "("}), ("invalid conditions",), "conditions.messagePattern: "),
        (_rule(1, {"severities": "critical"}), ("invalid conditions",), "conditions.severities: "),
        (_rule(1, actions={"boardId": "nope"}), ("invalid actions",), "actions.boardId: "),
        (_rule(1, actions={"extra": True}), ("invalid actions",), "actions.extra: Extra inputs"),
        (_rule(1, integration_id=uuid4()), ("rule belongs to another integration",), None),
    ],
    ids=["inactive", "bad-regex", "wrong-type", "bad-uuid", "unknown-action-key", "other-integration"],
)
def test_skipped_rule_trace(rule: Rule, reasons: tuple[str, ...], error_fragment: str | None) -> None:
    _, _, trace = first_match([rule], _event())
    (entry,) = trace
    assert entry.matched is False
    assert entry.reasons == reasons
    if error_fragment is None:
        assert entry.error is None
    else:
        assert entry.error is not None
        assert error_fragment in entry.error


def test_invalid_rule_logs_rule_id_without_payload(caplog: pytest.LogCaptureFixture) -> None:
    rule = _rule(1, {"messagePattern": "("})
    secret = "customer-secret-text"
    with caplog.at_level(logging.WARNING, logger="rmm_alerts.rules"):
        first_match([rule], _event(message=secret))
    (record,) = caplog.records
    assert str(rule.rule_id) in record.getMessage()
    assert "conditions.messagePattern" in record.getMessage()
    assert secret not in record.getMessage()


def test_evaluation_error_is_logged_and_skipped(
    monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    import rmm_alerts.rules as rules_module

    real = rules_module.match_conditions

    def boom(conditions: RuleConditions, event: NormalizedAlertEvent, *view: Any) -> tuple[bool, tuple[str, ...]]:
        if conditions.keywords == ["explode"]:
            raise RuntimeError("secret payload")
        return real(conditions, event, *view)

    monkeypatch.setattr(rules_module, "match_conditions", boom)
    broken = _rule(1, {"keywords": ["explode"]}, name="broken")
    with caplog.at_level(logging.WARNING, logger="rmm_alerts.rules"):
        rule, _, trace = first_match([broken, _rule(2, name="fallback")], _event())
    assert rule is not None
    assert rule.name == "fallback"
    assert trace[0].error == "evaluation failed: RuntimeError"
    assert trace[0].matched is False
    assert str(broken.rule_id) in caplog.text
    assert "secret payload" not in caplog.text


def test_trace_is_camel_case_json() -> None:
    rule = _rule(1, {"severities": ["critical"]}, name="crit")
    _, _, trace = first_match([rule], _event())
    as_json = json.loads(json.dumps([e.as_trace() for e in trace]))
    assert as_json == [
        {
            "ruleId": str(rule.rule_id),
            "name": "crit",
            "matched": True,
            "reasons": ["all conditions matched"],
            "error": None,
        }
    ]


# ---------------------------------------------------------------------------------------------
# Valid stored rules are validated once per distinct content: the cache never changes an outcome


@pytest.mark.parametrize(
    ("valid", "invalid"),
    [
        # strict validation tells these apart, so the cache key must too
        ({"actions": {"createTicket": True}}, {"actions": {"createTicket": 1}}),
        ({"conditions": {"keywords": ["disk"]}}, {"conditions": {"keywords": ("disk",)}}),
        ({"conditions": {"severities": ["critical"]}}, {"conditions": {"severities": ["critical", 1]}}),
    ],
)
def test_a_cached_valid_rule_does_not_make_a_lookalike_valid(valid: dict[str, Any], invalid: dict[str, Any]) -> None:
    good = _rule(1, valid.get("conditions"), valid.get("actions"))
    rule, _, trace = first_match([good], _event())
    assert rule is good and trace[0].error is None
    bad = _rule(1, invalid.get("conditions"), invalid.get("actions"))
    rule, _, trace = first_match([bad], _event())
    assert rule is None
    assert trace[0].error is not None


def test_an_edited_rule_is_evaluated_as_edited() -> None:
    rule_id = uuid4()
    before = _rule(1, {"severities": ["critical"]}).model_copy(update={"rule_id": rule_id})
    after = _rule(1, {"severities": ["minor"]}).model_copy(update={"rule_id": rule_id})
    assert first_match([before], _event())[0] is before
    matched, _, trace = first_match([after], _event())
    assert matched is None
    assert trace[0].reasons == ("severity 'critical' not in ['minor']",)


def test_an_invalid_rule_is_logged_on_every_evaluation(caplog: pytest.LogCaptureFixture) -> None:
    rule = _rule(1, {"messagePattern": "("})
    with caplog.at_level(logging.WARNING, logger="rmm_alerts.rules"):
        first_match([rule], _event())
        first_match([rule], _event())
    assert len(caplog.records) == 2


def test_a_tuple_of_rules_is_prepared_once_and_answers_as_a_list_does(caplog: pytest.LogCaptureFixture) -> None:
    # The alert path passes one tuple per configuration (pipeline.resolve_config): its rules are
    # sorted and validated once. Every evaluation must still answer as for a fresh list.
    invalid = _rule(0, {"severities": "critical"}, name="invalid")
    rules = (
        _rule(3, {"severities": ["minor"]}, name="late miss"),
        invalid,
        _rule(1, {"keywords": ["nope"]}, name="miss"),
        _rule(5, name="catch-all"),
    )
    cases = (
        ("disk full", "catch-all", ["invalid", "miss", "late miss", "catch-all"]),
        ("disk nope", "miss", ["invalid", "miss"]),
    )
    for message, matched, traced in cases:
        as_list = first_match(list(rules), _event(message=message))
        for _ in range(2):
            caplog.clear()
            with caplog.at_level(logging.WARNING, logger="rmm_alerts.rules"):
                got = first_match(rules, _event(message=message))
            assert got[2] == as_list[2]
            assert [e.name for e in got[2]] == traced
            assert got[0] is not None and got[0].name == matched
            # The invalid rule is still logged and traced on every evaluation.
            assert str(invalid.rule_id) in caplog.text
            assert got[2][0].error is not None


def test_an_edited_configuration_is_a_new_tuple_and_is_evaluated_afresh() -> None:
    first = (_rule(1, {"keywords": ["disk"]}, name="disk"),)
    assert first_match(first, _event(message="disk full"))[0] is not None
    edited = (first[0].model_copy(update={"conditions": {"keywords": ["cpu"]}}),)
    rule, _, trace = first_match(edited, _event(message="disk full"))
    assert rule is None
    assert trace[0].reasons == ("message contains none of the keywords ['cpu']",)
