"""Benchmarks: one poll cycle against the loopback NinjaOne fake on a real PostgreSQL.

* ``poll: 1k new``   — 1,000 active alerts the service has never seen: 1,000 tickets created.
* ``poll: 10k no-op`` — 10,000 active alerts, all already known locally: nothing changes.

Targets on the 2-core dev box: 10k no-op <= 5 s, 1k new <= 15 s. Extend ``CASES`` for more figures.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parent.parent / "layers" / "core" / "python"))

import psycopg
from psycopg.types.json import Jsonb

from rmm_alerts import config, db, reconcile
from rmm_alerts.localdb import LocalServer, ensure_database
from rmm_alerts.migrations import apply_all
from rmm_alerts.ports import LocalSecretStore
from rmm_alerts.providers import client_for_integration
from rmm_alerts.providers.ninjaone import clear_token_cache
from rmm_alerts.simulator import NinjaOneSim


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


def timed(label: str, fn: Callable[[], reconcile.CycleSummary]) -> tuple[str, reconcile.CycleSummary, float]:
    started = time.perf_counter()
    summary = fn()
    return label, summary, time.perf_counter() - started


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--new", type=int, default=1000)
    parser.add_argument("--noop", type=int, default=10_000)
    args = parser.parse_args()
    server = None
    url = os.environ.get("DATABASE_URL")
    if not url:
        root = Path(tempfile.mkdtemp(prefix="rmm-alerts-bench-"))
        root.chmod(0o755)
        server = LocalServer(root / "pgdata", delete_on_stop=True)
        url = ensure_database(server.uri(), f"rmm_bench_{uuid.uuid4().hex[:8]}")
    try:
        apply_all(url)
        store = LocalSecretStore()
        ref = store.put("bench", {"clientId": "sim-client", "clientSecret": "sim-client-secret"})
        pool = db.create_pool(config.load(config.DatabaseSettings, {"DATABASE_URL": url}), max_size=4, name="bench")
        pool.open(wait=True)

        def factory(row: dict[str, Any]) -> Any:
            return client_for_integration(row, store=store, allow_loopback=True)

        rows = []
        with NinjaOneSim() as new_sim, NinjaOneSim() as noop_sim:
            assert isinstance(new_sim, NinjaOneSim) and isinstance(noop_sim, NinjaOneSim)
            clear_token_cache()
            with psycopg.connect(url, autocommit=True) as conn:
                w = seed_tenant(conn)
                new_iid = add_integration(conn, w, new_sim.url, ref)
                noop_iid = add_integration(conn, w, noop_sim.url, ref)
                known_alerts(conn, w["tenant"], noop_iid, args.noop)

            def poll_once(iid: uuid.UUID) -> reconcile.CycleSummary:
                return reconcile.poll(w["tenant"], iid, pool=pool, client_factory=factory)

            new_sim.fire_many(args.new)
            noop_sim.fire_many(args.noop)
            rows.append(
                (
                    *timed(
                        f"poll: {args.new:,} new alerts",
                        lambda: reconcile.poll(w["tenant"], new_iid, pool=pool, client_factory=factory),
                    ),
                    "≤ 15 s",
                )
            )
            rows.append(
                (
                    *timed(
                        f"poll: {args.noop:,}-alert no-op",
                        lambda: reconcile.poll(w["tenant"], noop_iid, pool=pool, client_factory=factory),
                    ),
                    "≤ 5 s",
                )
            )
        pool.close()
    finally:
        if server is not None:
            server.stop()
    print("| case | fetched | triggered | matched | status | seconds | target |")
    print("|---|---:|---:|---:|---|---:|---|")
    for label, s, seconds, target in rows:
        print(f"| {label} | {s.fetched:,} | {s.triggered:,} | {s.matched:,} | {s.status} | {seconds:.2f} | {target} |")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
