"""Rule matching (docs/rules.md): which of an integration's rules applies to an alert event.

Pure functions, no I/O. Semantics:

* Every condition is optional and ``{}`` matches every event (a catch-all). Every *present*
  condition must match.
* ``severities`` / ``activityTypes`` / ``alertClasses`` / ``sourceTypes`` / ``organizationIds``
  are exact, case-sensitive membership tests (``organizationIds`` against
  ``event.external_organization_id``). An event value of ``None`` never matches a present list.
* An **empty** list is treated exactly like an absent one ("no constraint"): the rules editor
  saves ``[]`` when nothing is picked, and the reference implementation guards with
  ``list?.length`` the same way.
* ``keywords``: any keyword is a case-insensitive (casefolded) substring of the message.
* ``messagePattern``: an RE2 search anywhere in the message (linear time, so no ReDoS).
* A ``None`` message never matches present ``keywords`` or ``messagePattern``.

:func:`first_match` walks rules in ascending ``priority_order`` and stops at the first match.
Inactive rules are traced as not matched (``"inactive"``); a rule whose stored conditions or
actions no longer validate, or whose evaluation raises, is logged, traced with ``error`` and
skipped, so one broken rule never blocks the pipeline.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from pydantic import ValidationError

from rmm_alerts.contracts import (
    NormalizedAlertEvent,
    Rule,
    RuleActions,
    RuleConditions,
    compile_tenant_pattern,
    error_list,
)

logger = logging.getLogger(__name__)

REASON_MATCHED = "all conditions matched"
REASON_CATCH_ALL = "no conditions (catch-all)"
REASON_INACTIVE = "inactive"
REASON_OTHER_INTEGRATION = "rule belongs to another integration"

# Keep trace reasons short: organizationIds may hold up to 1000 entries.
_MAX_LISTED = 10
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True)
class RuleEvaluation:
    """How one rule fared against one event: one entry of the decision trace."""

    rule_id: str
    name: str
    matched: bool
    # Why it matched or failed, e.g. ("severity 'minor' not in ['critical']",).
    reasons: tuple[str, ...]
    # Set when the rule could not be evaluated (invalid stored conditions/actions); never matched.
    error: str | None = None

    def as_trace(self) -> dict[str, Any]:
        """A camelCase, JSON-serialisable dict for the stored decision trace."""
        return {
            "ruleId": self.rule_id,
            "name": self.name,
            "matched": self.matched,
            "reasons": list(self.reasons),
            "error": self.error,
        }


@lru_cache(maxsize=256)
def _compiled(pattern: str) -> Any:
    """Compile each distinct tenant pattern once (bounded cache; RE2 objects are immutable)."""
    return compile_tenant_pattern(pattern)


def _listed(values: Sequence[str]) -> str:
    shown = [repr(v) for v in values[:_MAX_LISTED]]
    if len(values) > _MAX_LISTED:
        shown.append(f"... {len(values) - _MAX_LISTED} more")
    return "[" + ", ".join(shown) + "]"


def _membership(label: str, allowed: Sequence[str] | None, value: str | None) -> str | None:
    """``None`` when the condition holds (absent, empty, or value listed), else the reason."""
    if not allowed:  # absent or [] -> no constraint
        return None
    if value is None:
        return f"{label} is unknown (required one of {_listed(allowed)})"
    if value not in allowed:
        return f"{label} {value!r} not in {_listed(allowed)}"
    return None


def _searchable(text: str) -> str:
    """RE2 needs valid UTF-8: a lone surrogate (legal in JSON ``\\ud800``) becomes U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


