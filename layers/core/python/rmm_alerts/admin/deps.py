"""What the admin services need from outside: a unit of work, the scheduler and secret-store
ports, settings, and a clock. Built lazily from the environment (never at import)."""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any
from uuid import UUID

from rmm_alerts import config, db
from rmm_alerts.admin.errors import conflict, not_found
from rmm_alerts.ports import AdminSettings, Scheduler, SecretStore, scheduler_for, secret_store_for


def _utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass
class Deps:
    uow_factory: Callable[[], db.UnitOfWork]
    scheduler: Scheduler
    secrets: SecretStore
    settings: AdminSettings
    now: Callable[[], datetime] = field(default=_utcnow)


_lock = threading.Lock()
_current: tuple[AdminSettings, Deps] | None = None


def current() -> Deps:
    """The process's dependencies, rebuilt when the cached settings change (tests)."""
    global _current
    settings = config.cached(AdminSettings)
    with _lock:
        if _current is None or _current[0] is not settings:
            deps = Deps(
                uow_factory=lambda: db.UnitOfWork(db.get_pool(settings)),
                scheduler=scheduler_for(settings),
                secrets=secret_store_for(settings),
                settings=settings,
            )
            _current = (settings, deps)
        return _current[1]


def override(deps: Deps | None) -> None:
    """Use ``deps`` for the next requests (``None``: back to the environment's)."""
    global _current
    with _lock:
        _current = (config.cached(AdminSettings), deps) if deps is not None else None


# -- shared SQL helpers -----------------------------------------------------------------------


def integration_row(conn: Any, tenant: UUID, integration_id: UUID, *, for_write: bool) -> dict[str, Any]:
    """The tenant's integration (locked for writes), 404 when it is not the tenant's, and 409 for a
    write to a disconnected one."""
    query = """SELECT integration_id, provider, is_active FROM rmm_integrations
                WHERE tenant = %s AND integration_id = %s"""
    if for_write:
        query += " FOR UPDATE"
    row: dict[str, Any] | None = conn.execute(query, (tenant, integration_id)).fetchone()
    if row is None:
        raise not_found("integration")
    if for_write and not row["is_active"]:
        raise conflict("the integration is disconnected")
    return row
