"""The outbox Lambda fed ``{}`` (moto EventBridge and SES v2), and the webhook's kick of it after
a commit that wrote outbox rows."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import boto3
import pytest
from botocore.stub import Stubber

from functions.outbox import handler as outbox_fn
from functions.webhook_ninjaone import handler as ninja
from rmm_alerts import config, outbox
from rmm_alerts.delivery import LambdaDispatcherKick
from tests.integration.conftest import fixture
from tests.support.admin_api import Api
from tests.support.apigw import FakeContext, response_json, webhook_event
from tests.support.delivery import REGION, Tap, mocked_bus
from tests.support.events import event, run
from tests.support.world import Tenant, make_tenant, set_webhook_secret

SECRET = "s3cret-webhook-value-for-tests-0123456789"
FUNCTION = "rmm-alerts-outbox"


@pytest.fixture
def world(conn: Any, lambda_env: str) -> Tenant:
    w = make_tenant(conn)
    w.map_org("2")
    w.add_rule(actions={"autoResolveTicket": True, "notifyUserIds": [str(w.user_id)]})
    set_webhook_secret(w, SECRET)
    return w


@pytest.fixture
def tap(monkeypatch: pytest.MonkeyPatch, lambda_env: str) -> Iterator[Tap]:
    with mocked_bus(monkeypatch) as t:
        yield t


def webhook(world: Tenant, body: Any) -> tuple[int, Any]:
    response = ninja.handler(webhook_event("ninjaone", str(world.integration_id), body, secret=SECRET), FakeContext())
    return response["statusCode"], response_json(response)


def test_handler_fed_empty_input_delivers_everything_and_returns_a_summary(world: Tenant, tap: Tap) -> None:
    status, body = webhook(world, fixture("ninjaone/condition_triggered.json"))
    assert (status, body["outcome"]) == (200, "ticket_created")

    summary = outbox_fn.handler({}, FakeContext())
    assert summary["sent"] == 4  # RMM_ALERT_TRIGGERED, TICKET_CREATED, in-app, e-mail
    assert (summary["pending"], summary["parked"], summary["parkedTotal"], summary["retrying"]) == (0, 0, 0, 0)
    assert sorted(e["detail-type"] for e in tap.events()) == ["RMM_ALERT_TRIGGERED", "TICKET_CREATED"]
    assert [m.destinations["ToAddresses"] for m in tap.emails()] == [["tech@acme.test"]]
    assert len(world.q("SELECT * FROM internal_notifications WHERE tenant = %s", world.tenant)) == 1
    # Again: nothing left to do.
    assert outbox_fn.handler({}, FakeContext())["claimed"] == 0


class RecordingKick:
    def __init__(self) -> None:
        self.kicks = 0

    def kick(self) -> bool:
        self.kicks += 1
        return True


class Clock:
    """outbox's clock for the kick throttle, moved by hand."""

    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(autouse=True)
def clock(monkeypatch: pytest.MonkeyPatch) -> Clock:
    c = Clock()
    monkeypatch.setattr(outbox, "_clock", c)
    monkeypatch.setattr(outbox, "_last_kick", {})  # no throttle carried over from another test
    return c


@pytest.fixture
def kick(monkeypatch: pytest.MonkeyPatch, lambda_env: str) -> Iterator[RecordingKick]:
    monkeypatch.setenv("OUTBOX_FUNCTION_NAME", FUNCTION)
    config.cached.cache_clear()
    recorder = RecordingKick()
    monkeypatch.setitem(outbox._kicks, FUNCTION, recorder)
    yield recorder
    config.cached.cache_clear()


def test_webhook_kicks_the_dispatcher_only_after_writing_outbox_rows(
    world: Tenant, kick: RecordingKick, clock: Clock
) -> None:
    trigger = fixture("ninjaone/condition_triggered.json")
    assert webhook(world, trigger)[1]["outcome"] == "ticket_created"
    assert kick.kicks == 1
    clock.now += outbox.KICK_INTERVAL_S  # past the throttle: a kick now would be sent
    assert webhook(world, trigger)[1]["outcome"] == "skipped"  # replay: nothing written
    assert kick.kicks == 1
    status, body = webhook(world, {**trigger, "activityType": "SYSTEM", "id": 1})  # not an alert
    assert (status, body["processed"], kick.kicks) == (200, False, 1)
    assert webhook(world, fixture("ninjaone/condition_reset.json"))[1]["outcome"] == "resolved"
    assert kick.kicks == 2


