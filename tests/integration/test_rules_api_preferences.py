"""GET|PUT /v1/me/notification-preferences: the caller's own, any user of the tenant, defaults on."""

from __future__ import annotations

import uuid
from typing import Any

from tests.support.admin_api import Api, claims, errors
from tests.support.world import Tenant

PATH = "/v1/me/notification-preferences"
ON = {"rmmAlerts": {"inApp": True, "email": True}}


def me(world: Tenant, user: uuid.UUID | str, *, admin: bool = False) -> dict[str, Any]:
    return claims(world, admin=admin, sub=str(user))


def test_defaults_on_and_any_user_changes_their_own(api: Api) -> None:
    w = api.world
    assert api.ok("GET", PATH, claims=me(w, w.user_id)) == ON
    off = {"rmmAlerts": {"inApp": True, "email": False}}
    # A technician without the rmm-admin group may write here (and only here).
    assert api.ok("PUT", PATH, off, claims=me(w, w.user_id)) == off
    assert api.ok("GET", PATH, claims=me(w, w.user_id)) == off
    row = w.one("SELECT * FROM rmm_notification_preferences WHERE tenant = %s", w.tenant)
    assert (row["user_id"], row["rmm_in_app"], row["rmm_email"]) == (w.user_id, True, False)
    assert api.ok("PUT", PATH, ON, claims=me(w, w.user_id, admin=True)) == ON
    # Other writes still need the admin group.
    status, _ = api.call("POST", "/v1/maintenance-windows", {"name": "x"}, claims=me(w, w.user_id))
    assert status == 403


def test_each_user_has_their_own(api: Api) -> None:
    w = api.world
    second = uuid.uuid4()
    w.q("INSERT INTO users (tenant, user_id, email) VALUES (%s, %s, 'b@acme.test')", w.tenant, second)
    api.ok("PUT", PATH, {"rmmAlerts": {"inApp": False, "email": False}}, claims=me(w, second))
    assert api.ok("GET", PATH, claims=me(w, w.user_id)) == ON
    assert api.ok("GET", PATH, claims=me(w, second)) == {"rmmAlerts": {"inApp": False, "email": False}}


def test_validation_names_the_field(api: Api) -> None:
    w = api.world
    for body, path in (
        ({"rmmAlerts": {"inApp": "yes", "email": True}}, "rmmAlerts.inApp"),
        ({"rmmAlerts": {"inApp": True}}, "rmmAlerts.email"),
        ({"rmmAlerts": {"inApp": True, "email": True, "sms": True}}, "rmmAlerts.sms"),
        ({}, "rmmAlerts"),
    ):
        status, data = api.call("PUT", PATH, body, claims=me(w, w.user_id))
        assert status == 422, (body, data)
        assert path in errors(data), (body, data)


def test_a_caller_who_is_not_a_user_of_the_tenant_gets_404(api: Api) -> None:
    w = api.world
    for sub in (str(uuid.uuid4()), "not-a-uuid"):
        assert api.call("GET", PATH, claims=me(w, sub))[0] == 404
        assert api.call("PUT", PATH, ON, claims=me(w, sub))[0] == 404
    assert w.q("SELECT * FROM rmm_notification_preferences") == []


def test_tenant_isolation(api: Api, other: Tenant) -> None:
    w = api.world
    # The same user id in both tenants: each tenant's row is its own.
    other.q("INSERT INTO users (tenant, user_id, email) VALUES (%s, %s, 'twin@other.test')", other.tenant, w.user_id)
    off = {"rmmAlerts": {"inApp": False, "email": False}}
    api.ok("PUT", PATH, off, claims=me(w, w.user_id))
    assert api.ok("GET", PATH, claims=me(other, w.user_id)) == ON
    api.ok("PUT", PATH, {"rmmAlerts": {"inApp": True, "email": False}}, claims=me(other, w.user_id))
    assert api.ok("GET", PATH, claims=me(w, w.user_id)) == off
    # A user of tenant A presenting tenant B's id is not B's user.
    third = uuid.uuid4()
    w.q("INSERT INTO users (tenant, user_id) VALUES (%s, %s)", w.tenant, third)
    assert api.call("PUT", PATH, off, claims=me(other, third))[0] == 404


def test_unauthenticated_is_401(api: Api) -> None:
    assert api.call("GET", PATH, anonymous=True)[0] == 401
    assert api.call("PUT", PATH, ON, anonymous=True)[0] == 401


def test_only_that_exact_path_is_open_to_non_admins(api: Api) -> None:
    w = api.world
    base = f"/v1/integrations/{w.integration_id}"
    for method, path, status in (
        ("PUT", f"{base}/rules/v1/me/notification-preferences", 403),
        ("PUT", "/v1/me/notification-preferences/", 403),
        ("POST", PATH, 405),  # no such operation: nothing is written
        ("DELETE", PATH, 405),
    ):
        assert api.call(method, path, ON, claims=me(w, w.user_id))[0] == status, (method, path)
    assert w.q("SELECT * FROM rmm_notification_preferences") == []
