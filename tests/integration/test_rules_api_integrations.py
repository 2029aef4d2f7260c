"""Admin API: integrations, webhook secrets, credentials and polling schedules (moto)."""

from __future__ import annotations

import json
import uuid
from typing import Any

import pytest

from functions.webhook_ninjaone import handler as ninja
from rmm_alerts.webhooks import hash_secret
from tests.integration.conftest import fixture
from tests.support.admin_api import BASE_URL, GROUP, POLLER_ARN, PREFIX, ROLE_ARN, Api, claims, get_schedule
from tests.support.admin_api import secrets as secrets_client
from tests.support.apigw import FakeContext, webhook_event
from tests.support.world import Tenant, make_tenant


def webhook_status(integration_id: str, secret: str) -> int:
    event = webhook_event("ninjaone", integration_id, fixture("ninjaone/condition_triggered.json"), secret=secret)
    return int(ninja.handler(event, FakeContext())["statusCode"])


# -- connect ----------------------------------------------------------------------------------


def test_connect_ninjaone_shows_secret_once_and_stores_only_its_hash(api: Api) -> None:
    data = api.connect("ninjaone", credentials={"clientId": "cid", "clientSecret": "top-secret-value"})
    iid = data["integrationId"]
    assert data["webhookUrl"] == f"{BASE_URL}/webhooks/ninjaone/{iid}"
    assert data["provider"] == "ninjaone" and data["isActive"] is True and data["hasCredentials"] is True
    assert data["polling"] == {
        "enabled": True,
        "intervalMinutes": 15,
        "lastPolledAt": None,
        "scheduleName": f"rmm-poll-{iid}",
    }
    assert data["alertTemplate"] is None
    secret = data["webhookSecret"]
    row = api.world.one("SELECT * FROM rmm_integrations WHERE integration_id = %s", iid)
    assert row["webhook_secret_hash"] == hash_secret(secret)
    assert secret not in json.dumps(row, default=str)
    # shown once: never in a read
    for body in (api.ok("GET", f"/v1/integrations/{iid}"), api.ok("GET", "/v1/integrations")):
        assert "webhookSecret" not in json.dumps(body) and secret not in json.dumps(body)
    # the webhook accepts it
    assert webhook_status(iid, secret) == 200


def test_credentials_go_to_secrets_manager_never_to_responses_or_the_database(api: Api) -> None:
    data = api.connect("ninjaone", credentials={"clientId": "cid-123", "clientSecret": "very-secret-456"})
    iid = data["integrationId"]
    stored = secrets_client().get_secret_value(SecretId=f"{PREFIX}{api.world.tenant}/{iid}")
    assert json.loads(stored["SecretString"]) == {"clientId": "cid-123", "clientSecret": "very-secret-456"}
    row = api.world.one("SELECT * FROM rmm_integrations WHERE integration_id = %s", iid)
    assert row["credentials_ref"] == stored["ARN"]
    dump = json.dumps(api.world.q("SELECT * FROM rmm_integrations"), default=str)
    assert "very-secret-456" not in dump
    for body in (data, api.ok("GET", f"/v1/integrations/{iid}"), api.ok("GET", "/v1/integrations")):
        assert "very-secret-456" not in json.dumps(body) and "cid-123" not in json.dumps(body)

    # replace them
    patched = api.ok("PATCH", f"/v1/integrations/{iid}", {"credentials": {"clientId": "c2", "clientSecret": "s2"}})
    assert patched["hasCredentials"] is True and "s2" not in json.dumps(patched)
    stored = secrets_client().get_secret_value(SecretId=f"{PREFIX}{api.world.tenant}/{iid}")
    assert json.loads(stored["SecretString"]) == {"clientId": "c2", "clientSecret": "s2"}
    # remove them
    assert api.ok("PATCH", f"/v1/integrations/{iid}", {"credentials": None})["hasCredentials"] is False


