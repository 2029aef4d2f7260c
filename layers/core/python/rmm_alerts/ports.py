"""Ports to the outside world the admin API drives, each with an AWS and a local adapter.

* :class:`Scheduler`: one poll schedule per integration. AWS: EventBridge Scheduler (a schedule
  named ``rmm-poll-<integrationId>`` in the stack's schedule group, ``rate(N minutes)``, targeting
  the poller with the scheduler role). Local: an in-memory table, optionally persisted to
  ``<LOCAL_STATE_DIR>/schedules.json`` for ``rmm-alerts dev`` to drive.
* :class:`SecretStore`: integration credentials (a JSON object). AWS: Secrets Manager, one secret
  ``<CREDENTIALS_SECRET_PREFIX><tenant>/<integrationId>``. Local: one 0600 file per secret under
  ``<LOCAL_STATE_DIR>/secrets/``, or memory.

:func:`scheduler_for` / :func:`secret_store_for` pick the adapter from settings: AWS when
``SCHEDULE_GROUP_NAME`` is set (the stack sets it), local otherwise. boto3 clients are created on
first use, never at import. Secret values are never logged.
"""

from __future__ import annotations

import json
import os
import re
import threading
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol
from uuid import UUID

from pydantic import Field

from rmm_alerts.config import RulesApiSettings

if TYPE_CHECKING:
    from mypy_boto3_scheduler import EventBridgeSchedulerClient
    from mypy_boto3_secretsmanager import SecretsManagerClient

SCHEDULE_PREFIX = "rmm-poll-"


class AdminSettings(RulesApiSettings):
    """``rules_api`` settings plus the local state directory of ``rmm-alerts dev``."""

    local_state_dir: str | None = Field(default=None, alias="LOCAL_STATE_DIR")


def schedule_name(integration_id: UUID) -> str:
    return f"{SCHEDULE_PREFIX}{integration_id}"


@dataclass(frozen=True)
class PollSchedule:
    """What a poll schedule is, whatever holds it."""

    name: str
    tenant_id: str
    integration_id: str
    interval_minutes: int
    enabled: bool

    @property
    def expression(self) -> str:
        return f"rate({self.interval_minutes} minutes)"

    @property
    def input(self) -> dict[str, str]:
        return {"tenantId": self.tenant_id, "integrationId": self.integration_id}


def poll_schedule(tenant: UUID, integration_id: UUID, *, interval_minutes: int, enabled: bool) -> PollSchedule:
    return PollSchedule(schedule_name(integration_id), str(tenant), str(integration_id), interval_minutes, enabled)


class Scheduler(Protocol):
    def put(self, schedule: PollSchedule) -> None:
        """Create or replace the schedule (``enabled`` false keeps it, disabled)."""

    def delete(self, name: str) -> None:
        """Remove it; a missing schedule is not an error."""

    def get(self, name: str) -> PollSchedule | None: ...


class SecretStore(Protocol):
    def put(self, name: str, value: dict[str, Any]) -> str:
        """Create or overwrite; returns the reference to keep (ARN or local key)."""

    def delete(self, ref: str) -> None:
        """Remove it; a missing secret is not an error."""

    def get(self, ref: str) -> dict[str, Any] | None:
        """The stored JSON object, or None when it is missing or not an object."""


# ---------------------------------------------------------------------------------------------
# AWS adapters


class AwsScheduler:
    """EventBridge Scheduler. Retries: 3 attempts within an hour (a missed cycle is harmless: the
    next one reconciles everything)."""

    def __init__(self, group_name: str, role_arn: str, target_arn: str, client: Any = None) -> None:
        self.group_name = group_name
        self.role_arn = role_arn
        self.target_arn = target_arn
        self._client: EventBridgeSchedulerClient | None = client

    @property
    def client(self) -> EventBridgeSchedulerClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("scheduler")
        return self._client

    def put(self, schedule: PollSchedule) -> None:
        args: dict[str, Any] = {
            "Name": schedule.name,
            "GroupName": self.group_name,
            "ScheduleExpression": schedule.expression,
            "FlexibleTimeWindow": {"Mode": "OFF"},
            "State": "ENABLED" if schedule.enabled else "DISABLED",
            "Description": f"rmm-alerts poll of integration {schedule.integration_id}",
            "Target": {
                "Arn": self.target_arn,
                "RoleArn": self.role_arn,
                "Input": json.dumps(schedule.input),
                "RetryPolicy": {"MaximumRetryAttempts": 3, "MaximumEventAgeInSeconds": 3600},
            },
        }
        client = self.client
        try:
            client.update_schedule(**args)
        except client.exceptions.ResourceNotFoundException:
            try:
                client.create_schedule(**args)
            except client.exceptions.ConflictException:  # created concurrently: make it ours
                client.update_schedule(**args)

    def delete(self, name: str) -> None:
        client = self.client
        try:
            client.delete_schedule(Name=name, GroupName=self.group_name)
        except client.exceptions.ResourceNotFoundException:
            return

    def get(self, name: str) -> PollSchedule | None:
        client = self.client
        try:
            found = client.get_schedule(Name=name, GroupName=self.group_name)
        except client.exceptions.ResourceNotFoundException:
            return None
        payload = json.loads(found["Target"].get("Input") or "{}")
        m = re.fullmatch(r"rate\((\d+) minutes?\)", found.get("ScheduleExpression", ""))
        return PollSchedule(
            name,
            str(payload.get("tenantId", "")),
            str(payload.get("integrationId", "")),
            int(m.group(1)) if m else 0,
            found.get("State") == "ENABLED",
        )


