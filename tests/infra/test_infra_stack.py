"""What the synthesized stack must hold (one synthesis per session: see conftest.py)."""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
from aws_cdk import cx_api
from cdk_nag import AwsSolutionsChecks, ServerlessChecks
from pydantic import BaseModel

from infra import constants as c
from infra.compute import POWERTOOLS_ENV, WILDCARD_RESOURCE_ACTIONS
from infra.layer import migrations_hash
from rmm_alerts import config as settings
from tests.infra.conftest import Synth, assembly_dir

FUNCTION_FOLDERS = ("webhook_ninjaone", "webhook_tactical", "rules_api", "poller", "ticket_closed", "outbox", "migrate")


# --------------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------------
def of_type(s: Synth, kind: str) -> dict[str, Mapping[str, Any]]:
    return {k: r for k, r in s.resources.items() if r["Type"] == kind}


def service_functions(s: Synth) -> dict[str, Any]:
    f = s.stack.functions
    return {
        "webhook_ninjaone": f.webhook_ninjaone,
        "webhook_tactical": f.webhook_tactical,
        "rules_api": f.rules_api,
        "poller": f.poller,
        "ticket_closed": f.ticket_closed,
        "outbox": f.outbox,
    }


def all_functions(s: Synth) -> dict[str, Any]:
    return {**service_functions(s), "migrate": s.stack.functions.migrate}


def as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else [value]


def policy_documents(s: Synth) -> Iterator[tuple[str, str, Mapping[str, Any]]]:
    """(logical id, kind, document) of every policy document in the template."""
    for lid, res in s.resources.items():
        props = res.get("Properties", {})
        kind = res["Type"]
        if kind in ("AWS::IAM::Policy", "AWS::IAM::ManagedPolicy"):
            yield lid, "identity", props["PolicyDocument"]
        elif kind == "AWS::IAM::Role":
            for policy in props.get("Policies", []):
                yield lid, "identity", policy["PolicyDocument"]
            yield lid, "trust", props["AssumeRolePolicyDocument"]
        elif kind == "AWS::KMS::Key":
            yield lid, "key", props["KeyPolicy"]
        elif "PolicyDocument" in props:
            yield lid, "resource", props["PolicyDocument"]


def role_statements(s: Synth, fn: Any) -> list[Mapping[str, Any]]:
    """Every statement of the policies attached to the function's role (inline and managed)."""
    role_id = s.logical_id(fn.role)
    out: list[Mapping[str, Any]] = []
    for lid, res in s.resources.items():
        props = res.get("Properties", {})
        if res["Type"] == "AWS::IAM::Policy" and {"Ref": role_id} in props.get("Roles", []):
            out += props["PolicyDocument"]["Statement"]
        if res["Type"] == "AWS::IAM::ManagedPolicy":
            refs = s.resources[role_id]["Properties"].get("ManagedPolicyArns", [])
            if {"Ref": lid} in refs:
                out += props["PolicyDocument"]["Statement"]
    return out


def actions(statements: list[Mapping[str, Any]]) -> set[str]:
    return {a for st in statements for a in as_list(st["Action"])}


def api_paths(s: Synth) -> dict[str, str]:
    """Logical id of each API Gateway resource -> its path."""
    resources = of_type(s, "AWS::ApiGateway::Resource")

    def path(lid: str) -> str:
        props = resources[lid]["Properties"]
        parent = props["ParentId"]
        prefix = "" if "Fn::GetAtt" in parent else path(parent["Ref"])
        return f"{prefix}/{props['PathPart']}"

    return {lid: path(lid) for lid in resources}


def methods(s: Synth) -> list[tuple[str, str, Mapping[str, Any]]]:
    """(path, HTTP method, properties) of every API method."""
    paths = api_paths(s)
    out = []
    for res in of_type(s, "AWS::ApiGateway::Method").values():
        props = res["Properties"]
        ref = props["ResourceId"]
        path = paths[ref["Ref"]] if "Ref" in ref else "/"
        out.append((path, props["HttpMethod"], props))
    return out


def integration_function(props: Mapping[str, Any]) -> str:
    """Logical id of the Lambda function an AWS_PROXY integration invokes."""
    parts = props["Integration"]["Uri"]["Fn::Join"][1]
    refs = [p["Fn::GetAtt"][0] for p in parts if isinstance(p, dict) and "Fn::GetAtt" in p]
    assert len(refs) == 1, parts
    return str(refs[0])


# --------------------------------------------------------------------------------------------
# functions and layer
# --------------------------------------------------------------------------------------------
def test_six_functions_and_the_migration_function_share_one_layer_runtime_and_architecture(s: Synth) -> None:
    # CDK's BucketDeployment (the admin UI's files) brings its own AWS CLI layer and handler.
    layers = {k: v for k, v in of_type(s, "AWS::Lambda::LayerVersion").items() if "AwsCliLayer" not in k}
    assert len(layers) == 1
    ((layer_id, layer),) = layers.items()
    assert layer["Properties"]["CompatibleRuntimes"] == [c.RUNTIME.name]
    assert layer["Properties"]["CompatibleArchitectures"] == [c.ARCHITECTURE.name]

    ours = {name: s.props(fn) for name, fn in all_functions(s).items()}
    assert len(ours) == 7
    for name, props in ours.items():
        assert props["Runtime"] == c.RUNTIME.name == "python3.13", name
        assert props["Architectures"] == [c.ARCHITECTURE.name] == ["arm64"], name
        assert props["Handler"] == "handler.handler", name
        assert props["Layers"] == [{"Ref": layer_id}], name
    python_functions = [
        r
        for k, r in of_type(s, "AWS::Lambda::Function").items()
        if r["Properties"]["Runtime"].startswith("python") and not k.startswith("CustomCDKBucketDeployment")
    ]
    assert len(python_functions) == 7  # nothing else in the stack runs our code


