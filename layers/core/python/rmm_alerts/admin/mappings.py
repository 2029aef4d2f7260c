"""Organization mappings (external org -> client, default contact) and device mappings
(external device -> asset), per integration."""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps, integration_row
from rmm_alerts.admin.errors import Problems, conflict, not_found

_ORG = """SELECT m.mapping_id, m.integration_id, m.external_organization_id, m.external_organization_name,
                 m.client_id, c.client_name, m.default_contact_id, m.created_at, m.updated_at
            FROM rmm_organization_mappings m
            LEFT JOIN clients c ON c.tenant = m.tenant AND c.client_id = m.client_id"""
_DEVICE = """SELECT d.mapping_id, d.integration_id, d.external_device_id, d.asset_id, a.name AS asset_name,
                    d.created_at, d.updated_at
               FROM rmm_device_mappings d
               LEFT JOIN assets a ON a.tenant = d.tenant AND a.asset_id = d.asset_id"""


class MappingRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def orgs(self, tenant: UUID, integration_id: UUID) -> list[dict[str, Any]]:
        return self.conn.execute(
            _ORG + " WHERE m.tenant = %s AND m.integration_id = %s ORDER BY m.external_organization_id",
            (tenant, integration_id),
        ).fetchall()

    def org(self, tenant: UUID, integration_id: UUID, mapping_id: UUID) -> dict[str, Any] | None:
        return self.conn.execute(
            _ORG + " WHERE m.tenant = %s AND m.integration_id = %s AND m.mapping_id = %s",
            (tenant, integration_id, mapping_id),
        ).fetchone()

    def org_taken(self, tenant: UUID, integration_id: UUID, external_id: str, other_than: UUID | None) -> bool:
        row = self.conn.execute(
            """SELECT 1 FROM rmm_organization_mappings
                WHERE tenant = %s AND integration_id = %s AND external_organization_id = %s
                  AND mapping_id IS DISTINCT FROM %s""",
            (tenant, integration_id, external_id, other_than),
        ).fetchone()
        return row is not None

    def check_client_contact(self, tenant: UUID, client_id: UUID, contact_id: UUID | None) -> dict[str, Any]:
        row = self.conn.execute(
            """SELECT EXISTS (SELECT 1 FROM clients WHERE tenant = %(t)s AND client_id = %(c)s) AS client_ok,
                      (SELECT client_id FROM contacts WHERE tenant = %(t)s AND contact_name_id = %(k)s)
                          AS contact_client,
                      EXISTS (SELECT 1 FROM contacts WHERE tenant = %(t)s AND contact_name_id = %(k)s) AS contact_ok""",
            {"t": tenant, "c": client_id, "k": contact_id},
        ).fetchone()
        assert row is not None
        return row

    def upsert_org(self, tenant: UUID, integration_id: UUID, mapping_id: UUID | None, body: s.OrgMappingIn) -> UUID:
        params = {
            "t": tenant,
            "i": integration_id,
            "m": mapping_id,
            "x": body.external_organization_id,
            "n": body.external_organization_name,
            "c": body.client_id,
            "k": body.default_contact_id,
        }
        if mapping_id is None:
            row = self.conn.execute(
                """INSERT INTO rmm_organization_mappings (tenant, integration_id, external_organization_id,
                                                           external_organization_name, client_id, default_contact_id)
                   VALUES (%(t)s, %(i)s, %(x)s, %(n)s, %(c)s, %(k)s) RETURNING mapping_id""",
                params,
            ).fetchone()
        else:
            row = self.conn.execute(
                """UPDATE rmm_organization_mappings
                      SET external_organization_id = %(x)s, external_organization_name = %(n)s, client_id = %(c)s,
                          default_contact_id = %(k)s, updated_at = now()
                    WHERE tenant = %(t)s AND integration_id = %(i)s AND mapping_id = %(m)s RETURNING mapping_id""",
                params,
            ).fetchone()
        if row is None:
            raise not_found("organization mapping")
        return UUID(str(row["mapping_id"]))

    def delete_org(self, tenant: UUID, integration_id: UUID, mapping_id: UUID) -> bool:
        cur = self.conn.execute(
            "DELETE FROM rmm_organization_mappings WHERE tenant = %s AND integration_id = %s AND mapping_id = %s",
            (tenant, integration_id, mapping_id),
        )
        return cur.rowcount > 0

    def devices(self, tenant: UUID, integration_id: UUID) -> list[dict[str, Any]]:
        return self.conn.execute(
            _DEVICE + " WHERE d.tenant = %s AND d.integration_id = %s ORDER BY d.external_device_id",
            (tenant, integration_id),
        ).fetchall()

    def device(self, tenant: UUID, integration_id: UUID, external_device_id: str) -> dict[str, Any] | None:
        return self.conn.execute(
            _DEVICE + " WHERE d.tenant = %s AND d.integration_id = %s AND d.external_device_id = %s",
            (tenant, integration_id, external_device_id),
        ).fetchone()

    def asset_exists(self, tenant: UUID, asset_id: UUID) -> bool:
        row = self.conn.execute("SELECT 1 FROM assets WHERE tenant = %s AND asset_id = %s", (tenant, asset_id))
        return row.fetchone() is not None

    def upsert_device(self, tenant: UUID, integration_id: UUID, external_device_id: str, asset_id: UUID) -> None:
        self.conn.execute(
            """INSERT INTO rmm_device_mappings (tenant, integration_id, external_device_id, asset_id)
               VALUES (%s, %s, %s, %s)
               ON CONFLICT (tenant, integration_id, external_device_id)
               DO UPDATE SET asset_id = EXCLUDED.asset_id, updated_at = now()""",
            (tenant, integration_id, external_device_id, asset_id),
        )

    def delete_device(self, tenant: UUID, integration_id: UUID, external_device_id: str) -> bool:
        cur = self.conn.execute(
            """DELETE FROM rmm_device_mappings
                WHERE tenant = %s AND integration_id = %s AND external_device_id = %s""",
            (tenant, integration_id, external_device_id),
        )
        return cur.rowcount > 0


