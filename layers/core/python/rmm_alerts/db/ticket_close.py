"""SQL for the ticket-closed subscriber (rmm_alerts.outbound) and the dev-only ticket close.

Every statement is scoped by tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

from psycopg.types.json import Jsonb

from rmm_alerts.db import Executor

# Everything the subscriber needs, in one statement on the (tenant, ticket_id) index: the ticket's
# open alerts with their rule's actions, their integration and who closed the ticket. No rows: a
# ticket without open alerts, an unknown ticket or an unknown tenant.
_TARGETS = """
SELECT al.alert_id, al.integration_id, al.provider, al.status, al.dedup_key, al.condition_id,
       al.external_alert_id, al.external_device_id, al.rmm_alert_uid, al.severity, al.message,
       al.source_type, al.alert_class, al.asset_id, al.client_id, al.matched_rule_id, al.created_at,
       r.actions AS rule_actions,
       i.instance_url, i.credentials_ref, i.is_active AS integration_active,
       (SELECT nullif(trim(concat_ws(' ', u.first_name, u.last_name)), '')
          FROM users u WHERE u.tenant = al.tenant AND u.user_id = %(u)s) AS closed_by_name
  FROM rmm_alerts al
  LEFT JOIN rmm_alert_rules r ON r.tenant = al.tenant AND r.rule_id = al.matched_rule_id
  LEFT JOIN rmm_integrations i ON i.tenant = al.tenant AND i.integration_id = al.integration_id
 WHERE al.tenant = %(t)s AND al.ticket_id = %(k)s AND al.status IN ('active', 'acknowledged')
"""


class TicketCloseRepository:
    def __init__(self, conn: Executor) -> None:
        self.conn = conn

    def targets(self, tenant: UUID, ticket_id: UUID, closed_by_user_id: UUID | None) -> list[dict[str, Any]]:
        rows = self.conn.execute(_TARGETS, {"t": tenant, "k": ticket_id, "u": closed_by_user_id}).fetchall()
        # Sorted here: an ORDER BY tempts the planner onto the tenant's created_at index.
        return sorted(rows, key=lambda r: (r["created_at"], str(r["alert_id"])))

    def claim(self, tenant: UUID, alert_ids: list[UUID], ttl_s: int) -> dict[UUID, bool]:
        """Mark the still-open alerts among ``alert_ids`` as being reset by this invocation until
        ``ttl_s`` from now (row locks only, one statement). Returns the alerts still open, each
        with whether it was claimed (false: another invocation holds an unexpired claim)."""
        rows = self.conn.execute(
            """WITH claimed AS (
                   UPDATE rmm_alerts
                      SET metadata = metadata || jsonb_build_object(
                              'ticketCloseClaim', jsonb_build_object('until', now() + make_interval(secs => %(ttl)s)))
                    WHERE tenant = %(t)s AND alert_id = ANY(%(ids)s) AND status IN ('active', 'acknowledged')
                      AND coalesce((metadata #>> '{ticketCloseClaim,until}')::timestamptz, '-infinity') < now()
                RETURNING alert_id)
               SELECT al.alert_id, EXISTS (SELECT 1 FROM claimed c WHERE c.alert_id = al.alert_id) AS claimed
                 FROM rmm_alerts al
                WHERE al.tenant = %(t)s AND al.alert_id = ANY(%(ids)s) AND al.status IN ('active', 'acknowledged')""",
            {"ttl": ttl_s, "t": tenant, "ids": alert_ids},
        ).fetchall()
        return {r["alert_id"]: bool(r["claimed"]) for r in rows}

    def current(self, tenant: UUID, alert_id: UUID) -> dict[str, Any] | None:
        """The alert's status and ticket-close bookkeeping, locked until commit."""
        return self.conn.execute(
            """SELECT status, ticket_id, metadata -> 'ticketClose' AS ticket_close
                 FROM rmm_alerts WHERE tenant = %s AND alert_id = %s FOR UPDATE""",
            (tenant, alert_id),
        ).fetchone()

    def record(self, tenant: UUID, alert_id: UUID, ticket_close: dict[str, Any]) -> None:
        """Store the outcome of an attempt and release the claim (the status is left as it is)."""
        self.conn.execute(
            """UPDATE rmm_alerts
                  SET metadata = metadata || jsonb_build_object('ticketClose', %s::jsonb, 'ticketCloseClaim', null),
                      updated_at = now()
                WHERE tenant = %s AND alert_id = %s""",
            (Jsonb(ticket_close), tenant, alert_id),
        )

    # -- rmm-alerts ticket close (dev only: what a technician's close in the PSA does) -------------

    def close_by_number(self, ticket_number: str, tenant: UUID | None, at: datetime) -> list[dict[str, Any]]:
        """Close the ticket numbered ``ticket_number`` (in ``tenant``, or in whichever tenant has it)
        with its board's first closed status. Returns the matching tickets (several: ambiguous,
        nothing changed)."""
        rows = self.conn.execute(
            """SELECT t.tenant, t.ticket_id, t.ticket_number, t.closed_at,
                      (SELECT s.status_id FROM statuses s
                        WHERE s.tenant = t.tenant AND s.is_closed AND s.status_type = 'ticket'
                        ORDER BY (s.board_id = t.board_id) DESC NULLS LAST, s.order_number, s.name
                        LIMIT 1) AS close_status_id
                 FROM tickets t
                WHERE t.ticket_number = %s AND (%s::uuid IS NULL OR t.tenant = %s)
                FOR UPDATE OF t""",
            (ticket_number, tenant, tenant),
        ).fetchall()
        if len(rows) == 1 and rows[0]["closed_at"] is None:
            self.conn.execute(
                """UPDATE tickets SET status_id = coalesce(%s, status_id), closed_at = %s, updated_at = %s
                    WHERE tenant = %s AND ticket_id = %s""",
                (rows[0]["close_status_id"], at, at, rows[0]["tenant"], rows[0]["ticket_id"]),
            )
        return rows
