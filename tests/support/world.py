"""Builders for a tenant's PSA and alert configuration, written straight to PostgreSQL."""

from __future__ import annotations

import uuid
from dataclasses import dataclass, field
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb


@dataclass
class Tenant:
    conn: psycopg.Connection[dict[str, Any]]
    tenant: UUID
    board_id: UUID
    open_status_id: UUID
    working_status_id: UUID
    closed_status_id: UUID
    priorities: dict[str, UUID]
    client_id: UUID
    contact_id: UUID
    user_id: UUID
    integration_id: UUID
    extra: dict[str, Any] = field(default_factory=dict)

    # -- writes -------------------------------------------------------------------------------
    def q(self, query: str, *params: Any) -> list[dict[str, Any]]:
        cur = self.conn.execute(query, params)
        return cur.fetchall() if cur.description else []

    def one(self, query: str, *params: Any) -> dict[str, Any]:
        rows = self.q(query, *params)
        assert len(rows) == 1, rows
        return rows[0]

    def add_integration(self, provider: str = "ninjaone", name: str = "Second", is_active: bool = True) -> UUID:
        iid = uuid.uuid4()
        self.q(
            """INSERT INTO rmm_integrations (tenant, integration_id, provider, name, is_active)
               VALUES (%s, %s, %s, %s, %s)""",
            self.tenant,
            iid,
            provider,
            name,
            is_active,
        )
        return iid

    def add_client(self, name: str = "Other Client", primary_contact: bool = True) -> tuple[UUID, UUID | None]:
        cid, contact = uuid.uuid4(), uuid.uuid4()
        self.q("INSERT INTO clients (tenant, client_id, client_name) VALUES (%s, %s, %s)", self.tenant, cid, name)
        self.q(
            "INSERT INTO contacts (tenant, contact_name_id, client_id, full_name) VALUES (%s, %s, %s, %s)",
            self.tenant,
            contact,
            cid,
            f"{name} Contact",
        )
        if primary_contact:
            self.q(
                "UPDATE clients SET properties = %s WHERE tenant = %s AND client_id = %s",
                Jsonb({"primary_contact_id": str(contact)}),
                self.tenant,
                cid,
            )
            return cid, contact
        return cid, None

    def map_org(
        self,
        external_org_id: str,
        client_id: UUID | None = None,
        contact_id: UUID | None = None,
        integration_id: UUID | None = None,
    ) -> UUID:
        mid = uuid.uuid4()
        self.q(
            """INSERT INTO rmm_organization_mappings
                   (tenant, mapping_id, integration_id, external_organization_id, client_id, default_contact_id)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            self.tenant,
            mid,
            integration_id or self.integration_id,
            external_org_id,
            client_id or self.client_id,
            contact_id,
        )
        return mid

    def add_asset(self, name: str = "SRV-01", client_id: UUID | None = None) -> UUID:
        aid = uuid.uuid4()
        self.q(
            "INSERT INTO assets (tenant, asset_id, client_id, name) VALUES (%s, %s, %s, %s)",
            self.tenant,
            aid,
            client_id or self.client_id,
            name,
        )
        return aid

    def map_device(self, external_device_id: str, asset_id: UUID, integration_id: UUID | None = None) -> None:
        self.q(
            """INSERT INTO rmm_device_mappings (tenant, integration_id, external_device_id, asset_id)
               VALUES (%s, %s, %s, %s)""",
            self.tenant,
            integration_id or self.integration_id,
            external_device_id,
            asset_id,
        )

    def add_rule(
        self,
        name: str = "Catch-all",
        conditions: dict[str, Any] | None = None,
        actions: dict[str, Any] | None = None,
        is_active: bool = True,
        integration_id: UUID | None = None,
        priority_order: int | None = None,
    ) -> UUID:
        rid = uuid.uuid4()
        integration = integration_id or self.integration_id
        if priority_order is None:
            row = self.one(
                """SELECT coalesce(max(priority_order), 0) + 1 AS n FROM rmm_alert_rules
                    WHERE tenant = %s AND integration_id = %s""",
                self.tenant,
                integration,
            )
            priority_order = int(row["n"])
        self.q(
            """INSERT INTO rmm_alert_rules (tenant, rule_id, integration_id, name, is_active, priority_order,
                                            conditions, actions)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s)""",
            self.tenant,
            rid,
            integration,
            name,
            is_active,
            priority_order,
            Jsonb(conditions or {}),
            Jsonb(actions or {}),
        )
        return rid

    def add_window(self, name: str = "Window", **cols: Any) -> UUID:
        wid = uuid.uuid4()
        recurrence = cols.pop("recurrence", None)
        self.q(
            """INSERT INTO rmm_maintenance_windows (tenant, window_id, name, is_active, integration_id, client_id,
                                                    asset_id, starts_at, ends_at, recurrence)
               VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s)""",
            self.tenant,
            wid,
            name,
            cols.get("is_active", True),
            cols.get("integration_id"),
            cols.get("client_id"),
            cols.get("asset_id"),
            cols.get("starts_at"),
            cols.get("ends_at"),
            Jsonb(recurrence) if recurrence is not None else None,
        )
        return wid

    # -- reads --------------------------------------------------------------------------------
    def alerts(self) -> list[dict[str, Any]]:
        return self.q("SELECT * FROM rmm_alerts WHERE tenant = %s ORDER BY created_at, alert_id", self.tenant)

    def alert(self, alert_id: UUID | None) -> dict[str, Any]:
        return self.one("SELECT * FROM rmm_alerts WHERE tenant = %s AND alert_id = %s", self.tenant, alert_id)

    def trace(self, alert_id: UUID | None) -> dict[str, Any]:
        """The alert's whole decision trace, as the admin API shows it (the rules included)."""
        row = self.one(
            "SELECT rmm_decision_trace(a) AS trace FROM rmm_alerts a WHERE tenant = %s AND alert_id = %s",
            self.tenant,
            alert_id,
        )
        return dict(row["trace"])

    def tickets(self) -> list[dict[str, Any]]:
        return self.q("SELECT * FROM tickets WHERE tenant = %s ORDER BY entered_at, ticket_number", self.tenant)

    def ticket(self, ticket_id: UUID | None) -> dict[str, Any]:
        return self.one("SELECT * FROM tickets WHERE tenant = %s AND ticket_id = %s", self.tenant, ticket_id)

    def comments(self, ticket_id: UUID | None) -> list[dict[str, Any]]:
        return self.q(
            "SELECT * FROM comments WHERE tenant = %s AND ticket_id = %s ORDER BY created_at, note",
            self.tenant,
            ticket_id,
        )

    def outbox(self) -> list[dict[str, Any]]:
        return self.q("SELECT * FROM rmm_outbox WHERE tenant = %s ORDER BY created_at, outbox_id", self.tenant)