def test_each_function_ships_only_its_own_folder(s: Synth) -> None:
    outdir = assembly_dir(s)
    for folder, fn in all_functions(s).items():
        resource = s.resources[s.logical_id(fn)]
        staged = outdir / resource["Metadata"]["aws:asset:path"]
        source = c.FUNCTIONS_DIR / folder

        def files(root: Path) -> set[str]:
            return {
                p.relative_to(root).as_posix()
                for p in root.rglob("*")
                if p.is_file() and "__pycache__" not in p.parts and p.suffix != ".pyc"
            }

        assert files(staged) == files(source), folder


def test_layer_asset_holds_the_core_package(s: Synth) -> None:
    (layer,) = [v for k, v in of_type(s, "AWS::Lambda::LayerVersion").items() if "AwsCliLayer" not in k]
    staged = assembly_dir(s) / layer["Metadata"]["aws:asset:path"]
    assert (staged / "python" / "rmm_alerts" / "__init__.py").is_file()
    assert (staged / "python" / "rmm_alerts" / "config.py").is_file()
    assert not list(staged.rglob("__pycache__"))


def test_each_function_has_its_own_role_log_group_tracing_and_sizes(s: Synth) -> None:
    roles, log_groups = set(), set()
    specs = {
        "webhook_ninjaone": c.WEBHOOK_NINJAONE,
        "webhook_tactical": c.WEBHOOK_TACTICAL,
        "rules_api": c.RULES_API,
        "poller": c.POLLER,
        "ticket_closed": c.TICKET_CLOSED,
        "outbox": c.OUTBOX,
        "migrate": c.MIGRATE,
    }
    for name, fn in all_functions(s).items():
        props = s.props(fn)
        spec = specs[name]
        roles.add(json.dumps(props["Role"]))
        group = props["LoggingConfig"]["LogGroup"]["Ref"]
        log_groups.add(group)
        assert s.resources[group]["Properties"]["RetentionInDays"] > 0
        assert props["TracingConfig"] == {"Mode": "Active"}, name
        assert props["MemorySize"] == spec.memory_mb
        assert props["Timeout"] == spec.timeout.to_seconds()
        assert props["VpcConfig"]["SubnetIds"], name
        if name.startswith("webhook_") or name in ("poller", "outbox"):
            assert spec.reserved_concurrency is not None and spec.reserved_concurrency > 0
            assert props["ReservedConcurrentExecutions"] == spec.reserved_concurrency
        # The X-Ray SDK only where it shows outbound calls; the runtime's active tracing everywhere.
        trace_disabled = props["Environment"]["Variables"].get("POWERTOOLS_TRACE_DISABLED")
        assert trace_disabled == (None if spec.xray_sdk else "true"), name
        assert spec.xray_sdk == (not name.startswith("webhook_")), name
    assert len(roles) == 7 and len(log_groups) == 7
    # API-facing functions answer within API Gateway's 29 s integration timeout.
    for name in ("webhook_ninjaone", "webhook_tactical", "rules_api"):
        assert specs[name].timeout.to_seconds() < 29


SETTINGS: dict[str, type[settings.DatabaseSettings]] = {
    "webhook_ninjaone": settings.WebhookSettings,
    "webhook_tactical": settings.WebhookSettings,
    "rules_api": settings.RulesApiSettings,
    "poller": settings.PollerSettings,
    "ticket_closed": settings.TicketClosedSettings,
    "outbox": settings.OutboxSettings,
    "migrate": settings.MigrateSettings,
}


def aliases(model: type[BaseModel]) -> set[str]:
    return {f.alias or name for name, f in model.model_fields.items()}


# The agreed database variables: service functions authenticate to the proxy with IAM as rmm_app;
# migrate uses the owner's secret and reads rmm_app's secret to set that role's password.
SERVICE_DB_ENV = {"DB_HOST", "DB_PORT", "DB_NAME", "DB_USER", "DB_IAM_AUTH"}
MIGRATE_DB_ENV = {"DB_HOST", "DB_PORT", "DB_NAME", "DB_SECRET_ARN", "APP_DB_SECRET_ARN"}


def required_aliases(model: type[BaseModel], name: str) -> set[str]:
    required = {f.alias or name for name, f in model.model_fields.items() if f.is_required()}
    # DatabaseSettings requires DATABASE_URL or the AWS variables; in AWS it is always the latter.
    return required | (MIGRATE_DB_ENV if name == "migrate" else SERVICE_DB_ENV)


@pytest.mark.parametrize("name", FUNCTION_FOLDERS)
def test_environment_is_exactly_what_the_settings_model_reads(s: Synth, name: str) -> None:
    variables = s.props(all_functions(s)[name])["Environment"]["Variables"]
    env = set(variables)
    model = SETTINGS[name]
    allowed = aliases(model) | set(POWERTOOLS_ENV) | {"POWERTOOLS_TRACE_DISABLED"}
    assert env <= allowed, f"{name}: not read by {model.__name__}: {sorted(env - allowed)}"
    assert required_aliases(model, name) <= env, f"{name}: missing {sorted(required_aliases(model, name) - env)}"
    assert set(POWERTOOLS_ENV) <= env
    assert "DATABASE_URL" not in env
    # The settings model accepts exactly these variables (placeholders for the tokens).
    parsed = settings.load(model, {k: v if isinstance(v, str) else "x" for k, v in variables.items()})
    assert parsed.db_host


