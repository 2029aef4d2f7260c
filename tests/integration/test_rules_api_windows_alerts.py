"""Admin API: maintenance windows, alerts (filters, paging, detail) and create_ticket."""

from __future__ import annotations

import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import pytest

from rmm_alerts.pipeline import process_event
from tests.support.admin_api import Api, claims, errors
from tests.support.events import event
from tests.support.world import Tenant

# -- maintenance windows ----------------------------------------------------------------------


def test_one_off_window_active_now(api: Api) -> None:
    now = datetime.now(UTC)
    body = {
        "name": "Patch night",
        "clientId": str(api.world.client_id),
        "startsAt": (now - timedelta(hours=1)).isoformat(),
        "endsAt": (now + timedelta(hours=1)).isoformat(),
    }
    created = api.ok("POST", "/v1/maintenance-windows", body, 201)
    assert created["activeNow"] is True
    assert created["nextStartsAt"] is not None and created["nextEndsAt"] is not None
    assert datetime.fromisoformat(created["nextEndsAt"]) > now
    wid = created["windowId"]
    got = api.ok("GET", f"/v1/maintenance-windows/{wid}")
    assert got["activeNow"] is True and got["clientId"] == str(api.world.client_id)
    # deactivate: never active, no next occurrence
    off = api.ok("PUT", f"/v1/maintenance-windows/{wid}", {**body, "isActive": False})
    assert (off["activeNow"], off["nextStartsAt"], off["isActive"]) == (False, None, False)
    # over: no next
    past = {"name": "old", "startsAt": "2020-01-01T00:00:00Z", "endsAt": "2020-01-02T00:00:00Z"}
    old = api.ok("POST", "/v1/maintenance-windows", past, 201)
    assert (old["activeNow"], old["nextStartsAt"], old["nextEndsAt"]) == (False, None, None)
    assert len(api.ok("GET", "/v1/maintenance-windows")["items"]) == 2
    assert api.call("DELETE", f"/v1/maintenance-windows/{wid}") == (204, None)
    assert api.call("GET", f"/v1/maintenance-windows/{wid}")[0] == 404


def test_weekly_window_next_occurrence(api: Api) -> None:
    body: dict[str, Any] = {
        "name": "Weekly",
        "integrationId": str(api.world.integration_id),
        "recurrence": {
            "type": "weekly",
            "days": [5, 1],
            "startTime": "22:00",
            "endTime": "02:00",
            "timezone": "America/New_York",
        },
    }
    created = api.ok("POST", "/v1/maintenance-windows", body, 201)
    assert created["recurrence"] == {**body["recurrence"], "days": [1, 5]}
    start, end = datetime.fromisoformat(created["nextStartsAt"]), datetime.fromisoformat(created["nextEndsAt"])
    assert end - start == timedelta(hours=4)
    assert start.astimezone(ZoneInfo("America/New_York")).hour == 22
    assert created["startsAt"] is None


@pytest.mark.parametrize(
    ("body", "paths"),
    [
        ({"name": "w"}, ["body"]),
        ({"name": "w", "startsAt": "2026-01-02T00:00:00Z", "endsAt": "2026-01-01T00:00:00Z"}, ["body"]),
        ({"name": "w", "startsAt": "2026-01-01T00:00:00", "endsAt": "2026-01-02T00:00:00Z"}, ["startsAt"]),
        (
            {
                "name": "w",
                "recurrence": {
                    "type": "weekly",
                    "days": [7],
                    "startTime": "10:00",
                    "endTime": "11:00",
                    "timezone": "UTC",
                },
            },
            ["recurrence.days[0]"],
        ),
        (
            {
                "name": "w",
                "recurrence": {
                    "type": "weekly",
                    "days": [1],
                    "startTime": "25:00",
                    "endTime": "11:00",
                    "timezone": "UTC",
                },
            },
            ["recurrence.startTime"],
        ),
        (
            {
                "name": "w",
                "recurrence": {
                    "type": "weekly",
                    "days": [1],
                    "startTime": "10:00",
                    "endTime": "11:00",
                    "timezone": "Mars/Olympus",
                },
            },
            ["recurrence.timezone"],
        ),
        (
            {
                "name": "",
                "recurrence": {
                    "type": "weekly",
                    "days": [1],
                    "startTime": "10:00",
                    "endTime": "11:00",
                    "timezone": "UTC",
                },
            },
            ["name"],
        ),
    ],
)
def test_window_validation(api: Api, body: dict[str, Any], paths: list[str]) -> None:
    status, data = api.call("POST", "/v1/maintenance-windows", body)
    assert status == 422, data
    assert errors(data) == paths


