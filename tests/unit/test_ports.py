"""The scheduler and secret-store ports: local adapters, AWS adapters on moto, and the choice."""

from __future__ import annotations

import json
import stat
import uuid
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
from moto import mock_aws

from rmm_alerts import config
from rmm_alerts.ports import (
    AdminSettings,
    AwsScheduler,
    AwsSecretStore,
    LocalScheduler,
    LocalSecretStore,
    credentials_secret_name,
    poll_schedule,
    scheduler_for,
    secret_store_for,
)

TENANT, INTEGRATION = uuid.uuid4(), uuid.uuid4()


@pytest.fixture
def aws(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    for key in ("AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN"):
        monkeypatch.setenv(key, "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    with mock_aws():
        boto3.client("scheduler").create_schedule_group(Name="g")
        yield


def settings(**env: str) -> AdminSettings:
    return config.load(AdminSettings, {"DATABASE_URL": "postgresql:///x", **env})


def test_schedule_shape() -> None:
    s = poll_schedule(TENANT, INTEGRATION, interval_minutes=5, enabled=True)
    assert s.name == f"rmm-poll-{INTEGRATION}"
    assert s.expression == "rate(5 minutes)"
    assert s.input == {"tenantId": str(TENANT), "integrationId": str(INTEGRATION)}


@pytest.mark.parametrize("persist", [False, True])
def test_local_scheduler(tmp_path: Path, persist: bool) -> None:
    scheduler = LocalScheduler(tmp_path if persist else None)
    s = poll_schedule(TENANT, INTEGRATION, interval_minutes=15, enabled=True)
    scheduler.put(s)
    assert scheduler.get(s.name) == s
    scheduler.put(poll_schedule(TENANT, INTEGRATION, interval_minutes=30, enabled=False))
    got = scheduler.get(s.name)
    assert got is not None and (got.interval_minutes, got.enabled) == (30, False)
    if persist:
        on_disk = json.loads((tmp_path / "schedules.json").read_text())
        assert on_disk[s.name]["interval_minutes"] == 30
        assert LocalScheduler(tmp_path).all() == [got]
    scheduler.delete(s.name)
    scheduler.delete(s.name)
    assert scheduler.get(s.name) is None and scheduler.all() == []


def test_local_secret_store_files_are_private(tmp_path: Path) -> None:
    store = LocalSecretStore(tmp_path)
    ref = store.put(f"rmm-alerts/integrations/{TENANT}/{INTEGRATION}", {"apiKey": "k"})
    files = list((tmp_path / "secrets").iterdir())
    assert len(files) == 1 and stat.S_IMODE(files[0].stat().st_mode) == 0o600
    assert stat.S_IMODE((tmp_path / "secrets").stat().st_mode) == 0o700
    assert store.get(ref) == {"apiKey": "k"}
    assert store.put(f"rmm-alerts/integrations/{TENANT}/{INTEGRATION}", {"apiKey": "k2"}) == ref
    assert store.get(ref) == {"apiKey": "k2"}
    store.delete(ref)
    store.delete(ref)
    assert store.get(ref) is None and list((tmp_path / "secrets").iterdir()) == []


def test_memory_secret_store() -> None:
    store = LocalSecretStore()
    ref = store.put("a/b", {"x": "y"})
    assert store.get(ref) == {"x": "y"}
    store.delete(ref)
    assert store.get(ref) is None


def test_aws_scheduler_create_update_disable_delete(aws: None) -> None:
    client = boto3.client("scheduler")
    scheduler = AwsScheduler("g", "arn:aws:iam::123456789012:role/r", "arn:aws:lambda:eu-west-1:1:function:p")
    s = poll_schedule(TENANT, INTEGRATION, interval_minutes=15, enabled=True)
    scheduler.put(s)
    found = client.get_schedule(Name=s.name, GroupName="g")
    assert found["ScheduleExpression"] == "rate(15 minutes)" and found["State"] == "ENABLED"
    assert found["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert json.loads(found["Target"]["Input"]) == s.input
    scheduler.put(poll_schedule(TENANT, INTEGRATION, interval_minutes=60, enabled=False))
    got = scheduler.get(s.name)
    assert got is not None and (got.interval_minutes, got.enabled) == (60, False)
    assert got.tenant_id == str(TENANT)
    scheduler.delete(s.name)
    scheduler.delete(s.name)  # missing is fine
    assert scheduler.get(s.name) is None


def test_aws_secret_store(aws: None) -> None:
    store = AwsSecretStore()
    name = f"rmm-alerts/integrations/{TENANT}/{INTEGRATION}"
    ref = store.put(name, {"clientId": "a", "clientSecret": "b"})
    assert ref.startswith("arn:aws:secretsmanager:")
    client = boto3.client("secretsmanager")
    assert json.loads(client.get_secret_value(SecretId=name)["SecretString"]) == {"clientId": "a", "clientSecret": "b"}
    assert store.put(name, {"clientId": "c", "clientSecret": "d"}) == ref
    assert json.loads(client.get_secret_value(SecretId=name)["SecretString"])["clientId"] == "c"
    store.delete(ref)
    store.delete(ref)
    assert client.describe_secret(SecretId=name).get("DeletedDate") is not None
    # Credentials given again within the recovery window: the secret is restored and updated.
    assert store.put(name, {"clientId": "e", "clientSecret": "f"}) == ref
    assert client.describe_secret(SecretId=name).get("DeletedDate") is None
    assert json.loads(client.get_secret_value(SecretId=name)["SecretString"])["clientId"] == "e"
    # get: what the poller and the admin API read (by ARN or name); missing or deleted -> None.
    assert store.get(ref) == {"clientId": "e", "clientSecret": "f"}
    assert store.get("rmm-alerts/integrations/nope") is None
    store.delete(ref)
    assert store.get(ref) is None


def test_choosing_adapters(tmp_path: Path) -> None:
    local = settings(LOCAL_STATE_DIR=str(tmp_path))
    assert isinstance(scheduler_for(local), LocalScheduler)
    assert isinstance(secret_store_for(local), LocalSecretStore)
    aws_settings = settings(
        SCHEDULE_GROUP_NAME="g",
        SCHEDULER_ROLE_ARN="arn:role",
        POLLER_FUNCTION_ARN="arn:fn",
        CREDENTIALS_SECRET_PREFIX="p/",
    )
    scheduler = scheduler_for(aws_settings)
    assert isinstance(scheduler, AwsScheduler) and scheduler._client is None  # lazily created
    assert isinstance(secret_store_for(aws_settings), AwsSecretStore)
    assert credentials_secret_name(aws_settings, TENANT, INTEGRATION) == f"p/{TENANT}/{INTEGRATION}"
    with pytest.raises(RuntimeError, match="SCHEDULER_ROLE_ARN"):
        scheduler_for(settings(SCHEDULE_GROUP_NAME="g"))
