"""Raw RMM webhook payloads -> :class:`NormalizedAlertEvent` (docs/payloads.md).

Pure functions: no I/O, no clock. Whatever JSON value arrives (object, list, string, null, nested
junk), the only exceptions that leave this module are :class:`NotAnAlert` (a valid payload that is
not an alert lifecycle event: answer 200 ``processed: false``) and :class:`MalformedPayload` (it
cannot be an alert: answer 400 naming ``.field``). Field-by-field mapping: ``docs/payloads.md``.
"""

from __future__ import annotations

import hashlib
import json
import math
import re
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any, Final
from uuid import UUID

from pydantic import ValidationError

from rmm_alerts import dedup
from rmm_alerts.contracts import (
    EARLIEST_EVENT_TIME,
    LATEST_EVENT_TIME,
    SEVERITIES,
    EventKind,
    NormalizedAlertEvent,
    Severity,
    error_list,
    event_time_in_range,
)

__all__ = [
    "EARLIEST_TIME",
    "LATEST_TIME",
    "MAX_DEPTH",
    "MalformedPayload",
    "NotAnAlert",
    "clean_json",
    "ninjaone_severity",
    "normalize",
    "normalize_ninjaone",
    "normalize_tactical",
    "parse_json",
    "tactical_condition_id",
    "tactical_severity",
]


