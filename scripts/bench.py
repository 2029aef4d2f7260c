"""Benchmarks of the alert path, in one run, printed as a Markdown table (docs/performance.md).

Everything runs in-process against a real PostgreSQL (embedded, or ``DATABASE_URL``'s server) with
PgBouncer in front in transaction mode, logging in as the application role ``rmm_app``: the same
server and connection settings the webhook handler uses (its own process-wide pool).

Figures (each repeated ``--reps`` times; the table shows the median of the repetitions):

* floor: one committed upsert (autocommit: one round trip) on a connection of the handler's pool;
* ingest p50/p99 per outcome through the real NinjaOne webhook handler (API Gateway event in,
  response out) with 21 rules on the integration, and each p50's ratio to the floor;
* round trips per outcome, counted on the wire (libpq trace, tests/support/wire.py);
* throughput at 1, 4 and 8 workers (a storm-shaped mix, tests/support/storm.py), each worker a
  separate process with the real handler and its own pool, as a Lambda instance is
  (tests/support/webhook_worker.py; ``--workers-as threads`` for threads sharing this process);
* the full storm: 5,000 alerts, 250 devices × 20 conditions, 30 % duplicates, 8 workers (once);
* a 1k-new and a 10k no-op poll cycle against the loopback NinjaOne fake;
* cold import of each handler: ``import handler`` in a fresh interpreter from its folder, the
  layer on the path, as Lambda does (dev-only packages hidden, so httpx does not load its CLI);
* layer size: the built layer when ``--layer build`` succeeds, otherwise the installed runtime
  dependencies of requirements/layer.txt plus the core package (the table says which).

No assertion: benchmarks measure. ``--update-docs`` rewrites the table in docs/performance.md.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from importlib import metadata
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
LAYER_PYTHON = ROOT / "layers" / "core" / "python"
sys.path[:0] = [str(ROOT), str(LAYER_PYTHON)]

import psycopg  # noqa: E402
from psycopg import sql  # noqa: E402
from psycopg.rows import dict_row  # noqa: E402
from psycopg.types.json import Jsonb  # noqa: E402

from rmm_alerts import config, db, reconcile  # noqa: E402
from rmm_alerts.localdb import LocalServer, ensure_database  # noqa: E402
from rmm_alerts.localpooler import PgBouncer  # noqa: E402
from rmm_alerts.migrations import APP_ROLE, apply_all, grant_app_login  # noqa: E402
from rmm_alerts.ports import LocalSecretStore  # noqa: E402
from rmm_alerts.providers import client_for_integration  # noqa: E402
from rmm_alerts.providers.ninjaone import clear_token_cache  # noqa: E402
from rmm_alerts.simulator import NinjaOneSim  # noqa: E402

DOC = ROOT / "docs" / "performance.md"
HANDLERS = sorted(p.parent.name for p in (ROOT / "functions").glob("*/handler.py"))
SECRET = "bench-secret-0123456789abcdef0123456789"  # noqa: S105 (a local test value)
OUTCOMES = ("ticket_created", "occurrence_appended", "replay", "resolved")
# Installed for development only (not in requirements/layer.txt); httpx imports its CLI when they are.
DEV_ONLY = ("click", "rich", "pygments")


def median(values: list[float]) -> float:
    return statistics.median(values) if values else float("nan")


def p99(values: list[float]) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(0.99 * (len(ordered) - 1)))] if ordered else float("nan")


@dataclass
class Row:
    figure: str
    value: str
    ratio: str = ""
    target: str = ""
    note: str = ""


@dataclass
class Bench:
    admin_url: str
    app_url: str
    args: argparse.Namespace
    rows: list[Row] = field(default_factory=list)
    floor_ms: float = float("nan")
    bouncer_pid: int | None = None

    def admin(self) -> psycopg.Connection[dict[str, Any]]:
        return psycopg.connect(self.admin_url, autocommit=True, row_factory=dict_row)


# ---------------------------------------------------------------------------------------------
# Database: embedded server (or DATABASE_URL), a migrated database, PgBouncer, the app role


BOUNCER_PID: list[int] = []  # the running PgBouncer's, for CpuMeter


@contextlib.contextmanager
def database(history: int = 20_000) -> Iterator[tuple[str, str]]:
    server = None
    base = os.environ.get("DATABASE_URL")
    tmp = Path(tempfile.mkdtemp(prefix="rmm-alerts-bench-"))
    tmp.chmod(0o755)
    if not base:
        server = LocalServer(tmp / "pgdata", delete_on_stop=True)
        base = server.uri()
    name = f"rmm_bench_{uuid.uuid4().hex[:8]}"
    admin_url = ensure_database(base, name)
    bouncer = None
    try:
        apply_all(admin_url)
        if history:
            seed_history(admin_url, history)
        password = f"bench-{uuid.uuid4().hex}"
        grant_app_login(admin_url, APP_ROLE, password)
        bouncer = PgBouncer(base, tmp / "pgbouncer")
        BOUNCER_PID[:] = [bouncer.pid]
        yield admin_url, bouncer.url(name, APP_ROLE, password)
    finally:
        db.reset_pool()
        if bouncer is not None:
            bouncer.stop()
        with contextlib.suppress(Exception), psycopg.connect(base, autocommit=True) as conn:
            conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(name)))
        if server is not None:
            server.stop()
        shutil.rmtree(tmp, ignore_errors=True)


# ---------------------------------------------------------------------------------------------
# The webhook handler, in-process


def handler_pool() -> Any:
    """The handler's own process-wide pool (sized for 8 threads before its first use)."""
    return db.get_pool(config.cached(config.WebhookSettings), max_size=8)


