"""Maintenance windows (docs/rules.md): does a window suppress an alert at a time?

Pure functions, no I/O. Semantics:

* Scopes: a null ``integration_id`` / ``client_id`` / ``asset_id`` matches anything; a non-null
  client or asset scope never matches an alert whose client or asset is unknown (``None``).
* Inactive windows never suppress (:func:`suppressing_window`, :func:`occurrence_at_or_after`);
  :func:`covers` is the pure time test and ignores ``is_active``.
* One-off: ``[starts_at, ends_at)``.
* Weekly recurrence (stored camelCase dict, validated with
  :class:`~rmm_alerts.contracts.WeeklyRecurrence`): on each listed day (0 = Sunday) from
  ``startTime`` (inclusive) to ``endTime`` (exclusive), wall-clock time in ``timezone``. An end
  before the start crosses midnight; that occurrence belongs to the day it *starts* on.
* DST: occurrence bounds are local wall-clock times resolved with ``fold=0`` and compared as
  instants. A time inside a spring-forward gap therefore lands after the gap (02:30 on
  2026-03-08 in New York is 03:30 EDT); an ambiguous fall-back time means its first
  (daylight-time) instance. An occurrence whose bounds collapse in a gap is empty that day.
* A stored window whose schedule is unusable (invalid recurrence, both a recurrence and one-off
  bounds, a missing bound) never suppresses, and a warning naming the window is logged:
  failing open means an alert still becomes a ticket rather than vanishing.
* Several matching windows: the first in the order given wins (callers pass a stable order).
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from uuid import UUID
from zoneinfo import ZoneInfo

from pydantic import ValidationError

from rmm_alerts.contracts import MaintenanceWindow, WeeklyRecurrence, error_list

logger = logging.getLogger(__name__)

# Strict ASCII HH:MM. The contract's validator also admits a trailing newline and non-ASCII
# digits; we tolerate surrounding whitespace and reject the rest (the window then fails open).
_HHMM = re.compile(r"([01][0-9]|2[0-3]):([0-5][0-9])", re.ASCII)

# How far around `at` to generate weekly occurrences: one that started two local days earlier
# can't still be running (an occurrence lasts < 24 h plus a DST shift), and every weekly
# schedule has an occurrence within 7 days, or 14 when a DST gap swallows one (see _occurrences).
_LOOKBACK_DAYS = 2
_LOOKAHEAD_DAYS = 14


@dataclass(frozen=True)
class _OneOff:
    starts_at: datetime
    ends_at: datetime


@dataclass(frozen=True)
class _Weekly:
    days: frozenset[int]  # 0 = Sunday
    start: time
    end: time
    zone: ZoneInfo


def _require_aware(at: datetime, name: str) -> None:
    # A naive time would be silently read as the host's local time: refuse it instead.
    if at.tzinfo is None or at.utcoffset() is None:
        raise ValueError(f"{name} must be timezone-aware")


def _parse_hhmm(value: str) -> time | None:
    m = _HHMM.fullmatch(value.strip())
    if m is None:
        return None
    return time(int(m.group(1)), int(m.group(2)))


def _unusable(window: MaintenanceWindow, why: str) -> None:
    # Window id and field paths only: never the payload of the alert being checked.
    logger.warning("maintenance window %s ignored: %s", window.window_id, why)


def _schedule(window: MaintenanceWindow) -> _OneOff | _Weekly | None:
    """The window's schedule, or ``None`` (logged) when the stored shape is unusable."""
    has_bounds = window.starts_at is not None or window.ends_at is not None
    if window.recurrence is not None:
        if has_bounds:
            _unusable(window, "has both a recurrence and startsAt/endsAt")
            return None
        try:
            rec = WeeklyRecurrence.model_validate(window.recurrence)
        except ValidationError as exc:
            paths = ", ".join(e["path"] for e in error_list(exc, "recurrence"))
            _unusable(window, f"invalid recurrence ({paths})")
            return None
        start, end = _parse_hhmm(rec.start_time), _parse_hhmm(rec.end_time)
        if start is None or end is None or start == end:
            _unusable(window, "invalid recurrence (recurrence.startTime/endTime)")
            return None
        return _Weekly(frozenset(rec.days), start, end, ZoneInfo(rec.timezone))
    if window.starts_at is None or window.ends_at is None:
        _unusable(window, "needs startsAt and endsAt, or a recurrence")
        return None
    return _OneOff(window.starts_at, window.ends_at)


