"""Issue 10: Hypothesis strategies for the input classes that used to answer 500 (lone surrogates,
huge numbers, extreme times, NUL, deep nesting, non-UTF-8), thrown at both webhooks and at every
admin route, on real PostgreSQL: never a 500. Example counts are bounded to keep the suite fast."""

from __future__ import annotations

import json
import re
import uuid
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.rules_api import handler as rules_api
from functions.webhook_ninjaone import handler as ninja
from functions.webhook_tactical import handler as tactical
from rmm_alerts.admin.app import app as admin_app
from tests.integration.conftest import fixture
from tests.support.admin_api import Api, claims
from tests.support.apigw import FakeContext, rest_event, webhook_event
from tests.support.world import Tenant, make_tenant, set_webhook_secret

SECRET = "hostile-secret-0123456789"

# Raw JSON that json.dumps cannot produce is spliced in for these markers after dumping.
_RAW = {
    "@@HUGE_INT@@": "9" * 5000,
    "@@BIG_INT@@": "1" + "0" * 400,
    "@@NEG_HUGE@@": "-" + "9" * 4400,
    "@@INF@@": "1e999",
    "@@NAN@@": "NaN",
    "@@DEEP@@": "[" * 3000 + "]" * 3000,
    "@@DEEP_OBJ@@": '{"a":' * 100 + "1" + "}" * 100,
}

surrogates = st.characters(min_codepoint=0xD800, max_codepoint=0xDFFF)
hostile_text = st.one_of(
    st.text(alphabet=st.one_of(surrogates, st.characters(), st.just("\x00")), max_size=30),
    st.sampled_from(["\ud83d", "ACME-\ud83d", "a\x00b", "\x00", "\udfff\ud800", "😀"[:1] + "x"]),
)
extreme_times = st.sampled_from(
    [
        "9999-12-31T23:59:59-14:00",
        "0001-01-01T00:00:00+14:00",
        "0001-01-01T00:00:00Z",
        "10000-01-01T00:00:00Z",
        "2400-01-01T00:00:00Z",
        "infinity",
        "-infinity",
        "1969-12-31T23:59:59Z",
        1e300,
        -1,
        253402300800,
        99999999999999999,
    ]
)
raw_markers = st.sampled_from(sorted(_RAW))
hostile_value = st.one_of(
    hostile_text,
    extreme_times,
    raw_markers,
    st.integers(min_value=-(10**40), max_value=10**40),
    st.floats(allow_nan=False, allow_infinity=False),
    st.none(),
    st.lists(hostile_text, max_size=3),
    st.dictionaries(hostile_text, hostile_text, max_size=3),
)


def dump(value: Any) -> str:
    text = json.dumps(value)
    return re.sub("|".join(re.escape(f'"{m}"') for m in _RAW), lambda m: _RAW[m.group(0)[1:-1]], text)


def patched(base: dict[str, Any]) -> st.SearchStrategy[str]:
    keys = st.one_of(st.sampled_from(sorted(base)), hostile_text)
    return st.dictionaries(keys, hostile_value, min_size=1, max_size=4).map(lambda patch: dump({**base, **patch}))


NINJA = [fixture("ninjaone/condition_triggered.json"), fixture("ninjaone/condition_reset.json")]
TACTICAL = [fixture("tactical/check_trigger.json"), fixture("tactical/check_resolve.json")]
ninja_bodies = st.one_of(*(patched(b) for b in NINJA), hostile_value.map(dump))
tactical_bodies = st.one_of(
    *(patched(b) for b in TACTICAL),
    *(patched(b).map(json.dumps) for b in TACTICAL),  # the rendered template as a JSON string
    hostile_value.map(dump),
)


def _worlds(conn: Any) -> dict[str, Tenant]:
    out = {}
    for provider in ("ninjaone", "tacticalrmm"):
        w = make_tenant(conn, provider=provider)
        w.map_org("2")
        w.add_rule(actions={"autoResolveTicket": True, "ticketTemplate": {"titleTemplate": "{{message}}"}})
        set_webhook_secret(w, SECRET)
        out[provider] = w
    return out


