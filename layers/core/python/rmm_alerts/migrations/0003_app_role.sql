-- The application role the functions log in as: DML on the service's tables, nothing else.
-- Migrations keep running as the owner. The migrate function gives this role LOGIN and its
-- password (or IAM authentication lets the proxy log in as it) on every deploy.
DO $$
BEGIN
    IF NOT EXISTS (SELECT 1 FROM pg_roles WHERE rolname = 'rmm_app') THEN
        CREATE ROLE rmm_app NOLOGIN;
    END IF;
END
$$;

-- Only the owner creates objects; the role reads and writes rows.
REVOKE CREATE ON SCHEMA public FROM PUBLIC;
GRANT USAGE ON SCHEMA public TO rmm_app;
GRANT SELECT, INSERT, UPDATE, DELETE ON ALL TABLES IN SCHEMA public TO rmm_app;
GRANT USAGE, SELECT ON ALL SEQUENCES IN SCHEMA public TO rmm_app;
REVOKE ALL ON schema_migrations FROM rmm_app;

-- Tables and sequences that later migrations create (always as the owner, who runs this) get the
-- same grants automatically.
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT SELECT, INSERT, UPDATE, DELETE ON TABLES TO rmm_app;
ALTER DEFAULT PRIVILEGES IN SCHEMA public GRANT USAGE, SELECT ON SEQUENCES TO rmm_app;

-- Every session of the role runs under these limits, set without startup options (which RDS Proxy
-- refuses) and without a session-level SET (which pins the proxy's connection). Statement and lock
-- waits stay well inside the webhook function's 20 s timeout (itself inside API Gateway's 29 s); a
-- frozen or killed Lambda must not keep a transaction (and its advisory lock) open behind the proxy.
ALTER ROLE rmm_app SET statement_timeout = '5s';
ALTER ROLE rmm_app SET lock_timeout = '5s';
ALTER ROLE rmm_app SET idle_in_transaction_session_timeout = '15s';
