"""The shared layer, the five service functions, and the migration function run on every deploy.

Every function: its own folder as code, the one layer, the one runtime/architecture, its own
role (least privilege), log group, security group; X-Ray tracing; environment variables that
are exactly the aliases its settings model in ``rmm_alerts.config`` reads (plus Powertools').
"""

from __future__ import annotations

from collections.abc import Mapping

from aws_cdk import ArnFormat, CfnResource, Duration, RemovalPolicy, Stack, triggers
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.events_schedules import EventsAndSchedules
from infra.layer import layer_code, migrations_hash
from infra.nag import acknowledge, arn_finding
from infra.network_database import NetworkAndDatabase
from infra.stack_config import StackConfig

# Environment variables read by Powertools itself (not by the settings models).
POWERTOOLS_ENV: Mapping[str, str] = {
    "POWERTOOLS_SERVICE_NAME": c.SERVICE_NAME,
    "POWERTOOLS_METRICS_NAMESPACE": c.METRICS_NAMESPACE,
    "LOG_LEVEL": c.LOG_LEVEL,
}

# What AWSLambdaVPCAccessExecutionRole grants: Lambda manages the function's ENIs with these.
_ENI_ACTIONS = [
    "ec2:CreateNetworkInterface",
    "ec2:DescribeNetworkInterfaces",
    "ec2:DescribeSubnets",
    "ec2:DeleteNetworkInterface",
    "ec2:AssignPrivateIpAddresses",
    "ec2:UnassignPrivateIpAddresses",
]
# Actions AWS only authorizes against "*": X-Ray (added by Lambda tracing) and the ENI actions.
WILDCARD_RESOURCE_ACTIONS = frozenset({"xray:PutTraceSegments", "xray:PutTelemetryRecords", *_ENI_ACTIONS})

_XRAY_REASON = (
    "X-Ray tracing (Tracing.ACTIVE): xray:PutTraceSegments and xray:PutTelemetryRecords support no "
    "resource-level permissions, so AWS requires Resource '*' "
    "(https://docs.aws.amazon.com/xray/latest/devguide/security_iam_service-with-iam.html)."
)


