"""The webhook Lambdas, called with real API Gateway REST proxy events, on real PostgreSQL."""

from __future__ import annotations

import copy
import json
import threading
import uuid
from concurrent.futures import ThreadPoolExecutor
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest

from functions.webhook_ninjaone import handler as ninja
from functions.webhook_tactical import handler as tactical
from rmm_alerts import config, db
from tests.integration.conftest import fixture
from tests.support.apigw import FakeContext, response_json, webhook_event
from tests.support.world import Tenant, make_tenant, set_webhook_secret

SECRET = "s3cret-webhook-value-for-tests-0123456789"


@pytest.fixture
def world(conn: Any, lambda_env: str) -> Tenant:
    w = make_tenant(conn)
    w.map_org("2")
    w.add_rule(actions={"autoResolveTicket": True})
    set_webhook_secret(w, SECRET)
    return w


@pytest.fixture
def tactical_world(conn: Any, lambda_env: str) -> Tenant:
    w = make_tenant(conn, provider="tacticalrmm")
    w.map_org("2")
    w.add_rule(actions={"autoResolveTicket": True})
    set_webhook_secret(w, SECRET)
    return w


def call_ninja(
    world: Tenant, body: Any, *, secret: str | None = SECRET, integration: str | None = None, **kw: Any
) -> tuple[int, Any]:
    event = webhook_event("ninjaone", integration or str(world.integration_id), body, secret=secret, **kw)
    response = ninja.handler(event, FakeContext())
    return response["statusCode"], response_json(response)


def call_tactical(world: Tenant, body: Any, *, secret: str | None = SECRET, **kw: Any) -> tuple[int, Any]:
    event = webhook_event("tacticalrmm", str(world.integration_id), body, secret=secret, **kw)
    response = tactical.handler(event, FakeContext())
    return response["statusCode"], response_json(response)


TRIGGERED = fixture("ninjaone/condition_triggered.json")
RESET = fixture("ninjaone/condition_reset.json")


# -- authentication ---------------------------------------------------------------------------


def test_right_secret_creates_a_ticket(world: Tenant) -> None:
    status, body = call_ninja(world, TRIGGERED)
    assert status == 200
    assert body["processed"] is True and body["outcome"] == "ticket_created"
    assert body["ticketNumber"] == "TIC000001"
    ticket = world.ticket(uuid.UUID(body["ticketId"]))
    assert ticket["attributes"]["source_reference"] == "884211"


@pytest.mark.parametrize(
    ("secret", "headers"),
    [
        pytest.param("wrong", {}, id="wrong"),
        pytest.param(None, {}, id="missing"),
        pytest.param("", {}, id="empty"),
        pytest.param(SECRET[:-1], {}, id="prefix"),
        pytest.param(None, {"Authorization": SECRET}, id="other-header"),
    ],
)
def test_bad_secret_is_401(world: Tenant, secret: str | None, headers: dict[str, str]) -> None:
    status, body = call_ninja(world, TRIGGERED, secret=secret, headers=headers)
    assert status == 401
    assert "X-Webhook-Secret" in body["error"]
    assert world.alerts() == []


def test_header_name_in_any_case(world: Tenant) -> None:
    status, _ = call_ninja(world, TRIGGERED, secret=None, headers={"x-webhook-SECRET": SECRET})
    assert status == 200


def test_no_secret_configured_is_401_never_open(world: Tenant) -> None:
    set_webhook_secret(world, None)
    assert call_ninja(world, TRIGGERED, secret=None)[0] == 401
    assert call_ninja(world, TRIGGERED, secret="")[0] == 401
    assert call_ninja(world, TRIGGERED, secret="anything")[0] == 401


def test_previous_secret_inside_and_outside_grace(world: Tenant) -> None:
    now = datetime.now(UTC)
    set_webhook_secret(world, "new-secret", previous=SECRET, previous_expires_at=now + timedelta(hours=1))
    assert call_ninja(world, TRIGGERED, secret=SECRET)[0] == 200
    assert call_ninja(world, RESET, secret="new-secret")[0] == 200
    set_webhook_secret(world, "new-secret", previous=SECRET, previous_expires_at=now - timedelta(seconds=1))
    assert call_ninja(world, TRIGGERED, secret=SECRET)[0] == 401
    assert call_ninja(world, TRIGGERED, secret="new-secret")[0] == 200


def test_unknown_integration_is_404(world: Tenant) -> None:
    assert call_ninja(world, TRIGGERED, integration=str(uuid.uuid4()))[0] == 404
    assert call_ninja(world, TRIGGERED, integration="not-a-uuid")[0] == 404


def test_disconnected_integration_is_404(world: Tenant) -> None:
    world.q("UPDATE rmm_integrations SET is_active = false WHERE tenant = %s", world.tenant)
    assert call_ninja(world, TRIGGERED)[0] == 404


