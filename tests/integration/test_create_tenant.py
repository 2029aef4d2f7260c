"""`rmm-alerts admin create-tenant`: the tenant through the migrate function (in-process here: moto's
Lambda needs Docker), on real PostgreSQL as the owner; the admin in Cognito (moto)."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from moto import mock_aws

from functions.migrate import handler as migrate
from rmm_alerts import cli, config, db

REGION = "eu-west-1"


class InProcessInvoker:
    """The test adapter of the invoke port: runs the migrate function's handler here."""

    def __init__(self) -> None:
        self.calls: list[tuple[str, dict[str, Any]]] = []

    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        self.calls.append((function_name, payload))
        # A real invoke serializes the payload and the answer.
        result: dict[str, Any] = json.loads(json.dumps(migrate.handler(json.loads(json.dumps(payload)), None)))
        return result


@pytest.fixture
def aws(admin_database_url: str, monkeypatch: pytest.MonkeyPatch) -> Iterator[tuple[Any, str]]:
    monkeypatch.setenv("DATABASE_URL", admin_database_url)  # the migrate function runs as the owner
    monkeypatch.setenv("AWS_DEFAULT_REGION", REGION)
    config.cached.cache_clear()
    db.reset_pool()
    with mock_aws():
        session = boto3.session.Session(region_name=REGION)
        idp = session.client("cognito-idp")
        pool = idp.create_user_pool(
            PoolName="rmm-alerts",
            UsernameAttributes=["email"],
            Schema=[{"Name": "tenant_id", "AttributeDataType": "String", "Mutable": True}],
        )["UserPool"]["Id"]
        idp.create_group(UserPoolId=pool, GroupName="rmm-admin")
        session.client("cloudformation").create_stack(
            StackName="RmmAlerts",
            TemplateBody=json.dumps(
                {
                    "Resources": {"Topic": {"Type": "AWS::SNS::Topic"}},
                    "Outputs": {
                        "MigrateFunctionName": {"Value": "RmmAlerts-Migrate-abc"},
                        "UserPoolId": {"Value": pool},
                    },
                }
            ),
        )
        yield session, pool
    config.cached.cache_clear()


def _run(session: Any, invoker: InProcessInvoker, *args: str) -> int:
    """The command as parsed from the command line, with the test's AWS session and invoke adapter."""
    ns = cli.build_parser().parse_args(["admin", "create-tenant", *args])
    return cli.cmd_create_tenant(ns, invoker=invoker, session=session)


def _user(session: Any, pool: str, email: str) -> tuple[dict[str, str], list[str]]:
    idp = session.client("cognito-idp")
    user = idp.admin_get_user(UserPoolId=pool, Username=email)
    groups = idp.admin_list_groups_for_user(UserPoolId=pool, Username=email)["Groups"]
    return {a["Name"]: a["Value"] for a in user["UserAttributes"]}, [g["GroupName"] for g in groups]


def test_creates_the_tenant_and_its_admin_from_stack_outputs(
    aws: tuple[Any, str], conn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    session, pool = aws
    invoker = InProcessInvoker()
    assert _run(session, invoker, "--name", "Example MSP", "--admin-email", "Admin@Example.com") == 0
    assert [name for name, _ in invoker.calls] == ["RmmAlerts-Migrate-abc"]
    row = conn.execute("SELECT tenant, tenant_name FROM tenants").fetchone()
    assert row["tenant_name"] == "Example MSP"
    attrs, groups = _user(session, pool, "admin@example.com")
    assert attrs["custom:tenant_id"] == str(row["tenant"])
    assert attrs["email"] == "admin@example.com" and attrs["email_verified"] == "true"
    assert groups == ["rmm-admin"]
    out = capsys.readouterr().out
    assert f"tenant {row['tenant']} (created)" in out and "admin  admin@example.com (created" in out


def test_rerun_is_safe_and_flags_override_the_outputs(aws: tuple[Any, str], conn: Any) -> None:
    session, pool = aws
    tenant = str(uuid.uuid4())
    invoker = InProcessInvoker()
    args = ["--name", "Example MSP", "--admin-email", "a@example.com", "--tenant-id", tenant]
    flags = ["--function", "custom-fn", "--user-pool-id", pool]
    assert _run(session, invoker, *args, *flags) == 0
    assert _run(session, invoker, *args, *flags) == 0  # same tenant, same user: nothing new
    assert [name for name, _ in invoker.calls] == ["custom-fn", "custom-fn"]
    assert conn.execute("SELECT count(*) AS n FROM tenants").fetchone()["n"] == 1
    attrs, groups = _user(session, pool, "a@example.com")
    assert attrs["custom:tenant_id"] == tenant and groups == ["rmm-admin"]


def test_an_email_of_another_tenant_is_refused(
    aws: tuple[Any, str], conn: Any, capsys: pytest.CaptureFixture[str]
) -> None:
    session, _ = aws
    invoker = InProcessInvoker()
    assert _run(session, invoker, "--name", "First", "--admin-email", "a@example.com") == 0
    assert _run(session, invoker, "--name", "Second", "--admin-email", "a@example.com") == 1
    assert "--admin-email: a@example.com already exists in the user pool for tenant" in capsys.readouterr().err


def test_a_bad_request_fails_before_cognito(aws: tuple[Any, str], capsys: pytest.CaptureFixture[str]) -> None:
    session, pool = aws
    assert _run(session, InProcessInvoker(), "--name", " ", "--admin-email", "a@example.com") == 1
    assert "create_tenant: name: 1 to 255 characters" in capsys.readouterr().err
    users = session.client("cognito-idp").list_users(UserPoolId=pool)["Users"]
    assert users == []


def test_a_stack_without_the_outputs_is_a_clear_error(aws: tuple[Any, str], capsys: pytest.CaptureFixture[str]) -> None:
    session, _ = aws
    session.client("cloudformation").create_stack(
        StackName="Bare", TemplateBody=json.dumps({"Resources": {"Topic": {"Type": "AWS::SNS::Topic"}}})
    )
    invoker = InProcessInvoker()
    assert _run(session, invoker, "--name", "X", "--admin-email", "a@example.com", "--stack-name", "Bare") == 2
    assert "stack Bare has no MigrateFunctionName/UserPoolId output" in capsys.readouterr().err
    assert invoker.calls == []
    assert (
        _run(session, invoker, "--name", "X", "--admin-email", "not-an-email", "--function", "f", "--user-pool-id", "p")
        == 1
    )
    assert "--admin-email: not an email address" in capsys.readouterr().err
    assert invoker.calls == []
