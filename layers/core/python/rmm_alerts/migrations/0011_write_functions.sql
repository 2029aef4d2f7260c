-- The alert path's remaining top-level statements as PL/pgSQL functions, for their cached plans
-- (0008's reasoning: behind a transaction pooler every statement that arrives is planned, and a
-- function's statements are planned once per server connection).
--
-- Measured with pg_stat_statements on the 21-rule benchmark (docs/performance.md, "Planning"):
-- planning the webhook's lookup, the alert insert, the reset's alert updates, note and ticket
-- close and the outbox insert took ~0.17 ms of server time per alert, a third of it on a reset.
-- Calling a function is planned in a few microseconds.
--
-- Two of them take their rows as one jsonb document: binding ~30 parameters one by one on the
-- client (psycopg's literal quoting) cost more than encoding one JSON document.

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
