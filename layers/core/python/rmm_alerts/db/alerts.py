"""SQL for ``rmm_alerts`` and the configuration the pipeline reads (mappings, rules, windows).

Every statement is scoped by tenant.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

_TRIGGER_CONTEXT = """
SELECT
    (SELECT alert_id FROM rmm_alerts
      WHERE tenant = %(t)s AND integration_id = %(i)s AND external_alert_id = %(x)s) AS existing_alert_id,
    om.client_id          AS mapping_client_id,
    om.default_contact_id AS mapping_contact_id,
    mc.properties ->> 'primary_contact_id' AS mapping_client_primary_contact,
    dm.asset_id           AS asset_id,
    a.client_id           AS asset_client_id,
    ac.properties ->> 'primary_contact_id' AS asset_client_primary_contact,
    (SELECT coalesce(json_agg(r ORDER BY r.priority_order, r.created_at), '[]'::json)
       FROM (SELECT rule_id, integration_id, name, priority_order, is_active, conditions, actions, created_at
               FROM rmm_alert_rules
              WHERE tenant = %(t)s AND integration_id = %(i)s AND is_active) r) AS rules,
    (SELECT coalesce(json_agg(w ORDER BY w.created_at, w.window_id), '[]'::json)
       FROM (SELECT window_id, name, is_active, integration_id, client_id, asset_id,
                    starts_at, ends_at, recurrence, created_at
               FROM rmm_maintenance_windows
              WHERE tenant = %(t)s AND is_active
                AND (integration_id IS NULL OR integration_id = %(i)s)) w) AS windows,
    (SELECT row_to_json(g) FROM (
        SELECT t.ticket_id, t.ticket_number, al.alert_id AS primary_alert_id
          FROM rmm_alerts al
          JOIN tickets t ON t.tenant = al.tenant AND t.ticket_id = al.ticket_id
          LEFT JOIN statuses s ON s.tenant = t.tenant AND s.status_id = t.status_id
         WHERE al.tenant = %(t)s AND al.integration_id = %(i)s AND al.dedup_key = %(d)s
           AND al.ticket_id IS NOT NULL
           AND t.closed_at IS NULL AND NOT coalesce(s.is_closed, false)
         ORDER BY al.auto_ticket_created DESC, al.created_at
         LIMIT 1) g) AS open_group,
    -- An open alert of this group that the poller ingested from the RMM's REST API: a webhook
    -- TRIGGERED for the group is its (late) delivery, not a new occurrence.
    (SELECT al.alert_id FROM rmm_alerts al
      WHERE al.tenant = %(t)s AND al.integration_id = %(i)s AND al.dedup_key = %(d)s
        AND al.status IN ('active', 'acknowledged', 'suppressed')
        AND al.metadata -> 'raw' ->> 'source' = 'poll'
      ORDER BY al.created_at LIMIT 1) AS poll_twin_id
FROM (SELECT 1) AS one
LEFT JOIN rmm_organization_mappings om
       ON om.tenant = %(t)s AND om.integration_id = %(i)s AND om.external_organization_id = %(o)s
LEFT JOIN clients mc ON mc.tenant = om.tenant AND mc.client_id = om.client_id
LEFT JOIN rmm_device_mappings dm
       ON dm.tenant = %(t)s AND dm.integration_id = %(i)s AND dm.external_device_id = %(dev)s
