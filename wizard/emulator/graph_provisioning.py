"""Graph calls that set an app up from nothing: the app, its service principal, admin consent.

    POST /v1.0/applications                    {displayName, requiredResourceAccess} -> 201
    POST /v1.0/servicePrincipals               {appId} -> 201
    GET  /v1.0/servicePrincipals(appId='…')    also /servicePrincipals/{id} and
                                               /servicePrincipals?$filter=appId eq '…';
                                               Microsoft Graph's own (appId 00000003-…)
                                               lists its app roles
    POST /v1.0/servicePrincipals/{id}/appRoleAssignedTo   {principalId, resourceId,
                                               appRoleId} -> 201: admin consent to one of
                                               Graph's application permissions

Creating needs Application.ReadWrite.All (any user may register apps, Entra's default, and
owns what it registers); a user creates a service principal only for an app it may change
(users.AppScopes); granting needs AppRoleAssignment.ReadWrite.All and a user who may grant
application permissions (Privileged Role Administrator or Global Administrator) to that app. The answers for an
existing grant ("Permission being assigned already exists on the object", 400
Request_BadRequest) and for an unknown role ("Permission being assigned was not found on
application …") are Graph's, as quoted in public scripts that handle them. An app with no
service principal cannot sign in (AADSTS7000229, entra_routes).

Consent in the demo tenant is one switch per app: granting any of the roles an app asks for
grants the roles it asks for (a role not asked for is added to what it asks for first).
"""

from __future__ import annotations

import re
import secrets
import uuid
from collections.abc import Callable
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from wizard.emulator import strict_json
from wizard.emulator.directory import GRAPH_APP_ID, GUID_RE, Application
from wizard.emulator.graph_access import (
    GRAPH_APP_ROLES,
    INSUFFICIENT,
    READ_PERMISSIONS,
    WRITE_PERMISSIONS,
    Caller,
    GraphAnswer,
    GraphRefusal,
    caller,
    filtered_app_id,
    query_filter,
    relative_path,
    require,
)
from wizard.emulator.graph_applications import application_json
from wizard.emulator.users import DemoUser

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant
    from wizard.emulator.transport import RequestHandler

GRAPH_DISPLAY_NAME = "Microsoft Graph"
# The tenant Microsoft's own first-party apps belong to (appOwnerOrganizationId).
MICROSOFT_TENANT_ID = "f8cdef31-a31e-4b4a-93e4-5f571e91255a"
GRANT_PERMISSIONS = ("AppRoleAssignment.ReadWrite.All", "Directory.AccessAsUser.All")
MAX_DISPLAY_NAME = 120

_APPLICATIONS = re.compile(r"^applications$", re.IGNORECASE)
_SERVICE_PRINCIPALS = re.compile(r"^servicePrincipals$", re.IGNORECASE)
_SP = r"servicePrincipals(?:\(appId='(?P<app_id>[^'/]*)'\)|/(?P<id>[^/()]+))"
_SERVICE_PRINCIPAL = re.compile(rf"^{_SP}$", re.IGNORECASE)
_ASSIGNED_TO = re.compile(rf"^{_SP}/appRoleAssignedTo$", re.IGNORECASE)


def serves(method: str, path: str) -> bool:
    relative = relative_path(path)
    if relative is None:
        return False
    if _APPLICATIONS.match(relative):
        return method == "POST"  # reading the list is graph_applications'
    return any(p.match(relative) for p in (_SERVICE_PRINCIPALS, _SERVICE_PRINCIPAL, _ASSIGNED_TO))


