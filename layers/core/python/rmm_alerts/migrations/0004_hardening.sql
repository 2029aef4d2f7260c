-- Issue 10 (hardening): ticket numbers that never collide with the PSA's and never queue a tenant's
-- ticket creation behind one row; resets remembered when they arrive before their trigger;
-- unambiguous dedup keys; event times Python can read back.

-- 1. Ticket numbers --------------------------------------------------------------------------
-- One PostgreSQL sequence per tenant: nextval() never waits and is not rolled back, so concurrent
-- ticket creation is not serialized on a counter row until commit (ticket_number_sequences used to
-- be that row). The sequence starts after every number the tenant has used, and each candidate is
-- skipped when the PSA already holds it, so a number the PSA gave out is never reused.
-- ticket_number_sequences keeps the tenant's prefix; its last_number is no longer advanced.
COMMENT ON COLUMN ticket_number_sequences.last_number IS
    'Not advanced since 0004: numbers come from the tenant''s rmm_ticket_number_<tenant> sequence.';

-- SECURITY DEFINER: the application role (0003) may not create objects; the sequence is created
-- by the migration owner, and 0003's default privileges give the role USAGE (nextval) on it.
CREATE FUNCTION rmm_ticket_number_sequence(p_tenant uuid) RETURNS regclass
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public, pg_temp AS $$
DECLARE
    seq_name text := 'rmm_ticket_number_' || replace(p_tenant::text, '-', '');
    seq regclass := to_regclass(seq_name);
    number_prefix text;
    used bigint;
BEGIN
    IF seq IS NOT NULL THEN
        RETURN seq;
    END IF;
    -- A tenant's first ticket: serialize only the creators of this one sequence.
    PERFORM pg_advisory_xact_lock(hashtextextended(seq_name, 0));
    -- Read pg_class with this statement's snapshot, not to_regclass: taking an advisory lock
    -- processes no catalog invalidations, so the cache can still miss a sequence that the
    -- previous holder created and committed (CREATE SEQUENCE would then fail with 42P07).
    SELECT c.oid::regclass INTO seq
      FROM pg_catalog.pg_class c
     WHERE c.relname = seq_name AND c.relnamespace = 'public'::regnamespace;
    IF seq IS NOT NULL THEN
        RETURN seq;
    END IF;
    EXECUTE format('CREATE SEQUENCE %I AS bigint MINVALUE 1', seq_name);
    number_prefix := coalesce((SELECT s.prefix FROM ticket_number_sequences s WHERE s.tenant = p_tenant), 'TIC');
    used := greatest(
        coalesce((SELECT s.last_number FROM ticket_number_sequences s WHERE s.tenant = p_tenant), 0),
        coalesce((SELECT max(substr(t.ticket_number, length(number_prefix) + 1)::numeric)
                    FROM tickets t
                   WHERE t.tenant = p_tenant
                     AND left(t.ticket_number, length(number_prefix)) = number_prefix
                     AND substr(t.ticket_number, length(number_prefix) + 1) ~ '^[0-9]{1,18}$'), 0));
    IF used > 0 THEN
        PERFORM setval(seq_name, used);
    END IF;
    RETURN to_regclass(seq_name);
END
$$;

CREATE FUNCTION rmm_next_ticket_number(p_tenant uuid) RETURNS text
LANGUAGE plpgsql AS $$
DECLARE
    seq regclass := rmm_ticket_number_sequence(p_tenant);
    number_prefix text := coalesce(
        (SELECT s.prefix FROM ticket_number_sequences s WHERE s.tenant = p_tenant), 'TIC');
    n bigint;
    candidate text;
BEGIN
    LOOP
        n := nextval(seq);
        candidate := number_prefix || lpad(n::text, greatest(6, length(n::text)), '0');
        -- Numbers the PSA issued itself are skipped (a concurrent, uncommitted one still fails the
        -- insert on UNIQUE (tenant, ticket_number); the retry then draws the next number).
        EXIT WHEN NOT EXISTS (SELECT 1 FROM tickets t WHERE t.tenant = p_tenant AND t.ticket_number = candidate);
    END LOOP;
    RETURN candidate;
