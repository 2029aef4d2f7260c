"""AWS WAF on the API stage: per-source and per-integration rate limits, a body-size limit and the
AWS managed core and known-bad-inputs rule groups, scoped so they never block alert bodies.

The webhook routes are shared by every tenant and sit in front of the secret check, so limits
must be per source and per integration, never one shared bucket: junk sent to random integration
ids from one address is blocked by the per-address rule and cannot use up a real integration's
allowance (each URL path has its own counter). WAF runs before API Gateway's own throttle, which
remains only as a cost backstop.

Why some managed rules only *count* on ``/webhooks/``: alert bodies are data written by monitored
machines and RMM scripts, not markup or requests we act on. They legitimately carry
- more than 8 KB (``SizeRestrictions_BODY``): NinjaOne's device expansion and long script output;
- HTML/script fragments (``CrossSiteScripting_BODY``): event-log and web-check text;
- paths like ``..\\..\\Windows`` or ``/etc/passwd`` (``GenericLFI_BODY``), URLs with IP addresses
  (``GenericRFI_BODY``), ``169.254.169.254`` (``EC2MetaDataSSRF_BODY``): disk, file and cloud-VM
  monitors' messages;
- ``${jndi:`` and serialized-Java markers (``Log4JRCE_BODY``, ``JavaDeserializationRCE_BODY``): an
  alert *about* an exploit attempt quotes it; we store it as text and never evaluate it;
- no User-Agent (``NoUserAgent_HEADER``): RMM senders do not promise one.
Blocking those would drop real alerts (Tactical never retries). They still count (visible in
the WAF metrics), and on every other path a second rule blocks on the same labels.
"""

from __future__ import annotations

from aws_cdk import ArnFormat, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_logs as logs
from aws_cdk import aws_wafv2 as waf
from constructs import Construct

from infra import constants as c
from infra.network_database import stack_instance_suffix

CORE_RULE_SET = "AWSManagedRulesCommonRuleSet"
BAD_INPUTS_RULE_SET = "AWSManagedRulesKnownBadInputsRuleSet"
CORE_LABEL_NAMESPACE = "awswaf:managed:aws:core-rule-set:"
BAD_INPUTS_LABEL_NAMESPACE = "awswaf:managed:aws:known-bad-inputs:"
RETRY_AFTER_BODY_KEY = "RateLimited"
TOO_LARGE_BODY_KEY = "TooLarge"
# Content-Length values above WEBHOOK_MAX_BODY_BYTES (262144): WAF only inspects the first part of
# a body, so the limit is checked on the declared length (API Gateway rejects a mismatched one).
OVERSIZE_CONTENT_LENGTH_REGEX = (
    r"^0*([1-9][0-9]{6,}|[3-9][0-9]{5}|2[7-9][0-9]{4}|26[3-9][0-9]{3}|262[2-9][0-9]{2}|2621[5-9][0-9]|26214[5-9])$"
)


def label_name(rule: str, namespace: str) -> str:
    """The label a managed rule adds: the rule name with its suffix in title case (``_BODY`` -> ``_Body``)."""
    head, _, tail = rule.rpartition("_")
    return f"{namespace}{head}_{tail.title()}"


def _visibility(metric: str) -> waf.CfnWebACL.VisibilityConfigProperty:
    # No sampled requests: WAF keeps each sample's URI and every header (X-Webhook-Secret, the
    # UI-channel secret in the path, bearer tokens) readable through wafv2:GetSampledRequests, with
    # no way to redact them. What was blocked or counted goes to the redacted log (ApiFirewall).
    return waf.CfnWebACL.VisibilityConfigProperty(
        cloud_watch_metrics_enabled=True, metric_name=metric, sampled_requests_enabled=False
    )


def _webhook_paths() -> waf.CfnWebACL.StatementProperty:
    # Matches /prod/webhooks/... (execute-api URL) and /webhooks/... (custom domain).
    return waf.CfnWebACL.StatementProperty(
        byte_match_statement=waf.CfnWebACL.ByteMatchStatementProperty(
            field_to_match=waf.CfnWebACL.FieldToMatchProperty(uri_path={}),
            positional_constraint="CONTAINS",
            search_string="/webhooks/",
            text_transformations=[waf.CfnWebACL.TextTransformationProperty(priority=0, type="LOWERCASE")],
        )
    )


def _channel_paths() -> waf.CfnWebACL.StatementProperty:
    """The NinjaOne UI-channel route, /webhooks/ninjaone/<integration>/<secret>: its path holds a
    secret, so no rate rule may count by path there (WAF logs the key of a rate-based rule that
    acted, in rateBasedRuleList, where neither redaction nor data protection reaches a URI path)."""
    return waf.CfnWebACL.StatementProperty(
        regex_match_statement=waf.CfnWebACL.RegexMatchStatementProperty(
            field_to_match=waf.CfnWebACL.FieldToMatchProperty(uri_path={}),
            regex_string=r"/webhooks/ninjaone/[^/]+/[^/]+/?$",
            text_transformations=[waf.CfnWebACL.TextTransformationProperty(priority=0, type="LOWERCASE")],
        )
    )


