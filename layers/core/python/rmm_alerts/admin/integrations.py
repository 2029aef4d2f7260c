"""Integrations: connect, read, rename, disconnect, rotate the webhook secret, polling settings.

Side effects outside PostgreSQL (the poll schedule, the credentials secret) happen inside the
database transaction where possible, so a failure rolls the row back; what cannot be rolled back
is compensated (a schedule created for a row that then failed to commit is deleted again).
"""

from __future__ import annotations

import builtins
import logging
import uuid
from datetime import datetime, timedelta
from typing import Annotated, Any
from uuid import UUID

import psycopg
from psycopg.types.json import Jsonb
from pydantic import BaseModel, ConfigDict, Field, ValidationError
from pydantic.alias_generators import to_camel

from rmm_alerts import tactical_template
from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps
from rmm_alerts.admin.errors import ApiError, FieldError, conflict, not_found
from rmm_alerts.contracts import error_list
from rmm_alerts.ports import credentials_secret_name, poll_schedule, schedule_name
from rmm_alerts.providers import HttpPolicy, ProviderError, client_for_integration
from rmm_alerts.providers.urls import validate_instance_url
from rmm_alerts.webhooks import hash_secret, new_secret

logger = logging.getLogger(__name__)

DEFAULT_INTERVAL_MINUTES = 15
_COLUMNS = """integration_id, provider, name, instance_url, credentials_ref, is_active, polling_enabled,
              polling_interval_minutes, last_polled_at, previous_webhook_secret_hash, previous_secret_expires_at,
              connected_at, disconnected_at, created_at, updated_at, last_poll_error, webhook_registration"""


# -- credentials ------------------------------------------------------------------------------

Cred = Annotated[str, Field(min_length=1, max_length=2000)]


class _Creds(BaseModel):
    model_config = ConfigDict(strict=True, extra="forbid", alias_generator=to_camel, populate_by_name=True)


class NinjaOneCredentials(_Creds):
    client_id: Cred
    client_secret: Cred


class TacticalCredentials(_Creds):
    api_key: Cred


_CREDENTIAL_MODELS: dict[str, type[_Creds]] = {"ninjaone": NinjaOneCredentials, "tacticalrmm": TacticalCredentials}


def validate_credentials(provider: str, value: dict[str, Any]) -> dict[str, Any]:
    """The provider's credential object, or 422 naming ``credentials.<field>`` (never the value)."""
    try:
        parsed = _CREDENTIAL_MODELS[provider].model_validate(value)
    except ValidationError as exc:
        raise ApiError(422, [FieldError(e["path"], e["message"]) for e in error_list(exc, "credentials")]) from None
    return parsed.model_dump(by_alias=True)


# -- SQL --------------------------------------------------------------------------------------


