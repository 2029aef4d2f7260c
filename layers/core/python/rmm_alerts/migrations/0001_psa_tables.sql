-- PSA tables, named and shaped as the reference PSA names them (CONTRACT.md "Database").
-- Only the contract's columns are required; every other column is nullable or has a default,
-- so another system can insert a row naming only the contract's columns.
-- Every table is keyed by (tenant, id); every foreign key includes the tenant.

CREATE TABLE tenants (
    tenant       uuid PRIMARY KEY DEFAULT gen_random_uuid(),
    tenant_name  text,
    created_at   timestamptz NOT NULL DEFAULT now()
);

CREATE TABLE users (
    tenant      uuid NOT NULL REFERENCES tenants (tenant),
    user_id     uuid NOT NULL DEFAULT gen_random_uuid(),
    email       text,
    first_name  text,
    last_name   text,
    is_inactive boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, user_id)
);

CREATE TABLE clients (
    tenant      uuid NOT NULL REFERENCES tenants (tenant),
    client_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    client_name text NOT NULL,
    properties  jsonb NOT NULL DEFAULT '{}'::jsonb,
    is_inactive boolean NOT NULL DEFAULT false,
    created_at  timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, client_id)
);

CREATE TABLE contacts (
    tenant          uuid NOT NULL,
    contact_name_id uuid NOT NULL DEFAULT gen_random_uuid(),
    client_id       uuid,
    full_name       text NOT NULL,
    email           text,
    is_inactive     boolean NOT NULL DEFAULT false,
    created_at      timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, contact_name_id),
    FOREIGN KEY (tenant, client_id) REFERENCES clients (tenant, client_id)
);

CREATE TABLE boards (
    tenant      uuid NOT NULL REFERENCES tenants (tenant),
    board_id    uuid NOT NULL DEFAULT gen_random_uuid(),
    board_name  text NOT NULL,
    is_default  boolean NOT NULL DEFAULT false,
    is_inactive boolean NOT NULL DEFAULT false,
    PRIMARY KEY (tenant, board_id)
);

CREATE TABLE statuses (
    tenant       uuid NOT NULL,
    status_id    uuid NOT NULL DEFAULT gen_random_uuid(),
    board_id     uuid,
    name         text NOT NULL,
    status_type  text NOT NULL DEFAULT 'ticket',
    is_closed    boolean NOT NULL DEFAULT false,
    is_default   boolean NOT NULL DEFAULT false,
    order_number integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, status_id),
    FOREIGN KEY (tenant, board_id) REFERENCES boards (tenant, board_id)
);

CREATE TABLE priorities (
    tenant        uuid NOT NULL REFERENCES tenants (tenant),
    priority_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    priority_name text NOT NULL,
    order_number  integer NOT NULL DEFAULT 0,
    PRIMARY KEY (tenant, priority_id)
);

CREATE TABLE assets (
    tenant     uuid NOT NULL,
    asset_id   uuid NOT NULL DEFAULT gen_random_uuid(),
    client_id  uuid,
    name       text NOT NULL,
    created_at timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, asset_id),
    FOREIGN KEY (tenant, client_id) REFERENCES clients (tenant, client_id)
);

CREATE TABLE tickets (
    tenant          uuid NOT NULL,
    ticket_id       uuid NOT NULL DEFAULT gen_random_uuid(),
    ticket_number   text NOT NULL,
    title           text NOT NULL,
    description     text,
    board_id        uuid,
    status_id       uuid,
    priority_id     uuid,
    client_id       uuid,
    contact_name_id uuid,
    assigned_to     uuid,
    source          text,
    attributes      jsonb NOT NULL DEFAULT '{}'::jsonb,
    entered_by      uuid,
    entered_at      timestamptz NOT NULL DEFAULT now(),
    updated_at      timestamptz NOT NULL DEFAULT now(),
    closed_at       timestamptz,
    PRIMARY KEY (tenant, ticket_id),
    UNIQUE (tenant, ticket_number),
    FOREIGN KEY (tenant, board_id) REFERENCES boards (tenant, board_id),
    FOREIGN KEY (tenant, status_id) REFERENCES statuses (tenant, status_id),
    FOREIGN KEY (tenant, priority_id) REFERENCES priorities (tenant, priority_id),
    FOREIGN KEY (tenant, client_id) REFERENCES clients (tenant, client_id),
    FOREIGN KEY (tenant, contact_name_id) REFERENCES contacts (tenant, contact_name_id),
    FOREIGN KEY (tenant, assigned_to) REFERENCES users (tenant, user_id)
);

CREATE TABLE comments (
    tenant              uuid NOT NULL,
    comment_id          uuid NOT NULL DEFAULT gen_random_uuid(),
    ticket_id           uuid NOT NULL,
    user_id             uuid,
    note                text NOT NULL,
    is_internal         boolean NOT NULL DEFAULT false,
    is_system_generated boolean NOT NULL DEFAULT false,
    created_at          timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, comment_id),
    FOREIGN KEY (tenant, ticket_id) REFERENCES tickets (tenant, ticket_id),
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, user_id)
);
CREATE INDEX comments_ticket_idx ON comments (tenant, ticket_id);

CREATE TABLE time_entries (
    tenant         uuid NOT NULL,
    entry_id       uuid NOT NULL DEFAULT gen_random_uuid(),
    work_item_id   uuid NOT NULL,
    work_item_type text NOT NULL DEFAULT 'ticket',
    user_id        uuid,
    start_time     timestamptz,
    end_time       timestamptz,
    PRIMARY KEY (tenant, entry_id),
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, user_id)
);
CREATE INDEX time_entries_work_item_idx ON time_entries (tenant, work_item_type, work_item_id);

CREATE TABLE asset_associations (
    tenant            uuid NOT NULL,
    association_id    uuid NOT NULL DEFAULT gen_random_uuid(),
    asset_id          uuid NOT NULL,
    entity_id         uuid NOT NULL,
    entity_type       text NOT NULL,
    relationship_type text NOT NULL DEFAULT 'affected',
    created_at        timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, association_id),
    UNIQUE (tenant, asset_id, entity_id, entity_type),
    FOREIGN KEY (tenant, asset_id) REFERENCES assets (tenant, asset_id)
);

CREATE TABLE internal_notifications (
    tenant                   uuid NOT NULL,
    internal_notification_id uuid NOT NULL DEFAULT gen_random_uuid(),
    user_id                  uuid NOT NULL,
    title                    text NOT NULL,
    message                  text,
    type                     text NOT NULL DEFAULT 'info',
    category                 text,
    link                     text,
    is_read                  boolean NOT NULL DEFAULT false,
    created_at               timestamptz NOT NULL DEFAULT now(),
    PRIMARY KEY (tenant, internal_notification_id),
    FOREIGN KEY (tenant, user_id) REFERENCES users (tenant, user_id)
);
CREATE INDEX internal_notifications_user_idx ON internal_notifications (tenant, user_id, is_read);
