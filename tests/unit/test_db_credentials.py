"""Database settings and credentials: which variables are enough, and the RDS IAM token path.

The token is signed by botocore offline with static credentials: no network, no fake.
"""

from __future__ import annotations

from typing import Any
from urllib.parse import parse_qs, urlsplit

import psycopg
import pytest
from pydantic import ValidationError

from rmm_alerts import config, db

PROXY = {"DB_HOST": "proxy.example.internal", "DB_PORT": "5432", "DB_NAME": "rmm_alerts"}


@pytest.mark.parametrize(
    ("env", "error"),
    [
        ({"DATABASE_URL": "postgresql://x@h/d"}, None),
        ({**PROXY, "DB_SECRET_ARN": "arn:aws:secretsmanager:eu-west-1:1:secret:db"}, None),
        ({**PROXY, "DB_IAM_AUTH": "true", "DB_USER": "rmm_app"}, None),
        ({**PROXY, "DB_IAM_AUTH": "true"}, "DB_IAM_AUTH=true needs DB_USER"),
        ({**PROXY}, "set DB_SECRET_ARN, or DB_IAM_AUTH=true with DB_USER"),
        ({**PROXY, "DB_IAM_AUTH": "false", "DB_USER": "rmm_app"}, "set DB_SECRET_ARN"),
        ({"DB_HOST": "h", "DB_SECRET_ARN": "arn"}, "set DATABASE_URL, or DB_HOST and DB_NAME"),
        ({}, "set DATABASE_URL"),
    ],
)
def test_database_settings_need_one_complete_source(env: dict[str, str], error: str | None) -> None:
    if error is None:
        config.load(config.DatabaseSettings, env)
    else:
        with pytest.raises(ValidationError, match=error):
            config.load(config.DatabaseSettings, env)


@pytest.fixture
def aws_static(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_CONFIG_FILE", "AWS_SHARED_CREDENTIALS_FILE"):
        monkeypatch.delenv(name, raising=False)
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "AKIAIOSFODNN7EXAMPLE")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "eu-west-1")
    monkeypatch.setenv("AWS_REGION", "eu-west-1")


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def _iam_settings() -> config.DatabaseSettings:
    return config.load(config.DatabaseSettings, {**PROXY, "DB_IAM_AUTH": "true", "DB_USER": "rmm_app"})


def test_iam_auth_logs_in_as_the_app_role_with_a_signed_token_over_tls(aws_static: None) -> None:
    params: dict[str, Any] = psycopg.conninfo.conninfo_to_dict(db.Credentials(_iam_settings()).conninfo())
    assert (params["host"], params["port"], params["dbname"]) == ("proxy.example.internal", "5432", "rmm_alerts")
    assert params["user"] == "rmm_app" and params["sslmode"] == "require"
    token = str(params["password"])
    assert token.startswith("proxy.example.internal:5432/?")
    query = parse_qs(urlsplit("https://" + token).query)
    assert query["Action"] == ["connect"] and query["DBUser"] == ["rmm_app"]
    assert query["X-Amz-Expires"] == ["900"]
    assert query["X-Amz-Credential"][0].startswith("AKIAIOSFODNN7EXAMPLE/")
    assert "/eu-west-1/rds-db/aws4_request" in query["X-Amz-Credential"][0]
    assert query["X-Amz-Signature"][0]


def test_iam_token_is_reused_until_shortly_before_it_expires(aws_static: None) -> None:
    clock = Clock()
    creds = db.Credentials(_iam_settings(), clock=clock)
    first = creds.iam_token()
    assert creds.token_issued_at == 1000.0
    clock.now += db.IAM_TOKEN_REUSE_S - 1
    assert creds.iam_token() == first and creds.token_issued_at == 1000.0
    clock.now += 1
    creds.iam_token()
    assert creds.token_issued_at == clock.now  # signed again, well inside the 900 s lifetime
    assert db.IAM_TOKEN_REUSE_S < 900


def test_an_auth_failure_drops_the_cached_token(aws_static: None) -> None:
    clock = Clock()
    creds = db.Credentials(_iam_settings(), clock=clock)
    creds.iam_token()
    clock.now += 5
    assert creds.refresh() is True
    creds.iam_token()
    assert creds.token_issued_at == 1005.0


def test_database_url_has_nothing_to_refresh() -> None:
    creds = db.Credentials(config.load(config.DatabaseSettings, {"DATABASE_URL": "postgresql://x@h/d"}))
    assert creds.conninfo() == "postgresql://x@h/d"
    assert creds.refresh() is False


@pytest.mark.parametrize(
    ("message", "sqlstate", "expected"),
    [
        ('FATAL:  password authentication failed for user "rmm_app"', None, True),
        ("FATAL:  SASL authentication failed", None, True),  # PgBouncer's wording
        ("FATAL:  PAM authentication failed for user", None, True),  # IAM token refused
        ("anything", "28P01", True),
        ("connection refused", None, False),
        ("FATAL:  unsupported startup parameter: options", None, False),
    ],
)
def test_auth_failures_are_told_apart(message: str, sqlstate: str | None, expected: bool) -> None:
    exc = psycopg.OperationalError(message)
    if sqlstate:
        exc.sqlstate = sqlstate
    assert db.is_auth_failure(exc) is expected
