"""Maintenance windows: CRUD with scope checks against the tenant, and when each one is next (or
currently) in force."""

from __future__ import annotations

import builtins
from datetime import datetime
from typing import Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from pydantic import ValidationError

from rmm_alerts import windows as schedule
from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps
from rmm_alerts.admin.errors import Problems, not_found
from rmm_alerts.contracts import MaintenanceWindow, MaintenanceWindowIn

# A time Python cannot hold (stored before range checks, or by hand) reads as NULL instead of
# making the whole list fail.
_COLUMNS = """window_id, name, is_active, integration_id, client_id, asset_id,
              CASE WHEN starts_at BETWEEN '0001-01-02 UTC' AND '9999-12-30 UTC' THEN starts_at END AS starts_at,
              CASE WHEN ends_at BETWEEN '0001-01-02 UTC' AND '9999-12-30 UTC' THEN ends_at END AS ends_at,
              recurrence, created_at, updated_at"""


class WindowRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def list(self, tenant: UUID) -> builtins.list[dict[str, Any]]:
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM rmm_maintenance_windows WHERE tenant = %s ORDER BY created_at, window_id",
            (tenant,),
        ).fetchall()

    def get(self, tenant: UUID, window_id: UUID) -> dict[str, Any] | None:
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM rmm_maintenance_windows WHERE tenant = %s AND window_id = %s",
            (tenant, window_id),
        ).fetchone()

    def scopes(self, tenant: UUID, body: MaintenanceWindowIn) -> dict[str, Any]:
        row = self.conn.execute(
            """SELECT EXISTS (SELECT 1 FROM rmm_integrations WHERE tenant = %(t)s AND integration_id = %(i)s) AS i_ok,
                      EXISTS (SELECT 1 FROM clients WHERE tenant = %(t)s AND client_id = %(c)s) AS c_ok,
                      (SELECT client_id FROM assets WHERE tenant = %(t)s AND asset_id = %(a)s) AS asset_client,
                      EXISTS (SELECT 1 FROM assets WHERE tenant = %(t)s AND asset_id = %(a)s) AS a_ok""",
            {"t": tenant, "i": body.integration_id, "c": body.client_id, "a": body.asset_id},
        ).fetchone()
        assert row is not None
        return row

    def save(self, tenant: UUID, window_id: UUID | None, body: MaintenanceWindowIn, user: str) -> dict[str, Any] | None:
        params = {
            "t": tenant,
            "w": window_id,
            "name": body.name,
            "active": body.is_active,
            "i": body.integration_id,
            "c": body.client_id,
            "a": body.asset_id,
            "s": body.starts_at,
            "e": body.ends_at,
            "r": Jsonb(body.recurrence.model_dump(mode="json", by_alias=True)) if body.recurrence else None,
        }
        if window_id is None:
            return self.conn.execute(
                f"""INSERT INTO rmm_maintenance_windows (tenant, name, is_active, integration_id, client_id, asset_id,
                                                        starts_at, ends_at, recurrence)
                    VALUES (%(t)s, %(name)s, %(active)s, %(i)s, %(c)s, %(a)s, %(s)s, %(e)s, %(r)s)
                    RETURNING {_COLUMNS}""",
                params,
            ).fetchone()
        return self.conn.execute(
            f"""UPDATE rmm_maintenance_windows
                   SET name = %(name)s, is_active = %(active)s, integration_id = %(i)s, client_id = %(c)s,
                       asset_id = %(a)s, starts_at = %(s)s, ends_at = %(e)s, recurrence = %(r)s, updated_at = now()
                 WHERE tenant = %(t)s AND window_id = %(w)s
             RETURNING {_COLUMNS}""",
            params,
        ).fetchone()

    def delete(self, tenant: UUID, window_id: UUID) -> bool:
        cur = self.conn.execute(
            "DELETE FROM rmm_maintenance_windows WHERE tenant = %s AND window_id = %s", (tenant, window_id)
        )
        return cur.rowcount > 0


def view(row: dict[str, Any], now: datetime) -> s.WindowOut:
    active_now = False
    nxt: tuple[datetime, datetime] | None = None
    try:
        window = MaintenanceWindow.model_validate(
            {k: v for k, v in row.items() if k not in ("created_at", "updated_at")}
        )
    except ValidationError:
        window = None
    if window is not None:
        active_now = window.is_active and schedule.covers(window, now)
        nxt = schedule.occurrence_at_or_after(window, now)
    return s.WindowOut(
        **row,
        active_now=active_now,
        next_starts_at=nxt[0] if nxt else None,
        next_ends_at=nxt[1] if nxt else None,
    )


def _validate_scopes(repo: WindowRepository, p: Principal, body: MaintenanceWindowIn) -> None:
    found = repo.scopes(p.tenant, body)
    problems = Problems()
    if body.integration_id is not None and not found["i_ok"]:
        problems.add("integrationId", "no such integration in this tenant")
    if body.client_id is not None and not found["c_ok"]:
        problems.add("clientId", "no such client in this tenant")
    if body.asset_id is not None:
        if not found["a_ok"]:
            problems.add("assetId", "no such asset in this tenant")
        elif body.client_id is not None and found["c_ok"] and found["asset_client"] != body.client_id:
            problems.add("assetId", "the asset does not belong to the client (the window could never match)")
    problems.raise_if_any()


def list_windows(deps: Deps, p: Principal) -> s.WindowList:
    with deps.uow_factory() as uow:
        rows = WindowRepository(uow.conn).list(p.tenant)
    now = deps.now()
    return s.WindowList(items=[view(r, now) for r in rows])


def get_window(deps: Deps, p: Principal, window_id: UUID) -> s.WindowOut:
    with deps.uow_factory() as uow:
        row = WindowRepository(uow.conn).get(p.tenant, window_id)
    if row is None:
        raise not_found("maintenance window")
    return view(row, deps.now())


def save_window(deps: Deps, p: Principal, body: MaintenanceWindowIn, window_id: UUID | None = None) -> s.WindowOut:
    with deps.uow_factory() as uow:
        repo = WindowRepository(uow.conn)
        if window_id is not None and repo.get(p.tenant, window_id) is None:
            raise not_found("maintenance window")
        _validate_scopes(repo, p, body)
        row = repo.save(p.tenant, window_id, body, p.user_id)
    if row is None:
        raise not_found("maintenance window")
    return view(row, deps.now())


def delete_window(deps: Deps, p: Principal, window_id: UUID) -> None:
    with deps.uow_factory() as uow:
        if not WindowRepository(uow.conn).delete(p.tenant, window_id):
            raise not_found("maintenance window")