def respond(
    handler: RequestHandler, tenant: DemoTenant, method: str, path: str, body: bytes
) -> GraphAnswer:
    relative = relative_path(path) or ""
    who = caller(tenant, handler)
    if _APPLICATIONS.match(relative):
        require(who, WRITE_PERMISSIONS)  # by default, any member may register an app
        return _create_application(tenant, who, _body(body))
    if _SERVICE_PRINCIPALS.match(relative):
        if method == "POST":
            require(who, WRITE_PERMISSIONS)
            return _create_service_principal(tenant, who, _body(body))
        if method == "GET":
            require(who, READ_PERMISSIONS)
            return _list_service_principals(handler, tenant)
        raise _not_allowed()
    assigned_to = _ASSIGNED_TO.match(relative)
    if assigned_to:
        if method != "POST":
            raise _not_allowed()
        require(who, GRANT_PERMISSIONS, user_may=_may_grant)
        resource = _service_principal(tenant, assigned_to.group("app_id"), assigned_to.group("id"))
        return _grant(tenant, who, resource, _body(body))
    if method != "GET":
        raise _not_allowed()
    require(who, READ_PERMISSIONS)
    matched = _SERVICE_PRINCIPAL.match(relative)
    assert matched is not None  # serves() let only these shapes in
    found = _service_principal(tenant, matched.group("app_id"), matched.group("id"))
    document = _service_principal_json(tenant, found)
    document["@odata.context"] = f"{tenant.graph_endpoint}/v1.0/$metadata#servicePrincipals/$entity"
    return GraphAnswer(200, document)


def _may_grant(user: DemoUser) -> bool:
    return user.can_grant_app_roles


def _user_may(who: Caller, check: Callable[[DemoUser], bool]) -> None:
    """403 when a delegated caller's user fails `check` on the app at hand."""
    if who.delegated and (who.user is None or not check(who.user)):
        raise GraphRefusal(403, "Authorization_RequestDenied", INSUFFICIENT)


def _not_allowed() -> GraphRefusal:
    return GraphRefusal(
        405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."
    )


def _body(body: bytes) -> dict[str, Any]:
    try:
        value = strict_json.loads(body or b"null")
    except strict_json.StrictJsonError as error:
        raise GraphRefusal(400, "BadRequest", f"Invalid request body: {error}") from None
    if not isinstance(value, dict):
        raise GraphRefusal(400, "BadRequest", "Invalid request body: send a JSON object.")
    return value


def _only(body: dict[str, Any], allowed: tuple[str, ...]) -> None:
    for name in body:
        if name not in allowed:
            raise GraphRefusal(
                400,
                "BadRequest",
                f"Property '{str(name)[:64]}' does not exist as a declared property or "
                "extension property, or the demo tenant does not set it.",
            )


def _now() -> str:
    return datetime.now(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


# -- the app and its service principal ---------------------------------------------------------


def _create_application(tenant: DemoTenant, who: Caller, body: dict[str, Any]) -> GraphAnswer:
    _only(body, ("displayName", "requiredResourceAccess", "signInAudience"))
    name = body.get("displayName")
    if not isinstance(name, str) or not name.strip() or len(name) > MAX_DISPLAY_NAME:
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            f"Property 'displayName' is required: a name of 1 to {MAX_DISPLAY_NAME} characters.",
        )
    if body.get("signInAudience", "AzureADMyOrg") != "AzureADMyOrg":
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            "The demo tenant registers single-tenant apps only (AzureADMyOrg).",
        )
    roles = _requested_roles(body.get("requiredResourceAccess", []))
    app = tenant.directory.create_application(name.strip(), roles)
    if who.delegated and who.user is not None:
        tenant.app_scopes.own(who.user, app.client_id)  # Graph makes the creator its owner
    document = application_json(tenant, app, entity=True)
    return GraphAnswer(201, document)


