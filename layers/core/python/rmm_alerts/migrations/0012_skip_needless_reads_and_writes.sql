-- Work the alert path did for nothing (docs/performance.md, Decisions, "Ticket defaults only when
-- a ticket may be created; no-op ticket touches skipped"). In this file:
--
-- 1. rmm_trigger_state reads the ticket defaults only when a ticket may be created.
-- 2. A system note or an occurrence touches its ticket's updated_at only when that moves it.
--
-- 1. rmm_trigger_state (0010) joined the ticket defaults in with `LEFT JOIN LATERAL (SELECT * FROM
-- rmm_ticket_defaults(...) WHERE p_want_defaults AND g.open_group IS NULL)`. The planner turns that WHERE into a join filter
-- applied after the function scan, so rmm_ticket_defaults ran for every trigger, also for an
-- occurrence of an open group, whose row the filter then threw away (auto_explain on the benchmark:
-- "Join Filter: ($11 AND (g.open_group IS NULL)), Rows Removed by Join Filter: 1" under a function
-- scan of rmm_ticket_defaults). Now the function fills its one row step by step and calls
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

-- 2. A system note (0011) and an occurrence (0010) set their ticket's updated_at to
-- greatest(updated_at, the note's time). When that is the value it has, the UPDATE changed nothing
-- but still wrote a new row version, and for a ticket inserted in the same transaction (the note
-- of every new ticket) it also re-ran the ticket's five foreign-key checks, which PostgreSQL runs
-- on any update of a row its own transaction inserted (auto_explain on the benchmark: the UPDATE
-- and the checks of boards, statuses, priorities, clients and contacts after every new ticket's
-- note). The same statements, skipped when they would not move updated_at.
CREATE OR REPLACE FUNCTION rmm_add_system_note(p_tenant uuid, p_ticket uuid, p_note text, p_at timestamptz)
RETURNS void
LANGUAGE plpgsql VOLATILE AS $$
BEGIN
    INSERT INTO comments (tenant, ticket_id, user_id, note, is_internal, is_system_generated, created_at)
    VALUES (p_tenant, p_ticket, NULL, p_note, true, true, p_at);
    UPDATE tickets SET updated_at = p_at
     WHERE tenant = p_tenant AND ticket_id = p_ticket AND updated_at < p_at;
END
$$;

CREATE OR REPLACE FUNCTION rmm_count_occurrence(
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
    UPDATE tickets SET updated_at = p_now
     WHERE tenant = p_tenant AND ticket_id = p_ticket AND updated_at < p_now;
    INSERT INTO comments (tenant, ticket_id, user_id, note, is_internal, is_system_generated, created_at)
    VALUES (p_tenant, p_ticket, NULL, p_note, true, true, p_now);
    RETURN true;
END
$$;
