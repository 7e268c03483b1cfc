"""The demo portal API: the stand-in for the Entra admin center's "Certificates & secrets".

    GET    /portal                                             the tenant's ID and domain
    GET    /portal/applications                                every app registration
    PATCH  /portal/applications/{client_id}                    enabled, public_client, ...
    POST   /portal/applications/{client_id}/certificates       body: the .cer (DER or PEM) -> 201
    DELETE /portal/applications/{client_id}/certificates/{thumbprint}
    POST   /portal/applications/{client_id}/consent            {"granted": true|false}
    GET|POST|DELETE /portal/faults                             the active fault (see Fault)
    GET    /portal/users                                       the demo users (admin and not)
    GET|PATCH /portal/devicecode                               the device-code policy:
                                                               expires_in, interval,
                                                               blocked_by_conditional_access
    POST   /portal/devicecode/{user_code}                      {"decision": "approve"|"decline",
                                                               "user": UPN or "admin"/"user"}

When the tenant serves other machines, every call needs the admin token printed at start.
A token in `DemoTenant.app_tokens` (a workshop seat's) reaches one app only: it lists and
changes that app, and nothing else (403); it approves a device code only as that app's own
admin (users.AppScopes) or the user with no admin role, never as a tenant-wide admin.
Errors are {"error": {"code", "message"}}.
"""

from __future__ import annotations

import hmac
import urllib.parse
from typing import TYPE_CHECKING

from wizard.emulator import device_login, strict_json
from wizard.emulator.device_code import DecisionError
from wizard.emulator.directory import PortalError
from wizard.emulator.faults import Fault
from wizard.emulator.transport import RequestHandler, plain_error
from wizard.emulator.users import find_user

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant

PORTAL_PREFIX = "/portal"
# Named in the answer to an unknown path, so a caller learns the API from the server itself.
ENDPOINTS = (
    "GET /applications",
    "PATCH /applications/{client_id}",
    "POST /applications/{client_id}/certificates",
    "DELETE /applications/{client_id}/certificates/{thumbprint}",
    "POST /applications/{client_id}/consent",
    "GET|POST|DELETE /faults",
    "GET /users",
    "GET|PATCH /devicecode",
    "POST /devicecode/{user_code}",
)


def serves(path: str) -> bool:
    """Whether a path is the portal API's (/portal and everything under it)."""
    return path == PORTAL_PREFIX or path.startswith(PORTAL_PREFIX + "/")


def respond(
    handler: RequestHandler, tenant: DemoTenant, method: str, path: str, body: bytes
) -> None:
    """Answer a portal API request, after checking the admin token when one is required."""
    try:
        scheme, _, supplied = handler.headers.get("Authorization", "").partition(" ")
        supplied = supplied.strip() if scheme.lower() == "bearer" else ""
        relative = path[len(PORTAL_PREFIX) :]
        parts = [urllib.parse.unquote(p) for p in relative.strip("/").split("/") if p]
        scoped_to = _app_token_owner(tenant, supplied)
        if scoped_to is not None:
            _check_scope(scoped_to, method, parts)
        elif tenant.admin_token is not None and not hmac.compare_digest(
            supplied.encode(), tenant.admin_token.encode()
        ):
            raise PortalError(
                401,
                "Unauthorized",
                "The portal API needs the admin token printed when the demo tenant "
                "started: send 'Authorization: Bearer <token>'.",
            )
        _route(handler, tenant, method, parts, body, scoped_to)
    except (PortalError, DecisionError) as error:
        handler.send_json(error.status, plain_error(error.code, error.message))


def _app_token_owner(tenant: DemoTenant, supplied: str) -> str | None:
    """The one app a scoped token reaches (a workshop seat's), or None for any other token."""
    for token, client_id in tenant.app_tokens.items():
        if supplied and hmac.compare_digest(supplied.encode(), token.encode()):
            return client_id
    return None


def _check_scope(client_id: str, method: str, parts: list[str]) -> None:
    """A scoped token reads the tenant and its own app, and changes only its own app."""
    if parts in ([], ["applications"]) and method == "GET":
        return
    if len(parts) >= 2 and parts[0] == "applications" and parts[1].lower() == client_id.lower():
        return
    if len(parts) == 2 and parts[0] == "devicecode" and method == "POST":
        return  # a seat approves its own sign-in's code (the demo-admin shortcut on step 4)
    raise PortalError(
        403,
        "Forbidden",
        "This portal token reaches only its own app registration; that call is not for it.",
    )


def _check_approver(tenant: DemoTenant, client_id: str, user_name: str) -> None:
    """A scoped token signs in only as a user with no admin role, or as the admin whose roles
    are assigned on its own app (a workshop seat's): never as an admin of other apps."""
    user = find_user(tenant.users(), user_name[: device_login.MAX_FORM_FIELD])
    if user is None:
        return  # decide() names the users there are
    no_role = not (user.can_change_applications or user.can_grant_app_roles)
    if no_role or (user.app_scoped and tenant.app_scopes.assigned_to(user, client_id)):
        return
    raise PortalError(
        403,
        "Forbidden",
        f"This portal token signs in only as its own seat's admin or a user with no admin "
        f"role, not as {user.user_principal_name}.",
    )