class IntegrationRepository:
    def __init__(self, conn: psycopg.Connection[dict[str, Any]]) -> None:
        self.conn = conn

    def insert(
        self, tenant: UUID, integration_id: UUID, body: s.IntegrationIn, secret_hash: str, credentials_ref: str | None
    ) -> dict[str, Any]:
        row = self.conn.execute(
            f"""INSERT INTO rmm_integrations (tenant, integration_id, provider, name, instance_url, credentials_ref,
                                             webhook_secret_hash, polling_enabled, polling_interval_minutes)
                VALUES (%s, %s, %s, %s, %s, %s, %s, true, %s)
                RETURNING {_COLUMNS}""",
            (
                tenant,
                integration_id,
                body.provider,
                body.name,
                body.instance_url,
                credentials_ref,
                secret_hash,
                DEFAULT_INTERVAL_MINUTES,
            ),
        ).fetchone()
        assert row is not None
        return row

    def get(self, tenant: UUID, integration_id: UUID, *, lock: bool = False) -> dict[str, Any] | None:
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM rmm_integrations WHERE tenant = %s AND integration_id = %s"
            + (" FOR UPDATE" if lock else ""),
            (tenant, integration_id),
        ).fetchone()

    def list(self, tenant: UUID) -> builtins.list[dict[str, Any]]:
        return self.conn.execute(
            f"SELECT {_COLUMNS} FROM rmm_integrations WHERE tenant = %s ORDER BY created_at, integration_id",
            (tenant,),
        ).fetchall()

    def update(self, tenant: UUID, integration_id: UUID, changes: dict[str, Any]) -> dict[str, Any]:
        allowed = {"name", "instance_url", "credentials_ref", "polling_enabled", "polling_interval_minutes"}
        assert set(changes) <= allowed
        sets = ", ".join(f"{col} = %({col})s" for col in changes)
        row = self.conn.execute(
            f"""UPDATE rmm_integrations SET {sets}{", " if sets else ""}updated_at = now()
                 WHERE tenant = %(tenant)s AND integration_id = %(id)s RETURNING {_COLUMNS}""",
            {**changes, "tenant": tenant, "id": integration_id},
        ).fetchone()
        assert row is not None
        return row

    def rotate(self, tenant: UUID, integration_id: UUID, new_hash: str, grace: timedelta) -> dict[str, Any]:
        keep = grace > timedelta(0)
        row = self.conn.execute(
            f"""UPDATE rmm_integrations
                   SET previous_webhook_secret_hash = CASE WHEN %(keep)s THEN webhook_secret_hash END,
                       previous_secret_expires_at = CASE WHEN %(keep)s AND webhook_secret_hash IS NOT NULL
                                                         THEN now() + %(grace)s END,
                       webhook_secret_hash = %(new)s, updated_at = now()
                 WHERE tenant = %(tenant)s AND integration_id = %(id)s RETURNING {_COLUMNS}""",
            {"keep": keep, "grace": grace, "new": new_hash, "tenant": tenant, "id": integration_id},
        ).fetchone()
        assert row is not None
        return row

    def secret_state(self, tenant: UUID, integration_id: UUID) -> dict[str, Any]:
        """The header secret's hashes and grace (the row is locked until the unit of work ends)."""
        row = self.conn.execute(
            """SELECT webhook_secret_hash, previous_webhook_secret_hash, previous_secret_expires_at,
                      previous_secret_expires_at > now() AS previous_valid
                 FROM rmm_integrations WHERE tenant = %s AND integration_id = %s FOR UPDATE""",
            (tenant, integration_id),
        ).fetchone()
        assert row is not None
        return row

    def restore_secret(
        self,
        tenant: UUID,
        integration_id: UUID,
        rotated_hash: str,
        *,
        current: str,
        previous: str | None,
        expires_at: datetime | None,
    ) -> None:
        """Undo a rotation to ``rotated_hash``, unless the secret was rotated once more since:
        ``current`` is the secret again, ``previous`` the previous one until ``expires_at``."""
        self.conn.execute(
            """UPDATE rmm_integrations
                  SET webhook_secret_hash = %s, previous_webhook_secret_hash = %s, previous_secret_expires_at = %s,
                      updated_at = now()
                WHERE tenant = %s AND integration_id = %s AND webhook_secret_hash = %s""",
            (current, previous, expires_at, tenant, integration_id, rotated_hash),
        )

    def disconnect(self, tenant: UUID, integration_id: UUID) -> dict[str, Any]:
        row = self.conn.execute(
            f"""UPDATE rmm_integrations
                   SET is_active = false, polling_enabled = false, disconnected_at = now(), credentials_ref = NULL,
                       previous_webhook_secret_hash = NULL, previous_secret_expires_at = NULL,
                       previous_channel_secret_hash = NULL, previous_channel_secret_expires_at = NULL,
                       updated_at = now()
                 WHERE tenant = %s AND integration_id = %s RETURNING {_COLUMNS}""",
            (tenant, integration_id),
        ).fetchone()
        assert row is not None
        return row


# -- views ------------------------------------------------------------------------------------


