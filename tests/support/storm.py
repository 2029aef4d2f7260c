"""An alert storm through the real NinjaOne webhook handler: its plan, its run, and its checks.

Shape (issue 11): many devices × conditions; each condition that fires gets a trigger, sometimes a
repeat (a new activity of the same condition: an occurrence), and about half the conditions a
reset; then ~30 % of all deliveries are duplicates of earlier ones (a sender's retries: replays),
and everything is shuffled, so resets, replays and other conditions' triggers interleave out of
order. Only what a real sender guarantees is kept: a condition's reset (or a retry of it) is
released once that condition's own triggers have been answered (an RMM sends a reset after its
trigger); a trigger's duplicate may arrive any time, before its original or after the reset.

Used by tests/integration/test_storm.py (small) and scripts/bench (the full 5,000-alert storm).
"""

from __future__ import annotations

import collections
import copy
import json
import random
import threading
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import psycopg

TEMPLATE = json.loads(
    (Path(__file__).resolve().parent.parent / "fixtures" / "ninjaone" / "condition_triggered.json").read_text()
)
NS = uuid.UUID("5f3c6e8a-2b1d-4c7e-9a0f-3e2d1c4b5a69")


@dataclass(frozen=True)
class Delivery:
    pair: tuple[int, int]  # (device, condition)
    kind: str  # "trigger", "repeat" or "reset"
    body: dict[str, Any]
    duplicate: bool = False


@dataclass
class StormPlan:
    deliveries: list[Delivery]
    reset_pairs: set[tuple[int, int]]
    open_pairs: set[tuple[int, int]]

    @property
    def duplicates(self) -> int:
        return sum(1 for d in self.deliveries if d.duplicate)


def _body(device: int, condition: int, kind: str, activity_id: int) -> dict[str, Any]:
    body: dict[str, Any] = copy.deepcopy(TEMPLATE)
    reset = kind == "reset"
    body["id"] = activity_id
    body["activityTime"] = 1742391675.0 + activity_id
    body["deviceId"] = body["device"]["id"] = 10_000 + device
    body["device"]["displayName"] = body["device"]["systemName"] = f"STORM-{device:04d}"
    body["sourceConfigUid"] = str(uuid.uuid5(NS, f"condition-{condition}"))
    body["seriesUid"] = str(uuid.uuid5(NS, f"series-{device}-{condition}"))
    body["statusCode"], body["status"] = ("RESET", "Reset") if reset else ("TRIGGERED", "Triggered")
    body["sourceName"] = f"Storm condition {condition}"
    body["subject"] = f"Condition {condition} {'cleared' if reset else 'fired'} on STORM-{device:04d}"
    return body


def plan_storm(
    *, alerts: int, devices: int, conditions: int, duplicate_share: float = 0.3, seed: int = 11
) -> StormPlan:
    """``alerts`` deliveries in all, ``duplicate_share`` of them duplicates, shuffled."""
    rng = random.Random(seed)
    originals_wanted = alerts - round(alerts * duplicate_share)
    grid = [(d, c) for d in range(devices) for c in range(conditions)]
    rng.shuffle(grid)
    originals: list[Delivery] = []
    reset_pairs: set[tuple[int, int]] = set()
    next_id = 1
    for pair in grid:
        if len(originals) >= originals_wanted:
            break
        kinds = ["trigger"]
        if rng.random() < 0.2:
            kinds.append("repeat")
        if rng.random() < 0.5:
            kinds.append("reset")
        for kind in kinds[: originals_wanted - len(originals)]:
            originals.append(Delivery(pair, kind, _body(*pair, kind, next_id)))
            next_id += 1
            if kind == "reset":
                reset_pairs.add(pair)
    if len(originals) < originals_wanted:
        raise ValueError(f"{devices} devices × {conditions} conditions are too few for {alerts} alerts")
    duplicates = [
        Delivery(d.pair, d.kind, copy.deepcopy(d.body), duplicate=True)
        for d in rng.choices(originals, k=alerts - len(originals))
    ]
    deliveries = originals + duplicates
    rng.shuffle(deliveries)
    used = {d.pair for d in originals}
    return StormPlan(deliveries, reset_pairs, used - reset_pairs)


WAIT = Delivery((-1, -1), "wait", {})


@dataclass
class StormReport:
    wall_s: float
    outcomes: collections.Counter[str] = field(default_factory=collections.Counter)
    # activity id -> outcomes of all its deliveries (the original and its duplicates)
    by_activity: dict[int, list[str]] = field(default_factory=lambda: collections.defaultdict(list))
    errors: list[str] = field(default_factory=list)

    @property
    def per_second(self) -> float:
        return sum(self.outcomes.values()) / self.wall_s if self.wall_s else 0.0


Call = Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]


