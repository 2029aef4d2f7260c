"""Ticket text (docs/rules.md, "Actions"): placeholder rendering, default title and
description, and the severity -> tenant priority mapping. Pure functions, no I/O."""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from datetime import UTC

from rmm_alerts.contracts import PROVIDER_LABELS, NormalizedAlertEvent

MAX_TITLE_LENGTH = 255
# Description bodies are bounded too: an RMM message can be arbitrarily long.
MAX_DESCRIPTION_LENGTH = 8_192
# Every value substituted into a description template (and the message in a ticket note) is
# clipped to this, so a huge RMM message cannot multiply through a template.
MAX_VALUE_LENGTH = 2_000


def render_title(template: str, values: Mapping[str, str | None]) -> str:
    """A title template rendered as one line of at most 255 characters (values clipped first)."""
    return clip_title(render(template, values, value_limit=MAX_TITLE_LENGTH, total_limit=MAX_TITLE_LENGTH * 2))


def render_description(template: str, values: Mapping[str, str | None]) -> str:
    """A description template rendered to at most :data:`MAX_DESCRIPTION_LENGTH` characters."""
    return render(template, values, value_limit=MAX_VALUE_LENGTH, total_limit=MAX_DESCRIPTION_LENGTH)


UNKNOWN_DEVICE = "unknown device"
_ELLIPSIS = "…"

# {{name}} with optional spaces/tabs inside the braces; names are ASCII identifiers.
_PLACEHOLDER = re.compile(r"\{\{[ \t]*([A-Za-z_][A-Za-z0-9_]*)[ \t]*\}\}", re.ASCII)
_WHITESPACE = re.compile(r"\s+")

# Severity -> candidate priority names, in order of preference (docs/rules.md, Actions).
PRIORITY_NAMES: dict[str, tuple[str, ...]] = {
    "critical": ("urgent", "critical"),
    "major": ("high",),
    "moderate": ("medium", "normal"),
    "minor": ("low",),
    "none": ("low",),
}


def render(
    template: str,
    values: Mapping[str, str | None],
    *,
    value_limit: int | None = None,
    total_limit: int | None = None,
) -> str:
    """Replace ``{{name}}`` placeholders with ``values[name]``.

    Names are case-insensitive (``{{ Device }}`` == ``{{device}}``) and may be padded with
    spaces. A name not in ``values`` is left exactly as written; ``None`` renders as ``""``.
    One pass only: a value that itself contains ``{{device}}`` is not expanded again.
    ``value_limit`` clips every substituted value; with ``total_limit`` rendering stops as soon as
    the text is that long and the result is clipped to it, so a template repeating a huge value
    never builds a huge string.
    """
    lookup = {
        name.lower(): (clip(value, value_limit) if value and value_limit is not None else value)
        for name, value in values.items()
    }

    def substitute(match: re.Match[str]) -> str:
        name = match.group(1).lower()
        if name not in lookup:
            return match.group(0)
        return lookup[name] or ""

    if total_limit is None:
        return _PLACEHOLDER.sub(substitute, template)
    parts: list[str] = []
    size = 0
    position = 0
    for match in _PLACEHOLDER.finditer(template):
        for piece in (template[position : match.start()], substitute(match)):
            parts.append(piece)
            size += len(piece)
        position = match.end()
        if size > total_limit:
            break
    else:
        parts.append(template[position:])
    return clip("".join(parts), total_limit)


def _present(value: str | None) -> str | None:
    """``value`` unless it is missing or blank."""
    return value if value is not None and value.strip() else None


def placeholder_values(event: NormalizedAlertEvent) -> dict[str, str | None]:
    """The values of ``{{device}}``, ``{{message}}``, ``{{severity}}`` and ``{{organization}}``."""
    return {
        "device": _present(event.device_name) or _present(event.external_device_id) or UNKNOWN_DEVICE,
        "message": event.message,
        "severity": event.severity,
        "organization": _present(event.external_organization_name) or event.external_organization_id,
    }


def clip(text: str, limit: int) -> str:
    """``text`` cut to ``limit`` characters, ending in an ellipsis when cut."""
    return text if len(text) <= limit else text[: limit - len(_ELLIPSIS)] + _ELLIPSIS


def clip_title(title: str) -> str:
    """A ticket title as one line (whitespace runs collapsed) of at most 255 characters.

    Apply it to rendered title templates too: a template can expand past the column size.
    """
    return clip(_WHITESPACE.sub(" ", title).strip(), MAX_TITLE_LENGTH)


# The condition and the device never crowd the message out of a default title entirely.
MAX_TITLE_CONDITION_LENGTH = 100
MAX_TITLE_DEVICE_LENGTH = 64

# Machine-code prefixes dropped when a code has to be shown as words (NinjaOne condition codes).
_CODE_PREFIXES = ("vmm_cond_", "cond_", "condition_")
_CODE_WORDS = {"lt": "below", "gt": "above", "le": "at most", "ge": "at least", "eq": "equals"}
_CODE = re.compile(r"[a-z0-9]+(?:_[a-z0-9]+)+", re.ASCII)
# Not a name: lifecycle words, and the "None"/"null" an RMM template renders for a missing value.
_NOT_A_NAME = frozenset({"triggered", "reset", "acknowledged", "trigger", "resolve", "resolved", "none", "null"})
_TACTICAL_TYPE_NAMES = {"availability": "Agent offline", "custom": "Custom alert"}


