"""Real API Gateway REST proxy event shapes, and a Lambda context, for calling handlers."""

from __future__ import annotations

import base64
import json
import uuid
from dataclasses import dataclass
from typing import Any


@dataclass
class FakeContext:
    function_name: str = "rmm-alerts-test"
    memory_limit_in_mb: int = 256
    invoked_function_arn: str = "arn:aws:lambda:eu-west-1:123456789012:function:rmm-alerts-test"
    aws_request_id: str = "00000000-0000-0000-0000-000000000000"
    log_group_name: str = "/aws/lambda/rmm-alerts-test"
    log_stream_name: str = "2026/11/26/[$LATEST]abc"

    def get_remaining_time_in_millis(self) -> int:
        return 29_000


def rest_event(
    method: str,
    path: str,
    *,
    resource: str | None = None,
    path_parameters: dict[str, str] | None = None,
    body: str | bytes | dict[str, Any] | list[Any] | None = None,
    headers: dict[str, str] | None = None,
    query: dict[str, str] | None = None,
    base64_body: bool = False,
    claims: dict[str, Any] | None = None,
) -> dict[str, Any]:
    """An API Gateway REST API (v1) Lambda proxy integration event."""
    if isinstance(body, (dict, list)):
        body = json.dumps(body)
    raw: str | None
    if body is None:
        raw = None
    elif base64_body:
        raw = base64.b64encode(body if isinstance(body, bytes) else body.encode()).decode()
    else:
        raw = body.decode() if isinstance(body, bytes) else body
    hdrs = {
        "Accept": "*/*",
        "Host": "abc123.execute-api.eu-west-1.amazonaws.com",
        "User-Agent": "NinjaOne-Webhook/1.0",
        "X-Amzn-Trace-Id": "Root=1-5e66d96f-7491f09xmpl79d18acf3d050",
        "X-Forwarded-For": "203.0.113.10",
        "X-Forwarded-Port": "443",
        "X-Forwarded-Proto": "https",
        **(headers or {}),
    }
    request_id = str(uuid.uuid4())
    context: dict[str, Any] = {
        "accountId": "123456789012",
        "apiId": "abc123",
        "domainName": "abc123.execute-api.eu-west-1.amazonaws.com",
        "extendedRequestId": "ABC=",
        "httpMethod": method,
        "identity": {"sourceIp": "203.0.113.10", "userAgent": hdrs["User-Agent"]},
        "path": f"/prod{path}",
        "protocol": "HTTP/1.1",
        "requestId": request_id,
        "requestTime": "26/Nov/2026:15:00:00 +0000",
        "requestTimeEpoch": 1795705200000,
        "resourceId": "xyz",
        "resourcePath": resource or path,
        "stage": "prod",
    }
    if claims is not None:
        context["authorizer"] = {"claims": claims}
    return {
        "resource": resource or path,
        "path": path,
        "httpMethod": method,
        "headers": hdrs,
        "multiValueHeaders": {k: [v] for k, v in hdrs.items()},
        "queryStringParameters": query,
        "multiValueQueryStringParameters": {k: [v] for k, v in query.items()} if query else None,
        "pathParameters": path_parameters,
        "stageVariables": None,
        "requestContext": context,
        "body": raw,
        "isBase64Encoded": base64_body,
    }


def webhook_event(
    provider_path: str,
    integration_id: str,
    body: Any,
    *,
    secret: str | None,
    base64_body: bool = False,
    headers: dict[str, str] | None = None,
) -> dict[str, Any]:
    hdrs = {"Content-Type": "application/json; charset=utf-8", **(headers or {})}
    if secret is not None:
        hdrs["X-Webhook-Secret"] = secret
    return rest_event(
        "POST",
        f"/webhooks/{provider_path}/{integration_id}",
        resource=f"/webhooks/{provider_path}/{{integrationId}}",
        path_parameters={"integrationId": integration_id},
        body=body,
        headers=hdrs,
        base64_body=base64_body,
    )


def response_json(response: dict[str, Any]) -> Any:
    return json.loads(response["body"]) if response.get("body") else None