def test_another_providers_integration_is_404(world: Tenant) -> None:
    event = webhook_event(
        "tacticalrmm", str(world.integration_id), fixture("tactical/check_trigger.json"), secret=SECRET
    )
    assert tactical.handler(event, FakeContext())["statusCode"] == 404


# -- status codes -----------------------------------------------------------------------------


def test_base64_body(world: Tenant) -> None:
    status, body = call_ninja(world, TRIGGERED, base64_body=True)
    assert (status, body["outcome"]) == (200, "ticket_created")


def test_body_over_256_kib_is_413(world: Tenant) -> None:
    big = copy.deepcopy(TRIGGERED)
    big["message"] = "x" * (256 * 1024)
    assert call_ninja(world, big)[0] == 413
    assert call_ninja(world, big, secret=None)[0] == 413  # before anything else
    assert world.alerts() == []


def test_bad_json_is_400(world: Tenant) -> None:
    status, body = call_ninja(world, '{"id": 1,')
    assert status == 400 and body["field"] == "body"
    assert call_ninja(world, b"\xff\xfe", base64_body=True)[0] == 400
    # NaN and Infinity are not JSON (Python accepts them, jsonb refuses them: that was a 500)
    status, body = call_ninja(world, json.dumps({**TRIGGERED, "message": [float("-inf")]}))
    assert (status, body["field"]) == (400, "body") and "-Infinity" in body["error"]
    assert call_ninja(world, '{"id": NaN}')[0] == 400
    assert world.alerts() == []


def test_payload_that_cannot_be_an_alert_is_400_naming_the_field(world: Tenant) -> None:
    broken = {k: v for k, v in TRIGGERED.items() if k != "id"}
    status, body = call_ninja(world, broken)
    assert status == 400 and body["field"] == "id" and body["error"].startswith("id:")


def test_non_alert_activity_is_200_not_processed(world: Tenant) -> None:
    status, body = call_ninja(world, fixture("ninjaone/actionset.json"))
    assert status == 200 and body["processed"] is False
    assert world.alerts() == []


def test_unmapped_organization_is_stored(world: Tenant) -> None:
    other_org = copy.deepcopy(TRIGGERED)
    other_org["device"]["organizationId"] = 77
    other_org["device"]["references"]["organization"]["id"] = 77
    status, body = call_ninja(world, other_org)
    assert status == 200
    assert (body["processed"], body["outcome"], body["reason"]) == (True, "recorded_only", "organization_not_mapped")
    assert len(world.alerts()) == 1


def test_unexpected_error_is_500_and_nothing_is_half_written(world: Tenant) -> None:
    # A failure late in the transaction: the ticket and the alert were already written in it.
    world.q("""CREATE FUNCTION fail_comment() RETURNS trigger LANGUAGE plpgsql AS
               $$ BEGIN RAISE EXCEPTION 'injected failure'; END $$""")
    world.q("CREATE TRIGGER fail_comment BEFORE INSERT ON comments FOR EACH ROW EXECUTE FUNCTION fail_comment()")
    status, body = call_ninja(world, TRIGGERED)
    assert status == 500
    assert body == {"error": "internal error; retry later"}  # no internals
    assert world.alerts() == [] and world.tickets() == [] and world.outbox() == []
    world.q("DROP TRIGGER fail_comment ON comments")
    status, body = call_ninja(world, TRIGGERED)  # the RMM's retry
    assert (status, body["outcome"]) == (200, "ticket_created")


def test_database_down_is_500_then_retry_succeeds(
    world: Tenant, monkeypatch: pytest.MonkeyPatch, lambda_env: str
) -> None:
    monkeypatch.setenv("DATABASE_URL", "postgresql://nobody@127.0.0.1:1/none?connect_timeout=1")
    monkeypatch.setenv("DB_CONNECT_TIMEOUT_S", "1")
    config.cached.cache_clear()
    db.reset_pool()
    status, _ = call_ninja(world, TRIGGERED)
    assert status == 500
    monkeypatch.setenv("DATABASE_URL", lambda_env)
    config.cached.cache_clear()
    db.reset_pool()
    status, body = call_ninja(world, TRIGGERED)
    assert (status, body["outcome"]) == (200, "ticket_created")


def test_database_timeout_is_500_and_nothing_is_half_written(
    world: Tenant, conn: Any, admin_database_url: str, lambda_env: str
) -> None:
    # The functions' limits are their role's settings (migration 0003); shortened for this database only.
    dbname = conn.info.dbname
    conn.execute(f'ALTER ROLE rmm_app IN DATABASE "{dbname}" SET lock_timeout = 300')
    db.reset_pool()
    # Another session holds the alert table: the pipeline's insert waits, then times out.
    with psycopg.connect(admin_database_url) as blocker:
        blocker.execute("LOCK TABLE rmm_alerts IN EXCLUSIVE MODE")
        status, _ = call_ninja(world, TRIGGERED)
        assert status == 500
        blocker.rollback()
    assert world.alerts() == [] and world.tickets() == []
    status, body = call_ninja(world, TRIGGERED)
    assert (status, body["outcome"]) == (200, "ticket_created")


