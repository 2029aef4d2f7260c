"""Dedup keys (docs/rules.md: one open ticket per device and condition) and the advisory-lock
key that serializes work on one.

The dedup key is ``"<device>:<condition>"``, at most 255 characters, where the device part has
``%`` and ``:`` percent-escaped (``%25``, ``%3A``) and is empty when there is no device. The first
``:`` therefore always ends the device part: device ``a:b`` with condition ``c`` (``a%3Ab:c``) never
meets device ``a`` with condition ``b:c`` (``a:b:c``), and a device named ``no-device`` never meets
"no device" (``:c``). Longer keys keep a readable prefix and end in ``#`` + the SHA-256 hex digest
of the whole key. A key is kept verbatim only when it is at most 254 characters, so every digested
key is exactly 255 long and can never equal a verbatim one: distinct inputs never share a key
(barring SHA-256 collisions). Migration 0004 rewrote the keys stored before this encoding.
"""

from __future__ import annotations

import hashlib
from uuid import UUID

from rmm_alerts.contracts import NormalizedAlertEvent

MAX_KEY_LENGTH = 255
_DIGEST_LENGTH = 64  # sha256 hex
_SEPARATOR = "#"
_PREFIX_LENGTH = MAX_KEY_LENGTH - len(_SEPARATOR) - _DIGEST_LENGTH  # 190


def _utf8(text: str) -> bytes:
    # "surrogatepass": a lone surrogate from JSON (\ud800) must hash, not raise.
    return text.encode("utf-8", "surrogatepass")


def _device_part(external_device_id: str | None) -> str:
    if not external_device_id:
        return ""
    return external_device_id.replace("%", "%25").replace(":", "%3A")


def dedup_key(external_device_id: str | None, condition_id: str) -> str:
    """``f"{escaped device or ''}:{condition}"``, shortened to 255 chars without collisions."""
    key = f"{_device_part(external_device_id)}:{condition_id}"
    # Strictly shorter than the digested form's fixed 255, so the two forms never meet.
    if len(key) < MAX_KEY_LENGTH:
        return key
    digest = hashlib.sha256(_utf8(key)).hexdigest()
    return f"{key[:_PREFIX_LENGTH]}{_SEPARATOR}{digest}"


def dedup_key_for(event: NormalizedAlertEvent) -> str:
    """The dedup key of an event: its device and the condition that fired (never the lifecycle)."""
    return dedup_key(event.external_device_id, event.condition_id)


def lock_key(tenant_id: UUID, integration_id: UUID, dedup_key: str) -> int:
    """A stable signed 64-bit key for ``pg_advisory_xact_lock`` on one dedup group.

    First 8 bytes of BLAKE2b over ``"<tenant>:<integration>:<key>"``, big-endian, signed (the
    lock function takes a ``bigint``). Stable across processes, unlike ``hash()``.
    """
    material = f"{tenant_id}:{integration_id}:{dedup_key}"
    digest = hashlib.blake2b(_utf8(material), digest_size=8).digest()
    return int.from_bytes(digest, "big", signed=True)