def run_storm(plan: StormPlan, call: Call | Sequence[Call], *, workers: int = 8) -> StormReport:
    """Deliver the plan on ``workers`` threads that share ``call``, or, given one call per worker
    (e.g. tests/support/webhook_worker.py's worker processes), one thread per call, each using its
    own. A reset (or its duplicate) whose condition still has an unanswered original trigger goes
    back to the end of the queue (not sent yet)."""
    calls = [call] * workers if callable(call) else list(call)
    pending_triggers: collections.Counter[tuple[int, int]] = collections.Counter(
        d.pair for d in plan.deliveries if not d.duplicate and d.kind != "reset"
    )
    queue = collections.deque(plan.deliveries)
    lock = threading.Lock()
    report = StormReport(wall_s=0.0)

    def take() -> Delivery | None:
        """The next delivery to send; None when all are sent; WAIT when only held resets remain."""
        with lock:
            for _ in range(len(queue)):
                d = queue.popleft()
                if d.kind == "reset" and pending_triggers[d.pair]:
                    queue.append(d)
                    continue
                return d
            return WAIT if queue else None

    def work(call: Call) -> None:
        while (d := take()) is not None:
            if d is WAIT:
                time.sleep(0.001)
                continue
            try:
                status, body = call(d.body)
                outcome = str(body.get("outcome", f"http_{status}"))
                if status != 200:
                    raise RuntimeError(f"HTTP {status}: {body}")
            except Exception as exc:  # recorded; the storm goes on
                with lock:
                    report.errors.append(f"{d.kind} {d.pair}: {exc!r}")
                outcome = "error"
            with lock:
                report.outcomes[f"{d.kind}: {outcome}"] += 1
                report.by_activity[int(d.body["id"])].append(outcome)
                if not d.duplicate and d.kind != "reset":
                    pending_triggers[d.pair] -= 1

    started = time.perf_counter()
    threads = [threading.Thread(target=work, args=(c,), name=f"storm-{i}") for i, c in enumerate(calls)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    report.wall_s = time.perf_counter() - started
    return report


def check_outcomes(plan: StormPlan, report: StormReport) -> list[str]:
    """Each activity was acted on exactly once, whichever of its copies came first: a trigger
    opened or joined its condition's ticket, a reset resolved it; every other copy was a no-op."""
    problems: list[str] = []
    kinds = {int(d.body["id"]): d.kind for d in plan.deliveries}
    for activity, outcomes in sorted(report.by_activity.items()):
        acted = [o for o in outcomes if o != "skipped"]
        # a repeat may be answered before its condition's first trigger: then it opens the ticket
        allowed = {"resolved"} if kinds[activity] == "reset" else {"ticket_created", "occurrence_appended"}
        if len(acted) != 1 or acted[0] not in allowed:
            problems.append(f"activity {activity} ({kinds[activity]}): {outcomes}")
    return problems


def check_storm(conn: psycopg.Connection[Any], tenant: uuid.UUID, integration: uuid.UUID, plan: StormPlan) -> list[str]:
    """What went wrong, from the database (``conn`` returns dict rows): duplicate open tickets,
    resets not applied."""
    rows = conn.execute(
        """SELECT a.external_device_id AS device, a.condition_id AS condition,
                  count(DISTINCT a.ticket_id) FILTER (WHERE NOT s.is_closed) AS open_tickets,
                  count(*) FILTER (WHERE a.status IN ('active', 'acknowledged')) AS open_alerts
             FROM rmm_alerts a
             LEFT JOIN tickets t ON t.tenant = a.tenant AND t.ticket_id = a.ticket_id
             LEFT JOIN statuses s ON s.tenant = t.tenant AND s.status_id = t.status_id
            WHERE a.tenant = %s AND a.integration_id = %s
            GROUP BY 1, 2""",
        (tenant, integration),
    ).fetchall()
    by_pair: dict[tuple[int, int], tuple[int, int]] = {}
    conditions = {str(uuid.uuid5(NS, f"condition-{c}")): c for c in {p[1] for p in plan.reset_pairs | plan.open_pairs}}
    for row in rows:
        pair = (int(row["device"]) - 10_000, conditions[row["condition"]])
        by_pair[pair] = (int(row["open_tickets"]), int(row["open_alerts"]))
    problems: list[str] = []
    for pair in sorted(plan.reset_pairs):
        if by_pair.get(pair, (0, 0)) != (0, 0):
            problems.append(f"{pair}: reset not applied (open tickets, open alerts) = {by_pair.get(pair)}")
    for pair in sorted(plan.open_pairs):
        if by_pair.get(pair, (0, 0))[0] != 1:
            problems.append(f"{pair}: {by_pair.get(pair, (0, 0))[0]} open tickets, expected exactly 1")
    missing = (plan.reset_pairs | plan.open_pairs) - set(by_pair)
    problems.extend(f"{pair}: never stored" for pair in sorted(missing))
    return problems