def test_service_functions_use_iam_auth_to_the_proxy_as_the_app_role_and_read_no_db_secret(s: Synth) -> None:
    proxy_id = s.logical_id(s.stack.data.proxy)
    secret_ids = [s.logical_id(s.stack.data.app_secret), "DataClusterSecret"]
    for name, fn in service_functions(s).items():
        env = s.props(fn)["Environment"]["Variables"]
        assert env["DB_HOST"] == {"Fn::GetAtt": [proxy_id, "Endpoint"]}, name
        assert env["DB_PORT"] == "5432"
        assert env["DB_NAME"] == c.DB_NAME
        assert env["DB_USER"] == c.DB_APP_USER == "rmm_app"
        assert env["DB_IAM_AUTH"] == "true"
        assert "DB_SECRET_ARN" not in env and "APP_DB_SECRET_ARN" not in env
        statements = role_statements(s, fn)
        connect = [st for st in statements if "rds-db:connect" in as_list(st["Action"])]
        assert len(connect) == 1, name
        resource = json.dumps(connect[0]["Resource"])
        # arn:aws:rds-db:<region>:<account>:dbuser:<proxy resource id>/rmm_app, the proxy's id from its ARN
        assert ":dbuser:" in resource and '"/rmm_app"' in resource and proxy_id in resource, resource
        assert not [st for st in statements if any(i in json.dumps(st.get("Resource")) for i in secret_ids)], name
        assert not any(a.startswith("secretsmanager:GetSecretValue") for a in actions(statements)) or name in (
            "rules_api",  # test-connection and NinjaOne webhook registration
            "poller",
            "ticket_closed",  # integration credentials only (checked below)
            "rules_api",  # integration credentials only: test-connection, NinjaOne webhook registration
        )