def _requested_roles(access: object) -> list[str]:
    """Graph application permissions named in requiredResourceAccess (by role ID)."""
    by_id = {role_id: name for name, role_id in GRAPH_APP_ROLES.items()}
    problem = GraphRefusal(
        400,
        "Request_BadRequest",
        "requiredResourceAccess must list Microsoft Graph "
        f"({GRAPH_APP_ID}) application permissions as {{'id': role ID, 'type': 'Role'}}.",
    )
    if not isinstance(access, list) or len(access) > 1:
        raise problem
    roles: list[str] = []
    for resource in access:
        if not isinstance(resource, dict) or resource.get("resourceAppId") != GRAPH_APP_ID:
            raise problem
        entries = resource.get("resourceAccess")
        if not isinstance(entries, list) or len(entries) > len(by_id):
            raise problem
        for entry in entries:
            if not isinstance(entry, dict) or entry.get("type") != "Role":
                raise problem
            name = by_id.get(str(entry.get("id", "")).lower())
            if name is None:
                raise problem
            if name not in roles:
                roles.append(name)
    return roles


def _create_service_principal(
    tenant: DemoTenant, who: Caller, body: dict[str, Any]
) -> GraphAnswer:
    _only(body, ("appId",))
    app_id = body.get("appId")
    if not isinstance(app_id, str) or not GUID_RE.match(app_id):
        raise GraphRefusal(
            400, "Request_BadRequest", "Property 'appId' is required: the application's client ID."
        )
    app = tenant.directory.application(app_id)
    if app_id.lower() == GRAPH_APP_ID or (app is not None and app.sp_object_id):
        raise GraphRefusal(
            409,
            "Request_MultipleObjectsWithSameKeyValue",
            "The service principal cannot be created, updated, or restored because the service "
            f"principal name {app_id.lower()} is already in use.",
        )
    if app is None:
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            f"The appId '{app_id}' of the service principal does not reference a valid "
            "application object.",
        )
    client_id = app.client_id
    _user_may(who, lambda user: tenant.app_scopes.may_change(user, client_id))

    def give_service_principal(changed: Application) -> None:
        if not changed.sp_object_id:
            changed.sp_object_id = str(uuid.uuid4())

    app = tenant.directory.change_application(app.client_id, give_service_principal)
    document = _service_principal_json(tenant, app)
    document["@odata.context"] = f"{tenant.graph_endpoint}/v1.0/$metadata#servicePrincipals/$entity"
    return GraphAnswer(201, document)


def graph_service_principal_id(tenant: DemoTenant) -> str:
    """Microsoft Graph's service principal in this tenant (stable across restarts)."""
    return str(uuid.uuid5(uuid.UUID(tenant.directory.tenant.tenant_id), GRAPH_APP_ID))


def _service_principal(
    tenant: DemoTenant, app_id: str | None, object_id: str | None
) -> Application | None:
    """The app whose service principal is named (None: Microsoft Graph's own), or 400/404."""
    identifier = app_id if app_id is not None else object_id or ""
    if not GUID_RE.match(identifier):
        raise GraphRefusal(
            400, "Request_BadRequest", f"Invalid object identifier '{identifier[:100]}'."
        )
    wanted = identifier.lower()
    if (app_id is not None and wanted == GRAPH_APP_ID) or wanted == graph_service_principal_id(
        tenant
    ):
        return None
    for app in tenant.directory.applications():
        if app.sp_object_id and wanted == (
            app.client_id if app_id is not None else app.sp_object_id
        ):
            return app
    raise GraphRefusal(
        404,
        "Request_ResourceNotFound",
        f"Resource '{identifier}' does not exist or one of its queried reference-property "
        "objects are not present.",
    )


def _list_service_principals(handler: RequestHandler, tenant: DemoTenant) -> GraphAnswer:
    clause = query_filter(handler)
    principals: list[Application | None] = [
        None,
        *(a for a in tenant.directory.applications() if a.sp_object_id),
    ]
    if clause is not None:
        wanted = filtered_app_id(clause, "ServicePrincipal")
        principals = [
            p for p in principals if (GRAPH_APP_ID if p is None else p.client_id) == wanted
        ]
    return GraphAnswer(
        200,
        {
            "@odata.context": f"{tenant.graph_endpoint}/v1.0/$metadata#servicePrincipals",
            "value": [_service_principal_json(tenant, p) for p in principals],
        },
    )


