"""A running deployment's history in a test or benchmark database, and its planner statistics.

The alert path's functions run generic plans (migration 0011), chosen from the planner's
statistics. A running deployment holds months of alerts, tickets and notes, mostly of other
tenants, and autovacuum keeps the statistics current; a fresh test database has none. This adds
that history for one more tenant ("History MSP"): ``alerts`` alerts (one in ten still open, four
per ticket), their tickets (closed) and three notes per ticket, then VACUUM (ANALYZE).
"""

from __future__ import annotations

from typing import Any

import psycopg

from tests.support.world import Tenant, make_tenant


def seed_history(conn: psycopg.Connection[dict[str, Any]], alerts: int) -> Tenant:
    """``conn``: the owner, autocommit. Returns the history's tenant."""
    h = make_tenant(conn, name="History MSP")
    params = {"t": h.tenant, "i": h.integration_id, "b": h.board_id, "s": h.closed_status_id, "n": alerts}
    with conn.transaction():
        conn.execute(
            """INSERT INTO tickets (tenant, ticket_id, ticket_number, title, board_id, status_id, entered_at,
                                    closed_at)
               SELECT %(t)s, gen_random_uuid(), 'H' || g, 'history ' || g, %(b)s, %(s)s,
                      now() - g * interval '5 minutes', now() - g * interval '4 minutes'
                 FROM generate_series(1, %(n)s / 4 + 1) g""",
            params,
        )
        conn.execute(
            """INSERT INTO comments (tenant, ticket_id, note, is_internal, is_system_generated, created_at)
               SELECT t.tenant, t.ticket_id, 'history note', true, true, t.entered_at
                 FROM tickets t, generate_series(1, 3) k WHERE t.tenant = %(t)s""",
            params,
        )
        conn.execute(
            """INSERT INTO rmm_alerts (tenant, integration_id, provider, external_alert_id, external_device_id,
                                       condition_id, pairing_key, dedup_key, severity, message, status,
                                       triggered_at, ticket_id, metadata, decision_trace, rule_trace, created_at)
               SELECT %(t)s, %(i)s, 'ninjaone', 'h' || g, 'hd' || (g %% 500), 'c' || (g %% 20),
                      'p' || g, 'hd' || (g %% 500) || ':c' || (g %% 20), 'major', 'history alert ' || g,
                      CASE WHEN g %% 10 = 0 THEN 'active' ELSE 'resolved' END,
                      now() - g * interval '1 minute', tk.ticket_id,
                      '{"raw": {"source": "webhook"}}', '{"kind": "triggered"}', '[]',
                      now() - g * interval '1 minute'
                 FROM generate_series(1, %(n)s) g
                 JOIN tickets tk ON tk.tenant = %(t)s AND tk.ticket_number = 'H' || (g / 4 + 1)""",
            params,
        )
    # VACUUM as well: else autovacuum would vacuum the new rows (insert threshold) in the middle of
    # whatever is measured next.
    conn.execute("VACUUM (ANALYZE)")
    return h
