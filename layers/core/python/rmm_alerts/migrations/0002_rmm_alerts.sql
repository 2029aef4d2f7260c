-- Alert tables (PRD FR-1, FR-10), the outbox for side effects, and per-tenant ticket numbers.

CREATE TABLE rmm_integrations (
    tenant                          uuid NOT NULL REFERENCES tenants (tenant),
    integration_id                  uuid NOT NULL DEFAULT gen_random_uuid(),
    provider                        text NOT NULL CHECK (provider IN ('ninjaone', 'tacticalrmm')),
    name                            text NOT NULL,
    instance_url                    text,
    -- Pointer into the secret store (Secrets Manager name/ARN, or the local store's key); never the secret.
    credentials_ref                 text,
    -- SHA-256 hex of the webhook secret; the secret itself is shown once and never stored.
    webhook_secret_hash             text,
    previous_webhook_secret_hash    text,
    previous_secret_expires_at      timestamptz,
    is_active                       boolean NOT NULL DEFAULT true,
    polling_enabled                 boolean NOT NULL DEFAULT true,
    polling_interval_minutes        integer NOT NULL DEFAULT 15
        CHECK (polling_interval_minutes BETWEEN 5 AND 60),
    last_polled_at                  timestamptz,
    settings                        jsonb NOT NULL DEFAULT '{}'::jsonb,
    connected_at                    timestamptz NOT NULL DEFAULT now(),
    disconnected_at                 timestamptz,
    created_at                      timestamptz NOT NULL DEFAULT now(),
    updated_at                      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, integration_id)
);
-- Webhooks arrive with only the integration id; it is a random UUID, unique across tenants.
CREATE UNIQUE INDEX rmm_integrations_integration_id_idx ON rmm_integrations (integration_id);

CREATE TABLE rmm_organization_mappings (
    tenant                     uuid NOT NULL,
    mapping_id                 uuid NOT NULL DEFAULT gen_random_uuid(),
    integration_id             uuid NOT NULL,
    external_organization_id   text NOT NULL,
    external_organization_name text,
    client_id                  uuid NOT NULL,
    default_contact_id         uuid,
    -- Deprecated (PRD FR-9): no read path remains.
    auto_create_tickets        boolean NOT NULL DEFAULT false,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, mapping_id),
    UNIQUE (tenant, integration_id, external_organization_id),
    FOREIGN KEY (tenant, integration_id) REFERENCES rmm_integrations (tenant, integration_id),
    FOREIGN KEY (tenant, client_id) REFERENCES clients (tenant, client_id),
    FOREIGN KEY (tenant, default_contact_id) REFERENCES contacts (tenant, contact_name_id)
);
COMMENT ON COLUMN rmm_organization_mappings.auto_create_tickets IS 'Deprecated: rules decide ticketing.';

CREATE TABLE rmm_device_mappings (
    tenant             uuid NOT NULL,
    mapping_id         uuid NOT NULL DEFAULT gen_random_uuid(),
    integration_id     uuid NOT NULL,
    external_device_id text NOT NULL,
    asset_id           uuid NOT NULL,
    created_at         timestamptz NOT NULL DEFAULT now(),
    updated_at         timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, mapping_id),
    UNIQUE (tenant, integration_id, external_device_id),
    FOREIGN KEY (tenant, integration_id) REFERENCES rmm_integrations (tenant, integration_id),
    FOREIGN KEY (tenant, asset_id) REFERENCES assets (tenant, asset_id)
);

CREATE TABLE rmm_alert_rules (
    tenant         uuid NOT NULL,
    rule_id        uuid NOT NULL DEFAULT gen_random_uuid(),
    integration_id uuid NOT NULL,
    name           text NOT NULL,
    description    text,
    is_active      boolean NOT NULL DEFAULT true,
    priority_order integer NOT NULL,
    conditions     jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(conditions) = 'object'),
    actions        jsonb NOT NULL DEFAULT '{}'::jsonb CHECK (jsonb_typeof(actions) = 'object'),
    created_by     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, rule_id),
    FOREIGN KEY (tenant, integration_id) REFERENCES rmm_integrations (tenant, integration_id)
);
CREATE INDEX rmm_alert_rules_active_order_idx
    ON rmm_alert_rules (tenant, integration_id, priority_order) WHERE is_active;

CREATE TABLE rmm_maintenance_windows (
    tenant         uuid NOT NULL,
    window_id      uuid NOT NULL DEFAULT gen_random_uuid(),
    name           text NOT NULL,
    is_active      boolean NOT NULL DEFAULT true,
    integration_id uuid,
    client_id      uuid,
    asset_id       uuid,
    starts_at      timestamptz,
    ends_at        timestamptz,
    recurrence     jsonb,
    created_by     uuid,
    created_at     timestamptz NOT NULL DEFAULT now(),
    updated_at     timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, window_id),
    FOREIGN KEY (tenant, integration_id) REFERENCES rmm_integrations (tenant, integration_id),
    FOREIGN KEY (tenant, client_id) REFERENCES clients (tenant, client_id),
    FOREIGN KEY (tenant, asset_id) REFERENCES assets (tenant, asset_id),
    -- Exactly one schedule: a one-off [starts_at, ends_at) or a weekly recurrence.
    CHECK (
        (recurrence IS NULL AND starts_at IS NOT NULL AND ends_at IS NOT NULL AND ends_at > starts_at)
        OR (recurrence IS NOT NULL AND starts_at IS NULL AND ends_at IS NULL
            AND jsonb_typeof(recurrence) = 'object' AND recurrence ->> 'type' = 'weekly')
    )
);
CREATE INDEX rmm_maintenance_windows_active_idx ON rmm_maintenance_windows (tenant) WHERE is_active;

