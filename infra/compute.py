"""The shared layer, the six service functions, and the migration function run on every deploy.

Every function: its own folder as code, the one layer, the one runtime/architecture, its own
role (least privilege), log group, security group; X-Ray tracing; environment variables that
are exactly the aliases its settings model in ``rmm_alerts.config`` reads (plus Powertools').
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from aws_cdk import ArnFormat, CfnResource, Duration, Stack, triggers
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_events as events_
from aws_cdk import aws_events_targets as event_targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_lambda_destinations as destinations
from aws_cdk import aws_logs as logs
from aws_cdk import aws_sqs as sqs
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


# Why no function has a Lambda dead-letter queue (it only ever receives asynchronous invocations).
_DLQ_REASONS: Mapping[str, str] = {
    "webhook_ninjaone": "Invoked synchronously by API Gateway only: a failure is the HTTP answer (5xx makes "
    "the RMM retry); a DLQ never receives synchronous invocations.",
    "webhook_tactical": "Invoked synchronously by API Gateway only: a failure is the HTTP answer; a DLQ never "
    "receives synchronous invocations.",
    "rules_api": "Invoked synchronously by API Gateway only (the admin API): the caller sees the error; a DLQ "
    "never receives synchronous invocations.",
    "migrate": "Invoked synchronously by the deploy's Trigger: a failed migration fails and rolls back the "
    "deploy, which is the alert; a DLQ never receives synchronous invocations.",
    "ticket_closed": "Failed asynchronous invocations go to the TICKET_CLOSED DLQ through an on-failure "
    "destination (AWS::Lambda::EventInvokeConfig), which cdk-nag does not recognise as a DLQ.",
    "poller": "Each invocation is one scheduled poll of one integration, idempotent and repeated on its "
    "schedule: a failed cycle is caught up by the next one, and failures raise the PollerErrors alarm; "
    "a queue of stale poll requests would be useless to replay.",
    "outbox": "Failed asynchronous invocations (after-commit kicks) and failed scheduled runs go to the "
    "outbox DLQ through an on-failure destination and the schedule's dead-letter config, which cdk-nag "
    "does not recognise as a Lambda DLQ.",
}


def db_env_of(data: NetworkAndDatabase) -> dict[str, str]:
    """Service functions: through RDS Proxy, IAM authentication as the application role."""
    return {
        "DB_HOST": data.proxy.endpoint,
        "DB_PORT": str(c.DB_PORT),
        "DB_NAME": c.DB_NAME,
        "DB_USER": c.DB_APP_USER,
        "DB_IAM_AUTH": "true",
    }


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
        # Kept when the stack is deleted, removed when their creation is rolled back (a failed first
        # deploy leaves nothing behind). Unnamed, so a kept one never blocks a redeploy.
        self._log_removal = config.log_removal

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

        db_env = db_env_of(data)
        # This stack's own prefix: staging and production in one account never share credentials.
        self.secret_prefix = c.INTEGRATION_SECRET_PREFIX_TEMPLATE.format(stack=stack.stack_name)
        integration_secrets_arn = stack.format_arn(
            service="secretsmanager",
            resource="secret",
            resource_name=f"{self.secret_prefix}*",
            arn_format=ArnFormat.COLON_RESOURCE_NAME,
        )

        # --- webhooks -----------------------------------------------------------------------
        self.webhook_ninjaone = self._function("WebhookNinjaOne", c.WEBHOOK_NINJAONE, db_env)
        self.webhook_tactical = self._function("WebhookTactical", c.WEBHOOK_TACTICAL, db_env)

        # --- poller -------------------------------------------------------------------------
        # Its side effects go through the outbox (delivered by the outbox function below).
        poller_env = {**db_env, "CREDENTIALS_SECRET_PREFIX": self.secret_prefix}
        self.poller = self._function("Poller", c.POLLER, poller_env)
        self._read_integration_secrets(self.poller, integration_secrets_arn)
        events.allow_schedules_to_invoke(self.poller)

        # --- ticket_closed ------------------------------------------------------------------
        self.ticket_closed = self._function(
            "TicketClosed",
            c.TICKET_CLOSED,
            dict(poller_env),
            # Function errors after Lambda's own async retries land in the same DLQ as undeliverable events.
            on_failure=destinations.SqsDestination(events.dlq),
            retry_attempts=c.TICKET_CLOSED_ASYNC_RETRIES,
            max_event_age=c.TICKET_CLOSED_MAX_EVENT_AGE,
        )
        self._read_integration_secrets(self.ticket_closed, integration_secrets_arn)
        events.route_ticket_closed(self.ticket_closed)

        # --- rules_api ----------------------------------------------------------------------
        rules_env = {
            **db_env,
            "SCHEDULE_GROUP_NAME": events.schedule_group.schedule_group_name,
            "SCHEDULER_ROLE_ARN": events.scheduler_role.role_arn,
            "POLLER_FUNCTION_ARN": self.poller.function_arn,
            "CREDENTIALS_SECRET_PREFIX": self.secret_prefix,
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
                    # ports.SecretsManagerStore.put brings back credentials scheduled for deletion.
                    "secretsmanager:RestoreSecret",
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
            "integration, named at run time) and only the integration credentials under this stack's "
            f"{self.secret_prefix} prefix (one secret per integration, named at run time).",
            arn_finding("scheduler", f"schedule/{events.schedule_group.schedule_group_name}/*"),
            arn_finding("secretsmanager", f"secret:{self.secret_prefix}*"),
        )

        # --- outbox: delivers events, in-app notifications and e-mails ----------------------
        self._outbox(config, events)

        # --- migrations, run on every deploy that changes them ------------------------------
        sql_hash = migrations_hash()
        # The owner, on a direct connection to the writer (DDL and the advisory lock need a session);
        # it also sets rmm_app's password from APP_DB_SECRET_ARN.
        migrate_env = {
            "DB_HOST": data.cluster.cluster_endpoint.hostname,
            "DB_PORT": str(c.DB_PORT),
            "DB_NAME": c.DB_NAME,
            "DB_SECRET_ARN": data.secret.secret_arn,
            "APP_DB_SECRET_ARN": data.app_secret.secret_arn,
            "DB_STATEMENT_TIMEOUT_MS": str(c.MIGRATE_STATEMENT_TIMEOUT_MS),
        }
        self.migrate = self._function(
            "Migrate",
            c.MIGRATE,
            migrate_env,
            description=f"{c.MIGRATE.description} (migrations sha256 {sql_hash[:16]})",
            database="direct",
        )
        data.app_secret.grant_read(self._role(self.migrate))
        # After everything of the data layer but RDS Proxy: the proxy logs in to Aurora as rmm_app,
        # a role only this migration gives a login, and CloudFormation does not finish the proxy's
        # target group until its targets are healthy (AWS::RDS::DBProxyTargetGroup's create handler
        # waits for AVAILABLE), so waiting for the proxy here would never end. The target group
        # waits for the migration instead.
        # (By path: jsii hands out a new Python object for the same construct.)
        needs = [
            child
            for scope, skip in ((data, data.cluster), (data.cluster, data.proxy))
            for child in scope.node.children
            if isinstance(child, Construct) and child.node.path != skip.node.path
        ]
        self.migration_trigger = triggers.Trigger(
            self,
            "MigrateOnDeploy",
            handler=self.migrate,
            invocation_type=triggers.InvocationType.REQUEST_RESPONSE,
            timeout=c.MIGRATE_TRIGGER_TIMEOUT,
            execute_on_handler_change=True,
            execute_after=needs,
            execute_before=self.service_functions,
        )
        data.proxy.node.find_child("ProxyTargetGroup").node.add_dependency(self.migration_trigger)
        # A changed migration set changes this property, so CloudFormation updates the trigger and
        # the migration function runs again even if nothing else changed.
        trigger_resource = self.migration_trigger.node.find_child("Default").node.default_child
        if not isinstance(trigger_resource, CfnResource):
            raise TypeError("unexpected Trigger construct layout")
        trigger_resource.add_property_override("MigrationsSha256", sql_hash)

    @property
    def service_functions(self) -> list[lambda_.Function]:
        """The six functions of the service (not the migration function)."""
        return [
            self.webhook_ninjaone,
            self.webhook_tactical,
            self.rules_api,
            self.poller,
            self.ticket_closed,
            self.outbox,
        ]

    @property
    def committing_functions(self) -> list[lambda_.Function]:
        """Functions that commit outbox rows and then kick the outbox function."""
        return [self.webhook_ninjaone, self.webhook_tactical, self.rules_api, self.poller, self.ticket_closed]

    @property
    def all_functions(self) -> list[lambda_.Function]:
        return [*self.service_functions, self.migrate]

    def set_api_base_url(self, url: str) -> None:
        """Tell rules_api its public base URL (for the webhook URLs it shows)."""
        self.rules_api.add_environment("API_BASE_URL", url)

    # ----------------------------------------------------------------------------------------
    def _outbox(self, config: StackConfig, events: EventsAndSchedules) -> None:
        """The outbox function: PutEvents on the bus, SendEmail as the sender identity, nothing else;
        invoked every minute and, asynchronously, by each committing function after its commit."""
        stack = Stack.of(self)
        self.outbox_dlq = sqs.Queue(
            self,
            "OutboxDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=c.DLQ_RETENTION,
        )
        acknowledge(
            self.outbox_dlq,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the outbox schedule's target and of the "
            "outbox function's asynchronous invocations (cdk-nag only recognises SQS and Lambda "
            "event-source redrive as DLQ use).",
        )
        acknowledge(
            self.outbox_dlq,
            "Serverless-SQSRedrivePolicy",
            "This queue is itself the outbox's dead-letter queue; a DLQ of a DLQ would only move the "
            "same failed invocations again (they need no redrive: the next run delivers the same entries).",
        )
        env = {**db_env_of(self._data), "EVENT_BUS_NAME": events.bus.event_bus_name}
        if config.notification_sender_identity:
            env["NOTIFICATION_SENDER"] = config.notification_sender_identity
        if config.psa_base_url:
            env["PSA_BASE_URL"] = config.psa_base_url
        self.outbox = self._function(
            "Outbox",
            c.OUTBOX,
            env,
            on_failure=destinations.SqsDestination(self.outbox_dlq),
            retry_attempts=c.OUTBOX_ASYNC_RETRIES,
            max_event_age=c.OUTBOX_MAX_EVENT_AGE,
        )
        events.bus.grant_put_events_to(self.outbox)
        if config.notification_sender_identity:
            self.outbox.add_to_role_policy(
                iam.PolicyStatement(
                    sid="SendNotificationEmail",
                    actions=["ses:SendEmail"],
                    resources=[
                        stack.format_arn(
                            service="ses", resource="identity", resource_name=config.notification_sender_identity
                        )
                    ],
                )
            )
        self.outbox_schedule = events_.Rule(
            self,
            "OutboxSchedule",
            description="Every minute: deliver what no after-commit kick delivered",
            schedule=events_.Schedule.rate(c.OUTBOX_SCHEDULE_RATE),
            targets=[
                event_targets.LambdaFunction(
                    self.outbox,
                    event=events_.RuleTargetInput.from_object({}),
                    dead_letter_queue=self.outbox_dlq,
                    retry_attempts=c.OUTBOX_SCHEDULE_RETRY_ATTEMPTS,
                    max_event_age=c.OUTBOX_SCHEDULE_RATE,
                )
            ],
        )
        # After-commit kicks: each committing function may invoke the outbox function, nothing else.
        for fn in self.committing_functions:
            fn.add_environment("OUTBOX_FUNCTION_NAME", self.outbox.function_name)
            fn.add_to_role_policy(
                iam.PolicyStatement(
                    sid="KickOutbox", actions=["lambda:InvokeFunction"], resources=[self.outbox.function_arn]
                )
            )

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
        database: Literal["proxy", "direct"] = "proxy",
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
        if database == "proxy":
            # rds-db:connect as rmm_app on this proxy only; no secret to read.
            self._data.proxy.grant_connect(role, c.DB_APP_USER)
        else:
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
            environment={
                **environment,
                **POWERTOOLS_ENV,
                **({} if spec.xray_sdk else {"POWERTOOLS_TRACE_DISABLED": "true"}),
            },
            on_failure=on_failure,
            retry_attempts=retry_attempts,
            max_event_age=max_event_age,
        )
        if database == "proxy":
            self._data.allow_from(security_group, f"rmm-alerts {spec.folder}")
        else:
            self._data.allow_direct(security_group, f"rmm-alerts {spec.folder}")
        acknowledge(role, "AwsSolutions-IAM5", _XRAY_REASON, "Resource::*")
        runtime_reason = (
            f"Pinned on purpose to {c.RUNTIME.name}: the layer's compiled wheels (pydantic-core, "
            "psycopg-binary, google-re2) are built for this one runtime, shared by the layer and every "
            "function; moving to a newer runtime is a deliberate change of infra/constants.py."
        )
        acknowledge(fn, "AwsSolutions-L1", runtime_reason)
        acknowledge(fn, "Serverless-LambdaLatestVersion", runtime_reason)
        acknowledge(fn, "Serverless-LambdaDLQ", _DLQ_REASONS[spec.folder])
        return fn

    def _read_integration_secrets(self, fn: lambda_.Function, arn: str) -> None:
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
            f"under this stack's {self.secret_prefix} prefix; read access is scoped to that prefix.",
            arn_finding("secretsmanager", f"secret:{self.secret_prefix}*"),
        )

    @staticmethod
    def _role(fn: lambda_.Function) -> iam.IRole:
        if fn.role is None:
            raise RuntimeError(f"{fn.node.path} has no role")
        return fn.role
