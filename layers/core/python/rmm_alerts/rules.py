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
* Both look at the first :data:`MATCH_PREFIX_BYTES` bytes (UTF-8) of the message only: with the
  save-time caps in :mod:`rmm_alerts.contracts` this bounds what the worst rule set costs per
  alert. A stored pattern over ``MAX_PATTERN_PROGRAM_SIZE`` is not run (traced as an error).
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
    MAX_PATTERN_PROGRAM_SIZE,
    NormalizedAlertEvent,
    Rule,
    RuleActions,
    RuleConditions,
    compile_tenant_pattern,
    error_list,
    pattern_program_size,
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


# How much of a message keywords and messagePattern look at (UTF-8 bytes).
MATCH_PREFIX_BYTES = 512


def _compiled(pattern: str) -> Any:
    """Each distinct tenant pattern is compiled once (``compile_tenant_pattern`` caches)."""
    return compile_tenant_pattern(pattern)


@lru_cache(maxsize=1024)
def _folded(keywords: tuple[str, ...]) -> tuple[str, ...]:
    return tuple(keyword.casefold() for keyword in keywords)


def _prefix_end(data: bytes) -> int:
    """Where the matched prefix of UTF-8 ``data`` ends: at most MATCH_PREFIX_BYTES, on a
    character boundary."""
    end = min(len(data), MATCH_PREFIX_BYTES)
    while 0 < end < len(data) and (data[end] & 0xC0) == 0x80:
        end -= 1
    return end


def match_prefix(message: str) -> str:
    """The start of ``message`` that rules look at: at most :data:`MATCH_PREFIX_BYTES` UTF-8 bytes,
    cut on a character boundary (lone surrogates, which RE2 cannot take, become U+FFFD)."""
    data = _searchable(message[:MATCH_PREFIX_BYTES]).encode("utf-8")
    return data[: _prefix_end(data)].decode("utf-8")


@dataclass(frozen=True)
class MessageView:
    """What rules match against, computed once per event: the whole message as UTF-8 (so ``$`` still
    means the real end of the message) and where the matched prefix ends."""

    data: bytes | None
    end: int
    folded: str | None

    @classmethod
    def of(cls, message: str | None) -> MessageView:
        if message is None:
            return cls(None, 0, None)
        data = _searchable(message).encode("utf-8")
        end = _prefix_end(data)
        return cls(data, end, data[:end].decode("utf-8").casefold())


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


def match_conditions(
    conditions: RuleConditions, event: NormalizedAlertEvent, view: MessageView | None = None
) -> tuple[bool, tuple[str, ...]]:
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

    view = view or MessageView.of(event.message)
    if conditions.keywords:
        constrained = True
        if view.folded is None:
            failures.append("message is missing (keywords required)")
        elif not any(keyword in view.folded for keyword in _folded(tuple(conditions.keywords))):
            failures.append(f"message contains none of the keywords {_listed(conditions.keywords)}")

    if conditions.message_pattern is not None:
        constrained = True
        if view.data is None:
            failures.append("message is missing (messagePattern required)")
        elif _compiled(conditions.message_pattern).search(view.data, 0, view.end) is None:
            failures.append("message does not match messagePattern")

    if failures:
        return False, tuple(failures)
    return True, (REASON_MATCHED if constrained else REASON_CATCH_ALL,)


def _validate(rule: Rule) -> tuple[RuleConditions, RuleActions] | RuleEvaluation:
    """The rule's stored conditions and actions, or the trace entry explaining why they're invalid."""
    try:
        conditions = RuleConditions.model_validate(rule.conditions)
    except ValidationError as exc:
        problem: tuple[str, ValidationError] = ("conditions", exc)
    else:
        pattern = conditions.message_pattern
        if pattern is not None and pattern_program_size(pattern) > MAX_PATTERN_PROGRAM_SIZE:
            # Saved before the cap: running it could cost more than the per-alert budget.
            size = pattern_program_size(pattern)
            message = f"exceeds the regex budget (program size {size} > {MAX_PATTERN_PROGRAM_SIZE})"
            return _invalid(rule, "conditions", [{"path": "conditions.messagePattern", "message": message}])
        try:
            return conditions, RuleActions.model_validate(rule.actions)
        except ValidationError as exc:
            problem = ("actions", exc)
    prefix, error = problem
    return _invalid(rule, prefix, error_list(error, prefix))


def _invalid(rule: Rule, prefix: str, errors: list[dict[str, str]]) -> RuleEvaluation:
    rule_id = str(rule.rule_id)
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
    view = MessageView.of(event.message)
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
            matched, reasons = match_conditions(conditions, event, view)
        except Exception as exc:  # one broken rule must not stop the pipeline
            logger.warning("rule %s skipped: evaluation failed (%s)", rule_id, type(exc).__name__)
            error = f"evaluation failed: {type(exc).__name__}"
            trace.append(RuleEvaluation(rule_id, rule.name, False, ("evaluation failed",), error=error))
            continue
        trace.append(RuleEvaluation(rule_id, rule.name, matched, reasons))
        if matched:
            return rule, actions, trace
    return None, None, trace
