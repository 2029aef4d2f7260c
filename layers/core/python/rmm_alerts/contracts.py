"""The fixed shapes everything else speaks: the normalized alert event, rule conditions and
actions (docs/rules.md), and maintenance windows. Pydantic v2, strict, unknown keys rejected.

The field descriptions are what docs/openapi.json shows; they describe, they do not validate.

Validation errors always carry a dotted field path (see :func:`error_list`).
"""

from __future__ import annotations

import re as _stdlib_re
from datetime import UTC, datetime
from enum import StrEnum
from functools import lru_cache
from importlib import resources
from typing import Annotated, Any, Literal
from uuid import UUID
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

import re2
from pydantic import (
    AfterValidator,
    AwareDatetime,
    BaseModel,
    ConfigDict,
    Field,
    Strict,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic.alias_generators import to_camel

Provider = Literal["ninjaone", "tacticalrmm"]
PROVIDERS: tuple[Provider, ...] = ("ninjaone", "tacticalrmm")
PROVIDER_LABELS: dict[str, str] = {"ninjaone": "NinjaOne", "tacticalrmm": "TacticalRMM"}

Severity = Literal["critical", "major", "moderate", "minor", "none"]
SEVERITIES: tuple[Severity, ...] = ("critical", "major", "moderate", "minor", "none")

AlertStatus = Literal["active", "acknowledged", "resolved", "auto_resolved", "suppressed"]
ACTIVE_STATUSES: tuple[AlertStatus, ...] = ("active", "acknowledged")


class EventKind(StrEnum):
    TRIGGERED = "triggered"
    RESET = "reset"
    ACKNOWLEDGED = "acknowledged"


# Event times outside [EARLIEST, LATEST) are refused at ingest (400 naming the field): far-future or
# BC times are junk, and once stored they could not be read back as Python datetimes.
EARLIEST_EVENT_TIME = datetime(1970, 1, 1, tzinfo=UTC)
LATEST_EVENT_TIME = datetime(2200, 1, 1, tzinfo=UTC)


def event_time_in_range(moment: datetime) -> bool:
    """Whether an aware ``moment`` is in ``[EARLIEST_EVENT_TIME, LATEST_EVENT_TIME)`` (never raises:
    ``9999-12-31T23:59:59-14:00`` overflows when converted to UTC, and is out of range)."""
    try:
        return EARLIEST_EVENT_TIME <= moment < LATEST_EVENT_TIME
    except (OverflowError, TypeError):
        return False


def _event_time(moment: datetime) -> datetime:
    if not event_time_in_range(moment):
        raise ValueError(
            f"timestamp out of range (must be from {EARLIEST_EVENT_TIME:%Y-%m-%d} "
            f"to before {LATEST_EVENT_TIME:%Y-%m-%d} UTC)"
        )
    return moment


# Ids arrive as strings from JSON and jsonb; accept them (lax) while the rest stays strict.
Id = Annotated[UUID, Strict(False)]
Timestamp = Annotated[AwareDatetime, Strict(False)]


# defer_build: each model's validator is built on its first use, not at import (cold start; a
# function uses a few of these models). pydantic >= 2.14 makes that first build thread-safe.
class _Strict(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", frozen=True, defer_build=True)


class _CamelStrict(BaseModel):
    """API-facing shapes: camelCase on the wire, snake_case in Python."""

    model_config = ConfigDict(
        strict=True,
        extra="forbid",
        frozen=True,
        alias_generator=to_camel,
        populate_by_name=True,
        defer_build=True,
    )


class NormalizedAlertEvent(_Strict):
    """One RMM lifecycle event, provider-neutral. Produced by :mod:`rmm_alerts.normalizers`."""

    tenant_id: Id
    integration_id: Id
    provider: Provider
    kind: EventKind
    # Identity of this alert in the RMM (NinjaOne: activity id of the trigger; Tactical: alert id).
    external_alert_id: Annotated[str, Field(min_length=1, max_length=255)]
    external_device_id: Annotated[str, Field(max_length=255)] | None = None
    # What condition fired on the device (never the lifecycle word); with the device it forms the dedup key.
    condition_id: Annotated[str, Field(min_length=1, max_length=500)]
    # What links a reset/ack to its trigger (NinjaOne seriesUid, Tactical alert id), when known.
    pairing_id: Annotated[str, Field(max_length=255)] | None = None
    activity_type: str | None = None
    alert_class: str | None = None
    source_type: str | None = None
    severity: Severity = "none"
    message: str | None = None
    device_name: str | None = None
    external_organization_id: str | None = None
    external_organization_name: str | None = None
    occurred_at: Annotated[Timestamp, AfterValidator(_event_time)]
    raw: dict[str, Any]


# ---------------------------------------------------------------------------------------------
# Rules


# What a tenant may save (issue 10 item 11). Matching is linear (RE2) in the text and in the
# compiled program, so the worst rule set is bounded by: the message prefix rules look at
# (rules.MATCH_PREFIX_BYTES), the program size of each pattern, and the total program size of an
# integration's patterns, all evaluated for one alert. tests/unit/test_rule_budget.py guards it.
MAX_RULES_PER_INTEGRATION = 100
MAX_PATTERN_LENGTH = 300
MAX_PATTERN_PROGRAM_SIZE = 100
MAX_INTEGRATION_PROGRAM_SIZE = 300
MAX_KEYWORDS = 20
MAX_KEYWORD_LENGTH = 100


def re2_options() -> re2.Options:
    """RE2 options for tenant patterns: linear time, bounded memory, no stderr noise. Rules only
    ask whether a pattern matches, so groups never capture (smaller programs, no submatch work)."""
    options = re2.Options()
    options.log_errors = False
    # Small on purpose: a DFA-hostile pattern gives up on the DFA at once and runs as an NFA, which
    # costs a few ns per byte and instruction instead of thrashing a large DFA cache.
    options.max_mem = 64 << 10
    options.never_capture = True
    return options


@lru_cache(maxsize=512)
def compile_tenant_pattern(pattern: str) -> Any:
    """Compile a tenant-supplied regex with RE2 (no backtracking, so no ReDoS); each distinct
    pattern once per process (RE2 objects are immutable and thread-safe)."""
    return re2.compile(pattern, re2_options())


def pattern_program_size(pattern: str) -> int:
    """The compiled size of a (valid) tenant pattern: what one byte of matching can cost."""
    return int(compile_tenant_pattern(pattern).programsize)


def _compile_re2(pattern: str) -> str:
    try:
        compile_tenant_pattern(pattern)
    except Exception as exc:  # re2 raises re2.error with a bytes message
        detail = exc.args[0] if exc.args else exc
        if isinstance(detail, bytes):
            detail = detail.decode("utf-8", "replace")
        raise ValueError(f"invalid regular expression: {detail}") from None
    return pattern


NonEmptyStr = Annotated[str, Field(min_length=1, max_length=500)]


class RuleConditions(_CamelStrict):
    """When a rule applies. Every condition present must match; ``{}`` matches every alert; an
    empty list is the same as an absent one. An alert without the tested value never matches."""

    severities: list[Severity] | None = Field(
        default=None,
        max_length=5,
        description="The alert's normalized severity is one of these.",
    )
    activity_types: list[NonEmptyStr] | None = Field(
        default=None,
        max_length=100,
        description="The activity type is one of these (exact). NinjaOne webhooks: `CONDITION`; "
        "TacticalRMM alerts have none.",
    )
    alert_classes: list[NonEmptyStr] | None = Field(
        default=None,
        max_length=100,
        description="The alert class is one of these (exact). NinjaOne: the condition code, e.g. "
        "`vmm_cond_disk_free_space_lt`; TacticalRMM: `check`, `task`, `availability`, `custom`.",
    )
    source_types: list[NonEmptyStr] | None = Field(
        default=None,
        max_length=100,
        description="The source type is one of these (exact). NinjaOne webhooks: `CONDITION`; TacticalRMM: "
        "the check type, e.g. `diskspace`.",
    )
    organization_ids: list[NonEmptyStr] | None = Field(
        default=None,
        max_length=1000,
        description="The RMM organization id (NinjaOne organization, TacticalRMM client id) is one of these "
        "(exact). Each must be mapped on the integration.",
    )
    keywords: list[NonEmptyStr] | None = Field(
        default=None,
        max_length=100,
        description="Any of these appears in the message (case-insensitive substring).",
    )
    message_pattern: Annotated[str, Field(min_length=1, max_length=1000), AfterValidator(_compile_re2)] | None = Field(
        default=None,
        description="A regular expression (RE2 syntax) found anywhere in the message; `(?i)` ignores case.",
    )


_PLACEHOLDERS = "Placeholders: `{{device}}`, `{{message}}`, `{{severity}}`, `{{organization}}`."


class TicketTemplate(_CamelStrict):
    """Ticket text. Placeholder names are case-insensitive; unknown ones are left as written."""

    title_template: Annotated[str, Field(max_length=500)] | None = Field(
        default=None,
        description="The ticket title (one line, cut to 255 characters). Default: "
        "`[<Provider> Alert] <class> on <device>`, plus `: <message>` when short. " + _PLACEHOLDERS,
    )
    description_template: Annotated[str, Field(max_length=10_000)] | None = Field(
        default=None,
        description="The ticket description. Default: a plain-text summary of the alert. " + _PLACEHOLDERS,
    )


class RuleActions(_CamelStrict):
    """What a matching rule does."""

    create_ticket: bool = Field(
        default=True,
        description="Create a ticket, or join the open ticket of the same device and condition. "
        "`false`: only record the alert.",
    )
    board_id: Id | None = Field(default=None, description="Board of new tickets; default: the tenant's default board.")
    priority_override: Id | None = Field(
        default=None,
        description="Priority id of new tickets; default: picked by name from the severity "
        "(critical: urgent/critical, major: high, moderate: medium/normal, minor and none: low).",
    )
    assign_to_user_id: Id | None = Field(default=None, description="Assign new tickets to this user.")
    ticket_template: TicketTemplate | None = Field(default=None, description="Title and description of new tickets.")
    auto_resolve_ticket: bool = Field(
        default=False,
        description="On reset, close the ticket if it is untouched (status unchanged, no technician comment, "
        "no time entry) and no other alert on it is still active. A note says what happened either way.",
    )
    auto_resolve_status_id: Id | None = Field(
        default=None,
        description="The closed status auto-close uses; default: the board's first closed status.",
    )
    reset_alert_on_ticket_close: bool = Field(
        default=True, description="When the ticket is closed in the PSA, reset the alert in the RMM."
    )
    notify_user_ids: list[Id] = Field(
        default_factory=list,
        max_length=100,
        description="Users notified (in-app and e-mail, per their preferences) when this rule creates a ticket.",
    )


class Rule(_Strict):
    """A stored rule as the pipeline sees it (loaded from ``rmm_alert_rules``)."""

    rule_id: Id
    integration_id: Id
    name: str
    priority_order: int
    is_active: bool = True
    # Kept raw: a stored rule that no longer validates is skipped at evaluation, not fatal.
    conditions: dict[str, Any] = Field(default_factory=dict)
    actions: dict[str, Any] = Field(default_factory=dict)


# ---------------------------------------------------------------------------------------------
# Maintenance windows

_HHMM = _stdlib_re.compile(r"([01][0-9]|2[0-3]):[0-5][0-9]", _stdlib_re.ASCII)


def _hhmm(value: str) -> str:
    if not _HHMM.fullmatch(value):
        raise ValueError("must be HH:MM in 24-hour time (00:00-23:59)")
    return value


@lru_cache(maxsize=1)
def iana_zones() -> frozenset[str]:
    """The zone names the ``tzdata`` package ships: IANA names only. The host's own files are not
    consulted, so ``localtime`` (whatever the host says) or ``posixrules`` are not zones."""
    return frozenset(resources.files("tzdata").joinpath("zones").read_text("utf-8").split())


def _zone(value: str) -> str:
    if value not in iana_zones():
        raise ValueError(f"unknown IANA timezone {value[:64]!r} (use a tz database name such as Europe/Berlin)")
    try:
        ZoneInfo(value)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(f"unknown IANA timezone {value[:64]!r}") from None
    return value


HHMM = Annotated[str, AfterValidator(_hhmm)]


class WeeklyRecurrence(_CamelStrict):
    """Weekly window: on ``days`` (0 = Sunday) from ``start_time`` to ``end_time`` in ``timezone``.
    An end before the start crosses midnight into the next day."""

    type: Literal["weekly"] = Field(default="weekly", description="Always `weekly`.")
    days: list[Annotated[int, Field(ge=0, le=6)]] = Field(
        min_length=1, max_length=7, description="Days of the week the window starts on: 0 = Sunday … 6 = Saturday."
    )
    start_time: HHMM = Field(description="Start, `HH:MM` wall-clock time in `timezone` (included).")
    end_time: HHMM = Field(
        description="End, `HH:MM` (excluded). Before `startTime`: the window crosses midnight into the next day."
    )
    timezone: Annotated[str, Field(min_length=1, max_length=64), AfterValidator(_zone)] = Field(
        description="IANA time zone, e.g. `Europe/Berlin`; daylight saving time is followed."
    )

    @field_validator("days")
    @classmethod
    def _unique_days(cls, days: list[int]) -> list[int]:
        if len(set(days)) != len(days):
            raise ValueError("days must not repeat")
        return sorted(days)

    @model_validator(mode="after")
    def _distinct_times(self) -> WeeklyRecurrence:
        if self.start_time == self.end_time:
            raise ValueError("startTime and endTime must differ")
        return self


class MaintenanceWindowIn(_CamelStrict):
    """A window as an admin writes it: a one-off ``[startsAt, endsAt)`` or a weekly recurrence.
    Windows are checked before rules, at the alert's own time; a match stores the alert
    ``suppressed``: no ticket, no notification, no event."""

    name: Annotated[str, Field(min_length=1, max_length=200)]
    is_active: bool = Field(default=True, description="An inactive window never suppresses.")
    integration_id: Id | None = Field(
        default=None, description="Only alerts of this integration; null: every integration."
    )
    client_id: Id | None = Field(default=None, description="Only alerts of this client; null: every client.")
    asset_id: Id | None = Field(default=None, description="Only alerts of this asset; null: every asset.")
    # Same range as event times: beyond it a time cannot be compared or read back reliably.
    starts_at: Annotated[Timestamp, AfterValidator(_event_time)] | None = Field(
        default=None, description="One-off window start (included), with a time zone offset."
    )
    ends_at: Annotated[Timestamp, AfterValidator(_event_time)] | None = Field(
        default=None, description="One-off window end (excluded)."
    )
    recurrence: WeeklyRecurrence | None = Field(
        default=None, description="A weekly window, instead of `startsAt`/`endsAt`."
    )

    @model_validator(mode="after")
    def _schedule(self) -> MaintenanceWindowIn:
        one_off = self.starts_at is not None or self.ends_at is not None
        if one_off and self.recurrence is not None:
            raise ValueError("give either startsAt/endsAt or recurrence, not both")
        if not one_off and self.recurrence is None:
            raise ValueError("give startsAt and endsAt, or a recurrence")
        if one_off:
            if self.starts_at is None or self.ends_at is None:
                raise ValueError("a one-off window needs both startsAt and endsAt")
            if self.ends_at <= self.starts_at:
                raise ValueError("endsAt must be after startsAt")
        return self


class MaintenanceWindow(_Strict):
    """A stored window as the pipeline sees it."""

    window_id: Id
    name: str
    is_active: bool = True
    integration_id: Id | None = None
    client_id: Id | None = None
    asset_id: Id | None = None
    starts_at: Timestamp | None = None
    ends_at: Timestamp | None = None
    recurrence: dict[str, Any] | None = None


# ---------------------------------------------------------------------------------------------
# Errors


def _path(loc: tuple[int | str, ...]) -> str:
    parts: list[str] = []
    for item in loc:
        if isinstance(item, int):
            parts.append(f"[{item}]")
        else:
            # pydantic appends validator names for Annotated/union branches; keep the field path
            if item.startswith("function-") or item in {"constrained-str"}:
                continue
            parts.append(("." if parts else "") + item)
    return "".join(parts) or "body"


def error_list(exc: ValidationError, prefix: str = "") -> list[dict[str, str]]:
    """Pydantic errors as ``[{"path": "conditions.messagePattern", "message": ...}]``."""
    out: list[dict[str, str]] = []
    for err in exc.errors(include_url=False):
        path = _path(tuple(err["loc"]))
        if prefix:
            path = prefix if path == "body" else f"{prefix}.{path}"
        msg = str(err["msg"])
        if msg.startswith("Value error, "):
            msg = msg[len("Value error, ") :]
        out.append({"path": path, "message": msg})
    return out