def _deliver(world: Tenant, provider: str, body: str, b64: bool) -> dict[str, Any]:
    raw = body.encode("utf-8", "surrogatepass")
    event = webhook_event(
        provider,
        str(world.integration_id),
        raw if b64 else body,
        secret=SECRET,
        base64_body=b64,
    )
    handler = ninja.handler if provider == "ninjaone" else tactical.handler
    response: dict[str, Any] = handler(event, FakeContext())
    return response


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=ninja_bodies, b64=st.booleans())
def test_ninjaone_webhook_never_500(conn: Any, lambda_env: str, body: str, b64: bool) -> None:
    cache = getattr(test_ninjaone_webhook_never_500, "_cache", None)
    if cache is None or cache[0] is not conn:
        cache = (conn, _worlds(conn))
        test_ninjaone_webhook_never_500._cache = cache  # type: ignore[attr-defined]
    response = _deliver(cache[1]["ninjaone"], "ninjaone", body, b64)
    assert response["statusCode"] in {200, 400}, response
    json.loads(response["body"])


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=tactical_bodies, b64=st.booleans())
def test_tactical_webhook_never_500(conn: Any, lambda_env: str, body: str, b64: bool) -> None:
    cache = getattr(test_tactical_webhook_never_500, "_cache", None)
    if cache is None or cache[0] is not conn:
        cache = (conn, _worlds(conn))
        test_tactical_webhook_never_500._cache = cache  # type: ignore[attr-defined]
    response = _deliver(cache[1]["tacticalrmm"], "tacticalrmm", body, b64)
    assert response["statusCode"] in {200, 400}, response
    json.loads(response["body"])


# -- every admin route ------------------------------------------------------------------------


def _routes() -> list[tuple[str, str]]:
    schema = admin_app.get_openapi_schema(title="t", version="1")
    found = []
    for template, item in (schema.paths or {}).items():
        for method in item.model_dump(exclude_none=True):
            if method in {"get", "post", "put", "patch", "delete"}:
                found.append((method.upper(), template))
    return sorted(found)


ROUTES = _routes()
_FIELD_NAMES = [
    "name",
    "provider",
    "instanceUrl",
    "credentials",
    "conditions",
    "actions",
    "messagePattern",
    "keywords",
    "ticketTemplate",
    "titleTemplate",
    "recurrence",
    "timezone",
    "startsAt",
    "endsAt",
    "ruleIds",
    "enabled",
    "intervalMinutes",
    "externalOrganizationId",
    "clientId",
    "assetId",
    "graceHours",
    "boardId",
]
admin_bodies = st.one_of(
    st.none(),
    hostile_value.map(dump),
    st.dictionaries(st.sampled_from(_FIELD_NAMES), hostile_value, max_size=5).map(dump),
    st.fixed_dictionaries(
        {"name": hostile_text, "conditions": st.dictionaries(st.sampled_from(_FIELD_NAMES), hostile_value, max_size=3)},
        optional={"actions": st.dictionaries(st.sampled_from(_FIELD_NAMES), hostile_value, max_size=3)},
    ).map(dump),
    st.just(
        dump(
            {
                "name": "w",
                "recurrence": {
                    "type": "weekly",
                    "days": [1],
                    "startTime": "01:00",
                    "endTime": "02:00",
                    "timezone": "localtime",
                },
            }
        )
    ),
    st.binary(max_size=40).map(lambda b: b.decode("latin-1")),
)
path_values = st.one_of(st.just("@real"), hostile_text.filter(lambda t: "/" not in t), st.just(str(uuid.uuid4())))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(
    route=st.sampled_from(ROUTES),
    body=admin_bodies,
    param=path_values,
    b64=st.booleans(),
    query=st.dictionaries(
        st.sampled_from(["status", "limit", "cursor", "externalDeviceId", "integrationId"]), hostile_text, max_size=2
    ),
)
def test_every_admin_route_never_500(
    api: Api, route: tuple[str, str], body: str | None, param: str, b64: bool, query: dict[str, str]
) -> None:
    cache = getattr(test_every_admin_route_never_500, "_cache", None)
    if cache is None or cache[0] is not api:
        integration = api.connect()["integrationId"]
        cache = (api, integration)
        test_every_admin_route_never_500._cache = cache  # type: ignore[attr-defined]
    method, template = route
    real = cache[1]

    def fill(match: re.Match[str]) -> str:
        name = match.group(1)
        if param == "@real":
            return real if name == "integrationId" else str(uuid.uuid4())
        return param

    path = re.sub(r"\{([^}]+)\}", fill, template)
    event = rest_event(
        method,
        path,
        resource="/v1/{proxy+}",
        path_parameters={"proxy": path.removeprefix("/v1/")},
        body=None if body is None else (body.encode("utf-8", "surrogatepass") if b64 else body),
        base64_body=b64 and body is not None,
        headers={"Content-Type": "application/json"},
        query=query or None,
        claims=claims(api.world),
    )
    response = rules_api.handler(event, FakeContext())
    assert response["statusCode"] < 500, (method, path, body, response)
    if response.get("body"):
        json.loads(response["body"])


def test_strategies_reach_the_raw_classes() -> None:
    """The markers really splice raw JSON text in (the strategies are what they claim)."""
    assert dump({"a": "@@HUGE_INT@@"}) == '{"a": ' + "9" * 5000 + "}"
    assert dump(["@@NAN@@", "@@INF@@"]) == "[NaN, 1e999]"
