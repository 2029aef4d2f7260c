"""The admin API's answers to database errors a route lets through: a lost race is a 409, a value
PostgreSQL cannot store a 422, anything else a 500; none repeats the database's detail."""

from __future__ import annotations

import json
import uuid
from typing import Any

import psycopg
import pytest

from rmm_alerts.admin.app import build_app
from tests.support.admin_api import claims
from tests.support.apigw import FakeContext, rest_event

RAISED: dict[str, Exception] = {
    "integrity": psycopg.errors.UniqueViolation("duplicate key value violates unique constraint (secret detail)"),
    "foreign-key": psycopg.errors.ForeignKeyViolation("insert violates foreign key (secret detail)"),
    "data": psycopg.errors.CharacterNotInRepertoire("invalid byte sequence (secret detail)"),
    "operational": psycopg.OperationalError("server closed the connection (secret detail)"),
    "other": RuntimeError("boom (secret detail)"),
}


def _call(kind: str) -> tuple[int, Any]:
    # Without the module's routers: including them would bind them to this app, away from the
    # process's own (a later test through the real handler would then fail).
    app = build_app(origins=[], with_routes=False)

    @app.get(f"/v1/test-raise/{kind}")
    def raise_it() -> dict[str, Any]:
        raise RAISED[kind]

    event = rest_event(
        "GET",
        f"/v1/test-raise/{kind}",
        resource="/v1/{proxy+}",
        path_parameters={"proxy": f"test-raise/{kind}"},
        claims=claims(uuid.uuid4()),
    )
    response = app.resolve(event, FakeContext())  # type: ignore[arg-type]
    return int(response["statusCode"]), json.loads(response["body"])


@pytest.mark.parametrize(
    ("kind", "status", "message"),
    [
        ("integrity", 409, "conflicts with the current state; retry"),
        ("foreign-key", 409, "conflicts with the current state; retry"),
        ("data", 422, "a value cannot be stored (text must not contain U+0000)"),
        ("operational", 500, "internal error"),
        ("other", 500, "internal error"),
    ],
)
def test_database_errors_map_to_their_answers_without_detail(kind: str, status: int, message: str) -> None:
    got = _call(kind)
    assert got == (status, {"errors": [{"path": "", "message": message}]})
