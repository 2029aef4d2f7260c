"""SQL for the PSA tables the pipeline writes: tickets, comments, associations, numbers."""

from __future__ import annotations

from datetime import datetime
from uuid import UUID

from psycopg.types.json import Jsonb

from rmm_alerts.db import Executor, Rows
from rmm_alerts.tickets import TicketDraft

# A PL/pgSQL function (migration 0009) for its cached plan: the board (the rule's, else the
# tenant's default), its default status, the priorities, and whether the assignee, contact and
# client exist.
_TICKET_DEFAULTS = (
    "SELECT * FROM rmm_ticket_defaults(%(t)s, %(board)s::uuid, %(assignee)s::uuid, %(contact)s::uuid, %(client)s::uuid)"
)

# The number comes from the tenant's own sequence (migration 0004): never one the PSA already
# issued, and nothing for a concurrent ticket of the tenant to wait on.
_INSERT_TICKET = """
INSERT INTO tickets (tenant, ticket_id, ticket_number, title, description, board_id, status_id, priority_id,
                     client_id, contact_name_id, assigned_to, source, attributes, entered_at, updated_at)
VALUES (%(tenant)s, %(ticket_id)s, rmm_next_ticket_number(%(tenant)s), %(title)s, %(description)s,
        %(board_id)s, %(status_id)s, %(priority_id)s, %(client_id)s, %(contact_id)s, %(assigned_to)s,
        %(source)s, %(attributes)s, %(now)s, %(now)s)
RETURNING ticket_number
"""


class PsaRepository:
    def __init__(self, conn: Executor) -> None:
        self.conn = conn

    def query_ticket_defaults(
        self,
        tenant: UUID,
        *,
        board_id: UUID | None,
        assignee: UUID | None,
        contact: UUID | None,
        client: UUID | None,
    ) -> Rows:
        """Send the read of the board (the rule's, else the tenant's default), its default status and
        the priorities (``fetchone()`` it, after its batch if sent in one)."""
        return self.conn.execute(
            _TICKET_DEFAULTS,
            {"t": tenant, "board": board_id, "assignee": assignee, "contact": contact, "client": client},
        )

    def insert_ticket(self, tenant: UUID, draft: TicketDraft, now: datetime) -> Rows:
        """Insert with the tenant's next ticket number; fetch ``ticket_number`` from the cursor."""
        return self.conn.execute(
            _INSERT_TICKET,
            {
                "tenant": tenant,
                "ticket_id": draft.ticket_id,
                "title": draft.title,
                "description": draft.description,
                "board_id": draft.board_id,
                "status_id": draft.status_id,
                "priority_id": draft.priority_id,
                "client_id": draft.client_id,
                "contact_id": draft.contact_id,
                "assigned_to": draft.assigned_to,
                "source": draft.source,
                "attributes": Jsonb(draft.attributes),
                "now": now,
            },
        )

    def add_system_note(self, tenant: UUID, ticket_id: UUID, note: str, at: datetime) -> None:
        """An internal, system-generated comment (it never counts as a human touch)."""
        self.conn.execute("SELECT rmm_add_system_note(%s, %s, %s, %s)", (tenant, ticket_id, note, at))

    def associate_asset(self, tenant: UUID, asset_id: UUID, ticket_id: UUID) -> None:
        self.conn.execute(
            """INSERT INTO asset_associations (tenant, asset_id, entity_id, entity_type, relationship_type)
               VALUES (%s, %s, %s, 'ticket', 'affected')
               ON CONFLICT (tenant, asset_id, entity_id, entity_type) DO NOTHING""",
            (tenant, asset_id, ticket_id),
        )

    def close_ticket(self, tenant: UUID, ticket_id: UUID, status_id: UUID, at: datetime) -> None:
        """Unless it is closed already (migration 0011)."""
        self.conn.execute("SELECT rmm_close_ticket(%s, %s, %s, %s)", (tenant, ticket_id, status_id, at))