class NotAnAlert(Exception):
    """A well-formed payload that is not an alert lifecycle event (e.g. NinjaOne ACTIONSET, SYSTEM)."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


class MalformedPayload(ValueError):
    """The payload cannot be an alert. ``field`` is a dotted path into the payload (or ``body``)."""

    def __init__(self, field: str, message: str) -> None:
        super().__init__(f"{field}: {message}")
        self.field = field
        self.message = message


# ---------------------------------------------------------------------------------------------
# JSON as it arrives: strict numbers, bounded depth, text PostgreSQL can store.

# Deeper than any RMM payload; keeps every later recursive walk (cleaning, jsonb) far from limits.
MAX_DEPTH: Final = 64
_LONE_SURROGATE: Final = re.compile("[\ud800-\udfff]")
# In JSON text, the only ways to a string clean_json would change: a \u0000 or \uD800-\uDFFF
# escape (a raw control character is invalid JSON; UTF-8 decoding never yields a surrogate).
_CLEANING_ESCAPE: Final = re.compile(r"\\u(?:0000|[dD][89a-fA-F])")


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):
        raise ValueError(f"number {text[:32]} is out of range")
    return value


def _no_constant(text: str) -> float:
    raise ValueError(f"{text} is not JSON")


def _clean_text(value: str) -> str:
    """U+0000 and lone surrogates (``\\ud800``, half an emoji) cannot be stored: U+FFFD instead."""
    if "\x00" in value:
        value = value.replace("\x00", "\ufffd")
    if not value.isascii():
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            value = _LONE_SURROGATE.sub("\ufffd", value)
    return value


def clean_json(value: Any, field: str = "body", _depth: int = 0) -> Any:
    """``value`` with every string and key cleaned (see :func:`_clean_text`); nesting deeper than
    :data:`MAX_DEPTH` is :class:`MalformedPayload`."""
    if isinstance(value, str):
        return _clean_text(value)
    if isinstance(value, list | dict):
        if _depth >= MAX_DEPTH:
            raise MalformedPayload(field, f"nested deeper than {MAX_DEPTH} levels")
        if isinstance(value, list):
            return [clean_json(v, field, _depth + 1) for v in value]
        return {
            (_clean_text(k) if isinstance(k, str) else k): clean_json(v, field, _depth + 1) for k, v in value.items()
        }
    return value


def parse_json(body: bytes | str, field: str = "body") -> Any:
    """A webhook body as JSON, cleaned. Not UTF-8, not JSON, NaN/Infinity, a number that does not
    fit a double or has more digits than Python converts (5,000), or nesting deeper than
    :data:`MAX_DEPTH`: :class:`MalformedPayload` naming ``field``."""
    try:
        text = body.decode("utf-8") if isinstance(body, bytes) else body
        parsed = json.loads(text, parse_float=_finite, parse_constant=_no_constant)
    except UnicodeDecodeError:
        raise MalformedPayload(field, "not valid JSON (not UTF-8)") from None
    except RecursionError:
        raise MalformedPayload(field, f"not valid JSON (nested deeper than {MAX_DEPTH} levels)") from None
    except json.JSONDecodeError as exc:
        raise MalformedPayload(field, f"not valid JSON ({exc.msg} at line {exc.lineno} column {exc.colno})") from None
    except ValueError as exc:  # int digit limit, out-of-range float, NaN/Infinity
        raise MalformedPayload(field, f"not valid JSON ({str(exc)[:80]})") from None
    if _already_clean(text, decoded=isinstance(body, bytes)):
        return parsed  # what clean_json would return, without walking every value (the common case)
    return clean_json(parsed, field)


def _already_clean(text: str, *, decoded: bool) -> bool:
    """Whether clean_json could not change the JSON parsed from ``text`` nor find it too deep:
    fewer brackets than MAX_DEPTH (nesting needs one each), no escape that makes U+0000 or a
    surrogate, and (a str body, not decoded from UTF-8 here) no raw surrogate either."""
    return (
        text.count("{") + text.count("[") < MAX_DEPTH
        and _CLEANING_ESCAPE.search(text) is None
        and (decoded or text.isascii() or _LONE_SURROGATE.search(text) is None)
    )


# ---------------------------------------------------------------------------------------------
# Small, total helpers: each returns None for "absent or unusable" and never raises.

# Tactical renders a missing value as the text "None" (str(None)); an empty string says nothing either.
_MISSING_TEXT: Final = frozenset({"", "None"})
# Ids beyond this are junk; it also keeps str(int) far from Python's int-to-str digit limit.
_MAX_ID_INT: Final = 10**30
_MAX_EXACT_FLOAT: Final = 2**53


def _text(value: object) -> str | None:
    """A non-empty string, stripped; ``"None"``/``""`` count as missing; other types -> None."""
    if not isinstance(value, str):
        return None
    stripped = value.strip()
    return None if stripped in _MISSING_TEXT else stripped


def _ident(value: object) -> str | None:
    """An identifier from an int, an integral float or a string (ids arrive as either)."""
    if isinstance(value, bool):  # bool is an int subclass; True is not an id
        return None
    if isinstance(value, int):
        return str(value) if abs(value) < _MAX_ID_INT else None
    if isinstance(value, float):
        if math.isfinite(value) and value.is_integer() and abs(value) < _MAX_EXACT_FLOAT:
            return str(int(value))
        return None
    return _text(value)


def _get(obj: object, *path: str) -> object:
    """``obj[path[0]][path[1]]...`` or None when any level is absent or not an object."""
    current: object = obj
    for key in path:
        if not isinstance(current, Mapping):
            return None
        current = current.get(key)
    return current


def _first(*candidates: tuple[str, str | None]) -> tuple[str, str] | None:
    """The first ``(source, value)`` with a value."""
    for source, value in candidates:
        if value is not None:
            return source, value
    return None


def _type_name(value: object) -> str:
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "boolean"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, list):
        return "array"
    return type(value).__name__


def _require_object(payload: object) -> dict[str, Any]:
    if not isinstance(payload, dict):
        raise MalformedPayload("body", f"expected a JSON object, got {_type_name(payload)}")
    if not all(isinstance(key, str) for key in payload):  # JSON keys always are; guard Python callers
        raise MalformedPayload("body", "object keys must be strings")
    return payload


# Event times outside this range are junk (a clock or a template gone wrong) and would be unreadable
# or wrong later: 400 naming the field. The contract enforces the same range.
EARLIEST_TIME: Final = EARLIEST_EVENT_TIME
LATEST_TIME: Final = LATEST_EVENT_TIME

# Epoch values above this are taken as milliseconds (1e11 s is the year 5138).
_EPOCH_MS_THRESHOLD: Final = 1e11
_NUMERIC: Final = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+)?$")


def _parse_time(value: object, field: str) -> datetime | None:
    """Epoch seconds (int/float, fractional ok, or a numeric string) or an ISO-8601 string
    (``T`` or space separated, as Python's ``str(datetime)`` renders). Naive -> UTC.
    Missing -> None; present but unusable -> MalformedPayload."""
    if value is None or (isinstance(value, str) and value.strip() in _MISSING_TEXT):
        return None
    if isinstance(value, str) and _NUMERIC.match(value.strip()):
        value = float(value.strip())
    if isinstance(value, bool):
        raise MalformedPayload(field, "expected epoch seconds or an ISO-8601 timestamp, got boolean")
    try:
        if isinstance(value, int | float):
            seconds = float(value)
            if not math.isfinite(seconds) or seconds < 0:
                raise MalformedPayload(field, f"invalid epoch timestamp {value!r}")
            if seconds > _EPOCH_MS_THRESHOLD:
                seconds /= 1000.0
            moment = datetime.fromtimestamp(seconds, tz=UTC)
        elif isinstance(value, str):
            parsed = datetime.fromisoformat(value.strip())
            moment = parsed if parsed.tzinfo is not None else parsed.replace(tzinfo=UTC)
        else:
            moment = None
    except (ValueError, OverflowError, OSError):
        raise MalformedPayload(field, f"unparseable timestamp {str(value)[:64]!r}") from None
    if moment is not None:
        return _in_range(moment, field)
    raise MalformedPayload(field, f"expected epoch seconds or an ISO-8601 timestamp, got {_type_name(value)}")


def _in_range(moment: datetime, field: str) -> datetime:
    if not event_time_in_range(moment):
        raise MalformedPayload(
            field,
            f"timestamp out of range (must be from {EARLIEST_TIME:%Y-%m-%d} to before {LATEST_TIME:%Y-%m-%d} UTC)",
        )
    return moment


def _aware(moment: datetime) -> datetime:
    # A naive received_at from a caller is taken as UTC rather than failing validation.
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=UTC)


def _build(fields: dict[str, Any], sources: Mapping[str, str]) -> NormalizedAlertEvent:
    """Validate into the event; a validation error becomes MalformedPayload naming the payload field."""
    try:
        return NormalizedAlertEvent(**fields)
    except ValidationError as exc:
        first = error_list(exc)[0]
        model_field = first["path"].split(".", 1)[0].split("[", 1)[0]
        raise MalformedPayload(sources.get(model_field, "body"), first["message"]) from None


# ---------------------------------------------------------------------------------------------
# NinjaOne (docs/payloads.md)

_NINJA_LIFECYCLE: Final[dict[str, EventKind]] = {
    "TRIGGERED": EventKind.TRIGGERED,
    "RESET": EventKind.RESET,
    "ACKNOWLEDGED": EventKind.ACKNOWLEDGED,
}


def _is_lifecycle_word(value: str | None) -> bool:
    return value is not None and value.upper() in _NINJA_LIFECYCLE


def ninjaone_severity(value: object) -> Severity:
    """``NONE|MINOR|MODERATE|MAJOR|CRITICAL`` (any case) -> the normalized scale; unknown -> ``none``."""
    text = _text(value)
    lowered = text.lower() if text else ""
    for severity in SEVERITIES:
        if lowered == severity:
            return severity
    return "none"


def normalize_ninjaone(
    payload: object,
    *,
    tenant_id: UUID,
    integration_id: UUID,
    received_at: datetime | None = None,
) -> NormalizedAlertEvent:
    """A NinjaOne webhook activity (documented or alternative shape) -> event.

    ``received_at`` is used as ``occurred_at`` only when the payload has no ``activityTime``.
    """
    body = _require_object(payload)

    raw_type = body.get("activityType")
    if raw_type is not None and not isinstance(raw_type, str):
        raise MalformedPayload("activityType", f"expected a string, got {_type_name(raw_type)}")
    activity_type = _text(raw_type)
    if activity_type is not None and activity_type.upper() != "CONDITION":
        raise NotAnAlert(f"NinjaOne activityType {activity_type!r} is not a monitoring condition")

    # Lifecycle: whichever of statusCode/status holds the word. statusCode first: in the documented
    # shape it is authoritative and `status` is a human string; in the alternative shape statusCode
    # is the condition code and the word is in `status` (never swap them blindly).
    status_code = _text(body.get("statusCode"))
    status = _text(body.get("status"))
    if _is_lifecycle_word(status_code):
        assert status_code is not None
        kind = _NINJA_LIFECYCLE[status_code.upper()]
        code_from_status_code = None
    elif _is_lifecycle_word(status):
        assert status is not None
        kind = _NINJA_LIFECYCLE[status.upper()]
        code_from_status_code = status_code  # alternative shape: statusCode is e.g. DISK_SPACE_LOW
    elif activity_type is not None:
        raise NotAnAlert(
            f"NinjaOne CONDITION activity without an alert lifecycle: statusCode={status_code!r}, "
            f"status={status!r} (expected TRIGGERED, RESET or ACKNOWLEDGED)"
        )
    else:
        raise MalformedPayload(
            "statusCode",
            "no activityType and no alert lifecycle (TRIGGERED, RESET or ACKNOWLEDGED) in statusCode or status",
        )

    found_id = _first(("id", _ident(body.get("id"))), ("activityId", _ident(body.get("activityId"))))
    if found_id is None:
        raise MalformedPayload("id", "missing activity id (id or activityId)")
    sources: dict[str, str] = {"external_alert_id": found_id[0], "raw": "body"}

    # Condition identity: what fired, stable across TRIGGERED/RESET, never the lifecycle word
    # (that would collapse every condition of a device into one dedup key).
    message_code = _text(_get(body, "data", "message", "code"))
    source_name = _text(body.get("sourceName"))
    condition_candidates = [
        ("sourceConfigUid", _ident(body.get("sourceConfigUid"))),
        ("statusCode", code_from_status_code),
        ("data.message.code", message_code),
        ("sourceName", source_name),
    ]
    condition = _first(*((src, val) for src, val in condition_candidates if not _is_lifecycle_word(val)))
    if condition is None:
        raise MalformedPayload(
            "sourceConfigUid",
            "cannot identify the condition (no sourceConfigUid, condition code or sourceName)",
        )
    sources["condition_id"] = condition[0]

    # alert_class: the machine code of the condition type when there is one (stable across
    # organizations and policies), else its name; see docs/payloads.md.
    class_candidates = [
        ("data.message.code", message_code),
        ("statusCode", code_from_status_code),
        ("sourceName", source_name),
        ("type", _text(body.get("type"))),
    ]
    alert_class = _first(*((src, val) for src, val in class_candidates if not _is_lifecycle_word(val)))

    device = body.get("device")
    device_id = _first(("deviceId", _ident(body.get("deviceId"))), ("device.id", _ident(_get(device, "id"))))
    org_id = _first(
        ("device.organizationId", _ident(_get(device, "organizationId"))),
        (
            "device.references.organization.id",
            _ident(_get(device, "references", "organization", "id")),
        ),
        ("organizationId", _ident(body.get("organizationId"))),
    )
    org_name = _text(_get(device, "references", "organization", "name")) or _text(body.get("organizationName"))
    device_name = (
        _text(_get(device, "displayName")) or _text(_get(device, "systemName")) or _text(_get(device, "dnsName"))
    )
    series = _ident(body.get("seriesUid"))
    if device_id:
        sources["external_device_id"] = device_id[0]
    if org_id:
        sources["external_organization_id"] = org_id[0]
    sources.update(pairing_id="seriesUid", source_type="sourceType", occurred_at="activityTime")

    occurred_at = _parse_time(body.get("activityTime"), "activityTime")
    if occurred_at is None:
        if received_at is None:
            raise MalformedPayload("activityTime", "missing, and no receive time was given")
        occurred_at = _aware(received_at)

    return _build(
        {
            "tenant_id": tenant_id,
            "integration_id": integration_id,
            "provider": "ninjaone",
            "kind": kind,
            "external_alert_id": found_id[1],
            "external_device_id": device_id[1] if device_id else None,
            "condition_id": condition[1],
            # None: the pipeline pairs on device + condition instead.
            "pairing_id": series,
            "activity_type": (activity_type or "CONDITION").upper(),
            "alert_class": alert_class[1] if alert_class else None,
            # sourceType is a REST-alert field; a webhook condition activity is a CONDITION.
            "source_type": _text(body.get("sourceType")) or "CONDITION",
            "severity": ninjaone_severity(body.get("severity")),
            "message": _text(body.get("message")) or _text(body.get("subject")),
            "device_name": device_name,
            "external_organization_id": org_id[1] if org_id else None,
            "external_organization_name": org_name,
            "occurred_at": occurred_at,
            "raw": body,
        },
        sources,
    )


# ---------------------------------------------------------------------------------------------
# TacticalRMM (docs/payloads.md). The body is our own template: rmm_alerts.tactical_template.

_TACTICAL_SEVERITY: Final[dict[str, Severity]] = {"error": "critical", "warning": "moderate", "info": "minor"}
_TACTICAL_EVENTS: Final[dict[str, EventKind]] = {
    "trigger": EventKind.TRIGGERED,
    "triggered": EventKind.TRIGGERED,
    "failure": EventKind.TRIGGERED,
    "resolve": EventKind.RESET,
    "resolved": EventKind.RESET,
}
_TACTICAL_ALERT_TYPES: Final = frozenset({"availability", "check", "task", "custom"})
# Custom alerts have no check/task: the message is their identity; bound it for the dedup key.
_CUSTOM_ID_MAX: Final = 200


def tactical_severity(value: object) -> Severity:
    """``error|warning|info`` -> ``critical|moderate|minor``; an already-normalized value passes
    through; unknown -> ``none``."""
    text = _text(value)
    lowered = text.lower() if text else ""
    if lowered in _TACTICAL_SEVERITY:
        return _TACTICAL_SEVERITY[lowered]
    for severity in SEVERITIES:
        if lowered == severity:
            return severity
    return "none"


def tactical_condition_id(
    alert_type: str,
    *,
    check_id: str | None = None,
    check_name: str | None = None,
    task_id: str | None = None,
    task_name: str | None = None,
    message: str | None = None,
) -> str:
    """What failed on the agent, never the agent itself (one agent has many checks): ``check:<id>``,
    ``task:<id>``, ``availability``, ``custom:<message>``; a check/task without its id falls back to
    ``check:name:<name>`` / ``task:name:<name>``. Public so the poller derives the same identity from
    the REST API (``assigned_check``, ``assigned_task``). Raises MalformedPayload naming the field."""
    if alert_type == "availability":
        return "availability"
    if alert_type == "check":
        if check_id:
            return f"check:{check_id}"
        if check_name:
            return f"check:name:{check_name}"
        raise MalformedPayload("checkId", "check alert without checkId or checkName")
    if alert_type == "task":
        if task_id:
            return f"task:{task_id}"
        if task_name:
            return f"task:name:{task_name}"
        raise MalformedPayload("taskId", "task alert without taskId or taskName")
    if alert_type == "custom":
        if not message:
            raise MalformedPayload("message", "custom alert without a message to identify it")
        if len(message) <= _CUSTOM_ID_MAX:
            return f"custom:{message}"
        digest = hashlib.sha256(message.encode("utf-8", "surrogatepass")).hexdigest()[:16]
        return f"custom:{message[:_CUSTOM_ID_MAX]}#{digest}"
    raise MalformedPayload("alertType", f"unknown alert type {alert_type!r}")


# Our template's keys are camelCase; snake_case aliases accept bodies written for the reference
# implementation (agent_id, alert_id, alert_time, client_id, ...).
def _snake(name: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", name).lower()


def _pick(body: Mapping[str, Any], name: str, reader: Callable[[object], str | None] = _text) -> tuple[str, str] | None:
    """``(key actually used, value)`` for ``name`` or its snake_case alias."""
    for key in dict.fromkeys((name, _snake(name))):
        value = reader(body.get(key))
        if value is not None:
            return key, value
    return None


def _field(body: Mapping[str, Any], name: str, reader: Callable[[object], str | None] = _text) -> str | None:
    picked = _pick(body, name, reader)
    return picked[1] if picked else None


def _raw_field(body: Mapping[str, Any], name: str) -> tuple[str, object]:
    """The un-coerced value of ``name`` or its alias (timestamps may be numbers or strings)."""
    for key in dict.fromkeys((name, _snake(name))):
        value = body.get(key)
        if value is not None and not (isinstance(value, str) and value.strip() in _MISSING_TEXT):
            return key, value
    return name, None


def _tactical_body(payload: object) -> dict[str, Any]:
    if isinstance(payload, str):
        # When a substituted value breaks the JSON (Tactical does not escape quotes), Tactical
        # logs the parse error and posts the rendered text as a JSON *string*: recover it.
        text = payload
        try:
            parsed = json.loads(text, strict=False, parse_float=_finite, parse_constant=_no_constant)
        except (ValueError, RecursionError):
            parsed = None
        if isinstance(parsed, dict):
            # The inner text is parsed here, after the webhook cleaned the outer JSON: clean it too.
            return _require_object(clean_json(parsed))
        recovered = _lenient_template_parse(text)
        if recovered is None:
            raise MalformedPayload("body", "expected a JSON object (or the rendered alert template text)")
        return _require_object(clean_json(recovered))
    return _require_object(payload)


def _bounded_id(value: str) -> str:
    """An id within the event's 255-character limit; long ones keep a prefix and a digest."""
    if len(value) <= 255:
        return value
    return value[:190] + "#" + hashlib.sha256(value.encode()).hexdigest()


def normalize_tactical(
    payload: object,
    *,
    tenant_id: UUID,
    integration_id: UUID,
    received_at: datetime | None = None,
) -> NormalizedAlertEvent:
    """A TacticalRMM alert-template webhook body (``tactical_template.TRIGGER_BODY`` /
    ``RESOLVE_BODY`` as rendered by Tactical) -> event."""
    body = _tactical_body(payload)

    event_word = _field(body, "event")
    if event_word is None:
        raise MalformedPayload("event", "missing (expected trigger or resolve)")
    kind = _TACTICAL_EVENTS.get(event_word.lower())
    if kind is None:
        raise MalformedPayload("event", f"unknown event {event_word[:64]!r} (expected trigger or resolve)")

    alert_id = _field(body, "alertId", _ident)
    if alert_id is None and kind is not EventKind.RESET:
        raise MalformedPayload("alertId", "missing alert id")

    check_id = _field(body, "checkId", _ident)
    task_id = _field(body, "taskId", _ident)
    check_name = _field(body, "checkName")
    task_name = _field(body, "taskName")
    message = _field(body, "message")
    declared_type = _field(body, "alertType")
    if declared_type is not None:
        alert_type = declared_type.lower()
        if alert_type not in _TACTICAL_ALERT_TYPES:
            raise MalformedPayload("alertType", f"unknown alert type {declared_type[:64]!r}")
    elif check_id or check_name:
        alert_type = "check"
    elif task_id or task_name:
        alert_type = "task"
    else:
        raise MalformedPayload("alertType", "missing, and no check or task identifies the alert")
    condition_id = tactical_condition_id(
        alert_type,
        check_id=check_id,
        check_name=check_name,
        task_id=task_id,
        task_name=task_name,
        message=message,
    )
    condition_source = {"availability": "alertType", "check": "checkId", "task": "taskId"}.get(alert_type, "message")

    # Org mappings key on the client id (the template sends {{client.id}}); the name is the
    # fallback for bodies without it (see docs/payloads.md: the poller must use the same key).
    client_id = _field(body, "clientId", _ident)
    client_name = _field(body, "clientName")
    check_type = _field(body, "checkType")

    # Resolve events happen at resolvedOn; a trigger at alertTime. received_at before alertTime for
    # a resolve: the receive time is nearer the resolution than the original trigger time.
    alert_time_field, alert_time_raw = _raw_field(body, "alertTime")
    alert_time = _parse_time(alert_time_raw, alert_time_field)
    if kind is EventKind.RESET:
        resolved_field, resolved_raw = _raw_field(body, "resolvedOn")
        occurred_at = _parse_time(resolved_raw, resolved_field)
        occurred_source = resolved_field
        if occurred_at is None:
            occurred_at = _aware(received_at) if received_at is not None else alert_time
    else:
        occurred_source = alert_time_field
        occurred_at = alert_time or (_aware(received_at) if received_at is not None else None)
    if occurred_at is None:
        raise MalformedPayload("alertTime", "missing, and no receive time was given")

    device = _pick(body, "agentId", _ident)
    if alert_id is None:
        # A resolve without its alert id (older Tactical templates): pair on agent + check/task instead.
        if device is None:
            raise MalformedPayload("alertId", "missing alert id, and no agentId to pair the resolve by")
        # Derived like the dedup key, so agent "a:b" + check "c" never meets agent "a" + "b:c".
        external_alert_id = _bounded_id("resolve:" + dedup.dedup_key(device[1], condition_id))
    else:
        external_alert_id = alert_id
    return _build(
        {
            "tenant_id": tenant_id,
            "integration_id": integration_id,
            "provider": "tacticalrmm",
            "kind": kind,
            "external_alert_id": external_alert_id,
            "external_device_id": device[1] if device else None,
            "condition_id": condition_id,
            # Tactical keeps one alert id from failure to resolve: the exact pairing key.
            "pairing_id": alert_id,
            "activity_type": None,
            "alert_class": alert_type,
            # For checks, the check type (diskspace, ping, ...) lets rules target a kind of check.
            "source_type": (check_type.lower() if alert_type == "check" and check_type else alert_type),
            "severity": tactical_severity(_field(body, "severity")),
            "message": message,
            "device_name": _field(body, "hostname"),
            "external_organization_id": client_id or client_name,
            "external_organization_name": client_name,
            "occurred_at": occurred_at,
            "raw": body,
        },
        {
            "external_alert_id": "alertId",
            "external_device_id": device[0] if device else "agentId",
            "condition_id": condition_source,
            "pairing_id": "alertId",
            "external_organization_id": "clientId" if client_id else "clientName",
            "occurred_at": occurred_source,
            "raw": "body",
        },
    )


# Keys of our template whose line starts a field; see _lenient_template_parse.
_TEMPLATE_KEY_LINE: Final = re.compile(r'^[ \t]*"([A-Za-z_]+)"[ \t]*:[ \t]*', re.MULTILINE)


def _unescape(value: str) -> str:
    """Decode JSON escapes in a value that may also hold raw (unescaped) double quotes."""
    escaped: list[str] = []
    index = 0
    while index < len(value):
        char = value[index]
        if char == "\\" and index + 1 < len(value):
            escaped.append(value[index : index + 2])
            index += 2
            continue
        escaped.append('\\"' if char == '"' else ("\\\\" if char == "\\" else char))
        index += 1
    try:
        decoded = json.loads('"' + "".join(escaped) + '"', strict=False)
    except ValueError:
        return value
    return decoded if isinstance(decoded, str) else value


def _lenient_template_parse(text: str) -> dict[str, Any] | None:
    """Recover our template's fields from rendered text that is not valid JSON (a value with a raw
    double quote). The template has one ``"key": "value"`` per line, free text (names, message)
    first and identity fields last; the last occurrence of a key wins, as in ``json.loads``, so a
    key line smuggled into free text cannot override the real identity fields after it."""
    stripped = text.strip()
    if not (stripped.startswith("{") and stripped.endswith("}")):
        return None
    inner = stripped[1:-1]
    starts = list(_TEMPLATE_KEY_LINE.finditer(inner))
    fields: dict[str, Any] = {}
    for position, match in enumerate(starts):
        end = starts[position + 1].start() if position + 1 < len(starts) else len(inner)
        segment = inner[match.end() : end].rstrip()
        if segment.endswith(","):
            segment = segment[:-1].rstrip()
        if len(segment) >= 2 and segment.startswith('"') and segment.endswith('"'):
            fields[match.group(1)] = _unescape(segment[1:-1])
    if _text(fields.get("event")) is None or _text(fields.get("alertId")) is None:
        return None
    fields["_recoveredFromText"] = text  # keep what actually arrived, for the stored raw payload
    return fields


# ---------------------------------------------------------------------------------------------

_NORMALIZERS: Final[dict[str, Callable[..., NormalizedAlertEvent]]] = {
    "ninjaone": normalize_ninjaone,
    "tacticalrmm": normalize_tactical,
    "tactical": normalize_tactical,
}


def normalize(
    provider: str,
    payload: object,
    *,
    tenant_id: UUID,
    integration_id: UUID,
    received_at: datetime | None = None,
) -> NormalizedAlertEvent:
    """Dispatch on provider (``ninjaone`` | ``tacticalrmm``). An unknown provider is a programming
    error (``ValueError``, not MalformedPayload): routes only exist for known providers."""
    normalizer = _NORMALIZERS.get(provider)
    if normalizer is None:
        raise ValueError(f"unknown provider {provider!r}")
    return normalizer(payload, tenant_id=tenant_id, integration_id=integration_id, received_at=received_at)
