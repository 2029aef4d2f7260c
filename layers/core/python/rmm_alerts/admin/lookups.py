"""Lookups for the admin UI's pickers: boards, closed statuses per board, priorities, users,
clients, contacts and assets per client. Tenant-scoped, searchable by name (case-insensitive
substring) and offset-paged with a small maximum page, so a picker never loads a whole table.
A board or client of another tenant is 404, like every other object."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps
from rmm_alerts.admin.errors import not_found

# name and detail expressions, FROM/WHERE body, ORDER BY, per kind. Fixed SQL only; values are bound.
_KINDS: dict[str, tuple[str, str, str, str]] = {
    "boards": (
        "board_id",
        "board_name",
        "CASE WHEN is_default THEN 'default board' END",
        "FROM boards WHERE tenant = %(t)s AND NOT is_inactive",
    ),
    "closed_statuses": (
        "status_id",
        "name",
        "NULL",
        "FROM statuses WHERE tenant = %(t)s AND board_id = %(parent)s AND status_type = 'ticket' AND is_closed",
    ),
    "priorities": ("priority_id", "priority_name", "NULL", "FROM priorities WHERE tenant = %(t)s"),
    "users": (
        "user_id",
        "coalesce(nullif(trim(concat_ws(' ', first_name, last_name)), ''), email, user_id::text)",
        "email",
        "FROM users WHERE tenant = %(t)s AND NOT is_inactive",
    ),
    "clients": ("client_id", "client_name", "NULL", "FROM clients WHERE tenant = %(t)s AND NOT is_inactive"),
    "contacts": (
        "contact_name_id",
        "full_name",
        "email",
        "FROM contacts WHERE tenant = %(t)s AND client_id = %(parent)s AND NOT is_inactive",
    ),
    "assets": ("asset_id", "name", "NULL", "FROM assets WHERE tenant = %(t)s AND client_id = %(parent)s"),
}
_ORDER = {"priorities": "order_number, priority_name", "closed_statuses": "order_number, name"}
_PARENTS = {
    "closed_statuses": ("SELECT 1 FROM boards WHERE tenant = %s AND board_id = %s", "board"),
    "contacts": ("SELECT 1 FROM clients WHERE tenant = %s AND client_id = %s", "client"),
    "assets": ("SELECT 1 FROM clients WHERE tenant = %s AND client_id = %s", "client"),
}


def _like(search: str) -> str:
    escaped = search.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


class LookupRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def parent_exists(self, kind: str, tenant: UUID, parent: UUID) -> bool:
        query, _ = _PARENTS[kind]
        return self.conn.execute(query, (tenant, parent)).fetchone() is not None

    def page(
        self, kind: str, tenant: UUID, *, parent: UUID | None, search: str | None, limit: int, offset: int
    ) -> list[dict[str, Any]]:
        id_col, name, detail, body = _KINDS[kind]
        order = _ORDER.get(kind, "name")
        query = f"""SELECT {id_col} AS id, {name} AS name, {detail} AS detail {body}
                      AND (%(q)s::text IS NULL OR {name} ILIKE %(q)s)
                    ORDER BY {order}, {id_col}
                    LIMIT %(n)s OFFSET %(o)s"""
        params = {"t": tenant, "parent": parent, "q": _like(search) if search else None, "n": limit, "o": offset}
        return self.conn.execute(query, params).fetchall()


def lookup(
    deps: Deps,
    p: Principal,
    kind: str,
    *,
    parent: UUID | None = None,
    search: str | None = None,
    limit: int = 50,
    offset: int = 0,
) -> s.LookupPage:
    """One page of ``kind`` for the caller's tenant; ``nextOffset`` is null on the last page."""
    with deps.uow_factory() as uow:
        repo = LookupRepository(uow.conn)
        if kind in _PARENTS:
            assert parent is not None
            if not repo.parent_exists(kind, p.tenant, parent):
                raise not_found(_PARENTS[kind][1])
        rows = repo.page(kind, p.tenant, parent=parent, search=search or None, limit=limit + 1, offset=offset)
    more = len(rows) > limit
    items = [s.LookupItem(id=r["id"], name=r["name"], detail=r["detail"]) for r in rows[:limit]]
    return s.LookupPage(items=items, next_offset=offset + limit if more else None)