def new_world(b: Bench, rules: int = 21) -> Any:
    from tests.support.world import make_tenant, set_webhook_secret

    conn = b.admin()
    world = make_tenant(conn, name="Bench MSP")
    world.map_org("2")
    for i in range(rules - 1):  # never match: each is evaluated, the last one matches
        world.add_rule(f"never {i}", conditions={"keywords": [f"zzz{i}"], "messagePattern": f"^nope{i}$"})
    world.add_rule("catch-all", actions={"autoResolveTicket": True})
    set_webhook_secret(world, SECRET)
    return world


def seed_history(admin_url: str, alerts: int) -> None:
    """The history a running deployment has, and its statistics (tests/support/history.py)."""
    from tests.support.history import seed_history as seed

    with psycopg.connect(admin_url, autocommit=True, row_factory=dict_row) as conn:
        seed(conn, alerts)


def caller(world: Any) -> Callable[[dict[str, Any]], tuple[int, dict[str, Any]]]:
    """``call(body)``: the API Gateway event built, the handler called, the answer parsed."""
    timed = timed_caller(world)

    def call(body: dict[str, Any]) -> tuple[int, dict[str, Any]]:
        return timed(body)[:2]

    return call


def timed_caller(world: Any) -> Callable[[dict[str, Any]], tuple[int, dict[str, Any], float]]:
    """``call(body) -> (status, answer, seconds)``, the seconds of the handler call alone: building
    the API Gateway event and parsing the answer are the test harness's work (API Gateway's, in
    AWS), not the function's."""
    from functions.webhook_ninjaone import handler as ninja
    from tests.support.apigw import FakeContext, response_json, webhook_event

    integration = str(world.integration_id)
    context = FakeContext()

    def call(body: dict[str, Any]) -> tuple[int, dict[str, Any], float]:
        event = webhook_event("ninjaone", integration, body, secret=SECRET)
        started = time.perf_counter()
        response = ninja.handler(event, context)
        elapsed = time.perf_counter() - started
        return int(response["statusCode"]), response_json(response), elapsed

    return call


def lifecycle(device: int, first_id: int) -> list[tuple[str, dict[str, Any]]]:
    """One condition's life, one delivery per outcome: trigger, repeat, the repeat again, reset."""
    from tests.support.storm import _body

    repeat = _body(device, 0, "repeat", first_id + 1)
    return [
        ("ticket_created", _body(device, 0, "trigger", first_id)),
        ("occurrence_appended", repeat),
        ("replay", dict(repeat)),
        ("resolved", _body(device, 0, "reset", first_id + 2)),
    ]


def expected_outcome(label: str) -> str:
    return "skipped" if label == "replay" else label


# ---------------------------------------------------------------------------------------------
# Figures


FLOOR_UPSERT = "INSERT INTO bench_floor (k, n) VALUES (%s, 1) ON CONFLICT (k) DO UPDATE SET n = bench_floor.n + 1"


def floor_table(b: Bench) -> None:
    with b.admin() as conn:
        conn.execute("CREATE TABLE IF NOT EXISTS bench_floor (k int PRIMARY KEY, n int NOT NULL)")
        conn.execute(sql.SQL("GRANT SELECT, INSERT, UPDATE ON bench_floor TO {}").format(sql.Identifier(APP_ROLE)))


