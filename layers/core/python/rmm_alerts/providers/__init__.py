"""RMM API clients behind one small interface (:class:`RmmClient`), and the factory that builds
one for an integration from its row and its credentials in the secret store.

Public surface (the poller, the admin API and the ticket-closed subscriber build on it):

* :func:`client_for_integration` / :func:`build_client` -> :class:`NinjaOneClient` | :class:`TacticalClient`
* :class:`RemoteAlert`, :class:`ProviderError` and its subclasses.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

from rmm_alerts.providers.base import (
    ProviderAuthError,
    ProviderConfigError,
    ProviderError,
    ProviderNotFound,
    ProviderRequestError,
    ProviderResponseError,
    ProviderUnavailable,
    RemoteAlert,
    RmmClient,
)
from rmm_alerts.providers.http import DEFAULT_POLICY, HttpPolicy
from rmm_alerts.providers.ninjaone import NinjaOneClient
from rmm_alerts.providers.tactical import TacticalClient
from rmm_alerts.providers.urls import validate_instance_url

__all__ = [
    "HttpPolicy",
    "NinjaOneClient",
    "ProviderAuthError",
    "ProviderConfigError",
    "ProviderError",
    "ProviderNotFound",
    "ProviderRequestError",
    "ProviderResponseError",
    "ProviderUnavailable",
    "RemoteAlert",
    "RmmClient",
    "TacticalClient",
    "build_client",
    "client_for_integration",
    "load_credentials",
]


def build_client(
    provider: str,
    instance_url: str | None,
    credentials: Mapping[str, Any] | None,
    *,
    cache_key: str,
    policy: HttpPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] | None = None,
    allow_loopback: bool | None = None,
) -> NinjaOneClient | TacticalClient:
    """A client for one integration; ProviderConfigError when it cannot be called."""
    if not instance_url:
        raise ProviderConfigError(
            provider, "configuration", None, "the integration has no instanceUrl", transient=False
        )
    try:
        url = validate_instance_url(provider, instance_url, allow_loopback=allow_loopback)
    except ValueError as exc:
        raise ProviderConfigError(provider, "configuration", None, f"instanceUrl {exc}", transient=False) from None
    creds = dict(credentials or {})
    extra: dict[str, Any] = {"policy": policy}
    if sleep is not None:
        extra["sleep"] = sleep
    if provider == "ninjaone":
        return NinjaOneClient(
            url, str(creds.get("clientId") or ""), str(creds.get("clientSecret") or ""), cache_key=cache_key, **extra
        )
    if provider == "tacticalrmm":
        return TacticalClient(url, str(creds.get("apiKey") or ""), **extra)
    raise ProviderConfigError(provider, "configuration", None, "unknown provider", transient=False)


def load_credentials(ref: str | None, *, local_state_dir: str | None, store: Any = None) -> dict[str, Any] | None:
    """The credentials object behind ``credentials_ref``: ``local:`` refs from the local store
    (``LOCAL_STATE_DIR``), anything else (an ARN) from Secrets Manager."""
    if not ref:
        return None
    if store is None:
        from rmm_alerts.ports import AwsSecretStore, LocalSecretStore

        store = (
            LocalSecretStore(Path(local_state_dir) if local_state_dir else None)
            if ref.startswith("local:")
            else (AwsSecretStore())
        )
    value = store.get(ref)
    return value if isinstance(value, dict) else None


def client_for_integration(
    row: Mapping[str, Any],
    *,
    local_state_dir: str | None = None,
    store: Any = None,
    policy: HttpPolicy = DEFAULT_POLICY,
    sleep: Callable[[float], None] | None = None,
    allow_loopback: bool | None = None,
) -> NinjaOneClient | TacticalClient:
    """From an ``rmm_integrations`` row (``provider``, ``instance_url``, ``credentials_ref``,
    ``integration_id``)."""
    creds = load_credentials(row.get("credentials_ref"), local_state_dir=local_state_dir, store=store)
    if creds is None:
        raise ProviderConfigError(
            str(row["provider"]), "configuration", None, "the integration has no credentials", transient=False
        )
    return build_client(
        str(row["provider"]),
        row.get("instance_url"),
        creds,
        cache_key=str(row["integration_id"]),
        policy=policy,
        sleep=sleep,
        allow_loopback=allow_loopback,
    )
