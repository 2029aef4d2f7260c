"""Who is calling: the Cognito claims API Gateway puts in ``requestContext.authorizer.claims``.

``sub`` and ``custom:tenant_id`` (a UUID) are required (else 401). ``cognito:groups`` is a list, a
plain string (``"rmm-admin"``), or API Gateway's flattening of a list (``"[rmm-admin, x]"``); group
names are compared exactly (see :func:`parse_groups`).
Any user of the tenant may read; writes need the ``rmm-admin`` group (else 403), except on
``SELF_SERVICE_PATHS`` (the caller's own preferences).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any
from uuid import UUID

from rmm_alerts.admin.errors import error

ADMIN_GROUP = "rmm-admin"
READ_METHODS = frozenset({"GET", "HEAD", "OPTIONS"})
# Paths where any user of the tenant may write: they only touch the caller's own settings.
SELF_SERVICE_PATHS = frozenset({"/v1/me/notification-preferences"})


@dataclass(frozen=True)
class Principal:
    tenant: UUID
    user_id: str
    groups: frozenset[str]

    @property
    def is_admin(self) -> bool:
        return ADMIN_GROUP in self.groups


def parse_groups(value: Any) -> frozenset[str]:
    """The caller's groups, from the documented forms only (docs/admin-api.md): a list of
    names, one name (``"rmm-admin"``), or API Gateway's flattening of a list (``"[a, b]"``, joined
    with ``", "``). Names are exact: nothing is trimmed, unquoted or split on anything else, so
    ``"x,rmm-admin"`` (a legal Cognito group name) is one group, and not the admin group."""
    if isinstance(value, list):
        return frozenset(v for v in value if isinstance(v, str) and v)
    if not isinstance(value, str) or not value:
        return frozenset()
    if value.startswith("[") and value.endswith("]"):
        inner = value[1:-1]
        return frozenset(name for name in inner.split(", ") if name) if inner else frozenset()
    return frozenset({value})


def claims_of(event: Mapping[str, Any]) -> Mapping[str, Any] | None:
    context = event.get("requestContext")
    authorizer = context.get("authorizer") if isinstance(context, Mapping) else None
    claims = authorizer.get("claims") if isinstance(authorizer, Mapping) else None
    return claims if isinstance(claims, Mapping) else None


def principal_from_claims(claims: Mapping[str, Any] | None) -> Principal:
    if not claims:
        raise error(401, "not authenticated")
    sub = claims.get("sub")
    tenant_raw = claims.get("custom:tenant_id")
    if not isinstance(sub, str) or not sub.strip() or not isinstance(tenant_raw, str):
        raise error(401, "not authenticated")
    try:
        tenant = UUID(tenant_raw)
    except ValueError:
        raise error(401, "not authenticated") from None
    return Principal(tenant, sub.strip(), parse_groups(claims.get("cognito:groups")))


def authorize(event: Mapping[str, Any]) -> Principal:
    """The caller, or :class:`~rmm_alerts.admin.errors.ApiError` 401/403."""
    principal = principal_from_claims(claims_of(event))
    method = str(event.get("httpMethod") or "").upper()
    if method not in READ_METHODS and not principal.is_admin and not _self_service(event):
        raise error(403, f"this action needs the {ADMIN_GROUP} group")
    return principal


def _self_service(event: Mapping[str, Any]) -> bool:
    # Exactly the path the router serves (it routes on the same string), nothing that ends like it.
    return str(event.get("path") or "") in SELF_SERVICE_PATHS