def _occurrences(rec: _Weekly, first: date, last: date) -> Iterator[tuple[datetime, datetime]]:
    """Non-empty occurrences starting on local days ``first..last``, as UTC ``[start, end)``."""
    day = first
    while day <= last:
        if day.isoweekday() % 7 in rec.days:  # isoweekday: Mon=1..Sun=7 -> Sun=0
            # End before start: the occurrence runs past midnight into the next local day.
            end_day = day + timedelta(days=1) if rec.end < rec.start else day
            # datetime(..., tzinfo=zone) has fold=0: gap times land after the gap, ambiguous
            # times mean their first instance.
            start = datetime.combine(day, rec.start, tzinfo=rec.zone).astimezone(UTC)
            end = datetime.combine(end_day, rec.end, tzinfo=rec.zone).astimezone(UTC)
            if start < end:  # both bounds inside one DST gap -> nothing that day
                yield start, end
        day += timedelta(days=1)


def covers(window: MaintenanceWindow, at: datetime) -> bool:
    """Whether ``at`` falls inside the window's schedule. Time test only: ignores ``is_active``
    and scopes. ``at`` must be timezone-aware (``ValueError`` otherwise)."""
    _require_aware(at, "at")
    schedule = _schedule(window)
    if schedule is None:
        return False
    if isinstance(schedule, _OneOff):
        return schedule.starts_at <= at < schedule.ends_at
    local_day = at.astimezone(schedule.zone).date()
    return any(
        start <= at < end
        for start, end in _occurrences(schedule, local_day - timedelta(days=_LOOKBACK_DAYS), local_day)
    )


def scope_matches(
    window: MaintenanceWindow, *, integration_id: UUID, client_id: UUID | None, asset_id: UUID | None
) -> bool:
    """Whether every non-null scope of the window matches the alert.

    An unknown client/asset (``None``) never matches a window scoped to a specific one.
    """
    if window.integration_id is not None and window.integration_id != integration_id:
        return False
    if window.client_id is not None and window.client_id != client_id:
        return False
    return window.asset_id is None or window.asset_id == asset_id


def suppressing_window(
    windows: Sequence[MaintenanceWindow],
    *,
    integration_id: UUID,
    client_id: UUID | None,
    asset_id: UUID | None,
    at: datetime,
) -> MaintenanceWindow | None:
    """The first window, in the order given, that is active, in scope and covers ``at``."""
    _require_aware(at, "at")
    for window in windows:
        if not window.is_active:
            continue
        if not scope_matches(window, integration_id=integration_id, client_id=client_id, asset_id=asset_id):
            continue
        if covers(window, at):
            return window
    return None


def occurrence_at_or_after(window: MaintenanceWindow, now: datetime) -> tuple[datetime, datetime] | None:
    """The occurrence running at ``now`` (``start <= now < end``), else the next one, as UTC
    ``(start, end)``; ``None`` for an inactive or unusable window or a one-off already over.

    Lets the poller tell whether a suppressing window has ended (check the window against
    *now*, not the alert's original time, or an alert stays suppressed forever once a one-off
    window is over). Weekly search spans 14 days ahead
    (normally the answer is within 7; a DST gap can swallow one occurrence).
    """
    _require_aware(now, "now")
    if not window.is_active:
        return None
    schedule = _schedule(window)
    if schedule is None:
        return None
    if isinstance(schedule, _OneOff):
        if now >= schedule.ends_at or schedule.ends_at <= schedule.starts_at:
            return None
        return schedule.starts_at.astimezone(UTC), schedule.ends_at.astimezone(UTC)
    local_day = now.astimezone(schedule.zone).date()
    first = local_day - timedelta(days=_LOOKBACK_DAYS)
    # Starts are increasing, so the first occurrence not yet over is the current or next one.
    for start, end in _occurrences(schedule, first, local_day + timedelta(days=_LOOKAHEAD_DAYS)):
        if end > now:
            return start, end
    return None


