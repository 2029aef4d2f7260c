"""The migrate function: migrates on deploy, gives the application role its login, and creates
tenants for ``rmm-alerts admin create-tenant`` (it runs as the owner inside the VPC)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import psycopg
import pytest
from moto import mock_aws

from functions.migrate import handler as migrate
from rmm_alerts import config, db
from rmm_alerts.localpooler import PgBouncer
from rmm_alerts.migrations import APP_ROLE, grant_app_login
from tests.conftest import APP_PASSWORD


@pytest.fixture
def owner_env(admin_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[str]:
    monkeypatch.setenv("DATABASE_URL", admin_database_url)
    monkeypatch.delenv("APP_DB_SECRET_ARN", raising=False)
    config.cached.cache_clear()
    db.reset_pool()
    yield admin_database_url
    config.cached.cache_clear()


def test_deploy_run_migrates_and_lets_the_app_role_log_in_with_its_secret(
    owner_env: str, conn: Any, pooler: PgBouncer, monkeypatch: pytest.MonkeyPatch
) -> None:
    new_password = f"rotated-{uuid.uuid4().hex}"
    dbname = conn.info.dbname
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    try:
        with mock_aws():
            sm = boto3.client("secretsmanager", region_name="eu-west-1")
            arn = sm.create_secret(
                Name="app-db", SecretString=json.dumps({"username": APP_ROLE, "password": new_password})
            )["ARN"]
            monkeypatch.setenv("APP_DB_SECRET_ARN", arn)
            config.cached.cache_clear()
            assert migrate.handler({}, None) == {"applied": []}  # the template is migrated already
        with psycopg.connect(pooler.url(dbname, APP_ROLE, new_password)) as app:
            assert app.execute("SELECT current_user").fetchone() == (APP_ROLE,)
        with pytest.raises(psycopg.OperationalError):
            psycopg.connect(pooler.url(dbname, APP_ROLE, APP_PASSWORD))
    finally:
        grant_app_login(owner_env, APP_ROLE, APP_PASSWORD)


def test_create_tenant_action(owner_env: str, conn: Any) -> None:
    out = migrate.handler({"action": "create_tenant", "name": "  Example MSP "}, None)
    assert out["created"] is True
    tenant = uuid.UUID(out["tenantId"])
    row = conn.execute("SELECT tenant_name FROM tenants WHERE tenant = %s", (tenant,)).fetchone()
    assert row["tenant_name"] == "Example MSP"
    # An existing id (e.g. the PSA's own tenant) is kept, not duplicated.
    again = migrate.handler({"action": "create_tenant", "name": "Example MSP", "tenantId": str(tenant)}, None)
    assert again == {"tenantId": str(tenant), "created": False}
    assert conn.execute("SELECT count(*) AS n FROM tenants").fetchone()["n"] == 1


@pytest.mark.parametrize(
    ("event", "error"),
    [
        ({"action": "create_tenant", "name": " "}, "name: 1 to 255 characters"),
        ({"action": "create_tenant", "name": "x" * 256}, "name: 1 to 255 characters"),
        ({"action": "create_tenant", "name": "x", "tenantId": "nope"}, "tenantId: not a UUID"),
        ({"action": "drop_everything"}, "action: unknown action 'drop_everything'"),
    ],
)
def test_bad_requests_name_the_field(owner_env: str, conn: Any, event: dict[str, Any], error: str) -> None:
    assert error in migrate.handler(event, None)["error"]
    assert conn.execute("SELECT count(*) AS n FROM tenants").fetchone()["n"] == 0
