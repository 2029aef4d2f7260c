"""Admin API additions for the UI: picker lookups, the rule preview, and CORS on the Lambda's answers."""

from __future__ import annotations

import json
import uuid
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import pytest

from rmm_alerts.admin import app as admin_app
from rmm_alerts.admin import routes
from rmm_alerts.admin.preview import PREVIEW_LIMIT
from rmm_alerts.pipeline import process_event
from tests.support.admin_api import Api, claims, errors
from tests.support.apigw import FakeContext, rest_event
from tests.support.events import event
from tests.support.world import Tenant

# -- lookups ----------------------------------------------------------------------------------


def names(page: dict[str, Any]) -> list[str]:
    return [item["name"] for item in page["items"]]


def test_lookups_list_the_tenants_rows_only(api: Api, other: Tenant) -> None:
    w = api.world
    assert names(api.ok("GET", "/v1/lookups/boards")) == ["Service Desk"]
    assert api.ok("GET", "/v1/lookups/boards")["items"][0]["detail"] == "default board"
    assert names(api.ok("GET", "/v1/lookups/priorities")) == ["Urgent", "High", "Medium", "Low"]
    users = api.ok("GET", "/v1/lookups/users")["items"]
    assert [(u["id"], u["name"], u["detail"]) for u in users] == [(str(w.user_id), "Tess Tech", "tech@acme.test")]
    assert names(api.ok("GET", "/v1/lookups/clients")) == ["Globex"]
    closed = api.ok("GET", f"/v1/lookups/boards/{w.board_id}/closed-statuses")["items"]
    assert [(c["id"], c["name"]) for c in closed] == [(str(w.closed_status_id), "Closed")]
    assert names(api.ok("GET", f"/v1/lookups/clients/{w.client_id}/contacts")) == ["Pat Primary"]
    asset = w.add_asset("SRV-42")
    assert [i["id"] for i in api.ok("GET", f"/v1/lookups/clients/{w.client_id}/assets")["items"]] == [str(asset)]

    # Tenant B's parents are not found, and its rows never show up in A's lists.
    for path in (
        f"/v1/lookups/boards/{other.board_id}/closed-statuses",
        f"/v1/lookups/clients/{other.client_id}/contacts",
        f"/v1/lookups/clients/{other.client_id}/assets",
        f"/v1/lookups/clients/{uuid.uuid4()}/assets",
    ):
        assert api.call("GET", path)[0] == 404, path
    other.add_client("Initech")
    assert "Initech" not in names(api.ok("GET", "/v1/lookups/clients"))
    as_b = api.ok("GET", "/v1/lookups/clients", claims=claims(other, admin=False))
    assert sorted(names(as_b)) == ["Globex", "Initech"]


def test_lookups_search_and_paging(api: Api) -> None:
    w = api.world
    for n in range(7):
        w.add_client(f"Client {n:02d}")
    w.add_client("100%_literal")
    first = api.ok("GET", "/v1/lookups/clients", query={"limit": "3"})
    assert names(first) == ["100%_literal", "Client 00", "Client 01"] and first["nextOffset"] == 3
    seen = names(first)
    offset = first["nextOffset"]
    while offset is not None:
        page = api.ok("GET", "/v1/lookups/clients", query={"limit": "3", "offset": str(offset)})
        seen += names(page)
        offset = page["nextOffset"]
    assert seen == ["100%_literal", *[f"Client {n:02d}" for n in range(7)], "Globex"]
    assert names(api.ok("GET", "/v1/lookups/clients", query={"search": "cLiEnT 0"}))[:2] == ["Client 00", "Client 01"]
    # % and _ are literal characters in a search, not wildcards
    assert names(api.ok("GET", "/v1/lookups/clients", query={"search": "%_"})) == ["100%_literal"]
    assert names(api.ok("GET", "/v1/lookups/clients", query={"search": "nothing like it"})) == []
    status, data = api.call("GET", "/v1/lookups/clients", query={"limit": "0"})
    assert status == 422 and errors(data) == ["limit"]
    status, data = api.call("GET", "/v1/lookups/users", query={"search": "x" * 101})
    assert status == 422 and errors(data) == ["search"]


def test_lookups_need_an_identity(api: Api) -> None:
    assert api.call("GET", "/v1/lookups/boards", anonymous=True)[0] == 401


