"""The admin UI: its static files (``ui/dist``) in a private S3 bucket behind CloudFront (origin
access control), and a ``config.json`` written at deploy time with the API URL, the Cognito
hosted-UI domain and the app client id. The stack adds the CloudFront URL to the app client's
callback/logout URLs and to the API's CORS origins."""

from __future__ import annotations

from aws_cdk import Duration, RemovalPolicy, Stack
from aws_cdk import aws_cloudfront as cloudfront
from aws_cdk import aws_cloudfront_origins as origins
from aws_cdk import aws_iam as iam
from aws_cdk import aws_logs as logs
from aws_cdk import aws_s3 as s3
from aws_cdk import aws_s3_assets as s3_assets
from aws_cdk import aws_s3_deployment as s3deploy
from constructs import Construct

from infra.constants import REPO_ROOT
from infra.nag import acknowledge

UI_DIST = REPO_ROOT / "ui" / "dist"


def content_security_policy(api_origin: str, cognito_origin: str) -> str:
    """Scripts and styles only from the site; API and token calls only to the stack's own API and
    Cognito domain; never framed."""
    return (
        "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        f"connect-src 'self' {api_origin} {cognito_origin}; "
        f"form-action 'self' {cognito_origin}; frame-ancestors 'none'; base-uri 'none'; object-src 'none'"
    )


