"""Operating the stack: WAF, alarms and dashboard, custom domain, per-stack names, rollback and
teardown, cost profiles, cfn-lint (the session's one synthesis: see conftest.py)."""

from __future__ import annotations

import json
import re
from collections.abc import Mapping
from typing import Any

import pytest
from aws_cdk import App, Stack, assertions
from cfnlint.api import ManualArgs, lint

from infra import constants as c
from infra.firewall import BAD_INPUTS_RULE_SET, CORE_RULE_SET, OVERSIZE_CONTENT_LENGTH_REGEX, label_name
from infra.network_database import NetworkAndDatabase
from infra.stack_config import ContextError, StackConfig
from tests.infra.conftest import Synth, assembly_dir
from tests.infra.test_infra_stack import of_type, service_functions

# cfn-lint findings accepted on the synthesized template, each with its reason.
CFN_LINT_ACCEPTED = {
    # CDK writes an explicit DependsOn next to the Ref/GetAtt that already orders the two resources
    # (function -> its role's default policy, proxy target group -> cluster, custom resource
    # providers); redundant, harmless, and not ours to remove from generated constructs.
    "W3005",
}


def web_acl(s: Synth) -> Mapping[str, Any]:
    ((_, acl),) = of_type(s, "AWS::WAFv2::WebACL").items()
    props: Mapping[str, Any] = acl["Properties"]
    return props


def rules(s: Synth) -> dict[str, Mapping[str, Any]]:
    return {r["Name"]: r for r in web_acl(s)["Rules"]}


def mentions_webhooks(statement: Mapping[str, Any]) -> bool:
    return '"SearchString": "/webhooks/"' in json.dumps(statement)


# --------------------------------------------------------------------------------------------
# WAF
# --------------------------------------------------------------------------------------------
def test_a_regional_web_acl_protects_the_api_stage(s: Synth) -> None:
    acl = web_acl(s)
    assert acl["Scope"] == "REGIONAL"
    assert acl["DefaultAction"] == {"Allow": {}}
    (association,) = of_type(s, "AWS::WAFv2::WebACLAssociation").values()
    ((stage_id, _),) = of_type(s, "AWS::ApiGateway::Stage").items()
    assert stage_id in json.dumps(association["Properties"]["ResourceArn"])
    (acl_id,) = of_type(s, "AWS::WAFv2::WebACL")
    assert association["Properties"]["WebACLArn"] == {"Fn::GetAtt": [acl_id, "Arn"]}
    priorities = [r["Priority"] for r in acl["Rules"]]
    assert len(set(priorities)) == len(priorities)
    assert all(r["VisibilityConfig"]["CloudWatchMetricsEnabled"] for r in acl["Rules"])


def test_webhooks_are_rate_limited_per_source_ip_and_per_integration_path(s: Synth) -> None:
    by_name = rules(s)
    per_ip = by_name["WebhookRatePerIp"]["Statement"]["RateBasedStatement"]
    assert per_ip["AggregateKeyType"] == "IP" and per_ip["Limit"] == c.WAF_WEBHOOK_RATE_PER_IP
    assert mentions_webhooks(per_ip["ScopeDownStatement"])
    per_path = by_name["WebhookRatePerIntegration"]["Statement"]["RateBasedStatement"]
    assert per_path["AggregateKeyType"] == "CUSTOM_KEYS"
    assert [list(k) for k in per_path["CustomKeys"]] == [["UriPath"]]
    assert per_path["Limit"] == c.WAF_WEBHOOK_RATE_PER_PATH
    assert mentions_webhooks(per_path["ScopeDownStatement"])
    # Never keyed on a UI-channel URL: WAF would log its path, secret and all, as the rule's key.
    scope = per_path["ScopeDownStatement"]["AndStatement"]["Statements"]
    (excluded,) = [st["NotStatement"]["Statement"]["RegexMatchStatement"] for st in scope if "NotStatement" in st]
    channel = re.compile(excluded["RegexString"])
    iid = "0b5e1f1c-1111-4222-8333-444455556666"
    assert channel.search(f"/prod/webhooks/ninjaone/{iid}/s3cr3t-Path_Secret")
    assert channel.search(f"/webhooks/ninjaone/{iid}/s3cr3t/")
    assert not channel.search(f"/prod/webhooks/ninjaone/{iid}")
    assert not channel.search(f"/prod/webhooks/tacticalrmm/{iid}")
    for name in ("WebhookRatePerIp", "WebhookRatePerIntegration"):
        block = by_name[name]["Action"]["Block"]["CustomResponse"]
        # 5xx so NinjaOne (which retries only 5xx) retries a genuine burst instead of losing it.
        assert block["ResponseCode"] == c.WAF_WEBHOOK_RATE_STATUS >= 500
        assert {"Name": "Retry-After", "Value": "60"} in block["ResponseHeaders"]
    admin = by_name["AdminRatePerIp"]["Statement"]["RateBasedStatement"]
    assert admin["AggregateKeyType"] == "IP" and "NotStatement" in admin["ScopeDownStatement"]