def _service_principal_json(tenant: DemoTenant, app: Application | None) -> dict[str, Any]:
    """A service principal: a demo app's, or Microsoft Graph's (None) with its app roles."""
    if app is None:
        return {
            "id": graph_service_principal_id(tenant),
            "accountEnabled": True,
            "appId": GRAPH_APP_ID,
            "appDisplayName": GRAPH_DISPLAY_NAME,
            "appOwnerOrganizationId": MICROSOFT_TENANT_ID,
            "displayName": GRAPH_DISPLAY_NAME,
            "servicePrincipalType": "Application",
            "servicePrincipalNames": [GRAPH_APP_ID, "https://graph.microsoft.com"],
            "appRoles": [
                {
                    "allowedMemberTypes": ["Application"],
                    "description": f"Allows the app to {name} without a signed-in user.",
                    "displayName": name,
                    "id": role_id,
                    "isEnabled": True,
                    "origin": "Application",
                    "value": name,
                }
                for name, role_id in GRAPH_APP_ROLES.items()
            ],
        }
    return {
        "id": app.sp_object_id,
        "accountEnabled": app.enabled,
        "appId": app.client_id,
        "appDisplayName": app.display_name,
        "appOwnerOrganizationId": tenant.directory.tenant.tenant_id,
        "displayName": app.display_name,
        "servicePrincipalType": "Application",
        "servicePrincipalNames": [app.client_id],
        "appRoles": [],
    }


# -- admin consent ------------------------------------------------------------------------


def _grant(
    tenant: DemoTenant, who: Caller, resource: Application | None, body: dict[str, Any]
) -> GraphAnswer:
    _only(body, ("principalId", "resourceId", "appRoleId"))
    graph_sp = graph_service_principal_id(tenant)
    resource_app_id = GRAPH_APP_ID if resource is None else resource.client_id
    resource_id = graph_sp if resource is None else resource.sp_object_id
    role_id = body.get("appRoleId")
    role = next((n for n, i in GRAPH_APP_ROLES.items() if i == str(role_id).lower()), None)
    if resource is not None or role is None:
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            f"Permission being assigned was not found on application '{resource_app_id}'.",
        )
    if str(body.get("resourceId", resource_id)).lower() != resource_id:
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            "The resourceId in the body is not the service principal in the URL.",
        )
    principal_id = body.get("principalId")
    if not isinstance(principal_id, str) or not GUID_RE.match(principal_id):
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            "Property 'principalId' is required: a service principal's ID.",
        )
    principal = next(
        (
            a
            for a in tenant.directory.applications()
            if a.sp_object_id and a.sp_object_id == principal_id.lower()
        ),
        None,
    )
    if principal is None:
        raise GraphRefusal(
            404,
            "Request_ResourceNotFound",
            f"Resource '{principal_id}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )
    _user_may(who, lambda user: tenant.app_scopes.may_grant(user, principal.client_id))
    if role in principal.granted_roles:
        raise GraphRefusal(
            400, "Request_BadRequest", "Permission being assigned already exists on the object"
        )

    def consent(app: Application) -> None:
        if role not in app.requested_roles:
            app.requested_roles.append(role)
        app.consented = True

    tenant.directory.change_application(principal.client_id, consent)
    return GraphAnswer(
        201,
        {
            "@odata.context": (
                f"{tenant.graph_endpoint}/v1.0/$metadata#servicePrincipals('{graph_sp}')/"
                "appRoleAssignedTo/$entity"
            ),
            "id": secrets.token_urlsafe(32),
            "deletedDateTime": None,
            "appRoleId": GRAPH_APP_ROLES[role],
            "createdDateTime": _now(),
            "principalDisplayName": principal.display_name,
            "principalId": principal.sp_object_id,
            "principalType": "ServicePrincipal",
            "resourceDisplayName": GRAPH_DISPLAY_NAME,
            "resourceId": graph_sp,
        },
    )