def webhook_url(deps: Deps, provider: str, integration_id: UUID) -> str:
    return f"{deps.settings.api_base_url.rstrip('/')}/webhooks/{provider}/{integration_id}"


def _template(deps: Deps, row: dict[str, Any], secret: str | None) -> s.AlertTemplate | None:
    if row["provider"] != "tacticalrmm":
        return None
    url = webhook_url(deps, row["provider"], row["integration_id"])
    raw = tactical_template.alert_template(url, secret) if secret else tactical_template.alert_template(url)
    return s.AlertTemplate.model_validate(raw)


def polling_view(row: dict[str, Any]) -> s.PollingOut:
    return s.PollingOut(
        enabled=row["polling_enabled"],
        interval_minutes=row["polling_interval_minutes"],
        last_polled_at=row["last_polled_at"],
        schedule_name=schedule_name(row["integration_id"]),
    )


def view(deps: Deps, row: dict[str, Any]) -> s.IntegrationOut:
    return s.IntegrationOut(
        integration_id=row["integration_id"],
        provider=row["provider"],
        name=row["name"],
        instance_url=row["instance_url"],
        is_active=row["is_active"],
        has_credentials=row["credentials_ref"] is not None,
        webhook_url=webhook_url(deps, row["provider"], row["integration_id"]),
        polling=polling_view(row),
        previous_secret_expires_at=row["previous_secret_expires_at"],
        connected_at=row["connected_at"],
        disconnected_at=row["disconnected_at"],
        created_at=row["created_at"],
        updated_at=row["updated_at"],
        alert_template=_template(deps, row, None),
        last_polled_at=row["last_polled_at"],
        last_poll_error=row["last_poll_error"],
        webhook_registration=row["webhook_registration"],
    )


# -- services ---------------------------------------------------------------------------------


def _best_effort(what: str, action: Any, *args: Any) -> None:
    try:
        action(*args)
    except Exception as exc:
        logger.warning("cleanup failed: %s (%s)", what, type(exc).__name__)


def check_instance_url(provider: str, url: str | None) -> str | None:
    """docs/admin-api.md: 422 at ``instanceUrl`` for anything the service must not call."""
    if url is None:
        return None
    try:
        return validate_instance_url(provider, url)
    except ValueError as exc:
        raise ApiError(422, [FieldError("instanceUrl", str(exc))]) from None


def create(deps: Deps, p: Principal, body: s.IntegrationIn) -> s.IntegrationCreated:
    body = body.model_copy(update={"instance_url": check_instance_url(body.provider, body.instance_url)})
    creds = validate_credentials(body.provider, body.credentials) if body.credentials is not None else None
    integration_id = uuid.uuid4()
    secret = new_secret()
    ref = None
    schedule = poll_schedule(p.tenant, integration_id, interval_minutes=DEFAULT_INTERVAL_MINUTES, enabled=True)
    try:
        if creds is not None:
            ref = deps.secrets.put(credentials_secret_name(deps.settings, p.tenant, integration_id), creds)
        with deps.uow_factory() as uow:
            row = IntegrationRepository(uow.conn).insert(p.tenant, integration_id, body, hash_secret(secret), ref)
            channel = _new_channel_secret(uow, p.tenant, row, grace=None)
            deps.scheduler.put(schedule)
    except Exception:
        _best_effort("delete poll schedule", deps.scheduler.delete, schedule.name)
        if ref is not None:
            _best_effort("delete credentials", deps.secrets.delete, ref)
        raise
    row = {**row, "webhook_registration": register_webhook(deps, p.tenant, row, secret)}
    out = view(deps, row)
    return s.IntegrationCreated(
        **out.model_dump(exclude={"alert_template"}),
        alert_template=_template(deps, row, secret),
        webhook_secret=secret,
        channel_url=channel_url(deps, integration_id, channel) if channel else None,
    )