def match_conditions(conditions: RuleConditions, event: NormalizedAlertEvent) -> tuple[bool, tuple[str, ...]]:
    """Test every present condition against ``event``.

    Returns ``(matched, reasons)``: on a match the reasons are ``("all conditions matched",)``
    or ``("no conditions (catch-all)",)``; otherwise one reason per failing condition (all of
    them are evaluated so the trace explains the whole miss). Reasons never quote the message.
    """
    failures: list[str] = []
    constrained = False

    membership: tuple[tuple[str, Sequence[str] | None, str | None], ...] = (
        ("severity", conditions.severities, event.severity),
        ("activityType", conditions.activity_types, event.activity_type),
        ("alertClass", conditions.alert_classes, event.alert_class),
        ("sourceType", conditions.source_types, event.source_type),
        ("organizationId", conditions.organization_ids, event.external_organization_id),
    )
    for label, allowed, value in membership:
        if allowed:
            constrained = True
        reason = _membership(label, allowed, value)
        if reason is not None:
            failures.append(reason)

    message = event.message
    if conditions.keywords:
        constrained = True
        if message is None:
            failures.append("message is missing (keywords required)")
        else:
            folded = message.casefold()
            if not any(keyword.casefold() in folded for keyword in conditions.keywords):
                failures.append(f"message contains none of the keywords {_listed(conditions.keywords)}")

    if conditions.message_pattern is not None:
        constrained = True
        if message is None:
            failures.append("message is missing (messagePattern required)")
        elif _compiled(conditions.message_pattern).search(_searchable(message)) is None:
            failures.append("message does not match messagePattern")

    if failures:
        return False, tuple(failures)
    return True, (REASON_MATCHED if constrained else REASON_CATCH_ALL,)


def _validate(rule: Rule) -> tuple[RuleConditions, RuleActions] | RuleEvaluation:
    """The rule's stored conditions and actions, or the trace entry explaining why they're invalid."""
    rule_id = str(rule.rule_id)
    try:
        conditions = RuleConditions.model_validate(rule.conditions)
    except ValidationError as exc:
        problem: tuple[str, ValidationError] = ("conditions", exc)
    else:
        try:
            return conditions, RuleActions.model_validate(rule.actions)
        except ValidationError as exc:
            problem = ("actions", exc)
    prefix, error = problem
    errors = error_list(error, prefix)
    # Log field paths only: they name the stored rule's fields, never the alert payload.
    logger.warning("rule %s skipped: invalid stored %s (%s)", rule_id, prefix, ", ".join(e["path"] for e in errors))
    detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
    return RuleEvaluation(rule_id, rule.name, False, (f"invalid {prefix}",), error=detail)


def first_match(
    rules: Sequence[Rule], event: NormalizedAlertEvent
) -> tuple[Rule | None, RuleActions | None, list[RuleEvaluation]]:
    """The first active, valid rule (ascending ``priority_order``) whose conditions match.

    Returns ``(rule, actions, trace)``; ``(None, None, trace)`` when nothing matches. The trace
    lists every rule evaluated up to and including the match, in evaluation order; rules after
    the match are not evaluated and not traced.
    """
    trace: list[RuleEvaluation] = []
    # sorted() is stable: equal priority_order keeps the caller's order (e.g. creation order).
    for rule in sorted(rules, key=lambda r: r.priority_order):
        rule_id = str(rule.rule_id)
        if not rule.is_active:
            trace.append(RuleEvaluation(rule_id, rule.name, False, (REASON_INACTIVE,)))
            continue
        if rule.integration_id != event.integration_id:
            # Rules are per integration; the caller should never pass another's. Never apply it.
            logger.warning("rule %s skipped: belongs to another integration", rule_id)
            trace.append(RuleEvaluation(rule_id, rule.name, False, (REASON_OTHER_INTEGRATION,)))
            continue
        validated = _validate(rule)
        if isinstance(validated, RuleEvaluation):
            trace.append(validated)
            continue
        conditions, actions = validated
        try:
            matched, reasons = match_conditions(conditions, event)
        except Exception as exc:  # one broken rule must not stop the pipeline
            logger.warning("rule %s skipped: evaluation failed (%s)", rule_id, type(exc).__name__)
            error = f"evaluation failed: {type(exc).__name__}"
            trace.append(RuleEvaluation(rule_id, rule.name, False, ("evaluation failed",), error=error))
            continue
        trace.append(RuleEvaluation(rule_id, rule.name, matched, reasons))
        if matched:
            return rule, actions, trace
    return None, None, trace