def floor_samples(count: int, times: list[float]) -> None:
    """``count`` floor upserts (seconds each appended to ``times``) on a connection of the
    handler's pool, in autocommit: one round trip each."""
    with handler_pool().connection() as conn:
        conn.commit()
        conn.autocommit = True
        try:
            for i in range(count):
                t = time.perf_counter()
                conn.execute(FLOOR_UPSERT, (i % 50,))
                times.append(time.perf_counter() - t)
        finally:
            conn.autocommit = False


_CALIBRATION_PAYLOAD = {f"k{i}": [i, str(i), {"x": i * 1.5, "y": None}] for i in range(200)}


def cpu_calibration_ms() -> tuple[float, float]:
    """``(thread CPU ms, wall ms)`` of a fixed pure-Python workload (JSON round trips and integer
    arithmetic) that depends on nothing of ours: this machine's state at that moment, its CPU
    speed (the CPU time) and how much of the CPU this process gets (the wall time: waiting for a
    core, a neighbour's steal). The ingest figure runs it after every condition life and reports
    the medians, so that runs can be compared in the same state (docs/performance.md, "How much
    the latency ratios move")."""
    started, wall = time.thread_time(), time.perf_counter()
    for _ in range(10):
        json.loads(json.dumps(_CALIBRATION_PAYLOAD))
    total = 0
    for i in range(50_000):
        total += i * i % 7
    return (time.thread_time() - started) * 1000, (time.perf_counter() - wall) * 1000


def bench_floor(b: Bench) -> None:
    floor_table(b)
    upsert = FLOOR_UPSERT
    pool = handler_pool()
    per_rep, txn_rep = [], []
    for rep in range(b.args.reps):
        times: list[float] = []
        txn: list[float] = []
        floor_samples(b.args.floor_samples, times)
        for i in range(b.args.floor_samples):
            t = time.perf_counter()
            with pool.connection() as conn:
                conn.execute(upsert, (i % 50,))
            txn.append(time.perf_counter() - t)
        per_rep.append(median(times) * 1000)
        txn_rep.append(median(txn) * 1000)
        del rep
    b.floor_ms = median(per_rep)
    b.rows.append(Row("floor: one committed upsert (1 round trip)", f"{b.floor_ms:.2f} ms", "1×"))
    t_ms = median(txn_rep)
    b.rows.append(
        Row(
            "the same upsert as a pooled unit of work (checkout, upsert, COMMIT)",
            f"{t_ms:.2f} ms",
            f"{t_ms / b.floor_ms:.1f}×",
        )
    )


def bench_ingest(b: Bench) -> None:
    """The ratio is to the floor figure (``bench_floor``: a hot loop of upserts, the least a
    committed write costs). The note adds a check on drift: the same p50s divided by a floor
    measured within each repetition, 4 upserts after each condition life, so that both sides see
    the machine in the same state (each ratio per repetition, then the median)."""
    targets = {"ticket_created": "≤ 10×", "occurrence_appended": "≤ 8×", "replay": "≤ 3×", "resolved": "≤ 8×"}
    floor_table(b)
    world = new_world(b)
    call = timed_caller(world)
    next_id, device = 1, 0

    def one_life(record: dict[str, list[float]] | None) -> None:
        nonlocal next_id, device
        for label, body in lifecycle(device, next_id):
            status, answer, elapsed = call(body)
            if status != 200 or answer.get("outcome") != expected_outcome(label):
                raise RuntimeError(f"{label}: HTTP {status} {answer}")
            if record is not None:
                record[label].append(elapsed * 1000)
        next_id += 3
        device += 1

    for _ in range(10):  # warm: pool open, caches, first-call imports
        one_life(None)
    p50s: dict[str, list[float]] = {o: [] for o in OUTCOMES}
    p99s: dict[str, list[float]] = {o: [] for o in OUTCOMES}
    ratios: dict[str, list[float]] = {o: [] for o in OUTCOMES}
    floors: list[float] = []
    speed: list[tuple[float, float]] = []
    for _ in range(b.args.reps):
        record: dict[str, list[float]] = {o: [] for o in OUTCOMES}
        floor: list[float] = []
        for _ in range(b.args.samples):
            one_life(record)
            floor_samples(4, floor)
            speed.append(cpu_calibration_ms())
        floors.append(median(floor) * 1000)
        for o in OUTCOMES:
            p50s[o].append(median(record[o]))
            p99s[o].append(p99(record[o]))
            ratios[o].append(p50s[o][-1] / floors[-1])
    if b.floor_ms != b.floor_ms:  # NaN: --only without floor; the interleaved floor stands in
        b.floor_ms = median(floors)
    for o in OUTCOMES:
        p50 = median(p50s[o])
        b.rows.append(
            Row(
                f"ingest `{o}` p50 / p99",
                f"{p50:.2f} / {median(p99s[o]):.2f} ms",
                f"{p50 / b.floor_ms:.1f}×",
                targets[o],
                f"{median(ratios[o]):.1f}× the floor measured between the lives"
                + (f" ({median(floors):.2f} ms)" if o == OUTCOMES[0] else ""),
            )
        )
    b.rows.append(
        Row(
            "machine state during ingest: a fixed pure-Python workload after each life, CPU / wall",
            f"{median([c for c, _ in speed]):.1f} / {median([w for _, w in speed]):.1f} ms",
            note="lower is faster; compare runs in the same state (the ratios rise with it)",
        )
    )