def list_all(deps: Deps, p: Principal) -> s.IntegrationList:
    with deps.uow_factory() as uow:
        rows = IntegrationRepository(uow.conn).list(p.tenant)
    return s.IntegrationList(items=[view(deps, r) for r in rows])


def _get_row(uow: Any, p: Principal, integration_id: UUID, *, lock: bool = False) -> dict[str, Any]:
    row = IntegrationRepository(uow.conn).get(p.tenant, integration_id, lock=lock)
    if row is None:
        raise not_found("integration")
    return row


def _active_row(uow: Any, p: Principal, integration_id: UUID) -> dict[str, Any]:
    row = _get_row(uow, p, integration_id, lock=True)
    if not row["is_active"]:
        raise conflict("the integration is disconnected")
    return row


def get(deps: Deps, p: Principal, integration_id: UUID) -> s.IntegrationOut:
    with deps.uow_factory() as uow:
        row = _get_row(uow, p, integration_id)
    return view(deps, row)


def patch(deps: Deps, p: Principal, integration_id: UUID, body: s.IntegrationPatch) -> s.IntegrationOut:
    given = body.model_fields_set
    old_ref: str | None = None
    with deps.uow_factory() as uow:
        row = _active_row(uow, p, integration_id)
        changes: dict[str, Any] = {}
        if "name" in given:
            if body.name is None:
                raise ApiError(422, [FieldError("name", "name cannot be null")])
            changes["name"] = body.name
        if "instance_url" in given:
            changes["instance_url"] = check_instance_url(row["provider"], body.instance_url)
            moved = changes["instance_url"] not in (None, row["instance_url"])
            if moved and row["credentials_ref"] and "credentials" not in given:
                # Stored credentials only ever go to the host they were entered for.
                raise ApiError(
                    422,
                    [FieldError("credentials", "enter the credentials again to change instanceUrl")],
                )
        if "credentials" in given:
            if body.credentials is None:
                old_ref = row["credentials_ref"]
                changes["credentials_ref"] = None
            else:
                creds = validate_credentials(row["provider"], body.credentials)
                name = credentials_secret_name(deps.settings, p.tenant, integration_id)
                changes["credentials_ref"] = deps.secrets.put(name, creds)
        row = IntegrationRepository(uow.conn).update(p.tenant, integration_id, changes)
    if old_ref:
        _best_effort("delete credentials", deps.secrets.delete, old_ref)
    return view(deps, row)


def disconnect(deps: Deps, p: Principal, integration_id: UUID) -> None:
    """Idempotent: webhooks then answer 404, the schedule is gone, credentials are deleted, alerts stay."""
    with deps.uow_factory() as uow:
        row = _get_row(uow, p, integration_id, lock=True)
        ref = row["credentials_ref"]
        if row["is_active"]:
            # While the credentials still exist: remove the webhook this service registered.
            unregister_webhook(deps, p.tenant, row, uow)
            IntegrationRepository(uow.conn).disconnect(p.tenant, integration_id)
        deps.scheduler.delete(schedule_name(integration_id))
    if ref:
        _best_effort("delete credentials", deps.secrets.delete, ref)


def rotate_secret(deps: Deps, p: Principal, integration_id: UUID, body: s.RotateIn | None) -> s.SecretRotated:
    grace = timedelta(hours=(body or s.RotateIn()).grace_hours)
    secret = new_secret()
    with deps.uow_factory() as uow:
        _active_row(uow, p, integration_id)
        row = IntegrationRepository(uow.conn).rotate(p.tenant, integration_id, hash_secret(secret), grace)
        channel = _new_channel_secret(uow, p.tenant, row, grace=grace)
    registration = register_webhook(deps, p.tenant, row, secret)
    return s.SecretRotated(
        integration_id=integration_id,
        webhook_url=webhook_url(deps, row["provider"], integration_id),
        webhook_secret=secret,
        previous_secret_expires_at=row["previous_secret_expires_at"],
        alert_template=_template(deps, row, secret),
        channel_url=channel_url(deps, integration_id, channel) if channel else None,
        webhook_registration=registration,
    )