def test_tactical_connect_returns_the_alert_template_with_the_secret(api: Api) -> None:
    data = api.connect("tacticalrmm", instanceUrl="https://rmm.example.test/", credentials={"apiKey": "k-1"})
    template = data["alertTemplate"]
    assert template["url"] == data["webhookUrl"] == f"{BASE_URL}/webhooks/tacticalrmm/{data['integrationId']}"
    assert template["headers"]["X-Webhook-Secret"] == data["webhookSecret"]
    assert '"event": "trigger"' in template["triggerBody"] and '"event": "resolve"' in template["resolveBody"]
    assert data["instanceUrl"] == "https://rmm.example.test"
    # reads show a placeholder, never the secret
    read = api.ok("GET", f"/v1/integrations/{data['integrationId']}")
    assert read["alertTemplate"]["headers"]["X-Webhook-Secret"] != data["webhookSecret"]


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"provider": "kaseya", "name": "x"}, "provider"),
        ({"provider": "ninjaone"}, "name"),
        ({"provider": "ninjaone", "name": ""}, "name"),
        ({"provider": "ninjaone", "name": "x", "extra": 1}, "extra"),
        ({"provider": "ninjaone", "name": "x", "instanceUrl": "ftp://x"}, "instanceUrl"),
        ({"provider": "ninjaone", "name": "x", "credentials": {"apiKey": "k"}}, "credentials.clientId"),
        ({"provider": "tacticalrmm", "name": "x", "credentials": {"apiKey": 5}}, "credentials.apiKey"),
    ],
)
def test_connect_validation(api: Api, body: dict[str, Any], path: str) -> None:
    status, data = api.call("POST", "/v1/integrations", body)
    assert status == 422, data
    assert path in [e["path"] for e in data["errors"]]
    assert all(set(e) == {"path", "message"} for e in data["errors"])
    assert api.world.q("SELECT 1 FROM rmm_integrations WHERE name = 'x'") == []


def test_bad_json_and_big_body(api: Api) -> None:
    status, data = api.call("POST", "/v1/integrations", '{"provider": ')
    assert (status, data["errors"][0]["path"]) == (422, "body")
    status, data = api.call("POST", "/v1/integrations", {"provider": "ninjaone", "name": "x" * (65 * 1024)})
    assert status == 413 and data["errors"][0]["path"] == ""


# -- schedules --------------------------------------------------------------------------------


def test_schedule_created_on_connect_follows_polling_and_goes_on_disconnect(api: Api) -> None:
    iid = api.connect()["integrationId"]
    schedule = get_schedule(iid)
    assert schedule is not None
    assert schedule["ScheduleExpression"] == "rate(15 minutes)" and schedule["State"] == "ENABLED"
    assert schedule["GroupName"] == GROUP
    assert schedule["FlexibleTimeWindow"] == {"Mode": "OFF"}
    assert schedule["Target"]["Arn"] == POLLER_ARN and schedule["Target"]["RoleArn"] == ROLE_ARN
    assert json.loads(schedule["Target"]["Input"]) == {"tenantId": str(api.world.tenant), "integrationId": iid}
    assert schedule["Target"]["RetryPolicy"]["MaximumRetryAttempts"] == 3

    assert api.ok("GET", f"/v1/integrations/{iid}/polling")["intervalMinutes"] == 15
    out = api.ok("PUT", f"/v1/integrations/{iid}/polling", {"enabled": True, "intervalMinutes": 30})
    assert out["intervalMinutes"] == 30
    schedule = get_schedule(iid)
    assert schedule is not None and schedule["ScheduleExpression"] == "rate(30 minutes)"

    out = api.ok("PUT", f"/v1/integrations/{iid}/polling", {"enabled": False})
    assert out == {**out, "enabled": False, "intervalMinutes": 15}
    schedule = get_schedule(iid)
    assert schedule is not None and schedule["State"] == "DISABLED"
    row = api.world.one("SELECT * FROM rmm_integrations WHERE integration_id = %s", iid)
    assert (row["polling_enabled"], row["polling_interval_minutes"]) == (False, 15)

    assert api.call("DELETE", f"/v1/integrations/{iid}") == (204, None)
    assert get_schedule(iid) is None


@pytest.mark.parametrize(
    ("body", "path"),
    [
        ({"enabled": True, "intervalMinutes": 4}, "intervalMinutes"),
        ({"enabled": True, "intervalMinutes": 61}, "intervalMinutes"),
        ({"intervalMinutes": 10}, "enabled"),
        ({"enabled": "yes"}, "enabled"),
    ],
)
def test_polling_validation(api: Api, body: dict[str, Any], path: str) -> None:
    iid = api.connect()["integrationId"]
    status, data = api.call("PUT", f"/v1/integrations/{iid}/polling", body)
    assert status == 422 and data["errors"][0]["path"] == path
    schedule = get_schedule(iid)
    assert schedule is not None and schedule["ScheduleExpression"] == "rate(15 minutes)"


# -- disconnect, rename, rotate ---------------------------------------------------------------


