"""Microsoft Graph's app registrations, as the demo tenant serves them to an admin.

    GET   /v1.0/applications[?$filter=appId eq '{client_id}']
    GET   /v1.0/applications/{object_id}        also /applications(appId='{client_id}')
    PATCH /v1.0/applications/{object_id}        {"keyCredentials": [...]} -> 204
                                                (graph_key_credentials: Graph's rules)

Reading needs Application.Read.All, Application.ReadWrite.All or Directory.Read.All (a
delegated scope, or an application role); writing needs Application.ReadWrite.All, and in a
delegated token also a user holding an app-admin role (graph_access).
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING, Any

from wizard.emulator.directory import GRAPH_APP_ID, GUID_RE, Application
from wizard.emulator.graph_access import (
    GRAPH_APP_ROLES,
    READ_PERMISSIONS,
    WRITE_PERMISSIONS,
    GraphAnswer,
    GraphRefusal,
    caller,
    filtered_app_id,
    graph_time,
    query_filter,
    relative_path,
    require,
)
from wizard.emulator.graph_key_credentials import key_credential_json, patch_application

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant
    from wizard.emulator.transport import RequestHandler

_APPLICATIONS = re.compile(r"^applications$", re.IGNORECASE)
_APPLICATION_BY_ID = re.compile(r"^applications/([^/()]+)$", re.IGNORECASE)
_APPLICATION_BY_APP_ID = re.compile(r"^applications\(appId='([^'/]*)'\)$", re.IGNORECASE)


# -- routing --------------------------------------------------------------------------------


def serves(path: str) -> bool:
    """Whether a Graph path is one of this module's (others, such as addKey, are not)."""
    relative = relative_path(path)
    return relative is not None and any(
        pattern.match(relative)
        for pattern in (_APPLICATIONS, _APPLICATION_BY_ID, _APPLICATION_BY_APP_ID)
    )


def respond(
    handler: RequestHandler, tenant: DemoTenant, method: str, path: str, body: bytes
) -> GraphAnswer:
    relative = relative_path(path) or ""
    who = caller(tenant, handler)
    if _APPLICATIONS.match(relative):
        if method != "GET":
            raise _method_not_allowed()
        require(who, READ_PERMISSIONS)
        return _list(handler, tenant)
    if method not in ("GET", "PATCH"):
        raise _method_not_allowed()
    app = find_application(tenant, relative)
    if method == "GET":
        require(who, READ_PERMISSIONS)
        return GraphAnswer(200, application_json(tenant, app, entity=True))
    # A delegated user changes an app its roles reach (tenant-wide or scoped to it) or it owns.
    require(who, WRITE_PERMISSIONS, user_may=lambda user: tenant.app_scopes.may_change(user, app.client_id))
    patch_application(tenant, app, body)
    return GraphAnswer(204, None)


def _method_not_allowed() -> GraphRefusal:
    return GraphRefusal(
        405, "Request_BadRequest", "Specified HTTP method is not allowed for the request uri."
    )


def find_application(tenant: DemoTenant, relative: str) -> Application:
    """The app named by applications/{id} or applications(appId='…'), or Graph's refusal."""
    by_app_id = _APPLICATION_BY_APP_ID.match(relative)
    matched = by_app_id or _APPLICATION_BY_ID.match(relative)
    identifier = matched.group(1) if matched else ""
    if not GUID_RE.match(identifier):
        raise GraphRefusal(
            400, "Request_BadRequest", f"Invalid object identifier '{identifier[:100]}'."
        )
    directory = tenant.directory
    app = (
        directory.application(identifier)
        if by_app_id
        else directory.application_by_object_id(identifier)
    )
    if app is None:
        raise GraphRefusal(
            404,
            "Request_ResourceNotFound",
            f"Resource '{identifier}' does not exist or one of its queried reference-property "
            "objects are not present.",
        )
    return app


def _list(handler: RequestHandler, tenant: DemoTenant) -> GraphAnswer:
    clause = query_filter(handler)
    apps = tenant.directory.applications()
    if clause is not None:
        apps = [a for a in apps if a.client_id == filtered_app_id(clause, "Application")]
    return GraphAnswer(
        200,
        {
            "@odata.context": f"{tenant.graph_endpoint}/v1.0/$metadata#applications",
            "value": [application_json(tenant, a) for a in apps],
        },
    )


# -- what Graph shows -----------------------------------------------------------------------


def application_json(
    tenant: DemoTenant, app: Application, *, entity: bool = False
) -> dict[str, Any]:
    """An application object with the properties a client of this flow reads."""
    directory_tenant = tenant.directory.tenant
    document: dict[str, Any] = {}
    if entity:
        document["@odata.context"] = f"{tenant.graph_endpoint}/v1.0/$metadata#applications/$entity"
    document.update(
        {
            "id": app.app_object_id,
            "deletedDateTime": None,
            "appId": app.client_id,
            "createdDateTime": graph_time(directory_tenant.created),
            "displayName": app.display_name,
            "isFallbackPublicClient": app.public_client or None,
            "publisherDomain": directory_tenant.domain,
            "signInAudience": "AzureADMyOrg",
            "keyCredentials": [key_credential_json(k) for k in app.key_credentials],
            "passwordCredentials": [],
            "publicClient": {"redirectUris": []},
            "requiredResourceAccess": (
                [
                    {
                        "resourceAppId": GRAPH_APP_ID,
                        "resourceAccess": [
                            {"id": GRAPH_APP_ROLES[r], "type": "Role"}
                            for r in app.requested_roles
                            if r in GRAPH_APP_ROLES
                        ],
                    }
                ]
                if app.requested_roles
                else []
            ),
        }
    )
    return document