def readable_code(code: str) -> str:
    """A snake_case machine code as words: ``vmm_cond_disk_free_space_lt`` -> ``Disk free space below``.
    Anything that is not such a code is returned stripped, unchanged."""
    text = code.strip()
    if not _CODE.fullmatch(text):
        return text
    for prefix in _CODE_PREFIXES:
        if text.startswith(prefix) and len(text) > len(prefix):
            text = text[len(prefix) :]
            break
    words = [_CODE_WORDS.get(word, word) for word in text.split("_")]
    phrase = " ".join(words)
    return phrase[:1].upper() + phrase[1:]


def _raw_text(raw: Mapping[str, object], *names: str) -> str | None:
    for name in names:
        value = raw.get(name)
        if isinstance(value, str) and value.strip() and value.strip().lower() not in _NOT_A_NAME:
            return value.strip()
    return None


def condition_name(event: NormalizedAlertEvent) -> str:
    """The condition's human name for a dispatcher: NinjaOne's ``sourceName``, else its ``subject``,
    else a readable form of the condition code; TacticalRMM's check or task name, else the alert
    type in words. Never an internal code when a human name exists."""
    raw = event.raw if isinstance(event.raw, Mapping) else {}
    if event.provider == "tacticalrmm":
        kind = (event.alert_class or "").strip().lower()
        if kind == "check":
            name = _raw_text(raw, "checkName", "check_name")
            return name or f"{(event.source_type or 'check').capitalize()} check"
        if kind == "task":
            return _raw_text(raw, "taskName", "task_name") or "Task"
        return _TACTICAL_TYPE_NAMES.get(kind) or readable_code(event.alert_class or "") or "Alert"
    name = _raw_text(raw, "sourceName", "subject")
    if name and name != (event.message or "").strip():
        return readable_code(name)
    code = _present(event.alert_class) or _present(event.condition_id)
    return readable_code(code) if code else "Alert"


def default_title(provider_label: str, condition: str | None, device: str, message: str | None) -> str:
    """``[<Provider> Alert] <condition> on <device>: <message>`` as one line of at most 255 characters.

    The condition (falls back to ``Alert``) and the device are clipped first so the message always
    gets room; the message is collapsed to one line and cut to what is left, never dropped for being
    long. A message equal to the condition name is not repeated.
    """
    name = clip(_WHITESPACE.sub(" ", _present(condition) or "Alert").strip(), MAX_TITLE_CONDITION_LENGTH)
    where = clip(_WHITESPACE.sub(" ", _present(device) or UNKNOWN_DEVICE).strip(), MAX_TITLE_DEVICE_LENGTH)
    title = f"[{provider_label} Alert] {name} on {where}"
    text = _WHITESPACE.sub(" ", message or "").strip()
    if text and text.casefold() != name.casefold():
        title += f": {text}"
    return clip_title(title)


def default_description(event: NormalizedAlertEvent) -> str:
    """A plain-text ticket description naming everything a technician needs to start work."""
    provider = PROVIDER_LABELS.get(event.provider, event.provider)
    device = _present(event.device_name) or _present(event.external_device_id) or UNKNOWN_DEVICE
    if event.external_device_id and device != event.external_device_id:
        device += f" (device id {event.external_device_id})"
    organization = _present(event.external_organization_name) or event.external_organization_id
    if organization and event.external_organization_id and organization != event.external_organization_id:
        organization += f" (organization id {event.external_organization_id})"
    lines = [
        f"{provider} alert",
        "",
        f"Device: {device}",
        f"Organization: {organization or 'unknown'}",
        f"Severity: {event.severity}",
        f"Condition: {event.alert_class or event.condition_id}",
    ]
    if event.alert_class:  # otherwise the condition id is already shown above
        lines.append(f"Condition id: {event.condition_id}")
    if event.source_type:
        lines.append(f"Source type: {event.source_type}")
    if event.activity_type:
        lines.append(f"Activity type: {event.activity_type}")
    lines += [
        f"Occurred at: {event.occurred_at.astimezone(UTC).isoformat()}",
        f"External alert id: {event.external_alert_id}",
        "",
        "Message:",
        (event.message or "").strip() or "(no message)",
    ]
    return clip("\n".join(lines), MAX_DESCRIPTION_LENGTH)


def pick_priority(severity: str, priorities: Sequence[tuple[str, str]], override: str | None = None) -> str | None:
    """The tenant priority id for an alert.

    ``priorities`` is ``[(priority_id, priority_name)]`` in the tenant's order. An ``override``
    wins when it is one of the tenant's priority ids (a stale id falls back to the mapping).
    Otherwise the severity's candidate names are tried: every candidate as an exact
    case-insensitive name first, then every candidate as a case-insensitive substring; the
    first hit wins. ``None`` when nothing matches (or the severity is unknown).
    """
    if override is not None:
        wanted = override.strip().lower()
        for priority_id, _name in priorities:
            if priority_id.strip().lower() == wanted:
                return priority_id
    candidates = PRIORITY_NAMES.get(severity.strip().lower(), ())
    names = [(priority_id, name.strip().casefold()) for priority_id, name in priorities]
    for candidate in candidates:
        for priority_id, name in names:
            if name == candidate:
                return priority_id
    for candidate in candidates:
        for priority_id, name in names:
            if candidate in name:
                return priority_id
    return None
