"""Maintenance windows: the docs/rules.md examples, scopes, DST, next occurrence."""

from __future__ import annotations

import logging
from datetime import UTC, datetime, timedelta
from typing import Any
from uuid import UUID, uuid4
from zoneinfo import ZoneInfo

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from rmm_alerts.contracts import MaintenanceWindow
from rmm_alerts.windows import covers, occurrence_at_or_after, scope_matches, suppressing_window

INTEGRATION = UUID("00000000-0000-0000-0000-0000000000a1")
CLIENT = UUID("00000000-0000-0000-0000-0000000000c1")
ASSET = UUID("00000000-0000-0000-0000-0000000000e1")
OTHER = UUID("00000000-0000-0000-0000-0000000000ff")

SUN, MON, TUE, WED, THU, FRI, SAT = range(7)


def _z(text: str) -> datetime:
    """An ISO instant in UTC, e.g. ``_z("2026-06-12T14:30")``."""
    return datetime.fromisoformat(text).replace(tzinfo=UTC)


def _weekly(days: list[int], start: str, end: str, tz: str = "America/New_York", /, **kw: Any) -> MaintenanceWindow:
    recurrence = {"type": "weekly", "days": days, "startTime": start, "endTime": end, "timezone": tz}
    return MaintenanceWindow(window_id=uuid4(), name="weekly", recurrence=recurrence, **kw)


def _one_off(starts: str, ends: str, **kw: Any) -> MaintenanceWindow:
    return MaintenanceWindow(window_id=uuid4(), name="one-off", starts_at=_z(starts), ends_at=_z(ends), **kw)


# ---------------------------------------------------------------------------------------------
# covers


@pytest.mark.parametrize(
    ("window", "at", "expected"),
    [
        # docs/rules.md examples, window in America/New_York (EDT = UTC-4 in June).
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T14:30", True),
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T15:30", False),
        (_weekly([FRI], "22:00", "02:00"), "2026-06-13T03:00", True),
        (_weekly([FRI], "22:00", "02:00"), "2026-06-13T05:00", True),
        (_weekly([FRI], "22:00", "02:00"), "2026-06-13T07:00", False),
        (_weekly([FRI], "22:00", "02:00"), "2026-06-14T03:00", False),
        # Bounds: start inclusive, end exclusive.
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T14:00", True),
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T13:59:59", False),
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T15:00", False),
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T14:59:59.999999", True),
        (_weekly([FRI], "22:00", "02:00"), "2026-06-13T02:00", True),
        (_weekly([FRI], "22:00", "02:00"), "2026-06-13T06:00", False),
        # Days: 0 = Sunday; a crossing occurrence belongs to the day it starts on.
        (_weekly([SUN], "00:00", "23:59"), "2026-06-14T16:00", True),
        (_weekly([SUN], "00:00", "23:59"), "2026-06-15T16:00", False),
        (_weekly([SAT], "22:00", "02:00"), "2026-06-14T05:00", True),  # Sun 01:00, week wraps
        (_weekly([SAT], "22:00", "02:00"), "2026-06-13T05:00", False),  # Sat 01:00: Fri's slot
        (_weekly([MON, WED], "09:00", "17:00"), "2026-06-17T13:00", True),
        (_weekly([MON, WED], "09:00", "17:00"), "2026-06-16T13:00", False),
        (_weekly([FRI], "10:00", "11:00", "UTC"), "2026-06-12T10:30", True),
        (_weekly([FRI], "10:00", "11:00", "Europe/London"), "2026-06-12T09:30", True),
        (_weekly([FRI], "10:00", "11:00", "Europe/London"), "2026-06-12T10:30", False),
        # One-off [starts_at, ends_at).
        (_one_off("2026-06-12T10:00", "2026-06-12T12:00"), "2026-06-12T10:00", True),
        (_one_off("2026-06-12T10:00", "2026-06-12T12:00"), "2026-06-12T11:59", True),
        (_one_off("2026-06-12T10:00", "2026-06-12T12:00"), "2026-06-12T12:00", False),
        (_one_off("2026-06-12T10:00", "2026-06-12T12:00"), "2026-06-12T09:59", False),
        # Time test only: an inactive window still "covers" (suppressing_window checks is_active).
        (_weekly([FRI], "10:00", "11:00", is_active=False), "2026-06-12T14:30", True),
    ],
    ids=[
        "ref-fri-10-11-inside",
        "ref-fri-10-11-after",
        "ref-fri-22-02-before-midnight",
        "ref-fri-22-02-after-midnight",
        "ref-fri-22-02-after-end",
        "ref-fri-22-02-saturday-night",
        "start-inclusive",
        "just-before-start",
        "end-exclusive",
        "just-before-end",
        "crossing-start-inclusive",
        "crossing-end-exclusive",
        "sunday-is-0",
        "monday-not-sunday",
        "saturday-crossing-into-sunday",
        "crossing-belongs-to-start-day",
        "multi-day-hit",
        "multi-day-miss",
        "utc-zone",
        "london-bst-inside",
        "london-bst-outside",
        "one-off-start-inclusive",
        "one-off-inside",
        "one-off-end-exclusive",
        "one-off-before",
        "inactive-time-only",
    ],
)
def test_covers(window: MaintenanceWindow, at: str, expected: bool) -> None:
    assert covers(window, _z(at)) is expected


