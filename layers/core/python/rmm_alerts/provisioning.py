"""``rmm-alerts admin create-tenant``: a tenant and its first admin in a deployed stack.

The database is only reachable from inside the VPC, so the tenant row is created by the stack's
migrate function (action ``create_tenant``, as the owner); the admin is a Cognito user with
``custom:tenant_id`` (which no app client may write) in the ``rmm-admin`` group.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Protocol

ADMIN_GROUP = "rmm-admin"
TENANT_ATTRIBUTE = "custom:tenant_id"
# CloudFormation outputs of the stack (infra/stack.py).
FUNCTION_OUTPUT = "MigrateFunctionName"
USER_POOL_OUTPUT = "UserPoolId"


class ProvisioningError(RuntimeError):
    pass


class FunctionInvoker(Protocol):
    """Invokes a function and returns its JSON result."""

    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]: ...


class LambdaInvoker:
    """The real one: a synchronous Lambda invoke."""

    def __init__(self, client: Any) -> None:
        self._client = client

    def invoke(self, function_name: str, payload: dict[str, Any]) -> dict[str, Any]:
        response = self._client.invoke(
            FunctionName=function_name, InvocationType="RequestResponse", Payload=json.dumps(payload).encode()
        )
        body = response["Payload"].read()
        if response.get("FunctionError"):
            raise ProvisioningError(f"{function_name} failed: {body.decode(errors='replace')[:500]}")
        result = json.loads(body or b"{}")
        if not isinstance(result, dict):
            raise ProvisioningError(f"{function_name} answered {result!r}")
        return result


def stack_outputs(cloudformation: Any, stack_name: str) -> dict[str, str]:
    stacks = cloudformation.describe_stacks(StackName=stack_name)["Stacks"]
    return {o["OutputKey"]: o["OutputValue"] for o in stacks[0].get("Outputs", [])}


@dataclass(frozen=True)
class CreatedTenant:
    tenant_id: str
    tenant_created: bool
    username: str
    user_created: bool


def create_tenant(
    *,
    name: str,
    admin_email: str,
    invoker: FunctionInvoker,
    function_name: str,
    cognito: Any,
    user_pool_id: str,
    tenant_id: str | None = None,
) -> CreatedTenant:
    """Create (or find) the tenant, then its admin user; safe to rerun with the same arguments."""
    email = admin_email.strip().lower()
    if "@" not in email or len(email) > 254:
        raise ProvisioningError("--admin-email: not an email address")
    payload: dict[str, Any] = {"action": "create_tenant", "name": name}
    if tenant_id:
        payload["tenantId"] = tenant_id
    result = invoker.invoke(function_name, payload)
    if "error" in result or "tenantId" not in result:
        raise ProvisioningError(f"create_tenant: {result.get('error', result)}")
    tenant = str(result["tenantId"])
    user_created = _ensure_admin(cognito, user_pool_id, email, tenant)
    return CreatedTenant(tenant, bool(result.get("created")), email, user_created)


def _ensure_admin(cognito: Any, pool: str, email: str, tenant: str) -> bool:
    try:
        cognito.admin_create_user(
            UserPoolId=pool,
            Username=email,
            UserAttributes=[
                {"Name": "email", "Value": email},
                {"Name": "email_verified", "Value": "true"},
                {"Name": TENANT_ATTRIBUTE, "Value": tenant},
            ],
            DesiredDeliveryMediums=["EMAIL"],
        )
        created = True
    except cognito.exceptions.UsernameExistsException:
        user = cognito.admin_get_user(UserPoolId=pool, Username=email)
        current = {a["Name"]: a["Value"] for a in user.get("UserAttributes", [])}.get(TENANT_ATTRIBUTE)
        if current != tenant:
            raise ProvisioningError(
                f"--admin-email: {email} already exists in the user pool for tenant {current or '(none)'}"
            ) from None
        created = False
    cognito.admin_add_user_to_group(UserPoolId=pool, Username=email, GroupName=ADMIN_GROUP)
    return created
