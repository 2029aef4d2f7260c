"""rmm_alerts.jsoncodec: orjson out, the same values json.dumps gave for what the service encodes."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import UTC, date, datetime, time, timedelta, timezone
from typing import Any

import pytest

from rmm_alerts import jsoncodec


def _old(value: Any) -> Any:
    """What the old encoder (json.dumps with the same default) meant, as parsed JSON."""
    return json.loads(json.dumps(value, default=jsoncodec.default, separators=(",", ":")))


@dataclasses.dataclass
class _Point:
    x: int


ODD_OFFSET = timezone(timedelta(hours=5, minutes=30, seconds=45))

CASES: list[tuple[str, Any]] = [
    ("aware datetime", datetime(2026, 11, 30, 8, 1, 2, 345678, tzinfo=UTC)),
    ("no microseconds", datetime(2026, 11, 30, 8, 1, 2, tzinfo=UTC)),
    ("offset with seconds", datetime(2024, 5, 1, 10, 0, 0, tzinfo=ODD_OFFSET)),
    ("naive datetime", datetime(2026, 11, 30, 8, 1, 2)),
    ("date and time", {"d": date(2026, 11, 30), "t": time(8, 1, 2)}),
    ("uuid", uuid.UUID("12345678-1234-5678-1234-567812345678")),
    ("nested", {"a": [1, 2.5, True, None, "x"], "b": {"c": "é ü 😀"}}),
    ("int keys", {1: "one", 2: "two"}),
    ("dataclass", _Point(3)),
    ("big int", {"n": 2**70}),
    ("float", {"f": 1e16, "g": 0.1}),
]


@pytest.mark.parametrize(("name", "value"), CASES, ids=[c[0] for c in CASES])
def test_the_same_values_as_json_dumps(name: str, value: Any) -> None:
    encoded = jsoncodec.dumps(value)
    assert isinstance(encoded, bytes)
    assert json.loads(encoded) == _old(value)
    assert jsoncodec.dumps_text(value) == encoded.decode()


def test_an_offset_with_seconds_is_kept() -> None:
    # orjson's own datetime format rounds it to the minute; isoformat() keeps it.
    text = jsoncodec.dumps_text(datetime(2024, 5, 1, 10, 0, 0, tzinfo=ODD_OFFSET))
    assert text == '"2024-05-01T10:00:00+05:30:45"'


def test_compact_and_not_a_number_as_null() -> None:
    assert jsoncodec.dumps_text({"a": [1, 2]}) == '{"a":[1,2]}'
    assert json.loads(jsoncodec.dumps(float("nan"))) is None


def test_log_lines_keep_powertools_default_of_str() -> None:
    at = datetime(2026, 11, 30, 8, 1, 2, tzinfo=UTC)
    assert json.loads(jsoncodec.log_dumps({"at": at, "id": uuid.UUID(int=1)})) == {
        "at": str(at),
        "id": str(uuid.UUID(int=1)),
    }
