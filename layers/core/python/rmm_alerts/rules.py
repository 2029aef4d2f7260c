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


def _searchable(text: str) -> str:
    """RE2 needs valid UTF-8: a lone surrogate (legal in JSON ``\\ud800``) becomes U+FFFD."""
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        return _SURROGATE.sub("\ufffd", text)
    return text


class _Matcher:
    """One rule's conditions, ready to test: only the present conditions, keywords casefolded, the
    pattern compiled, and the reasons that do not depend on the event already written."""

    __slots__ = ("constrained", "keyword_miss", "keywords", "members", "pattern")

    def __init__(self, conditions: RuleConditions) -> None:
        # (label, attribute of the event, allowed values, the reason's "[...]" listing)
        self.members: tuple[tuple[str, str, frozenset[str], str], ...] = tuple(
            (label, attr, frozenset(allowed), _listed(allowed))
            for label, attr, allowed in (
                ("severity", "severity", conditions.severities),
                ("activityType", "activity_type", conditions.activity_types),
                ("alertClass", "alert_class", conditions.alert_classes),
                ("sourceType", "source_type", conditions.source_types),
                ("organizationId", "external_organization_id", conditions.organization_ids),
            )
            if allowed  # absent or [] -> no constraint
        )
        self.keywords = _folded(tuple(conditions.keywords)) if conditions.keywords else None
        self.keyword_miss = (
            f"message contains none of the keywords {_listed(conditions.keywords)}" if conditions.keywords else ""
        )
        pattern = conditions.message_pattern
        self.pattern = _compiled(pattern) if pattern is not None else None
        self.constrained = bool(self.members) or self.keywords is not None or self.pattern is not None

    def match(self, event: NormalizedAlertEvent, view: MessageView) -> tuple[bool, tuple[str, ...]]:
        failures: list[str] = []
        for label, attr, allowed, listed in self.members:
            value = getattr(event, attr)
            if value is None:
                failures.append(f"{label} is unknown (required one of {listed})")
            elif value not in allowed:
                failures.append(f"{label} {value!r} not in {listed}")
        if self.keywords is not None:
            if view.folded is None:
                failures.append("message is missing (keywords required)")
            elif not any(keyword in view.folded for keyword in self.keywords):
                failures.append(self.keyword_miss)
        if self.pattern is not None:
            if view.data is None:
                failures.append("message is missing (messagePattern required)")
            elif self.pattern.search(view.data, 0, view.end) is None:
                failures.append("message does not match messagePattern")
        if failures:
            return False, tuple(failures)
        return True, (REASON_MATCHED if self.constrained else REASON_CATCH_ALL,)


# Matchers by id(conditions). Each entry holds its conditions object, so that id cannot be reused by
# another object while the entry exists; the identity check makes a stale id impossible anyway.
# Stored rules' conditions come from _prepared below, so the same few objects recur per tenant.
_CACHE_MAX = 2048
_matchers: dict[int, tuple[RuleConditions, _Matcher]] = {}


def _matcher(conditions: RuleConditions) -> _Matcher:
    entry = _matchers.get(id(conditions))
    if entry is not None and entry[0] is conditions:
        return entry[1]
    matcher = _Matcher(conditions)
    if len(_matchers) >= _CACHE_MAX:
        _matchers.clear()  # crude, bounded; a working set this large re-fills in one pass
    _matchers[id(conditions)] = (conditions, matcher)
    return matcher


def match_conditions(
    conditions: RuleConditions, event: NormalizedAlertEvent, view: MessageView | None = None
) -> tuple[bool, tuple[str, ...]]:
    """Test every present condition against ``event``.

    Returns ``(matched, reasons)``: on a match the reasons are ``("all conditions matched",)``
    or ``("no conditions (catch-all)",)``; otherwise one reason per failing condition (all of
    them are evaluated so the trace explains the whole miss). Reasons never quote the message.
    """
    return _matcher(conditions).match(event, view or MessageView.of(event.message))


# Valid stored rules, validated once: by the exact stored content, i.e. the repr of the raw
# conditions and actions (repr tells 1 from 1.0 from True, a list from a tuple and a str from a
# UUID, as strict validation does). An invalid rule is not cached: it is validated, logged and
# traced on every evaluation, as before. Entries are bounded in number and in key size.
_KEY_MAX = 16_384
_prepared: dict[tuple[str, str], tuple[RuleConditions, RuleActions]] = {}


