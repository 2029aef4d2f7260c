"""One Powertools ``Router`` per resource. Each route parses its input (pydantic, via
``enable_validation``) and calls one service function."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated, Any
from uuid import UUID

from aws_lambda_powertools.event_handler import Response
from aws_lambda_powertools.event_handler.api_gateway import Router
from aws_lambda_powertools.event_handler.openapi.params import Body, Path, Query

from rmm_alerts.admin import schemas as s
from rmm_alerts.admin.auth import Principal
from rmm_alerts.admin.deps import Deps, current
from rmm_alerts.contracts import MaintenanceWindowIn

if TYPE_CHECKING:
    from rmm_alerts.admin import alerts, integrations, lookups, mappings, preferences, preview, rules, windows
else:  # each service (RMM clients and httpx, the outbox, ...) loads on its first call: cold start
    from rmm_alerts.admin.lazy import LazyModule

    alerts, integrations, lookups, mappings, preferences, preview, rules, windows = (
        LazyModule(f"rmm_alerts.admin.{name}")
        for name in ("alerts", "integrations", "lookups", "mappings", "preferences", "preview", "rules", "windows")
    )

_ERRORS: dict[int, str] = {
    401: "Missing or invalid caller identity",
    403: "Writes need the rmm-admin group",
    404: "Not found (or another tenant's)",
    409: "Conflicts with the current state",
    413: "Body larger than 64 KiB",
    415: "Body is not JSON",
    422: "Validation failed; each error names the field",
    500: "Unexpected error (no details)",
}


def responses(ok: int, description: str, *errors: int, empty: bool = False) -> dict[int, Any]:
    """The OpenAPI responses of a route: the success, and the error shape for each error status."""
    out: dict[int, Any] = {ok: {"description": description}}
    if empty:
        out[ok] = {"description": description, "content": {}}
    for code in sorted({401, 404, 413, 415, 422, 500, *errors}):
        out[code] = {"description": _ERRORS[code], "content": {"application/json": {"model": s.ErrorBody}}}
    return out


READ = ()
WRITE = (403,)


def _ctx(router: Router) -> tuple[Deps, Principal]:
    principal = router.context.get("principal")
    assert isinstance(principal, Principal), "requests reach routes only through AdminResolver.resolve"
    return current(), principal


def _json(status: int, body: Any) -> Response[Any]:
    return Response(status_code=status, content_type="application/json", body=body)


def _no_content() -> Response[None]:
    return Response(status_code=204, content_type="application/json", body=None)


IntegrationId = Annotated[UUID, Path(alias="integrationId", description="Integration id")]
MappingId = Annotated[UUID, Path(alias="mappingId")]
RuleId = Annotated[UUID, Path(alias="ruleId")]
WindowId = Annotated[UUID, Path(alias="windowId")]
AlertId = Annotated[UUID, Path(alias="alertId")]
DeviceId = Annotated[str, Path(alias="externalDeviceId", min_length=1, max_length=255)]

# -- integrations -----------------------------------------------------------------------------

integrations_router = Router()  # type: ignore[no-untyped-call]
r = integrations_router


@r.post(
    "",
    responses=responses(201, "Connected; the webhook secret is shown only now", *WRITE),
    tags=["integrations"],
    summary="Connect an integration",
)
def create_integration(body: s.IntegrationIn) -> Response[s.IntegrationCreated]:
    deps, p = _ctx(r)
    return _json(201, integrations.create(deps, p, body))


@r.get(
    "", responses=responses(200, "The tenant's integrations", *READ), tags=["integrations"], summary="List integrations"
)
def list_integrations() -> s.IntegrationList:
    deps, p = _ctx(r)
    return integrations.list_all(deps, p)


@r.get(
    "/<integrationId>",
    responses=responses(200, "The integration", *READ),
    tags=["integrations"],
    summary="Get an integration",
)
def get_integration(integration_id: IntegrationId) -> s.IntegrationOut:
    deps, p = _ctx(r)
    return integrations.get(deps, p, integration_id)


@r.patch(
    "/<integrationId>",
    responses=responses(200, "Updated", 409, *WRITE),
    tags=["integrations"],
    summary="Rename, change the instance URL or the credentials",
)
def patch_integration(integration_id: IntegrationId, body: s.IntegrationPatch) -> s.IntegrationOut:
    deps, p = _ctx(r)
    return integrations.patch(deps, p, integration_id, body)


@r.delete(
    "/<integrationId>",
    responses=responses(204, "Disconnected", *WRITE, empty=True),
    tags=["integrations"],
    summary="Disconnect (schedule and credentials removed, alerts kept)",
)
def delete_integration(integration_id: IntegrationId) -> Response[None]:
    deps, p = _ctx(r)
    integrations.disconnect(deps, p, integration_id)
    return _no_content()


@r.post(
    "/<integrationId>/webhook-secret/rotate",
    responses=responses(200, "New secret, shown only now", 409, *WRITE),
    tags=["integrations"],
    summary="Rotate the webhook secret",
)
def rotate_secret(integration_id: IntegrationId, body: Annotated[s.RotateIn | None, Body()] = None) -> s.SecretRotated:
    deps, p = _ctx(r)
    return integrations.rotate_secret(deps, p, integration_id, body)


@r.post(
    "/<integrationId>/test-connection",
    responses=responses(200, "Whether a token-and-list call with the stored credentials works", 409, *WRITE),
    tags=["integrations"],
    summary="Test the connection to the RMM",
)
def test_connection(integration_id: IntegrationId) -> s.TestConnectionOut:
    deps, p = _ctx(r)
    return integrations.test_connection(deps, p, integration_id)


@r.post(
    "/<integrationId>/webhook-registration",
    responses=responses(200, "The registration outcome (the header secret is rotated)", 409, *WRITE),
    tags=["integrations"],
    summary="Register the NinjaOne webhook again",
)
def retry_webhook_registration(integration_id: IntegrationId) -> s.WebhookRegistration:
    deps, p = _ctx(r)
    return integrations.retry_registration(deps, p, integration_id)


# -- polling ----------------------------------------------------------------------------------

polling_router = Router()  # type: ignore[no-untyped-call]
pr = polling_router


@pr.get(
    "/<integrationId>/polling",
    responses=responses(200, "Polling settings", *READ),
    tags=["polling"],
    summary="Get polling settings",
)
def get_polling(integration_id: IntegrationId) -> s.PollingOut:
    deps, p = _ctx(pr)
    return integrations.get_polling(deps, p, integration_id)


@pr.put(
    "/<integrationId>/polling",
    responses=responses(200, "Saved; the schedule matches", 409, *WRITE),
    tags=["polling"],
    summary="Set polling settings",
)
def put_polling(integration_id: IntegrationId, body: s.PollingIn) -> s.PollingOut:
    deps, p = _ctx(pr)
    return integrations.put_polling(deps, p, integration_id, body)


# -- organization mappings --------------------------------------------------------------------

org_mappings_router = Router()  # type: ignore[no-untyped-call]
om = org_mappings_router


@om.get(
    "/<integrationId>/organization-mappings",
    responses=responses(200, "Organization mappings", *READ),
    tags=["organization-mappings"],
    summary="List organization mappings",
)
def list_org_mappings(integration_id: IntegrationId) -> s.OrgMappingList:
    deps, p = _ctx(om)
    return mappings.list_orgs(deps, p, integration_id)


@om.post(
    "/<integrationId>/organization-mappings",
    responses=responses(201, "Created", 409, *WRITE),
    tags=["organization-mappings"],
    summary="Map an external organization to a client",
)
def create_org_mapping(integration_id: IntegrationId, body: s.OrgMappingIn) -> Response[s.OrgMappingOut]:
    deps, p = _ctx(om)
    return _json(201, mappings.save_org(deps, p, integration_id, body))


@om.put(
    "/<integrationId>/organization-mappings/<mappingId>",
    responses=responses(200, "Updated", 409, *WRITE),
    tags=["organization-mappings"],
    summary="Update an organization mapping",
)
def put_org_mapping(integration_id: IntegrationId, mapping_id: MappingId, body: s.OrgMappingIn) -> s.OrgMappingOut:
    deps, p = _ctx(om)
    return mappings.save_org(deps, p, integration_id, body, mapping_id)


@om.delete(
    "/<integrationId>/organization-mappings/<mappingId>",
    responses=responses(204, "Deleted", 409, *WRITE, empty=True),
    tags=["organization-mappings"],
    summary="Delete an organization mapping",
)
def delete_org_mapping(integration_id: IntegrationId, mapping_id: MappingId) -> Response[None]:
    deps, p = _ctx(om)
    mappings.delete_org(deps, p, integration_id, mapping_id)
    return _no_content()


# -- device mappings --------------------------------------------------------------------------

device_mappings_router = Router()  # type: ignore[no-untyped-call]
dm = device_mappings_router


@dm.get(
    "/<integrationId>/device-mappings",
    responses=responses(200, "Device mappings", *READ),
    tags=["device-mappings"],
    summary="List device mappings",
)
def list_device_mappings(integration_id: IntegrationId) -> s.DeviceMappingList:
    deps, p = _ctx(dm)
    return mappings.list_devices(deps, p, integration_id)


@dm.put(
    "/<integrationId>/device-mappings/<externalDeviceId>",
    responses=responses(200, "Saved", 409, *WRITE),
    tags=["device-mappings"],
    summary="Map an external device to an asset",
)
def put_device_mapping(
    integration_id: IntegrationId, external_device_id: DeviceId, body: s.DeviceMappingIn
) -> s.DeviceMappingOut:
    deps, p = _ctx(dm)
    return mappings.put_device(deps, p, integration_id, external_device_id, body)


@dm.delete(
    "/<integrationId>/device-mappings/<externalDeviceId>",
    responses=responses(204, "Deleted", 409, *WRITE, empty=True),
    tags=["device-mappings"],
    summary="Delete a device mapping",
)
def delete_device_mapping(integration_id: IntegrationId, external_device_id: DeviceId) -> Response[None]:
    deps, p = _ctx(dm)
    mappings.delete_device(deps, p, integration_id, external_device_id)
    return _no_content()


# -- rules ------------------------------------------------------------------------------------

rules_router = Router()  # type: ignore[no-untyped-call]
ru = rules_router


@ru.get(
    "/<integrationId>/rules",
    responses=responses(200, "Rules in priority order", *READ),
    tags=["rules"],
    summary="List rules",
)
def list_rules(integration_id: IntegrationId) -> s.RuleList:
    deps, p = _ctx(ru)
    return rules.list_rules(deps, p, integration_id)


@ru.post(
    "/<integrationId>/rules",
    responses=responses(201, "Created (last in order)", 409, *WRITE),
    tags=["rules"],
    summary="Create a rule",
)
def create_rule(integration_id: IntegrationId, body: s.RuleIn) -> Response[s.RuleOut]:
    deps, p = _ctx(ru)
    return _json(201, rules.create_rule(deps, p, integration_id, body))


@ru.post(
    "/<integrationId>/rules/preview",
    responses=responses(200, "How the conditions fare against the integration's last 200 alerts", *READ),
    tags=["rules"],
    summary="Preview rule conditions against recent alerts (nothing is saved)",
)
def preview_rule(integration_id: IntegrationId, body: s.RulePreviewIn) -> s.RulePreview:
    deps, p = _ctx(ru)
    return preview.preview(deps, p, integration_id, body)


@ru.put(
    "/<integrationId>/rules/order",
    responses=responses(200, "Rules in the new order", 409, *WRITE),
    tags=["rules"],
    summary="Reorder all of the integration's rules",
)
def reorder_rules(integration_id: IntegrationId, body: s.RuleOrderIn) -> s.RuleList:
    deps, p = _ctx(ru)
    return rules.reorder(deps, p, integration_id, body)


@ru.get(
    "/<integrationId>/rules/<ruleId>", responses=responses(200, "The rule", *READ), tags=["rules"], summary="Get a rule"
)
def get_rule(integration_id: IntegrationId, rule_id: RuleId) -> s.RuleOut:
    deps, p = _ctx(ru)
    return rules.get_rule(deps, p, integration_id, rule_id)


@ru.put(
    "/<integrationId>/rules/<ruleId>",
    responses=responses(200, "Updated", 409, *WRITE),
    tags=["rules"],
    summary="Replace a rule",
)
def put_rule(integration_id: IntegrationId, rule_id: RuleId, body: s.RuleIn) -> s.RuleOut:
    deps, p = _ctx(ru)
    return rules.update_rule(deps, p, integration_id, rule_id, body)


@ru.delete(
    "/<integrationId>/rules/<ruleId>",
    responses=responses(204, "Deleted", 409, *WRITE, empty=True),
    tags=["rules"],
    summary="Delete a rule",
)
def delete_rule(integration_id: IntegrationId, rule_id: RuleId) -> Response[None]:
    deps, p = _ctx(ru)
    rules.delete_rule(deps, p, integration_id, rule_id)
    return _no_content()


# -- maintenance windows ----------------------------------------------------------------------

windows_router = Router()  # type: ignore[no-untyped-call]
wi = windows_router


@wi.get(
    "",
    responses=responses(200, "Maintenance windows", *READ),
    tags=["maintenance-windows"],
    summary="List maintenance windows",
)
def list_windows() -> s.WindowList:
    deps, p = _ctx(wi)
    return windows.list_windows(deps, p)


@wi.post(
    "", responses=responses(201, "Created", *WRITE), tags=["maintenance-windows"], summary="Create a maintenance window"
)
def create_window(body: MaintenanceWindowIn) -> Response[s.WindowOut]:
    deps, p = _ctx(wi)
    return _json(201, windows.save_window(deps, p, body))


@wi.get(
    "/<windowId>",
    responses=responses(200, "The window", *READ),
    tags=["maintenance-windows"],
    summary="Get a maintenance window",
)
def get_window(window_id: WindowId) -> s.WindowOut:
    deps, p = _ctx(wi)
    return windows.get_window(deps, p, window_id)


@wi.put(
    "/<windowId>",
    responses=responses(200, "Updated", *WRITE),
    tags=["maintenance-windows"],
    summary="Replace a maintenance window",
)
def put_window(window_id: WindowId, body: MaintenanceWindowIn) -> s.WindowOut:
    deps, p = _ctx(wi)
    return windows.save_window(deps, p, body, window_id)


@wi.delete(
    "/<windowId>",
    responses=responses(204, "Deleted", *WRITE, empty=True),
    tags=["maintenance-windows"],
    summary="Delete a maintenance window",
)
def delete_window(window_id: WindowId) -> Response[None]:
    deps, p = _ctx(wi)
    windows.delete_window(deps, p, window_id)
    return _no_content()


# -- alerts -----------------------------------------------------------------------------------

alerts_router = Router()  # type: ignore[no-untyped-call]
al = alerts_router


@al.get("", responses=responses(200, "A page of alerts, newest first", *READ), tags=["alerts"], summary="List alerts")
def list_alerts(
    integration_id: Annotated[UUID | None, Query(alias="integrationId")] = None,
    status: Annotated[s.AlertStatusFilter | None, Query()] = None,
    external_device_id: Annotated[str | None, Query(alias="externalDeviceId", max_length=255)] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(max_length=500)] = None,
) -> s.AlertPage:
    deps, p = _ctx(al)
    return alerts.list_alerts(
        deps,
        p,
        integration_id=integration_id,
        status=status,
        external_device_id=external_device_id,
        limit=limit,
        cursor=cursor,
    )


@al.get(
    "/<alertId>",
    responses=responses(200, "The alert, its decision trace and ticket", *READ),
    tags=["alerts"],
    summary="Get an alert",
)
def get_alert(alert_id: AlertId) -> s.AlertDetail:
    deps, p = _ctx(al)
    return alerts.get_alert(deps, p, alert_id)


@al.post(
    "/<alertId>/ticket",
    responses=responses(201, "Ticket created and linked", 409, *WRITE),
    tags=["alerts"],
    summary="Create a ticket for the alert (rmm.alerts.create_ticket)",
)
def create_alert_ticket(
    alert_id: AlertId, body: Annotated[s.CreateTicketIn | None, Body()] = None
) -> Response[s.TicketCreated]:
    deps, p = _ctx(al)
    return _json(201, alerts.create_ticket(deps, p, alert_id, body))


# -- the caller's own notification preferences ------------------------------------------------

me_router = Router()  # type: ignore[no-untyped-call]
me = me_router


@me.get(
    "/notification-preferences",
    responses=responses(200, "Your notification preferences (both channels on unless turned off)", *READ),
    tags=["me"],
    summary="Get your notification preferences",
)
def get_notification_preferences() -> s.NotificationPreferences:
    deps, p = _ctx(me)
    return preferences.get(deps, p)


@me.put(
    "/notification-preferences",
    responses=responses(200, "Saved; delivery honours them from now on", *READ),
    tags=["me"],
    summary="Set your notification preferences (any user of the tenant, for themselves)",
)
def put_notification_preferences(body: s.NotificationPreferences) -> s.NotificationPreferences:
    deps, p = _ctx(me)
    return preferences.put(deps, p, body)


# -- lookups (the admin UI's pickers) ---------------------------------------------------------

lookups_router = Router()  # type: ignore[no-untyped-call]
lk = lookups_router

Search = Annotated[str | None, Query(max_length=100, description="Case-insensitive substring of the name")]
Limit = Annotated[int, Query(ge=1, le=100)]
Offset = Annotated[int, Query(ge=0, le=100_000)]
BoardId = Annotated[UUID, Path(alias="boardId")]
ClientId = Annotated[UUID, Path(alias="clientId")]


def _lookup(kind: str, parent: UUID | None, search: str | None, limit: int, offset: int) -> s.LookupPage:
    deps, p = _ctx(lk)
    return lookups.lookup(deps, p, kind, parent=parent, search=search, limit=limit, offset=offset)


@lk.get("/boards", responses=responses(200, "Active boards", *READ), tags=["lookups"], summary="Boards")
def lookup_boards(search: Search = None, limit: Limit = 50, offset: Offset = 0) -> s.LookupPage:
    return _lookup("boards", None, search, limit, offset)


@lk.get(
    "/boards/<boardId>/closed-statuses",
    responses=responses(200, "The board's closed ticket statuses", *READ),
    tags=["lookups"],
    summary="Closed statuses of a board",
)
def lookup_closed_statuses(
    board_id: BoardId, search: Search = None, limit: Limit = 50, offset: Offset = 0
) -> s.LookupPage:
    return _lookup("closed_statuses", board_id, search, limit, offset)


@lk.get("/priorities", responses=responses(200, "Priorities in order", *READ), tags=["lookups"], summary="Priorities")
def lookup_priorities(search: Search = None, limit: Limit = 50, offset: Offset = 0) -> s.LookupPage:
    return _lookup("priorities", None, search, limit, offset)


@lk.get("/users", responses=responses(200, "Active users", *READ), tags=["lookups"], summary="Users")
def lookup_users(search: Search = None, limit: Limit = 50, offset: Offset = 0) -> s.LookupPage:
    return _lookup("users", None, search, limit, offset)


@lk.get("/clients", responses=responses(200, "Active clients", *READ), tags=["lookups"], summary="Clients")
def lookup_clients(search: Search = None, limit: Limit = 50, offset: Offset = 0) -> s.LookupPage:
    return _lookup("clients", None, search, limit, offset)


@lk.get(
    "/clients/<clientId>/contacts",
    responses=responses(200, "The client's active contacts", *READ),
    tags=["lookups"],
    summary="Contacts of a client",
)
def lookup_contacts(client_id: ClientId, search: Search = None, limit: Limit = 50, offset: Offset = 0) -> s.LookupPage:
    return _lookup("contacts", client_id, search, limit, offset)


@lk.get(
    "/clients/<clientId>/assets",
    responses=responses(200, "The client's assets", *READ),
    tags=["lookups"],
    summary="Assets of a client",
)
def lookup_assets(client_id: ClientId, search: Search = None, limit: Limit = 50, offset: Offset = 0) -> s.LookupPage:
    return _lookup("assets", client_id, search, limit, offset)


# -- the caller (the admin UI shows read-only users why editing is off) -----------------------

session_router = Router()  # type: ignore[no-untyped-call]
se = session_router


@se.get("", responses=responses(200, "Who is calling", *READ), tags=["me"], summary="The caller and their rights")
def get_me() -> s.Me:
    _, p = _ctx(se)
    return s.Me(user_id=p.user_id, tenant_id=p.tenant, groups=sorted(p.groups), is_admin=p.is_admin)
