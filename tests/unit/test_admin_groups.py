"""Issue 10 item 14: ``cognito:groups`` in the documented formats only, with exact names
(docs/admin-api.md: a string such as ``rmm-admin`` or ``[rmm-admin, x]``, or a list)."""

from __future__ import annotations

from typing import Any

import pytest

from rmm_alerts.admin.auth import parse_groups


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("rmm-admin", {"rmm-admin"}),
        ("[rmm-admin, x]", {"rmm-admin", "x"}),
        ("[x, rmm-admin]", {"x", "rmm-admin"}),
        ("[rmm-admin]", {"rmm-admin"}),
        (["rmm-admin", "x"], {"rmm-admin", "x"}),
        (None, set()),
        ("", set()),
        ("[]", set()),
    ],
)
def test_documented_forms(value: Any, expected: set[str]) -> None:
    assert parse_groups(value) == frozenset(expected)


@pytest.mark.parametrize(
    "value",
    [
        "x,rmm-admin",  # a single group named "x,rmm-admin", not two groups
        "rmm-admin,x",
        "x rmm-admin",
        '"rmm-admin"',
        "[x,rmm-admin]",  # API Gateway joins with ", "
        "[ rmm-admin ]x",
        " rmm-admin",
        "RMM-ADMIN",
        ["x,rmm-admin"],
        [" rmm-admin"],
        [["rmm-admin"]],
        [1, "rmm-admin "],
        42,
        {"rmm-admin": True},
    ],
)
def test_lookalikes_are_not_admin(value: Any) -> None:
    assert "rmm-admin" not in parse_groups(value)