def test_kicks_are_throttled_to_one_a_second_per_process(world: Tenant, kick: RecordingKick, clock: Clock) -> None:
    # The invoke is an API call on the webhook's clock: a storm's commits share one kick a second;
    # the run it starts lingers for what commits in between (test_outbox_delivery).
    trigger = fixture("ninjaone/condition_triggered.json")
    assert webhook(world, trigger)[1]["outcome"] == "ticket_created"
    clock.now += outbox.KICK_INTERVAL_S * 0.9
    assert webhook(world, {**trigger, "id": 2})[1]["outcome"] == "occurrence_appended"
    assert kick.kicks == 1  # held back
    clock.now += outbox.KICK_INTERVAL_S * 0.2
    assert webhook(world, fixture("ninjaone/condition_reset.json"))[1]["outcome"] == "resolved"
    assert kick.kicks == 2


class FailingKick(RecordingKick):
    def kick(self) -> bool:
        super().kick()
        return False


def test_a_failed_kick_holds_nothing_back(world: Tenant, monkeypatch: pytest.MonkeyPatch, lambda_env: str) -> None:
    monkeypatch.setenv("OUTBOX_FUNCTION_NAME", FUNCTION)
    config.cached.cache_clear()
    failing = FailingKick()
    monkeypatch.setitem(outbox._kicks, FUNCTION, failing)
    trigger = fixture("ninjaone/condition_triggered.json")
    assert webhook(world, trigger)[1]["outcome"] == "ticket_created"
    # The same instant: the failed kick did not count, so this commit kicks again.
    assert webhook(world, {**trigger, "id": 2})[1]["outcome"] == "occurrence_appended"
    assert failing.kicks == 2
    config.cached.cache_clear()


def lambda_client() -> Any:
    return boto3.client("lambda", region_name=REGION, aws_access_key_id="testing", aws_secret_access_key="testing")


def test_the_kick_is_an_async_invoke_with_empty_input() -> None:
    client = lambda_client()
    with Stubber(client) as stub:
        stub.add_response(
            "invoke",
            {"StatusCode": 202},
            {"FunctionName": FUNCTION, "InvocationType": "Event", "Payload": b"{}"},
        )
        LambdaDispatcherKick(FUNCTION, client=client).kick()
        stub.assert_no_pending_responses()


def test_a_failed_kick_is_logged_and_never_fails_the_webhook(
    world: Tenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    monkeypatch.setenv("OUTBOX_FUNCTION_NAME", FUNCTION)
    config.cached.cache_clear()
    client = lambda_client()
    monkeypatch.setitem(outbox._kicks, FUNCTION, LambdaDispatcherKick(FUNCTION, client=client))
    with Stubber(client) as stub, caplog.at_level(logging.WARNING):
        stub.add_client_error("invoke", "TooManyRequestsException", http_status_code=429)
        status, body = webhook(world, fixture("ninjaone/condition_triggered.json"))
        stub.assert_no_pending_responses()
    assert (status, body["outcome"]) == (200, "ticket_created")
    assert any("could not invoke the outbox dispatcher" in r.getMessage() for r in caplog.records)
    # The rows wait for the scheduled run.
    assert all(r["dispatched_at"] is None for r in world.outbox())


def test_rules_api_create_ticket_kicks_the_dispatcher_after_its_commit(
    api: Api, uow_factory: Any, monkeypatch: pytest.MonkeyPatch, clock: Clock
) -> None:
    w = api.world
    w.map_org("2")
    result = run(uow_factory, event(w))  # no rule: recorded only
    monkeypatch.setenv("OUTBOX_FUNCTION_NAME", FUNCTION)
    config.cached.cache_clear()
    recorder = RecordingKick()
    monkeypatch.setitem(outbox._kicks, FUNCTION, recorder)
    api.ok("POST", f"/v1/alerts/{result.alert_id}/ticket", None, 201)
    assert recorder.kicks == 1
    clock.now += outbox.KICK_INTERVAL_S  # past the throttle: a kick now would be sent
    assert api.call("POST", f"/v1/alerts/{result.alert_id}/ticket")[0] == 409  # rolled back: no kick
    assert recorder.kicks == 1