def test_window_scopes_must_be_the_tenants(api: Api, other: Tenant) -> None:
    one_off = {"name": "w", "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z"}
    for field, value in [
        ("integrationId", other.integration_id),
        ("clientId", other.client_id),
        ("assetId", other.add_asset()),
        ("clientId", uuid.uuid4()),
    ]:
        status, data = api.call("POST", "/v1/maintenance-windows", {**one_off, field: str(value)})
        assert (status, errors(data)) == (422, [field])
    client2, _ = api.world.add_client("Initech")
    status, data = api.call(
        "POST",
        "/v1/maintenance-windows",
        {**one_off, "clientId": str(client2), "assetId": str(api.world.add_asset())},
    )
    assert (status, errors(data)) == (422, ["assetId"])


def test_windows_are_tenant_isolated(api: Api, other: Tenant) -> None:
    one_off = {"name": "w", "startsAt": "2030-01-01T00:00:00Z", "endsAt": "2030-01-02T00:00:00Z"}
    wid = api.ok("POST", "/v1/maintenance-windows", one_off, 201)["windowId"]
    b = claims(other)
    assert api.call("GET", f"/v1/maintenance-windows/{wid}", claims=b)[0] == 404
    assert api.call("PUT", f"/v1/maintenance-windows/{wid}", one_off, claims=b)[0] == 404
    assert api.call("DELETE", f"/v1/maintenance-windows/{wid}", claims=b)[0] == 404
    assert api.ok("GET", "/v1/maintenance-windows", claims=b)["items"] == []
    reader = claims(api.world, admin=False)
    assert api.call("GET", "/v1/maintenance-windows", claims=reader)[0] == 200
    assert api.call("POST", "/v1/maintenance-windows", one_off, claims=reader)[0] == 403
    assert api.call("PUT", f"/v1/maintenance-windows/{wid}", one_off, claims=reader)[0] == 403
    assert api.call("DELETE", f"/v1/maintenance-windows/{wid}", claims=reader)[0] == 403
    assert api.ok("GET", f"/v1/maintenance-windows/{wid}")["name"] == "w"


# -- alerts -----------------------------------------------------------------------------------


def ingest(api: Api, uow_factory: Any, **kw: Any) -> str:
    result = process_event(event(api.world, **kw), uow_factory())
    assert result.alert_id is not None
    return str(result.alert_id)


def test_alert_list_filters_and_paging(api: Api, uow_factory: Any, other: Tenant) -> None:
    ids = [ingest(api, uow_factory, device=f"d{i % 2}", condition=f"c{i}") for i in range(5)]
    process_event(event(other), uow_factory())
    seen: list[str] = []
    cursor = None
    pages = 0
    while True:
        query = {"limit": "2", **({"cursor": cursor} if cursor else {})}
        page = api.ok("GET", "/v1/alerts", query=query)
        seen += [a["alertId"] for a in page["items"]]
        pages += 1
        cursor = page["nextCursor"]
        if cursor is None:
            break
    assert pages == 3 and sorted(seen) == sorted(ids) and len(set(seen)) == 5
    assert seen == list(reversed(ids))  # newest first
    d0 = api.ok("GET", "/v1/alerts", query={"externalDeviceId": "d0"})["items"]
    assert {a["alertId"] for a in d0} == {ids[0], ids[2], ids[4]}
    assert api.ok("GET", "/v1/alerts", query={"status": "resolved"})["items"] == []
    assert (
        len(
            api.ok("GET", "/v1/alerts", query={"status": "active", "integrationId": str(api.world.integration_id)})[
                "items"
            ]
        )
        == 5
    )
    assert api.ok("GET", "/v1/alerts", query={"integrationId": str(uuid.uuid4())})["items"] == []
    # B sees only its own
    b_items = api.ok("GET", "/v1/alerts", claims=claims(other))["items"]
    assert len(b_items) == 1 and b_items[0]["alertId"] not in ids
    for query, path in [
        ({"limit": "0"}, "limit"),
        ({"limit": "201"}, "limit"),
        ({"status": "open"}, "status"),
        ({"cursor": "garbage!"}, "cursor"),
        ({"integrationId": "x"}, "integrationId"),
    ]:
        status, data = api.call("GET", "/v1/alerts", query=query)
        assert (status, errors(data)) == (422, [path]), query


