-- Talking to the RMMs (issue 14): poll state, NinjaOne webhook registration, the UI-channel secret,
-- and the RMM's own alert uid on local alerts.

-- The last cycle's error (NULL after a success); last_polled_at already exists.
ALTER TABLE rmm_integrations ADD COLUMN last_poll_error text;
ALTER TABLE rmm_integrations ADD COLUMN last_poll_error_at timestamptz;
-- NinjaOne webhook self-registration: {status, error, at}; NULL when never attempted.
ALTER TABLE rmm_integrations ADD COLUMN webhook_registration jsonb;
-- SHA-256 hex of the NinjaOne UI-channel path secret (the secret is shown once, never stored);
-- the previous one stays valid until previous_secret_expires_at, like the header secret.
ALTER TABLE rmm_integrations ADD COLUMN channel_secret_hash text;
ALTER TABLE rmm_integrations ADD COLUMN previous_channel_secret_hash text;

-- The alert's id in the RMM's REST API (NinjaOne alert uid, Tactical alert id): what an outbound
-- reset/resolve needs. A webhook alert learns it from the first poll that sees it active.
ALTER TABLE rmm_alerts ADD COLUMN rmm_alert_uid text;

-- The poll diff reads every open alert of one integration.
CREATE INDEX rmm_alerts_open_by_integration_idx ON rmm_alerts (tenant, integration_id)
    WHERE status IN ('active', 'acknowledged', 'suppressed');