class AwsSecretStore:
    """Secrets Manager. Deletion keeps the 7-day recovery window (an accidental disconnect can be
    undone by support)."""

    def __init__(self, client: Any = None) -> None:
        self._client: SecretsManagerClient | None = client

    @property
    def client(self) -> SecretsManagerClient:
        if self._client is None:
            import boto3

            self._client = boto3.client("secretsmanager")
        return self._client

    def put(self, name: str, value: dict[str, Any]) -> str:
        client = self.client
        text = json.dumps(value)
        try:
            created = client.create_secret(
                Name=name, SecretString=text, Description="rmm-alerts integration credentials"
            )
            return created["ARN"]
        except (client.exceptions.ResourceExistsException, client.exceptions.InvalidRequestException):
            # Exists already, or (AWS answers InvalidRequest here) is still scheduled for deletion
            # because the credentials were removed earlier: bring it back, then write the new value.
            if client.describe_secret(SecretId=name).get("DeletedDate") is not None:
                client.restore_secret(SecretId=name)
        updated = client.put_secret_value(SecretId=name, SecretString=text)
        return updated["ARN"]

    def get(self, ref: str) -> dict[str, Any] | None:
        client = self.client
        try:
            found = client.get_secret_value(SecretId=ref)
        except (client.exceptions.ResourceNotFoundException, client.exceptions.InvalidRequestException):
            return None  # missing, or scheduled for deletion
        try:
            value = json.loads(found.get("SecretString") or "null")
        except ValueError:
            return None
        return value if isinstance(value, dict) else None

    def delete(self, ref: str) -> None:
        client = self.client
        try:
            client.delete_secret(SecretId=ref, RecoveryWindowInDays=7)
        except client.exceptions.ResourceNotFoundException:
            return
        except client.exceptions.InvalidRequestException:  # already scheduled for deletion
            return


# ---------------------------------------------------------------------------------------------
# Local adapters


class LocalScheduler:
    """Schedules in memory, and in ``<directory>/schedules.json`` when a directory is given (the
    file ``rmm-alerts dev`` reads to fire the poller)."""

    def __init__(self, directory: Path | None = None) -> None:
        self.path = directory / "schedules.json" if directory else None
        self._lock = threading.Lock()
        self._memory: dict[str, PollSchedule] = {}

    def _load(self) -> dict[str, PollSchedule]:
        if self.path is None:
            return dict(self._memory)
        try:
            raw = json.loads(self.path.read_text())
        except (OSError, ValueError):
            return {}
        return {k: PollSchedule(**v) for k, v in raw.items()}

    def _save(self, table: dict[str, PollSchedule]) -> None:
        if self.path is None:
            self._memory = table
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps({k: asdict(v) for k, v in table.items()}, indent=2))
        tmp.replace(self.path)

    def put(self, schedule: PollSchedule) -> None:
        with self._lock:
            table = self._load()
            table[schedule.name] = schedule
            self._save(table)

    def delete(self, name: str) -> None:
        with self._lock:
            table = self._load()
            table.pop(name, None)
            self._save(table)

    def get(self, name: str) -> PollSchedule | None:
        with self._lock:
            return self._load().get(name)

    def all(self) -> list[PollSchedule]:
        with self._lock:
            return list(self._load().values())


_SAFE = re.compile(r"[^A-Za-z0-9._-]")


class LocalSecretStore:
    """One 0600 JSON file per secret under ``<directory>/secrets`` (0700), or memory."""

    def __init__(self, directory: Path | None = None) -> None:
        self.directory = directory / "secrets" if directory else None
        self._memory: dict[str, str] = {}

    def _file(self, ref: str) -> Path:
        assert self.directory is not None
        return self.directory / (_SAFE.sub("_", ref) + ".json")

    def put(self, name: str, value: dict[str, Any]) -> str:
        ref = f"local:{name}"
        text = json.dumps(value)
        if self.directory is None:
            self._memory[ref] = text
            return ref
        self.directory.mkdir(parents=True, exist_ok=True, mode=0o700)
        path = self._file(ref)
        fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o600)
        with os.fdopen(fd, "w") as fh:
            fh.write(text)
        path.chmod(0o600)
        return ref

    def get(self, ref: str) -> dict[str, Any] | None:
        """For the local poller and tests."""
        if self.directory is None:
            text = self._memory.get(ref)
        else:
            try:
                text = self._file(ref).read_text()
            except OSError:
                text = None
        value = json.loads(text) if text else None
        return value if isinstance(value, dict) else None

    def delete(self, ref: str) -> None:
        if self.directory is None:
            self._memory.pop(ref, None)
            return
        self._file(ref).unlink(missing_ok=True)


# ---------------------------------------------------------------------------------------------
# Choosing


def uses_aws(settings: RulesApiSettings) -> bool:
    return bool(settings.schedule_group_name)


def _local_dir(settings: AdminSettings) -> Path | None:
    return Path(settings.local_state_dir) if settings.local_state_dir else None


def scheduler_for(settings: AdminSettings) -> Scheduler:
    if uses_aws(settings):
        if not (settings.scheduler_role_arn and settings.poller_function_arn):
            raise RuntimeError("SCHEDULE_GROUP_NAME needs SCHEDULER_ROLE_ARN and POLLER_FUNCTION_ARN")
        assert settings.schedule_group_name is not None
        return AwsScheduler(settings.schedule_group_name, settings.scheduler_role_arn, settings.poller_function_arn)
    return LocalScheduler(_local_dir(settings))


def secret_store_for(settings: AdminSettings) -> SecretStore:
    if uses_aws(settings):
        return AwsSecretStore()
    return LocalSecretStore(_local_dir(settings))


def credentials_secret_name(settings: RulesApiSettings, tenant: UUID, integration_id: UUID) -> str:
    return f"{settings.credentials_secret_prefix}{tenant}/{integration_id}"
