-- The trigger path's group batch as one statement, and an occurrence without rewriting its trace.
--
-- rmm_group_state (0008) again, with the open group's occurrence count: read under the group lock,
-- it gives the next occurrence's number before the writes, so the new alert is inserted with that
-- number in its decision trace instead of being updated afterwards (a second write of a ~5 KB jsonb
-- per occurrence).
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

-- The group lock, then the group's state and, when the trigger may make a ticket and there is no
-- open ticket to join, the ticket defaults (0009): one statement where there were three. VOLATILE,
-- so its query takes its snapshot after the lock is held and sees what the previous holder
-- committed (READ COMMITTED). The lock inside a function also keeps a proxy from seeing an advisory
-- lock call in the statement text (RDS Proxy pins sessions on those it sees).
CREATE FUNCTION rmm_trigger_state(
    p_lock bigint, p_tenant uuid, p_integration uuid, p_external_alert_id text, p_device text,
    p_dedup_key text, p_pairing_key text, p_at timestamptz, p_now timestamptz, p_released uuid,
    p_want_defaults boolean, p_board uuid, p_assignee uuid, p_contact uuid, p_client uuid)
RETURNS TABLE (
    existing_alert_id uuid, open_group json, early_reset json, poll_twin_id uuid, released_status text,
    board_id uuid, board_name text, default_status_id uuid, priorities json, assignee_ok boolean,
    contact_ok boolean, client_ok boolean)
LANGUAGE plpgsql VOLATILE AS $$
#variable_conflict use_column
BEGIN
    PERFORM pg_advisory_xact_lock(p_lock);
    RETURN QUERY
    SELECT g.existing_alert_id, g.open_group, g.early_reset, g.poll_twin_id, g.released_status,
           d.board_id, d.board_name, d.default_status_id, d.priorities, d.assignee_ok, d.contact_ok, d.client_ok
      FROM rmm_group_state(p_tenant, p_integration, p_external_alert_id, p_device, p_dedup_key,
                           p_pairing_key, p_at, p_now, p_released) g
      LEFT JOIN LATERAL (
          SELECT * FROM rmm_ticket_defaults(p_tenant, p_board, p_assignee, p_contact, p_client)
           WHERE p_want_defaults AND g.open_group IS NULL) d ON true;
END
$$;

-- One more occurrence of an open group, numbered by the caller from the count it read under the
-- group lock: count it on the primary alert, touch the ticket, add the note (0009's function
-- without the trace update). Whether the primary alert was there.
CREATE FUNCTION rmm_count_occurrence(
    p_tenant uuid, p_primary uuid, p_ticket uuid, p_at timestamptz, p_now timestamptz, p_note text)
RETURNS boolean
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    UPDATE rmm_alerts
       SET occurrence_count = occurrence_count + 1,
           last_occurrence_at = greatest(last_occurrence_at, p_at), updated_at = now()
     WHERE tenant = p_tenant AND alert_id = p_primary;
    IF NOT FOUND THEN
        RETURN false;
    END IF;
    UPDATE tickets SET updated_at = greatest(updated_at, p_now) WHERE tenant = p_tenant AND ticket_id = p_ticket;
    INSERT INTO comments (tenant, ticket_id, user_id, note, is_internal, is_system_generated, created_at)
    VALUES (p_tenant, p_ticket, NULL, p_note, true, true, p_now);
    RETURN true;
END
$$;

-- A version of each tenant's alert configuration (rules and maintenance windows), changed by every
-- insert, update or delete of either, in the same transaction. The alert path keeps parsed rules
-- and windows per integration with the version they were read at, and the config read sends them
-- again only when the version moved, instead of aggregating ~5 KB of JSON for every alert. The
-- values come from one sequence, so a version is never reused: a cached copy can only ever match
-- the configuration it was read with.
CREATE SEQUENCE rmm_config_version_seq;

CREATE TABLE rmm_config_versions (
    tenant  uuid PRIMARY KEY REFERENCES tenants (tenant) ON DELETE CASCADE,
    version bigint NOT NULL
);

CREATE FUNCTION rmm_bump_config_version() RETURNS trigger
LANGUAGE plpgsql AS $$
BEGIN
    INSERT INTO rmm_config_versions AS v (tenant, version)
    VALUES (CASE WHEN TG_OP = 'DELETE' THEN OLD.tenant ELSE NEW.tenant END, nextval('rmm_config_version_seq'))
    ON CONFLICT (tenant) DO UPDATE SET version = excluded.version;
    RETURN NULL;
END
$$;

CREATE TRIGGER rmm_alert_rules_config_version
    AFTER INSERT OR UPDATE OR DELETE ON rmm_alert_rules
    FOR EACH ROW EXECUTE FUNCTION rmm_bump_config_version();

CREATE TRIGGER rmm_maintenance_windows_config_version
    AFTER INSERT OR UPDATE OR DELETE ON rmm_maintenance_windows
    FOR EACH ROW EXECUTE FUNCTION rmm_bump_config_version();

-- rmm_trigger_config (0008) with the configuration version: rules and windows only when the
-- caller's cached version (p_known) is not the current one (NULL: always). rmm_trigger_config
-- stays for code deployed before this migration.
CREATE FUNCTION rmm_trigger_context(
    p_tenant uuid, p_integration uuid, p_external_alert_id text, p_organization text, p_device text,
    p_known bigint)
RETURNS TABLE (
    tenant uuid, mapping_client_id uuid, mapping_contact_id uuid, mapping_client_primary_contact text,
    asset_id uuid, asset_client_id uuid, asset_client_primary_contact text, existing_alert_id uuid,
    config_version bigint, rules text, windows text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    v_tenant uuid;
    v_version bigint;
BEGIN
    SELECT i.tenant INTO v_tenant
      FROM rmm_integrations i
     WHERE i.integration_id = p_integration AND (p_tenant IS NULL OR i.tenant = p_tenant);
    IF v_tenant IS NULL THEN
        RETURN;
    END IF;
    v_version := coalesce((SELECT cv.version FROM rmm_config_versions cv WHERE cv.tenant = v_tenant), 0);
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
        v_version,
        CASE WHEN p_known IS DISTINCT FROM v_version THEN
            (SELECT coalesce(json_agg(r ORDER BY r.priority_order, r.created_at), '[]'::json)::text
               FROM (SELECT ru.rule_id, ru.integration_id, ru.name, ru.priority_order, ru.is_active, ru.conditions,
                            ru.actions, ru.created_at
                       FROM rmm_alert_rules ru
                      WHERE ru.tenant = v_tenant AND ru.integration_id = p_integration AND ru.is_active) r)
        END,
        CASE WHEN p_known IS DISTINCT FROM v_version THEN
            (SELECT coalesce(json_agg(w ORDER BY w.created_at, w.window_id), '[]'::json)::text
               FROM (SELECT mw.window_id, mw.name, mw.is_active, mw.integration_id, mw.client_id, mw.asset_id,
                            mw.starts_at, mw.ends_at, mw.recurrence, mw.created_at
                       FROM rmm_maintenance_windows mw
                      WHERE mw.tenant = v_tenant AND mw.is_active
                        AND (mw.integration_id IS NULL OR mw.integration_id = p_integration)) w)
        END
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