# -- rule preview -----------------------------------------------------------------------------


def ingest(api: Api, uow_factory: Any, **kw: Any) -> None:
    result = process_event(event(api.world, **kw), uow_factory())
    assert result.alert_id is not None


def test_preview_counts_matches_among_recent_alerts(api: Api, uow_factory: Any, other: Tenant) -> None:
    w = api.world
    path = f"/v1/integrations/{w.integration_id}/rules/preview"
    empty = api.ok("POST", path, {"conditions": {}})
    assert empty == {"evaluated": 0, "matched": 0, "limit": PREVIEW_LIMIT, "examples": []}

    for i in range(4):
        ingest(api, uow_factory, condition=f"disk-{i}", severity="critical", message=f"Disk C: {90 + i}% full")
    ingest(api, uow_factory, condition="cpu", severity="minor", message="CPU at 99%")
    ingest(api, uow_factory, condition="silent", severity="minor", message=None)
    process_event(event(other, condition="disk-x", message="Disk C: 99% full"), uow_factory())  # tenant B

    disks = api.ok("POST", path, {"conditions": {"messagePattern": "(?i)disk", "severities": ["critical"]}})
    assert (disks["evaluated"], disks["matched"]) == (6, 4)
    assert len(disks["examples"]) == 4
    assert all(e["message"].startswith("Disk C:") and e["severity"] == "critical" for e in disks["examples"])
    assert set(disks["examples"][0]) == {
        "alertId",
        "triggeredAt",
        "severity",
        "status",
        "deviceName",
        "externalOrganizationName",
        "message",
    }
    everything = api.ok("POST", path, {"conditions": {}})
    assert (everything["evaluated"], everything["matched"], len(everything["examples"])) == (6, 6, 5)
    keywords = api.ok("POST", path, {"conditions": {"keywords": ["cpu"]}})
    assert keywords["matched"] == 1  # casefolded, and the alert without a message never matches
    orgs = api.ok("POST", path, {"conditions": {"organizationIds": ["999"]}})
    assert orgs["matched"] == 0

    # Invalid conditions are named like a rule save names them; nothing is stored.
    status, data = api.call("POST", path, {"conditions": {"messagePattern": "(x"}})
    assert status == 422 and errors(data) == ["conditions.messagePattern"]
    status, data = api.call("POST", path, {"conditions": {"severities": ["loud"]}})
    assert status == 422 and errors(data) == ["conditions.severities[0]"]
    assert w.q("SELECT count(*) AS n FROM rmm_alert_rules WHERE tenant = %s", w.tenant)[0]["n"] == 0

    # Another tenant's integration is not found, even for a reader of that tenant.
    assert api.call("POST", f"/v1/integrations/{other.integration_id}/rules/preview", {"conditions": {}})[0] == 404
    reader = claims(w, admin=False)
    assert api.call("POST", path, {"conditions": {}}, claims=reader)[0] == 403  # a POST: writes need rmm-admin


def test_preview_reads_at_most_the_last_200_alerts(api: Api, uow_factory: Any) -> None:
    w = api.world
    # Bulk-insert old alerts that match, then newer ones that do not: only the newest 200 count.
    w.q(
        """INSERT INTO rmm_alerts (tenant, integration_id, provider, external_alert_id, dedup_key, severity, message,
                                   triggered_at, created_at)
           SELECT %s, %s, 'ninjaone', 'old-' || n, 'k-' || n, 'critical', 'Disk full',
                  now() - interval '2 days', now() - interval '2 days' + n * interval '1 second'
             FROM generate_series(1, 50) AS n""",
        w.tenant,
        w.integration_id,
    )
    w.q(
        """INSERT INTO rmm_alerts (tenant, integration_id, provider, external_alert_id, dedup_key, severity, message,
                                   triggered_at, created_at)
           SELECT %s, %s, 'ninjaone', 'new-' || n, 'n-' || n, 'minor', 'CPU high',
                  now(), now() - interval '1 day' + n * interval '1 second'
             FROM generate_series(1, 190) AS n""",
        w.tenant,
        w.integration_id,
    )
    path = f"/v1/integrations/{w.integration_id}/rules/preview"
    got = api.ok("POST", path, {"conditions": {"keywords": ["disk"]}})
    assert (got["evaluated"], got["matched"]) == (200, 10)


# -- CORS -------------------------------------------------------------------------------------

