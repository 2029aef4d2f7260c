"""Monitoring: alarms on functions, the DLQ, the API and the database, to an encrypted SNS topic."""

from __future__ import annotations

from collections.abc import Sequence

from aws_cdk import Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cloudwatch as cw
from aws_cdk import aws_cloudwatch_actions as cw_actions
from aws_cdk import aws_iam as iam
from aws_cdk import aws_kms as kms
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_rds as rds
from aws_cdk import aws_sns as sns
from aws_cdk import aws_sns_subscriptions as subscriptions
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants as c
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
        cluster: rds.DatabaseCluster,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

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
        )
        self.topic = sns.Topic(
            self, "AlarmTopic", display_name="rmm-alerts alarms", master_key=self.key, enforce_ssl=True
        )
        if config.alarm_email:
            self.topic.add_subscription(subscriptions.EmailSubscription(config.alarm_email))
        action = cw_actions.SnsAction(self.topic)
        self._action = action
        self.alarms: list[cw.Alarm] = []

        def alarm(
            alarm_id: str,
            metric: cw.IMetric,
            threshold: float,
            description: str,
            evaluation_periods: int = 1,
        ) -> None:
            created = cw.Alarm(
                self,
                alarm_id,
                metric=metric,
                threshold=threshold,
                evaluation_periods=evaluation_periods,
                comparison_operator=cw.ComparisonOperator.GREATER_THAN_OR_EQUAL_TO_THRESHOLD,
                treat_missing_data=cw.TreatMissingData.NOT_BREACHING,
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

    # -- outbox delivery ------------------------------------------------------------------------
    def add_outbox_alarms(self, dlq: sqs.IQueue) -> None:
        """Backlog age and parked entries (the outbox function's own metrics), and its DLQ."""

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