END
$$;

SELECT rmm_ticket_number_sequence(tenant) FROM tenants;

-- 2. Resets that arrive before their trigger ---------------------------------------------------
-- Kept for a bounded time (expires_at): a later trigger of the same device and condition (or the
-- same device and pairing id) that happened no later than the reset is recorded already resolved.
CREATE TABLE rmm_early_resets (
    tenant             uuid NOT NULL,
    reset_id           uuid NOT NULL DEFAULT gen_random_uuid(),
    integration_id     uuid NOT NULL,
    external_alert_id  text NOT NULL,
    external_device_id text,
    pairing_key        text,
    dedup_key          varchar(255) NOT NULL,
    occurred_at        timestamptz NOT NULL,
    received_at        timestamptz NOT NULL,
    expires_at         timestamptz NOT NULL,
    payload            jsonb NOT NULL DEFAULT '{}'::jsonb,
    PRIMARY KEY (tenant, reset_id),
    UNIQUE (tenant, integration_id, external_alert_id),
    FOREIGN KEY (tenant, integration_id) REFERENCES rmm_integrations (tenant, integration_id)
);
CREATE INDEX rmm_early_resets_dedup_idx ON rmm_early_resets (tenant, integration_id, dedup_key);
CREATE INDEX rmm_early_resets_pairing_idx ON rmm_early_resets (tenant, integration_id, pairing_key)
    WHERE pairing_key IS NOT NULL;
CREATE INDEX rmm_early_resets_expiry_idx ON rmm_early_resets (tenant, integration_id, expires_at);

-- 3. Unambiguous dedup keys (dedup.py) -------------------------------------------------------
-- "<device with % and : percent-escaped>:<condition>", no device = empty device part; keys of 255
-- characters or more keep 190 and end in "#" + SHA-256 hex of the whole key.
UPDATE rmm_alerts a
   SET dedup_key = k.new_key
  FROM (SELECT tenant, alert_id,
               CASE WHEN char_length(raw_key) < 255 THEN raw_key
                    ELSE left(raw_key, 190) || '#' || encode(sha256(convert_to(raw_key, 'UTF8')), 'hex')
               END AS new_key
          FROM (SELECT tenant, alert_id,
                       coalesce(replace(replace(nullif(external_device_id, ''), '%', '%25'), ':', '%3A'), '')
                           || ':' || condition_id AS raw_key
                  FROM rmm_alerts
                 WHERE condition_id IS NOT NULL) r) k
 WHERE a.tenant = k.tenant AND a.alert_id = k.alert_id AND a.dedup_key IS DISTINCT FROM k.new_key;

-- 4. Event times readable again ----------------------------------------------------------------
-- Ingest now refuses times outside [1970, 2200); rows stored before keep their alert but lose the
-- junk time (the trigger time falls back to when the alert was recorded).
UPDATE rmm_alerts
   SET triggered_at = CASE WHEN triggered_at >= '1970-01-01 UTC' AND triggered_at < '2200-01-01 UTC'
                           THEN triggered_at ELSE created_at END,
       last_occurrence_at = CASE WHEN last_occurrence_at >= '1970-01-01 UTC' AND last_occurrence_at < '2200-01-01 UTC'
                                 THEN last_occurrence_at END,
       acknowledged_at = CASE WHEN acknowledged_at >= '1970-01-01 UTC' AND acknowledged_at < '2200-01-01 UTC'
                              THEN acknowledged_at END,
       resolved_at = CASE WHEN resolved_at >= '1970-01-01 UTC' AND resolved_at < '2200-01-01 UTC'
                          THEN resolved_at END
 WHERE NOT (triggered_at >= '1970-01-01 UTC' AND triggered_at < '2200-01-01 UTC')
    OR NOT coalesce(last_occurrence_at >= '1970-01-01 UTC' AND last_occurrence_at < '2200-01-01 UTC', true)
    OR NOT coalesce(acknowledged_at >= '1970-01-01 UTC' AND acknowledged_at < '2200-01-01 UTC', true)
    OR NOT coalesce(resolved_at >= '1970-01-01 UTC' AND resolved_at < '2200-01-01 UTC', true);
