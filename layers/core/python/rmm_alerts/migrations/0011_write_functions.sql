-- The alert path, planned once and written lighter (docs/performance.md, Decisions: "Statistics
-- and generic plans", "Planning the rest", "Rules prepared once per configuration; the rules
-- evaluated in a column of their own"). In this file, in order:
--
-- 1. rule_trace: the rules a trigger evaluated, apart from the rest of its decision trace.
-- 2. One redundant index on rmm_alerts dropped.
-- 3. The alert path's remaining top-level statements as PL/pgSQL functions, for their cached plans
--    (0008's reasoning: behind a transaction pooler every statement that arrives is planned, and a
--    function's statements are planned once per server connection). Measured with
--    pg_stat_statements on the 21-rule benchmark: planning the webhook's lookup, the alert insert,
--    the reset's alert updates, note and ticket close and the outbox insert took ~0.17 ms of
--    server time per alert, a third of it on a reset; calling a function is planned in a few
--    microseconds. Two of them take their rows as one jsonb document: binding ~30 parameters one
--    by one on the client (psycopg's literal quoting) cost more than encoding one JSON document.
-- 4. Generic plans for the reads, and the two statements whose generic plans scanned, rewritten.

-- The rules a trigger evaluated, apart from the rest of its decision trace. That list is most of
-- the trace (~5 KB for 21 rules) and never changes, while the rest is patched later (the reset, the
-- ticket close, a manual ticket): each patch rewrote and recompressed the whole document, ~0.1 ms
-- per alert a reset resolves. Alerts stored before this keep their rules inside decision_trace
-- (rule_trace NULL); rmm_decision_trace() gives the whole trace either way.
ALTER TABLE rmm_alerts ADD COLUMN rule_trace jsonb;

CREATE FUNCTION rmm_decision_trace(a rmm_alerts) RETURNS jsonb
LANGUAGE sql STABLE AS $$
    SELECT CASE WHEN a.rule_trace IS NULL THEN a.decision_trace
                ELSE a.decision_trace || jsonb_build_object('rules', a.rule_trace) END
$$;

-- One index fewer to maintain on every alert insert and status change: the poll diff's "every
-- open alert of one integration" (0005) is served as well by the prefix of rmm_alerts_dedup_idx,
-- which has the same predicate.
DROP INDEX rmm_alerts_open_by_integration_idx;

-- The webhook's first round trip: the integration (to authenticate the delivery) and, when
-- p_context, a trigger's context (rmm_trigger_context, 0010) for the integration's own tenant,
-- used only once the delivery is authenticated. No row: no such integration.
CREATE FUNCTION rmm_webhook_lookup(
    p_integration uuid, p_context boolean, p_external_alert_id text, p_organization text, p_device text,
    p_known bigint)
RETURNS TABLE (
    tenant uuid, integration_id uuid, provider text, is_active boolean, webhook_secret_hash text,
    previous_webhook_secret_hash text, previous_secret_expires_at timestamptz, channel_secret_hash text,
    previous_channel_secret_hash text,
    config_tenant uuid, mapping_client_id uuid, mapping_contact_id uuid, mapping_client_primary_contact text,
    asset_id uuid, asset_client_id uuid, asset_client_primary_contact text, existing_alert_id uuid,
    config_version bigint, rules text, windows text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    i rmm_integrations%ROWTYPE;
BEGIN
    SELECT * INTO i FROM rmm_integrations WHERE integration_id = p_integration;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT p_context THEN
        RETURN QUERY
        SELECT i.tenant, i.integration_id, i.provider, i.is_active, i.webhook_secret_hash,
               i.previous_webhook_secret_hash, i.previous_secret_expires_at, i.channel_secret_hash,
               i.previous_channel_secret_hash,
               NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::uuid, NULL::uuid, NULL::text, NULL::uuid,
               NULL::bigint, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT i.tenant, i.integration_id, i.provider, i.is_active, i.webhook_secret_hash,
           i.previous_webhook_secret_hash, i.previous_secret_expires_at, i.channel_secret_hash,
           i.previous_channel_secret_hash,
           c.tenant, c.mapping_client_id, c.mapping_contact_id, c.mapping_client_primary_contact,
           c.asset_id, c.asset_client_id, c.asset_client_primary_contact, c.existing_alert_id,
           c.config_version, c.rules, c.windows
      FROM (SELECT 1) AS one
      LEFT JOIN rmm_trigger_context(i.tenant, p_integration, p_external_alert_id, p_organization, p_device,
                                    p_known) c ON true;
END
$$;

-- A new alert from one jsonb object keyed by column name (db/alerts.py builds it): the columns
-- _INSERT_ALERT listed, last_occurrence_at = triggered_at.
CREATE FUNCTION rmm_insert_alert(p_row jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO rmm_alerts (
        tenant, alert_id, integration_id, provider, external_alert_id, external_device_id, condition_id,
        pairing_key, dedup_key, activity_type, alert_class, source_type, severity, message, device_name,
        external_organization_id, external_organization_name, status, triggered_at, last_occurrence_at,
        matched_rule_id, suppressed_by_window_id, asset_id, client_id, ticket_id, auto_ticket_created, metadata,
        decision_trace, rule_trace, resolved_at)
    SELECT r.tenant, r.alert_id, r.integration_id, r.provider, r.external_alert_id, r.external_device_id,
           r.condition_id, r.pairing_key, r.dedup_key, r.activity_type, r.alert_class, r.source_type,
           r.severity, r.message, r.device_name, r.external_organization_id, r.external_organization_name,
           r.status, r.triggered_at, r.triggered_at, r.matched_rule_id, r.suppressed_by_window_id, r.asset_id,
           r.client_id, r.ticket_id, r.auto_ticket_created, r.metadata, r.decision_trace, r.rule_trace,
           r.resolved_at
      FROM jsonb_populate_record(NULL::rmm_alerts, p_row) AS r;
END
$$;

-- A reset applied to one alert: its status, the reset's raw payload into metadata, the reset's
-- decision into the trace.
CREATE FUNCTION rmm_resolve_alert(
    p_tenant uuid, p_alert uuid, p_status text, p_resolved_at timestamptz, p_metadata jsonb, p_trace jsonb)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE rmm_alerts
       SET status = p_status, resolved_at = p_resolved_at, updated_at = now(),
           metadata = metadata || p_metadata, decision_trace = decision_trace || p_trace
     WHERE tenant = p_tenant AND alert_id = p_alert;
END
$$;

-- An internal, system-generated note on a ticket, which touches the ticket.
CREATE FUNCTION rmm_add_system_note(p_tenant uuid, p_ticket uuid, p_note text, p_at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO comments (tenant, ticket_id, user_id, note, is_internal, is_system_generated, created_at)
    VALUES (p_tenant, p_ticket, NULL, p_note, true, true, p_at);
    UPDATE tickets SET updated_at = greatest(updated_at, p_at) WHERE tenant = p_tenant AND ticket_id = p_ticket;
END
$$;

-- A ticket closed by a reset (unless it is closed already).
CREATE FUNCTION rmm_close_ticket(p_tenant uuid, p_ticket uuid, p_status uuid, p_at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE tickets SET status_id = p_status, closed_at = p_at, updated_at = greatest(updated_at, p_at)
     WHERE tenant = p_tenant AND ticket_id = p_ticket AND closed_at IS NULL;
END
$$;

-- One tenant's outbox entries, in order: a jsonb array of {kind, event_type, payload, order_key}.
CREATE FUNCTION rmm_add_outbox(p_tenant uuid, p_entries jsonb) RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO rmm_outbox (tenant, kind, event_type, payload, order_key)
    SELECT p_tenant, e.kind, e.event_type, e.payload, e.order_key
      FROM ROWS FROM (jsonb_to_recordset(p_entries) AS (kind text, event_type text, payload jsonb, order_key text))
           WITH ORDINALITY AS e(kind, event_type, payload, order_key, n)
     ORDER BY e.n;
END
$$;

-- Generic plans for the alert path's reads. A PL/pgSQL statement's plan is cached per server
-- connection, but PostgreSQL keeps re-planning it for each call (a "custom plan") while it judges
-- the generic plan costlier, which with a running deployment's statistics (a few tenants holding
-- most rows) it did for the group state and the lifecycle targets: ~0.8 ms of planning per trigger
-- and per reset, measured on the benchmark with 20,000 alerts of history (docs/performance.md,
-- "Statistics"). Each statement below is written so that its generic plan is sound, every lookup
-- driven by an index on the parameters it is given, and the functions always use it
-- (plan_cache_mode = force_generic_plan). tests/integration/test_generic_plans.py checks the plans
-- on a database with history.

-- rmm_group_state (0010) with the open group's tickets looked up by key per alert.
CREATE OR REPLACE FUNCTION rmm_group_state(
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
            SELECT t.ticket_id, t.ticket_number, al.alert_id AS primary_alert_id, al.occurrence_count
              FROM rmm_alerts al
             -- Each alert's ticket by its key (OFFSET 0 keeps the subquery, so the plan drives from
             -- the group's alerts and never scans the tenant's open tickets).
             CROSS JOIN LATERAL (
                   SELECT tk.ticket_id, tk.ticket_number FROM tickets tk
                     LEFT JOIN statuses s ON s.tenant = tk.tenant AND s.status_id = tk.status_id
                    WHERE tk.tenant = p_tenant AND tk.ticket_id = al.ticket_id
                      AND tk.closed_at IS NULL AND NOT coalesce(s.is_closed, false)
                   OFFSET 0) t
             WHERE al.tenant = p_tenant AND al.integration_id = p_integration AND al.dedup_key = p_dedup_key
               AND al.ticket_id IS NOT NULL
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


-- rmm_lifecycle_targets (0009) with the candidates' statuses matching the partial indexes.
CREATE OR REPLACE FUNCTION rmm_lifecycle_targets(
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
        SELECT c.alert_id,
               coalesce(p_pairing_key IS NOT NULL AND c.pairing_key = p_pairing_key, false) AS by_pairing
          FROM rmm_alerts c
         WHERE c.tenant = p_tenant AND c.integration_id = p_integration
           -- The open statuses spelled out: the partial indexes' predicate, which a parameter
           -- array cannot prove in a generic plan (callers ask for a subset of these).
           AND c.status IN ('active', 'acknowledged', 'suppressed') AND c.status = ANY(p_statuses)
           AND c.external_device_id IS NOT DISTINCT FROM p_device
           AND ((p_pairing_key IS NOT NULL AND c.pairing_key = p_pairing_key) OR c.dedup_key = p_dedup_key)
           FOR UPDATE
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
           EXISTS (SELECT 1 FROM comments cm
                    WHERE cm.tenant = p_tenant AND cm.ticket_id = al.ticket_id AND NOT cm.is_system_generated),
           EXISTS (SELECT 1 FROM time_entries te
                    WHERE te.tenant = p_tenant AND te.work_item_type = 'ticket' AND te.work_item_id = al.ticket_id),
           (SELECT cs.status_id FROM statuses cs
             WHERE cs.tenant = p_tenant AND cs.is_closed AND cs.status_type = 'ticket'
               AND (cs.board_id = t.board_id OR cs.board_id IS NULL)
             ORDER BY (cs.status_id::text = r.actions ->> 'autoResolveStatusId') DESC NULLS LAST,
                      (cs.board_id = t.board_id) DESC NULLS LAST, cs.order_number, cs.name
             LIMIT 1),
           -- Alerts on the same ticket that this event does not resolve and that are still active.
           (SELECT count(*) FROM rmm_alerts o
             WHERE o.tenant = p_tenant AND o.ticket_id = al.ticket_id
               AND o.status IN ('active', 'acknowledged')
               AND o.alert_id NOT IN (SELECT ch2.alert_id FROM chosen ch2))
      FROM chosen ch
     CROSS JOIN LATERAL (
           SELECT a.* FROM rmm_alerts a WHERE a.tenant = p_tenant AND a.alert_id = ch.alert_id OFFSET 0) al
      LEFT JOIN LATERAL (
           SELECT ru.actions FROM rmm_alert_rules ru
            WHERE ru.tenant = p_tenant AND ru.rule_id = al.matched_rule_id OFFSET 0) r ON true
      LEFT JOIN LATERAL (
           SELECT tk.ticket_number, tk.board_id, tk.status_id, tk.closed_at, tk.attributes FROM tickets tk
            WHERE tk.tenant = p_tenant AND tk.ticket_id = al.ticket_id OFFSET 0) t ON true
      LEFT JOIN LATERAL (
           SELECT st.is_closed FROM statuses st
            WHERE st.tenant = p_tenant AND st.status_id = t.status_id OFFSET 0) s ON true
     ORDER BY al.created_at;
END
$$;


ALTER FUNCTION rmm_group_state(uuid, uuid, text, text, text, text, timestamptz, timestamptz, uuid)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION rmm_lifecycle_targets(uuid, uuid, text, text, text, text[])
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION rmm_trigger_context(uuid, uuid, text, text, text, bigint)
    SET plan_cache_mode = force_generic_plan;
ALTER FUNCTION rmm_ticket_defaults(uuid, uuid, uuid, uuid, uuid)
    SET plan_cache_mode = force_generic_plan;
