"""Dedup keys and advisory-lock keys."""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

import pytest
from hypothesis import given
from hypothesis import strategies as st

from rmm_alerts.contracts import EventKind, NormalizedAlertEvent
from rmm_alerts.dedup import MAX_KEY_LENGTH, dedup_key, dedup_key_for, lock_key

TENANT = UUID("00000000-0000-0000-0000-0000000000f1")
INTEGRATION = UUID("00000000-0000-0000-0000-0000000000a1")


def _event(**overrides: Any) -> NormalizedAlertEvent:
    data: dict[str, Any] = {
        "tenant_id": TENANT,
        "integration_id": INTEGRATION,
        "provider": "ninjaone",
        "kind": EventKind.TRIGGERED,
        "external_alert_id": "1001",
        "external_device_id": "42",
        "condition_id": "cond-disk",
        "occurred_at": datetime(2026, 6, 12, 14, 30, tzinfo=UTC),
        "raw": {},
    }
    data.update(overrides)
    return NormalizedAlertEvent.model_validate(data)


@pytest.mark.parametrize(
    ("device", "condition", "expected"),
    [
        ("42", "cond-disk", "42:cond-disk"),
        (None, "cond-disk", ":cond-disk"),
        ("", "cond-disk", ":cond-disk"),
        ("no-device", "cond-disk", "no-device:cond-disk"),
        ("agent-7", "check:12", "agent-7:check:12"),
        ("a:b", "c", "a%3Ab:c"),
        ("50%", "c", "50%25:c"),
        ("d", "x" * 252, "d:" + "x" * 252),  # 254 chars: kept verbatim
    ],
    ids=[
        "device-and-condition",
        "no-device",
        "empty-device",
        "device-named-no-device",
        "condition-colons-kept",
        "device-colon-escaped",
        "device-percent-escaped",
        "254-verbatim",
    ],
)
def test_dedup_key_short(device: str | None, condition: str, expected: str) -> None:
    assert dedup_key(device, condition) == expected


@pytest.mark.parametrize(
    ("device", "condition"),
    [
        ("d", "x" * 253),  # exactly 255: digested so it can't equal some other key's digest form
        ("d", "x" * 500),
        ("device-" * 40, "cond"),
        ("dev", "é" * 400),
        ("dev", "bad \ud800 surrogate " * 20),
    ],
    ids=["exactly-255", "long-condition", "long-device", "non-ascii", "lone-surrogate"],
)
def test_dedup_key_long(device: str, condition: str) -> None:
    full = f"{device}:{condition}"
    key = dedup_key(device, condition)
    assert len(key) == MAX_KEY_LENGTH
    assert key.startswith(full[:190])
    assert key.endswith("#" + hashlib.sha256(full.encode("utf-8", "surrogatepass")).hexdigest())
    assert dedup_key(device, condition) == key  # deterministic


@pytest.mark.parametrize(
    ("a", "b"),
    [
        (("a:b", "c"), ("a", "b:c")),
        (("no-device", "c"), (None, "c")),
        (("a%3Ab", "c"), ("a:b", "c")),
        (("a:b", "c" * 300), ("a", "b:" + "c" * 300)),
    ],
    ids=["colon-in-device", "device-named-no-device", "escaped-looking-device", "long-keys"],
)
def test_dedup_key_is_unambiguous(a: tuple[str | None, str], b: tuple[str | None, str]) -> None:
    """Issue 10 item 7: these pairs used to share a key."""
    assert dedup_key(*a) != dedup_key(*b)


def test_long_keys_sharing_a_prefix_differ() -> None:
    base = "x" * 300
    assert dedup_key("d", base + "a") != dedup_key("d", base + "b")


def test_verbatim_key_cannot_impersonate_digest() -> None:
    # A crafted 255-char key that *looks* like the digest form of a long key still differs.
    long_key = dedup_key("d", "y" * 400)
    device, _, condition = long_key.partition(":")
    assert dedup_key(device, condition) != long_key


@given(
    a=st.tuples(st.none() | st.text(max_size=300), st.text(min_size=1, max_size=300)),
    b=st.tuples(st.none() | st.text(max_size=300), st.text(min_size=1, max_size=300)),
)
def test_dedup_key_injective_and_bounded(a: tuple[str | None, str], b: tuple[str | None, str]) -> None:
    ka, kb = dedup_key(*a), dedup_key(*b)
    assert len(ka) <= MAX_KEY_LENGTH
    # Distinct (device, condition) pairs never share a key; "" and None both mean "no device".
    assert (ka == kb) == ((a[0] or None, a[1]) == (b[0] or None, b[1]))


@pytest.mark.parametrize(
    ("overrides", "expected"),
    [
        ({}, "42:cond-disk"),
        ({"external_device_id": None}, ":cond-disk"),
        ({"kind": EventKind.RESET, "external_alert_id": "2002"}, "42:cond-disk"),
    ],
    ids=["event", "event-no-device", "reset-same-key-as-trigger"],
)
def test_dedup_key_for(overrides: dict[str, Any], expected: str) -> None:
    assert dedup_key_for(_event(**overrides)) == expected


def test_lock_key_known_value() -> None:
    material = f"{TENANT}:{INTEGRATION}:42:cond-disk".encode()
    expected = int.from_bytes(hashlib.blake2b(material, digest_size=8).digest(), "big", signed=True)
    assert lock_key(TENANT, INTEGRATION, "42:cond-disk") == expected


@pytest.mark.parametrize(
    ("a", "b"),
    [
        ((TENANT, INTEGRATION, "k"), (UUID(int=1), INTEGRATION, "k")),
        ((TENANT, INTEGRATION, "k"), (TENANT, UUID(int=2), "k")),
        ((TENANT, INTEGRATION, "k"), (TENANT, INTEGRATION, "k2")),
    ],
    ids=["tenant", "integration", "key"],
)
def test_lock_key_differs_per_component(a: tuple[UUID, UUID, str], b: tuple[UUID, UUID, str]) -> None:
    assert lock_key(*a) != lock_key(*b)


@given(tenant=st.uuids(), integration=st.uuids(), key=st.text(max_size=300))
def test_lock_key_is_signed_int64_and_stable(tenant: UUID, integration: UUID, key: str) -> None:
    value = lock_key(tenant, integration, key)
    assert -(2**63) <= value < 2**63
    assert lock_key(tenant, integration, key) == value