@pytest.mark.parametrize(
    ("window", "at", "expected"),
    [
        # America/New_York springs forward 2026-03-08 (Sun) 02:00 EST -> 03:00 EDT.
        (_weekly([SUN], "01:00", "04:00"), "2026-03-08T06:00", True),  # 01:00 EST
        (_weekly([SUN], "01:00", "04:00"), "2026-03-08T07:59", True),  # 03:59 EDT
        (_weekly([SUN], "01:00", "04:00"), "2026-03-08T08:00", False),  # 04:00 EDT: 2 h long
        # A start inside the gap lands after it: 02:30 (EST offset) == 03:30 EDT == 07:30Z.
        (_weekly([SUN], "02:30", "05:00"), "2026-03-08T07:15", False),  # 03:15 EDT
        (_weekly([SUN], "02:30", "05:00"), "2026-03-08T07:30", True),
        # Both bounds resolve to the same instant: nothing that day, normal the next week.
        (_weekly([SUN], "02:30", "03:30"), "2026-03-08T07:30", False),
        (_weekly([SUN], "02:30", "03:30"), "2026-03-08T07:00", False),
        (_weekly([SUN], "02:30", "03:30"), "2026-03-15T06:45", True),  # 02:45 EDT
        # Crossing midnight into the spring-forward day.
        (_weekly([SAT], "23:00", "03:00"), "2026-03-08T06:59", True),  # 01:59 EST
        (_weekly([SAT], "23:00", "03:00"), "2026-03-08T07:00", False),  # 03:00 EDT
        # Falls back 2026-11-01 (Sun) 02:00 EDT -> 01:00 EST: 01:00-01:59 happens twice.
        (_weekly([SUN], "01:00", "01:30"), "2026-11-01T05:15", True),  # 01:15 EDT (first)
        (_weekly([SUN], "01:00", "01:30"), "2026-11-01T06:15", False),  # 01:15 EST (second)
        (_weekly([SUN], "00:00", "03:00"), "2026-11-01T07:30", True),  # 02:30 EST: 4 h long
        (_weekly([SUN], "00:00", "03:00"), "2026-11-01T08:00", False),
        (_weekly([SAT], "23:00", "01:30"), "2026-11-01T05:29", True),  # 01:29 EDT
        (_weekly([SAT], "23:00", "01:30"), "2026-11-01T06:15", False),  # 01:15 EST
        # Europe/London: springs forward 2026-03-29 01:00 GMT -> 02:00 BST.
        (_weekly([SUN], "00:30", "03:00", "Europe/London"), "2026-03-29T01:30", True),  # 02:30 BST
        (_weekly([SUN], "00:30", "03:00", "Europe/London"), "2026-03-29T02:00", False),  # 03:00 BST
        (_weekly([SUN], "01:30", "02:30", "Europe/London"), "2026-03-29T01:00", False),  # empty
        # Falls back 2026-10-25 02:00 BST -> 01:00 GMT.
        (_weekly([SUN], "01:00", "02:00", "Europe/London"), "2026-10-25T00:00", True),  # 01:00 BST
        (_weekly([SUN], "01:00", "02:00", "Europe/London"), "2026-10-25T01:30", True),  # 01:30 GMT
        (_weekly([SUN], "01:00", "02:00", "Europe/London"), "2026-10-25T02:00", False),  # 02:00 GMT
    ],
    ids=[
        "ny-spring-start",
        "ny-spring-before-end",
        "ny-spring-end-exclusive",
        "ny-spring-gap-start-not-yet",
        "ny-spring-gap-start-lands-after-gap",
        "ny-spring-collapsed-at",
        "ny-spring-collapsed-before",
        "ny-spring-collapsed-next-week-normal",
        "ny-spring-crossing-inside",
        "ny-spring-crossing-end",
        "ny-fall-ambiguous-first-instance",
        "ny-fall-ambiguous-second-instance-excluded",
        "ny-fall-long-night",
        "ny-fall-long-night-end",
        "ny-fall-crossing-inside",
        "ny-fall-crossing-second-instance",
        "london-spring-inside",
        "london-spring-end",
        "london-spring-collapsed",
        "london-fall-start",
        "london-fall-second-hour",
        "london-fall-end",
    ],
)
def test_covers_dst(window: MaintenanceWindow, at: str, expected: bool) -> None:
    assert covers(window, _z(at)) is expected


