"""Where the Python time of one webhook goes (a development tool; the benchmark measures, this explains).

Same setup as ``scripts/bench`` (embedded PostgreSQL or ``DATABASE_URL``, PgBouncer, the app role,
21 rules: the bench's ``new_world``), the real NinjaOne handler called in-process with API Gateway
events. For each outcome (ticket_created, occurrence_appended, replay, resolved) it runs ``--samples``
condition lives, then:

* CPU per call without the profiler (``time.thread_time`` around each handler call: this thread's
  CPU, so waits on the database do not count) and wall time per call;
* a cProfile of the same calls, timed by this thread's CPU clock, grouped into areas (API Gateway
  resolver, Logger, Metrics, JSON, normalize, pydantic, rules, windows, templates, trace building,
  psycopg, ...): exclusive time of the functions in each area's files, per call;
* with ``--top N`` the N functions with the most exclusive time, per outcome.

Run: ``.venv/bin/python scripts/profile_webhook.py [--samples 200] [--top 15]``.
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import statistics
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT / "scripts"), str(ROOT), str(ROOT / "layers" / "core" / "python")]

import bench  # noqa: E402

from rmm_alerts import config  # noqa: E402

# (area, substrings of the code's file path or function name); the first that matches wins.
AREAS: list[tuple[str, tuple[str, ...]]] = [
    ("API Gateway resolver", ("event_handler/", "data_classes/", "shared/headers", "shared/cookies")),
    ("Logger", ("powertools/logging/", "/logging/__init__", "/logging/")),
    ("Metrics", ("powertools/metrics/", "rmm_alerts/observability")),
    ("powertools other", ("aws_lambda_powertools/",)),
    ("JSON (encode, decode)", ("json/", "<built-in method _json", "json.encoder", "json.decoder")),
    ("pydantic", ("pydantic/", "pydantic_core", "<method 'model_validate'", "__pydantic")),
    ("normalize", ("rmm_alerts/normalizers",)),
    ("rules (incl. re2)", ("rmm_alerts/rules", "re2")),
    ("windows", ("rmm_alerts/windows", "zoneinfo")),
    ("templates", ("rmm_alerts/templates", "rmm_alerts/tactical_template")),
    (
        "tickets / notify / events / dedup",
        ("rmm_alerts/tickets", "rmm_alerts/notify", "rmm_alerts/events", "rmm_alerts/dedup"),
    ),
    ("pipeline (trace building, plan)", ("rmm_alerts/pipeline",)),
    ("db repositories (rmm_alerts/db)", ("rmm_alerts/db/",)),
    ("webhooks / webhook_app", ("rmm_alerts/webhooks", "rmm_alerts/webhook_app", "functions/webhook")),
    (
        "psycopg (adapt, send, wait, rows)",
        ("psycopg/", "psycopg_pool/", "psycopg_binary", "psycopg_c", "<method 'execute'", "_psycopg"),
    ),
    ("uuid / datetime", ("uuid.py", "datetime", "<method 'isoformat'", "strftime")),
    ("threading / locks / queue", ("threading.py", "queue.py", "<method 'acquire'", "<method 'release'", "_thread")),
    ("test support (building the event)", ("tests/support",)),
]


def area_of(filename: str, func: str) -> str:
    key = f"{filename}:{func}"
    for area, needles in AREAS:
        if any(n in key for n in needles):
            return area
    return "other"


def profile_outcomes(b: bench.Bench, samples: int, top: int, out: Any, *, plain_only: bool = False) -> None:
    world = bench.new_world(b)
    call = bench.caller(world)
    lives = [bench.lifecycle(d, 3 * d + 1) for d in range(samples * 2 + 10)]
    for life in lives[:10]:  # warm
        for _, body in life:
            call(body)
    plain, profiled = lives[10 : 10 + samples], lives[10 + samples :]
    cpu: dict[str, list[float]] = {o: [] for o in bench.OUTCOMES}
    wall: dict[str, list[float]] = {o: [] for o in bench.OUTCOMES}
    server: dict[str, list[float]] = {o: [] for o in bench.OUTCOMES}
    bouncer: dict[str, list[float]] = {o: [] for o in bench.OUTCOMES}
    backends, pgbouncer = bench._backends(b.admin_url), bench.BOUNCER_PID[0]

    def server_cpu() -> float:
        return sum(bench._cpu_s(pid) for pid in backends)

    for life in plain:
        for label, body in life:
            s0, p0 = server_cpu(), bench._cpu_s(pgbouncer)
            w, c = time.perf_counter(), time.thread_time()
            status, answer = call(body)
            cpu[label].append((time.thread_time() - c) * 1000)
            wall[label].append((time.perf_counter() - w) * 1000)
            server[label].append((server_cpu() - s0) * 1000)
            bouncer[label].append((bench._cpu_s(pgbouncer) - p0) * 1000)
            if status != 200 or answer.get("outcome") != bench.expected_outcome(label):
                raise RuntimeError(f"{label}: {status} {answer}")
    print(f"\n{samples} calls per outcome, 21 rules. Without the profiler, per call:\n", file=out)
    print(
        "| outcome | wall ms (median) | Python CPU ms (median) | PostgreSQL CPU ms (mean) | PgBouncer CPU ms (mean) |",
        file=out,
    )
    print("|---|---:|---:|---:|---:|", file=out)
    for o in bench.OUTCOMES:
        print(
            f"| {o} | {statistics.median(wall[o]):.2f} | {statistics.median(cpu[o]):.2f} "
            f"| {statistics.mean(server[o]):.2f} | {statistics.mean(bouncer[o]):.2f} |",
            file=out,
        )
    if plain_only:
        return
    profiles = {o: cProfile.Profile(time.thread_time) for o in bench.OUTCOMES}
    for life in profiled:
        for label, body in life:
            profiles[label].enable()
            call(body)
            profiles[label].disable()
    by_area: dict[str, dict[str, float]] = {}
    totals: dict[str, float] = {}
    for o, prof in profiles.items():
        stats: Any = pstats.Stats(prof).stats
        totals[o] = sum(v[2] for v in stats.values()) / samples * 1000
        for (filename, _line, func), (_cc, _nc, tt, _ct, _callers) in stats.items():
            area = area_of(filename, func)
            by_area.setdefault(area, {}).setdefault(o, 0.0)
            by_area[area][o] += tt / samples * 1000
    print("\nProfiled (cProfile on this thread's CPU clock; the profiler inflates each function call,", file=out)
    print("so compare areas with each other, not with the plain figures): exclusive ms per call\n", file=out)
    print("| area | " + " | ".join(bench.OUTCOMES) + " |", file=out)
    print("|---|" + "---:|" * len(bench.OUTCOMES), file=out)
    for area in sorted(by_area, key=lambda a: -sum(by_area[a].values())):
        print(f"| {area} | " + " | ".join(f"{by_area[area].get(o, 0.0):.3f}" for o in bench.OUTCOMES) + " |", file=out)
    print("| **total** | " + " | ".join(f"{totals[o]:.3f}" for o in bench.OUTCOMES) + " |", file=out)
    if top:
        for o, prof in profiles.items():
            print(f"\n--- {o}: top {top} by exclusive time, then by inclusive time ---", file=out)
            st = pstats.Stats(prof, stream=out)
            st.sort_stats("tottime").print_stats(top)
            st.sort_stats("cumulative").print_stats(top * 2)


def _phase_ticket_created(call: Any, body: Any) -> Any:
    return call(body)


def _phase_occurrence_appended(call: Any, body: Any) -> Any:
    return call(body)


def _phase_replay(call: Any, body: Any) -> Any:
    return call(body)


def _phase_resolved(call: Any, body: Any) -> Any:
    return call(body)


PHASES = {
    "ticket_created": _phase_ticket_created,
    "occurrence_appended": _phase_occurrence_appended,
    "replay": _phase_replay,
    "resolved": _phase_resolved,
}


def sampling_run(b: bench.Bench, samples: int, out: Any) -> None:
    """Calls for a sampling profiler (py-spy) outside: each outcome's calls run under a function
    named for it (``_phase_<outcome>``), so the samples can be told apart (``--collapsed``)."""
    world = bench.new_world(b)
    call = bench.caller(world)
    for d in range(10):
        for _, body in bench.lifecycle(d, 3 * d + 1):
            call(body)
    for d in range(10, 10 + samples):
        for label, body in bench.lifecycle(d, 3 * d + 1):
            status, answer = PHASES[label](call, body)
            if status != 200 or answer.get("outcome") != bench.expected_outcome(label):
                raise RuntimeError(f"{label}: {status} {answer}")
    print(f"calls per outcome: {samples}", file=out)


def summarize_collapsed(path: str, rate: int, calls: int, top: int) -> None:
    """py-spy ``--format raw`` output (``frame;frame;... count``, root first): per outcome, CPU ms
    per call by area; a sample counts for the area of its innermost frame that has one."""
    per: dict[str, dict[str, float]] = {o: {} for o in PHASES}
    leaves: dict[str, dict[str, float]] = {o: {} for o in PHASES}
    for line in Path(path).read_text().splitlines():
        stack, _, count = line.rpartition(" ")
        frames = stack.split(";")
        outcome = next((o for o in PHASES if any(f"_phase_{o} " in f for f in frames)), None)
        if outcome is None:
            continue
        n = int(count)
        area = "other"
        leaf = frames[-1]
        waiting = leaf.startswith(("Connection.wait ", "BasePipeline._communicate_gen "))
        if waiting:
            # In libpq's wait/communicate: mostly waiting for the server (py-spy cannot tell idle here)
            area = "waiting on the server (psycopg wait, libpq)"
        for frame in [] if waiting else reversed(frames):
            func, _, where = frame.partition(" (")
            a = area_of(where, func)
            if a != "other":
                area = a
                break
        per[outcome][area] = per[outcome].get(area, 0.0) + n
        leaves[outcome][leaf] = leaves[outcome].get(leaf, 0.0) + n
    ms = 1000.0 / rate / calls
    areas = sorted({a for o in per for a in per[o]}, key=lambda a: -sum(per[o].get(a, 0) for o in per))
    print(f"CPU ms per call by area (py-spy, {rate} Hz, {calls} calls per outcome, innermost area wins)\n")
    print("| area | " + " | ".join(PHASES) + " |")
    print("|---|" + "---:|" * len(PHASES))
    for a in areas:
        print(f"| {a} | " + " | ".join(f"{per[o].get(a, 0) * ms:.3f}" for o in PHASES) + " |")
    print("| **total** | " + " | ".join(f"{sum(per[o].values()) * ms:.3f}" for o in PHASES) + " |")
    if top:
        for o in PHASES:
            print(f"\n{o}: top {top} leaf frames (ms per call)")
            for leaf, n in sorted(leaves[o].items(), key=lambda kv: -kv[1])[:top]:
                print(f"  {n * ms:7.3f}  {leaf}")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--samples", type=int, default=200)
    parser.add_argument("--top", type=int, default=0)
    parser.add_argument("--plain", action="store_true", help="only the unprofiled wall and CPU per call")
    parser.add_argument("--sampling-run", action="store_true", help="only run the calls (under py-spy)")
    parser.add_argument("--collapsed", help="summarize py-spy raw output instead of running anything")
    parser.add_argument("--rate", type=int, default=1000, help="py-spy's --rate, for --collapsed")
    args = parser.parse_args()
    if args.collapsed:
        summarize_collapsed(args.collapsed, args.rate, args.samples, args.top)
        return 0
    out = sys.stdout
    with bench.database() as (admin_url, app_url), open(os.devnull, "w") as sink:
        os.environ["DATABASE_URL"] = app_url
        config.cached.cache_clear()
        b = bench.Bench(admin_url, app_url, args)
        sys.stdout = sink  # the handler's log lines and metrics (measured, not shown)
        try:
            bench.handler_pool()
            if args.sampling_run:
                sampling_run(b, args.samples, out)
            else:
                profile_outcomes(b, args.samples, args.top, out, plain_only=args.plain)
        finally:
            sys.stdout = out
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