CREATE TABLE rmm_alerts (
    tenant                     uuid NOT NULL,
    alert_id                   uuid NOT NULL DEFAULT gen_random_uuid(),
    integration_id             uuid NOT NULL,
    provider                   text NOT NULL CHECK (provider IN ('ninjaone', 'tacticalrmm')),
    external_alert_id          text NOT NULL,
    external_device_id         text,
    condition_id               text,
    pairing_key                text,
    dedup_key                  varchar(255) NOT NULL,
    activity_type              text,
    alert_class                text,
    source_type                text,
    severity                   text NOT NULL DEFAULT 'none'
        CHECK (severity IN ('critical', 'major', 'moderate', 'minor', 'none')),
    message                    text,
    device_name                text,
    external_organization_id   text,
    external_organization_name text,
    status                     text NOT NULL DEFAULT 'active'
        CHECK (status IN ('active', 'acknowledged', 'resolved', 'auto_resolved', 'suppressed')),
    triggered_at               timestamptz NOT NULL,
    occurrence_count           integer NOT NULL DEFAULT 1 CHECK (occurrence_count >= 1),
    last_occurrence_at         timestamptz,
    acknowledged_at            timestamptz,
    acknowledged_by            text,
    resolved_at                timestamptz,
    matched_rule_id            uuid,
    auto_ticket_created        boolean NOT NULL DEFAULT false,
    suppressed_by_window_id    uuid,
    ticket_id                  uuid,
    asset_id                   uuid,
    client_id                  uuid,
    metadata                   jsonb NOT NULL DEFAULT '{}'::jsonb,
    decision_trace             jsonb NOT NULL DEFAULT '{}'::jsonb,
    created_at                 timestamptz NOT NULL DEFAULT now(),
    updated_at                 timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, alert_id),
    FOREIGN KEY (tenant, integration_id) REFERENCES rmm_integrations (tenant, integration_id),
    FOREIGN KEY (tenant, ticket_id) REFERENCES tickets (tenant, ticket_id),
    FOREIGN KEY (tenant, asset_id) REFERENCES assets (tenant, asset_id),
    FOREIGN KEY (tenant, client_id) REFERENCES clients (tenant, client_id),
    FOREIGN KEY (tenant, matched_rule_id) REFERENCES rmm_alert_rules (tenant, rule_id) ON DELETE SET NULL (matched_rule_id),
    FOREIGN KEY (tenant, suppressed_by_window_id)
        REFERENCES rmm_maintenance_windows (tenant, window_id) ON DELETE SET NULL (suppressed_by_window_id)
);
-- Alert by external id (upsert / replay detection).
CREATE UNIQUE INDEX rmm_alerts_external_idx ON rmm_alerts (tenant, integration_id, external_alert_id);
-- The open dedup group by key.
CREATE INDEX rmm_alerts_dedup_idx ON rmm_alerts (tenant, integration_id, dedup_key)
    WHERE status IN ('active', 'acknowledged', 'suppressed');
CREATE INDEX rmm_alerts_dedup_ticket_idx ON rmm_alerts (tenant, integration_id, dedup_key, ticket_id)
    WHERE ticket_id IS NOT NULL;
-- Reset/ack pairing.
CREATE INDEX rmm_alerts_pairing_idx ON rmm_alerts (tenant, integration_id, pairing_key)
    WHERE pairing_key IS NOT NULL AND status IN ('active', 'acknowledged', 'suppressed');
CREATE INDEX rmm_alerts_ticket_idx ON rmm_alerts (tenant, ticket_id) WHERE ticket_id IS NOT NULL;
-- Admin listing (keyset by created_at, alert_id).
CREATE INDEX rmm_alerts_list_idx ON rmm_alerts (tenant, created_at DESC, alert_id DESC);

-- Side effects (workflow events, notifications) written in the pipeline's transaction and
-- delivered afterwards, at least once.
CREATE TABLE rmm_outbox (
    tenant         uuid NOT NULL REFERENCES tenants (tenant),
    outbox_id      uuid NOT NULL DEFAULT gen_random_uuid(),
    kind           text NOT NULL CHECK (kind IN ('event', 'notification')),
    event_type     text NOT NULL CHECK (event_type IN (
                       'RMM_ALERT_TRIGGERED', 'RMM_ALERT_RESOLVED', 'TICKET_CREATED', 'TICKET_CLOSED',
                       'RMM_ALERT_NOTIFICATION')),
    payload        jsonb NOT NULL,
    created_at     timestamptz NOT NULL DEFAULT clock_timestamp(),
    available_at   timestamptz NOT NULL DEFAULT clock_timestamp(),
    attempts       integer NOT NULL DEFAULT 0,
    last_error     text,
    dispatched_at  timestamptz,
    PRIMARY KEY (tenant, outbox_id)
);
CREATE INDEX rmm_outbox_pending_idx ON rmm_outbox (available_at) WHERE dispatched_at IS NULL;

CREATE TABLE ticket_number_sequences (
    tenant      uuid PRIMARY KEY REFERENCES tenants (tenant),
    prefix      text NOT NULL DEFAULT 'TIC',
    last_number bigint NOT NULL DEFAULT 0
);
