"""Calling the admin API handler (``functions/rules_api``) the way API Gateway does, with moto
standing in for EventBridge Scheduler and Secrets Manager."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any
from uuid import UUID

import boto3
import pytest
from moto import mock_aws

from functions.rules_api import handler as rules_api
from rmm_alerts import config
from tests.support.apigw import FakeContext, rest_event
from tests.support.world import Tenant

GROUP = "rmm-alerts-test-polls"
ROLE_ARN = "arn:aws:iam::123456789012:role/rmm-scheduler"
POLLER_ARN = "arn:aws:lambda:eu-west-1:123456789012:function:rmm-poller"
BASE_URL = "https://abc123.execute-api.eu-west-1.amazonaws.com/prod"
PREFIX = "rmm-alerts/integrations/"


def claims(world: Tenant | UUID, *, admin: bool = True, groups: Any = None, sub: str = "user-1") -> dict[str, Any]:
    tenant = world.tenant if isinstance(world, Tenant) else world
    out: dict[str, Any] = {"sub": sub, "custom:tenant_id": str(tenant), "email": "admin@example.test"}
    if groups is not None:
        out["cognito:groups"] = groups
    elif admin:
        out["cognito:groups"] = "rmm-admin"
    return out


@dataclass
class Api:
    world: Tenant

    def raw(
        self,
        method: str,
        path: str,
        body: Any = None,
        *,
        query: dict[str, str] | None = None,
        claims: dict[str, Any] | None = None,
        headers: dict[str, str] | None = None,
        anonymous: bool = False,
    ) -> dict[str, Any]:
        hdrs = {"Content-Type": "application/json", **(headers or {})}
        event = rest_event(
            method,
            path,
            resource="/v1/{proxy+}",
            path_parameters={"proxy": path.removeprefix("/v1/")},
            body=body,
            headers=hdrs,
            query=query,
            claims=None if anonymous else (claims if claims is not None else globals()["claims"](self.world)),
        )
        response: dict[str, Any] = rules_api.handler(event, FakeContext())
        return response

    def call(self, method: str, path: str, body: Any = None, **kw: Any) -> tuple[int, Any]:
        response = self.raw(method, path, body, **kw)
        text = response.get("body")
        return int(response["statusCode"]), json.loads(text) if text else None

    def ok(self, method: str, path: str, body: Any = None, status: int = 200, **kw: Any) -> Any:
        got, data = self.call(method, path, body, **kw)
        assert got == status, (got, data)
        return data

    def connect(self, provider: str = "ninjaone", **extra: Any) -> dict[str, Any]:
        data: dict[str, Any] = self.ok(
            "POST", "/v1/integrations", {"provider": provider, "name": f"{provider} RMM", **extra}, 201
        )
        return data


def scheduler() -> Any:
    return boto3.client("scheduler", region_name="eu-west-1")


def secrets() -> Any:
    return boto3.client("secretsmanager", region_name="eu-west-1")


def get_schedule(integration_id: str) -> dict[str, Any] | None:
    client = scheduler()
    try:
        found: dict[str, Any] = client.get_schedule(Name=f"rmm-poll-{integration_id}", GroupName=GROUP)
    except client.exceptions.ResourceNotFoundException:
        return None
    return found


@contextmanager
def aws_env(monkeypatch: pytest.MonkeyPatch) -> Iterator[None]:
    """The rules_api environment a deployed function gets, with AWS mocked by moto."""
    for key, value in {
        "AWS_DEFAULT_REGION": "eu-west-1",
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "SCHEDULE_GROUP_NAME": GROUP,
        "SCHEDULER_ROLE_ARN": ROLE_ARN,
        "POLLER_FUNCTION_ARN": POLLER_ARN,
        "CREDENTIALS_SECRET_PREFIX": PREFIX,
        "API_BASE_URL": BASE_URL,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }.items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOCAL_STATE_DIR", raising=False)
    config.cached.cache_clear()
    with mock_aws():
        scheduler().create_schedule_group(Name=GROUP)
        yield
    config.cached.cache_clear()


def errors(data: Any) -> list[str]:
    """The field paths of an error response."""
    return [e["path"] for e in data["errors"]]