def _validate(rule: Rule, *, log: bool = True) -> tuple[RuleConditions, RuleActions] | RuleEvaluation:
    """The rule's stored conditions and actions, or the trace entry explaining why they're invalid."""
    key = (repr(rule.conditions), repr(rule.actions))
    cached = _prepared.get(key)
    if cached is not None:
        return cached
    validated = _validate_uncached(rule, log=log)
    if not isinstance(validated, RuleEvaluation) and len(key[0]) + len(key[1]) <= _KEY_MAX:
        if len(_prepared) >= _CACHE_MAX:
            _prepared.clear()
        _prepared[key] = validated
    return validated


def _validate_uncached(rule: Rule, *, log: bool = True) -> tuple[RuleConditions, RuleActions] | RuleEvaluation:
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
            return _invalid(rule, "conditions", [{"path": "conditions.messagePattern", "message": message}], log)
        try:
            return conditions, RuleActions.model_validate(rule.actions)
        except ValidationError as exc:
            problem = ("actions", exc)
    prefix, error = problem
    return _invalid(rule, prefix, error_list(error, prefix), log)


def _invalid(rule: Rule, prefix: str, errors: list[dict[str, str]], log: bool = True) -> RuleEvaluation:
    rule_id = str(rule.rule_id)
    # Log field paths only: they name the stored rule's fields, never the alert payload.
    if log:
        logger.warning("rule %s skipped: invalid stored %s (%s)", rule_id, prefix, ", ".join(e["path"] for e in errors))
    detail = "; ".join(f"{e['path']}: {e['message']}" for e in errors)
    return RuleEvaluation(rule_id, rule.name, False, (f"invalid {prefix}",), error=detail)


@dataclass(frozen=True, slots=True)
class _Ready:
    """One rule as first_match walks it: its id as text, and for a valid rule its validated
    conditions and actions (None for an invalid one: validated, logged and traced on every
    evaluation, as before)."""

    rule: Rule
    rule_id: str
    validated: tuple[RuleConditions, RuleActions] | None


def _make_ready(rules: Sequence[Rule]) -> tuple[_Ready, ...]:
    ready = []
    # sorted() is stable: equal priority_order keeps the caller's order (e.g. creation order).
    for rule in sorted(rules, key=lambda r: r.priority_order):
        # Quietly: an invalid rule is validated again, and logged, when it is evaluated.
        validated = _validate(rule, log=False) if rule.is_active else None
        if isinstance(validated, RuleEvaluation):
            validated = None
        ready.append(_Ready(rule, str(rule.rule_id), validated))
    return tuple(ready)


# Ready rules by id() of the rules tuple: the alert path passes the same tuple of frozen Rule models
# for every alert until its integration's configuration changes (pipeline.resolve_config), so each
# rule's id text and validation are worked out once per configuration, not per alert. The
# entry holds the tuple, so its id cannot be reused while the entry exists. Lists (mutable) are
# prepared on every call.
_ready: dict[int, tuple[tuple[Rule, ...], tuple[_Ready, ...]]] = {}


def _ready_for(rules: Sequence[Rule]) -> tuple[_Ready, ...]:
    if not isinstance(rules, tuple):
        return _make_ready(rules)
    entry = _ready.get(id(rules))
    if entry is not None and entry[0] is rules:
        return entry[1]
    ready = _make_ready(rules)
    if len(_ready) >= _CACHE_MAX:
        _ready.clear()
    _ready[id(rules)] = (rules, ready)
    return ready


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
    for ready in _ready_for(rules):
        rule, rule_id = ready.rule, ready.rule_id
        if not rule.is_active:
            trace.append(RuleEvaluation(rule_id, rule.name, False, (REASON_INACTIVE,)))
            continue
        if rule.integration_id != event.integration_id:
            # Rules are per integration; the caller should never pass another's. Never apply it.
            logger.warning("rule %s skipped: belongs to another integration", rule_id)
            trace.append(RuleEvaluation(rule_id, rule.name, False, (REASON_OTHER_INTEGRATION,)))
            continue
        validated = ready.validated or _validate(rule)
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
