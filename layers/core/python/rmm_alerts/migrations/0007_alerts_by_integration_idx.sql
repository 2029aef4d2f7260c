-- The newest alerts of one integration: the rule preview reads the last 200 of them, and the
-- admin alert list filters by integration (keyset by created_at, alert_id).
CREATE INDEX rmm_alerts_integration_list_idx
    ON rmm_alerts (tenant, integration_id, created_at DESC, alert_id DESC);