def test_disconnect_keeps_alerts_404s_webhooks_and_deletes_credentials(api: Api) -> None:
    data = api.connect(credentials={"clientId": "a", "clientSecret": "b"})
    iid, secret = data["integrationId"], data["webhookSecret"]
    api.world.q(
        "INSERT INTO rmm_organization_mappings (tenant, integration_id, external_organization_id, client_id) "
        "VALUES (%s, %s, '2', %s)",
        api.world.tenant,
        iid,
        api.world.client_id,
    )
    assert webhook_status(iid, secret) == 200
    assert len(api.world.alerts()) == 1
    assert api.call("DELETE", f"/v1/integrations/{iid}") == (204, None)
    assert api.call("DELETE", f"/v1/integrations/{iid}") == (204, None)  # idempotent
    assert webhook_status(iid, secret) == 404
    assert len(api.world.alerts()) == 1
    read = api.ok("GET", f"/v1/integrations/{iid}")
    assert read["isActive"] is False and read["disconnectedAt"] and read["hasCredentials"] is False
    assert read["polling"]["enabled"] is False
    client = secrets_client()
    described = client.describe_secret(SecretId=f"{PREFIX}{api.world.tenant}/{iid}")
    assert described.get("DeletedDate") is not None
    # a disconnected integration takes no more writes
    assert api.call("PATCH", f"/v1/integrations/{iid}", {"name": "again"})[0] == 409
    assert api.call("PUT", f"/v1/integrations/{iid}/polling", {"enabled": True})[0] == 409
    assert api.call("POST", f"/v1/integrations/{iid}/webhook-secret/rotate")[0] == 409


def test_patch_name_and_instance_url(api: Api) -> None:
    iid = api.connect()["integrationId"]
    out = api.ok("PATCH", f"/v1/integrations/{iid}", {"name": "Renamed", "instanceUrl": "https://eu.ninjarmm.com"})
    assert (out["name"], out["instanceUrl"]) == ("Renamed", "https://eu.ninjarmm.com")
    out = api.ok("PATCH", f"/v1/integrations/{iid}", {"instanceUrl": None})
    assert (out["name"], out["instanceUrl"]) == ("Renamed", None)
    status, data = api.call("PATCH", f"/v1/integrations/{iid}", {"name": None})
    assert status == 422 and data["errors"][0]["path"] == "name"
    assert api.call("PATCH", f"/v1/integrations/{iid}", {"provider": "tacticalrmm"})[0] == 422


def test_rotation_keeps_the_previous_secret_for_the_grace_period(api: Api) -> None:
    data = api.connect()
    iid, old = data["integrationId"], data["webhookSecret"]
    api.world.map_org("2", integration_id=uuid.UUID(iid))
    rotated = api.ok("POST", f"/v1/integrations/{iid}/webhook-secret/rotate", {"graceHours": 2})
    new = rotated["webhookSecret"]
    assert new != old and rotated["previousSecretExpiresAt"] is not None
    assert webhook_status(iid, old) == 200 and webhook_status(iid, new) == 200
    # no grace: the old one stops at once; no body means 24 h
    rotated = api.ok("POST", f"/v1/integrations/{iid}/webhook-secret/rotate", {"graceHours": 0})
    assert rotated["previousSecretExpiresAt"] is None
    assert webhook_status(iid, new) == 401 and webhook_status(iid, rotated["webhookSecret"]) == 200
    assert api.ok("POST", f"/v1/integrations/{iid}/webhook-secret/rotate")["previousSecretExpiresAt"]
    status, errs = api.call("POST", f"/v1/integrations/{iid}/webhook-secret/rotate", {"graceHours": 169})
    assert status == 422 and errs["errors"][0]["path"] == "graceHours"


def test_tactical_rotation_template_holds_the_new_secret(api: Api) -> None:
    iid = api.connect("tacticalrmm")["integrationId"]
    rotated = api.ok("POST", f"/v1/integrations/{iid}/webhook-secret/rotate")
    assert rotated["alertTemplate"]["headers"]["X-Webhook-Secret"] == rotated["webhookSecret"]


# -- auth -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "groups",
    ["rmm-admin", "[rmm-admin, other]", "[other, rmm-admin]", ["rmm-admin"], ["x", "rmm-admin"], "[rmm-admin]"],
)
def test_admin_group_forms(api: Api, groups: Any) -> None:
    status, _ = api.call(
        "POST", "/v1/integrations", {"provider": "ninjaone", "name": "n"}, claims=claims(api.world, groups=groups)
    )
    assert status == 201