def test_webhook_bodies_over_256_kib_are_blocked_by_declared_length(s: Synth) -> None:
    rule = rules(s)["WebhookBodySize"]
    statements = rule["Statement"]["AndStatement"]["Statements"]
    assert any(mentions_webhooks(st) for st in statements)
    (regex,) = [st["RegexMatchStatement"] for st in statements if "RegexMatchStatement" in st]
    assert regex["FieldToMatch"] == {"SingleHeader": {"Name": "content-length"}}
    assert regex["RegexString"] == OVERSIZE_CONTENT_LENGTH_REGEX
    assert rule["Action"]["Block"]["CustomResponse"]["ResponseCode"] == 413
    assert c.WEBHOOK_MAX_BODY_BYTES == 262144
    from rmm_alerts.webhooks import MAX_BODY_BYTES

    assert c.WEBHOOK_MAX_BODY_BYTES == MAX_BODY_BYTES  # WAF and the handler agree


@pytest.mark.parametrize(
    ("length", "blocked"),
    [("0", False), ("1024", False), ("262144", False), ("0262144", False), ("262145", True), ("262150", True),
     ("263000", True), ("300000", True), ("999999", True), ("1000000", True), ("10485760", True), ("99999", False)],
)  # fmt: skip
def test_the_body_size_regex_blocks_exactly_lengths_over_256_kib(length: str, blocked: bool) -> None:
    assert bool(re.match(OVERSIZE_CONTENT_LENGTH_REGEX, length)) is blocked


def test_managed_rule_groups_count_body_findings_on_webhooks_and_block_them_elsewhere(s: Synth) -> None:
    by_name = rules(s)
    counted_labels = []
    for group, counted, namespace in (
        (CORE_RULE_SET, c.WAF_CORE_RULES_COUNTED_ON_WEBHOOKS, "awswaf:managed:aws:core-rule-set:"),
        (BAD_INPUTS_RULE_SET, c.WAF_BAD_INPUT_RULES_COUNTED_ON_WEBHOOKS, "awswaf:managed:aws:known-bad-inputs:"),
    ):
        statement = by_name[group]["Statement"]["ManagedRuleGroupStatement"]
        assert statement["VendorName"] == "AWS" and statement["Name"] == group
        overrides = {o["Name"]: o["ActionToUse"] for o in statement["RuleActionOverrides"]}
        assert overrides == {rule: {"Count": {}} for rule in counted}
        assert by_name[group]["OverrideAction"] == {"None": {}}  # everything else in the group blocks
        counted_labels += [label_name(rule, namespace) for rule in counted]
    assert "SizeRestrictions_BODY" in c.WAF_CORE_RULES_COUNTED_ON_WEBHOOKS
    assert "CrossSiteScripting_BODY" in c.WAF_CORE_RULES_COUNTED_ON_WEBHOOKS
    assert "awswaf:managed:aws:core-rule-set:SizeRestrictions_Body" in counted_labels

    reblock = by_name["BlockCountedFindingsOutsideWebhooks"]
    assert reblock["Action"] == {"Block": {}}
    assert reblock["Priority"] > max(by_name[g]["Priority"] for g in (CORE_RULE_SET, BAD_INPUTS_RULE_SET))
    not_webhooks, labels = reblock["Statement"]["AndStatement"]["Statements"]
    assert mentions_webhooks(not_webhooks["NotStatement"]["Statement"])
    keys = [st["LabelMatchStatement"]["Key"] for st in labels["OrStatement"]["Statements"]]
    assert sorted(keys) == sorted(counted_labels)


