-- rmm_trigger_state (0010) reads the ticket defaults only when a ticket may be created.
--
-- 0010 joined them in with `LEFT JOIN LATERAL (SELECT * FROM rmm_ticket_defaults(...) WHERE
-- p_want_defaults AND g.open_group IS NULL)`. The planner turns that WHERE into a join filter
-- applied after the function scan, so rmm_ticket_defaults ran for every trigger, also for an
-- occurrence of an open group, whose row the filter then threw away (auto_explain on the benchmark:
-- "Join Filter: ($11 AND (g.open_group IS NULL)), Rows Removed by Join Filter: 1" under a function
-- scan of rmm_ticket_defaults; docs/performance.md, Decisions, "Ticket defaults only when a
-- ticket may be created"). Now the function fills its one row step by step and calls
-- rmm_ticket_defaults only when the defaults are wanted and no group is open. The result is the
-- same row: rmm_group_state always returns exactly one.
CREATE OR REPLACE FUNCTION rmm_trigger_state(
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
    -- The lock first: under READ COMMITTED the reads below see what its previous holder committed.
    PERFORM pg_advisory_xact_lock(p_lock);
    SELECT g.existing_alert_id, g.open_group, g.early_reset, g.poll_twin_id, g.released_status
      INTO existing_alert_id, open_group, early_reset, poll_twin_id, released_status
      FROM rmm_group_state(p_tenant, p_integration, p_external_alert_id, p_device, p_dedup_key,
                           p_pairing_key, p_at, p_now, p_released) g;
    IF p_want_defaults AND open_group IS NULL THEN
        SELECT d.board_id, d.board_name, d.default_status_id, d.priorities, d.assignee_ok, d.contact_ok,
               d.client_ok
          INTO board_id, board_name, default_status_id, priorities, assignee_ok, contact_ok, client_ok
          FROM rmm_ticket_defaults(p_tenant, p_board, p_assignee, p_contact, p_client) d;
    END IF;
    RETURN NEXT;
END
$$;
