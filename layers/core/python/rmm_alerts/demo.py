"""The demo tenant that ``rmm-alerts dev`` seeds on first run.

A board with open and closed statuses, priorities, a client with a contact, an asset mapped to
the demo device (NinjaOne device 101, the one in the README's curl), organization mappings, one
integration per provider, a catch-all rule with auto-resolve that notifies the admin, and an admin user.
"""

from __future__ import annotations

import json
import os
import secrets
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb

from rmm_alerts.webhooks import hash_secret, new_secret

TENANT = UUID("0d3e5a10-0000-4000-8000-000000000001")
NINJA_INTEGRATION = UUID("0d3e5a10-0000-4000-8000-00000000000a")
TACTICAL_INTEGRATION = UUID("0d3e5a10-0000-4000-8000-00000000000b")
ADMIN_USER = UUID("0d3e5a10-0000-4000-8000-0000000000ad")
READER_USER = UUID("0d3e5a10-0000-4000-8000-0000000000ae")
CLIENT = UUID("0d3e5a10-0000-4000-8000-0000000000c1")
CONTACT = UUID("0d3e5a10-0000-4000-8000-0000000000c2")
ASSET = UUID("0d3e5a10-0000-4000-8000-0000000000a1")
BOARD = UUID("0d3e5a10-0000-4000-8000-0000000000b1")
DEMO_DEVICE = "101"
DEMO_ORG = "2"


@dataclass
class DevCredentials:
    """Local-only credentials, kept in a 0600 file under the dev home (never in the database)."""

    tenant_id: str
    admin_user_id: str
    admin_token: str
    ninjaone_integration_id: str
    ninjaone_secret: str
    tactical_integration_id: str
    tactical_secret: str
    # A read-only user (no rmm-admin group) for the admin UI; filled in on files from before it existed.
    reader_user_id: str = str(READER_USER)
    reader_token: str = ""

    def save(self, path: Path) -> None:
        """Write atomically, never readable by others: a temp file created 0600 (O_EXCL, so never
        someone else's), flushed, then renamed over the old one."""
        path.parent.mkdir(parents=True, exist_ok=True, mode=0o700)
        tmp = path.with_name(f".{path.name}.{secrets.token_hex(8)}.tmp")
        fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        try:
            with os.fdopen(fd, "w", encoding="utf-8") as handle:
                handle.write(json.dumps(asdict(self), indent=2))
                handle.flush()
                os.fsync(handle.fileno())
            os.replace(tmp, path)
        except BaseException:
            tmp.unlink(missing_ok=True)
            raise

    @classmethod
    def load(cls, path: Path) -> DevCredentials | None:
        try:
            return cls(**json.loads(path.read_text()))
        except (OSError, ValueError, TypeError):
            return None


def _exists(conn: psycopg.Connection[Any]) -> bool:
    return conn.execute("SELECT 1 FROM tenants WHERE tenant = %s", (TENANT,)).fetchone() is not None


def seed(conninfo: str, credentials_path: Path) -> tuple[DevCredentials, bool]:
    """Seed once; return the credentials and whether this call created the tenant."""
    creds = DevCredentials.load(credentials_path)
    with psycopg.connect(conninfo) as conn:
        created = not _exists(conn)
        if creds is None or created:
            creds = DevCredentials(
                tenant_id=str(TENANT),
                admin_user_id=str(ADMIN_USER),
                admin_token=secrets.token_urlsafe(24),
                ninjaone_integration_id=str(NINJA_INTEGRATION),
                ninjaone_secret=new_secret(),
                tactical_integration_id=str(TACTICAL_INTEGRATION),
                tactical_secret=new_secret(),
            )
        if not creds.reader_token:
            creds.reader_token = secrets.token_urlsafe(24)
        if created:
            _seed_tenant(conn)
        conn.execute(
            """INSERT INTO users (tenant, user_id, email, first_name, last_name)
               VALUES (%s, %s, 'reader@demo-msp.test', 'Rita', 'Reader') ON CONFLICT DO NOTHING""",
            (TENANT, READER_USER),
        )
        # (Re)state the secrets: the database keeps only their hashes.
        for iid, secret in ((NINJA_INTEGRATION, creds.ninjaone_secret), (TACTICAL_INTEGRATION, creds.tactical_secret)):
            conn.execute(
                "UPDATE rmm_integrations SET webhook_secret_hash = %s WHERE tenant = %s AND integration_id = %s",
                (hash_secret(secret), TENANT, iid),
            )
        conn.commit()
    creds.save(credentials_path)
    return creds, created