# The decision trace lists at most this many windows, then only how many more there were.
MAX_TRACED_WINDOWS = 20
_DAY_NAMES = ("Sun", "Mon", "Tue", "Wed", "Thu", "Fri", "Sat")


def _scope_mismatch(
    window: MaintenanceWindow, *, integration_id: UUID, client_id: UUID | None, asset_id: UUID | None
) -> str | None:
    """Why the window's scope does not match the alert, or ``None`` when it does."""
    for what, wanted, actual in (
        ("integration", window.integration_id, integration_id),
        ("client", window.client_id, client_id),
        ("asset", window.asset_id, asset_id),
    ):
        if wanted is not None and wanted != actual:
            return f"scope: window is for {what} {wanted}, the alert's {what} is {actual or 'unknown'}"
    return None


def _iso(at: datetime) -> str:
    return at.astimezone(UTC).isoformat().replace("+00:00", "Z")


def _time_mismatch(schedule: _OneOff | _Weekly, at: datetime) -> str:
    """Why ``at`` is outside the schedule (called only when it is)."""
    if isinstance(schedule, _OneOff):
        return f"time: {_iso(at)} is outside {_iso(schedule.starts_at)} – {_iso(schedule.ends_at)}"
    local = at.astimezone(schedule.zone)
    days = ",".join(_DAY_NAMES[d] for d in sorted(schedule.days))
    return (
        f"time: {_iso(at)} is {_DAY_NAMES[local.isoweekday() % 7]} {local:%H:%M} in {schedule.zone.key}, "
        f"outside {days} {schedule.start:%H:%M}–{schedule.end:%H:%M}"
    )


def window_verdict(
    window: MaintenanceWindow,
    *,
    integration_id: UUID,
    client_id: UUID | None,
    asset_id: UUID | None,
    at: datetime,
) -> str | None:
    """Why ``window`` does not suppress an alert at ``at`` (``inactive``, ``scope: …``, ``time: …``,
    ``unusable schedule``), or ``None`` when it does. Same decision as :func:`suppressing_window`."""
    _require_aware(at, "at")
    if not window.is_active:
        return "inactive"
    scope = _scope_mismatch(window, integration_id=integration_id, client_id=client_id, asset_id=asset_id)
    if scope is not None:
        return scope
    schedule = _schedule(window)
    if schedule is None:
        return "unusable schedule (ignored)"
    if covers(window, at):
        return None
    return _time_mismatch(schedule, at)


def check_windows(
    windows: Sequence[MaintenanceWindow],
    *,
    integration_id: UUID,
    client_id: UUID | None,
    asset_id: UUID | None,
    at: datetime,
    limit: int = MAX_TRACED_WINDOWS,
) -> tuple[MaintenanceWindow | None, dict[str, object]]:
    """The suppressing window (as :func:`suppressing_window`) and the trace of the check:
    ``{"at", "checked": [{windowId, name, matched, reason}], "notListed"}``. Windows are listed in
    order up to the match; beyond ``limit`` only their count is kept (``notListed``)."""
    checked: list[dict[str, object]] = []
    not_listed = 0
    found: MaintenanceWindow | None = None
    for window in windows:
        reason = window_verdict(window, integration_id=integration_id, client_id=client_id, asset_id=asset_id, at=at)
        if len(checked) < limit:
            checked.append(
                {
                    "windowId": str(window.window_id),
                    "name": window.name,
                    "matched": reason is None,
                    "reason": reason or "covers the alert's time",
                }
            )
        else:
            not_listed += 1
        if reason is None:
            found = window
            break
    return found, {"at": _iso(at), "checked": checked, "notListed": not_listed}
