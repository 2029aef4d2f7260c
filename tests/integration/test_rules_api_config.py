"""Admin API: organization and device mappings, and alert rules (CRUD, references, reorder)."""

from __future__ import annotations

import uuid
from typing import Any

import pytest

from tests.support.admin_api import Api, claims, errors
from tests.support.world import Tenant


def base(api: Api) -> str:
    return f"/v1/integrations/{api.world.integration_id}"


# -- organization mappings --------------------------------------------------------------------


def test_org_mapping_crud(api: Api) -> None:
    w = api.world
    created = api.ok(
        "POST",
        f"{base(api)}/organization-mappings",
        {
            "externalOrganizationId": "2",
            "externalOrganizationName": "Globex",
            "clientId": str(w.client_id),
            "defaultContactId": str(w.contact_id),
        },
        201,
    )
    assert created["clientName"] == "Globex" and created["defaultContactId"] == str(w.contact_id)
    mid = created["mappingId"]
    assert [m["mappingId"] for m in api.ok("GET", f"{base(api)}/organization-mappings")["items"]] == [mid]

    client2, contact2 = w.add_client("Initech")
    updated = api.ok(
        "PUT",
        f"{base(api)}/organization-mappings/{mid}",
        {"externalOrganizationId": "3", "clientId": str(client2), "defaultContactId": str(contact2)},
    )
    assert (updated["externalOrganizationId"], updated["clientId"]) == ("3", str(client2))
    assert updated["externalOrganizationName"] is None
    assert api.call("DELETE", f"{base(api)}/organization-mappings/{mid}") == (204, None)
    assert api.call("DELETE", f"{base(api)}/organization-mappings/{mid}")[0] == 404
    assert api.ok("GET", f"{base(api)}/organization-mappings")["items"] == []


def test_org_mapping_validation_and_conflicts(api: Api, other: Tenant) -> None:
    w = api.world
    url = f"{base(api)}/organization-mappings"
    status, data = api.call("POST", url, {"externalOrganizationId": "2", "clientId": str(other.client_id)})
    assert (status, errors(data)) == (422, ["clientId"])
    status, data = api.call(
        "POST",
        url,
        {"externalOrganizationId": "2", "clientId": str(w.client_id), "defaultContactId": str(uuid.uuid4())},
    )
    assert (status, errors(data)) == (422, ["defaultContactId"])
    _, contact2 = w.add_client("Initech")
    status, data = api.call(
        "POST", url, {"externalOrganizationId": "2", "clientId": str(w.client_id), "defaultContactId": str(contact2)}
    )
    assert (status, errors(data)) == (422, ["defaultContactId"])
    assert "does not belong" in data["errors"][0]["message"]
    status, data = api.call("POST", url, {"externalOrganizationId": "", "clientId": "nope"})
    assert status == 422 and set(errors(data)) == {"externalOrganizationId", "clientId"}

    api.ok("POST", url, {"externalOrganizationId": "2", "clientId": str(w.client_id)}, 201)
    status, data = api.call("POST", url, {"externalOrganizationId": "2", "clientId": str(w.client_id)})
    assert status == 409 and errors(data) == ["externalOrganizationId"]
    second = api.ok("POST", url, {"externalOrganizationId": "5", "clientId": str(w.client_id)}, 201)
    status, _ = api.call(
        "PUT", f"{url}/{second['mappingId']}", {"externalOrganizationId": "2", "clientId": str(w.client_id)}
    )
    assert status == 409


def test_org_mappings_are_tenant_isolated(api: Api, other: Tenant) -> None:
    w = api.world
    mid = api.ok(
        "POST", f"{base(api)}/organization-mappings", {"externalOrganizationId": "2", "clientId": str(w.client_id)}, 201
    )["mappingId"]
    b = claims(other)
    body = {"externalOrganizationId": "9", "clientId": str(other.client_id)}
    # A's integration through B: 404 for every verb
    assert api.call("GET", f"{base(api)}/organization-mappings", claims=b)[0] == 404
    assert api.call("POST", f"{base(api)}/organization-mappings", body, claims=b)[0] == 404
    assert api.call("PUT", f"{base(api)}/organization-mappings/{mid}", body, claims=b)[0] == 404
    assert api.call("DELETE", f"{base(api)}/organization-mappings/{mid}", claims=b)[0] == 404
    # A's mapping id under B's own integration: 404 too
    b_url = f"/v1/integrations/{other.integration_id}/organization-mappings"
    assert api.call("PUT", f"{b_url}/{mid}", body, claims=b)[0] == 404
    assert api.call("DELETE", f"{b_url}/{mid}", claims=b)[0] == 404
    assert api.ok("GET", b_url, claims=b)["items"] == []
    assert len(api.ok("GET", f"{base(api)}/organization-mappings")["items"]) == 1


