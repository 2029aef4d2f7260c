"""Typed settings, parsed once per process from the environment.

Each Lambda reads exactly the variables of its own settings model; the CDK stack sets exactly
those (see ``infra/``). Locally ``DATABASE_URL`` replaces the AWS database variables.
"""

from __future__ import annotations

import os
from functools import lru_cache
from typing import Any, TypeVar

from pydantic import BaseModel, ConfigDict, Field, model_validator


class _EnvModel(BaseModel):
    model_config = ConfigDict(extra="ignore", frozen=True, populate_by_name=True)


class DatabaseSettings(_EnvModel):
    """Where the database is. Either ``DATABASE_URL`` or the AWS trio (proxy host, name, secret)."""

    database_url: str | None = Field(default=None, alias="DATABASE_URL")
    db_host: str | None = Field(default=None, alias="DB_HOST")
    db_port: int = Field(default=5432, alias="DB_PORT")
    db_name: str | None = Field(default=None, alias="DB_NAME")
    db_secret_arn: str | None = Field(default=None, alias="DB_SECRET_ARN")
    # Statement and lock waits each stay well inside the webhook Lambda's 20 s timeout (itself inside
    # API Gateway's 29 s), so a slow database answers our 500 rather than a gateway 504.
    db_statement_timeout_ms: int = Field(default=5_000, alias="DB_STATEMENT_TIMEOUT_MS", ge=100, le=120_000)
    db_connect_timeout_s: int = Field(default=5, alias="DB_CONNECT_TIMEOUT_S", ge=1, le=60)

    @model_validator(mode="after")
    def _one_source(self) -> DatabaseSettings:
        if not self.database_url and not (self.db_host and self.db_name and self.db_secret_arn):
            raise ValueError("set DATABASE_URL, or DB_HOST, DB_NAME and DB_SECRET_ARN")
        return self


class WebhookSettings(DatabaseSettings):
    """webhook_ninjaone and webhook_tactical."""


class RulesApiSettings(DatabaseSettings):
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


class PollerSettings(DatabaseSettings):
    """poller: reads integration credentials, calls RMM APIs, publishes events."""

    credentials_secret_prefix: str = Field(default="rmm-alerts/integrations/", alias="CREDENTIALS_SECRET_PREFIX")
    event_bus_name: str | None = Field(default=None, alias="EVENT_BUS_NAME")
    # SES identity that notification emails are sent from (unset: email notifications are skipped).
    notification_sender: str | None = Field(default=None, alias="NOTIFICATION_SENDER")


class TicketClosedSettings(PollerSettings):
    """ticket_closed: resets alerts in the RMM when their ticket closes."""


S = TypeVar("S", bound=_EnvModel)


def load(model: type[S], env: dict[str, Any] | None = None) -> S:
    """Parse settings from ``env`` (default: the process environment)."""
    return model.model_validate(dict(os.environ) if env is None else env)


@lru_cache(maxsize=8)
def cached(model: type[S]) -> S:
    """Settings for this process, parsed on first use (never at import)."""
    return load(model)