def test_covers_accepts_any_aware_zone() -> None:
    window = _weekly([FRI], "10:00", "11:00")
    assert covers(window, datetime(2026, 6, 12, 10, 30, tzinfo=ZoneInfo("America/New_York")))
    assert covers(window, datetime(2026, 6, 12, 16, 30, tzinfo=ZoneInfo("Europe/Paris")))


@pytest.mark.parametrize(
    "call",
    [
        lambda at: covers(_weekly([FRI], "10:00", "11:00"), at),
        lambda at: suppressing_window([], integration_id=INTEGRATION, client_id=None, asset_id=None, at=at),
        lambda at: occurrence_at_or_after(_weekly([FRI], "10:00", "11:00"), at),
    ],
    ids=["covers", "suppressing_window", "occurrence_at_or_after"],
)
def test_naive_datetime_rejected(call: Any) -> None:
    with pytest.raises(ValueError, match="timezone-aware"):
        call(datetime(2026, 6, 12, 14, 30))


@pytest.mark.parametrize(
    "window",
    [
        _weekly([7], "10:00", "11:00"),
        _weekly([FRI], "25:00", "11:00"),
        _weekly([FRI], "10:00", "10:00"),
        _weekly([FRI], "10:00", "11:00", "Mars/Olympus"),
        _weekly([], "10:00", "11:00"),
        _weekly([FRI], "10:00", "11:00", starts_at=_z("2026-06-01T00:00"), ends_at=_z("2026-07-01T00:00")),
        MaintenanceWindow(window_id=uuid4(), name="x", recurrence={"type": "daily"}),
        MaintenanceWindow(window_id=uuid4(), name="x", recurrence={}),
        MaintenanceWindow(window_id=uuid4(), name="x", starts_at=_z("2026-06-12T00:00")),
        MaintenanceWindow(window_id=uuid4(), name="x"),
        _one_off("2026-06-12T16:00", "2026-06-12T10:00"),
    ],
    ids=[
        "day-7",
        "hour-25",
        "start-equals-end",
        "unknown-zone",
        "no-days",
        "both-recurrence-and-one-off",
        "not-weekly",
        "empty-recurrence",
        "one-off-missing-end",
        "no-schedule",
        "one-off-reversed",
    ],
)
def test_unusable_window_never_suppresses(window: MaintenanceWindow) -> None:
    at = _z("2026-06-12T14:30")
    assert covers(window, at) is False
    assert suppressing_window([window], integration_id=INTEGRATION, client_id=None, asset_id=None, at=at) is None
    assert occurrence_at_or_after(window, at) is None


def test_invalid_recurrence_logs_window_id(caplog: pytest.LogCaptureFixture) -> None:
    window = _weekly([7], "10:00", "11:00")
    with caplog.at_level(logging.WARNING, logger="rmm_alerts.windows"):
        assert covers(window, _z("2026-06-12T14:30")) is False
    (record,) = caplog.records
    assert str(window.window_id) in record.getMessage()
    assert "recurrence.days[0]" in record.getMessage()