def _route(
    handler: RequestHandler,
    tenant: DemoTenant,
    method: str,
    parts: list[str],
    body: bytes,
    scoped_to: str | None = None,
) -> None:
    directory = tenant.directory
    if parts == []:
        if method != "GET":
            raise PortalError(405, "MethodNotAllowed", "Use GET.")
        handler.send_json(
            200,
            {"tenant_id": directory.tenant.tenant_id, "tenant_domain": directory.tenant.domain},
        )
        return
    if parts == ["applications"]:
        if method != "GET":
            raise PortalError(405, "MethodNotAllowed", "Use GET to list applications.")
        apps = directory.applications_json()
        if scoped_to is not None:
            apps = [app for app in apps if app["client_id"] == scoped_to.lower()]
        handler.send_json(200, {"value": apps})
        return
    if parts == ["faults"]:
        _faults(handler, tenant, method, body)
        return
    if parts == ["users"] and method == "GET":
        handler.send_json(200, {"value": [u.to_json() for u in tenant.users()]})
        return
    if parts and parts[0] == "devicecode":
        _device_code(handler, tenant, method, parts[1:], body, scoped_to)
        return
    if len(parts) >= 2 and parts[0] == "applications":
        client_id = parts[1]
        if parts[2:] == ["certificates"] and method == "POST":
            credential = directory.add_certificate(client_id, body)
            handler.send_json(201, {"client_id": client_id.lower(), **credential.to_json()})
            return
        if len(parts) == 4 and parts[2] == "certificates" and method == "DELETE":
            removed = directory.remove_certificate(client_id, parts[3])
            handler.send_json(200, {"client_id": client_id.lower(), "removed": removed.to_json()})
            return
        if len(parts) == 2 and method == "PATCH":
            changes = _json_object(body, "{}")
            if changes is None:
                raise PortalError(400, "InvalidSettings", "Send a JSON object.")
            handler.send_json(200, directory.update_settings(client_id, changes).to_json())
            return
        if parts[2:] == ["consent"] and method == "POST":
            granted = (_json_object(body, "{}") or {}).get("granted")
            if not isinstance(granted, bool):
                raise PortalError(
                    400, "InvalidConsent", 'Send JSON {"granted": true} or {"granted": false}.'
                )
            app = directory.set_consent(client_id, granted)
            handler.send_json(200, app.to_json())
            return
    raise PortalError(
        404,
        "NotFound",
        f"No such portal API endpoint. Under {PORTAL_PREFIX} the demo tenant serves: "
        + "; ".join(ENDPOINTS)
        + ".",
    )


def _faults(handler: RequestHandler, tenant: DemoTenant, method: str, body: bytes) -> None:
    if method == "POST":
        try:
            fault = Fault.from_json(strict_json.loads(body or b"null"))
        except ValueError as error:  # StrictJsonError included
            raise PortalError(400, "InvalidFault", f"The fault is not valid: {error}.") from None
        tenant.set_fault(fault)
        handler.send_json(200, {"fault": fault.to_json()})
    elif method == "DELETE":
        tenant.set_fault(None)
        handler.send_json(200, {"fault": None})
    elif method == "GET":
        current = tenant.faults.current()
        handler.send_json(200, {"fault": None if current is None else current.to_json()})
    else:
        raise PortalError(405, "MethodNotAllowed", "Use GET, POST or DELETE.")


def _device_code(
    handler: RequestHandler,
    tenant: DemoTenant,
    method: str,
    rest: list[str],
    body: bytes,
    scoped_to: str | None,
) -> None:
    """The device-code policy, and deciding a code the way the approval page does."""
    if rest == [] and method == "GET":
        handler.send_json(200, tenant.device_codes.settings.to_json())
        return
    if rest == [] and method == "PATCH":
        changes = _json_object(body, "{}")
        if not changes:
            raise PortalError(400, "InvalidSettings", "Send a JSON object of settings.")
        handler.send_json(200, tenant.device_codes.configure(changes).to_json())
        return
    if len(rest) == 1 and method == "POST":
        request = _json_object(body, "{}")
        decision, user = (request or {}).get("decision"), (request or {}).get("user")
        if not isinstance(decision, str) or not isinstance(user, str):
            raise PortalError(
                400,
                "InvalidDecision",
                'Send JSON {"decision": "approve" or "decline", "user": "admin" or a UPN}.',
            )
        if scoped_to is not None:
            _check_approver(tenant, scoped_to, user)
        authorization = device_login.decide(tenant, rest[0], decision, user)
        handler.send_json(200, device_login.decision_json(authorization))
        return
    raise PortalError(
        405, "MethodNotAllowed", "Use GET or PATCH /devicecode, or POST /devicecode/{user_code}."
    )


def _json_object(body: bytes, empty: str) -> dict[str, object] | None:
    """The body as a JSON object (`empty` stands in for no body), or None when it is not one."""
    try:
        value = strict_json.loads(body or empty.encode())
    except strict_json.StrictJsonError:
        return None
    return value if isinstance(value, dict) else None