# -- organization mappings --------------------------------------------------------------------


def list_orgs(deps: Deps, p: Principal, integration_id: UUID) -> s.OrgMappingList:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=False)
        rows = MappingRepository(uow.conn).orgs(p.tenant, integration_id)
    return s.OrgMappingList(items=[s.OrgMappingOut.model_validate(r) for r in rows])


def _validate_org(repo: MappingRepository, p: Principal, body: s.OrgMappingIn) -> None:
    found = repo.check_client_contact(p.tenant, body.client_id, body.default_contact_id)
    problems = Problems()
    if not found["client_ok"]:
        problems.add("clientId", "no such client in this tenant")
    if body.default_contact_id is not None:
        if not found["contact_ok"]:
            problems.add("defaultContactId", "no such contact in this tenant")
        elif found["contact_client"] != body.client_id:
            problems.add("defaultContactId", "the contact does not belong to the client")
    problems.raise_if_any()


def save_org(
    deps: Deps, p: Principal, integration_id: UUID, body: s.OrgMappingIn, mapping_id: UUID | None = None
) -> s.OrgMappingOut:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=True)
        repo = MappingRepository(uow.conn)
        if mapping_id is not None and repo.org(p.tenant, integration_id, mapping_id) is None:
            raise not_found("organization mapping")
        _validate_org(repo, p, body)
        if repo.org_taken(p.tenant, integration_id, body.external_organization_id, mapping_id):
            raise conflict("this external organization is already mapped", "externalOrganizationId")
        saved = repo.upsert_org(p.tenant, integration_id, mapping_id, body)
        row = repo.org(p.tenant, integration_id, saved)
    assert row is not None
    return s.OrgMappingOut.model_validate(row)


def delete_org(deps: Deps, p: Principal, integration_id: UUID, mapping_id: UUID) -> None:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=True)
        if not MappingRepository(uow.conn).delete_org(p.tenant, integration_id, mapping_id):
            raise not_found("organization mapping")


# -- device mappings --------------------------------------------------------------------------


def list_devices(deps: Deps, p: Principal, integration_id: UUID) -> s.DeviceMappingList:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=False)
        rows = MappingRepository(uow.conn).devices(p.tenant, integration_id)
    return s.DeviceMappingList(items=[s.DeviceMappingOut.model_validate(r) for r in rows])


def put_device(
    deps: Deps, p: Principal, integration_id: UUID, external_device_id: str, body: s.DeviceMappingIn
) -> s.DeviceMappingOut:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=True)
        repo = MappingRepository(uow.conn)
        if not repo.asset_exists(p.tenant, body.asset_id):
            problems = Problems()
            problems.add("assetId", "no such asset in this tenant")
            problems.raise_if_any()
        repo.upsert_device(p.tenant, integration_id, external_device_id, body.asset_id)
        row = repo.device(p.tenant, integration_id, external_device_id)
    assert row is not None
    return s.DeviceMappingOut.model_validate(row)


def delete_device(deps: Deps, p: Principal, integration_id: UUID, external_device_id: str) -> None:
    with deps.uow_factory() as uow:
        integration_row(uow.conn, p.tenant, integration_id, for_write=True)
        if not MappingRepository(uow.conn).delete_device(p.tenant, integration_id, external_device_id):
            raise not_found("device mapping")