def test_migrate_connects_directly_as_the_owner_and_reads_the_app_secret(s: Synth) -> None:
    migrate = s.stack.functions.migrate
    env = s.props(migrate)["Environment"]["Variables"]
    cluster_id = s.logical_id(s.stack.data.cluster)
    assert env["DB_HOST"] == {"Fn::GetAtt": [cluster_id, "Endpoint.Address"]}
    owner = s.stack.resolve(s.stack.data.secret.secret_arn)
    app = s.stack.resolve(s.stack.data.app_secret.secret_arn)
    assert env["DB_SECRET_ARN"] == owner and env["APP_DB_SECRET_ARN"] == app
    assert "DB_IAM_AUTH" not in env and "DB_USER" not in env
    statements = role_statements(s, migrate)
    for secret in (owner, app):
        granted = [st for st in statements if secret in as_list(st.get("Resource"))]
        assert actions(granted) == {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"}
    assert "rds-db:connect" not in actions(statements)
    # Its security group reaches the cluster (not only the proxy).
    migrate_sg = s.stack.resolve(migrate.connections.security_groups[0].security_group_id)
    cluster_sg = s.stack.resolve(s.stack.data.cluster.connections.security_groups[0].security_group_id)
    ingress = [
        r["Properties"]
        for r in of_type(s, "AWS::EC2::SecurityGroupIngress").values()
        if r["Properties"].get("SourceSecurityGroupId") == migrate_sg
    ]
    assert [i["GroupId"] for i in ingress] == [cluster_sg]


def test_app_db_secret_is_generated_for_rmm_app_and_is_the_only_secret_of_the_iam_auth_proxy(s: Synth) -> None:
    app_id = s.logical_id(s.stack.data.app_secret)
    app = s.resources[app_id]["Properties"]["GenerateSecretString"]
    assert json.loads(app["SecretStringTemplate"]) == {"username": "rmm_app"}
    assert app["GenerateStringKey"] == "password"
    (proxy,) = of_type(s, "AWS::RDS::DBProxy").values()
    auth = proxy["Properties"]["Auth"]
    assert [a["SecretArn"] for a in auth] == [{"Ref": app_id}]
    assert all(a["IAMAuth"] == "REQUIRED" for a in auth)


def test_rules_api_base_url_is_the_rest_api_stage_url_without_a_cycle(s: Synth) -> None:
    env = s.props(s.stack.functions.rules_api)["Environment"]["Variables"]
    joined = json.dumps(env["API_BASE_URL"])
    assert s.logical_id(s.stack.api.api) in joined
    assert f"/{c.API_STAGE_NAME}" in joined
    assert "Deployment" not in joined and "Stage" not in joined


# --------------------------------------------------------------------------------------------
# migrations on every deploy
# --------------------------------------------------------------------------------------------
def test_migration_trigger_runs_after_the_database_and_before_the_service_functions(s: Synth) -> None:
    triggers = of_type(s, "Custom::Trigger")
    assert len(triggers) == 1
    ((trigger_id, trigger),) = triggers.items()
    props = trigger["Properties"]
    migrate_id = s.logical_id(s.stack.functions.migrate)
    version = s.resources[props["HandlerArn"]["Ref"]]
    assert version["Type"] == "AWS::Lambda::Version"
    assert version["Properties"]["FunctionName"] == {"Ref": migrate_id}
    assert props["InvocationType"] == "RequestResponse"
    assert props["MigrationsSha256"] == migrations_hash()
    assert migrations_hash()[:16] in s.props(s.stack.functions.migrate)["Description"]
    assert (c.FUNCTIONS_DIR / "migrate" / "handler.py").read_text().count(
        "from rmm_alerts.migrations import lambda_handler as handler"
    ) == 1

    after = set(trigger.get("DependsOn", []))
    assert s.logical_id(s.stack.data.cluster) in after and s.logical_id(s.stack.data.app_secret) in after
    writer = [lid for lid, r in of_type(s, "AWS::RDS::DBInstance").items()]
    assert set(writer) <= after
    # Not after RDS Proxy's target group: CloudFormation holds it until the proxy can log in as
    # rmm_app, which only the migration makes possible. The target group waits for the migration.
    ((group_id, group),) = of_type(s, "AWS::RDS::DBProxyTargetGroup").items()
    assert group_id not in after and trigger_id in group.get("DependsOn", [])
    for name, fn in service_functions(s).items():
        assert trigger_id in s.resources[s.logical_id(fn)].get("DependsOn", []), name


def test_migrations_hash_changes_with_the_sql(tmp_path: Path) -> None:
    (tmp_path / "0001_a.sql").write_text("create table a ();")
    first = migrations_hash(tmp_path)
    (tmp_path / "0001_a.sql").write_text("create table a (id int);")
    assert migrations_hash(tmp_path) != first
    (tmp_path / "notes.txt").write_text("ignored")
    assert len({first, migrations_hash(tmp_path)}) == 2


# --------------------------------------------------------------------------------------------
# network and database
# --------------------------------------------------------------------------------------------
def test_aurora_serverless_v2_postgresql_encrypted_behind_a_tls_proxy(s: Synth) -> None:
    ((cluster_id, cluster),) = of_type(s, "AWS::RDS::DBCluster").items()
    props = cluster["Properties"]
    assert props["Engine"] == "aurora-postgresql"
    assert props["StorageEncrypted"] is True
    assert props["ServerlessV2ScalingConfiguration"] == {"MinCapacity": c.DB_MIN_ACU, "MaxCapacity": c.DB_MAX_ACU}
    assert props["BackupRetentionPeriod"] >= 7
    assert props["DeletionProtection"] is True  # retainData defaults to true
    assert cluster["DeletionPolicy"] == "Snapshot"
    instances = of_type(s, "AWS::RDS::DBInstance").values()
    assert instances and all(i["Properties"]["DBInstanceClass"] == "db.serverless" for i in instances)
    assert all(i["Properties"]["PubliclyAccessible"] is False for i in instances)

    (proxy,) = of_type(s, "AWS::RDS::DBProxy").values()
    assert proxy["Properties"]["RequireTLS"] is True
    assert proxy["Properties"]["EngineFamily"] == "POSTGRESQL"
    (target,) = of_type(s, "AWS::RDS::DBProxyTargetGroup").values()
    assert target["Properties"]["DBClusterIdentifiers"] == [{"Ref": cluster_id}]

    (rotation,) = of_type(s, "AWS::SecretsManager::RotationSchedule").values()
    assert rotation["Properties"]["RotationRules"]["ScheduleExpression"] == "rate(30 days)"
    (params,) = of_type(s, "AWS::RDS::DBClusterParameterGroup").values()
    assert params["Properties"]["Parameters"]["rds.force_ssl"] == "1"


def test_vpc_has_private_subnets_with_nat_egress(s: Synth) -> None:
    assert len(of_type(s, "AWS::EC2::NatGateway")) >= 1
    routes = of_type(s, "AWS::EC2::Route").values()
    assert any("NatGatewayId" in r["Properties"] for r in routes)
    assert of_type(s, "AWS::EC2::FlowLog")


# --------------------------------------------------------------------------------------------
# API and auth
# --------------------------------------------------------------------------------------------
def test_webhook_routes_have_no_authorizer_and_reach_their_functions(s: Synth) -> None:
    found = {(path, verb): props for path, verb, props in methods(s) if path.startswith("/webhooks")}
    expected = {
        ("/webhooks/ninjaone/{integrationId}", "POST"): s.stack.functions.webhook_ninjaone,
        ("/webhooks/tacticalrmm/{integrationId}", "POST"): s.stack.functions.webhook_tactical,
        # NinjaOne UI notification channels: the secret is the last path segment.
        ("/webhooks/ninjaone/{integrationId}/{channelSecret}", "POST"): s.stack.functions.webhook_ninjaone,
    }
    assert set(found) == set(expected)
    for key, fn in expected.items():
        props = found[key]
        assert props["AuthorizationType"] == "NONE"
        assert "AuthorizerId" not in props
        assert props["Integration"]["Type"] == "AWS_PROXY"
        assert integration_function(props) == s.logical_id(fn)


def test_every_v1_method_uses_the_cognito_authorizer(s: Synth) -> None:
    ((authorizer_id, authorizer),) = of_type(s, "AWS::ApiGateway::Authorizer").items()
    assert authorizer["Properties"]["Type"] == "COGNITO_USER_POOLS"
    v1 = [(path, verb, props) for path, verb, props in methods(s) if path == "/v1" or path.startswith("/v1/")]
    served = {(path, verb) for path, verb, props in v1 if verb != "OPTIONS"}
    assert served == {("/v1", "ANY"), ("/v1/{proxy+}", "ANY")}
    rules_api = s.logical_id(s.stack.functions.rules_api)
    for path, verb, props in v1:
        if verb == "OPTIONS":  # CORS preflight: a mock that never reaches a function
            assert props["Integration"]["Type"] == "MOCK", path
            continue
        assert props["AuthorizationType"] == "COGNITO_USER_POOLS", path
        assert props["AuthorizerId"] == {"Ref": authorizer_id}, path
        assert integration_function(props) == rules_api
    assert {p for p, _, _ in methods(s)} <= {
        "/webhooks/ninjaone/{integrationId}",
        "/webhooks/tacticalrmm/{integrationId}",
        "/webhooks/ninjaone/{integrationId}/{channelSecret}",
        "/v1",
        "/v1/{proxy+}",
    }


def test_api_is_throttled_keeps_secrets_out_of_traces_and_logs_no_bodies(s: Synth) -> None:
    (stage,) = of_type(s, "AWS::ApiGateway::Stage").values()
    props = stage["Properties"]
    # API Gateway's X-Ray segments would record the UI-channel URL, secret and all.
    assert props["TracingEnabled"] is False
    # WAF samples keep URIs and headers unredacted: none are kept.
    (acl,) = of_type(s, "AWS::WAFv2::WebACL").values()
    visibility = [acl["Properties"]["VisibilityConfig"]] + [r["VisibilityConfig"] for r in acl["Properties"]["Rules"]]
    assert visibility and all(v["SampledRequestsEnabled"] is False for v in visibility)
    # What WAF blocked or counted is logged instead, with the secrets redacted.
    (logging,) = of_type(s, "AWS::WAFv2::LoggingConfiguration").values()
    waf_log = logging["Properties"]
    assert {json.dumps(f, sort_keys=True) for f in waf_log["RedactedFields"]} == {
        json.dumps({"UriPath": {}}),
        json.dumps({"SingleHeader": {"Name": "x-webhook-secret"}}),
        json.dumps({"SingleHeader": {"Name": "authorization"}}),
    }
    assert waf_log["LoggingFilter"]["DefaultBehavior"] == "DROP"
    (kept,) = waf_log["LoggingFilter"]["Filters"]
    actions = {c["ActionCondition"]["Action"] for c in kept["Conditions"]}
    assert kept["Behavior"] == "KEEP" and {"BLOCK", "COUNT"} <= actions and "ALLOW" not in actions
    groups = [json.dumps(g["Properties"].get("LogGroupName")) for g in of_type(s, "AWS::Logs::LogGroup").values()]
    assert any('"aws-waf-logs-' in n for n in groups), groups
    fmt = props["AccessLogSetting"]["Format"]
    assert "requestId" in fmt
    for body_variable in ("$input.body", "$context.requestBody", "$input.json", "responseBody"):
        assert body_variable not in fmt
    settings_ = props["MethodSettings"]
    assert all(m.get("DataTraceEnabled") is False for m in settings_)
    default = next(m for m in settings_ if m["ResourcePath"] == "/*")
    assert default["ThrottlingRateLimit"] == c.API_RATE_LIMIT
    # The channel URL's secret is in the path: only the resource path template may be logged.
    assert "$context.path" not in fmt and "$context.resourcePath" in fmt
    webhook_paths = {m["ResourcePath"] for m in settings_ if "webhooks" in m["ResourcePath"]}
    assert len(webhook_paths) == 3
    for m in settings_:
        if "webhooks" in m["ResourcePath"]:
            assert m["ThrottlingRateLimit"] == c.WEBHOOK_RATE_LIMIT


def test_cognito_admin_group_tenant_attribute_and_pkce_client(s: Synth) -> None:
    (pool,) = of_type(s, "AWS::Cognito::UserPool").values()
    schema = {a["Name"]: a for a in pool["Properties"]["Schema"]}
    assert schema["tenant_id"]["AttributeDataType"] == "String"
    assert pool["Properties"]["AdminCreateUserConfig"]["AllowAdminCreateUserOnly"] is True
    assert pool["Properties"]["MfaConfiguration"] == "ON"
    groups = [g["Properties"]["GroupName"] for g in of_type(s, "AWS::Cognito::UserPoolGroup").values()]
    assert groups == [c.ADMIN_GROUP]
    (client,) = of_type(s, "AWS::Cognito::UserPoolClient").values()
    props = client["Properties"]
    assert props["GenerateSecret"] is False  # public client: authorization code with PKCE
    assert props["AllowedOAuthFlows"] == ["code"]
    # SRP for the hosted UI; admin (IAM-signed) password auth for scripts/smoke's token.
    assert set(props["ExplicitAuthFlows"]) == {
        "ALLOW_USER_SRP_AUTH",
        "ALLOW_ADMIN_USER_PASSWORD_AUTH",
        "ALLOW_REFRESH_TOKEN_AUTH",
    }
    assert "custom:tenant_id" in props["ReadAttributes"]
    assert "custom:tenant_id" not in props["WriteAttributes"]
    assert not [a for a in props["WriteAttributes"] if a.startswith("custom:")]
    assert of_type(s, "AWS::Cognito::UserPoolDomain")


# --------------------------------------------------------------------------------------------
# events, schedules, secrets, email
# --------------------------------------------------------------------------------------------
def rule_targeting(s: Synth, fn: Any) -> Mapping[str, Any]:
    fn_arn = {"Fn::GetAtt": [s.logical_id(fn), "Arn"]}
    (rule,) = [r for r in of_type(s, "AWS::Events::Rule").values() if r["Properties"]["Targets"][0]["Arn"] == fn_arn]
    props: Mapping[str, Any] = rule["Properties"]
    return props


def invoke_config_of(s: Synth, fn: Any) -> Mapping[str, Any]:
    found: list[Mapping[str, Any]] = [
        r["Properties"]
        for r in of_type(s, "AWS::Lambda::EventInvokeConfig").values()
        if r["Properties"]["FunctionName"] == {"Ref": s.logical_id(fn)}
    ]
    assert len(found) == 1, found
    return found[0]


def test_ticket_closed_rule_targets_ticket_closed_with_retries_and_an_encrypted_dlq(s: Synth) -> None:
    assert len(of_type(s, "AWS::Events::Rule")) == 2  # TICKET_CLOSED and the outbox schedule
    props = rule_targeting(s, s.stack.functions.ticket_closed)
    # The service's own TICKET_CLOSED (it closed the ticket itself) is not redelivered to it.
    assert props["EventPattern"] == {
        "detail-type": ["TICKET_CLOSED"],
        "source": [{"anything-but": ["rmm-alerts"]}],
    }
    (bus_id,) = of_type(s, "AWS::Events::EventBus")  # no bus given: the stack creates one
    assert props["EventBusName"] == {"Ref": bus_id}
    (target,) = props["Targets"]
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    dlq = s.resources[dlq_id]
    assert dlq["Type"] == "AWS::SQS::Queue"
    assert dlq["Properties"].get("SqsManagedSseEnabled") is True or "KmsMasterKeyId" in dlq["Properties"]
    invoke_config = invoke_config_of(s, s.stack.functions.ticket_closed)
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq_id, "Arn"]}