def test_stage_throttle_is_only_a_backstop_behind_waf(s: Synth) -> None:
    (stage,) = of_type(s, "AWS::ApiGateway::Stage").values()
    webhook = [m for m in stage["Properties"]["MethodSettings"] if "webhooks" in m["ResourcePath"]]
    # NinjaOne, Tactical, and NinjaOne's UI-channel URL (secret in the path).
    assert sorted(m["ResourcePath"] for m in webhook) == [
        "/~1webhooks~1ninjaone~1{integrationId}",
        "/~1webhooks~1ninjaone~1{integrationId}~1{channelSecret}",
        "/~1webhooks~1tacticalrmm~1{integrationId}",
    ]
    # Far above the per-integration WAF limit (per second vs per 5 minutes): one integration's junk
    # is stopped by WAF long before the shared stage limit could 429 anybody else.
    per_second_per_path = c.WAF_WEBHOOK_RATE_PER_PATH / c.WAF_RATE_WINDOW_SECONDS
    per_second_per_ip = c.WAF_WEBHOOK_RATE_PER_IP / c.WAF_RATE_WINDOW_SECONDS
    for m in webhook:
        assert m["ThrottlingRateLimit"] == c.WEBHOOK_RATE_LIMIT >= 20 * per_second_per_ip
        assert m["ThrottlingRateLimit"] >= 100 * per_second_per_path


# --------------------------------------------------------------------------------------------
# alarms and dashboard
# --------------------------------------------------------------------------------------------
def alarm_of(s: Synth, construct_id: str) -> Mapping[str, Any]:
    (alarm,) = [a for a in s.stack.monitoring.alarms if a.node.id == construct_id]
    props: Mapping[str, Any] = s.resources[s.logical_id(alarm)]["Properties"]
    return props


def test_alarm_on_429s_counted_from_the_access_log(s: Synth) -> None:
    (metric_filter,) = of_type(s, "AWS::Logs::MetricFilter").values()
    props = metric_filter["Properties"]
    assert props["LogGroupName"] == {"Ref": s.logical_id(s.stack.api.access_logs)}
    assert props["FilterPattern"] == "{ $.status = 429 }"
    (transform,) = props["MetricTransformations"]
    assert (transform["MetricNamespace"], transform["MetricName"]) == (c.METRICS_NAMESPACE, c.API_429_METRIC)
    alarm = alarm_of(s, "Api429")
    assert (alarm["Namespace"], alarm["MetricName"]) == (c.METRICS_NAMESPACE, c.API_429_METRIC)
    assert alarm["Threshold"] == c.API_429_THRESHOLD
    # The access log carries the status field the filter reads.
    (stage,) = of_type(s, "AWS::ApiGateway::Stage").values()
    assert '"status":"$context.status"' in stage["Properties"]["AccessLogSetting"]["Format"]


def test_alarm_on_waf_blocks_of_this_web_acl(s: Synth) -> None:
    alarm = alarm_of(s, "WafBlocked")
    assert (alarm["Namespace"], alarm["MetricName"]) == ("AWS/WAFV2", "BlockedRequests")
    dims = {d["Name"]: d["Value"] for d in alarm["Dimensions"]}
    (acl_id,) = of_type(s, "AWS::WAFv2::WebACL")
    assert dims["Rule"] == "ALL" and acl_id in json.dumps(dims["WebACL"])
    assert alarm["Threshold"] == c.WAF_BLOCKED_THRESHOLD


