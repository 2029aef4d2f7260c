"""Hypothesis: whatever body and headers arrive, the webhook never answers 500."""

from __future__ import annotations

import copy
import json
from typing import Any

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from functions.webhook_ninjaone import handler as ninja
from functions.webhook_tactical import handler as tactical
from tests.integration.conftest import fixture
from tests.support.apigw import FakeContext, webhook_event
from tests.support.world import Tenant, make_tenant, set_webhook_secret

SECRET = "fuzz-secret-0123456789"

json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False) | st.text(max_size=40),
    lambda children: st.lists(children, max_size=5) | st.dictionaries(st.text(max_size=12), children, max_size=6),
    max_leaves=25,
)

NINJA_KEYS = list(fixture("ninjaone/condition_triggered.json"))
TACTICAL_KEYS = list(fixture("tactical/check_trigger.json"))


def mutated(base: dict[str, Any], keys: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    return st.dictionaries(st.sampled_from(keys), json_values, max_size=6).map(lambda patch: {**base, **patch})


bodies = st.one_of(
    st.binary(max_size=200),
    json_values.map(lambda v: json.dumps(v).encode()),
    mutated(fixture("ninjaone/condition_triggered.json"), NINJA_KEYS).map(lambda v: json.dumps(v).encode()),
    mutated(fixture("ninjaone/condition_reset.json"), NINJA_KEYS).map(lambda v: json.dumps(v).encode()),
    mutated(fixture("tactical/check_trigger.json"), TACTICAL_KEYS).map(lambda v: json.dumps(v).encode()),
    mutated(fixture("tactical/check_resolve.json"), TACTICAL_KEYS).map(lambda v: json.dumps(v).encode()),
)
header_text = st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=0x2FFF), max_size=40)
headers = st.dictionaries(
    st.sampled_from(["X-Webhook-Secret", "x-webhook-secret", "Content-Type", "Content-Length", "X-Other"]),
    st.one_of(st.just(SECRET), header_text),
    max_size=4,
)


def _world(conn: Any, provider: str) -> Tenant:
    w = make_tenant(conn, provider=provider)
    w.map_org("2")
    w.add_rule(actions={"autoResolveTicket": True})
    set_webhook_secret(w, SECRET)
    return w


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(body=bodies, hdrs=headers, b64=st.booleans(), provider=st.sampled_from(["ninjaone", "tacticalrmm"]))
def test_never_500(conn: Any, lambda_env: str, body: bytes, hdrs: dict[str, str], b64: bool, provider: str) -> None:
    worlds = getattr(test_never_500, "_worlds", None)
    if worlds is None or worlds[0] is not conn:
        worlds = (conn, {p: _world(conn, p) for p in ("ninjaone", "tacticalrmm")})
        test_never_500._worlds = worlds  # type: ignore[attr-defined]
    world = worlds[1][provider]
    path = "ninjaone" if provider == "ninjaone" else "tacticalrmm"
    hdrs = copy.copy(hdrs)
    if "X-Webhook-Secret" not in hdrs and "x-webhook-secret" not in hdrs:
        hdrs["X-Webhook-Secret"] = SECRET
    event = webhook_event(
        path,
        str(world.integration_id),
        body if b64 else body.decode("utf-8", "replace"),
        secret=None,
        base64_body=b64,
        headers=hdrs,
    )
    handler = ninja.handler if provider == "ninjaone" else tactical.handler
    response = handler(event, FakeContext())
    assert response["statusCode"] in {200, 400, 401, 413}, response
    json.loads(response["body"])