def test_outbox_runs_every_minute_with_empty_input_retries_and_its_own_encrypted_dlq(s: Synth) -> None:
    outbox = s.stack.functions.outbox
    props = rule_targeting(s, outbox)
    assert props["ScheduleExpression"] == "rate(1 minute)"
    assert "EventBusName" not in props  # schedules run on the default bus
    (target,) = props["Targets"]
    assert json.loads(target["Input"]) == {}
    assert target["RetryPolicy"]["MaximumRetryAttempts"] > 0
    dlq_id = target["DeadLetterConfig"]["Arn"]["Fn::GetAtt"][0]
    assert dlq_id == s.logical_id(s.stack.functions.outbox_dlq) != s.logical_id(s.stack.events.dlq)
    assert s.resources[dlq_id]["Properties"].get("SqsManagedSseEnabled") is True
    invoke_config = invoke_config_of(s, outbox)
    assert invoke_config["DestinationConfig"]["OnFailure"]["Destination"] == {"Fn::GetAtt": [dlq_id, "Arn"]}
    assert invoke_config["MaximumRetryAttempts"] == c.OUTBOX_ASYNC_RETRIES


def test_committing_functions_may_only_invoke_the_outbox_and_know_its_name(s: Synth) -> None:
    outbox = s.stack.functions.outbox
    outbox_arn = {"Fn::GetAtt": [s.logical_id(outbox), "Arn"]}
    committing = {"webhook_ninjaone", "webhook_tactical", "rules_api", "poller", "ticket_closed"}
    for name, fn in all_functions(s).items():
        invokes = [st for st in role_statements(s, fn) if "lambda:InvokeFunction" in as_list(st["Action"])]
        env = s.props(fn)["Environment"]["Variables"]
        if name in committing:
            assert [(as_list(st["Action"]), st["Resource"]) for st in invokes] == [
                (["lambda:InvokeFunction"], outbox_arn)
            ], name
            assert env["OUTBOX_FUNCTION_NAME"] == {"Ref": s.logical_id(outbox)}, name
        else:
            assert invokes == [] and "OUTBOX_FUNCTION_NAME" not in env, name