# -- device mappings --------------------------------------------------------------------------


def test_device_mapping_put_list_delete(api: Api, other: Tenant) -> None:
    w = api.world
    asset = w.add_asset("SRV-01")
    url = f"{base(api)}/device-mappings"
    saved = api.ok("PUT", f"{url}/dev-101", {"assetId": str(asset)})
    assert (saved["externalDeviceId"], saved["assetId"], saved["assetName"]) == ("dev-101", str(asset), "SRV-01")
    asset2 = w.add_asset("SRV-02")
    assert api.ok("PUT", f"{url}/dev-101", {"assetId": str(asset2)})["assetId"] == str(asset2)
    assert [d["externalDeviceId"] for d in api.ok("GET", url)["items"]] == ["dev-101"]

    foreign_asset = other.add_asset("THEIRS")
    status, data = api.call("PUT", f"{url}/dev-102", {"assetId": str(foreign_asset)})
    assert (status, errors(data)) == (422, ["assetId"])
    assert api.call("PUT", f"{url}/dev-102", {})[0] == 422

    b = claims(other)
    assert api.call("GET", url, claims=b)[0] == 404
    assert api.call("PUT", f"{url}/dev-101", {"assetId": str(foreign_asset)}, claims=b)[0] == 404
    assert api.call("DELETE", f"{url}/dev-101", claims=b)[0] == 404
    assert api.call("DELETE", f"/v1/integrations/{other.integration_id}/device-mappings/dev-101", claims=b)[0] == 404

    assert api.call("DELETE", f"{url}/dev-101") == (204, None)
    assert api.call("DELETE", f"{url}/dev-101")[0] == 404
    assert api.ok("GET", url)["items"] == []


# -- rules ------------------------------------------------------------------------------------


def full_rule(w: Tenant) -> dict[str, Any]:
    return {
        "name": "Critical disks",
        "description": "page someone",
        "conditions": {
            "severities": ["critical"],
            "organizationIds": ["2"],
            "messagePattern": "Disk [A-Z]:",
            "keywords": ["disk"],
        },
        "actions": {
            "boardId": str(w.board_id),
            "priorityOverride": str(w.priorities["Urgent"]),
            "assignToUserId": str(w.user_id),
            "autoResolveTicket": True,
            "autoResolveStatusId": str(w.closed_status_id),
            "notifyUserIds": [str(w.user_id)],
            "ticketTemplate": {"titleTemplate": "{{device}}: {{message}}"},
        },
    }


def test_rule_crud_stores_camelcase_json(api: Api) -> None:
    w = api.world
    w.map_org("2")
    url = f"{base(api)}/rules"
    created = api.ok("POST", url, full_rule(w), 201)
    rid = created["ruleId"]
    assert created["priorityOrder"] == 1 and created["isActive"] is True
    row = w.one("SELECT conditions, actions FROM rmm_alert_rules WHERE rule_id = %s", rid)
    assert row["conditions"] == full_rule(w)["conditions"]
    assert row["actions"]["createTicket"] is True and row["actions"]["resetAlertOnTicketClose"] is True
    assert row["actions"]["boardId"] == str(w.board_id)
    assert "priority_override" not in row["actions"]
    assert api.ok("GET", f"{url}/{rid}") == created

    body = {"name": "Renamed", "isActive": False, "conditions": {}, "actions": {"createTicket": False}}
    updated = api.ok("PUT", f"{url}/{rid}", body)
    assert (updated["name"], updated["isActive"], updated["conditions"]) == ("Renamed", False, {})
    assert updated["actions"]["createTicket"] is False and updated["description"] is None
    second = api.ok("POST", url, {"name": "catch-all", "conditions": {}, "actions": {}}, 201)
    assert second["priorityOrder"] == 2
    assert [r["ruleId"] for r in api.ok("GET", url)["items"]] == [rid, second["ruleId"]]
    assert api.call("DELETE", f"{url}/{rid}") == (204, None)
    assert api.call("GET", f"{url}/{rid}")[0] == 404
    assert api.call("DELETE", f"{url}/{rid}")[0] == 404