def make_tenant(conn: psycopg.Connection[dict[str, Any]], name: str = "Acme MSP", provider: str = "ninjaone") -> Tenant:
    """A tenant with a default board (open, working, closed statuses), the usual priorities, a client with
    a primary contact, a technician, and one active integration."""
    t = uuid.uuid4()
    board, s_open, s_work, s_closed = (uuid.uuid4() for _ in range(4))
    client, contact, user, integration = (uuid.uuid4() for _ in range(4))
    conn.execute("INSERT INTO tenants (tenant, tenant_name) VALUES (%s, %s)", (t, name))
    conn.execute(
        "INSERT INTO boards (tenant, board_id, board_name, is_default) VALUES (%s, %s, 'Service Desk', true)",
        (t, board),
    )
    for sid, sname, closed, default, order in (
        (s_open, "New", False, True, 1),
        (s_work, "In Progress", False, False, 2),
        (s_closed, "Closed", True, False, 3),
    ):
        conn.execute(
            """INSERT INTO statuses (tenant, status_id, board_id, name, is_closed, is_default, order_number)
               VALUES (%s, %s, %s, %s, %s, %s, %s)""",
            (t, sid, board, sname, closed, default, order),
        )
    priorities: dict[str, UUID] = {}
    for order, pname in enumerate(("Urgent", "High", "Medium", "Low"), start=1):
        pid = uuid.uuid4()
        priorities[pname] = pid
        conn.execute(
            "INSERT INTO priorities (tenant, priority_id, priority_name, order_number) VALUES (%s, %s, %s, %s)",
            (t, pid, pname, order),
        )
    conn.execute("INSERT INTO clients (tenant, client_id, client_name) VALUES (%s, %s, 'Globex')", (t, client))
    conn.execute(
        "INSERT INTO contacts (tenant, contact_name_id, client_id, full_name) VALUES (%s, %s, %s, 'Pat Primary')",
        (t, contact, client),
    )
    conn.execute(
        "UPDATE clients SET properties = %s WHERE tenant = %s AND client_id = %s",
        (Jsonb({"primary_contact_id": str(contact)}), t, client),
    )
    conn.execute(
        """INSERT INTO users (tenant, user_id, email, first_name, last_name)
           VALUES (%s, %s, 'tech@acme.test', 'Tess', 'Tech')""",
        (t, user),
    )
    conn.execute(
        "INSERT INTO rmm_integrations (tenant, integration_id, provider, name) VALUES (%s, %s, %s, 'RMM')",
        (t, integration, provider),
    )
    return Tenant(conn, t, board, s_open, s_work, s_closed, priorities, client, contact, user, integration)


def set_webhook_secret(
    world: Tenant,
    secret: str | None,
    integration_id: UUID | None = None,
    previous: str | None = None,
    previous_expires_at: Any = None,
) -> None:
    from rmm_alerts.webhooks import hash_secret

    world.q(
        """UPDATE rmm_integrations SET webhook_secret_hash = %s, previous_webhook_secret_hash = %s,
                  previous_secret_expires_at = %s
            WHERE tenant = %s AND integration_id = %s""",
        hash_secret(secret) if secret else None,
        hash_secret(previous) if previous else None,
        previous_expires_at,
        world.tenant,
        integration_id or world.integration_id,
    )
