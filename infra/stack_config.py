"""Deploy-time choices, read from CDK context (``cdk.json`` or ``npx cdk deploy -c key=value``).

Every key is documented in ``docs/deploy.md``. Values given on the command line arrive as
strings, values from ``cdk.json`` keep their JSON type: both are accepted.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from aws_cdk import RemovalPolicy
from constructs import Node

from infra import constants as c

LayerBuild = Literal["pip", "stub"]

CTX_STACK_NAME = "stackName"
CTX_PSA_EVENT_BUS = "psaEventBusName"
CTX_SENDER_IDENTITY = "notificationSenderIdentity"
CTX_PSA_BASE_URL = "psaBaseUrl"
CTX_RETAIN_DATA = "retainData"
CTX_ALARM_EMAIL = "alarmEmail"
CTX_COGNITO_DOMAIN_PREFIX = "cognitoDomainPrefix"
CTX_CALLBACK_URLS = "adminUiCallbackUrls"
CTX_LOGOUT_URLS = "adminUiLogoutUrls"
CTX_ADMIN_UI_ORIGINS = "adminUiOrigins"
CTX_DB_READERS = "dbReaders"
CTX_NAT_GATEWAYS = "natGateways"
CTX_LAYER_BUILD = "layerBuild"
CTX_PROFILE = "profile"
CTX_NO_WEBHOOK_ALARM_HOURS = "noWebhookAlarmHours"

_TRUE = {"1", "true", "yes", "on"}
_FALSE = {"0", "false", "no", "off"}


class ContextError(ValueError):
    """A context value that cannot be used."""


def _str(node: Node, key: str) -> str | None:
    value: Any = node.try_get_context(key)
    if value is None:
        return None
    text = str(value).strip()
    return text or None


def _bool(node: Node, key: str, default: bool) -> bool:
    value: Any = node.try_get_context(key)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    text = str(value).strip().lower()
    if text in _TRUE:
        return True
    if text in _FALSE:
        return False
    raise ContextError(f"context {key!r} must be true or false, not {value!r}")


def _int(node: Node, key: str, default: int, low: int, high: int) -> int:
    value: Any = node.try_get_context(key)
    if value is None:
        return default
    try:
        number = int(str(value).strip())
    except ValueError as exc:
        raise ContextError(f"context {key!r} must be an integer, not {value!r}") from exc
    if not low <= number <= high:
        raise ContextError(f"context {key!r} must be between {low} and {high}, not {number}")
    return number


def _list(node: Node, key: str, default: tuple[str, ...]) -> tuple[str, ...]:
    value: Any = node.try_get_context(key)
    if value is None:
        return default
    items = value if isinstance(value, list) else str(value).split(",")
    return tuple(str(item).strip() for item in items if str(item).strip())


@dataclass(frozen=True)
class StackConfig:
    """Everything the stack takes from context."""

    psa_event_bus_name: str | None = None
    notification_sender_identity: str | None = None
    psa_base_url: str | None = None
    retain_data: bool = True
    alarm_email: str | None = None
    cognito_domain_prefix: str | None = None
    callback_urls: tuple[str, ...] = ("http://localhost:5173/callback",)
    logout_urls: tuple[str, ...] = ("http://localhost:5173/",)
    admin_ui_origins: tuple[str, ...] = ()
    profile: str = c.DEFAULT_COST_PROFILE
    db_readers: int = c.COST_PROFILES[c.DEFAULT_COST_PROFILE].db_readers
    nat_gateways: int = c.COST_PROFILES[c.DEFAULT_COST_PROFILE].nat_gateways
    layer_build: LayerBuild = "pip"
    no_webhook_alarm_hours: int = c.DEFAULT_NO_WEBHOOK_ALARM_HOURS

    @property
    def log_removal(self) -> RemovalPolicy:
        """Log groups are kept when the stack is deleted (not when its creation rolls back), unless
        the deployment was made with retainData=false."""
        return RemovalPolicy.RETAIN_ON_UPDATE_OR_DELETE if self.retain_data else RemovalPolicy.DESTROY

    @classmethod
    def from_context(cls, node: Node) -> StackConfig:
        layer_build = _str(node, CTX_LAYER_BUILD) or "pip"
        if layer_build not in ("pip", "stub"):
            raise ContextError(f"context {CTX_LAYER_BUILD!r} must be 'pip' or 'stub', not {layer_build!r}")
        defaults = cls()
        profile = _str(node, CTX_PROFILE) or c.DEFAULT_COST_PROFILE
        if profile not in c.COST_PROFILES:
            raise ContextError(f"context {CTX_PROFILE!r} must be one of {sorted(c.COST_PROFILES)}, not {profile!r}")
        layout = c.COST_PROFILES[profile]
        return cls(
            psa_event_bus_name=_str(node, CTX_PSA_EVENT_BUS),
            notification_sender_identity=_str(node, CTX_SENDER_IDENTITY),
            psa_base_url=_str(node, CTX_PSA_BASE_URL),
            retain_data=_bool(node, CTX_RETAIN_DATA, default=True),
            alarm_email=_str(node, CTX_ALARM_EMAIL),
            cognito_domain_prefix=_str(node, CTX_COGNITO_DOMAIN_PREFIX),
            callback_urls=_list(node, CTX_CALLBACK_URLS, defaults.callback_urls),
            logout_urls=_list(node, CTX_LOGOUT_URLS, defaults.logout_urls),
            admin_ui_origins=_list(node, CTX_ADMIN_UI_ORIGINS, ()),
            profile=profile,
            # An explicit dbReaders / natGateways overrides the profile's value.
            db_readers=_int(node, CTX_DB_READERS, layout.db_readers, 0, 3),
            nat_gateways=_int(node, CTX_NAT_GATEWAYS, layout.nat_gateways, 1, 3),
            layer_build="stub" if layer_build == "stub" else "pip",
            no_webhook_alarm_hours=_int(node, CTX_NO_WEBHOOK_ALARM_HOURS, defaults.no_webhook_alarm_hours, 1, 24),
        )