def bench_round_trips(b: Bench) -> None:
    from rmm_alerts import webhooks
    from tests.support.wire import Wire

    world = new_world(b)
    wire = Wire()
    settings = config.load(config.DatabaseSettings, {"DATABASE_URL": b.app_url})
    pool = db.create_pool(settings, max_size=1, configure=wire.attach, name="bench-wire")
    pool.open(wait=True)
    try:
        seen = {}
        for label, body in lifecycle(900_000, 900_000):
            wire.round_trips()
            response = webhooks.receive(
                "ninjaone", str(world.integration_id), SECRET, json.dumps(body).encode(), lambda: db.UnitOfWork(pool)
            )
            if response.body.get("outcome") != expected_outcome(label):
                raise RuntimeError(f"{label}: {response.body}")
            seen[label] = wire.round_trips()
    finally:
        pool.close()
        wire.close()
    b.rows.append(
        Row(
            "round trips per webhook: " + ", ".join(OUTCOMES),
            " / ".join(str(seen[o]) for o in OUTCOMES),
            note="integration lookup and COMMIT included; checkout check only after 5 s idle",
        )
    )


def _cpu_s(pid: int) -> float:
    """CPU time of a process (all its threads), in seconds, from the scheduler's nanosecond count
    (``/proc/PID/task/*/schedstat``); 0 when it is gone. This process: its CPU clock, which keeps
    the time of threads that ended (run_storm's)."""
    if pid == os.getpid():
        return time.process_time()
    total = 0
    with contextlib.suppress(OSError):
        for task in Path(f"/proc/{pid}/task").iterdir():
            with contextlib.suppress(OSError, ValueError, IndexError):
                total += int((task / "schedstat").read_text().split()[0])
    return total / 1e9


def _backends(admin_url: str) -> list[int]:
    """The PostgreSQL server processes serving the bench database (its name is in their title)."""
    name = psycopg.conninfo.conninfo_to_dict(admin_url).get("dbname")
    pids = []
    for entry in Path("/proc").iterdir():
        if entry.name.isdigit():
            with contextlib.suppress(OSError):
                if f" {name} " in (entry / "cmdline").read_bytes().replace(b"\0", b" ").decode(errors="replace"):
                    pids.append(int(entry.name))
    return pids


class CpuMeter:
    """CPU seconds spent while measuring, by side: the Python that handles the webhooks (the worker
    processes, and this process, which drives them or runs the threads), the PostgreSQL backends
    serving the bench database, and PgBouncer. Linux /proc; a process that exits meanwhile is
    missed (none do: pools and PgBouncer keep their connections)."""

    def __init__(self, b: Bench, worker_pids: list[int]) -> None:
        # With worker processes, this process only hands them the deliveries ("driver").
        python = {"Python": [os.getpid()]} if not worker_pids else {"Python": worker_pids, "driver": [os.getpid()]}
        self.sides = {
            **python,
            "PostgreSQL": _backends(b.admin_url),
            "PgBouncer": BOUNCER_PID[:1],
        }
        self.admin_url = b.admin_url
        self.start = {pid: _cpu_s(pid) for pids in self.sides.values() for pid in pids}

    def stop(self) -> dict[str, float]:
        self.sides["PostgreSQL"] = sorted(set(self.sides["PostgreSQL"]) | set(_backends(self.admin_url)))
        return {
            side: sum(max(0.0, _cpu_s(pid) - self.start.get(pid, 0.0)) for pid in pids)
            for side, pids in self.sides.items()
        }