def test_time_with_trailing_newline_is_invalid_and_never_suppresses() -> None:
    # The contract rejects "10:00\n"; a stored window holding it is unreadable, so it suppresses nothing.
    assert not covers(_weekly([FRI], "10:00\n", "11:00"), _z("2026-06-12T14:30"))


# ---------------------------------------------------------------------------------------------
# scope_matches / suppressing_window


@pytest.mark.parametrize(
    ("scopes", "client_id", "asset_id", "expected"),
    [
        ({}, None, None, True),
        ({}, CLIENT, ASSET, True),
        ({"integration_id": INTEGRATION}, None, None, True),
        ({"integration_id": OTHER}, CLIENT, ASSET, False),
        ({"client_id": CLIENT}, CLIENT, None, True),
        ({"client_id": CLIENT}, OTHER, ASSET, False),
        ({"client_id": CLIENT}, None, ASSET, False),
        ({"asset_id": ASSET}, None, ASSET, True),
        ({"asset_id": ASSET}, CLIENT, OTHER, False),
        ({"asset_id": ASSET}, CLIENT, None, False),
        ({"integration_id": INTEGRATION, "client_id": CLIENT, "asset_id": ASSET}, CLIENT, ASSET, True),
        ({"integration_id": INTEGRATION, "client_id": CLIENT, "asset_id": ASSET}, CLIENT, OTHER, False),
    ],
    ids=[
        "unscoped-unknown-alert",
        "unscoped-known-alert",
        "integration-match",
        "integration-other",
        "client-match",
        "client-other",
        "client-unknown-never-matches",
        "asset-match",
        "asset-other",
        "asset-unknown-never-matches",
        "all-scopes-match",
        "all-scopes-one-differs",
    ],
)
def test_scope_matches(scopes: dict[str, UUID], client_id: UUID | None, asset_id: UUID | None, expected: bool) -> None:
    window = _weekly([FRI], "10:00", "11:00", **scopes)
    assert scope_matches(window, integration_id=INTEGRATION, client_id=client_id, asset_id=asset_id) is expected


_INSIDE = "2026-06-12T14:30"


def _named(window: MaintenanceWindow, name: str) -> MaintenanceWindow:
    return window.model_copy(update={"name": name})


@pytest.mark.parametrize(
    ("windows", "expected"),
    [
        ([], None),
        ([_named(_weekly([FRI], "10:00", "11:00"), "a")], "a"),
        ([_named(_weekly([FRI], "10:00", "11:00", is_active=False), "off")], None),
        (
            [
                _named(_weekly([FRI], "10:00", "11:00", is_active=False), "off"),
                _named(_weekly([FRI], "10:00", "11:00"), "on"),
            ],
            "on",
        ),
        (
            [
                _named(_weekly([FRI], "10:00", "11:00", client_id=OTHER), "other-client"),
                _named(_one_off("2026-06-12T00:00", "2026-06-13T00:00", asset_id=ASSET), "asset"),
                _named(_weekly([FRI], "10:00", "11:00"), "global"),
            ],
            "asset",
        ),
        (
            [
                _named(_weekly([FRI], "10:00", "11:00"), "first"),
                _named(_weekly([FRI], "09:00", "12:00"), "second"),
            ],
            "first",
        ),
        ([_named(_weekly([FRI], "11:00", "12:00"), "later")], None),
        ([_named(_one_off("2026-06-12T14:30", "2026-06-12T15:00", integration_id=OTHER), "x")], None),
    ],
    ids=[
        "none",
        "single",
        "inactive-never-suppresses",
        "inactive-skipped",
        "scope-mismatch-skipped",
        "first-in-given-order-wins",
        "not-covering",
        "other-integration",
    ],
)
def test_suppressing_window(windows: list[MaintenanceWindow], expected: str | None) -> None:
    found = suppressing_window(windows, integration_id=INTEGRATION, client_id=CLIENT, asset_id=ASSET, at=_z(_INSIDE))
    assert (found.name if found else None) == expected


# ---------------------------------------------------------------------------------------------
# occurrence_at_or_after