class LayerAndFunctions(Construct):
    """The ``core`` layer, the functions and the migration trigger."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        data: NetworkAndDatabase,
        events: EventsAndSchedules,
    ) -> None:
        super().__init__(scope, construct_id)
        self._config = config
        self._data = data
        stack = Stack.of(self)
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        self._log_removal = removal

        self.layer = lambda_.LayerVersion(
            self,
            "CoreLayer",
            code=layer_code(config.layer_build),
            compatible_runtimes=[c.RUNTIME],
            compatible_architectures=[c.ARCHITECTURE],
            description=f"rmm_alerts core package and its dependencies ({c.RUNTIME.name}, {c.ARCHITECTURE.name})",
        )

        # One customer-managed policy for the VPC ENI permissions, attached to every function role.
        self.eni_policy = iam.ManagedPolicy(
            self,
            "VpcEniPolicy",
            description="ENI management for VPC-attached rmm-alerts functions",
            statements=[iam.PolicyStatement(actions=list(_ENI_ACTIONS), resources=["*"])],
        )
        acknowledge(
            self.eni_policy,
            "AwsSolutions-IAM5",
            "Lambda creates and removes the function's VPC network interfaces with these EC2 actions; "
            "the Describe actions support no resource-level permissions and Lambda's ENIs are not known "
            "in advance (the same grant as AWSLambdaVPCAccessExecutionRole).",
            "Resource::*",
        )

        db_env = {
            "DB_HOST": data.proxy.endpoint,
            "DB_PORT": str(c.DB_PORT),
            "DB_NAME": c.DB_NAME,
            "DB_SECRET_ARN": data.secret.secret_arn,
        }
        integration_secrets_arn = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{c.INTEGRATION_SECRET_PREFIX}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

        # --- webhooks -----------------------------------------------------------------------
        self.webhook_ninjaone = self._function("WebhookNinjaOne", c.WEBHOOK_NINJAONE, db_env)
        self.webhook_tactical = self._function("WebhookTactical", c.WEBHOOK_TACTICAL, db_env)

        # --- poller -------------------------------------------------------------------------
        poller_env = {
            **db_env,
            "CREDENTIALS_SECRET_PREFIX": c.INTEGRATION_SECRET_PREFIX,
            "EVENT_BUS_NAME": events.bus.event_bus_name,
        }
        if config.notification_sender_identity:
            poller_env["NOTIFICATION_SENDER"] = config.notification_sender_identity
        self.poller = self._function("Poller", c.POLLER, poller_env)
        events.bus.grant_put_events_to(self.poller)
        self._read_integration_secrets(self.poller, integration_secrets_arn)
        if config.notification_sender_identity:
            self.poller.add_to_role_policy(
                iam.PolicyStatement(
                    sid="SendNotificationEmail",
                    actions=["ses:SendEmail", "ses:SendRawEmail"],
                    resources=[
                        stack.format_arn(
                            service="ses", resource="identity", resource_name=config.notification_sender_identity
                        )
                    ],
                )
            )
        events.allow_schedules_to_invoke(self.poller)

        # --- ticket_closed ------------------------------------------------------------------
        self.ticket_closed = self._function(
            "TicketClosed",
            c.TICKET_CLOSED,
            {k: v for k, v in poller_env.items() if k != "NOTIFICATION_SENDER"},
            # Function errors after Lambda's own async retries land in the same DLQ as undeliverable events.
            on_failure=destinations.SqsDestination(events.dlq),
            retry_attempts=c.TICKET_CLOSED_ASYNC_RETRIES,
            max_event_age=c.TICKET_CLOSED_MAX_EVENT_AGE,
        )
        events.bus.grant_put_events_to(self.ticket_closed)
        self._read_integration_secrets(self.ticket_closed, integration_secrets_arn)
        events.route_ticket_closed(self.ticket_closed)

        # --- rules_api ----------------------------------------------------------------------
        rules_env = {
            **db_env,
            "SCHEDULE_GROUP_NAME": events.schedule_group.schedule_group_name,
            "SCHEDULER_ROLE_ARN": events.scheduler_role.role_arn,
            "POLLER_FUNCTION_ARN": self.poller.function_arn,
            "CREDENTIALS_SECRET_PREFIX": c.INTEGRATION_SECRET_PREFIX,
            # API_BASE_URL is set by the stack once the API exists (see set_api_base_url).
        }
        self.rules_api = self._function("RulesApi", c.RULES_API, rules_env)
        schedules_arn = stack.format_arn(
            service="scheduler",
            resource="schedule",
            resource_name=f"{events.schedule_group.schedule_group_name}/*",
        )
        self.rules_api.add_to_role_policy(
            iam.PolicyStatement(
                sid="ManagePollSchedules",
                actions=[
                    "scheduler:CreateSchedule",
                    "scheduler:UpdateSchedule",
                    "scheduler:DeleteSchedule",
                    "scheduler:GetSchedule",
                ],
                resources=[schedules_arn],
            )
        )
        self.rules_api.add_to_role_policy(
            iam.PolicyStatement(
                sid="PassSchedulerRole",
                actions=["iam:PassRole"],
                resources=[events.scheduler_role.role_arn],
                conditions={"StringEquals": {"iam:PassedToService": "scheduler.amazonaws.com"}},
            )
        )
        self.rules_api.add_to_role_policy(
            iam.PolicyStatement(
                sid="ManageIntegrationSecrets",
                actions=[
                    "secretsmanager:CreateSecret",
                    "secretsmanager:PutSecretValue",
                    "secretsmanager:DeleteSecret",
                    "secretsmanager:DescribeSecret",
                    # test-connection and NinjaOne webhook registration call the RMM with them.
                    "secretsmanager:GetSecretValue",
                ],
                resources=[integration_secrets_arn],
            )
        )
        acknowledge(
            self._role(self.rules_api),
            "AwsSolutions-IAM5",
            "rules_api manages only the poll schedules in this stack's schedule group (one per "
            "integration, named at run time) and only the integration credentials under the "
            "rmm-alerts/integrations/ prefix (one secret per integration, named at run time).",
            arn_finding("scheduler", f"schedule/{events.schedule_group.schedule_group_name}/*"),
            arn_finding("secretsmanager", f"secret:{c.INTEGRATION_SECRET_PREFIX}*"),
        )

        # --- migrations, run on every deploy that changes them ------------------------------
        sql_hash = migrations_hash()
        self.migrate = self._function(
            "Migrate",
            c.MIGRATE,
            {**db_env, "DB_STATEMENT_TIMEOUT_MS": str(c.MIGRATE_STATEMENT_TIMEOUT_MS)},
            description=f"{c.MIGRATE.description} (migrations sha256 {sql_hash[:16]})",
        )
        self.migration_trigger = triggers.Trigger(
            self,
            "MigrateOnDeploy",
            handler=self.migrate,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
            timeout=c.MIGRATE_TRIGGER_TIMEOUT,
            execute_on_handler_change=True,
            execute_after=[data],
            execute_before=self.service_functions,
        )
        # A changed migration set changes this property, so CloudFormation updates the trigger and
        # the migration function runs again even if nothing else changed.
        trigger_resource = self.migration_trigger.node.find_child("Default").node.default_child
        if not isinstance(trigger_resource, CfnResource):
            raise TypeError("unexpected Trigger construct layout")
        trigger_resource.add_property_override("MigrationsSha256", sql_hash)

    @property
    def service_functions(self) -> list[lambda_.Function]:
        """The five functions of the service (not the migration function)."""
        return [self.webhook_ninjaone, self.webhook_tactical, self.rules_api, self.poller, self.ticket_closed]

    @property
    def all_functions(self) -> list[lambda_.Function]:
        return [*self.service_functions, self.migrate]

    def set_api_base_url(self, url: str) -> None:
        """Tell rules_api its public base URL (for the webhook URLs it shows)."""
        self.rules_api.add_environment("API_BASE_URL", url)

    # ----------------------------------------------------------------------------------------
    def _function(
        self,
        construct_id: str,
        spec: c.FunctionSpec,
        environment: Mapping[str, str],
        *,
        description: str | None = None,
        on_failure: lambda_.IDestination | None = None,
        retry_attempts: int | None = None,
        max_event_age: Duration | None = None,
    ) -> lambda_.Function:
        # Role, log group and security group are siblings of the function (not children), so the
        # migration trigger's execute_before does not make them wait for the trigger.
        role = iam.Role(
            self,
            f"{construct_id}Role",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description=f"rmm-alerts {spec.folder}",
            managed_policies=[self.eni_policy],
        )
        log_group = logs.LogGroup(
            self, f"{construct_id}Logs", retention=c.LOG_RETENTION, removal_policy=self._log_removal
        )
        log_group.grant_write(role)
        security_group = ec2.SecurityGroup(
            self,
            f"{construct_id}Sg",
            vpc=self._data.vpc,
            description=f"rmm-alerts {spec.folder}: HTTPS out, database through the proxy",
            allow_all_outbound=False,
        )
        security_group.add_egress_rule(ec2.Peer.any_ipv4(), ec2.Port.tcp(443), "HTTPS: AWS APIs and RMM APIs")
        self._data.secret.grant_read(role)

        fn = lambda_.Function(
            self,
            construct_id,
            description=description or spec.description,
            runtime=c.RUNTIME,
            architecture=c.ARCHITECTURE,
            code=lambda_.Code.from_asset(str(c.FUNCTIONS_DIR / spec.folder), exclude=["__pycache__", "*.pyc", "*.pyo"]),
            handler="handler.handler",
            layers=[self.layer],
            role=role,
            log_group=log_group,
            memory_size=spec.memory_mb,
            timeout=spec.timeout,
            reserved_concurrent_executions=spec.reserved_concurrency,
            tracing=lambda_.Tracing.ACTIVE,
            vpc=self._data.vpc,
            vpc_subnets=self._data.app_subnets,
            security_groups=[security_group],
            environment={**environment, **POWERTOOLS_ENV},
            on_failure=on_failure,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        self._data.allow_from(security_group, f"rmm-alerts {spec.folder}")
        acknowledge(role, "AwsSolutions-IAM5", _XRAY_REASON, "Resource::*")
        acknowledge(
            fn,
            "AwsSolutions-L1",
            f"Pinned on purpose to {c.RUNTIME.name}: the layer's compiled wheels (pydantic-core, "
            "psycopg-binary, google-re2) are built for this one runtime, shared by the layer and every "
            "function; moving to a newer runtime is a deliberate change of infra/constants.py.",
        )
        return fn

    @staticmethod
    def _read_integration_secrets(fn: lambda_.Function, arn: str) -> None:
        fn.add_to_role_policy(
            iam.PolicyStatement(
                sid="ReadIntegrationSecrets",
                actions=["secretsmanager:GetSecretValue", "secretsmanager:DescribeSecret"],
                resources=[arn],
            )
        )
        acknowledge(
            LayerAndFunctions._role(fn),
            "AwsSolutions-IAM5",
            "Integration credentials are one secret per integration, created at run time by rules_api "
            "under the rmm-alerts/integrations/ prefix; read access is scoped to that prefix.",
            arn_finding("secretsmanager", f"secret:{c.INTEGRATION_SECRET_PREFIX}*"),
        )

    @staticmethod
    def _role(fn: lambda_.Function) -> iam.IRole:
        if fn.role is None:
            raise RuntimeError(f"{fn.node.path} has no role")
        return fn.role
