-- A poll trigger that meets an open alert of its group is that alert.
--
-- The poll diffs the RMM's list against the open alerts, then ingests what it did not match. A
-- webhook for the same condition can land in between (the diff and the ingest are separate
-- transactions, with the RMM's device lookups between them): the poll's trigger then found the
-- webhook's open alert only as the group's open ticket, joined it as a second alert with an
-- "occurrence" note, and the RESET, which pairs with the webhook's alert, left the ticket open
-- until the next poll reset the second one. rmm_trigger_state now takes p_from_poll and, for a
-- poll trigger, returns the group's open alert (any source) as poll_twin_id, read under the lock;
-- the poll cycle records the RMM's id on it, as the diff would have. Webhook triggers are unchanged:
-- for them poll_twin_id is still only an open alert the poller ingested (rmm_group_state, 0011).
--
-- rmm_trigger_state (0012) with one more parameter: dropped and created again; its body is
-- 0012's apart from the poll-trigger lookup. The parameter defaults to false, so the functions of
-- the previous release, which run until the deploy updates them (migrations run first) or again
-- after a rollback, still find it with their 15 arguments.
DROP FUNCTION rmm_trigger_state(
    bigint, uuid, uuid, text, text, text, text, timestamptz, timestamptz, uuid, boolean, uuid, uuid, uuid, uuid);
CREATE FUNCTION rmm_trigger_state(
    p_lock bigint, p_tenant uuid, p_integration uuid, p_external_alert_id text, p_device text,
    p_dedup_key text, p_pairing_key text, p_at timestamptz, p_now timestamptz, p_released uuid,
    p_want_defaults boolean, p_board uuid, p_assignee uuid, p_contact uuid, p_client uuid,
    p_from_poll boolean DEFAULT false)
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
    IF p_from_poll AND poll_twin_id IS NULL THEN
        SELECT al.alert_id INTO poll_twin_id
          FROM rmm_alerts al
         WHERE al.tenant = p_tenant AND al.integration_id = p_integration AND al.dedup_key = p_dedup_key
           AND al.status IN ('active', 'acknowledged', 'suppressed')
         ORDER BY al.created_at
         LIMIT 1;
    END IF;
    IF p_want_defaults AND open_group IS NULL THEN
        SELECT d.board_id, d.board_name, d.default_status_id, d.priorities, d.assignee_ok, d.contact_ok,
               d.client_ok
          INTO board_id, board_name, default_status_id, priorities, assignee_ok, contact_ok, client_ok
          FROM rmm_ticket_defaults(p_tenant, p_board, p_assignee, p_contact, p_client) d;
    END IF;
    RETURN NEXT;
END
$$;
