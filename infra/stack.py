"""The service stack: composes one construct per capability, nothing else."""

from __future__ import annotations

import dataclasses
from typing import Any

from aws_cdk import CfnOutput, Fn, Stack, Tags
from constructs import Construct

from infra import constants as c
from infra.admin_ui import AdminUi
from infra.api_auth import WEBHOOK_ROUTES, ApiAndAuth
from infra.compute import LayerAndFunctions
from infra.events_schedules import EventsAndSchedules
from infra.firewall import ApiFirewall
from infra.monitoring import Monitoring
from infra.network_database import NetworkAndDatabase
from infra.stack_config import StackConfig


class RmmAlertsStack(Stack):
    """RMM webhooks -> alerts -> PSA tickets."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig, **kwargs: Any) -> None:
        super().__init__(scope, construct_id, **kwargs)
        # DBProxyTargetGroup takes no Tags in CloudFormation (cfn validation F3002).
        Tags.of(self).add("service", c.SERVICE_NAME, exclude_resource_types=["AWS::RDS::DBProxyTargetGroup"])

        self.data = NetworkAndDatabase(self, "Data", config=config)
        self.events = EventsAndSchedules(self, "Events", config=config)
        self.functions = LayerAndFunctions(self, "Functions", config=config, data=self.data, events=self.events)
        # The admin UI's URL is a Cognito callback/logout URL and an allowed CORS origin of /v1.
        self.admin_ui = AdminUi(self, "AdminUi")
        ui_url = self.admin_ui.url
        api_config = dataclasses.replace(
            config,
            callback_urls=(f"{ui_url}/", *config.callback_urls),
            logout_urls=(f"{ui_url}/", *config.logout_urls),
            admin_ui_origins=(ui_url, *config.admin_ui_origins),
        )
        self.api = ApiAndAuth(
            self,
            "ApiAuth",
            config=api_config,
            webhook_functions={
                "webhook_ninjaone": self.functions.webhook_ninjaone,
                "webhook_tactical": self.functions.webhook_tactical,
            },
            rules_api=self.functions.rules_api,
        )
        self.functions.set_api_base_url(self.api.base_url)
        self.firewall = ApiFirewall(
            self,
            "Firewall",
            stage=self.api.api.deployment_stage,
            log_removal=config.log_removal,
        )
        self.functions.rules_api.add_environment("ADMIN_UI_ORIGINS", Fn.join(",", list(api_config.admin_ui_origins)))
        self.admin_ui.publish(
            api_url=self.api.base_url,
            cognito_domain=self.api.domain.base_url(),
            client_id=self.api.client.user_pool_client_id,
            api_origin=self.api.public_origin,
        )
        self.monitoring = Monitoring(
            self,
            "Monitoring",
            config=config,
            functions=[
                ("WebhookNinjaOne", self.functions.webhook_ninjaone),
                ("WebhookTactical", self.functions.webhook_tactical),
                ("RulesApi", self.functions.rules_api),
                ("Poller", self.functions.poller),
                ("TicketClosed", self.functions.ticket_closed),
                ("Outbox", self.functions.outbox),
            ],
            dlq=self.events.dlq,
            api=self.api.api,
            access_logs=self.api.access_logs,
            # The NinjaOne UI-channel route too: a tenant may use nothing else.
            webhook_resources=[
                *(f"/webhooks/{provider}/{{integrationId}}" for provider in WEBHOOK_ROUTES),
                "/webhooks/ninjaone/{integrationId}/{channelSecret}",
            ],
            web_acl=self.firewall.web_acl,
            cluster=self.data.cluster,
            proxy=self.data.proxy,
        )
        self.monitoring.add_outbox_alarms(self.functions.outbox_dlq)

        CfnOutput(self, "ApiBaseUrl", value=self.api.base_url, description="Base URL of the REST API")
        CfnOutput(self, "UserPoolId", value=self.api.user_pool.user_pool_id)
        CfnOutput(self, "AdminUiClientId", value=self.api.client.user_pool_client_id)
        CfnOutput(self, "HostedUiDomain", value=self.api.domain.base_url())
        CfnOutput(self, "AdminUiUrl", value=f"{ui_url}/", description="The admin UI (signs in with the hosted UI)")
        CfnOutput(self, "EventBusName", value=self.events.bus.event_bus_name)
        CfnOutput(self, "ScheduleGroupName", value=self.events.schedule_group.schedule_group_name)
        CfnOutput(self, "DbProxyEndpoint", value=self.data.proxy.endpoint)
        CfnOutput(self, "DbSecretArn", value=self.data.secret.secret_arn, description="Owner credentials (migrate)")
        CfnOutput(
            self, "AppDbSecretArn", value=self.data.app_secret.secret_arn, description="rmm_app's password (RDS Proxy)"
        )
        CfnOutput(self, "IntegrationSecretPrefix", value=self.functions.secret_prefix)
        CfnOutput(self, "WebAclArn", value=self.firewall.web_acl.attr_arn)
        CfnOutput(self, "DashboardName", value=self.monitoring.dashboard.dashboard_name)
        CfnOutput(self, "MigrateFunctionName", value=self.functions.migrate.function_name)
        CfnOutput(self, "AlarmTopicArn", value=self.monitoring.topic.topic_arn)
