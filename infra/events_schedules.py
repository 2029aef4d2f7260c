"""Events and schedules: the PSA's event bus, the TICKET_CLOSED rule and its DLQ, poll schedules."""

from __future__ import annotations

from aws_cdk import RemovalPolicy, Stack
from aws_cdk import aws_events as events
from aws_cdk import aws_events_targets as targets
from aws_cdk import aws_iam as iam
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_scheduler as scheduler
from aws_cdk import aws_sqs as sqs
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge
from infra.stack_config import StackConfig


class EventsAndSchedules(Construct):
    """The event bus (the PSA's, or a new one), the DLQ, the poll schedule group and its role.

    Created before the functions (they need the names and ARNs); the stack then connects the
    functions with :meth:`route_ticket_closed` and :meth:`allow_schedules_to_invoke`.
    """

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)

        self.bus: events.IEventBus
        if config.psa_event_bus_name:
            self.bus = events.EventBus.from_event_bus_name(self, "PsaBus", config.psa_event_bus_name)
        else:
            self.bus = events.EventBus(self, "Bus", description="PSA and rmm-alerts events")

        self.dlq = sqs.Queue(
            self,
            "TicketClosedDlq",
            encryption=sqs.QueueEncryption.SQS_MANAGED,
            enforce_ssl=True,
            retention_period=c.DLQ_RETENTION,
        )
        acknowledge(
            self.dlq,
            "AwsSolutions-SQS3",
            "This queue is itself the dead-letter queue of the TICKET_CLOSED rule target and of "
            "ticket_closed's asynchronous invocations (cdk-nag only recognises SQS and Lambda "
            "event-source redrive as DLQ use).",
        )
        acknowledge(
            self.dlq,
            "Serverless-SQSRedrivePolicy",
            "This queue is the dead-letter queue (of the TICKET_CLOSED rule target and of ticket_closed's "
            "async invocations); nothing consumes it automatically, so a redrive policy has nothing to "
            "protect. Operators redrive it by hand (docs/deploy.md).",
        )

        self.schedule_group = scheduler.ScheduleGroup(
            self,
            "PollSchedules",
            schedule_group_name=f"{stack.stack_name}{c.SCHEDULE_GROUP_SUFFIX}",
            removal_policy=RemovalPolicy.DESTROY,
        )
        group_arn = stack.format_arn(
            service="scheduler", resource="schedule-group", resource_name=self.schedule_group.schedule_group_name
        )
        # Schedules created by rules_api in that group run as this role (confused-deputy guarded).
        self.scheduler_role = iam.Role(
            self,
            "SchedulerRole",
            description="EventBridge Scheduler: invoke the rmm-alerts poller",
            assumed_by=iam.ServicePrincipal(
                "scheduler.amazonaws.com",
                conditions={
                    "StringEquals": {"aws:SourceAccount": stack.account},
                    "ArnEquals": {"aws:SourceArn": group_arn},
                },
            ),
        )

    def route_ticket_closed(self, fn: lambda_.IFunction) -> events.Rule:
        """TICKET_CLOSED events on the bus go to ``fn``, with retries and the DLQ."""
        return events.Rule(
            self,
            "TicketClosedRule",
            description="PSA TICKET_CLOSED -> ticket_closed",
            event_bus=self.bus,
            # The service's own TICKET_CLOSED (it closed the ticket itself) needs no RMM reset.
            event_pattern=events.EventPattern(
                detail_type=[c.TICKET_CLOSED_DETAIL_TYPE],
                source=events.Match.anything_but(c.EVENT_SOURCE),
            ),
            targets=[
                targets.LambdaFunction(
                    fn,
                    dead_letter_queue=self.dlq,
                    retry_attempts=c.TICKET_CLOSED_RETRY_ATTEMPTS,
                    max_event_age=c.TICKET_CLOSED_MAX_EVENT_AGE,
                )
            ],
        )

    def allow_schedules_to_invoke(self, fn: lambda_.IFunction) -> None:
        """The schedule role may invoke ``fn`` (the unqualified ARN the schedules target), nothing else."""
        self.scheduler_role.add_to_policy(
            iam.PolicyStatement(sid="InvokePoller", actions=["lambda:InvokeFunction"], resources=[fn.function_arn])
        )