def _not(statement: waf.CfnWebACL.StatementProperty) -> waf.CfnWebACL.StatementProperty:
    return waf.CfnWebACL.StatementProperty(not_statement=waf.CfnWebACL.NotStatementProperty(statement=statement))


def _and(*statements: waf.CfnWebACL.StatementProperty) -> waf.CfnWebACL.StatementProperty:
    return waf.CfnWebACL.StatementProperty(
        and_statement=waf.CfnWebACL.AndStatementProperty(statements=list(statements))
    )


def _labels(names: list[str]) -> waf.CfnWebACL.StatementProperty:
    matches = [
        waf.CfnWebACL.StatementProperty(
            label_match_statement=waf.CfnWebACL.LabelMatchStatementProperty(scope="LABEL", key=n)
        )
        for n in names
    ]
    if len(matches) == 1:
        return matches[0]
    return waf.CfnWebACL.StatementProperty(or_statement=waf.CfnWebACL.OrStatementProperty(statements=matches))


def _block(status: int, body_key: str, retry_after: bool = False) -> waf.CfnWebACL.RuleActionProperty:
    headers = (
        [waf.CfnWebACL.CustomHTTPHeaderProperty(name="Retry-After", value=str(c.WAF_BLOCK_RETRY_AFTER_SECONDS))]
        if retry_after
        else None
    )
    return waf.CfnWebACL.RuleActionProperty(
        block=waf.CfnWebACL.BlockActionProperty(
            custom_response=waf.CfnWebACL.CustomResponseProperty(
                response_code=status, custom_response_body_key=body_key, response_headers=headers
            )
        )
    )


def _rule(
    prefix: str,
    name: str,
    priority: int,
    statement: waf.CfnWebACL.StatementProperty,
    action: waf.CfnWebACL.RuleActionProperty,
) -> waf.CfnWebACL.RuleProperty:
    """A rule of ours (not a managed group), its metric named after it."""
    return waf.CfnWebACL.RuleProperty(
        name=name,
        priority=priority,
        statement=statement,
        action=action,
        visibility_config=_visibility(f"{prefix}-{name}"),
    )


def _rate_rule(
    prefix: str,
    name: str,
    priority: int,
    limit: int,
    status: int,
    scope_down: waf.CfnWebACL.StatementProperty,
    *,
    per_path: bool = False,
) -> waf.CfnWebACL.RuleProperty:
    """A rate-based rule over the shared window, counting per source address (or per lower-cased
    URL path), that blocks with ``status``, a ``Retry-After`` header and the rate-limited body."""
    custom_keys = (
        [
            waf.CfnWebACL.RateBasedStatementCustomKeyProperty(
                uri_path=waf.CfnWebACL.RateLimitUriPathProperty(
                    text_transformations=[waf.CfnWebACL.TextTransformationProperty(priority=0, type="LOWERCASE")]
                )
            )
        ]
        if per_path
        else None
    )
    statement = waf.CfnWebACL.StatementProperty(
        rate_based_statement=waf.CfnWebACL.RateBasedStatementProperty(
            aggregate_key_type="CUSTOM_KEYS" if per_path else "IP",
            custom_keys=custom_keys,
            limit=limit,
            evaluation_window_sec=c.WAF_RATE_WINDOW_SECONDS,
            scope_down_statement=scope_down,
        )
    )
    return _rule(prefix, name, priority, statement, _block(status, RETRY_AFTER_BODY_KEY, retry_after=True))


