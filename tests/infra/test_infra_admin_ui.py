"""The admin UI's hosting: private bucket, CloudFront with origin access control, config.json
written at deploy time, Cognito and CORS wired to the CloudFront URL, the AdminUiUrl output."""

from __future__ import annotations

import json
from typing import Any

from infra.admin_ui import content_security_policy
from tests.infra.conftest import Synth


def of_type(s: Synth, kind: str) -> dict[str, Any]:
    return {k: r for k, r in s.resources.items() if r["Type"] == kind}


def domain_ref(s: Synth) -> dict[str, Any]:
    return {"Fn::GetAtt": [s.logical_id(s.stack.admin_ui.distribution), "DomainName"]}


def test_bucket_is_private_encrypted_and_tls_only(s: Synth) -> None:
    props = s.props(s.stack.admin_ui.bucket)
    assert props["PublicAccessBlockConfiguration"] == {
        "BlockPublicAcls": True,
        "BlockPublicPolicy": True,
        "IgnorePublicAcls": True,
        "RestrictPublicBuckets": True,
    }
    assert "WebsiteConfiguration" not in props
    assert props["BucketEncryption"]["ServerSideEncryptionConfiguration"][0]["ServerSideEncryptionByDefault"] == {
        "SSEAlgorithm": "AES256"
    }
    bucket_id = s.logical_id(s.stack.admin_ui.bucket)
    (policy,) = [
        p for p in of_type(s, "AWS::S3::BucketPolicy").values() if p["Properties"]["Bucket"] == {"Ref": bucket_id}
    ]
    statements = policy["Properties"]["PolicyDocument"]["Statement"]
    assert any(
        st["Effect"] == "Deny" and st["Condition"] == {"Bool": {"aws:SecureTransport": "false"}} for st in statements
    )
    reads = [st for st in statements if st["Effect"] == "Allow"]
    # Only CloudFront, and only this distribution, may read the files.
    assert reads and all(st["Principal"] == {"Service": "cloudfront.amazonaws.com"} for st in reads)
    assert all(st["Action"] == "s3:GetObject" for st in reads)
    dist_id = s.logical_id(s.stack.admin_ui.distribution)
    assert all(dist_id in json.dumps(st["Condition"]) for st in reads)


def test_distribution_uses_origin_access_control_https_and_security_headers(s: Synth) -> None:
    config = s.props(s.stack.admin_ui.distribution)["DistributionConfig"]
    assert config["DefaultRootObject"] == "index.html"
    (origin,) = config["Origins"]
    assert "OriginAccessControlId" in origin and origin["S3OriginConfig"].get("OriginAccessIdentity", "") == ""
    (oac,) = of_type(s, "AWS::CloudFront::OriginAccessControl").values()
    assert oac["Properties"]["OriginAccessControlConfig"]["SigningBehavior"] == "always"
    behavior = config["DefaultCacheBehavior"]
    assert behavior["ViewerProtocolPolicy"] == "redirect-to-https"
    (headers,) = of_type(s, "AWS::CloudFront::ResponseHeadersPolicy").values()
    security = headers["Properties"]["ResponseHeadersPolicyConfig"]["SecurityHeadersConfig"]
    assert security["FrameOptions"]["FrameOption"] == "DENY"
    assert security["ReferrerPolicy"]["ReferrerPolicy"] == "no-referrer"
    csp = json.dumps(security["ContentSecurityPolicy"]["ContentSecurityPolicy"])
    assert "script-src 'self'" in csp and "frame-ancestors 'none'" in csp
    assert s.logical_id(s.stack.api.api) in csp  # connect-src names the stack's own API
    # ... or its custom domain, the origin config.json's apiUrl then has.
    assert "HasCustomDomain" in csp and "CustomDomainName" in csp


def test_csp_allows_only_the_api_and_cognito() -> None:
    csp = content_security_policy("https://api.test", "https://auth.test")
    assert "connect-src 'self' https://api.test https://auth.test;" in csp
    assert "'unsafe-inline'" not in csp and "*" not in csp


def test_config_json_is_written_at_deploy_time_with_api_cognito_and_client(s: Synth) -> None:
    (deployment,) = of_type(s, "Custom::CDKBucketDeployment").values()
    props = deployment["Properties"]
    assert props["DestinationBucketName"] == {"Ref": s.logical_id(s.stack.admin_ui.bucket)}
    assert props["Prune"] is True
    assert props["DistributionPaths"] == ["/*"]
    markers = json.dumps(props.get("SourceMarkers", []))
    # the deploy-time values of config.json: the API's id, the Cognito domain and the app client
    assert s.logical_id(s.stack.api.api) in markers
    assert s.logical_id(s.stack.api.client) in markers
    assert s.logical_id(s.stack.api.domain) in markers
    assert len(props["SourceObjectKeys"]) == 2  # ui/dist and config.json


def test_the_copy_waits_for_its_role_policy(s: Synth) -> None:
    (deployment,) = of_type(s, "Custom::CDKBucketDeployment").values()
    assert s.logical_id(s.stack.admin_ui.deploy_policy) in deployment.get("DependsOn", [])


def test_deployment_role_is_least_privilege(s: Synth) -> None:
    role_id = s.logical_id(s.stack.admin_ui.node.find_child("DeployRole"))
    policies = [p for p in of_type(s, "AWS::IAM::Policy").values() if {"Ref": role_id} in p["Properties"]["Roles"]]
    statements = [st for p in policies for st in p["Properties"]["PolicyDocument"]["Statement"]]
    every = {a for st in statements for a in (st["Action"] if isinstance(st["Action"], list) else [st["Action"]])}
    assert every == {
        "s3:GetObject",
        "s3:ListBucket",
        "s3:PutObject",
        "s3:DeleteObject",
        "cloudfront:CreateInvalidation",
        "cloudfront:GetInvalidation",
        "logs:CreateLogStream",
        "logs:PutLogEvents",
    }
    assert all(st["Resource"] != "*" for st in statements)
    role = s.resources[role_id]["Properties"]
    assert "ManagedPolicyArns" not in role


def test_cloudfront_url_is_a_callback_logout_and_cors_origin_and_an_output(s: Synth) -> None:
    domain = domain_ref(s)
    (client,) = of_type(s, "AWS::Cognito::UserPoolClient").values()
    expected = {"Fn::Join": ["", ["https://", domain, "/"]]}
    assert expected in client["Properties"]["CallbackURLs"]
    assert expected in client["Properties"]["LogoutURLs"]
    assert "http://localhost:5173/callback" in client["Properties"]["CallbackURLs"]  # the configured ones stay
    env = s.props(s.stack.functions.rules_api)["Environment"]["Variables"]
    origins = json.dumps(env["ADMIN_UI_ORIGINS"])
    assert json.dumps(domain) in origins and "https://admin.example.com" in origins
    preflights = [
        m for m in of_type(s, "AWS::ApiGateway::Method").values() if m["Properties"]["HttpMethod"] == "OPTIONS"
    ]
    assert preflights and all(json.dumps(domain) in json.dumps(m["Properties"]["Integration"]) for m in preflights)
    outputs = s.template.to_json()["Outputs"]
    assert outputs["AdminUiUrl"]["Value"] == {"Fn::Join": ["", ["https://", domain, "/"]]}
