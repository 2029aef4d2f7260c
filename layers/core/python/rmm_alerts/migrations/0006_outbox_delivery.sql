-- Outbox delivery (issue 9): ordering, retries with backoff, parking, outcomes; per-user
-- notification preferences.

-- Commit order: every writer of one alert holds its dedup group's advisory lock, so for one
-- ordering key insertion order is commit order; seq records it without clock ties.
ALTER TABLE rmm_outbox
    ADD COLUMN seq        bigint GENERATED ALWAYS AS IDENTITY,
    -- Entries with the same key are delivered one after the other, in seq order (the alert id for
    -- alert events, the ticket id for ticket events; NULL: no ordering, e.g. notifications).
    ADD COLUMN order_key  text,
    -- Set after the last allowed attempt failed (or on a permanent error): no more retries.
    ADD COLUMN parked_at  timestamptz,
    -- What delivery did: 'sent', or 'skipped: <reason>' (user inactive, opted out, no sender, ...).
    ADD COLUMN outcome    text;

-- Rows written before this migration: keyed like new ones.
UPDATE rmm_outbox
   SET order_key = coalesce(payload ->> 'alertId', payload ->> 'ticketId')
 WHERE kind = 'event';

-- The dispatcher's scan: due entries in commit order.
DROP INDEX rmm_outbox_pending_idx;
CREATE INDEX rmm_outbox_due_idx ON rmm_outbox (seq)
    WHERE dispatched_at IS NULL AND parked_at IS NULL;
-- "Is an earlier entry of this key still undelivered?"
CREATE INDEX rmm_outbox_order_idx ON rmm_outbox (tenant, order_key, seq)
    WHERE dispatched_at IS NULL AND parked_at IS NULL AND order_key IS NOT NULL;
-- Retention purge of delivered rows.
CREATE INDEX rmm_outbox_dispatched_idx ON rmm_outbox (dispatched_at) WHERE dispatched_at IS NOT NULL;
CREATE INDEX rmm_outbox_parked_idx ON rmm_outbox (parked_at) WHERE parked_at IS NOT NULL;

-- GET|PUT /v1/me/notification-preferences: a missing row means both channels on.
CREATE TABLE rmm_notification_preferences (
    tenant         uuid NOT NULL,
    user_id        uuid NOT NULL,
    rmm_in_app     boolean NOT NULL DEFAULT true,
    rmm_email      boolean NOT NULL DEFAULT true,
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, user_id),
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, user_id) ON DELETE CASCADE
);