class ApiFirewall(Construct):
    """A regional web ACL associated with the REST API's stage."""

    def __init__(self, scope: Construct, construct_id: str, *, stage: apigw.Stage, log_removal: RemovalPolicy) -> None:
        super().__init__(scope, construct_id)
        prefix = Stack.of(self).stack_name
        webhooks = _webhook_paths()
        counted_core = list(c.WAF_CORE_RULES_COUNTED_ON_WEBHOOKS)
        counted_bad = list(c.WAF_BAD_INPUT_RULES_COUNTED_ON_WEBHOOKS)
        counted_labels = _labels(
            [label_name(r, CORE_LABEL_NAMESPACE) for r in counted_core]
            + [label_name(r, BAD_INPUTS_LABEL_NAMESPACE) for r in counted_bad]
        )
        oversize = waf.CfnWebACL.StatementProperty(
            regex_match_statement=waf.CfnWebACL.RegexMatchStatementProperty(
                field_to_match=waf.CfnWebACL.FieldToMatchProperty(single_header={"Name": "content-length"}),
                regex_string=OVERSIZE_CONTENT_LENGTH_REGEX,
                text_transformations=[waf.CfnWebACL.TextTransformationProperty(priority=0, type="NONE")],
            )
        )

        rules = [
            _rule(prefix, "WebhookBodySize", 0, _and(webhooks, oversize), _block(413, TOO_LARGE_BODY_KEY)),
            _rate_rule(prefix, "WebhookRatePerIp", 1, c.WAF_WEBHOOK_RATE_PER_IP, c.WAF_WEBHOOK_RATE_STATUS, webhooks),
            # Each URL path (one integration) has its own counter; UI-channel URLs, whose path is
            # a secret, only count per source address.
            _rate_rule(
                prefix,
                "WebhookRatePerIntegration",
                2,
                c.WAF_WEBHOOK_RATE_PER_PATH,
                c.WAF_WEBHOOK_RATE_STATUS,
                _and(webhooks, _not(_channel_paths())),
                per_path=True,
            ),
            _rate_rule(prefix, "AdminRatePerIp", 3, c.WAF_ADMIN_RATE_PER_IP, c.WAF_ADMIN_RATE_STATUS, _not(webhooks)),
            self._managed(CORE_RULE_SET, 10, counted_core),
            self._managed(BAD_INPUTS_RULE_SET, 11, counted_bad),
            # What the two groups only counted is blocked everywhere but on the webhooks.
            _rule(
                prefix,
                "BlockCountedFindingsOutsideWebhooks",
                20,
                _and(_not(webhooks), counted_labels),
                waf.CfnWebACL.RuleActionProperty(block={}),
            ),
        ]
        self.web_acl = waf.CfnWebACL(
            self,
            "WebAcl",
            scope="REGIONAL",
            default_action=waf.CfnWebACL.DefaultActionProperty(allow={}),
            description="rmm-alerts API: rate limits per source and per integration, managed rules",
            rules=rules,
            custom_response_bodies={
                RETRY_AFTER_BODY_KEY: waf.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON",
                    content='{"errors": [{"path": "", "message": "rate limited; retry later"}]}',
                ),
                TOO_LARGE_BODY_KEY: waf.CfnWebACL.CustomResponseBodyProperty(
                    content_type="APPLICATION_JSON",
                    content=f'{{"errors": [{{"path": "body", "message": "body is larger than '
                    f'{c.WEBHOOK_MAX_BODY_BYTES} bytes"}}]}}',
                ),
            },
            visibility_config=_visibility(f"{prefix}-WebAcl"),
        )
        self.association = waf.CfnWebACLAssociation(
            self, "StageAssociation", resource_arn=stage.stage_arn, web_acl_arn=self.web_acl.attr_arn
        )
        self._log(prefix, log_removal)

    def _log(self, prefix: str, removal: RemovalPolicy) -> None:
        """The requests a rule blocked or counted, in CloudWatch Logs, with the secrets redacted:
        the URI path (the UI-channel URL ends in its secret), X-Webhook-Secret and Authorization.
        Allowed requests are not logged (API Gateway's access log has them)."""
        # WAF only logs to groups named aws-waf-logs-*; the suffix keeps a retained group out of the
        # way of a stack created again under the same name.
        name = Fn.join("-", ["aws-waf-logs", prefix, stack_instance_suffix()])
        self.log_group = logs.LogGroup(
            self, "Logs", log_group_name=name, retention=c.LOG_RETENTION, removal_policy=removal
        )
        field = waf.CfnLoggingConfiguration.FieldToMatchProperty
        kept = [{"ActionCondition": {"Action": action}} for action in ("BLOCK", "COUNT", "CAPTCHA", "CHALLENGE")]
        self.logging = waf.CfnLoggingConfiguration(
            self,
            "Logging",
            resource_arn=self.web_acl.attr_arn,
            # The group's ARN without the ":*" that LogGroup.log_group_arn ends with.
            log_destination_configs=[
                Stack.of(self).format_arn(
                    service="logs",
                    resource="log-group",
                    resource_name=name,
                    arn_format=ArnFormat.COLON_RESOURCE_NAME,
                )
            ],
            redacted_fields=[
                field(uri_path={}),
                field(single_header={"Name": "x-webhook-secret"}),
                field(single_header={"Name": "authorization"}),
            ],
            logging_filter={
                "DefaultBehavior": "DROP",
                "Filters": [{"Behavior": "KEEP", "Requirement": "MEETS_ANY", "Conditions": kept}],
            },
        )
        self.logging.node.add_dependency(self.log_group)

    def _managed(self, group: str, priority: int, counted: list[str]) -> waf.CfnWebACL.RuleProperty:
        return waf.CfnWebACL.RuleProperty(
            name=group,
            priority=priority,
            statement=waf.CfnWebACL.StatementProperty(
                managed_rule_group_statement=waf.CfnWebACL.ManagedRuleGroupStatementProperty(
                    vendor_name="AWS",
                    name=group,
                    rule_action_overrides=[
                        waf.CfnWebACL.RuleActionOverrideProperty(
                            name=rule, action_to_use=waf.CfnWebACL.RuleActionProperty(count={})
                        )
                        for rule in counted
                    ],
                )
            ),
            override_action=waf.CfnWebACL.OverrideActionProperty(none={}),
            visibility_config=_visibility(f"{Stack.of(self).stack_name}-{group}"),
        )
