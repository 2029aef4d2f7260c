"""Monitoring: alarms on functions, the DLQ, the API, WAF and the database, to an encrypted SNS
topic, and one CloudWatch dashboard of the service."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Duration, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from aws_cdk import aws_wafv2 as waf
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge
from infra.stack_config import StackConfig

# Key administration and use by the account (through IAM policies); explicit actions, no "kms:*".
_KEY_ACCOUNT_ACTIONS = [
    "kms:CancelKeyDeletion", "kms:CreateAlias", "kms:CreateGrant", "kms:Decrypt", "kms:DeleteAlias",
    "kms:DescribeKey", "kms:DisableKey", "kms:DisableKeyRotation", "kms:EnableKey", "kms:EnableKeyRotation",
    "kms:Encrypt", "kms:GenerateDataKey", "kms:GenerateDataKeyWithoutPlaintext", "kms:GetKeyPolicy",
    "kms:GetKeyRotationStatus", "kms:ListAliases", "kms:ListGrants", "kms:ListKeyPolicies",
    "kms:ListKeyRotations", "kms:ListResourceTags", "kms:PutKeyPolicy", "kms:ReEncryptFrom",
    "kms:ReEncryptTo", "kms:RetireGrant", "kms:RevokeGrant", "kms:RotateKeyOnDemand",
    "kms:ScheduleKeyDeletion", "kms:TagResource", "kms:UntagResource", "kms:UpdateAlias",
    "kms:UpdateKeyDescription",
]  # fmt: skip


class Monitoring(Construct):
    """The alarm topic and every alarm of the service."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        functions: Sequence[tuple[str, lambda_.Function]],
        dlq: sqs.IQueue,
        api: apigw.RestApi,
        access_logs: logs.ILogGroup,
        webhook_resources: Sequence[str],
        web_acl: waf.CfnWebACL,
        cluster: rds.DatabaseCluster,
        proxy: rds.DatabaseProxy,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        self._api = api
        self._webhook_resources = list(webhook_resources)

        key_policy = iam.PolicyDocument(
            statements=[
                iam.PolicyStatement(
                    sid="AccountAdministersAndUsesKey",
                    principals=[iam.AccountRootPrincipal()],
                    actions=_KEY_ACCOUNT_ACTIONS,
                    resources=["*"],  # in a key policy, "*" is this key
                ),
                iam.PolicyStatement(
                    sid="CloudWatchAlarmsPublish",
                    principals=[iam.ServicePrincipal("cloudwatch.amazonaws.com")],
                    actions=["kms:Decrypt", "kms:GenerateDataKey"],
                    resources=["*"],
                    conditions={"StringEquals": {"aws:SourceAccount": stack.account}},
                ),
            ]
        )
        self.key = kms.Key(
            self,
            "AlarmTopicKey",
            description="rmm-alerts alarm topic encryption",
            enable_key_rotation=True,
            policy=key_policy,
            # Holds no data (it only encrypts alarm notifications in transit): deleted with the stack.
            removal_policy=RemovalPolicy.DESTROY,
            pending_window=Duration.days(7),
        )
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="rmm-alerts alarms", master_key=self.key, enforce_ssl=True
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
            acknowledge(
                self.topic,
                "Serverless-SNSRedrivePolicy",
                "The only subscription is the operators' alarm e-mail; SNS retries e-mail delivery itself "
                "and a failed notification leaves the alarm in ALARM in CloudWatch, so a dead-letter "
                "queue nobody reads would add nothing.",
            )
        action = cw_actions.SnsAction(self.topic)
        self._action = action
        self.alarms: list[cw.Alarm] = []

        def alarm(
            alarm_id: str,
            metric: cw.IMetric,
            threshold: float,
            description: str,
            evaluation_periods: int = 1,
            comparison: cw.ComparisonOperator = cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
            missing: cw.TreatMissingData = cw.TreatMissingData.NOT_BREACHING,
        ) -> None:
            created = cw.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                comparison_operator=comparison,
                treat_missing_data=missing,
                alarm_description=description,
            )
            created.add_alarm_action(action)
            created.add_ok_action(action)
            self.alarms.append(created)

        period = c.ALARM_PERIOD
        for name, fn in functions:
            alarm(
                f"{name}Errors",
                fn.metric_errors(period=period, statistic=cw.Stats.SUM),
                1,
                f"{name}: invocations failed",
            )
            alarm(
                f"{name}Throttles",
                fn.metric_throttles(period=period, statistic=cw.Stats.SUM),
                1,
                f"{name}: invocations throttled",
            )
        alarm(
            "TicketClosedDlqDepth",
            dlq.metric_approximate_number_of_messages_visible(period=period, statistic=cw.Stats.MAXIMUM),
            1,
            "TICKET_CLOSED events or ticket_closed invocations failed and wait in the DLQ",
        )
        alarm(
            "Api5xxRate",
            api.metric_server_error(period=period, statistic=cw.Stats.AVERAGE),
            c.API_5XX_RATE_THRESHOLD,
            f"API: more than {c.API_5XX_RATE_THRESHOLD:.0%} of requests answered 5xx",
        )
        alarm(
            "DbCpu",
            cluster.metric_cpu_utilization(period=period, statistic=cw.Stats.AVERAGE),
            c.DB_CPU_THRESHOLD_PERCENT,
            f"Aurora: CPU at or above {c.DB_CPU_THRESHOLD_PERCENT}% for 15 minutes",
            evaluation_periods=3,
        )
        alarm(
            "DbConnections",
            cluster.metric_database_connections(period=period, statistic=cw.Stats.MAXIMUM),
            c.DB_CONNECTIONS_THRESHOLD,
            f"Aurora: {c.DB_CONNECTIONS_THRESHOLD} or more connections (about 80% of max_connections)",
        )
        alarm(
            "DbCapacity",
            cluster.metric("ACUUtilization", period=period, statistic=cw.Stats.AVERAGE),
            c.DB_ACU_UTILIZATION_THRESHOLD_PERCENT,
            f"Aurora Serverless v2 at {c.DB_ACU_UTILIZATION_THRESHOLD_PERCENT}% of its maximum capacity",
            evaluation_periods=3,
        )

        # --- 429s, WAF blocks, silence ------------------------------------------------------
        # API Gateway publishes no per-status metric: count 429s from the access log.
        logs.MetricFilter(
            self,
            "Api429Filter",
            log_group=access_logs,
            metric_namespace=c.METRICS_NAMESPACE,
            metric_name=c.API_429_METRIC,
            filter_pattern=logs.FilterPattern.number_value("$.status", "=", 429),
            metric_value="1",
            default_value=0,
        )
        self.api_429 = cw.Metric(
            namespace=c.METRICS_NAMESPACE, metric_name=c.API_429_METRIC, period=period, statistic=cw.Stats.SUM
        )
        alarm(
            "Api429",
            self.api_429,
            c.API_429_THRESHOLD,
            f"API Gateway answered 429 (throttled) {c.API_429_THRESHOLD} or more times in 5 minutes",
        )
        # The web ACL's Ref is "name|id|scope"; WAF's metrics are keyed by its name.
        self.web_acl_name = Fn.select(0, Fn.split("|", web_acl.ref))
        self.waf_blocked = cw.Metric(
            namespace="AWS/WAFV2",
            metric_name="BlockedRequests",
            dimensions_map={"WebACL": self.web_acl_name, "Region": stack.region, "Rule": "ALL"},
            period=period,
            statistic=cw.Stats.SUM,
        )
        alarm(
            "WafBlocked",
            self.waf_blocked,
            c.WAF_BLOCKED_THRESHOLD,
            f"WAF blocked {c.WAF_BLOCKED_THRESHOLD} or more requests in 5 minutes (rate limits, body size, "
            "managed rules): see the web ACL's aws-waf-logs-* log group",
        )
        hours = config.no_webhook_alarm_hours
        alarm(
            "NoWebhooks",
            self.webhooks_accepted(Duration.hours(1)),
            1,
            f"No authenticated webhook has arrived for {hours} hours (check the RMMs' webhook settings, "
            "the API and WAF)",
            evaluation_periods=hours,
            comparison=cw.ComparisonOperator.LESS_THAN_THRESHOLD,
            # No requests at all publishes no data point: that is exactly the silence to report.
            missing=cw.TreatMissingData.BREACHING,
        )

        self.dashboard = self._dashboard(functions, dlq, cluster, proxy)

    def _webhook_metric(self, name: str, resource: str, period: Duration) -> cw.Metric:
        return cw.Metric(
            namespace="AWS/ApiGateway",
            metric_name=name,
            dimensions_map={
                "ApiName": self._api.rest_api_name,
                "Stage": c.API_STAGE_NAME,
                "Resource": resource,
                "Method": "POST",
            },
            period=period,
            statistic=cw.Stats.SUM,
        )

    def webhooks_accepted(self, period: Duration) -> cw.MathExpression:
        """Webhook requests that got past the secret check: requests minus 4xx answers, every route."""
        using: dict[str, cw.IMetric] = {}
        terms = []
        for i, resource in enumerate(self._webhook_resources):
            using[f"requests{i}"] = self._webhook_metric("Count", resource, period)
            using[f"rejected{i}"] = self._webhook_metric("4XXError", resource, period)
            terms.append(f"FILL(requests{i}, 0) - FILL(rejected{i}, 0)")
        return cw.MathExpression(
            expression=" + ".join(terms), using_metrics=using, label="Webhooks accepted", period=period
        )

    @staticmethod
    def _search(metric_name: str, statistic: str, label: str) -> cw.MathExpression:
        """Every series of one of the service's own metrics, whatever its dimensions."""
        return cw.MathExpression(
            expression=(
                f'SEARCH(\'Namespace="{c.METRICS_NAMESPACE}" MetricName="{metric_name}"\', '
                f"'{statistic}', {int(c.ALARM_PERIOD.to_seconds())})"
            ),
            label=label or None,
            period=c.ALARM_PERIOD,
        )

    def _dashboard(
        self,
        functions: Sequence[tuple[str, lambda_.Function]],
        dlq: sqs.IQueue,
        cluster: rds.DatabaseCluster,
        proxy: rds.DatabaseProxy,
    ) -> cw.Dashboard:
        period = c.ALARM_PERIOD
        m = c.APP_METRICS
        width = 12

        def graph(title: str, left: Sequence[cw.IMetric], right: Sequence[cw.IMetric] = ()) -> cw.GraphWidget:
            return cw.GraphWidget(title=title, left=list(left), right=list(right), width=width, height=6)

        def proxy_metric(name: str) -> cw.Metric:
            return cw.Metric(
                namespace="AWS/RDS",
                metric_name=name,
                dimensions_map={"ProxyName": proxy.db_proxy_name},
                period=period,
                statistic=cw.Stats.MAXIMUM,
            )

        dashboard = cw.Dashboard(self, "Dashboard", default_interval=Duration.hours(24))
        dashboard.add_widgets(
            graph("Alerts by outcome", [self._search(m["alerts"], "Sum", "")]),
            graph(
                "Webhook latency (ms)",
                [
                    self._search(m["webhook_duration"], "p50", "p50"),
                    self._search(m["webhook_duration"], "p99", "p99"),
                ],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Errors",
                [fn.metric_errors(period=period, statistic=cw.Stats.SUM, label=name) for name, fn in functions]
                + [self._search(m["webhook_errors"], "Sum", "WebhookErrors")],
                [
                    self._api.metric_server_error(period=period, statistic=cw.Stats.SUM, label="API 5xx"),
                    self.api_429.with_(label="API 429"),
                    self.waf_blocked.with_(label="WAF blocked"),
                ],
            ),
            graph(
                "Poll results",
                [
                    self._search(m["poll_cycles"], "Sum", "PollCycles"),
                    self._search(m["poll_errors"], "Sum", "PollErrors"),
                ],
            ),
        )
        dashboard.add_widgets(
            graph(
                "Outbox",
                [self._search(m["outbox_backlog_age"], "Maximum", "Backlog age (s)")],
                [self._search(m["outbox_parked"], "Maximum", "Parked")],
            ),
            graph(
                "TICKET_CLOSED DLQ depth",
                [dlq.metric_approximate_number_of_messages_visible(period=period, statistic=cw.Stats.MAXIMUM)],
            ),
        )
        dashboard.add_widgets(
            graph(
                "RDS Proxy connections",
                [proxy_metric("ClientConnections"), proxy_metric("DatabaseConnections")],
            ),
            graph(
                "Webhooks accepted (per hour) and Aurora",
                [self.webhooks_accepted(Duration.hours(1))],
                [cluster.metric("ACUUtilization", period=period, statistic=cw.Stats.AVERAGE)],
            ),
        )
        return dashboard

    # -- outbox delivery ------------------------------------------------------------------------
    def add_outbox_alarms(self, dlq: sqs.IQueue) -> None:
        """Backlog age and parked entries (the outbox function's own metrics), and its DLQ."""
        self.dashboard.add_widgets(
            cw.GraphWidget(
                title="Outbox DLQ depth",
                left=[
                    dlq.metric_approximate_number_of_messages_visible(period=c.ALARM_PERIOD, statistic=cw.Stats.MAXIMUM)
                ],
                width=12,
                height=6,
            )
        )

        def metric(name: str) -> cw.Metric:
            return cw.Metric(
                namespace=c.METRICS_NAMESPACE,
                metric_name=name,
                dimensions_map=dict(c.OUTBOX_METRIC_DIMENSIONS),
                period=c.ALARM_PERIOD,
                statistic=cw.Stats.MAXIMUM,
            )

        for alarm_id, watched, threshold, description in (
            (
                "OutboxBacklogAge",
                metric("OutboxBacklogAgeSeconds"),
                c.OUTBOX_BACKLOG_AGE_ALARM_SECONDS,
                f"Outbox: an entry has waited {c.OUTBOX_BACKLOG_AGE_ALARM_SECONDS} s or more for delivery",
            ),
            (
                "OutboxParked",
                metric("OutboxParkedEntries"),
                1,
                "Outbox: entries parked after their last attempt (rmm_outbox.parked_at) wait for an operator",
            ),
            (
                "OutboxDlqDepth",
                dlq.metric_approximate_number_of_messages_visible(period=c.ALARM_PERIOD, statistic=cw.Stats.MAXIMUM),
                1,
                "Outbox: scheduled or after-commit invocations failed and wait in the DLQ",
            ),
        ):
            created = cw.Alarm(
                self,
                alarm_id,
                metric=watched,
                threshold=threshold,
                evaluation_periods=1,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
                alarm_description=description,
            )
            created.add_alarm_action(self._action)
            created.add_ok_action(self._action)
            self.alarms.append(created)