@pytest.mark.parametrize(
    ("window", "now", "expected"),
    [
        (
            _one_off("2026-06-12T10:00", "2026-06-12T12:00"),
            "2026-06-01T00:00",
            ("2026-06-12T10:00", "2026-06-12T12:00"),
        ),
        (
            _one_off("2026-06-12T10:00", "2026-06-12T12:00"),
            "2026-06-12T11:00",
            ("2026-06-12T10:00", "2026-06-12T12:00"),
        ),
        (_one_off("2026-06-12T10:00", "2026-06-12T12:00"), "2026-06-12T12:00", None),
        (_one_off("2026-06-12T10:00", "2026-06-12T12:00", is_active=False), "2026-06-01T00:00", None),
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T14:30", ("2026-06-12T14:00", "2026-06-12T15:00")),
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T14:00", ("2026-06-12T14:00", "2026-06-12T15:00")),
        (_weekly([FRI], "10:00", "11:00"), "2026-06-12T15:00", ("2026-06-19T14:00", "2026-06-19T15:00")),
        (_weekly([FRI], "10:00", "11:00"), "2026-06-10T00:00", ("2026-06-12T14:00", "2026-06-12T15:00")),
        (_weekly([FRI], "22:00", "02:00"), "2026-06-13T05:00", ("2026-06-13T02:00", "2026-06-13T06:00")),
        (_weekly([FRI], "22:00", "02:00"), "2026-06-13T06:00", ("2026-06-20T02:00", "2026-06-20T06:00")),
        (_weekly([SAT], "22:00", "02:00"), "2026-06-14T05:59", ("2026-06-14T02:00", "2026-06-14T06:00")),
        (_weekly([MON, FRI], "10:00", "11:00"), "2026-06-12T15:00", ("2026-06-15T14:00", "2026-06-15T15:00")),
        (_weekly([SUN], "02:30", "04:00"), "2026-03-01T12:00", ("2026-03-08T07:30", "2026-03-08T08:00")),
        (_weekly([SUN], "02:30", "03:30"), "2026-03-01T12:00", ("2026-03-15T06:30", "2026-03-15T07:30")),
        (_weekly([SUN], "00:00", "03:00"), "2026-11-01T07:00", ("2026-11-01T04:00", "2026-11-01T08:00")),
        (_weekly([FRI], "10:00", "11:00", is_active=False), "2026-06-12T14:30", None),
    ],
    ids=[
        "one-off-future",
        "one-off-current",
        "one-off-over",
        "one-off-inactive",
        "weekly-current",
        "weekly-current-at-start",
        "weekly-next-week-at-end",
        "weekly-later-this-week",
        "crossing-current-after-midnight",
        "crossing-next-week",
        "saturday-crossing-current-on-sunday",
        "multi-day-next",
        "dst-gap-start-lands-after-gap",
        "dst-collapsed-day-skipped",
        "dst-fall-back-long-occurrence",
        "weekly-inactive",
    ],
)
def test_occurrence_at_or_after(window: MaintenanceWindow, now: str, expected: tuple[str, str] | None) -> None:
    got = occurrence_at_or_after(window, _z(now))
    if expected is None:
        assert got is None
    else:
        assert got == (_z(expected[0]), _z(expected[1]))
        assert all(t.tzinfo is UTC for t in got)


_ZONES = ["America/New_York", "Europe/London", "Australia/Lord_Howe", "Asia/Kolkata", "UTC"]
_HHMM = st.builds(lambda h, m: f"{h:02d}:{m:02d}", st.integers(0, 23), st.sampled_from([0, 1, 15, 30, 45, 59]))


@settings(max_examples=300, deadline=None)
@given(
    days=st.lists(st.integers(0, 6), min_size=1, max_size=7, unique=True),
    start=_HHMM,
    end=_HHMM,
    tz=st.sampled_from(_ZONES),
    at=st.datetimes(min_value=datetime(2026, 1, 1), max_value=datetime(2027, 12, 31), timezones=st.just(UTC)),
)
def test_covers_agrees_with_occurrence(days: list[int], start: str, end: str, tz: str, at: datetime) -> None:
    if start == end:
        return
    window = _weekly(days, start, end, tz)
    occurrence = occurrence_at_or_after(window, at)
    assert occurrence is not None  # every weekly schedule recurs within the search horizon
    first, last = occurrence
    assert first < last
    assert last > at
    assert covers(window, at) is (first <= at)
    # The occurrence starts on one of the window's days, at its start time (or after a DST gap).
    local = first.astimezone(ZoneInfo(tz))
    assert local.isoweekday() % 7 in days
    assert first - at < timedelta(days=15)
