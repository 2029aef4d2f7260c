"""Typed settings, parsed once per process from the environment.

Each Lambda reads exactly the variables of its own settings model; the CDK stack sets exactly
those (see ``infra/``). Locally ``DATABASE_URL`` replaces the AWS database variables.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator


class _EnvModel(BaseModel):
    # defer_build: a function parses one of these models, once (``cached``); building the validators
    # of all of them at import cost every cold start ~20 ms (docs/performance.md).
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True, defer_build=True)


class DatabaseSettings(_EnvModel):
    """Where the database is: ``DATABASE_URL``, or the proxy (``DB_HOST``, ``DB_PORT``, ``DB_NAME``) with
    either IAM authentication as ``DB_USER`` (``DB_IAM_AUTH=true``) or the secret ``DB_SECRET_ARN``."""

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    db_host: str | None = Field(default=None, alias="DB_HOST")
    db_port: int = Field(default=5432, alias="DB_PORT")
    db_name: str | None = Field(default=None, alias="DB_NAME")
    # The application role (``rmm_app``, migration 0003) when authenticating with IAM.
    db_user: str | None = Field(default=None, alias="DB_USER")
    db_iam_auth: bool = Field(default=False, alias="DB_IAM_AUTH")
    db_secret_arn: str | None = Field(default=None, alias="DB_SECRET_ARN")
    # TLS to the proxy; RDS Proxy with IAM authentication requires it.
    db_sslmode: str = Field(default="require", alias="DB_SSLMODE")
    # Used by migrations (SET LOCAL per migration). The functions' own limits come from their database
    # role (migration 0003): startup options would be refused by RDS Proxy.
    db_statement_timeout_ms: int = Field(default=5_000, alias="DB_STATEMENT_TIMEOUT_MS", ge=100, le=120_000)
    db_connect_timeout_s: int = Field(default=5, alias="DB_CONNECT_TIMEOUT_S", ge=1, le=60)

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseSettings:
        if self.database_url:
            return self
        if not (self.db_host and self.db_name):
            raise ValueError(
                "set DATABASE_URL, or DB_HOST and DB_NAME (with DB_IAM_AUTH=true and DB_USER, or DB_SECRET_ARN)"
            )
        if self.db_iam_auth and not self.db_user:
            raise ValueError("DB_IAM_AUTH=true needs DB_USER (the database role to log in as)")
        if not self.db_iam_auth and not self.db_secret_arn:
            raise ValueError("set DB_SECRET_ARN, or DB_IAM_AUTH=true with DB_USER")
        return self


class MigrateSettings(DatabaseSettings):
    """migrate: the owner's connection (``DB_SECRET_ARN``), plus the application role's secret."""

    # {username, password} of the application role: the migration gives that role LOGIN and this
    # password on every deploy, so the proxy can log in as it.
    app_db_secret_arn: str | None = Field(default=None, alias="APP_DB_SECRET_ARN")
    # How long a migration waits for a table lock before giving up (live traffic queues behind a
    # waiting DDL lock, so this stays short).
    migrate_lock_timeout_ms: int = Field(default=5_000, alias="MIGRATE_LOCK_TIMEOUT_MS", ge=100, le=60_000)


class CommitterSettings(DatabaseSettings):
    """A function that commits outbox rows and then kicks the dispatcher (rmm_alerts.outbox.kick)."""

    # The outbox function to invoke asynchronously after a commit that wrote outbox rows (unset:
    # no kick; the one-minute schedule, or rmm-alerts dev, delivers).
    outbox_function_name: str | None = Field(default=None, alias="OUTBOX_FUNCTION_NAME")


class WebhookSettings(CommitterSettings):
    """webhook_ninjaone and webhook_tactical."""


class RulesApiSettings(CommitterSettings):
    """rules_api: also manages poll schedules and integration credentials."""

    # Public base URL of the API (e.g. https://abc.execute-api.eu-west-1.amazonaws.com/prod), used to
    # build webhook URLs shown to admins.
    api_base_url: str = Field(default="http://127.0.0.1:8000", alias="API_BASE_URL")
    schedule_group_name: str | None = Field(default=None, alias="SCHEDULE_GROUP_NAME")
    scheduler_role_arn: str | None = Field(default=None, alias="SCHEDULER_ROLE_ARN")
    poller_function_arn: str | None = Field(default=None, alias="POLLER_FUNCTION_ARN")
    # Integration credentials live in Secrets Manager under this prefix.
    credentials_secret_prefix: str = Field(default="rmm-alerts/integrations/", alias="CREDENTIALS_SECRET_PREFIX")
    # Comma-separated origins of the admin UI allowed to read /v1 answers (CORS); read when the
    # resolver is built (rmm_alerts.admin.app.ui_origins), listed here so the stack sets nothing unread.
    admin_ui_origins: str = Field(default="", alias="ADMIN_UI_ORIGINS")


class PollerSettings(CommitterSettings):
    """poller: reads integration credentials, calls RMM APIs; side effects go through the outbox."""

    credentials_secret_prefix: str = Field(default="rmm-alerts/integrations/", alias="CREDENTIALS_SECRET_PREFIX")
    # Local runs: where the local secret store keeps integration credentials (``local:`` refs).
    local_state_dir: str | None = Field(default=None, alias="LOCAL_STATE_DIR")


class TicketClosedSettings(PollerSettings):
    """ticket_closed: resets alerts in the RMM when their ticket closes."""


# After-commit kicks are throttled to one per OUTBOX_KICK_INTERVAL_S per process (outbox.kick), and
# a lingering run polls every OUTBOX_LINGER_POLL_S (outbox.deliver): the shortest linger that
# covers a held-back kick is one of each.
OUTBOX_KICK_INTERVAL_S = 1.0
OUTBOX_LINGER_POLL_S = 0.25
OUTBOX_MIN_LINGER_S = OUTBOX_KICK_INTERVAL_S + OUTBOX_LINGER_POLL_S


class OutboxSettings(DatabaseSettings):
    """outbox: delivers pending side effects (events, in-app notifications, e-mails)."""

    # Unset: events are printed/kept locally instead of going to EventBridge (rmm-alerts dev).
    event_bus_name: str | None = Field(default=None, alias="EVENT_BUS_NAME")
    # SES identity that notification e-mails are sent from (unset: no e-mail, logged once).
    notification_sender: str | None = Field(default=None, alias="NOTIFICATION_SENDER")
    # The PSA's public base URL, for the ticket link in e-mails (unset: the link is a path).
    psa_base_url: str | None = Field(default=None, alias="PSA_BASE_URL")
    # rmm-alerts dev: e-mails are written here as .eml files instead of going to SES.
    local_mail_dir: str | None = Field(default=None, alias="LOCAL_MAIL_DIR")
    batch_size: int = Field(default=50, alias="OUTBOX_BATCH_SIZE", ge=1, le=500)
    # Attempts before an entry is parked (metric OutboxParkedEntries, alarm).
    max_attempts: int = Field(default=8, alias="OUTBOX_MAX_ATTEMPTS", ge=1, le=50)
    retention_days: int = Field(default=7, alias="OUTBOX_RETENTION_DAYS", ge=1, le=365)
    parked_retention_days: int = Field(default=30, alias="OUTBOX_PARKED_RETENTION_DAYS", ge=1, le=365)
    # How long a run keeps polling after its last claim, since after-commit kicks are throttled to
    # one a second per process (outbox.kick, outbox.deliver). 0 turns lingering off (rmm-alerts dev
    # delivers inline after each request); otherwise at least OUTBOX_MIN_LINGER_S.
    linger_seconds: float = Field(default=2.0, alias="OUTBOX_LINGER_SECONDS", ge=0, le=60)

    @field_validator("linger_seconds")
    @classmethod
    def _linger_covers_the_kick_interval(cls, value: float) -> float:
        if 0 < value < OUTBOX_MIN_LINGER_S:
            raise ValueError(f"must be 0 (off) or at least {OUTBOX_MIN_LINGER_S} s (a kick interval and one poll)")
        return value


S = TypeVar("S", bound=_EnvModel)


def load(model: type[S], env: dict[str, Any] | None = None) -> S:
    """Parse settings from ``env`` (default: the process environment)."""
    return model.model_validate(dict(os.environ) if env is None else env)


@lru_cache(maxsize=8)
def cached(model: type[S]) -> S:
    """Settings for this process, parsed on first use (never at import)."""
    return load(model)