def test_only_the_outbox_publishes_events(s: Synth) -> None:
    for name, fn in all_functions(s).items():
        publishes = "events:PutEvents" in actions(role_statements(s, fn))
        assert publishes == (name == "outbox"), name
    (bus_id,) = of_type(s, "AWS::Events::EventBus")
    fn = s.stack.functions.outbox
    put = [st for st in role_statements(s, fn) if "events:PutEvents" in as_list(st["Action"])]
    assert [st["Resource"] for st in put] == [{"Fn::GetAtt": [bus_id, "Arn"]}]
    env = s.props(fn)["Environment"]["Variables"]
    assert env["EVENT_BUS_NAME"] == {"Ref": bus_id}
    assert env["NOTIFICATION_SENDER"] == "alerts.example.com"
    assert env["PSA_BASE_URL"] == "https://psa.example.com"


def test_schedule_group_and_rules_api_scheduler_permissions_scoped_to_it(s: Synth) -> None:
    (group,) = of_type(s, "AWS::Scheduler::ScheduleGroup").values()
    name = group["Properties"]["Name"]
    rules_api = s.stack.functions.rules_api
    env = s.props(rules_api)["Environment"]["Variables"]
    assert env["SCHEDULE_GROUP_NAME"] == name
    scheduler_role_id = s.logical_id(s.stack.events.scheduler_role)
    assert env["SCHEDULER_ROLE_ARN"] == {"Fn::GetAtt": [scheduler_role_id, "Arn"]}
    assert env["POLLER_FUNCTION_ARN"] == {"Fn::GetAtt": [s.logical_id(s.stack.functions.poller), "Arn"]}

    statements = role_statements(s, rules_api)
    sched = [st for st in statements if any(a.startswith("scheduler:") for a in as_list(st["Action"]))]
    assert actions(sched) == {
        "scheduler:CreateSchedule",
        "scheduler:UpdateSchedule",
        "scheduler:DeleteSchedule",
        "scheduler:GetSchedule",
    }
    for st in sched:
        resource = json.dumps(st["Resource"])
        assert f":schedule/{name}/*" in resource and ":scheduler:" in resource
    passes = [st for st in statements if "iam:PassRole" in as_list(st["Action"])]
    assert len(passes) == 1
    assert passes[0]["Resource"] == {"Fn::GetAtt": [scheduler_role_id, "Arn"]}
    assert passes[0]["Condition"] == {"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}}
    # No other function may touch schedules or pass roles.
    for other, fn in all_functions(s).items():
        if other != "rules_api":
            acts = actions(role_statements(s, fn))
            assert not any(a.startswith("scheduler:") or a == "iam:PassRole" for a in acts), other

    role = s.resources[scheduler_role_id]["Properties"]
    (trust,) = role["AssumeRolePolicyDocument"]["Statement"]
    assert trust["Principal"] == {"Service": "scheduler.amazonaws.com"}
    assert "aws:SourceAccount" in trust["Condition"]["StringEquals"]
    role_policies = [
        r["Properties"]["PolicyDocument"]["Statement"]
        for r in of_type(s, "AWS::IAM::Policy").values()
        if {"Ref": scheduler_role_id} in r["Properties"]["Roles"]
    ]
    assert role_policies == [[{
        "Action": "lambda:InvokeFunction",
        "Effect": "Allow",
        "Resource": {"Fn::GetAtt": [s.logical_id(s.stack.functions.poller), "Arn"]},
        "Sid": "InvokePoller",
    }]]  # fmt: skip


def test_integration_secret_permissions_are_scoped_to_this_stacks_prefix(s: Synth) -> None:
    stack_prefix = f"rmm-alerts/{s.stack.stack_name}/integrations/"
    assert s.stack.functions.secret_prefix == stack_prefix
    prefix = f":secret:{stack_prefix}*"
    expected = {
        "rules_api": {
            "secretsmanager:CreateSecret", "secretsmanager:PutSecretValue",
            "secretsmanager:DeleteSecret", "secretsmanager:DescribeSecret",
            "secretsmanager:RestoreSecret",  # ports.SecretsManagerStore.put calls restore_secret
            "secretsmanager:GetSecretValue",  # test-connection, NinjaOne webhook registration
        },
        "poller": {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"},
        "ticket_closed": {"secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"},
    }  # fmt: skip
    for name, fn in all_functions(s).items():
        statements = role_statements(s, fn)
        scoped = [st for st in statements if prefix in json.dumps(st["Resource"])]
        assert actions(scoped) == expected.get(name, set()), name
        # Nothing else anywhere grants integration credentials beyond this stack's prefix.
        for st in statements:
            if any(a.startswith("secretsmanager:") for a in as_list(st["Action"])):
                resource = json.dumps(st["Resource"])
                assert prefix in resource or "Ref" in resource, (name, resource)
        assert s.props(fn)["Environment"]["Variables"].get("CREDENTIALS_SECRET_PREFIX") in (
            stack_prefix if name in expected else None,
        )
    assert "restore_secret(" in (c.CORE_PACKAGE_DIR / "ports.py").read_text()


def test_only_the_outbox_may_send_email_as_the_sender_identity(s: Synth) -> None:
    for name, fn in all_functions(s).items():
        ses = [st for st in role_statements(s, fn) if any(a.startswith("ses:") for a in as_list(st["Action"]))]
        if name != "outbox":
            assert not ses, name
            continue
        (st,) = ses
        assert set(as_list(st["Action"])) == {"ses:SendEmail"}
        assert json.dumps(st["Resource"]).endswith(':identity/alerts.example.com"]]}')


# --------------------------------------------------------------------------------------------
# least privilege and compliance
# --------------------------------------------------------------------------------------------
def test_no_policy_allows_a_wildcard_action(s: Synth) -> None:
    for lid, kind, doc in policy_documents(s):
        for st in doc["Statement"]:
            if st["Effect"] != "Allow":
                continue  # e.g. enforce-TLS denies (sqs:*, sns:Publish) are broad on purpose
            for action in as_list(st["Action"]):
                assert action != "*" and not action.endswith(":*"), (lid, kind, action)
                assert "*" not in action, (lid, kind, action)


def test_wildcard_resources_only_where_aws_requires_them(s: Synth) -> None:
    for lid, kind, doc in policy_documents(s):
        if kind in ("key", "trust"):
            continue  # in a key policy "*" means the key itself
        for st in doc["Statement"]:
            if st["Effect"] == "Allow" and "*" in as_list(st.get("Resource", [])):
                assert set(as_list(st["Action"])) <= WILDCARD_RESOURCE_ACTIONS, (lid, st)


def test_alarms_cover_functions_dlq_api_and_database_and_notify_an_encrypted_topic(s: Synth) -> None:
    ((topic_id, topic),) = of_type(s, "AWS::SNS::Topic").items()
    assert "KmsMasterKeyId" in topic["Properties"]
    alarms = list(of_type(s, "AWS::CloudWatch::Alarm").values())
    for alarm in alarms:
        assert alarm["Properties"]["AlarmActions"] == [{"Ref": topic_id}]
    by_metric: dict[str, list[Mapping[str, Any]]] = {}
    for alarm in alarms:
        if "MetricName" in alarm["Properties"]:  # (metric-math alarms: test_infra_operations.py)
            by_metric.setdefault(alarm["Properties"]["MetricName"], []).append(alarm["Properties"])

    def dims(props: Mapping[str, Any]) -> str:
        return json.dumps(props.get("Dimensions", []))

    for name, fn in service_functions(s).items():
        fn_id = s.logical_id(fn)
        for metric in ("Errors", "Throttles"):
            assert any(fn_id in dims(p) for p in by_metric[metric]), (name, metric)
    for queue in (s.stack.events.dlq, s.stack.functions.outbox_dlq):
        assert any(s.logical_id(queue) in dims(p) for p in by_metric["ApproximateNumberOfMessagesVisible"])
    # Outbox: backlog age and parked entries, from the outbox function's own metrics.
    (age,) = by_metric["OutboxBacklogAgeSeconds"]
    (parked,) = by_metric["OutboxParkedEntries"]
    for props in (age, parked):
        assert props["Namespace"] == c.METRICS_NAMESPACE and props["Statistic"] == "Maximum"
        assert props["Dimensions"] == [{"Name": "service", "Value": c.SERVICE_NAME}]
        assert props["ComparisonOperator"] == "GreaterThanOrEqualToThreshold"
    assert age["Threshold"] == c.OUTBOX_BACKLOG_AGE_ALARM_SECONDS and parked["Threshold"] == 1
    assert by_metric["5XXError"][0]["Statistic"] == "Average"  # a rate, not a count
    assert by_metric["5XXError"][0]["Threshold"] == c.API_5XX_RATE_THRESHOLD
    assert "CPUUtilization" in by_metric and "DatabaseConnections" in by_metric


def test_no_dependency_cycles(s: Synth) -> None:
    def refs(value: Any) -> Iterator[str]:
        if isinstance(value, dict):
            if "Ref" in value:
                yield value["Ref"]
            if "Fn::GetAtt" in value:
                target = value["Fn::GetAtt"]
                yield target[0] if isinstance(target, list) else str(target).split(".")[0]
            if "Fn::Sub" in value:
                import re

                text = value["Fn::Sub"] if isinstance(value["Fn::Sub"], str) else value["Fn::Sub"][0]
                yield from (m.split(".")[0] for m in re.findall(r"\$\{([^}!]+)\}", text))
            for v in value.values():
                yield from refs(v)
        elif isinstance(value, list):
            for v in value:
                yield from refs(v)

    graph = {
        lid: {r for r in refs(res.get("Properties", {})) if r in s.resources} | set(as_list(res.get("DependsOn", [])))
        for lid, res in s.resources.items()
    }
    state: dict[str, int] = {}

    def visit(node: str, trail: list[str]) -> None:
        if state.get(node) == 2:
            return
        assert state.get(node) != 1, " -> ".join([*trail, node])
        state[node] = 1
        for nxt in graph[node]:
            visit(nxt, [*trail, node])
        state[node] = 2

    for node in graph:
        visit(node, [])


def test_cdk_nag_and_template_validation_report_nothing(s: Synth) -> None:
    report = json.loads((assembly_dir(s) / "validation-report.json").read_text())
    violations = [
        (plugin["pluginName"], v["ruleName"], [x.get("constructPath") for x in v.get("violatingConstructs", [])])
        for plugin in report["pluginReports"]
        for v in plugin.get("violations", [])
    ]
    assert violations == [], violations
    # The AwsSolutions and Serverless packs, run directly on the stack: errors and warnings alike.
    for pack in (AwsSolutionsChecks, ServerlessChecks):
        direct = pack(s.app).validate_scope(s.stack)
        assert [(v.rule_name, [r.construct_path for r in v.violating_resources]) for v in direct.violations] == []
        assert direct.success


def test_synthesis_has_no_error_or_warning_annotations(s: Synth) -> None:
    messages = s.assembly.get_stack_artifact(s.stack.artifact_id).messages
    problems = [
        (m.id, m.level, str(m.entry.data))
        for m in messages
        if m.level in (cx_api.SynthesisMessageLevel.ERROR, cx_api.SynthesisMessageLevel.WARNING)
    ]
    assert problems == []


def test_every_acknowledgment_has_a_reason(s: Synth) -> None:
    from aws_cdk import Validations

    acknowledged: dict[str, str] = {}
    for construct in s.stack.node.find_all():
        for entry in construct.node.metadata:
            if entry.type == Validations.ACKNOWLEDGED_RULES_METADATA_KEY:
                assert isinstance(entry.data, dict), entry.data
                for rule_id, reason in entry.data.items():
                    assert len(str(reason).strip()) > 20, (construct.node.path, rule_id)
                    # CDK records IDs without a well-known prefix as "Annotation::<id>".
                    acknowledged[rule_id.removeprefix("Annotation::")] = str(reason)
    nag = {rule_id.split("[")[0] for rule_id in acknowledged if rule_id.startswith("AwsSolutions-")}
    # Exactly the acknowledgments documented in docs/deploy.md (APIG3 is gone: WAF is on the stage).
    assert nag == {
        "AwsSolutions-IAM4", "AwsSolutions-IAM5", "AwsSolutions-L1",
        "AwsSolutions-APIG4", "AwsSolutions-COG4", "AwsSolutions-RDS11", "AwsSolutions-SQS3",
        "AwsSolutions-SMG4",
        # the admin UI (infra/admin_ui.py)
        "AwsSolutions-S1", "AwsSolutions-CFR1", "AwsSolutions-CFR2", "AwsSolutions-CFR3", "AwsSolutions-CFR4",
    }  # fmt: skip
    serverless = {rule_id for rule_id in acknowledged if rule_id.startswith("Serverless-")}
    assert serverless == {
        "Serverless-LambdaDLQ", "Serverless-LambdaLatestVersion", "Serverless-SQSRedrivePolicy",
        "Serverless-SNSRedrivePolicy", "Serverless-LambdaTracing",  # the last: CDK's BucketDeployment handler
        "Serverless-APIGWXrayEnabled",  # the stage: its traces would record the UI-channel secret
    }  # fmt: skip
    iam5 = {rule_id for rule_id in acknowledged if rule_id.startswith("AwsSolutions-IAM5")}
    assert "AwsSolutions-IAM5" not in iam5  # only named findings, never the whole rule


def test_gateway_errors_use_the_service_error_shape(s: Synth) -> None:
    responses = {
        r["Properties"]["ResponseType"]: r["Properties"]
        for r in of_type(s, "AWS::ApiGateway::GatewayResponse").values()
    }
    for kind in ("DEFAULT_4XX", "DEFAULT_5XX"):
        template = responses[kind]["ResponseTemplates"]["application/json"]
        assert template == '{"errors": [{"path": "", "message": $context.error.messageString}]}'