def get_polling(deps: Deps, p: Principal, integration_id: UUID) -> s.PollingOut:
    with deps.uow_factory() as uow:
        row = _get_row(uow, p, integration_id)
    return polling_view(row)


def put_polling(deps: Deps, p: Principal, integration_id: UUID, body: s.PollingIn) -> s.PollingOut:
    with deps.uow_factory() as uow:
        _active_row(uow, p, integration_id)
        row = IntegrationRepository(uow.conn).update(
            p.tenant,
            integration_id,
            {"polling_enabled": body.enabled, "polling_interval_minutes": body.interval_minutes},
        )
        deps.scheduler.put(
            poll_schedule(p.tenant, integration_id, interval_minutes=body.interval_minutes, enabled=body.enabled)
        )
    return polling_view(row)


# -- talking to the RMM -------------------------------------------------------------------------

# An admin is waiting (and API Gateway gives up at 29 s): short timeouts, no retry. A failed
# registration is shown and retried on request; a failed test says why.
ADMIN_HTTP_POLICY = HttpPolicy(connect_timeout=2.0, read_timeout=5.0, max_attempts=1, max_retry_after=0.0)


def _client(deps: Deps, row: dict[str, Any]) -> Any:
    return client_for_integration(row, store=deps.secrets, policy=ADMIN_HTTP_POLICY)


def test_connection(deps: Deps, p: Principal, integration_id: UUID) -> s.TestConnectionOut:
    """A real token-and-list call with the stored credentials: ``{ok, error?}``; never raises for
    an RMM failure (the error names provider, endpoint and status, never a secret)."""
    with deps.uow_factory() as uow:
        row = _get_row(uow, p, integration_id)
    if not row["is_active"]:
        raise conflict("the integration is disconnected")
    try:
        client = _client(deps, row)
        try:
            client.test_connection()
        finally:
            client.close()
    except ProviderError as exc:
        return s.TestConnectionOut(ok=False, error=str(exc))
    return s.TestConnectionOut(ok=True)


# -- NinjaOne: UI-channel URL and webhook self-registration ---------------------------------------


def channel_url(deps: Deps, integration_id: UUID, secret: str) -> str:
    return f"{webhook_url(deps, 'ninjaone', integration_id)}/{secret}"


def _new_channel_secret(uow: Any, tenant: UUID, row: dict[str, Any], *, grace: timedelta | None) -> str | None:
    """NinjaOne only: a fresh UI-channel path secret (hash stored; the previous one stays valid for
    ``grace``, as the header secret rotated with it, with an expiry of its own)."""
    if row["provider"] != "ninjaone":
        return None
    secret = new_secret()
    keep = grace is not None and grace > timedelta(0)
    uow.conn.execute(
        """UPDATE rmm_integrations
              SET previous_channel_secret_hash = CASE WHEN %(keep)s THEN channel_secret_hash END,
                  previous_channel_secret_expires_at = CASE WHEN %(keep)s AND channel_secret_hash IS NOT NULL
                                                            THEN now() + %(grace)s END,
                  channel_secret_hash = %(new)s
            WHERE tenant = %(t)s AND integration_id = %(i)s""",
        {"keep": keep, "grace": grace, "new": hash_secret(secret), "t": tenant, "i": row["integration_id"]},
    )
    return secret


def _store_registration(deps: Deps, tenant: UUID, integration_id: UUID, value: dict[str, Any], uow: Any = None) -> None:
    query = "UPDATE rmm_integrations SET webhook_registration = %s WHERE tenant = %s AND integration_id = %s"
    if uow is not None:
        uow.conn.execute(query, (Jsonb(value), tenant, integration_id))
        return
    with deps.uow_factory() as own:
        own.conn.execute(query, (Jsonb(value), tenant, integration_id))