@pytest.mark.parametrize(
    ("patch", "paths"),
    [
        ({"conditions": {"messagePattern": "(unclosed"}}, ["conditions.messagePattern"]),
        ({"conditions": {"severities": ["extreme"]}}, ["conditions.severities[0]"]),
        ({"conditions": {"unknown": 1}}, ["conditions.unknown"]),
        ({"actions": {"boardId": "not-a-uuid"}}, ["actions.boardId"]),
        ({"actions": {"createTicket": "yes"}}, ["actions.createTicket"]),
        ({"name": ""}, ["name"]),
        ({"conditions": None}, ["conditions"]),
    ],
)
def test_rule_shape_validation(api: Api, patch: dict[str, Any], paths: list[str]) -> None:
    body = {"name": "r", "conditions": {}, "actions": {}, **patch}
    status, data = api.call("POST", f"{base(api)}/rules", body)
    assert status == 422, data
    assert errors(data) == paths
    assert api.world.q("SELECT 1 FROM rmm_alert_rules") == []


def test_rule_missing_fields(api: Api) -> None:
    status, data = api.call("POST", f"{base(api)}/rules", {"name": "r"})
    assert status == 422 and set(errors(data)) == {"conditions", "actions"}


def test_rule_references_must_exist_in_the_tenant(api: Api, other: Tenant) -> None:
    w = api.world
    w.map_org("2")
    w.q("UPDATE users SET is_inactive = true WHERE tenant = %s", w.tenant)
    active_user = uuid.uuid4()
    w.q("INSERT INTO users (tenant, user_id, email) VALUES (%s, %s, 'a@x.test')", w.tenant, active_user)
    body = {
        "name": "r",
        "conditions": {"organizationIds": ["2", "99"]},
        "actions": {
            "boardId": str(other.board_id),
            "priorityOverride": str(other.priorities["High"]),
            "assignToUserId": str(w.user_id),  # inactive
            "autoResolveStatusId": str(w.open_status_id),  # not closed
            "notifyUserIds": [str(active_user), str(other.user_id)],
        },
    }
    status, data = api.call("POST", f"{base(api)}/rules", body)
    assert status == 422
    assert errors(data) == [
        "actions.boardId",
        "actions.priorityOverride",
        "actions.assignToUserId",
        "actions.autoResolveStatusId",
        "actions.notifyUserIds[1]",
        "conditions.organizationIds[1]",
    ]
    body["actions"] = {"autoResolveStatusId": str(other.closed_status_id)}
    body["conditions"] = {"organizationIds": ["2"]}
    status, data = api.call("POST", f"{base(api)}/rules", body)
    assert (status, errors(data)) == (422, ["actions.autoResolveStatusId"])
    # an org mapped on another integration of the same tenant is not this integration's
    i2 = w.add_integration()
    w.map_org("77", integration_id=i2)
    status, data = api.call(
        "POST", f"{base(api)}/rules", {"name": "r", "conditions": {"organizationIds": ["77"]}, "actions": {}}
    )
    assert (status, errors(data)) == (422, ["conditions.organizationIds[0]"])


def test_reorder(api: Api, other: Tenant) -> None:
    w = api.world
    url = f"{base(api)}/rules"
    ids = [api.ok("POST", url, {"name": f"r{i}", "conditions": {}, "actions": {}}, 201)["ruleId"] for i in range(3)]
    out = api.ok("PUT", f"{url}/order", {"ruleIds": [ids[2], ids[0], ids[1]]})
    assert [r["ruleId"] for r in out["items"]] == [ids[2], ids[0], ids[1]]
    assert [r["priorityOrder"] for r in out["items"]] == [1, 2, 3]
    assert [r["ruleId"] for r in api.ok("GET", url)["items"]] == [ids[2], ids[0], ids[1]]
    # a new rule goes last
    new = api.ok("POST", url, {"name": "new", "conditions": {}, "actions": {}}, 201)
    assert new["priorityOrder"] == 4
    ids = [ids[2], ids[0], ids[1], new["ruleId"]]

    foreign = str(other.add_rule())
    other_integration_rule = str(w.add_rule(integration_id=w.add_integration()))
    cases = [
        ([*ids[:3]], ["ruleIds"]),  # missing
        ([*ids, str(uuid.uuid4())], ["ruleIds[4]"]),  # extra
        ([*ids, foreign], ["ruleIds[4]"]),  # another tenant's
        ([*ids, other_integration_rule], ["ruleIds[4]"]),  # another integration's
        ([*ids, ids[0]], ["ruleIds[4]"]),  # duplicate
        ([ids[0], ids[0], ids[1], ids[2]], ["ruleIds[1]", "ruleIds"]),  # duplicate + missing
        (["nope"], ["ruleIds[0]"]),
    ]
    for rule_ids, paths in cases:
        status, data = api.call("PUT", f"{url}/order", {"ruleIds": rule_ids})
        assert (status, errors(data)) == (422, paths), rule_ids
    assert [r["ruleId"] for r in api.ok("GET", url)["items"]] == ids
    assert api.call("PUT", f"{url}/order", {})[0] == 422