def _seed_tenant(conn: psycopg.Connection[Any]) -> None:
    t = TENANT
    x = conn.execute
    x("INSERT INTO tenants (tenant, tenant_name) VALUES (%s, 'Demo MSP')", (t,))
    x(
        """INSERT INTO users (tenant, user_id, email, first_name, last_name)
           VALUES (%s, %s, 'admin@demo-msp.test', 'Ada', 'Admin')""",
        (t, ADMIN_USER),
    )
    x("INSERT INTO boards (tenant, board_id, board_name, is_default) VALUES (%s, %s, 'Service Desk', true)", (t, BOARD))
    for name, closed, default, order in (
        ("New", False, True, 1),
        ("In Progress", False, False, 2),
        ("Waiting on Client", False, False, 3),
        ("Closed", True, False, 4),
    ):
        x(
            """INSERT INTO statuses (tenant, board_id, name, is_closed, is_default, order_number)
               VALUES (%s, %s, %s, %s, %s, %s)""",
            (t, BOARD, name, closed, default, order),
        )
    for order, name in enumerate(("Urgent", "High", "Medium", "Low"), start=1):
        x("INSERT INTO priorities (tenant, priority_name, order_number) VALUES (%s, %s, %s)", (t, name, order))
    x(
        "INSERT INTO clients (tenant, client_id, client_name, properties) VALUES (%s, %s, 'Acme Corp', %s)",
        (t, CLIENT, Jsonb({"primary_contact_id": str(CONTACT)})),
    )
    x(
        """INSERT INTO contacts (tenant, contact_name_id, client_id, full_name, email)
           VALUES (%s, %s, %s, 'Carol Contact', 'carol@acme.test')""",
        (t, CONTACT, CLIENT),
    )
    x("INSERT INTO assets (tenant, asset_id, client_id, name) VALUES (%s, %s, %s, 'ACME-WS-01')", (t, ASSET, CLIENT))
    for iid, provider, name in (
        (NINJA_INTEGRATION, "ninjaone", "Demo NinjaOne"),
        (TACTICAL_INTEGRATION, "tacticalrmm", "Demo TacticalRMM"),
    ):
        x(
            """INSERT INTO rmm_integrations (tenant, integration_id, provider, name, instance_url)
               VALUES (%s, %s, %s, %s, %s)""",
            (t, iid, provider, name, "https://app.ninjarmm.com" if provider == "ninjaone" else None),
        )
        x(
            """INSERT INTO rmm_organization_mappings
                   (tenant, integration_id, external_organization_id, external_organization_name, client_id,
                    default_contact_id)
               VALUES (%s, %s, %s, 'Acme Corp', %s, %s)""",
            (t, iid, DEMO_ORG, CLIENT, CONTACT),
        )
        x(
            """INSERT INTO rmm_alert_rules (tenant, integration_id, name, description, priority_order, conditions,
                                            actions)
               VALUES (%s, %s, 'Catch-all', 'Every alert becomes a ticket; resets close untouched tickets.', 1,
                       '{}', %s)""",
            # The admin is notified of new tickets (in-app and e-mail: .rmm-alerts/mail/ locally).
            (t, iid, Jsonb({"createTicket": True, "autoResolveTicket": True, "notifyUserIds": [str(ADMIN_USER)]})),
        )
    x(
        """INSERT INTO rmm_device_mappings (tenant, integration_id, external_device_id, asset_id)
           VALUES (%s, %s, %s, %s)""",
        (t, NINJA_INTEGRATION, DEMO_DEVICE, ASSET),
    )