def test_alert_detail_has_trace_and_ticket(api: Api, uow_factory: Any, other: Tenant) -> None:
    api.world.map_org("2")
    api.world.add_rule()
    aid = ingest(api, uow_factory)
    detail = api.ok("GET", f"/v1/alerts/{aid}")
    assert detail["decisionTrace"]["outcome"] == "ticket_created"
    assert detail["ticket"]["ticketNumber"] == "TIC000001" and detail["ticket"]["statusName"] == "New"
    assert detail["ticket"]["isClosed"] is False and detail["autoTicketCreated"] is True
    assert detail["metadata"]["raw"]
    assert api.call("GET", f"/v1/alerts/{aid}", claims=claims(other))[0] == 404
    assert api.call("GET", f"/v1/alerts/{uuid.uuid4()}")[0] == 404
    assert api.call("GET", "/v1/alerts/not-an-id")[0] == 404


def test_create_ticket_on_an_unlinked_alert(api: Api, uow_factory: Any) -> None:
    w = api.world
    w.map_org("2")
    asset = w.add_asset("SRV-101")
    w.map_device("101", asset)
    aid = ingest(api, uow_factory)  # no rule: recorded only
    assert w.alert(uuid.UUID(aid))["ticket_id"] is None
    created = api.ok(
        "POST",
        f"/v1/alerts/{aid}/ticket",
        {
            "priorityId": str(w.priorities["Low"]),
            "assignToUserId": str(w.user_id),
            "titleTemplate": "Manual: {{device}} {{severity}}",
        },
        201,
    )
    ticket = w.ticket(uuid.UUID(created["ticketId"]))
    assert created["ticketNumber"] == ticket["ticket_number"] == "TIC000001"
    assert ticket["title"] == "Manual: SRV-101 critical"
    assert ticket["priority_id"] == w.priorities["Low"] and ticket["assigned_to"] == w.user_id
    assert ticket["client_id"] == w.client_id and ticket["board_id"] == w.board_id
    assert ticket["attributes"]["source_reference"] == w.alert(uuid.UUID(aid))["external_alert_id"]
    alert = w.alert(uuid.UUID(aid))
    assert alert["ticket_id"] == ticket["ticket_id"] and alert["auto_ticket_created"] is False
    assert alert["decision_trace"]["manualTicket"]["by"] == "user-1"
    notes = w.comments(ticket["ticket_id"])
    assert len(notes) == 1 and notes[0]["is_system_generated"] and "on request" in notes[0]["note"]
    assert w.q("SELECT 1 FROM asset_associations WHERE tenant = %s AND entity_id = %s", w.tenant, ticket["ticket_id"])
    assert [o["event_type"] for o in w.outbox()].count("TICKET_CREATED") == 1
    # linked now: 409, and nothing more is written
    status, data = api.call("POST", f"/v1/alerts/{aid}/ticket")
    assert status == 409 and data["errors"][0]["path"] == ""
    assert len(w.tickets()) == 1


def test_create_ticket_conflicts_and_errors(api: Api, uow_factory: Any, other: Tenant) -> None:
    w = api.world
    aid = ingest(api, uow_factory, org="unmapped")
    status, data = api.call("POST", f"/v1/alerts/{aid}/ticket", {})
    assert status == 422 and "no client" in data["errors"][0]["message"]
    status, data = api.call(
        "POST", f"/v1/alerts/{aid}/ticket", {"boardId": str(other.board_id), "priorityId": str(uuid.uuid4())}
    )
    assert (status, errors(data)) == (422, ["boardId", "priorityId"])
    assert api.call("POST", f"/v1/alerts/{aid}/ticket", {"unknown": 1})[0] == 422
    # mapping the org afterwards lets the action find the client
    w.map_org("unmapped")
    w.q("UPDATE boards SET is_default = false WHERE tenant = %s", w.tenant)
    status, data = api.call("POST", f"/v1/alerts/{aid}/ticket")
    assert (status, errors(data)) == (422, ["boardId"]) and "no board" in data["errors"][0]["message"]
    assert api.ok("POST", f"/v1/alerts/{aid}/ticket", {"boardId": str(w.board_id)}, 201)["ticketNumber"]
    # isolation and roles
    assert api.call("POST", f"/v1/alerts/{aid}/ticket", claims=claims(other))[0] == 404
    assert api.call("POST", f"/v1/alerts/{aid}/ticket", claims=claims(w, admin=False))[0] == 403


def test_concurrent_create_ticket_makes_one_ticket(api: Api, uow_factory: Any) -> None:
    api.world.map_org("2")
    aid = ingest(api, uow_factory)

    def attempt(_: int) -> int:
        return api.call("POST", f"/v1/alerts/{aid}/ticket")[0]

    with ThreadPoolExecutor(4) as pool:
        statuses = sorted(pool.map(attempt, range(4)))
    assert statuses.count(201) == 1 and statuses.count(409) == 3, statuses
    assert len(api.world.tickets()) == 1