def test_alarm_when_no_webhook_arrived_for_n_hours(s: Synth) -> None:
    alarm = alarm_of(s, "NoWebhooks")
    assert alarm["ComparisonOperator"] == "LessThanThreshold" and alarm["Threshold"] == 1
    assert alarm["EvaluationPeriods"] == c.DEFAULT_NO_WEBHOOK_ALARM_HOURS
    assert alarm["TreatMissingData"] == "breaching"  # silence publishes no data point
    queries = alarm["Metrics"]
    (expression,) = [q for q in queries if "Expression" in q]
    assert expression["ReturnData"] is True
    stats = [q["MetricStat"] for q in queries if "MetricStat" in q]
    assert {st["Period"] for st in stats} == {3600}
    resources = {
        next(d["Value"] for d in st["Metric"]["Dimensions"] if d["Name"] == "Resource"): st["Metric"]["MetricName"]
        for st in stats
    }
    assert set(resources) == {
        "/webhooks/ninjaone/{integrationId}",
        "/webhooks/tacticalrmm/{integrationId}",
        "/webhooks/ninjaone/{integrationId}/{channelSecret}",  # a tenant may only use UI channels
    }
    names = sorted(st["Metric"]["MetricName"] for st in stats)
    assert names == ["4XXError"] * 3 + ["Count"] * 3  # accepted = requests - rejected (401s)


def test_no_webhook_hours_and_profile_come_from_context() -> None:
    def config(**context: Any) -> StackConfig:
        app = App(context=context)
        return StackConfig.from_context(app.node)

    assert config().no_webhook_alarm_hours == c.DEFAULT_NO_WEBHOOK_ALARM_HOURS
    assert config(noWebhookAlarmHours="12").no_webhook_alarm_hours == 12
    with pytest.raises(ContextError):
        config(noWebhookAlarmHours="48")  # an alarm cannot look back more than a day
    assert (config().nat_gateways, config().db_readers) == (2, 1)
    lean = config(profile="lean")
    assert (lean.profile, lean.nat_gateways, lean.db_readers) == ("lean", 1, 0)
    assert config(profile="lean", dbReaders="1").db_readers == 1  # explicit values win
    with pytest.raises(ContextError):
        config(profile="cheap")


def dashboard_widgets(s: Synth) -> list[Mapping[str, Any]]:
    (dashboard,) = of_type(s, "AWS::CloudWatch::Dashboard").values()
    body = dashboard["Properties"]["DashboardBody"]
    parts = body["Fn::Join"][1] if isinstance(body, dict) else [body]
    # Tokens (the proxy's name, the region, ...) become placeholders; the rest is the JSON body.
    text = "".join(p if isinstance(p, str) else "TOKEN" for p in parts)
    widgets: list[Mapping[str, Any]] = json.loads(text)["widgets"]
    return widgets


def test_dashboard_shows_every_signal_by_its_metric_name(s: Synth) -> None:
    widgets = {w["properties"]["title"]: w["properties"] for w in dashboard_widgets(s)}
    assert {
        "Alerts by outcome", "Webhook latency (ms)", "Errors", "Poll results", "Outbox",
        "TICKET_CLOSED DLQ depth", "RDS Proxy connections",
    } <= set(widgets)  # fmt: skip

    def expressions(title: str) -> list[str]:
        return [
            m[0]["expression"] for m in widgets[title]["metrics"] if isinstance(m[0], dict) and "expression" in m[0]
        ]

    def search(metric: str, stat: str) -> str:
        return f"SEARCH('Namespace=\"{c.METRICS_NAMESPACE}\" MetricName=\"{metric}\"', '{stat}', 300)"

    m = c.APP_METRICS
    assert expressions("Alerts by outcome") == [search(m["alerts"], "Sum")]
    assert expressions("Webhook latency (ms)") == [search(m["webhook_duration"], s) for s in ("p50", "p99")]
    assert search(m["webhook_errors"], "Sum") in expressions("Errors")
    assert expressions("Poll results") == [search(m["poll_cycles"], "Sum"), search(m["poll_errors"], "Sum")]
    assert expressions("Outbox") == [search(m["outbox_backlog_age"], "Maximum"), search(m["outbox_parked"], "Maximum")]
    assert m["outbox_backlog_age"] == "OutboxBacklogAgeSeconds" and m["poll_cycles"] == "PollCycles"

    def plain(title: str) -> list[tuple[str, str]]:
        return [(row[0], row[1]) for row in widgets[title]["metrics"] if isinstance(row[0], str)]

    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in plain("TICKET_CLOSED DLQ depth")
    assert plain("RDS Proxy connections") == [("AWS/RDS", "ClientConnections"), ("AWS/RDS", "DatabaseConnections")]
    assert all(row[2] == "ProxyName" for row in widgets["RDS Proxy connections"]["metrics"])
    lambda_errors = [row for row in widgets["Errors"]["metrics"] if row[:2] == ["AWS/Lambda", "Errors"]]
    assert len(lambda_errors) == 6  # the five service functions and the outbox
    assert ("AWS/SQS", "ApproximateNumberOfMessagesVisible") in plain("Outbox DLQ depth")
    # The names the code emits today are the names the dashboard reads.
    emitted = (c.CORE_PACKAGE_DIR / "webhook_app.py").read_text()
    for key in ("alerts", "webhook_duration", "webhook_errors"):
        assert f'name="{m[key]}"' in emitted, key
    assert 'name="outcome"' in emitted  # the dimension "Alerts by outcome" splits on
    outbox = (c.CORE_PACKAGE_DIR.parents[3] / "functions" / "outbox" / "handler.py").read_text()
    for key in ("outbox_backlog_age", "outbox_parked"):
        assert f'name="{m[key]}"' in outbox, key


