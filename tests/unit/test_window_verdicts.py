"""Why no window matched: per-window verdicts and the bounded trace of the check (docs/rules.md)."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any
from uuid import UUID, uuid4

import pytest

from rmm_alerts.contracts import MaintenanceWindow
from rmm_alerts.windows import check_windows, suppressing_window, window_verdict

INTEGRATION = UUID("00000000-0000-0000-0000-0000000000a1")
CLIENT = UUID("00000000-0000-0000-0000-0000000000c1")
ASSET = UUID("00000000-0000-0000-0000-0000000000e1")
OTHER = UUID("00000000-0000-0000-0000-0000000000ff")
FRI = 5
AT = datetime(2026, 6, 12, 15, 30, tzinfo=UTC)  # Friday 11:30 in New York (EDT)


def _weekly(days: list[int], start: str, end: str, tz: str = "America/New_York", **kw: Any) -> MaintenanceWindow:
    recurrence = {"type": "weekly", "days": days, "startTime": start, "endTime": end, "timezone": tz}
    return MaintenanceWindow(window_id=uuid4(), name="weekly", recurrence=recurrence, **kw)


def _one_off(starts: datetime, ends: datetime, **kw: Any) -> MaintenanceWindow:
    return MaintenanceWindow(window_id=uuid4(), name="one-off", starts_at=starts, ends_at=ends, **kw)


def _verdict(window: MaintenanceWindow, client: UUID | None = CLIENT, asset: UUID | None = ASSET) -> str | None:
    return window_verdict(window, integration_id=INTEGRATION, client_id=client, asset_id=asset, at=AT)


@pytest.mark.parametrize(
    ("window", "client", "asset", "expected"),
    [
        (_weekly([FRI], "11:00", "12:00"), CLIENT, ASSET, None),
        (_weekly([FRI], "11:00", "12:00", is_active=False), CLIENT, ASSET, "inactive"),
        (
            _weekly([FRI], "11:00", "12:00", integration_id=OTHER),
            CLIENT,
            ASSET,
            f"scope: window is for integration {OTHER}, the alert's integration is {INTEGRATION}",
        ),
        (
            _weekly([FRI], "11:00", "12:00", client_id=OTHER),
            CLIENT,
            ASSET,
            f"scope: window is for client {OTHER}, the alert's client is {CLIENT}",
        ),
        (
            _weekly([FRI], "11:00", "12:00", client_id=CLIENT),
            None,
            ASSET,
            f"scope: window is for client {CLIENT}, the alert's client is unknown",
        ),
        (
            _weekly([FRI], "11:00", "12:00", asset_id=OTHER),
            CLIENT,
            ASSET,
            f"scope: window is for asset {OTHER}, the alert's asset is {ASSET}",
        ),
        (
            _weekly([FRI], "10:00", "11:00"),
            CLIENT,
            ASSET,
            "time: 2026-06-12T15:30:00Z is Fri 11:30 in America/New_York, outside Fri 10:00–11:00",
        ),
        (
            _weekly([1, 3], "22:00", "02:00", "Europe/Berlin"),
            CLIENT,
            ASSET,
            "time: 2026-06-12T15:30:00Z is Fri 17:30 in Europe/Berlin, outside Mon,Wed 22:00–02:00",
        ),
        (
            _one_off(datetime(2026, 11, 30, 9, tzinfo=UTC), datetime(2026, 11, 30, 10, tzinfo=UTC)),
            CLIENT,
            ASSET,
            "time: 2026-06-12T15:30:00Z is outside 2026-11-30T09:00:00Z – 2026-11-30T10:00:00Z",
        ),
        (
            MaintenanceWindow(window_id=uuid4(), name="broken", starts_at=AT),
            CLIENT,
            ASSET,
            "unusable schedule (ignored)",
        ),
    ],
    ids=[
        "matches",
        "inactive",
        "integration-scope",
        "client-scope",
        "client-unknown",
        "asset-scope",
        "weekly-time-local",
        "weekly-other-zone-and-days",
        "one-off-range",
        "unusable",
    ],
)
def test_window_verdict(
    window: MaintenanceWindow, client: UUID | None, asset: UUID | None, expected: str | None
) -> None:
    assert _verdict(window, client, asset) == expected
    # The verdict is the same decision suppressing_window makes.
    found = suppressing_window([window], integration_id=INTEGRATION, client_id=client, asset_id=asset, at=AT)
    assert (found is window) == (expected is None)


def test_check_windows_lists_up_to_the_match() -> None:
    miss = _weekly([FRI], "10:00", "11:00")
    hit = _weekly([FRI], "11:00", "12:00")
    after = _weekly([FRI], "11:00", "12:00")
    found, trace = check_windows(
        [miss, hit, after], integration_id=INTEGRATION, client_id=CLIENT, asset_id=ASSET, at=AT
    )
    assert found is hit
    assert trace["at"] == "2026-06-12T15:30:00Z"
    assert [(c["windowId"], c["matched"]) for c in trace["checked"]] == [  # type: ignore[attr-defined]
        (str(miss.window_id), False),
        (str(hit.window_id), True),
    ]
    assert trace["notListed"] == 0


def test_check_windows_bounded() -> None:
    many = [_weekly([FRI], "10:00", "11:00") for _ in range(25)]
    found, trace = check_windows(many, integration_id=INTEGRATION, client_id=CLIENT, asset_id=ASSET, at=AT, limit=20)
    assert found is None
    assert len(trace["checked"]) == 20  # type: ignore[arg-type]
    assert trace["notListed"] == 5


def test_check_windows_none() -> None:
    found, trace = check_windows([], integration_id=INTEGRATION, client_id=CLIENT, asset_id=ASSET, at=AT)
    assert found is None and trace == {"at": "2026-06-12T15:30:00Z", "checked": [], "notListed": 0}