@pytest.mark.parametrize("groups", [None, "", "rmm-admins", "[other]", ["other"], "[x, rmm-reader]", 42])
def test_non_admin_reads_but_cannot_write(api: Api, groups: Any) -> None:
    iid = api.connect()["integrationId"]
    c = claims(api.world, admin=False, groups=groups)
    if groups is None:
        c.pop("cognito:groups", None)
    assert api.call("GET", "/v1/integrations", claims=c)[0] == 200
    assert api.call("GET", f"/v1/integrations/{iid}", claims=c)[0] == 200
    assert api.call("GET", f"/v1/integrations/{iid}/polling", claims=c)[0] == 200
    for method, path, body in [
        ("POST", "/v1/integrations", {"provider": "ninjaone", "name": "n"}),
        ("POST", "/v1/integrations", {"bad": True}),  # 403 before validation
        ("PATCH", f"/v1/integrations/{iid}", {"name": "n"}),
        ("DELETE", f"/v1/integrations/{iid}", None),
        ("PUT", f"/v1/integrations/{iid}/polling", {"enabled": False}),
        ("POST", f"/v1/integrations/{iid}/webhook-secret/rotate", None),
    ]:
        status, data = api.call(method, path, body, claims=c)
        assert status == 403, (method, path)
        assert data["errors"][0]["path"] == ""
    assert get_schedule(iid) is not None


@pytest.mark.parametrize(
    "bad",
    [
        {},
        {"sub": "u"},
        {"custom:tenant_id": "0d3e5a10-0000-4000-8000-000000000001"},
        {"sub": "u", "custom:tenant_id": "not-a-uuid"},
        {"sub": "", "custom:tenant_id": "0d3e5a10-0000-4000-8000-000000000001"},
    ],
)
def test_missing_claims_is_401(api: Api, bad: dict[str, Any]) -> None:
    status, data = api.call("GET", "/v1/integrations", claims=bad)
    assert status == 401 and data == {"errors": [{"path": "", "message": "not authenticated"}]}


def test_no_authorizer_is_401(api: Api) -> None:
    assert api.call("GET", "/v1/integrations", anonymous=True)[0] == 401


# -- isolation --------------------------------------------------------------------------------


def test_another_tenants_integration_is_404_for_reads_and_writes(api: Api, conn: Any) -> None:
    a = api.connect()["integrationId"]
    other: Tenant = make_tenant(conn, name="Other MSP")
    b = claims(other)
    for method, path, body in [
        ("GET", f"/v1/integrations/{a}", None),
        ("PATCH", f"/v1/integrations/{a}", {"name": "mine"}),
        ("DELETE", f"/v1/integrations/{a}", None),
        ("POST", f"/v1/integrations/{a}/webhook-secret/rotate", None),
        ("GET", f"/v1/integrations/{a}/polling", None),
        ("PUT", f"/v1/integrations/{a}/polling", {"enabled": False}),
    ]:
        status, data = api.call(method, path, body, claims=b)
        assert status == 404, (method, path, data)
    listed = api.ok("GET", "/v1/integrations", claims=b)["items"]
    assert a not in [i["integrationId"] for i in listed]
    assert [i["integrationId"] for i in listed] == [str(other.integration_id)]
    assert get_schedule(a) is not None
    assert api.ok("GET", f"/v1/integrations/{a}")["name"] == "ninjaone RMM"


def test_unknown_and_malformed_ids_are_404(api: Api) -> None:
    assert api.call("GET", f"/v1/integrations/{uuid.uuid4()}")[0] == 404
    assert api.call("GET", "/v1/integrations/not-a-uuid")[0] == 404
    assert api.call("GET", "/v1/nothing-here")[0] == 404


def test_nul_in_text_is_422_not_500(api: Api) -> None:
    status, data = api.call("POST", "/v1/integrations", {"provider": "ninjaone", "name": "bad\u0000name"})
    assert status == 422 and data["errors"][0]["path"] == "name"
    status, _ = api.call("GET", "/v1/alerts", query={"externalDeviceId": "a\u0000b"})
    assert status == 422
    assert api.world.q("SELECT 1 FROM rmm_integrations WHERE name LIKE 'bad%%'") == []


def test_unexpected_error_is_a_bare_500_and_writes_nothing(api: Api) -> None:
    """A failure inside a write answers the one error shape, says nothing of the cause, and rolls back."""
    integration = api.connect()["integrationId"]
    api.world.q("""CREATE FUNCTION fail_rule() RETURNS trigger LANGUAGE plpgsql AS
                   $$ BEGIN RAISE EXCEPTION 'secret internal detail'; END $$""")
    api.world.q("CREATE TRIGGER fail_rule BEFORE INSERT ON rmm_alert_rules FOR EACH ROW EXECUTE FUNCTION fail_rule()")
    status, data = api.call(
        "POST", f"/v1/integrations/{integration}/rules", {"name": "R", "conditions": {}, "actions": {}}
    )
    assert (status, data) == (500, {"errors": [{"path": "", "message": "internal error"}]})
    assert api.world.q("SELECT 1 FROM rmm_alert_rules WHERE tenant = %s", api.world.tenant) == []
