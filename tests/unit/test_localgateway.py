"""The local API Gateway adapter: requests become REST proxy events; responses become HTTP."""

from __future__ import annotations

import base64
import http.client
import json
import threading
import time
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest

from rmm_alerts.devserver import bearer_authorizer, describe
from rmm_alerts.localgateway import LocalGateway, Route, StaticSite, build_event


def echo(event: dict[str, Any], context: Any) -> dict[str, Any]:
    return {"statusCode": 200, "headers": {"Content-Type": "application/json"}, "body": json.dumps(event)}


@pytest.mark.parametrize(
    ("template", "method", "path", "expected"),
    [
        ("/webhooks/ninjaone/{integrationId}", "POST", "/webhooks/ninjaone/abc", {"integrationId": "abc"}),
        ("/webhooks/ninjaone/{integrationId}", "GET", "/webhooks/ninjaone/abc", None),
        ("/webhooks/ninjaone/{integrationId}", "POST", "/webhooks/ninjaone/a/b", None),
        ("/v1/{proxy+}", None, "/v1/integrations/x/rules", {"proxy": "integrations/x/rules"}),
        ("/v1/{proxy+}", None, "/v2/integrations", None),
    ],
)
def test_route_matching(template: str, method: str | None, path: str, expected: dict[str, str] | None) -> None:
    route = Route("POST" if "webhooks" in template else None, template, echo, "x")
    assert route.match(method or "GET", path) == expected


def test_event_has_the_rest_proxy_shape() -> None:
    route = Route("POST", "/webhooks/ninjaone/{integrationId}", echo, "webhook_ninjaone")
    event = build_event(
        route,
        "POST",
        "/webhooks/ninjaone/abc?x=1&x=2&y=",
        {"Content-Type": "application/json; charset=utf-8", "X-Webhook-Secret": "s"},
        b'{"id": 1}',
        {"integrationId": "abc"},
        None,
    )
    assert event["resource"] == "/webhooks/ninjaone/{integrationId}"
    assert event["path"] == "/webhooks/ninjaone/abc"
    assert event["httpMethod"] == "POST"
    assert event["pathParameters"] == {"integrationId": "abc"}
    assert event["queryStringParameters"] == {"x": "2", "y": ""}
    assert event["multiValueQueryStringParameters"] == {"x": ["1", "2"], "y": [""]}
    assert event["headers"]["X-Webhook-Secret"] == "s"
    assert event["multiValueHeaders"]["X-Webhook-Secret"] == ["s"]
    assert event["body"] == '{"id": 1}' and event["isBase64Encoded"] is False
    assert event["requestContext"]["resourcePath"] == "/webhooks/ninjaone/{integrationId}"
    assert event["requestContext"]["requestId"]
    assert "authorizer" not in event["requestContext"]


def test_binary_bodies_are_base64() -> None:
    route = Route("POST", "/x", echo, "x")
    event = build_event(route, "POST", "/x", {"Content-Type": "application/octet-stream"}, b"\xff\x00", {}, None)
    assert event["isBase64Encoded"] is True
    assert base64.b64decode(event["body"]) == b"\xff\x00"
    assert build_event(route, "POST", "/x", {}, b"", {}, None)["body"] is None


def test_bearer_authorizer_hands_over_cognito_claims() -> None:
    claims = {"sub": "u", "custom:tenant_id": "t", "cognito:groups": "rmm-admin"}
    authorize = bearer_authorizer("tok", claims)
    assert authorize({"Authorization": "Bearer tok"}) == claims
    assert authorize({"authorization": "bearer tok"}) == claims
    assert authorize({"Authorization": "Bearer nope"}) is None
    assert authorize({}) is None


def test_dispatch_authorizer_404_and_response_mapping() -> None:
    seen: list[dict[str, Any]] = []
    routes = [
        Route(None, "/v1/{proxy+}", echo, "rules_api", authorizer=bearer_authorizer("tok", {"sub": "u"})),
        Route(
            "POST",
            "/bin",
            lambda e, c: {"statusCode": 201, "body": base64.b64encode(b"\x01").decode(), "isBase64Encoded": True},
            "bin",
        ),
    ]
    gateway = LocalGateway(routes, lambda route, event, response: seen.append(event))
    assert gateway.dispatch("GET", "/v1/alerts", {}, b"")[0] == 401
    # a refused request reaches the console callback too, without claims
    assert seen.pop()["requestContext"].get("authorizer") is None
    status, _headers, body = gateway.dispatch("GET", "/v1/alerts", {"Authorization": "Bearer tok"}, b"")
    assert status == 200 and json.loads(body)["requestContext"]["authorizer"] == {"claims": {"sub": "u"}}
    assert gateway.dispatch("POST", "/bin", {}, b"")[1:] == ({}, b"\x01")
    assert gateway.dispatch("GET", "/nowhere", {}, b"")[0] == 404
    assert len(seen) == 2


