-- The NinjaOne UI-channel URL's previous secret gets a grace period of its own.
--
-- It shared previous_secret_expires_at with the header secret. Re-registering the webhook
-- (POST /v1/integrations/{id}/webhook-registration) rotates the header secret alone and sets that
-- expiry to 24 hours ahead, so a channel URL rotated away days before, whose hash was still in
-- previous_channel_secret_hash, was accepted again for another day. Now each previous secret has
-- its own expiry, and a header-only rotation leaves the channel's alone.
ALTER TABLE rmm_integrations ADD COLUMN previous_channel_secret_expires_at timestamptz;

-- A channel URL still accepted keeps the shared expiry it has (for one re-registered in the last
-- day, that is the revived expiry: it lapses within a day); one no longer accepted is forgotten.
UPDATE rmm_integrations
   SET previous_channel_secret_expires_at = previous_secret_expires_at
 WHERE previous_channel_secret_hash IS NOT NULL AND previous_secret_expires_at > now();
UPDATE rmm_integrations
   SET previous_channel_secret_hash = NULL
 WHERE previous_channel_secret_hash IS NOT NULL AND previous_channel_secret_expires_at IS NULL;

-- rmm_webhook_lookup (0011) with the channel's own expiry, after previous_channel_secret_hash. Its
-- result type changes, so it is dropped and created again; the body is 0011's otherwise.
DROP FUNCTION rmm_webhook_lookup(uuid, boolean, text, text, text, bigint);
CREATE FUNCTION rmm_webhook_lookup(
    p_integration uuid, p_context boolean, p_external_alert_id text, p_organization text, p_device text,
    p_known bigint)
RETURNS TABLE (
    tenant uuid, integration_id uuid, provider text, is_active boolean, webhook_secret_hash text,
    previous_webhook_secret_hash text, previous_secret_expires_at timestamptz, channel_secret_hash text,
    previous_channel_secret_hash text, previous_channel_secret_expires_at timestamptz,
    config_tenant uuid, mapping_client_id uuid, mapping_contact_id uuid, mapping_client_primary_contact text,
    asset_id uuid, asset_client_id uuid, asset_client_primary_contact text, existing_alert_id uuid,
    config_version bigint, rules text, windows text)
LANGUAGE plpgsql STABLE AS $$
#variable_conflict use_column
DECLARE
    i rmm_integrations%ROWTYPE;
BEGIN
    SELECT * INTO i FROM rmm_integrations WHERE integration_id = p_integration;
    IF NOT FOUND THEN
        RETURN;
    END IF;
    IF NOT p_context THEN
        RETURN QUERY
        SELECT i.tenant, i.integration_id, i.provider, i.is_active, i.webhook_secret_hash,
               i.previous_webhook_secret_hash, i.previous_secret_expires_at, i.channel_secret_hash,
               i.previous_channel_secret_hash, i.previous_channel_secret_expires_at,
               NULL::uuid, NULL::uuid, NULL::uuid, NULL::text, NULL::uuid, NULL::uuid, NULL::text, NULL::uuid,
               NULL::bigint, NULL::text, NULL::text;
        RETURN;
    END IF;
    RETURN QUERY
    SELECT i.tenant, i.integration_id, i.provider, i.is_active, i.webhook_secret_hash,
           i.previous_webhook_secret_hash, i.previous_secret_expires_at, i.channel_secret_hash,
           i.previous_channel_secret_hash, i.previous_channel_secret_expires_at,
           c.tenant, c.mapping_client_id, c.mapping_contact_id, c.mapping_client_primary_contact,
           c.asset_id, c.asset_client_id, c.asset_client_primary_contact, c.existing_alert_id,
           c.config_version, c.rules, c.windows
      FROM (SELECT 1) AS one
      LEFT JOIN rmm_trigger_context(i.tenant, p_integration, p_external_alert_id, p_organization, p_device,
                                    p_known) c ON true;
END
$$;