def cpu_note(used: dict[str, float], alerts: int) -> str:
    per = {side: s * 1000 / alerts for side, s in used.items()}
    total = sum(per.values())
    parts = " + ".join(f"{side} {ms:.1f}" for side, ms in per.items())
    cores = os.cpu_count() or 1
    return f"CPU ms/alert: {parts} = {total:.1f} ({cores} idle cores: ≤ ~{cores * 1000 / total:.0f}/s)"


@contextlib.contextmanager
def storm_callers(b: Bench, workers: int) -> Iterator[tuple[Callable[[Any], Any], list[int]]]:
    """``with storm_callers(b, n) as (callers_for, pids):``, ``callers_for(world)`` is what run_storm
    takes; ``pids`` are the worker processes'.

    processes (default): ``n`` worker processes, each a fresh interpreter with the real handler and
    its own process-wide pool through the same PgBouncer, as Lambda instances are
    (tests/support/webhook_worker.py); warmed with one condition's life each on a throwaway world.
    threads: one shared handler (and pool, 8 connections) in this process, as before."""
    if b.args.workers_as == "threads":
        os.environ["POWERTOOLS_METRICS_DISABLED"] = "true"  # threads share one metrics provider
        handler_pool()  # 8 connections, if this is the pool's first use
        try:
            yield caller, []
        finally:
            del os.environ["POWERTOOLS_METRICS_DISABLED"]
        return
    from tests.support.webhook_worker import process_workers

    with process_workers(workers, SECRET, metrics=not b.args.no_metrics) as procs:
        warm = new_world(b, rules=1)
        for i, proc in enumerate(procs):
            proc.integration = str(warm.integration_id)
            for label, body in lifecycle(800_000 + i, 800_000 + 3 * i):
                status, answer = proc(body)
                if status != 200 or answer.get("outcome") != expected_outcome(label):
                    raise RuntimeError(f"warm-up {label}: HTTP {status} {answer}")

        def callers_for(world: Any) -> list[Any]:
            for proc in procs:
                proc.integration = str(world.integration_id)
            return procs

        yield callers_for, [proc.pid for proc in procs]


def workers_note(b: Bench) -> str:
    if b.args.workers_as == "threads":
        return "threads in one process, one shared pool"
    return "worker processes, one pool each" + (", no metrics" if b.args.no_metrics else "")


def bench_throughput(b: Bench) -> None:
    from tests.support.storm import check_storm, plan_storm, run_storm

    base: float | None = None
    for workers in (int(n) for n in b.args.throughput_workers.split(",")):
        rates = []
        used: dict[str, float] = {}
        with storm_callers(b, workers) as (callers_for, pids):
            for rep in range(b.args.reps):
                world = new_world(b)
                plan = plan_storm(alerts=b.args.throughput_alerts, devices=40, conditions=10, seed=rep)
                callers = callers_for(world)
                meter = CpuMeter(b, pids)
                report = run_storm(plan, callers, workers=workers)
                for side, seconds in meter.stop().items():
                    used[side] = used.get(side, 0.0) + seconds
                problems = report.errors + check_storm(b.admin(), world.tenant, world.integration_id, plan)
                if problems:
                    raise RuntimeError(f"throughput run with {workers} workers: {problems[:3]}")
                rates.append(report.per_second)
        rate = median(rates)
        base = base or rate
        b.rows.append(
            Row(
                f"throughput, {workers} worker{'s' if workers > 1 else ''}",
                f"{rate:.0f} alerts/s",
                f"{rate / base:.1f}× of 1 worker",
                "≥ 342/s (2× 171)" if workers == 8 else "",
                f"{workers_note(b)}; {cpu_note(used, b.args.reps * b.args.throughput_alerts)}",
            )
        )


def bench_storm(b: Bench) -> None:
    from tests.support.storm import check_outcomes, check_storm, plan_storm, run_storm

    n = b.args.storm
    with storm_callers(b, 8) as (callers_for, pids):
        world = new_world(b)
        plan = plan_storm(alerts=n, devices=250, conditions=20)
        callers = callers_for(world)
        meter = CpuMeter(b, pids)
        report = run_storm(plan, callers, workers=8)
        used = meter.stop()
        problems = (
            report.errors
            + check_outcomes(plan, report)
            + check_storm(b.admin(), world.tenant, world.integration_id, plan)
        )
    b.rows.append(
        Row(
            f"storm: {n:,} alerts, 250 devices × 20 conditions, {plan.duplicates:,} duplicates, 8 workers",
            f"{report.wall_s:.1f} s",
            f"{report.per_second:.0f} alerts/s",
            "no error, no duplicate ticket, every reset applied",
            ("OK" if not problems else f"{len(problems)} problems: {problems[:2]}")
            + f"; {workers_note(b)}; {cpu_note(used, n)}",
        )
    )