def test_rules_are_tenant_isolated(api: Api, other: Tenant) -> None:
    url = f"{base(api)}/rules"
    rid = api.ok("POST", url, {"name": "r", "conditions": {}, "actions": {}}, 201)["ruleId"]
    b = claims(other)
    body = {"name": "x", "conditions": {}, "actions": {}}
    assert api.call("GET", url, claims=b)[0] == 404
    assert api.call("POST", url, body, claims=b)[0] == 404
    assert api.call("GET", f"{url}/{rid}", claims=b)[0] == 404
    assert api.call("PUT", f"{url}/{rid}", body, claims=b)[0] == 404
    assert api.call("DELETE", f"{url}/{rid}", claims=b)[0] == 404
    assert api.call("PUT", f"{url}/order", {"ruleIds": [rid]}, claims=b)[0] == 404
    b_url = f"/v1/integrations/{other.integration_id}/rules"
    assert api.call("GET", f"{b_url}/{rid}", claims=b)[0] == 404
    assert api.call("PUT", f"{b_url}/{rid}", body, claims=b)[0] == 404
    assert api.call("DELETE", f"{b_url}/{rid}", claims=b)[0] == 404
    assert api.ok("GET", b_url, claims=b)["items"] == []
    assert api.ok("GET", f"{url}/{rid}")["name"] == "r"


def test_non_admin_cannot_change_configuration(api: Api) -> None:
    w = api.world
    rid = str(w.add_rule())
    mid = str(w.map_org("2"))
    reader = claims(w, admin=False)
    assert api.call("GET", f"{base(api)}/rules", claims=reader)[0] == 200
    assert api.call("GET", f"{base(api)}/rules/{rid}", claims=reader)[0] == 200
    assert api.call("GET", f"{base(api)}/organization-mappings", claims=reader)[0] == 200
    assert api.call("GET", f"{base(api)}/device-mappings", claims=reader)[0] == 200
    rule = {"name": "x", "conditions": {}, "actions": {}}
    for method, path, body in [
        ("POST", f"{base(api)}/rules", rule),
        ("PUT", f"{base(api)}/rules/{rid}", rule),
        ("DELETE", f"{base(api)}/rules/{rid}", None),
        ("PUT", f"{base(api)}/rules/order", {"ruleIds": [rid]}),
        ("POST", f"{base(api)}/organization-mappings", {"externalOrganizationId": "3", "clientId": str(w.client_id)}),
        (
            "PUT",
            f"{base(api)}/organization-mappings/{mid}",
            {"externalOrganizationId": "3", "clientId": str(w.client_id)},
        ),
        ("DELETE", f"{base(api)}/organization-mappings/{mid}", None),
        ("PUT", f"{base(api)}/device-mappings/d1", {"assetId": str(w.add_asset())}),
        ("DELETE", f"{base(api)}/device-mappings/d1", None),
    ]:
        assert api.call(method, path, body, claims=reader)[0] == 403, (method, path)


def test_writes_to_a_disconnected_integration_are_409(api: Api) -> None:
    w = api.world
    w.q("UPDATE rmm_integrations SET is_active = false WHERE tenant = %s", w.tenant)
    assert api.call("POST", f"{base(api)}/rules", {"name": "x", "conditions": {}, "actions": {}})[0] == 409
    assert api.call("GET", f"{base(api)}/rules")[0] == 200