# -- idempotency and concurrency --------------------------------------------------------------


def test_fifty_replays_give_one_alert_and_one_ticket(world: Tenant) -> None:
    outcomes = [call_ninja(world, TRIGGERED)[1]["outcome"] for _ in range(50)]
    assert outcomes[0] == "ticket_created" and set(outcomes[1:]) == {"skipped"}
    assert len(world.alerts()) == 1 and len(world.tickets()) == 1
    assert len(world.outbox()) == 2


def test_eight_concurrent_deliveries_give_one_ticket(world: Tenant) -> None:
    barrier = threading.Barrier(8)
    bodies = []
    for i in range(8):
        b = copy.deepcopy(TRIGGERED)
        b["id"] = 990000 + i  # eight activities of one condition
        bodies.append(b)

    def send(body: Any) -> str:
        barrier.wait()
        status, out = call_ninja(world, body)
        assert status == 200
        return str(out["outcome"])

    with ThreadPoolExecutor(max_workers=8) as pool:
        outcomes = sorted(pool.map(send, bodies))
    assert outcomes == ["occurrence_appended"] * 7 + ["ticket_created"]
    assert len(world.tickets()) == 1


# -- lifecycle through the handlers -----------------------------------------------------------


def test_ninjaone_reset_with_a_new_activity_id_closes_the_trigger_ticket(world: Tenant) -> None:
    _, created = call_ninja(world, TRIGGERED)
    assert RESET["id"] != TRIGGERED["id"]
    status, body = call_ninja(world, RESET)
    assert (status, body["outcome"]) == (200, "resolved")
    assert body["ticketId"] == created["ticketId"]
    assert world.ticket(uuid.UUID(created["ticketId"]))["closed_at"] is not None


def test_ninjaone_two_conditions_on_one_device_get_two_tickets(world: Tenant) -> None:
    _, a = call_ninja(world, TRIGGERED)
    _, b = call_ninja(world, fixture("ninjaone/condition_triggered_other_condition.json"))
    assert a["outcome"] == b["outcome"] == "ticket_created"
    assert a["ticketId"] != b["ticketId"]


def test_ninjaone_alternative_shape_round_trip(world: Tenant) -> None:
    _, created = call_ninja(world, fixture("ninjaone/alt_triggered.json"))
    assert created["outcome"] == "ticket_created"
    _, acked = call_ninja(world, fixture("ninjaone/alt_acknowledged.json"))
    assert acked["outcome"] == "acknowledged"
    _, reset = call_ninja(world, fixture("ninjaone/alt_reset.json"))
    assert reset["outcome"] == "resolved" and reset["ticketId"] == created["ticketId"]


@pytest.mark.parametrize("kind", ["check", "task", "availability"])
def test_tactical_resolve_closes_its_trigger_ticket(tactical_world: Tenant, kind: str) -> None:
    status, created = call_tactical(tactical_world, fixture(f"tactical/{kind}_trigger.json"))
    assert (status, created["outcome"]) == (200, "ticket_created")
    status, resolved = call_tactical(tactical_world, fixture(f"tactical/{kind}_resolve.json"))
    assert (status, resolved["outcome"]) == (200, "resolved")
    assert resolved["ticketId"] == created["ticketId"]
    assert tactical_world.ticket(uuid.UUID(created["ticketId"]))["closed_at"] is not None


def test_tactical_error_becomes_critical(tactical_world: Tenant) -> None:
    body = fixture("tactical/check_trigger.json")
    assert body["severity"] == "error"
    _, created = call_tactical(tactical_world, body)
    alert = tactical_world.alert(uuid.UUID(created["alertId"]))
    assert alert["severity"] == "critical"
    assert alert["dedup_key"].endswith(":check:17")
    ticket = tactical_world.ticket(uuid.UUID(created["ticketId"]))
    assert ticket["priority_id"] == tactical_world.priorities["Urgent"]


def test_tactical_body_posted_as_a_json_string_still_works(tactical_world: Tenant) -> None:
    raw = fixture("tactical/check_trigger_unparseable.json")
    status, body = call_tactical(tactical_world, json.dumps(raw))
    assert status == 200 and body["processed"] is True


def test_tactical_resolve_without_alert_id_still_closes_its_ticket(tactical_world: Tenant) -> None:
    _, created = call_tactical(tactical_world, fixture("tactical/check_trigger.json"))
    resolve = {k: v for k, v in fixture("tactical/check_resolve.json").items() if k != "alertId"}
    status, resolved = call_tactical(tactical_world, resolve)
    assert (status, resolved["outcome"]) == (200, "resolved")
    assert resolved["ticketId"] == created["ticketId"]