LEFT JOIN assets a ON a.tenant = dm.tenant AND a.asset_id = dm.asset_id
LEFT JOIN clients ac ON ac.tenant = a.tenant AND ac.client_id = a.client_id
"""

# Alerts a reset/ack applies to: paired by pairing id when both sides have one, else by
# device + condition (the dedup key). With the rule's actions and the linked ticket's state.
_LIFECYCLE_TARGETS = """
SELECT al.alert_id, al.status, al.ticket_id, al.dedup_key, al.pairing_key, al.matched_rule_id,
       al.external_alert_id, al.external_device_id, al.severity, al.message, al.source_type,
       al.alert_class, al.asset_id, al.client_id, al.triggered_at,
       r.actions AS rule_actions,
       t.ticket_number, t.board_id, t.status_id AS ticket_status_id,
       (t.closed_at IS NOT NULL OR coalesce(s.is_closed, false)) AS ticket_closed,
       t.attributes -> 'rmm_alert' ->> 'initial_status_id' AS initial_status_id,
       EXISTS (SELECT 1 FROM comments c
                WHERE c.tenant = t.tenant AND c.ticket_id = t.ticket_id AND NOT c.is_system_generated)
           AS has_human_comment,
       EXISTS (SELECT 1 FROM time_entries te
                WHERE te.tenant = t.tenant AND te.work_item_type = 'ticket' AND te.work_item_id = t.ticket_id)
           AS has_time_entry,
       (SELECT cs.status_id FROM statuses cs
         WHERE cs.tenant = al.tenant AND cs.is_closed AND cs.status_type = 'ticket'
         ORDER BY (cs.status_id::text = r.actions ->> 'autoResolveStatusId') DESC NULLS LAST,
                  (cs.board_id = t.board_id) DESC NULLS LAST, cs.order_number, cs.name
         LIMIT 1) AS close_status_id,
       -- Alerts on the same ticket that this event does not resolve and that are still active.
       (SELECT count(*) FROM rmm_alerts o
         WHERE o.tenant = al.tenant AND o.ticket_id = al.ticket_id
           AND o.status IN ('active', 'acknowledged')
           AND NOT coalesce(o.integration_id = %(i)s
                            AND o.status = ANY(%(statuses)s)
                            AND (o.pairing_key = %(p)s
                                 OR ((o.pairing_key IS NULL OR %(p)s::text IS NULL) AND o.dedup_key = %(d)s)),
                            false)) AS others_active
  FROM rmm_alerts al
  LEFT JOIN rmm_alert_rules r ON r.tenant = al.tenant AND r.rule_id = al.matched_rule_id
  LEFT JOIN tickets t ON t.tenant = al.tenant AND t.ticket_id = al.ticket_id
  LEFT JOIN statuses s ON s.tenant = t.tenant AND s.status_id = t.status_id
 WHERE al.tenant = %(t)s AND al.integration_id = %(i)s
   AND al.status = ANY(%(statuses)s)
   AND (al.pairing_key = %(p)s
        OR ((al.pairing_key IS NULL OR %(p)s::text IS NULL) AND al.dedup_key = %(d)s))
 ORDER BY al.created_at
 FOR UPDATE OF al
"""

_INSERT_ALERT = """
INSERT INTO rmm_alerts (
    tenant, alert_id, integration_id, provider, external_alert_id, external_device_id, condition_id,
    pairing_key, dedup_key, activity_type, alert_class, source_type, severity, message, device_name,
    external_organization_id, external_organization_name, status, triggered_at, last_occurrence_at,
    matched_rule_id, suppressed_by_window_id, asset_id, client_id, ticket_id, auto_ticket_created, metadata,
    decision_trace)
VALUES (
    %(tenant)s, %(alert_id)s, %(integration_id)s, %(provider)s, %(external_alert_id)s, %(external_device_id)s,
    %(condition_id)s, %(pairing_key)s, %(dedup_key)s, %(activity_type)s, %(alert_class)s, %(source_type)s,
    %(severity)s, %(message)s, %(device_name)s, %(external_organization_id)s, %(external_organization_name)s,
    %(status)s, %(triggered_at)s, %(triggered_at)s, %(matched_rule_id)s, %(suppressed_by_window_id)s,
    %(asset_id)s, %(client_id)s, %(ticket_id)s, %(auto_ticket_created)s, %(metadata)s, %(decision_trace)s)
"""

# A suppressed alert re-decided at window end: the decision columns are replaced, the stored raw
# payload and trigger time stay, the suppressed decision is kept in the trace.
_REPLACE_SUPPRESSED = """
UPDATE rmm_alerts
   SET status = %(status)s, matched_rule_id = %(matched_rule_id)s,
       suppressed_by_window_id = %(suppressed_by_window_id)s, asset_id = %(asset_id)s, client_id = %(client_id)s,
       ticket_id = %(ticket_id)s, auto_ticket_created = %(auto_ticket_created)s,
       metadata = metadata || jsonb_build_object('releasedAt', %(metadata)s::jsonb -> 'receivedAt'),
       decision_trace = %(decision_trace)s::jsonb || jsonb_build_object('suppressedTrace', decision_trace),
       updated_at = now()
 WHERE tenant = %(tenant)s AND alert_id = %(alert_id)s AND status = 'suppressed'