class AdminUi(Construct):
    """Bucket + distribution first (the URL feeds Cognito and CORS), then :meth:`publish`."""

    def __init__(self, scope: Construct, construct_id: str) -> None:
        super().__init__(scope, construct_id)
        if not (UI_DIST / "index.html").is_file():
            raise FileNotFoundError(f"{UI_DIST} is not built: run scripts/bootstrap (or cd ui && npm run build)")
        self.bucket = s3.Bucket(
            self,
            "Site",
            block_public_access=s3.BlockPublicAccess.BLOCK_ALL,
            encryption=s3.BucketEncryption.S3_MANAGED,
            enforce_ssl=True,
            object_ownership=s3.ObjectOwnership.BUCKET_OWNER_ENFORCED,
            versioned=False,
            # Rebuilt from ui/dist on every deploy: nothing in it is data.
            removal_policy=RemovalPolicy.DESTROY,
        )
        self._headers: cloudfront.ResponseHeadersPolicy | None = None
        self.distribution = cloudfront.Distribution(
            self,
            "Distribution",
            comment=f"{Stack.of(self).stack_name} admin UI",
            default_root_object="index.html",
            default_behavior=cloudfront.BehaviorOptions(
                origin=origins.S3BucketOrigin.with_origin_access_control(self.bucket),
                viewer_protocol_policy=cloudfront.ViewerProtocolPolicy.REDIRECT_TO_HTTPS,
                cache_policy=cloudfront.CachePolicy.CACHING_OPTIMIZED,
                response_headers_policy=self._response_headers(),
            ),
            http_version=cloudfront.HttpVersion.HTTP2_AND_3,
            price_class=cloudfront.PriceClass.PRICE_CLASS_100,
        )
        self.url = f"https://{self.distribution.distribution_domain_name}"
        self._acknowledge()

    def _response_headers(self) -> cloudfront.ResponseHeadersPolicy:
        # The CSP names the API and Cognito origins, known only once they exist: see publish().
        self._headers = cloudfront.ResponseHeadersPolicy(
            self,
            "SecurityHeaders",
            security_headers_behavior=cloudfront.ResponseSecurityHeadersBehavior(
                content_type_options=cloudfront.ResponseHeadersContentTypeOptions(override=True),
                frame_options=cloudfront.ResponseHeadersFrameOptions(
                    frame_option=cloudfront.HeadersFrameOption.DENY, override=True
                ),
                referrer_policy=cloudfront.ResponseHeadersReferrerPolicy(
                    referrer_policy=cloudfront.HeadersReferrerPolicy.NO_REFERRER, override=True
                ),
                strict_transport_security=cloudfront.ResponseHeadersStrictTransportSecurity(
                    access_control_max_age=Duration.days(365), include_subdomains=True, override=True
                ),
            ),
        )
        return self._headers

    def publish(self, *, api_url: str, cognito_domain: str, client_id: str, api_origin: str) -> None:
        """Upload ui/dist and config.json (deploy-time values), invalidate the cache, set the CSP."""
        assert self._headers is not None
        cfn = self._headers.node.default_child
        assert isinstance(cfn, cloudfront.CfnResponseHeadersPolicy)
        cfn.add_property_override(
            "ResponseHeadersPolicyConfig.SecurityHeadersConfig.ContentSecurityPolicy",
            {"ContentSecurityPolicy": content_security_policy(api_origin, cognito_domain), "Override": True},
        )
        files = s3_assets.Asset(self, "Files", path=str(UI_DIST), exclude=[".built-*"])
        role = self._deploy_role(files)
        deployment = s3deploy.BucketDeployment(
            self,
            "Deploy",
            sources=[
                s3deploy.Source.bucket(files.bucket, files.s3_object_key),
                s3deploy.Source.json_data(
                    "config.json",
                    {"mode": "cognito", "apiUrl": api_url, "cognitoDomain": cognito_domain, "clientId": client_id},
                ),
            ],
            destination_bucket=self.bucket,
            distribution=self.distribution,
            distribution_paths=["/*"],
            prune=True,
            memory_limit=256,
            # Our own least-privilege role (CDK's default grants wildcard actions); immutable, so the
            # construct's own grants do not widen it.
            role=role.without_policy_updates(),
            log_group=self._deploy_logs,
        )
        # The role's permissions are a policy of their own: the copy must not start before it is
        # attached (nothing else orders the two, and an early copy fails with AccessDenied).
        deployment.node.add_dependency(self.deploy_policy)
        # The handler is a stack-level singleton function named after the deployment's settings.
        handler = next(
            child for child in Stack.of(self).node.children if child.node.id.startswith("Custom::CDKBucketDeployment")
        )
        acknowledge(
            handler,
            "AwsSolutions-L1",
            "CDK's BucketDeployment handler (a singleton CDK maintains) picks its own runtime; it runs "
            "only during deployments, to copy the UI's files.",
        )
        for rule_id, reason in (
            (
                "Serverless-LambdaDLQ",
                "CloudFormation invokes CDK's BucketDeployment handler synchronously as a custom resource: a "
                "failure fails (and rolls back) the deploy, so a dead-letter queue would never receive anything.",
            ),
            (
                "Serverless-LambdaTracing",
                "CDK's BucketDeployment handler only copies the UI's files during a deploy; its logs (own log "
                "group) say all there is, and CDK offers no tracing setting for this singleton.",
            ),
            (
                "Serverless-LambdaLatestVersion",
                "CDK's BucketDeployment handler (a singleton CDK maintains) picks its own runtime.",
            ),
        ):
            acknowledge(handler, rule_id, reason)

    def _deploy_role(self, files: s3_assets.Asset) -> iam.Role:
        """What the deployment handler needs: read the staged assets, write the site bucket,
        invalidate this distribution, write its own log group."""
        self._deploy_logs = logs.LogGroup(
            self, "DeployLogs", retention=logs.RetentionDays.ONE_MONTH, removal_policy=RemovalPolicy.DESTROY
        )
        role = iam.Role(
            self,
            "DeployRole",
            assumed_by=iam.ServicePrincipal("lambda.amazonaws.com"),
            description="Copies the admin UI's files into its bucket at deploy time",
        )
        distribution_arn = Stack.of(self).format_arn(
            service="cloudfront",
            region="",
            resource="distribution",
            resource_name=self.distribution.distribution_id,
        )
        statements = [
            iam.PolicyStatement(actions=["s3:GetObject"], resources=[files.bucket.arn_for_objects("*")]),
            iam.PolicyStatement(actions=["s3:ListBucket"], resources=[self.bucket.bucket_arn]),
            iam.PolicyStatement(
                actions=["s3:GetObject", "s3:PutObject", "s3:DeleteObject"],
                resources=[self.bucket.arn_for_objects("*")],
            ),
            iam.PolicyStatement(
                actions=["cloudfront:CreateInvalidation", "cloudfront:GetInvalidation"], resources=[distribution_arn]
            ),
            iam.PolicyStatement(
                actions=["logs:CreateLogStream", "logs:PutLogEvents"],
                resources=[f"{self._deploy_logs.log_group_arn}"],
            ),
        ]
        policy = iam.Policy(self, "DeployPolicy", statements=statements)
        role.attach_inline_policy(policy)
        self.deploy_policy = policy
        acknowledge(
            policy,
            "AwsSolutions-IAM5",
            "The deployment handler copies every file of the UI: it reads the CDK staging bucket's "
            "objects (asset keys are content hashes, known only at synthesis) and writes any object of "
            "the UI's own bucket.",
            "Resource::<AdminUiSite33363F84.Arn>/*",
            "Resource::arn:<AWS::Partition>:s3:::cdk-hnb659fds-assets-<AWS::AccountId>-<AWS::Region>/*",
        )
        return role

    def _acknowledge(self) -> None:
        acknowledge(
            self.bucket,
            "AwsSolutions-S1",
            "The bucket holds only the UI's public build output, replaced on every deploy; reads go "
            "through CloudFront (origin access control), whose requests are the record that matters.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR1",
            "The admin UI is static files with no data; who may use it is decided by Cognito sign-in "
            "and the API's authorizer, not by the viewer's country.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR2",
            "No WAF in front of static files holding no data; the API they call is throttled and "
            "behind Cognito. A WebACL can be attached to the distribution without changing the stack.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR3",
            "Access logs of static UI files would need a log bucket with ACLs for little value; the "
            "API's access log records every call the UI makes.",
        )
        acknowledge(
            self.distribution,
            "AwsSolutions-CFR4",
            "Uses the default *.cloudfront.net certificate (no custom domain), for which CloudFront "
            "fixes the viewer TLS policy; the minimum protocol is TLSv1.2_2021 once a domain is set.",
        )