def bench_poll(b: Bench) -> None:
    store = LocalSecretStore()
    ref = store.put("bench", {"clientId": "sim-client", "clientSecret": "sim-client-secret"})
    settings = config.load(config.DatabaseSettings, {"DATABASE_URL": b.app_url})
    pool = db.create_pool(settings, max_size=4, name="bench-poll")
    pool.open(wait=True)

    def factory(row: dict[str, Any]) -> Any:
        return client_for_integration(row, store=store, allow_loopback=True)

    new_s: list[float] = []
    noop_s: list[float] = []
    notes: list[str] = []
    try:
        for _ in range(b.args.poll_reps):
            with NinjaOneSim() as new_sim, NinjaOneSim() as noop_sim:
                assert isinstance(new_sim, NinjaOneSim) and isinstance(noop_sim, NinjaOneSim)
                clear_token_cache()
                with b.admin() as conn:
                    w = seed_tenant(conn)
                    new_iid = add_integration(conn, w, new_sim.url, ref)
                    noop_iid = add_integration(conn, w, noop_sim.url, ref)
                    known_alerts(conn, w["tenant"], noop_iid, b.args.noop)
                new_sim.fire_many(b.args.new)
                noop_sim.fire_many(b.args.noop)
                for iid, out in ((new_iid, new_s), (noop_iid, noop_s)):
                    t = time.perf_counter()
                    summary = reconcile.poll(w["tenant"], iid, pool=pool, client_factory=factory)
                    out.append(time.perf_counter() - t)
                    notes.append(f"fetched {summary.fetched:,}, triggered {summary.triggered:,}, {summary.status}")
    finally:
        pool.close()
    b.rows.append(
        Row(f"poll cycle: {b.args.new:,} new alerts", f"{median(new_s):.2f} s", target="≤ 15 s", note=notes[0])
    )
    b.rows.append(
        Row(f"poll cycle: {b.args.noop:,}-alert no-op", f"{median(noop_s):.2f} s", target="≤ 5 s", note=notes[1])
    )


IMPORT_PROBE = (
    "import sys\n"
    f"for m in {DEV_ONLY!r}: sys.modules[m] = None\n"
    "import time\n"
    "t = time.perf_counter()\n"
    "import handler\n"
    "ms = (time.perf_counter() - t) * 1000\n"
    # VmRSS, not ru_maxrss: the latter survives exec and would report the benchmark's own peak.
    "rss = [l for l in open('/proc/self/status') if l.startswith('VmRSS:')][0].split()[1]\n"
    "print(ms, int(rss) / 1024)\n"
)