def test_functions_run_one_invocation_at_a_time_as_in_lambda() -> None:
    # The HTTP server is threaded; Powertools' resolvers share the current request between them.
    running: list[str] = []
    overlaps: list[tuple[str, ...]] = []

    def slow(name: str) -> Any:
        def handler(event: dict[str, Any], context: Any) -> dict[str, Any]:
            running.append(name)
            if len(running) > 1:
                overlaps.append(tuple(running))
            time.sleep(0.05)
            running.remove(name)
            return {"statusCode": 200, "body": name}

        return handler

    gateway = LocalGateway(
        [
            Route("POST", "/webhooks/ninjaone/{integrationId}", slow("webhook"), "webhook_ninjaone"),
            Route(None, "/v1/{proxy+}", slow("api"), "rules_api"),
        ]
    )
    requests = [("POST", "/webhooks/ninjaone/a"), ("GET", "/v1/alerts")] * 3
    with ThreadPoolExecutor(len(requests)) as pool:
        answers = list(pool.map(lambda r: gateway.dispatch(r[0], r[1], {}, b"")[2], requests))
    assert answers == [b"webhook", b"api"] * 3
    assert overlaps == []


def test_http_server_round_trip() -> None:
    gateway = LocalGateway([Route("POST", "/webhooks/ninjaone/{integrationId}", echo, "webhook_ninjaone")])
    server = gateway.server("127.0.0.1", 0)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        conn = http.client.HTTPConnection("127.0.0.1", server.server_address[1], timeout=10)
        conn.request("POST", "/webhooks/ninjaone/abc", body=b'{"a": 1}', headers={"Content-Type": "application/json"})
        response = conn.getresponse()
        event = json.loads(response.read())
        assert response.status == 200
        assert event["body"] == '{"a": 1}' and event["pathParameters"] == {"integrationId": "abc"}
    finally:
        server.shutdown()
        server.server_close()


def test_describe_prints_one_readable_line_per_webhook() -> None:
    route = Route("POST", "/webhooks/ninjaone/{integrationId}", echo, "webhook_ninjaone")
    body = {"processed": True, "outcome": "ticket_created", "alertId": "a1", "ticketNumber": "TIC000001"}
    line = describe(route, {}, {"statusCode": 200, "body": json.dumps(body)})
    assert line is not None
    assert line.split()[:4] == ["webhook", "ninjaone", "200", "ticket_created"]
    assert "alert=a1" in line and "ticket=TIC000001" in line
    assert describe(Route(None, "/other", echo, "other"), {}, {"statusCode": 200}) is None


def test_describe_prints_one_line_per_admin_request() -> None:
    route = Route(None, "/v1/{proxy+}", echo, "rules_api")
    event = build_event(route, "GET", "/v1/alerts?limit=2", {}, b"", {"proxy": "alerts"}, None)
    line = describe(route, event, {"statusCode": 404})
    assert line is not None
    words = line.split()
    assert words[:4] == ["admin", "GET", "/v1/alerts", "404"]  # the path, never the query or body
    assert len(words) == 5 and words[4].endswith("ms") and int(words[4][:-2]) >= 0


def test_bearer_authorizer_accepts_each_of_several_tokens_with_its_own_claims() -> None:
    authorize = bearer_authorizer("admin-tok", {"sub": "a", "cognito:groups": "rmm-admin"}, ("read-tok", {"sub": "r"}))
    assert authorize({"Authorization": "Bearer admin-tok"}) == {"sub": "a", "cognito:groups": "rmm-admin"}
    assert authorize({"Authorization": "Bearer read-tok"}) == {"sub": "r"}
    assert authorize({"Authorization": "Bearer other"}) is None
    assert authorize({"Authorization": "Basic read-tok"}) is None


def test_static_site_serves_the_ui_its_config_and_nothing_outside(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    (dist / "assets").mkdir(parents=True)
    (dist / "index.html").write_text("<!doctype html><title>ui</title>")
    (dist / "assets" / "app.js").write_text("console.log(1)")
    (tmp_path / "secret.txt").write_text("no")
    gateway = LocalGateway(
        [Route(None, "/v1/{proxy+}", echo, "rules_api", authorizer=bearer_authorizer("tok", {"sub": "u"}))],
        static=StaticSite(dist, {"mode": "local", "apiUrl": ""}),
    )
    status, headers, body = gateway.dispatch("GET", "/", {}, b"")
    assert (status, body) == (200, b"<!doctype html><title>ui</title>")
    assert headers["Content-Type"] == "text/html; charset=utf-8"
    assert "default-src 'self'" in headers["Content-Security-Policy"] and headers["Referrer-Policy"] == "no-referrer"
    status, headers, body = gateway.dispatch("GET", "/assets/app.js?v=1", {}, b"")
    assert status == 200 and body == b"console.log(1)" and "javascript" in headers["Content-Type"]
    assert json.loads(gateway.dispatch("GET", "/config.json", {}, b"")[2]) == {"mode": "local", "apiUrl": ""}
    for escape in ("/../secret.txt", "/assets/../../secret.txt", "/%2e%2e/secret.txt", "/nothing.js"):
        assert gateway.dispatch("GET", escape, {}, b"")[0] == 404, escape
    # the API and webhooks are never answered by the static site
    assert gateway.dispatch("GET", "/v1/alerts", {}, b"")[0] == 401
    assert gateway.dispatch("GET", "/webhooks/ninjaone/x", {}, b"")[0] == 404
    assert gateway.dispatch("POST", "/", {}, b"")[0] == 404


def test_static_site_says_how_to_build_the_ui_when_it_is_missing(tmp_path: Path) -> None:
    gateway = LocalGateway([], static=StaticSite(tmp_path / "missing", {}))
    status, _, body = gateway.dispatch("GET", "/", {}, b"")
    assert status == 503 and b"scripts/bootstrap" in body
