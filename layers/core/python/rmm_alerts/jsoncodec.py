"""JSON out, fast: orjson for what the alert path serializes on every alert.

One webhook serializes ~10 KB of JSON: the decision trace and raw payload (jsonb parameters), the
outbox payloads, the response and the log line. The standard library's encoder took ~0.1 ms of
that per alert on the dev box; orjson (a compiled encoder) ~10× less (docs/performance.md,
"JSON out through orjson").

For what this service encodes (dicts, lists, text, numbers, booleans, None, UUIDs, datetimes) the
values are the ones ``json.dumps`` gave: datetimes, dates and times go through :func:`default`
(``isoformat()``, which keeps an offset's seconds; orjson's own format would round them), UUIDs
as text, non-string keys as text, dataclasses through :func:`default` as before. orjson differs
where nothing here relies on it: non-ASCII text is written as UTF-8 rather than escaped (the same
JSON), a plain ``Enum`` as its value (``StrEnum`` is text either way), NaN and infinities as
``null`` (``json.dumps`` wrote ``NaN``, which jsonb refused). What orjson refuses (an integer
beyond 64 bits) falls back to the standard library, so nothing that serialized before fails now.

Parsing webhook bodies stays on the standard library (``normalizers.parse_json``): its hooks
(finite floats, no NaN) and error positions are part of the 400 answer.
"""

from __future__ import annotations

import json
from typing import Any

import orjson

# Datetimes and dataclasses to default(), as json.dumps did (see the module docstring).
_OPTIONS = orjson.OPT_NON_STR_KEYS | orjson.OPT_PASSTHROUGH_DATETIME | orjson.OPT_PASSTHROUGH_DATACLASS


def default(value: Any) -> Any:
    """Anything else JSON cannot hold: its ISO form when it has one, else its text."""
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def dumps(value: Any) -> bytes:
    """Compact JSON as UTF-8 bytes."""
    try:
        return orjson.dumps(value, default=default, option=_OPTIONS)
    except TypeError:  # orjson.JSONEncodeError: an int beyond 64 bits, a str that is not UTF-8
        return json.dumps(value, default=default, separators=(",", ":")).encode("utf-8", "surrogatepass")


def dumps_text(value: Any) -> str:
    """Compact JSON as text."""
    return dumps(value).decode("utf-8", "surrogatepass")


def log_dumps(value: Any) -> str:
    """Powertools Logger's serializer: as its default (``default=str``), through orjson."""
    try:
        return orjson.dumps(value, default=str, option=_OPTIONS).decode()
    except TypeError:
        return json.dumps(value, default=str, separators=(",", ":"))