def cold_imports(root: Path, reps: int) -> dict[str, tuple[float, float]]:
    """Per handler folder: median import milliseconds and resident memory (MiB) after the import."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AWS_", "POWERTOOLS_", "_X_AMZN", "DATABASE_"))}
    env.update(
        PYTHONPATH=str(root / "layers" / "core" / "python"),
        POWERTOOLS_SERVICE_NAME="rmm-alerts",
        AWS_LAMBDA_FUNCTION_NAME="rmm-alerts-bench",  # as in Lambda
        AWS_REGION="eu-west-1",
    )
    out = {}
    for folder in HANDLERS:
        times, rss = [], []
        for _ in range(reps):
            run = subprocess.run(  # noqa: S603 (our interpreter, our probe)
                [sys.executable, "-c", IMPORT_PROBE],
                cwd=root / "functions" / folder,
                env=env,
                capture_output=True,
                text=True,
                check=True,
            )
            ms, mib = run.stdout.strip().splitlines()[-1].split()
            times.append(float(ms))
            rss.append(float(mib))
        out[folder] = (median(times), median(rss))
    return out


def bench_imports(b: Bench) -> None:
    for folder, (ms, mib) in cold_imports(Path(b.args.root), b.args.import_reps).items():
        b.rows.append(Row(f"cold import `{folder}`", f"{ms:.0f} ms", target="≤ 300 ms", note=f"RSS {mib:.0f} MiB"))


def _tree_bytes(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file() and "__pycache__" not in p.parts)


def bench_layer(b: Bench) -> None:
    how = "installed runtime deps of requirements/layer.txt + core package (this machine's wheels)"
    size = None
    if b.args.layer == "build":
        try:
            from infra.layer import build_layer

            out = Path(tempfile.mkdtemp(prefix="rmm-layer-"))
            try:
                build_layer(out)
                size = _tree_bytes(out)
                how = "built layer (infra.layer.build_layer, Lambda's platform)"
            finally:
                shutil.rmtree(out, ignore_errors=True)
        except Exception as exc:  # offline or no wheels for the target: fall back, and say so
            how += f"; build failed: {type(exc).__name__}"
    if size is None:
        size = _tree_bytes(LAYER_PYTHON)
        for line in (ROOT / "requirements" / "layer.txt").read_text().splitlines():
            if line and line[0].isalnum() and "==" in line:
                name = line.split("==")[0]
                dist = metadata.distribution(name)
                size += sum(
                    f.size or 0
                    for f in (dist.files or [])
                    if "__pycache__" not in str(f) and not str(f).endswith(".pyc")
                )
    b.rows.append(Row("layer size (unzipped)", f"{size / 1024 / 1024:.1f} MiB", target="≤ 250 MiB (Lambda)", note=how))


# ---------------------------------------------------------------------------------------------
# Poll-cycle fixtures (the loopback NinjaOne fake's alerts)


def seed_tenant(conn: psycopg.Connection[Any]) -> dict[str, Any]:
    t, board, client, contact = (uuid.uuid4() for _ in range(4))
    x = conn.execute
    x("INSERT INTO tenants (tenant, tenant_name) VALUES (%s, 'Bench MSP')", (t,))
    x("INSERT INTO boards (tenant, board_id, board_name, is_default) VALUES (%s, %s, 'Desk', true)", (t, board))
    for name, closed, default, order in (("New", False, True, 1), ("Closed", True, False, 2)):
        x(
            """INSERT INTO statuses (tenant, board_id, name, is_closed, is_default, order_number)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (t, board, name, closed, default, order),
        )
    for order, name in enumerate(("Urgent", "High", "Medium", "Low"), start=1):
        x("INSERT INTO priorities (tenant, priority_name, order_number) VALUES (%s, %s, %s)", (t, name, order))
    x(
        "INSERT INTO clients (tenant, client_id, client_name, properties) VALUES (%s, %s, 'Acme', %s)",
        (t, client, Jsonb({"primary_contact_id": str(contact)})),
    )
    x(
        "INSERT INTO contacts (tenant, contact_name_id, client_id, full_name) VALUES (%s, %s, %s, 'Pat')",
        (t, contact, client),
    )
    return {"tenant": t, "client": client}


def add_integration(conn: psycopg.Connection[Any], w: dict[str, Any], url: str, ref: str) -> uuid.UUID:
    iid = uuid.uuid4()
    conn.execute(
        """INSERT INTO rmm_integrations (tenant, integration_id, provider, name, instance_url, credentials_ref)
           VALUES (%s, %s, 'ninjaone', 'Bench', %s, %s)""",
        (w["tenant"], iid, url, ref),
    )
    conn.execute(
        """INSERT INTO rmm_organization_mappings (tenant, integration_id, external_organization_id, client_id)
           VALUES (%s, %s, '2', %s)""",
        (w["tenant"], iid, w["client"]),
    )
    conn.execute(
        """INSERT INTO rmm_alert_rules (tenant, integration_id, name, priority_order, conditions, actions)
           VALUES (%s, %s, 'All', 1, '{}', '{"createTicket": true, "autoResolveTicket": true}')""",
        (w["tenant"], iid),
    )
    return iid


def known_alerts(conn: psycopg.Connection[Any], tenant: uuid.UUID, iid: uuid.UUID, count: int) -> None:
    """``count`` open local alerts matching NinjaOneSim.fire_many(count) (device, condition, uid)."""
    conn.execute(
        """INSERT INTO rmm_alerts (tenant, integration_id, provider, external_alert_id, external_device_id,
                                   condition_id, dedup_key, severity, status, triggered_at, rmm_alert_uid)
           SELECT %(t)s, %(i)s, 'ninjaone', 'act-' || n, (1000 + n / 10)::text, 'cond-' || (n %% 10),
                  (1000 + n / 10)::text || ':cond-' || (n %% 10), 'moderate', 'active', now() - interval '1 hour',
                  lpad((1000 + n / 10)::text, 8, '0') || '-' || lpad((n %% 10)::text, 4, '0') || '-sim'
             FROM generate_series(0, %(c)s - 1) AS n""",
        {"t": tenant, "i": iid, "c": count},
    )


