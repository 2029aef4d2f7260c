"""Names, sizes and limits of the stack, in one place.

Everything an operator might want to tune (memory, timeouts, concurrency, alarm thresholds,
database capacity) lives here; deploy-time choices (bus name, sender identity, data
retention, ...) are CDK context values, parsed in :mod:`infra.stack_config`.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import Final

from aws_cdk import Duration
from aws_cdk import aws_lambda as lambda_
from aws_cdk import aws_logs as logs
from aws_cdk import aws_rds as rds

# --------------------------------------------------------------------------------------------
# Repository layout
# --------------------------------------------------------------------------------------------
REPO_ROOT: Final = Path(__file__).resolve().parent.parent
PYPROJECT: Final = REPO_ROOT / "pyproject.toml"
CORE_LAYER_DIR: Final = REPO_ROOT / "layers" / "core"
CORE_PACKAGE_DIR: Final = CORE_LAYER_DIR / "python" / "rmm_alerts"
MIGRATIONS_DIR: Final = CORE_PACKAGE_DIR / "migrations"
FUNCTIONS_DIR: Final = REPO_ROOT / "functions"
LAYER_CACHE_DIR: Final = REPO_ROOT / ".layer-cache"

# --------------------------------------------------------------------------------------------
# Naming
# --------------------------------------------------------------------------------------------
DEFAULT_STACK_NAME: Final = "RmmAlerts"
SERVICE_NAME: Final = "rmm-alerts"
METRICS_NAMESPACE: Final = "RmmAlerts"
LOG_LEVEL: Final = "INFO"
EVENT_SOURCE: Final = "rmm-alerts"
TICKET_CLOSED_DETAIL_TYPE: Final = "TICKET_CLOSED"
ADMIN_GROUP: Final = "rmm-admin"
TENANT_ATTRIBUTE: Final = "tenant_id"  # Cognito exposes it as custom:tenant_id
# Integration credentials (created at run time by rules_api): one prefix per stack, so two stacks
# in one account (staging, production) can never read each other's secrets.
INTEGRATION_SECRET_PREFIX_TEMPLATE: Final = "rmm-alerts/{stack}/integrations/"
API_STAGE_NAME: Final = "prod"

# --------------------------------------------------------------------------------------------
# Lambda runtime: ONE runtime and ONE architecture, shared by the layer and every function.
# --------------------------------------------------------------------------------------------
RUNTIME: Final = lambda_.Runtime.PYTHON_3_13
ARCHITECTURE: Final = lambda_.Architecture.ARM_64
RUNTIME_PYTHON_VERSION: Final = "3.13"  # must match RUNTIME; used for `pip --python-version`
# Machine name of ARCHITECTURE as it appears in manylinux wheel tags.
RUNTIME_MACHINE: Final = "aarch64"
# Wheel platforms pip may choose for the layer (Lambda's Amazon Linux 2023 has glibc 2.34).
LAYER_PLATFORMS: Final = (f"manylinux2014_{RUNTIME_MACHINE}", f"manylinux_2_28_{RUNTIME_MACHINE}")


@dataclass(frozen=True)
class FunctionSpec:
    """Size of one function, chosen for its job."""

    folder: str
    description: str
    memory_mb: int
    timeout: Duration
    reserved_concurrency: int | None = None
    # The X-Ray SDK (Powertools Tracer, created on the first invocation) on top of Lambda's active
    # tracing. Off where the path makes no outbound call: the runtime's segment says it all.
    xray_sdk: bool = True


# API Gateway's REST integration timeout is 29 s: API-facing functions stay well below it.
# Sizes from scripts/bench (docs/performance.md). Lambda gives CPU in proportion to memory (one vCPU
# at 1,769 MB); every function's resident memory after import is 35-60 MiB, so memory buys CPU, not room.
# Webhooks, 1,024 MB (~0.6 vCPU): a cold import costs ~0.35 s of a whole core and an alert ~2 ms
# of the handler's CPU besides its round trips, so at 512 MB (~0.3 vCPU) every new instance in a storm would
# start in over a second. Reserved concurrency 20: one instance ingests ~300 alerts/s, so 20 drain
# a 5,000-alert storm in seconds while holding at most 20 proxy connections per provider.
WEBHOOK_NINJAONE: Final = FunctionSpec(
    "webhook_ninjaone",
    "NinjaOne webhook: authenticate, store and process an alert",
    1024,
    Duration.seconds(20),
    reserved_concurrency=20,
    xray_sdk=False,
)
WEBHOOK_TACTICAL: Final = FunctionSpec(
    "webhook_tactical",
    "TacticalRMM webhook: authenticate, store and process an alert",
    1024,
    Duration.seconds(20),
    reserved_concurrency=20,
    xray_sdk=False,
)
# 1,024 MB: its cold import (~0.5 s of a core: Powertools' request validation builds a pydantic
# model per route) and the X-Ray SDK on the first request are what an admin waits for.
RULES_API: Final = FunctionSpec("rules_api", "Admin API (/v1)", 1024, Duration.seconds(25))
POLLER: Final = FunctionSpec(
    "poller",
    "Polls one integration's RMM API on its schedule",
    # A 10k-alert cycle is Python work (parse, diff): ~1 s of a core here, so ~2 s at 1,024 MB.
    1024,
    Duration.minutes(2),
    # Each cycle holds one proxy connection; a 10k-alert no-op cycle takes seconds (docs/performance.md),
    # so 10 at once serve hundreds of integrations per 5-minute schedule. Throttled schedule
    # invocations are retried by EventBridge Scheduler, not lost.
    reserved_concurrency=10,
)
TICKET_CLOSED: Final = FunctionSpec(
    "ticket_closed", "Resets RMM alerts when their PSA ticket closes", 256, Duration.minutes(1)
)
MIGRATE: Final = FunctionSpec("migrate", "Applies pending database migrations", 512, Duration.minutes(5))
# Migrations may run long DDL: the statement timeout allowed by DatabaseSettings (max 120 s).
MIGRATE_STATEMENT_TIMEOUT_MS: Final = 120_000
# How long the deploy waits for the migration function (must cover MIGRATE.timeout).
MIGRATE_TRIGGER_TIMEOUT: Final = Duration.minutes(6)

LOG_RETENTION: Final = logs.RetentionDays.THREE_MONTHS

# --------------------------------------------------------------------------------------------
# Network and database
# --------------------------------------------------------------------------------------------
VPC_CIDR: Final = "10.40.0.0/16"
VPC_MAX_AZS: Final = 2
VPC_PUBLIC_CIDR_MASK: Final = 24
VPC_APP_CIDR_MASK: Final = 22  # room for many Lambda ENIs
VPC_DATA_CIDR_MASK: Final = 24
FLOW_LOG_RETENTION: Final = logs.RetentionDays.THREE_MONTHS
# 16.6 and older minors are deprecated for new clusters (cfn-lint W3690); minor upgrades are in place.
DB_ENGINE_VERSION: Final = rds.AuroraPostgresEngineVersion.VER_16_13
DB_NAME: Final = "rmm_alerts"
DB_ADMIN_USER: Final = "rmm_admin"  # owner: migrations only (DB_SECRET_ARN of migrate)
# The functions' role (DML only, created by a migration): IAM authentication to RDS Proxy; its
# password lives in a generated secret that the proxy uses and migrate sets on every deploy.
DB_APP_USER: Final = "rmm_app"
DB_SECRET_EXCLUDE_CHARACTERS: Final = " %+~`#$&*()|[]{}:;<>?!'/@\"\\"
DB_PORT: Final = 5432  # RDS Proxy always listens on the engine's default port
DB_MIN_ACU: Final = 0.5
DB_MAX_ACU: Final = 4.0
DB_BACKUP_RETENTION: Final = Duration.days(14)
DB_BACKUP_WINDOW: Final = "03:00-04:00"
DB_MAINTENANCE_WINDOW: Final = "Sun:04:30-Sun:05:30"
DB_SECRET_ROTATION: Final = Duration.days(30)
DB_LOG_RETENTION: Final = logs.RetentionDays.ONE_MONTH
DB_LOG_MIN_DURATION_MS: Final = 2000  # slow statements logged
PROXY_BORROW_TIMEOUT: Final = Duration.seconds(30)
PROXY_IDLE_CLIENT_TIMEOUT: Final = Duration.minutes(30)
PROXY_MAX_CONNECTIONS_PERCENT: Final = 90
USER_PASSWORD_MIN_LENGTH: Final = 12
SCHEDULE_GROUP_SUFFIX: Final = "-polls"  # the poll schedules' group: "<stack name>-polls"


@dataclass(frozen=True)
class CostProfile:
    """Layout choices that decide the idle cost (see docs/deploy.md for the arithmetic)."""

    nat_gateways: int
    db_readers: int


# ha: egress survives an AZ failure and Aurora fails over to a warm reader. lean: one NAT, no reader.
COST_PROFILES: Final = {
    "ha": CostProfile(nat_gateways=2, db_readers=1),
    "lean": CostProfile(nat_gateways=1, db_readers=0),
}
DEFAULT_COST_PROFILE: Final = "ha"

# --------------------------------------------------------------------------------------------
# API and auth
# --------------------------------------------------------------------------------------------
API_RATE_LIMIT: Final = 100  # requests/s, stage default (/v1)
API_BURST_LIMIT: Final = 200
# Webhook routes: only a cost backstop, far above what the reserved concurrency serves. Fairness
# between tenants comes from the WAF rules below, which run before API Gateway's throttle: a
# stage-wide limit in front of the secret check let junk to random ids 429 every tenant.
WEBHOOK_RATE_LIMIT: Final = 1000
WEBHOOK_BURST_LIMIT: Final = 2000

# --------------------------------------------------------------------------------------------
# WAF (web ACL on the API stage). Rate limits count requests per 5-minute window.
# --------------------------------------------------------------------------------------------
WAF_RATE_WINDOW_SECONDS: Final = 300
WAF_WEBHOOK_RATE_PER_IP: Final = 6000  # RMM clouds send many tenants' webhooks from few addresses
WAF_WEBHOOK_RATE_PER_PATH: Final = 1500  # one integration's URL (about 5/s sustained)
WAF_ADMIN_RATE_PER_IP: Final = 1500  # /v1 and anything else
WAF_BLOCK_RETRY_AFTER_SECONDS: Final = 60
# Rate-limited webhooks answer 503 (with Retry-After): NinjaOne retries only 5xx, so a genuine
# burst is delayed, not dropped. Elsewhere the usual 429.
WAF_WEBHOOK_RATE_STATUS: Final = 503
WAF_ADMIN_RATE_STATUS: Final = 429
# Matches the same limit as rmm_alerts.webhooks.MAX_BODY_BYTES (256 KiB).
WEBHOOK_MAX_BODY_BYTES: Final = 256 * 1024
# Managed-rule findings only counted on /webhooks (see api_auth.py for why); blocked elsewhere.
WAF_CORE_RULES_COUNTED_ON_WEBHOOKS: Final = (
    "SizeRestrictions_BODY",
    "CrossSiteScripting_BODY",
    "GenericLFI_BODY",
    "GenericRFI_BODY",
    "EC2MetaDataSSRF_BODY",
    "NoUserAgent_HEADER",
)
WAF_BAD_INPUT_RULES_COUNTED_ON_WEBHOOKS: Final = ("Log4JRCE_BODY", "JavaDeserializationRCE_BODY")
ID_TOKEN_VALIDITY: Final = Duration.hours(1)
ACCESS_TOKEN_VALIDITY: Final = Duration.hours(1)
REFRESH_TOKEN_VALIDITY: Final = Duration.hours(12)

# --------------------------------------------------------------------------------------------
# Events and schedules
# --------------------------------------------------------------------------------------------
TICKET_CLOSED_RETRY_ATTEMPTS: Final = 8
TICKET_CLOSED_MAX_EVENT_AGE: Final = Duration.hours(6)
TICKET_CLOSED_ASYNC_RETRIES: Final = 2
DLQ_RETENTION: Final = Duration.days(14)

# --------------------------------------------------------------------------------------------
# Alarms
# --------------------------------------------------------------------------------------------
ALARM_PERIOD: Final = Duration.minutes(5)
API_5XX_RATE_THRESHOLD: Final = 0.05  # fraction of requests
DB_CPU_THRESHOLD_PERCENT: Final = 80
# Aurora PostgreSQL max_connections ~ memory / 9,531,392 bytes; 1 ACU ~ 2 GiB. Alarm at 80 %.
DB_CONNECTIONS_THRESHOLD: Final = int(0.8 * min(5000, DB_MAX_ACU * 2 * 1024**3 / 9_531_392))
DB_ACU_UTILIZATION_THRESHOLD_PERCENT: Final = 90
API_429_THRESHOLD: Final = 10  # throttled answers per ALARM_PERIOD
WAF_BLOCKED_THRESHOLD: Final = 100  # blocked requests per ALARM_PERIOD (junk is blocked routinely)
DEFAULT_NO_WEBHOOK_ALARM_HOURS: Final = 6  # context noWebhookAlarmHours overrides (1-24)

# --------------------------------------------------------------------------------------------
# The service's own metrics (Powertools EMF, namespace METRICS_NAMESPACE). The names the code
# emits; the dashboard and alarms read them from here.
# --------------------------------------------------------------------------------------------
APP_METRICS: Final = {
    "alerts": "AlertsReceived",  # dimensions service, provider, outcome
    "webhook_duration": "WebhookDuration",  # milliseconds
    "webhook_errors": "WebhookErrors",
    "poll_cycles": "PollCycles",
    "poll_errors": "PollErrors",
    "outbox_backlog_age": "OutboxBacklogAgeSeconds",
    "outbox_parked": "OutboxParkedEntries",
}
# Counted from the API access log (status 429): API Gateway publishes no per-status metric.
API_429_METRIC: Final = "Api429Responses"

# --------------------------------------------------------------------------------------------
# Outbox delivery (events, in-app notifications, e-mails)
# --------------------------------------------------------------------------------------------
OUTBOX: Final = FunctionSpec(
    "outbox",
    "Delivers pending events, in-app notifications and e-mails from the outbox",
    # I/O-bound (EventBridge, SES, HTTP), runs in the background: 256 MB is 5x its 45 MiB after import.
    256,
    Duration.minutes(1),
    # In a storm every webhook instance kicks the outbox, at most once a second (outbox.kick; each
    # run lingers 1.25-2 s, OUTBOX_LINGER_SECONDS, for the commits whose kicks were held back):
    # without a cap each kick is an instance and a proxy connection, for work one instance drains
    # in batches. Two may run side by side (entries are claimed FOR UPDATE SKIP LOCKED); throttled
    # async kicks are retried by Lambda, and the 1-minute schedule is the safety net.
    reserved_concurrency=2,
)
OUTBOX_SCHEDULE_RATE: Final = Duration.minutes(1)  # the safety net behind the after-commit kicks
OUTBOX_SCHEDULE_RETRY_ATTEMPTS: Final = 2
OUTBOX_ASYNC_RETRIES: Final = 1  # a failed run is repeated by the next minute's anyway
OUTBOX_MAX_EVENT_AGE: Final = Duration.hours(1)
OUTBOX_BACKLOG_AGE_ALARM_SECONDS: Final = 300  # oldest undelivered entry older than 5 minutes
OUTBOX_METRIC_DIMENSIONS: Final = {"service": SERVICE_NAME}  # Powertools' default dimension