"""


class AlertRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def lock_group(self, lock_key: int) -> None:
        """Serialize every writer of one (tenant, integration, dedup key) until commit."""
        self.conn.execute("SELECT pg_advisory_xact_lock(%s)", (lock_key,))

    def trigger_context(
        self,
        tenant: UUID,
        integration_id: UUID,
        *,
        external_alert_id: str,
        external_device_id: str | None,
        external_organization_id: str | None,
        dedup_key: str,
    ) -> dict[str, Any]:
        """Everything a trigger decision needs, in one round trip."""
        row = self.conn.execute(
            _TRIGGER_CONTEXT,
            {
                "t": tenant,
                "i": integration_id,
                "x": external_alert_id,
                "o": external_organization_id,
                "dev": external_device_id,
                "d": dedup_key,
            },
        ).fetchone()
        assert row is not None
        return row

    def insert(self, values: dict[str, Any]) -> None:
        params = dict(values)
        params["metadata"] = Jsonb(params["metadata"])
        params["decision_trace"] = Jsonb(params["decision_trace"])
        self.conn.execute(_REPLACE_SUPPRESSED if params.pop("replace_suppressed", False) else _INSERT_ALERT, params)

    def adopt_webhook(self, tenant: UUID, alert_id: UUID, *, pairing_key: str | None, activity_id: str) -> None:
        """A polled alert's late webhook: keep its pairing key (seriesUid) and activity id."""
        self.conn.execute(
            """UPDATE rmm_alerts
                  SET pairing_key = coalesce(pairing_key, %s), updated_at = now(),
                      metadata = metadata || jsonb_build_object('webhookActivityId', %s::text)
                WHERE tenant = %s AND alert_id = %s""",
            (pairing_key, activity_id, tenant, alert_id),
        )

    def is_suppressed(self, tenant: UUID, alert_id: UUID) -> bool:
        row = self.conn.execute(
            "SELECT status FROM rmm_alerts WHERE tenant = %s AND alert_id = %s FOR UPDATE", (tenant, alert_id)
        ).fetchone()
        return bool(row and row["status"] == "suppressed")

    def append_occurrence(
        self,
        tenant: UUID,
        *,
        primary_alert_id: UUID,
        new_alert_id: UUID,
        ticket_id: UUID,
        at: datetime,
        now: datetime,
        suffix: str,
    ) -> None:
        """Count one more occurrence on the group's primary alert, note the ticket, and record the
        number in the new alert's trace, in one statement."""
        self.conn.execute(
            """WITH bumped AS (
                   UPDATE rmm_alerts SET occurrence_count = occurrence_count + 1,
                          last_occurrence_at = greatest(last_occurrence_at, %(at)s), updated_at = now()
                    WHERE tenant = %(t)s AND alert_id = %(primary)s
                RETURNING occurrence_count),
               note AS (
                   INSERT INTO comments (tenant, ticket_id, user_id, note, is_internal, is_system_generated,
                                         created_at)
                   SELECT %(t)s, %(ticket)s, NULL,
                          'Alert re-triggered — occurrence ' || b.occurrence_count || %(suffix)s,
                          true, true, %(now)s
                     FROM bumped b),
               touched AS (
                   UPDATE tickets SET updated_at = greatest(updated_at, %(now)s)
                    WHERE tenant = %(t)s AND ticket_id = %(ticket)s),
               traced AS (
                   UPDATE rmm_alerts a
                      SET decision_trace = jsonb_set(a.decision_trace, '{group,occurrence}',
                                                     to_jsonb(b.occurrence_count))
                     FROM bumped b
                    WHERE a.tenant = %(t)s AND a.alert_id = %(new)s)
               SELECT occurrence_count FROM bumped""",
            {
                "t": tenant,
                "primary": primary_alert_id,
                "new": new_alert_id,
                "ticket": ticket_id,
                "at": at,
                "now": now,
                "suffix": suffix,
            },
        )

    def lifecycle_targets(
        self,
        tenant: UUID,
        integration_id: UUID,
        *,
        pairing_key: str | None,
        dedup_key: str,
        statuses: list[str],
    ) -> list[dict[str, Any]]:
        return self.conn.execute(
            _LIFECYCLE_TARGETS,
            {"t": tenant, "i": integration_id, "p": pairing_key, "d": dedup_key, "statuses": statuses},
        ).fetchall()

    def was_seen(self, tenant: UUID, integration_id: UUID, *, pairing_key: str | None, dedup_key: str) -> bool:
        row = self.conn.execute(
            """SELECT EXISTS (SELECT 1 FROM rmm_alerts
                               WHERE tenant = %(t)s AND integration_id = %(i)s
                                 AND (pairing_key = %(p)s OR dedup_key = %(d)s)) AS seen""",
            {"t": tenant, "i": integration_id, "p": pairing_key, "d": dedup_key},
        ).fetchone()
        return bool(row and row["seen"])

    def resolve(
        self,
        tenant: UUID,
        alert_id: UUID,
        *,
        status: str,
        resolved_at: datetime,
        metadata_patch: dict[str, Any],
        trace_patch: dict[str, Any],
    ) -> None:
        self.conn.execute(
            """UPDATE rmm_alerts
                  SET status = %s, resolved_at = %s, updated_at = now(),
                      metadata = metadata || %s, decision_trace = decision_trace || %s
                WHERE tenant = %s AND alert_id = %s""",
            (status, resolved_at, Jsonb(metadata_patch), Jsonb(trace_patch), tenant, alert_id),
        )

    def acknowledge(
        self, tenant: UUID, alert_id: UUID, *, at: datetime, by: str | None, metadata_patch: dict[str, Any]
    ) -> None:
        self.conn.execute(
            """UPDATE rmm_alerts
                  SET status = 'acknowledged', acknowledged_at = %s, acknowledged_by = %s, updated_at = now(),
                      metadata = metadata || %s
                WHERE tenant = %s AND alert_id = %s""",
            (at, by, Jsonb(metadata_patch), tenant, alert_id),
        )
