-- The alert path's three big reads as PL/pgSQL functions, for their cached plans.
--
-- Behind a transaction pooler (PgBouncer, RDS Proxy) the service sends no server-side prepared
-- statements, so PostgreSQL plans every statement it receives, and these three cost more to plan
-- than to run (measured on the 21-rule benchmark: planning ~0.7-2 ms, execution ~0.25 ms). A
-- PL/pgSQL function keeps the plans of its statements for the life of the server process, which
-- the pooler reuses across clients, so they are planned once per server connection. Nothing is
-- left in the session that a pooler would have to pin. The callers are in db/alerts.py.
--
-- Output columns share names with table columns: the bodies resolve names to columns.

-- What a trigger decision needs that does not change under the group lock: the integration's
-- tenant, client and asset mappings, whether the alert is already stored (a replay), and the rules
-- and windows as JSON text. p_tenant NULL: the integration's own tenant (a webhook reads this in
-- its lookup's round trip, before it has authenticated the delivery). No row: no such integration.
CREATE FUNCTION rmm_trigger_config(
    p_tenant uuid, p_integration uuid, p_external_alert_id text, p_organization text, p_device text)
RETURNS TABLE (
    tenant uuid, mapping_client_id uuid, mapping_contact_id uuid, mapping_client_primary_contact text,
    asset_id uuid, asset_client_id uuid, asset_client_primary_contact text, existing_alert_id uuid,
    rules text, windows text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    v_tenant uuid;
BEGIN
    SELECT i.tenant INTO v_tenant
      FROM rmm_integrations i
     WHERE i.integration_id = p_integration AND (p_tenant IS NULL OR i.tenant = p_tenant);
    IF v_tenant IS NULL THEN
        RETURN;
    END IF;
    RETURN QUERY
    SELECT
        v_tenant,
        om.client_id,
        om.default_contact_id,
        mc.properties ->> 'primary_contact_id',
        dm.asset_id,
        a.client_id,
        ac.properties ->> 'primary_contact_id',
        (SELECT al.alert_id FROM rmm_alerts al
          WHERE al.tenant = v_tenant AND al.integration_id = p_integration
            AND al.external_alert_id = p_external_alert_id),
        (SELECT coalesce(json_agg(r ORDER BY r.priority_order, r.created_at), '[]'::json)::text
           FROM (SELECT ru.rule_id, ru.integration_id, ru.name, ru.priority_order, ru.is_active, ru.conditions,
                        ru.actions, ru.created_at
                   FROM rmm_alert_rules ru
                  WHERE ru.tenant = v_tenant AND ru.integration_id = p_integration AND ru.is_active) r),
        (SELECT coalesce(json_agg(w ORDER BY w.created_at, w.window_id), '[]'::json)::text
           FROM (SELECT mw.window_id, mw.name, mw.is_active, mw.integration_id, mw.client_id, mw.asset_id,
                        mw.starts_at, mw.ends_at, mw.recurrence, mw.created_at
                   FROM rmm_maintenance_windows mw
                  WHERE mw.tenant = v_tenant AND mw.is_active
                    AND (mw.integration_id IS NULL OR mw.integration_id = p_integration)) w)
    FROM (SELECT 1) AS one
    LEFT JOIN rmm_organization_mappings om
           ON om.tenant = v_tenant AND om.integration_id = p_integration
          AND om.external_organization_id = p_organization
    LEFT JOIN clients mc ON mc.tenant = om.tenant AND mc.client_id = om.client_id
    LEFT JOIN rmm_device_mappings dm
           ON dm.tenant = v_tenant AND dm.integration_id = p_integration AND dm.external_device_id = p_device
    LEFT JOIN assets a ON a.tenant = dm.tenant AND a.asset_id = dm.asset_id
    LEFT JOIN clients ac ON ac.tenant = a.tenant AND ac.client_id = a.client_id;
END
$$;

-- The dedup group's state, read under its lock: a replay, the open ticket to join, a reset that
-- arrived before this trigger (same device, and same condition or pairing id, no earlier than it),
-- an open alert of the group that the poller ingested (a webhook trigger for the group is its late
-- delivery), and, for the poller's release of a suppressed alert, that alert's status now.
CREATE FUNCTION rmm_group_state(
    p_tenant uuid, p_integration uuid, p_external_alert_id text, p_device text, p_dedup_key text,
    p_pairing_key text, p_at timestamptz, p_now timestamptz, p_released uuid)
RETURNS TABLE (
    existing_alert_id uuid, open_group json, early_reset json, poll_twin_id uuid, released_status text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT
        (SELECT al.alert_id FROM rmm_alerts al
          WHERE al.tenant = p_tenant AND al.integration_id = p_integration
            AND al.external_alert_id = p_external_alert_id),
        (SELECT row_to_json(g) FROM (
            SELECT t.ticket_id, t.ticket_number, al.alert_id AS primary_alert_id
              FROM rmm_alerts al
              JOIN tickets t ON t.tenant = al.tenant AND t.ticket_id = al.ticket_id
              LEFT JOIN statuses s ON s.tenant = t.tenant AND s.status_id = t.status_id
             WHERE al.tenant = p_tenant AND al.integration_id = p_integration AND al.dedup_key = p_dedup_key
               AND al.ticket_id IS NOT NULL
               AND t.closed_at IS NULL AND NOT coalesce(s.is_closed, false)
             ORDER BY al.auto_ticket_created DESC, al.created_at
             LIMIT 1) g),
        (SELECT row_to_json(er) FROM (
            SELECT e.reset_id, e.external_alert_id, e.occurred_at, e.received_at, e.payload
              FROM rmm_early_resets e
             WHERE e.tenant = p_tenant AND e.integration_id = p_integration
               AND e.expires_at > p_now AND e.occurred_at >= p_at
               AND e.external_device_id IS NOT DISTINCT FROM p_device
               AND (e.dedup_key = p_dedup_key OR (p_pairing_key IS NOT NULL AND e.pairing_key = p_pairing_key))
             ORDER BY e.occurred_at, e.reset_id
             LIMIT 1) er),
        (SELECT al.alert_id FROM rmm_alerts al
          WHERE al.tenant = p_tenant AND al.integration_id = p_integration AND al.dedup_key = p_dedup_key
            AND al.status IN ('active', 'acknowledged', 'suppressed')
            AND al.metadata -> 'raw' ->> 'source' = 'poll'
          ORDER BY al.created_at LIMIT 1),
        (SELECT al.status FROM rmm_alerts al WHERE al.tenant = p_tenant AND al.alert_id = p_released);
END
$$;

-- The alerts a reset/ack applies to, always within the event's device: those with its pairing id,
-- else (none, or no pairing id) those of its device + condition (the dedup key), locked. With the
-- rule's actions and the linked ticket's state; the close status is a closed status of the
-- ticket's own board (or a board-less one), the rule's autoResolveStatusId first when it is one.
CREATE FUNCTION rmm_lifecycle_targets(
    p_tenant uuid, p_integration uuid, p_device text, p_pairing_key text, p_dedup_key text, p_statuses text[])
RETURNS TABLE (
    alert_id uuid, status text, ticket_id uuid, dedup_key text, pairing_key text, matched_rule_id uuid,
    external_alert_id text, external_device_id text, severity text, message text, source_type text,
    alert_class text, asset_id uuid, client_id uuid, triggered_at timestamptz, rule_actions jsonb,
    ticket_number text, board_id uuid, ticket_status_id uuid, ticket_closed boolean, initial_status_id text,
    has_human_comment boolean, has_time_entry boolean, close_status_id uuid, others_active bigint)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    WITH candidates AS (
        SELECT al.alert_id,
               coalesce(p_pairing_key IS NOT NULL AND al.pairing_key = p_pairing_key, false) AS by_pairing
          FROM rmm_alerts al
         WHERE al.tenant = p_tenant AND al.integration_id = p_integration
           AND al.status = ANY(p_statuses)
           AND al.external_device_id IS NOT DISTINCT FROM p_device
           AND ((p_pairing_key IS NOT NULL AND al.pairing_key = p_pairing_key) OR al.dedup_key = p_dedup_key)
    ), chosen AS (
        SELECT c.alert_id FROM candidates c
         WHERE c.by_pairing OR NOT EXISTS (SELECT 1 FROM candidates c2 WHERE c2.by_pairing)
    )
    SELECT al.alert_id, al.status, al.ticket_id, al.dedup_key::text, al.pairing_key, al.matched_rule_id,
           al.external_alert_id, al.external_device_id, al.severity, al.message, al.source_type,
           al.alert_class, al.asset_id, al.client_id, al.triggered_at,
           r.actions,
           t.ticket_number, t.board_id, t.status_id,
           (t.closed_at IS NOT NULL OR coalesce(s.is_closed, false)),
           t.attributes -> 'rmm_alert' ->> 'initial_status_id',
           EXISTS (SELECT 1 FROM comments c
                    WHERE c.tenant = t.tenant AND c.ticket_id = t.ticket_id AND NOT c.is_system_generated),
           EXISTS (SELECT 1 FROM time_entries te
                    WHERE te.tenant = t.tenant AND te.work_item_type = 'ticket' AND te.work_item_id = t.ticket_id),
           (SELECT cs.status_id FROM statuses cs
             WHERE cs.tenant = al.tenant AND cs.is_closed AND cs.status_type = 'ticket'
               AND (cs.board_id = t.board_id OR cs.board_id IS NULL)
             ORDER BY (cs.status_id::text = r.actions ->> 'autoResolveStatusId') DESC NULLS LAST,
                      (cs.board_id = t.board_id) DESC NULLS LAST, cs.order_number, cs.name
             LIMIT 1),
           -- Alerts on the same ticket that this event does not resolve and that are still active.
           (SELECT count(*) FROM rmm_alerts o
             WHERE o.tenant = al.tenant AND o.ticket_id = al.ticket_id
               AND o.status IN ('active', 'acknowledged')
               AND o.alert_id NOT IN (SELECT ch2.alert_id FROM chosen ch2))
      FROM rmm_alerts al
      JOIN chosen ch ON ch.alert_id = al.alert_id
      LEFT JOIN rmm_alert_rules r ON r.tenant = al.tenant AND r.rule_id = al.matched_rule_id
      LEFT JOIN tickets t ON t.tenant = al.tenant AND t.ticket_id = al.ticket_id
      LEFT JOIN statuses s ON s.tenant = t.tenant AND s.status_id = t.status_id
     WHERE al.tenant = p_tenant
     ORDER BY al.created_at
       FOR UPDATE OF al;
END
$$;

-- Planned for each call's own arguments (what a plain statement gets), never a generic plan: this
-- one joins alerts to tickets, statuses and rules, and a generic plan made from a young table's
-- statistics scanned every ticket of the tenant per target (a reset took ~100 ms on the benchmark).
-- Still cheaper than a plain statement: PL/pgSQL keeps the parsed query.
ALTER FUNCTION rmm_lifecycle_targets(uuid, uuid, text, text, text, text[]) SET plan_cache_mode = force_custom_plan;
