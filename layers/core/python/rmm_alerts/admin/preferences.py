"""The caller's own notification preferences (``GET|PUT /v1/me/notification-preferences``).

Any user of the tenant reads and changes their own (no admin group needed); the caller is the
``sub`` claim, which must be a user of the caller's tenant (else 404). No stored row means both
channels on. The outbox dispatcher reads the same table at delivery time.
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

import psycopg

from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps
from rmm_alerts.admin.errors import not_found


class PreferencesRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def get(self, tenant: UUID, user_id: UUID) -> dict[str, Any] | None:
        """The user's channels (defaults when nothing is stored), or None when no such user."""
        return self.conn.execute(
            """SELECT coalesce(p.rmm_in_app, true) AS in_app, coalesce(p.rmm_email, true) AS email
                 FROM users u
            LEFT JOIN rmm_notification_preferences p ON p.tenant = u.tenant AND p.user_id = u.user_id
                WHERE u.tenant = %s AND u.user_id = %s""",
            (tenant, user_id),
        ).fetchone()

    def put(self, tenant: UUID, user_id: UUID, *, in_app: bool, email: bool) -> dict[str, Any] | None:
        return self.conn.execute(
            """INSERT INTO rmm_notification_preferences (tenant, user_id, rmm_in_app, rmm_email)
               SELECT u.tenant, u.user_id, %s, %s FROM users u WHERE u.tenant = %s AND u.user_id = %s
               ON CONFLICT (tenant, user_id)
               DO UPDATE SET rmm_in_app = EXCLUDED.rmm_in_app, rmm_email = EXCLUDED.rmm_email, updated_at = now()
               RETURNING rmm_in_app AS in_app, rmm_email AS email""",
            (in_app, email, tenant, user_id),
        ).fetchone()


def _caller(p: Principal) -> UUID:
    try:
        return UUID(p.user_id)
    except ValueError:
        raise not_found("user") from None


def _view(row: dict[str, Any]) -> s.NotificationPreferences:
    return s.NotificationPreferences(rmm_alerts=s.RmmAlertChannels(in_app=row["in_app"], email=row["email"]))


def get(deps: Deps, p: Principal) -> s.NotificationPreferences:
    user = _caller(p)
    with deps.uow_factory() as uow:
        row = PreferencesRepository(uow.conn).get(p.tenant, user)
    if row is None:
        raise not_found("user")
    return _view(row)


def put(deps: Deps, p: Principal, body: s.NotificationPreferences) -> s.NotificationPreferences:
    user = _caller(p)
    with deps.uow_factory() as uow:
        row = PreferencesRepository(uow.conn).put(
            p.tenant, user, in_app=body.rmm_alerts.in_app, email=body.rmm_alerts.email
        )
    if row is None:
        raise not_found("user")
    return _view(row)