# ---------------------------------------------------------------------------------------------


FIGURES: dict[str, Callable[[Bench], None]] = {
    "floor": bench_floor,
    "ingest": bench_ingest,
    "trips": bench_round_trips,
    "throughput": bench_throughput,
    "storm": bench_storm,
    "poll": bench_poll,
    "imports": bench_imports,
    "layer": bench_layer,
}
NEEDS_DB = {"floor", "ingest", "trips", "throughput", "storm", "poll"}


def table(rows: list[Row]) -> str:
    lines = ["| figure | median | ratio | target | note |", "|---|---:|---:|---|---|"]
    lines += [f"| {r.figure} | {r.value} | {r.ratio} | {r.target} | {r.note} |" for r in rows]
    return "\n".join(lines)


def update_doc(text: str, header: str) -> None:
    start, end = "<!-- bench:start -->", "<!-- bench:end -->"
    doc = DOC.read_text()
    before, rest = doc.split(start, 1)
    _, after = rest.split(end, 1)
    DOC.write_text(f"{before}{start}\n{header}\n\n{text}\n{end}{after}")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--only", default=",".join(FIGURES), help="comma-separated figures: " + ", ".join(FIGURES))
    parser.add_argument("--reps", type=int, default=3, help="repetitions of each timed figure (median shown)")
    parser.add_argument("--samples", type=int, default=60, help="deliveries per outcome per repetition")
    parser.add_argument("--floor-samples", type=int, default=300)
    parser.add_argument(
        "--history",
        type=int,
        default=20_000,
        help="alerts of another tenant the database starts with, analyzed (0: an empty, unanalyzed database)",
    )
    parser.add_argument("--throughput-alerts", type=int, default=400)
    parser.add_argument("--throughput-workers", default="1,4,8", help="worker counts of the throughput figure")
    parser.add_argument(
        "--workers-as",
        choices=("processes", "threads"),
        default="processes",
        help="throughput and storm workers: separate processes (as Lambda instances) or threads here",
    )
    parser.add_argument(
        "--no-metrics",
        action="store_true",
        help="worker processes run with POWERTOOLS_METRICS_DISABLED, as the threads must",
    )
    parser.add_argument("--storm", type=int, default=5000, help="alerts in the full storm")
    parser.add_argument("--poll-reps", type=int, default=3)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--noop", type=int, default=10_000)
    parser.add_argument("--import-reps", type=int, default=5)
    parser.add_argument("--root", default=str(ROOT), help="checkout whose handlers' cold imports are measured")
    parser.add_argument("--layer", choices=("build", "installed"), default="build")
    parser.add_argument("--update-docs", action="store_true", help="rewrite the table in docs/performance.md")
    args = parser.parse_args(argv)
    chosen = [f.strip() for f in args.only.split(",") if f.strip()]
    unknown = set(chosen) - set(FIGURES)
    if unknown:
        parser.error(f"unknown figures: {sorted(unknown)}")
    if any(f in NEEDS_DB for f in chosen) and "floor" not in chosen and {"ingest"} & set(chosen):
        chosen.insert(0, "floor")  # ratios need the floor
    # The handler logs a line per alert (and prints metrics): kept, but sent to /dev/null so the
    # cost is measured and the table stays readable.
    out = sys.stdout
    started = time.perf_counter()
    b = Bench("", "", args)
    with open(os.devnull, "w") as sink:
        sys.stdout = sink
        try:
            if any(f in NEEDS_DB for f in chosen):
                with database(args.history) as (admin_url, app_url):
                    os.environ["DATABASE_URL"] = app_url
                    config.cached.cache_clear()
                    b = Bench(admin_url, app_url, args)
                    for f in chosen:
                        print(f"bench: {f}", file=sys.stderr, flush=True)
                        FIGURES[f](b)
            else:
                for f in chosen:
                    FIGURES[f](b)
        finally:
            sys.stdout = out
    header = (
        f"Measured {time.strftime('%Y-%m-%d %H:%M UTC', time.gmtime())} on {os.cpu_count()} cores "
        f"(Python {sys.version.split()[0]}), {args.reps} repetitions, medians; "
        f"whole run {time.perf_counter() - started:.0f} s."
    )
    text = table(b.rows)
    print(header + "\n\n" + text)
    if args.update_docs:
        update_doc(text, header)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
