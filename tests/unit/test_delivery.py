"""The AWS adapters' request shapes and failure handling, against botocore's Stubber (the AWS API
stand-in for cases moto does not model: per-entry failures, whole-call refusals, throttling)."""

from __future__ import annotations

import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import boto3
from botocore.stub import ANY, Stubber

from rmm_alerts.delivery import (
    AwsEventPublisher,
    Email,
    LocalEventPublisher,
    LocalMailbox,
    OutboundEvent,
    SesEmailSender,
)

AT = datetime(2026, 6, 12, 14, 0, tzinfo=UTC)


def client(service: str) -> Any:
    session = boto3.session.Session(region_name="eu-west-1", aws_access_key_id="x", aws_secret_access_key="x")
    return session.client(service)  # type: ignore[call-overload]


def ev(n: int, **detail: Any) -> OutboundEvent:
    return OutboundEvent("RMM_ALERT_TRIGGERED", {"eventId": f"e{n}", **detail}, AT)


def entry(n: int) -> dict[str, Any]:
    return {
        "Source": "rmm-alerts",
        "DetailType": "RMM_ALERT_TRIGGERED",
        "Detail": json.dumps({"eventId": f"e{n}"}, separators=(",", ":")),
        "EventBusName": "bus",
        "Time": AT,
    }


def test_put_events_in_calls_of_ten_with_per_entry_results() -> None:
    events = client("events")
    with Stubber(events) as stub:
        first = [{"EventId": f"id{n}"} for n in range(10)]
        first[3] = {"ErrorCode": "ThrottlingException", "ErrorMessage": "slow down"}
        first[5] = {"ErrorCode": "MalformedDetail", "ErrorMessage": "bad"}
        expected = {"Entries": [entry(n) for n in range(10)]}
        stub.add_response("put_events", {"FailedEntryCount": 2, "Entries": first}, expected)
        stub.add_response(
            "put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "x"}, {"EventId": "y"}]}, {"Entries": ANY}
        )
        results = AwsEventPublisher("bus", client=events).publish([ev(n) for n in range(12)])
        stub.assert_no_pending_responses()
    assert [r.ok for r in results] == [True] * 3 + [False, True, False] + [True] * 6
    assert (results[3].permanent, results[5].permanent) == (False, True)
    assert results[3].error is not None and results[3].error.startswith("ThrottlingException")


def test_a_call_refused_as_a_whole_is_retried_one_entry_at_a_time() -> None:
    events = client("events")
    with Stubber(events) as stub:
        stub.add_client_error("put_events", "ValidationException", "too big", http_status_code=400)
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "a"}]}, {"Entries": [entry(0)]})
        stub.add_client_error("put_events", "ValidationException", "this one", http_status_code=400)
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "c"}]}, {"Entries": [entry(2)]})
        results = AwsEventPublisher("bus", client=events).publish([ev(0), ev(1), ev(2)])
        stub.assert_no_pending_responses()
    assert [(r.ok, r.permanent) for r in results] == [(True, False), (False, True), (True, False)]


def test_throttled_call_fails_every_entry_transiently_without_splitting() -> None:
    events = client("events")
    with Stubber(events) as stub:
        stub.add_client_error("put_events", "ThrottlingException", "slow", http_status_code=400)
        results = AwsEventPublisher("bus", client=events).publish([ev(0), ev(1)])
        stub.assert_no_pending_responses()
    assert [(r.ok, r.permanent) for r in results] == [(False, False), (False, False)]


def test_oversized_entry_fails_alone_and_is_never_sent() -> None:
    events = client("events")
    with Stubber(events) as stub:
        stub.add_response("put_events", {"FailedEntryCount": 0, "Entries": [{"EventId": "a"}]}, {"Entries": [entry(1)]})
        results = AwsEventPublisher("bus", client=events).publish([ev(0, message="x" * 300_000), ev(1)])
        stub.assert_no_pending_responses()
    assert [(r.ok, r.permanent) for r in results] == [(False, True), (True, False)]


MAIL = Email(to="tech@acme.test", subject="RMM Alert (critical): SRV-01", text="plain", html="<p>html</p>")


def test_ses_v2_send_email_shape_and_errors() -> None:
    ses = client("sesv2")
    with Stubber(ses) as stub:
        stub.add_response(
            "send_email",
            {"MessageId": "m1"},
            {
                "FromEmailAddress": "rmm-alerts@msp.example.com",
                "Destination": {"ToAddresses": ["tech@acme.test"]},
                "Content": {
                    "Simple": {
                        "Subject": {"Data": MAIL.subject, "Charset": "UTF-8"},
                        "Body": {
                            "Text": {"Data": "plain", "Charset": "UTF-8"},
                            "Html": {"Data": "<p>html</p>", "Charset": "UTF-8"},
                        },
                    }
                },
            },
        )
        stub.add_client_error("send_email", "MessageRejected", "not verified", http_status_code=400)
        stub.add_client_error("send_email", "TooManyRequestsException", "slow", http_status_code=429)
        sender = SesEmailSender("msp.example.com", client=ses)
        assert sender.send(MAIL).ok
        rejected, throttled = sender.send(MAIL), sender.send(MAIL)
        stub.assert_no_pending_responses()
    assert (rejected.ok, rejected.permanent) == (False, True)
    assert (throttled.ok, throttled.permanent) == (False, False)


def test_local_adapters_print_and_write_eml(tmp_path: Path) -> None:
    lines: list[str] = []
    publisher = LocalEventPublisher(echo=lines.append)
    assert publisher.publish([ev(1, alertId="a1")])[0].ok
    assert lines == ["event   RMM_ALERT_TRIGGERED  alertId=a1 eventId=e1"]
    box = LocalMailbox(tmp_path / "mail", "alerts@msp.example.com", echo=lines.append)
    assert box.send(MAIL).ok
    (eml,) = (tmp_path / "mail").glob("*.eml")
    text = eml.read_text()
    assert "Subject: RMM Alert (critical): SRV-01" in text and "To: tech@acme.test" in text
    assert "text/plain" in text and "text/html" in text
    assert lines[-1].startswith("e-mail  to=tech@acme.test")