ORIGIN = "https://admin.example.com"


@contextmanager
def app_with(origins: list[str]) -> Iterator[admin_app.AdminResolver]:
    """A resolver built with ``origins``; building one rebinds the shared routers, so give them back
    to the module's app afterwards."""
    try:
        yield admin_app.build_app(origins)
    finally:
        for name in dir(routes):
            router = getattr(routes, name)
            if name.endswith("_router"):
                router.api_resolver = admin_app.app


def _call(app: Any, method: str, path: str, origin: str, world: Tenant, **kw: Any) -> dict[str, Any]:
    event = rest_event(
        method,
        path,
        resource="/v1/{proxy+}",
        path_parameters={"proxy": path.removeprefix("/v1/")},
        headers={"Content-Type": "application/json", "Origin": origin},
        **kw,
    )
    response: dict[str, Any] = app.resolve(event, FakeContext())
    return response


def _header(response: dict[str, Any], name: str) -> str | None:
    values = (response.get("multiValueHeaders") or {}).get(name) or []
    single = (response.get("headers") or {}).get(name)
    return single or (", ".join(values) if values else None)


def test_cors_headers_on_the_lambdas_answers_for_the_ui_origin_only(api: Api) -> None:
    with app_with([ORIGIN, "http://127.0.0.1:8000"]) as app:
        _check_cors(app, api.world)
    # the module's app still routes afterwards
    assert api.call("GET", "/v1/lookups/boards")[0] == 200


def _check_cors(app: Any, w: Tenant) -> None:
    ok = _call(app, "GET", "/v1/lookups/boards", ORIGIN, w, claims=claims(w))
    assert ok["statusCode"] == 200
    assert _header(ok, "Access-Control-Allow-Origin") == ORIGIN
    assert _header(ok, "Vary") == "Origin"
    # errors from the routes and from the checks before routing carry it too
    missing = _call(app, "GET", f"/v1/integrations/{uuid.uuid4()}", ORIGIN, w, claims=claims(w))
    assert missing["statusCode"] == 404 and _header(missing, "Access-Control-Allow-Origin") == ORIGIN
    refused = _call(app, "GET", "/v1/lookups/boards", ORIGIN, w, claims=None)
    assert refused["statusCode"] == 401 and _header(refused, "Access-Control-Allow-Origin") == ORIGIN
    forbidden = _call(app, "POST", "/v1/integrations", ORIGIN, w, claims=claims(w, admin=False), body={})
    assert forbidden["statusCode"] == 403 and _header(forbidden, "Access-Control-Allow-Origin") == ORIGIN
    assert json.loads(forbidden["body"])["errors"][0]["message"].startswith("this action needs")
    # another origin gets nothing a browser would honour
    for response in (
        _call(app, "GET", "/v1/lookups/boards", "https://evil.example", w, claims=claims(w)),
        _call(app, "GET", "/v1/lookups/boards", "https://evil.example", w, claims=None),
    ):
        assert _header(response, "Access-Control-Allow-Origin") is None


@pytest.mark.parametrize(
    ("value", "expected"),
    [("", []), (" https://a.test/ , https://b.test", ["https://a.test", "https://b.test"]), ("*", [])],
)
def test_ui_origins_setting(monkeypatch: pytest.MonkeyPatch, value: str, expected: list[str]) -> None:
    monkeypatch.setenv("ADMIN_UI_ORIGINS", value)
    assert admin_app.ui_origins() == expected


def test_without_origins_no_cors_headers(api: Api) -> None:
    w = api.world
    with app_with([]) as app:
        response = _call(app, "GET", "/v1/lookups/boards", ORIGIN, w, claims=claims(w))
    assert response["statusCode"] == 200 and _header(response, "Access-Control-Allow-Origin") is None


def test_me_says_who_calls_and_whether_they_may_edit(api: Api) -> None:
    w = api.world
    admin = api.ok("GET", "/v1/me")
    assert admin == {"userId": "user-1", "tenantId": str(w.tenant), "groups": ["rmm-admin"], "isAdmin": True}
    reader = api.ok("GET", "/v1/me", claims=claims(w, groups="[viewers, x]", sub="reader-1"))
    assert reader == {"userId": "reader-1", "tenantId": str(w.tenant), "groups": ["viewers", "x"], "isAdmin": False}
