-- rmm_lifecycle_targets (0008) in a shape whose cached generic plan is sound, so it no longer has
-- to be planned on every call (plan_cache_mode = force_custom_plan cost ~3 ms per reset, more than
-- the rest of the reset's statements together).
--
-- The generic plan of 0008's joins, made while the tables were young, scanned all of the tenant's
-- alerts and tickets per target (an index on tenant only, the join key left as a filter). Here
-- every lookup keyed by the target's row is a LATERAL subquery kept as such (OFFSET 0), so it is
-- planned with the row's key as a parameter: a primary-key lookup, whatever the statistics say.
-- The candidates are locked where they are found (FOR UPDATE in the first CTE).
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
           AND c.status = ANY(p_statuses)
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

ALTER FUNCTION rmm_lifecycle_targets(uuid, uuid, text, text, text, text[]) RESET plan_cache_mode;

-- The ticket defaults (read with the group state whenever the matched rule may make a ticket) and
-- an occurrence's writes, for the same reason as 0008: planned once per server connection, not
-- on every alert (~0.16 ms of planning each, more than their run time). Callers: db/psa.py,
-- db/alerts.py.
CREATE FUNCTION rmm_ticket_defaults(p_tenant uuid, p_board uuid, p_assignee uuid, p_contact uuid, p_client uuid)
RETURNS TABLE (
    board_id uuid, board_name text, default_status_id uuid, priorities json, assignee_ok boolean,
    contact_ok boolean, client_ok boolean)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
BEGIN
    RETURN QUERY
    SELECT b.board_id, b.board_name,
           (SELECT s.status_id FROM statuses s
             WHERE s.tenant = b.tenant AND (s.board_id = b.board_id OR s.board_id IS NULL) AND NOT s.is_closed
               AND s.status_type = 'ticket'
             ORDER BY (s.board_id IS NULL), s.is_default DESC, s.order_number, s.name
             LIMIT 1),
           (SELECT coalesce(json_agg(json_build_array(p.priority_id, p.priority_name)
                                     ORDER BY p.order_number, p.priority_name), '[]'::json)
              FROM priorities p WHERE p.tenant = b.tenant),
           EXISTS (SELECT 1 FROM users u
                    WHERE u.tenant = b.tenant AND u.user_id = p_assignee AND NOT u.is_inactive),
           EXISTS (SELECT 1 FROM contacts c
                    WHERE c.tenant = b.tenant AND c.contact_name_id = p_contact AND NOT c.is_inactive
                      AND (c.client_id IS NULL OR c.client_id = p_client)),
           EXISTS (SELECT 1 FROM clients cl WHERE cl.tenant = b.tenant AND cl.client_id = p_client)
      FROM boards b
     WHERE b.tenant = p_tenant AND NOT b.is_inactive
       AND (b.board_id = p_board OR b.is_default)
     ORDER BY (b.board_id = p_board) DESC NULLS LAST, b.is_default DESC, b.board_name
     LIMIT 1;
END
$$;

-- One more occurrence of an open group: count it on the group's primary alert, note the ticket
-- and touch it, and record the number in the new alert's trace. The new occurrence's number, or
-- NULL when the primary alert is gone.
CREATE FUNCTION rmm_append_occurrence(
    p_tenant uuid, p_primary uuid, p_new uuid, p_ticket uuid, p_at timestamptz, p_now timestamptz, p_suffix text)
RETURNS integer
LANGUAGE plpgsql VOLATILE AS $$
DECLARE
    n integer;
BEGIN
    UPDATE rmm_alerts
       SET occurrence_count = occurrence_count + 1,
           last_occurrence_at = greatest(last_occurrence_at, p_at), updated_at = now()
     WHERE tenant = p_tenant AND alert_id = p_primary
    RETURNING occurrence_count INTO n;
    UPDATE tickets SET updated_at = greatest(updated_at, p_now) WHERE tenant = p_tenant AND ticket_id = p_ticket;
    IF n IS NULL THEN
        RETURN NULL;
    END IF;
    INSERT INTO comments (tenant, ticket_id, user_id, note, is_internal, is_system_generated, created_at)
    VALUES (p_tenant, p_ticket, NULL, 'Alert re-triggered — occurrence ' || n || p_suffix, true, true, p_now);
    UPDATE rmm_alerts
       SET decision_trace = jsonb_set(decision_trace, '{group,occurrence}', to_jsonb(n))
     WHERE tenant = p_tenant AND alert_id = p_new;
    RETURN n;
END
$$;