# --------------------------------------------------------------------------------------------
# custom domain
# --------------------------------------------------------------------------------------------
def test_optional_custom_domain_from_stack_parameters_drives_api_base_url(s: Synth) -> None:
    template = s.template.to_json()
    params = template["Parameters"]
    assert params["CustomDomainName"]["Default"] == "" and params["CustomDomainCertificateArn"]["Default"] == ""
    condition = template["Conditions"]["HasCustomDomain"]
    assert condition == {"Fn::Not": [{"Fn::Equals": [{"Ref": "CustomDomainName"}, ""]}]}
    (domain_id, domain), = of_type(s, "AWS::ApiGateway::DomainName").items()  # fmt: skip
    assert domain["Condition"] == "HasCustomDomain"
    assert domain["Properties"]["DomainName"] == {"Ref": "CustomDomainName"}
    assert domain["Properties"]["RegionalCertificateArn"] == {"Ref": "CustomDomainCertificateArn"}
    assert domain["Properties"]["EndpointConfiguration"] == {"Types": ["REGIONAL"]}
    assert domain["Properties"]["SecurityPolicy"] == "TLS_1_2"
    (mapping,) = of_type(s, "AWS::ApiGateway::BasePathMapping").values()
    assert mapping["Condition"] == "HasCustomDomain"
    assert mapping["Properties"]["DomainName"] == {"Ref": domain_id}
    assert mapping["Properties"]["RestApiId"] == {"Ref": s.logical_id(s.stack.api.api)}
    assert template["Outputs"]["CustomDomainTarget"]["Condition"] == "HasCustomDomain"
    assert "CustomDomainNeedsCertificate" in template["Rules"]

    env = s.props(s.stack.functions.rules_api)["Environment"]["Variables"]
    (cond, with_domain, without) = env["API_BASE_URL"]["Fn::If"]
    assert cond == "HasCustomDomain"
    assert with_domain == {"Fn::Join": ["", ["https://", {"Ref": "CustomDomainName"}]]}
    assert f"/{c.API_STAGE_NAME}" in json.dumps(without) and s.logical_id(s.stack.api.api) in json.dumps(without)
    assert template["Outputs"]["ApiBaseUrl"]["Value"] == env["API_BASE_URL"]


# --------------------------------------------------------------------------------------------
# per-stack names, rollback and teardown
# --------------------------------------------------------------------------------------------
def test_cognito_domain_schedule_group_and_secret_prefix_are_per_stack(s: Synth) -> None:
    name = s.stack.stack_name
    (domain,) = of_type(s, "AWS::Cognito::UserPoolDomain").values()
    assert domain["Properties"]["Domain"] == {"Fn::Join": ["-", [name.lower(), {"Ref": "AWS::AccountId"}]]}
    (group,) = of_type(s, "AWS::Scheduler::ScheduleGroup").values()
    assert group["Properties"]["Name"] == f"{name}{c.SCHEDULE_GROUP_SUFFIX}"
    for fn in (s.stack.functions.poller, s.stack.functions.rules_api, s.stack.functions.ticket_closed):
        prefix = s.props(fn)["Environment"]["Variables"]["CREDENTIALS_SECRET_PREFIX"]
        assert prefix == f"rmm-alerts/{name}/integrations/"
    # A stack named "Prod" cannot read "Prod2"'s secrets: the prefix ends in a "/".
    assert c.INTEGRATION_SECRET_PREFIX_TEMPLATE.endswith("/")


