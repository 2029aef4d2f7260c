"""SQL for ``rmm_outbox``: side effects recorded in the same transaction as the change."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb


class OutboxRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def add(self, tenant: UUID, *, kind: str, event_type: str, payload: dict[str, Any]) -> None:
        self.conn.execute(
            "INSERT INTO rmm_outbox (tenant, kind, event_type, payload) VALUES (%s, %s, %s, %s)",
            (tenant, kind, event_type, Jsonb(payload)),
        )
