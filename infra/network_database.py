"""Network and data: VPC with NAT egress, Aurora PostgreSQL Serverless v2 behind RDS Proxy.

The functions reach the database only through the proxy, with IAM authentication as the
application role ``rmm_app`` (DML only): no password in any function, so rotating a secret can
never lock them out. The proxy logs in to Aurora with ``rmm_app``'s generated secret (the one
secret registered with it, so nobody can use the proxy as the owner). Only ``migrate`` uses the
owner's rotated secret, on a direct connection to the writer (migrations need a real session).
"""

from __future__ import annotations

import json

from aws_cdk import Aws, Fn, RemovalPolicy, Stack
from aws_cdk import aws_ec2 as ec2
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds
from aws_cdk import aws_secretsmanager as secretsmanager
from constructs import Construct

from infra import constants as c
from infra.nag import acknowledge
from infra.stack_config import StackConfig

SUBNET_PUBLIC = "public"
SUBNET_APP = "app"  # Lambda functions: private, egress through NAT
SUBNET_DATA = "data"  # database and proxy: isolated


class NetworkAndDatabase(Construct):
    """VPC (public / private-with-NAT / isolated subnets), the Aurora cluster and its proxy."""

    def __init__(self, scope: Construct, construct_id: str, *, config: StackConfig) -> None:
        super().__init__(scope, construct_id)

        self.vpc = ec2.Vpc(
            self,
            "Vpc",
            ip_addresses=ec2.IpAddresses.cidr(c.VPC_CIDR),
            max_azs=c.VPC_MAX_AZS,
            nat_gateways=config.nat_gateways,
            subnet_configuration=[
                ec2.SubnetConfiguration(
                    name=SUBNET_PUBLIC, subnet_type=ec2.SubnetType.PUBLIC, cidr_mask=c.VPC_PUBLIC_CIDR_MASK
                ),
                ec2.SubnetConfiguration(
                    name=SUBNET_APP, subnet_type=ec2.SubnetType.PRIVATE_WITH_EGRESS, cidr_mask=c.VPC_APP_CIDR_MASK
                ),
                ec2.SubnetConfiguration(
                    name=SUBNET_DATA, subnet_type=ec2.SubnetType.PRIVATE_ISOLATED, cidr_mask=c.VPC_DATA_CIDR_MASK
                ),
            ],
        )
        flow_log_group = logs.LogGroup(
            self,
            "FlowLogs",
            retention=c.FLOW_LOG_RETENTION,
            removal_policy=RemovalPolicy.DESTROY,
        )
        self.vpc.add_flow_log(
            "FlowLog",
            destination=ec2.FlowLogDestination.to_cloud_watch_logs(flow_log_group),
            traffic_type=ec2.FlowLogTrafficType.REJECT,
        )
        self.app_subnets = ec2.SubnetSelection(subnet_group_name=SUBNET_APP)
        data_subnets = ec2.SubnetSelection(subnet_group_name=SUBNET_DATA)

        # Functions get one security group each (see compute.py); the proxy admits them one by one.
        parameter_group = rds.ParameterGroup(
            self,
            "ClusterParameters",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=c.DB_ENGINE_VERSION),
            description="rmm-alerts: TLS only, slow statements logged",
            parameters={
                "rds.force_ssl": "1",
                "log_min_duration_statement": str(c.DB_LOG_MIN_DURATION_MS),
                "log_statement": "ddl",
            },
        )
        removal = RemovalPolicy.SNAPSHOT if config.retain_data else RemovalPolicy.DESTROY
        # The cluster's PostgreSQL log group is created here, with its retention, before the cluster
        # (RDS would otherwise create it without retention, or CDK would need a LogRetention Lambda).
        # Its name follows the cluster identifier, which ends in this stack instance's id: a log
        # group kept by an earlier (destroyed or rolled-back) stack of the same name never collides.
        cluster_identifier = cluster_identifier_for(Stack.of(self).stack_name)
        postgres_logs = logs.LogGroup(
            self,
            "PostgresLogs",
            log_group_name=Fn.join("", ["/aws/rds/cluster/", cluster_identifier, "/postgresql"]),
            retention=c.DB_LOG_RETENTION,
            removal_policy=config.log_removal,
        )
        self.cluster = rds.DatabaseCluster(
            self,
            "Cluster",
            engine=rds.DatabaseClusterEngine.aurora_postgres(version=c.DB_ENGINE_VERSION),
            cluster_identifier=cluster_identifier,
            credentials=rds.Credentials.from_generated_secret(
                c.DB_ADMIN_USER, exclude_characters=c.DB_SECRET_EXCLUDE_CHARACTERS
            ),
            default_database_name=c.DB_NAME,
            parameter_group=parameter_group,
            writer=rds.ClusterInstance.serverless_v2("Writer", enable_performance_insights=True),
            readers=[
                rds.ClusterInstance.serverless_v2(
                    f"Reader{i + 1}", scale_with_writer=True, enable_performance_insights=True
                )
                for i in range(config.db_readers)
            ],
            serverless_v2_min_capacity=c.DB_MIN_ACU,
            serverless_v2_max_capacity=c.DB_MAX_ACU,
            vpc=self.vpc,
            vpc_subnets=data_subnets,
            port=c.DB_PORT,
            storage_encrypted=True,
            iam_authentication=True,
            backup=rds.BackupProps(retention=c.DB_BACKUP_RETENTION, preferred_window=c.DB_BACKUP_WINDOW),
            preferred_maintenance_window=c.DB_MAINTENANCE_WINDOW,
            copy_tags_to_snapshot=True,
            deletion_protection=config.retain_data,
            removal_policy=removal,
            cloudwatch_logs_exports=["postgresql"],
        )
        self.cluster.node.add_dependency(postgres_logs)
        secret = self.cluster.secret
        if secret is None:  # from_generated_secret always creates one
            raise RuntimeError("the cluster has no credentials secret")
        self.secret: secretsmanager.ISecret = secret
        # Rotation runs in the app subnets: it needs Secrets Manager's endpoint (through NAT).
        self.cluster.add_rotation_single_user(
            automatically_after=c.DB_SECRET_ROTATION,
            vpc_subnets=self.app_subnets,
            exclude_characters=c.DB_SECRET_EXCLUDE_CHARACTERS,
        )
        # rmm_app's password: read by the proxy (to log in to Aurora) and by migrate, which sets the
        # role's password from it on every deploy. Not rotated (see _suppress).
        self.app_secret = secretsmanager.Secret(
            self,
            "AppDbSecret",
            description=f"rmm-alerts: password of the database role {c.DB_APP_USER} (used by RDS Proxy)",
            generate_secret_string=secretsmanager.SecretStringGenerator(
                secret_string_template=json.dumps({"username": c.DB_APP_USER}),
                generate_string_key="password",
                exclude_characters=c.DB_SECRET_EXCLUDE_CHARACTERS,
                password_length=40,
            ),
            removal_policy=RemovalPolicy.DESTROY,
        )

        self.proxy = self.cluster.add_proxy(
            "Proxy",
            secrets=[self.app_secret],
            vpc=self.vpc,
            vpc_subnets=data_subnets,
            require_tls=True,
            iam_auth=True,  # functions present an IAM token for rmm_app; no password leaves the proxy
            debug_logging=False,
            borrow_timeout=c.PROXY_BORROW_TIMEOUT,
            idle_client_timeout=c.PROXY_IDLE_CLIENT_TIMEOUT,
            max_connections_percent=c.PROXY_MAX_CONNECTIONS_PERCENT,
        )
        self.cluster.connections.allow_default_port_from(self.proxy, "RDS Proxy to Aurora")

        self._suppress(config)

    def allow_from(self, peer: ec2.IConnectable, description: str) -> None:
        """Let ``peer`` (a function) reach the proxy on the database port."""
        self.proxy.connections.allow_from(peer, ec2.Port.tcp(c.DB_PORT), description)

    def allow_direct(self, peer: ec2.IConnectable, description: str) -> None:
        """Let ``peer`` (the migration function only) reach the cluster itself."""
        self.cluster.connections.allow_default_port_from(peer, description)

    def _suppress(self, config: StackConfig) -> None:
        acknowledge(
            self.app_secret,
            "AwsSolutions-SMG4",
            "rmm_app's password is only used between RDS Proxy and Aurora (the functions log in with "
            "IAM tokens) and migrate re-applies it to the role on every deploy; a rotation Lambda "
            "changing it between deploys would only add a way for the proxy to lose its login.",
        )
        acknowledge(
            self.cluster,
            "AwsSolutions-RDS11",
            "Clients only reach the cluster through RDS Proxy, which listens on the engine's default "
            "port; the cluster sits in isolated subnets and admits only the proxy's and the rotation "
            "function's security groups. A non-default port adds nothing.",
        )
        if not config.retain_data:
            acknowledge(
                self.cluster,
                "AwsSolutions-RDS10",
                "Deletion protection is off because this deployment was explicitly made with "
                "-c retainData=false (a disposable, non-production stack).",
            )


def stack_instance_suffix() -> str:
    """12 hex digits of this stack instance's id: stable for the stack's life, new for a stack
    created again under the same name, so a retained resource named with it is never in the way."""
    stack_uuid = Fn.select(2, Fn.split("/", Aws.STACK_ID))
    return Fn.select(4, Fn.split("-", stack_uuid))


def cluster_identifier_for(stack_name: str) -> str:
    """``<stack>-db-<stack_instance_suffix()>``."""
    return Fn.join("-", [stack_name.lower()[:40], "db", stack_instance_suffix()])