NAME_PROPERTIES = ("LogGroupName", "DBClusterIdentifier", "Name", "UserPoolName", "QueueName", "TopicName")


def test_nothing_kept_after_delete_has_a_name_that_a_new_stack_would_reuse(s: Synth) -> None:
    kept = {
        lid: res
        for lid, res in s.resources.items()
        if res.get("DeletionPolicy") in ("Retain", "RetainExceptOnCreate", "Snapshot")
    }
    assert kept
    for lid, res in kept.items():
        for prop in NAME_PROPERTIES:
            if prop in res.get("Properties", {}):
                # Only names that carry this stack instance's id (new for a stack created again).
                assert "AWS::StackId" in json.dumps(res["Properties"][prop]), (lid, prop)


def test_log_groups_are_kept_on_delete_but_removed_when_creation_rolls_back(s: Synth) -> None:
    groups = of_type(s, "AWS::Logs::LogGroup")
    function_groups = {s.props(fn)["LoggingConfig"]["LogGroup"]["Ref"] for fn in service_functions(s).values()}
    postgres = [lid for lid, g in groups.items() if "postgresql" in json.dumps(g["Properties"].get("LogGroupName"))]
    for lid in [*function_groups, *postgres, s.logical_id(s.stack.api.access_logs)]:
        assert groups[lid]["DeletionPolicy"] == "RetainExceptOnCreate", lid
    (pool,) = of_type(s, "AWS::Cognito::UserPool").values()
    # Deletion protection would stop a rollback deleting it: plainly retained, and unnamed.
    assert pool["DeletionPolicy"] == "Retain" and "UserPoolName" not in pool["Properties"]
    (cluster,) = of_type(s, "AWS::RDS::DBCluster").values()
    assert "AWS::StackId" in json.dumps(cluster["Properties"]["DBClusterIdentifier"])
    (key,) = of_type(s, "AWS::KMS::Key").values()
    assert key["DeletionPolicy"] == "Delete"


def test_outputs_for_operators_and_the_admin_cli(s: Synth) -> None:
    outputs = s.template.to_json()["Outputs"]
    for name in (
        "ApiBaseUrl", "UserPoolId", "MigrateFunctionName", "DbSecretArn", "AppDbSecretArn",
        "IntegrationSecretPrefix", "WebAclArn", "DashboardName", "ScheduleGroupName",
    ):  # fmt: skip
        assert name in outputs, name
    assert outputs["MigrateFunctionName"]["Value"] == {"Ref": s.logical_id(s.stack.functions.migrate)}


# --------------------------------------------------------------------------------------------
# cost profiles
# --------------------------------------------------------------------------------------------
def test_default_profile_is_ha_two_nat_gateways_and_a_reader(s: Synth) -> None:
    assert len(of_type(s, "AWS::EC2::NatGateway")) == 2
    assert len(of_type(s, "AWS::RDS::DBInstance")) == 2


def test_lean_profile_has_one_nat_gateway_and_no_reader() -> None:
    """Only the network and database construct, so this second synthesis stays cheap."""
    app = App(context={"profile": "lean"})
    stack = Stack(app, "Lean")
    NetworkAndDatabase(stack, "Data", config=StackConfig.from_context(app.node))
    template = assertions.Template.from_stack(stack)
    template.resource_count_is("AWS::EC2::NatGateway", 1)
    template.resource_count_is("AWS::RDS::DBInstance", 1)
    template.resource_count_is("AWS::RDS::DBProxy", 1)


# --------------------------------------------------------------------------------------------
# cfn-lint
# --------------------------------------------------------------------------------------------
def test_cfn_lint_finds_nothing_but_the_accepted_rules(s: Synth) -> None:
    template = (assembly_dir(s) / s.stack.template_file).read_text()
    matches = lint(template, config=ManualArgs(regions=["us-east-1", "eu-west-1"]))
    found = [(m.rule.id, m.message) for m in matches if m.rule.id not in CFN_LINT_ACCEPTED]
    assert found == []
