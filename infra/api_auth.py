"""API and auth: the REST API (webhooks and /v1) and the Cognito user pool of the admins."""

from __future__ import annotations

from aws_cdk import Aws, CfnCondition, CfnOutput, CfnParameter, CfnRule, CfnRuleAssertion, Fn, RemovalPolicy, Stack
from aws_cdk import aws_apigateway as apigw
from aws_cdk import aws_cognito as cognito
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge
from infra.stack_config import StackConfig

WEBHOOK_ROUTES = {"ninjaone": "webhook_ninjaone", "tacticalrmm": "webhook_tactical"}


class ApiAndAuth(Construct):
    """Cognito user pool + app client + hosted domain, and the REST API in front of the functions."""

    def __init__(
        self,
        scope: Construct,
        construct_id: str,
        *,
        config: StackConfig,
        webhook_functions: dict[str, lambda_.IFunction],
        rules_api: lambda_.IFunction,
    ) -> None:
        super().__init__(scope, construct_id)
        stack = Stack.of(self)
        # The user pool has deletion protection, which would stop CloudFormation deleting it even in
        # the rollback of a failed first deploy: it is plainly retained (it has no fixed name, so a
        # leftover pool is never in the way of the next deploy). Log groups are kept on delete but
        # removed when their creation is rolled back.
        removal = RemovalPolicy.RETAIN if config.retain_data else RemovalPolicy.DESTROY
        log_removal = config.log_removal

        # --- Cognito ------------------------------------------------------------------------
        self.user_pool = cognito.UserPool(
            self,
            "Admins",
            self_sign_up_enabled=False,
            sign_in_aliases=cognito.SignInAliases(email=True),
            sign_in_case_sensitive=False,
            auto_verify=cognito.AutoVerifiedAttrs(email=True),
            standard_attributes=cognito.StandardAttributes(
                email=cognito.StandardAttribute(required=True, mutable=True)
            ),
            # Set by an operator (admin-create-user); no app client may write it (see below).
            custom_attributes={c.TENANT_ATTRIBUTE: cognito.StringAttribute(min_len=36, max_len=36, mutable=True)},
            password_policy=cognito.PasswordPolicy(
                min_length=c.USER_PASSWORD_MIN_LENGTH,
                require_lowercase=True,
                require_uppercase=True,
                require_digits=True,
                require_symbols=True,
            ),
            mfa=cognito.Mfa.REQUIRED,
            mfa_second_factor=cognito.MfaSecondFactor(otp=True, sms=False),
            account_recovery=cognito.AccountRecovery.EMAIL_ONLY,
            feature_plan=cognito.FeaturePlan.PLUS,
            standard_threat_protection_mode=cognito.StandardThreatProtectionMode.FULL_FUNCTION,
            deletion_protection=config.retain_data,
            removal_policy=removal,
        )
        self.admin_group = cognito.UserPoolGroup(
            self,
            "AdminGroup",
            user_pool=self.user_pool,
            group_name=c.ADMIN_GROUP,
            description="rmm-alerts administrators: may change integrations, rules and mappings",
        )
        # Per stack (staging and production in one account each get their own hosted UI domain).
        domain_prefix = config.cognito_domain_prefix or Fn.join("-", [stack.stack_name.lower(), Aws.ACCOUNT_ID])
        self.domain = self.user_pool.add_domain(
            "HostedDomain", cognito_domain=cognito.CognitoDomainOptions(domain_prefix=domain_prefix)
        )
        self.client = self.user_pool.add_client(
            "AdminUi",
            user_pool_client_name="rmm-alerts-admin-ui",
            generate_secret=False,  # a public (browser) client: authorization code + PKCE
            # admin_user_password: only callable with IAM credentials (AdminInitiateAuth), for the
            # ID token scripts/smoke uses after a deploy (docs/deploy.md); never from a browser.
            auth_flows=cognito.AuthFlow(user_srp=True, admin_user_password=True),
            o_auth=cognito.OAuthSettings(
                flows=cognito.OAuthFlows(authorization_code_grant=True, implicit_code_grant=False),
                scopes=[cognito.OAuthScope.OPENID, cognito.OAuthScope.EMAIL, cognito.OAuthScope.PROFILE],
                callback_urls=list(config.callback_urls),
                logout_urls=list(config.logout_urls),
            ),
            supported_identity_providers=[cognito.UserPoolClientIdentityProvider.COGNITO],
            prevent_user_existence_errors=True,
            enable_token_revocation=True,
            id_token_validity=c.ID_TOKEN_VALIDITY,
            access_token_validity=c.ACCESS_TOKEN_VALIDITY,
            refresh_token_validity=c.REFRESH_TOKEN_VALIDITY,
            read_attributes=cognito.ClientAttributes()
            .with_standard_attributes(email=True, email_verified=True, fullname=True)
            .with_custom_attributes(c.TENANT_ATTRIBUTE),
            # custom:tenant_id is deliberately absent: users cannot move themselves to another tenant.
            write_attributes=cognito.ClientAttributes().with_standard_attributes(email=True, fullname=True),
        )

        # --- REST API -----------------------------------------------------------------------
        self.access_logs = logs.LogGroup(self, "AccessLogs", retention=c.LOG_RETENTION, removal_policy=log_removal)
        webhook_throttle = apigw.MethodDeploymentOptions(
            throttling_rate_limit=c.WEBHOOK_RATE_LIMIT, throttling_burst_limit=c.WEBHOOK_BURST_LIMIT
        )
        self.api = apigw.RestApi(
            self,
            "Api",
            rest_api_name=f"{stack.stack_name}-api",
            description="rmm-alerts: RMM webhooks and the admin API",
            endpoint_types=[apigw.EndpointType.REGIONAL],
            cloud_watch_role=True,
            cloud_watch_role_removal_policy=RemovalPolicy.RETAIN,
            deploy_options=apigw.StageOptions(
                stage_name=c.API_STAGE_NAME,
                throttling_rate_limit=c.API_RATE_LIMIT,
                throttling_burst_limit=c.API_BURST_LIMIT,
                # API Gateway's X-Ray segments record the request URL, and the NinjaOne UI-channel
                # URL carries its secret in the path: the functions trace themselves instead.
                tracing_enabled=False,
                metrics_enabled=True,
                logging_level=apigw.MethodLoggingLevel.ERROR,
                data_trace_enabled=False,  # never log request or response bodies
                access_log_destination=apigw.LogGroupLogDestination(self.access_logs),
                # Standard fields only: request metadata, never bodies or headers.
                access_log_format=apigw.AccessLogFormat.json_with_standard_fields(
                    caller=False,
                    http_method=True,
                    ip=True,
                    protocol=True,
                    request_time=True,
                    resource_path=True,
                    response_length=True,
                    status=True,
                    user=True,
                ),
                method_options={
                    **{f"/webhooks/{provider}/{{integrationId}}/POST": webhook_throttle for provider in WEBHOOK_ROUTES},
                    "/webhooks/ninjaone/{integrationId}/{channelSecret}/POST": webhook_throttle,
                },
            ),
        )
        acknowledge(
            self.api.deployment_stage,
            "Serverless-APIGWXrayEnabled",
            "API Gateway's X-Ray segments record the request URL, and the NinjaOne UI-channel URL "
            "carries its secret in the path; every function behind the API traces itself (active "
            "tracing), and the access log records the resource path template only.",
        )
        validator = self.api.add_request_validator(
            "Validator", validate_request_body=True, validate_request_parameters=True
        )

        # Webhooks: no authorizer, the handler checks X-Webhook-Secret.
        webhooks = self.api.root.add_resource("webhooks")
        self.webhook_methods: list[apigw.Method] = []
        for provider, key in WEBHOOK_ROUTES.items():
            resource = webhooks.add_resource(provider).add_resource("{integrationId}")
            method = resource.add_method(
                "POST",
                apigw.LambdaIntegration(webhook_functions[key]),
                authorization_type=apigw.AuthorizationType.NONE,
                request_validator=validator,
                request_parameters={"method.request.path.integrationId": True},
            )
            self.webhook_methods.append(method)
            methods = [method]
            if provider == "ninjaone":
                # NinjaOne UI notification channels send no header: the secret is the last path
                # segment. The access log records only the resource path template, never the secret.
                channel = resource.add_resource("{channelSecret}").add_method(
                    "POST",
                    apigw.LambdaIntegration(webhook_functions[key]),
                    authorization_type=apigw.AuthorizationType.NONE,
                    request_validator=validator,
                    request_parameters={
                        "method.request.path.integrationId": True,
                        "method.request.path.channelSecret": True,
                    },
                )
                self.webhook_methods.append(channel)
                methods.append(channel)
            for m in methods:
                acknowledge(
                    m,
                    "AwsSolutions-APIG4",
                    "RMM webhooks cannot obtain Cognito tokens; the handler authenticates each call with "
                    "the integration's X-Webhook-Secret or channel secret (401 otherwise); WAF limits it per "
                    "source and per integration path (infra/firewall.py).",
                )
                acknowledge(
                    m,
                    "AwsSolutions-COG4",
                    "RMM webhooks cannot obtain Cognito tokens; authenticated by the handler with the "
                    "integration's webhook secret.",
                )

        # Admin API: every method behind the Cognito authorizer.
        self.authorizer = apigw.CognitoUserPoolsAuthorizer(
            self,
            "AdminAuthorizer",
            cognito_user_pools=[self.user_pool],
            identity_source="method.request.header.Authorization",
        )
        admin_options = apigw.MethodOptions(
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=validator,
        )
        cors = (
            apigw.CorsOptions(
                allow_origins=list(config.admin_ui_origins),
                allow_methods=["GET", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"],
                allow_headers=["Authorization", "Content-Type"],
                allow_credentials=False,
            )
            if config.admin_ui_origins
            else None
        )
        integration = apigw.LambdaIntegration(rules_api)
        v1 = self.api.root.add_resource("v1", default_cors_preflight_options=cors)
        v1.add_method(
            "ANY",
            integration,
            authorizer=self.authorizer,
            authorization_type=apigw.AuthorizationType.COGNITO,
            request_validator=validator,
        )
        v1.add_proxy(default_integration=integration, any_method=True, default_method_options=admin_options)
        self._gateway_responses(config.admin_ui_origins[0] if config.admin_ui_origins else None)
        if config.admin_ui_origins:
            self._suppress_preflight(v1)

        self.execute_api_origin = Fn.join(
            "", ["https://", self.api.rest_api_id, ".execute-api.", Aws.REGION, ".", Aws.URL_SUFFIX]
        )
        self.execute_api_url = Fn.join("", [self.execute_api_origin, f"/{c.API_STAGE_NAME}"])
        self.base_url = self._custom_domain()
        acknowledge(
            self.api,
            "AwsSolutions-IAM4",
            "API Gateway's account-level CloudWatch role uses the AWS-managed "
            "AmazonAPIGatewayPushToCloudWatchLogs policy, which API Gateway requires for execution logs.",
            "Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs",
        )

    def _custom_domain(self) -> str:
        """Optional custom domain (stack parameters), so webhook URLs pasted into customers' RMMs
        survive replacing the API. Returns the public base URL: the domain when given, else the
        execute-api URL. Built from parameters, not from the stage, so there is no cycle with
        rules_api (which gets the URL)."""
        stack = Stack.of(self)
        self.domain_name_param = CfnParameter(
            stack,
            "CustomDomainName",
            type="String",
            default="",
            description="Optional: custom domain of the API (e.g. alerts.example.com); empty for none",
        )
        self.certificate_param = CfnParameter(
            stack,
            "CustomDomainCertificateArn",
            type="String",
            default="",
            description="ARN of an ACM certificate for CustomDomainName in this region (required with it)",
        )
        self.has_custom_domain = CfnCondition(
            stack,
            "HasCustomDomain",
            expression=Fn.condition_not(Fn.condition_equals(self.domain_name_param.value_as_string, "")),
        )
        CfnRule(
            stack,
            "CustomDomainNeedsCertificate",
            rule_condition=Fn.condition_not(Fn.condition_equals(self.domain_name_param.value_as_string, "")),
            assertions=[
                CfnRuleAssertion(
                    assert_=Fn.condition_not(Fn.condition_equals(self.certificate_param.value_as_string, "")),
                    assert_description="CustomDomainCertificateArn is required when CustomDomainName is set",
                )
            ],
        )
        domain = apigw.CfnDomainName(
            self,
            "CustomDomain",
            domain_name=self.domain_name_param.value_as_string,
            regional_certificate_arn=self.certificate_param.value_as_string,
            endpoint_configuration=apigw.CfnDomainName.EndpointConfigurationProperty(types=["REGIONAL"]),
            security_policy="TLS_1_2",
        )
        domain.cfn_options.condition = self.has_custom_domain
        mapping = apigw.CfnBasePathMapping(
            self,
            "CustomDomainMapping",
            domain_name=domain.ref,
            rest_api_id=self.api.rest_api_id,
            stage=self.api.deployment_stage.stage_name,
        )
        mapping.cfn_options.condition = self.has_custom_domain
        target = CfnOutput(
            stack,
            "CustomDomainTarget",
            value=domain.attr_regional_domain_name,
            description="Point a CNAME (or Route 53 alias) for CustomDomainName at this name",
        )
        target.condition = self.has_custom_domain
        custom = Fn.join("", ["https://", self.domain_name_param.value_as_string])
        # The origin browsers call the API at (the admin UI's CSP): the custom domain, else execute-api.
        self.public_origin = Fn.condition_if(
            self.has_custom_domain.logical_id, custom, self.execute_api_origin
        ).to_string()
        return Fn.condition_if(self.has_custom_domain.logical_id, custom, self.execute_api_url).to_string()

    def _gateway_responses(self, origin: str | None) -> None:
        """Errors API Gateway answers itself (authorizer 401/403, throttling 429, 413, 5xx) use the
        service's one error shape, ``{"errors": [{"path": "", "message": ...}]}``."""
        headers = {"Access-Control-Allow-Origin": f"'{origin}'", "Vary": "'Origin'"} if origin else None
        template = {"application/json": '{"errors": [{"path": "", "message": $context.error.messageString}]}'}
        for name, kind in (
            ("Default4xx", apigw.ResponseType.DEFAULT_4_XX),
            ("Default5xx", apigw.ResponseType.DEFAULT_5_XX),
        ):
            self.api.add_gateway_response(name, type=kind, response_headers=headers, templates=template)

    @staticmethod
    def _suppress_preflight(v1: apigw.Resource) -> None:
        reason = "CORS preflight (OPTIONS, mock integration): browsers send it without credentials."
        for resource in (v1, v1.node.find_child("{proxy+}")):
            options = resource.node.try_find_child("OPTIONS")
            if options is not None:
                acknowledge(options, "AwsSolutions-APIG4", reason)
                acknowledge(options, "AwsSolutions-COG4", reason)
