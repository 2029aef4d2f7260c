"""moto standing in for EventBridge and SES v2, with the bus tapped by an SQS queue (a rule that
matches everything ``rmm-alerts`` sends), for outbox delivery tests."""

from __future__ import annotations

import json
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import Any

import boto3
import pytest
from moto import mock_aws

from rmm_alerts import config

REGION = "eu-west-1"
BUS = "psa-test-bus"
SENDER = "alerts@msp.example.com"
PSA_URL = "https://psa.example.com"


@dataclass
class Tap:
    queue_url: str

    def events(self) -> list[dict[str, Any]]:
        """Every event the bus delivered to the tap so far (drained: each is returned once)."""
        sqs = boto3.client("sqs", region_name=REGION)
        out: list[dict[str, Any]] = []
        while True:
            got = sqs.receive_message(QueueUrl=self.queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=0)
            messages = got.get("Messages", [])
            if not messages:
                return out
            for m in messages:
                out.append(json.loads(m["Body"]))
                sqs.delete_message(QueueUrl=self.queue_url, ReceiptHandle=m["ReceiptHandle"])

    @staticmethod
    def emails() -> list[Any]:
        """Messages SES accepted (moto's record: source, destinations, subject, body)."""
        from moto.core.models import DEFAULT_ACCOUNT_ID
        from moto.ses.models import ses_backends

        return list(ses_backends[DEFAULT_ACCOUNT_ID][REGION].sent_messages)


def aws_settings() -> dict[str, str]:
    return {
        "AWS_DEFAULT_REGION": REGION,
        "AWS_ACCESS_KEY_ID": "testing",
        "AWS_SECRET_ACCESS_KEY": "testing",
        "AWS_SESSION_TOKEN": "testing",
        "EVENT_BUS_NAME": BUS,
        "NOTIFICATION_SENDER": SENDER,
        "PSA_BASE_URL": PSA_URL,
        "POWERTOOLS_METRICS_DISABLED": "true",
        "POWERTOOLS_TRACE_DISABLED": "true",
    }


@contextmanager
def mocked_bus(monkeypatch: pytest.MonkeyPatch) -> Iterator[Tap]:
    """The outbox function's AWS environment under moto: the bus, its SQS tap, a verified sender."""
    for key, value in aws_settings().items():
        monkeypatch.setenv(key, value)
    monkeypatch.delenv("LOCAL_MAIL_DIR", raising=False)
    config.cached.cache_clear()
    with mock_aws():
        events = boto3.client("events", region_name=REGION)
        sqs = boto3.client("sqs", region_name=REGION)
        events.create_event_bus(Name=BUS)
        queue_url = sqs.create_queue(QueueName="tap")["QueueUrl"]
        queue_arn = sqs.get_queue_attributes(QueueUrl=queue_url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
        events.put_rule(Name="tap", EventBusName=BUS, EventPattern=json.dumps({"source": ["rmm-alerts"]}))
        events.put_targets(Rule="tap", EventBusName=BUS, Targets=[{"Id": "tap", "Arn": queue_arn}])
        boto3.client("sesv2", region_name=REGION).create_email_identity(EmailIdentity=SENDER)
        yield Tap(queue_url)
    config.cached.cache_clear()