def register_webhook(deps: Deps, tenant: UUID, row: dict[str, Any], secret: str) -> dict[str, Any] | None:
    """``PUT /api/v2/webhook`` for a NinjaOne integration with an instance URL and credentials.
    Never raises: the outcome is stored and returned as ``{status, error, at}``."""
    if row["provider"] != "ninjaone":
        return None
    at = deps.now().isoformat()
    if not row.get("instance_url") or not row.get("credentials_ref"):
        result: dict[str, Any] = {"status": "skipped", "error": "needs instanceUrl and credentials", "at": at}
    else:
        try:
            client = _client(deps, row)
            try:
                client.register_webhook(webhook_url(deps, "ninjaone", row["integration_id"]), secret)
            finally:
                client.close()
            result = {"status": "registered", "error": None, "at": at}
        except ProviderError as exc:
            result = {"status": "failed", "error": str(exc), "at": at}
        except Exception as exc:  # a registration problem never fails the admin call
            logger.warning("webhook registration failed", extra={"error_type": type(exc).__name__})
            result = {"status": "failed", "error": f"unexpected error ({type(exc).__name__})", "at": at}
    _store_registration(deps, tenant, row["integration_id"], result)
    return result


def unregister_webhook(deps: Deps, tenant: UUID, row: dict[str, Any], uow: Any) -> None:
    """``DELETE /api/v2/webhook`` on disconnect (best effort; recorded, never raised)."""
    if row["provider"] != "ninjaone" or not row.get("instance_url") or not row.get("credentials_ref"):
        return
    at = deps.now().isoformat()
    try:
        client = _client(deps, row)
        try:
            client.delete_webhook()
        finally:
            client.close()
        result: dict[str, Any] = {"status": "deleted", "error": None, "at": at}
    except ProviderError as exc:
        result = {"status": "failed", "error": f"delete: {exc}", "at": at}
    except Exception as exc:
        result = {"status": "failed", "error": f"delete: unexpected error ({type(exc).__name__})", "at": at}
    _store_registration(deps, tenant, row["integration_id"], result, uow)


def retry_registration(deps: Deps, p: Principal, integration_id: UUID) -> s.WebhookRegistration:
    """Register the NinjaOne webhook again. Only the hash of the header secret is kept, so this
    rotates it (the previous one stays valid for 24 h) and registers the new one.

    When that registration fails, the secret it replaced is current again. Which one is kept as
    the previous: when the last registration had failed too, the previous one still in its grace
    (NinjaOne most likely still sends it); otherwise the new one, for 24 h, in case NinjaOne took
    it before the failure (a timed-out answer)."""
    grace = timedelta(hours=24)
    with deps.uow_factory() as uow:
        row = _active_row(uow, p, integration_id)
        if row["provider"] != "ninjaone":
            raise ApiError(409, [FieldError("", "only NinjaOne webhooks are registered through the RMM's API")])
        last_registered = (row.get("webhook_registration") or {}).get("status") == "registered"
        secret = new_secret()
        repo = IntegrationRepository(uow.conn)
        before = repo.secret_state(p.tenant, integration_id)
        row = repo.rotate(p.tenant, integration_id, hash_secret(secret), grace)
    # Committed first: NinjaOne may deliver with the new secret as soon as it has it.
    result = register_webhook(deps, p.tenant, row, secret)
    assert result is not None
    if result["status"] != "registered" and before["webhook_secret_hash"] is not None:
        keep_previous = not last_registered and before["previous_valid"]
        with deps.uow_factory() as uow:
            IntegrationRepository(uow.conn).restore_secret(
                p.tenant,
                integration_id,
                hash_secret(secret),
                current=before["webhook_secret_hash"],
                # Otherwise the new one, until the end of the grace the rotation gave the old one.
                previous=before["previous_webhook_secret_hash"] if keep_previous else hash_secret(secret),
                expires_at=before["previous_secret_expires_at"] if keep_previous else row["previous_secret_expires_at"],
            )
    return s.WebhookRegistration.model_validate(result)
