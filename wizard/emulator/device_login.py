"""The device code flow over HTTP: the code endpoint, its token grant, and the approval page.

    POST /{tenant}/oauth2/v2.0/devicecode   client_id, scope -> device_code, user_code,
                                            verification_uri, expires_in, interval, message
    POST /{tenant}/oauth2/v2.0/token        grant_type=urn:ietf:params:oauth:grant-type:
                                            device_code, client_id, device_code
    GET  /devicelogin                       the approval page: enter the code, pick a demo
    POST /devicelogin                       user, approve or decline (plain, escaped HTML)

The verification URL is the tenant's own sign-in host + /devicelogin (Entra's is
microsoft.com/devicelogin, which the demo tenant cannot answer as). Tests decide through the
portal API instead (`POST /portal/devicecode/{user_code}`, see portal_routes).
"""

from __future__ import annotations

import base64
import html
import json
import urllib.parse
from collections.abc import Callable
from typing import TYPE_CHECKING

from wizard.emulator import device_code, errors
from wizard.emulator.device_code import DecisionError, DeviceAuthorization
from wizard.emulator.directory import GUID_RE
from wizard.emulator.transport import RequestHandler
from wizard.emulator.users import DemoUser, find_user

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant

DEVICE_LOGIN_PATH = "/devicelogin"
MAX_FORM_FIELD = 256


def serves(path: str) -> bool:
    return path.rstrip("/") == DEVICE_LOGIN_PATH


def _form(body: bytes) -> dict[str, list[str]]:
    try:
        return urllib.parse.parse_qs(body.decode("utf-8"), keep_blank_values=True)
    except UnicodeDecodeError:
        return {}


def _first(form: dict[str, list[str]], name: str) -> str:
    values = form.get(name)
    return values[0].strip() if values else ""


def public_client_name(tenant: DemoTenant, client_id: str) -> str:
    """The display name of a client allowed to use the device code flow, or Entra's refusal."""
    if not GUID_RE.match(client_id):
        raise errors.invalid_client_id(client_id[:100])
    known = device_code.KNOWN_PUBLIC_CLIENTS.get(client_id.lower())
    if known is not None:
        return known
    app = tenant.directory.application(client_id)
    if app is None:
        raise errors.unknown_application(client_id, tenant.directory.tenant.display_name)
    if not app.public_client:
        raise device_code.not_a_public_client(client_id)
    return app.display_name


# -- the code endpoint and the grant -------------------------------------------------------


def start(handler: RequestHandler, tenant: DemoTenant, body: bytes) -> None:
    """Answer POST /{tenant}/oauth2/v2.0/devicecode (the tenant already resolved)."""
    form = _form(body)
    client_id = _first(form, "client_id")
    if not client_id:
        raise errors.missing_parameter("client_id")
    app_name = public_client_name(tenant, client_id)
    scope = _first(form, "scope")
    if not scope:
        raise errors.missing_parameter("scope")
    scopes = device_code.graph_scopes(scope)
    authorization = tenant.device_codes.start(client_id.lower(), app_name, scopes)
    host = tenant.login_host_for(handler.headers.get("Host", ""))
    uri = host + DEVICE_LOGIN_PATH
    handler.send_json(
        200,
        {
            "user_code": authorization.user_code,
            "device_code": authorization.device_code,
            "verification_uri": uri,
            "expires_in": int(authorization.expires_at - authorization.created),
            "interval": authorization.interval,
            "message": (
                f"To sign in, use a web browser to open the page {uri} and enter the code "
                f"{authorization.user_code} to authenticate."
            ),
        },
    )


def redeem(handler: RequestHandler, tenant: DemoTenant, field: Callable[[str], str]) -> None:
    """Answer a token request with the device code grant: a token, or the poll's refusal."""
    client_id = field("client_id")
    if not client_id:
        raise errors.missing_parameter("client_id")
    public_client_name(tenant, client_id)
    code = field("device_code")
    if not code:
        raise errors.missing_parameter("device_code")
    authorization = tenant.device_codes.poll(code[:1024], client_id)
    handler.send_json(200, _token_answer(handler, tenant, authorization))


def _token_answer(
    handler: RequestHandler, tenant: DemoTenant, authorization: DeviceAuthorization
) -> dict[str, object]:
    user = authorization.user
    assert user is not None  # an approved authorization always names its user
    tid = tenant.directory.tenant.tenant_id
    host = tenant.login_host_for(handler.headers.get("Host", ""))
    access, id_token = tenant.issuer.issue_delegated(
        client_id=authorization.client_id,
        app_name=authorization.app_name,
        user=user,
        scopes=authorization.scopes,
        id_token_issuer=f"{host}/{tid}/v2.0",
    )
    client_info = json.dumps({"uid": user.object_id, "utid": tid}).encode()
    # No refresh token: MSAL does not need one, and nothing of the admin's should outlive
    # the access token.
    return {
        "token_type": "Bearer",
        "scope": " ".join(f"{tenant.graph_resource}/{s}" for s in authorization.scopes)
        + " openid profile",
        "expires_in": access.expires_in,
        "ext_expires_in": access.expires_in,
        "access_token": access.access_token,
        "id_token": id_token,
        "client_info": base64.urlsafe_b64encode(client_info).rstrip(b"=").decode("ascii"),
    }


# -- deciding (the page and the portal API share it) ---------------------------------------


def decide(
    tenant: DemoTenant, user_code: str, decision: str, user_name: str
) -> DeviceAuthorization:
    """Approve or decline a code as a demo user; DecisionError says what is wrong."""
    if decision not in ("approve", "decline"):
        raise DecisionError(400, "InvalidDecision", 'The decision is "approve" or "decline".')
    user = find_user(tenant.users(), user_name[:MAX_FORM_FIELD]) if user_name else None
    if user is None:
        names = ", ".join(u.user_principal_name for u in tenant.users())
        raise DecisionError(400, "UnknownUser", f"Pick one of the demo users: {names}.")
    return tenant.device_codes.decide(user_code, approve=decision == "approve", user=user)


def decision_json(authorization: DeviceAuthorization) -> dict[str, object]:
    user = authorization.user
    return {
        "user_code": authorization.user_code,
        "status": authorization.state,
        "client_id": authorization.client_id,
        "app_name": authorization.app_name,
        "scopes": list(authorization.scopes),
        "user": None if user is None else user.user_principal_name,
    }


# -- the approval page ----------------------------------------------------------------------


def respond(handler: RequestHandler, tenant: DemoTenant, method: str, body: bytes) -> None:
    """The approval page: GET shows the form, POST decides and shows the outcome."""
    if method == "GET":
        _page(handler, tenant, notice="")
        return
    if method != "POST":
        _page(handler, tenant, notice="Use the form on this page.", status=405)
        return
    form = _form(body)
    user_code = _first(form, "user_code")[:MAX_FORM_FIELD]
    try:
        authorization = decide(tenant, user_code, _first(form, "decision"), _first(form, "user"))
    except DecisionError as error:
        _page(handler, tenant, notice=error.message, status=error.status, user_code=user_code)
        return
    _outcome(handler, authorization)


def _document(title: str, inner: str) -> bytes:
    return (
        '<!DOCTYPE html><html lang="en"><head><meta charset="utf-8">'
        f"<title>{html.escape(title)}</title></head><body>"
        f"<h1>{html.escape(title)}</h1>{inner}</body></html>"
    ).encode()


def _page(
    handler: RequestHandler,
    tenant: DemoTenant,
    *,
    notice: str,
    status: int = 200,
    user_code: str = "",
) -> None:
    users = tenant.users()
    options = "".join(
        f'<option value="{html.escape(u.user_principal_name)}">'
        f"{html.escape(_user_label(u))}</option>"
        for u in users
    )
    organization = html.escape(tenant.directory.tenant.display_name)
    inner = (
        (f'<p role="alert">{html.escape(notice)}</p>' if notice else "")
        + f"<p>Demo sign-in to {organization}. Enter the code the application shows, "
        "choose who signs in, then approve or decline.</p>"
        f'<form method="post" action="{DEVICE_LOGIN_PATH}">'
        '<p><label>Code <input name="user_code" autocomplete="off" required '
        f'value="{html.escape(user_code)}"></label></p>'
        f'<p><label>Sign in as <select name="user">{options}</select></label></p>'
        '<p><button name="decision" value="approve">Approve</button> '
        '<button name="decision" value="decline">Decline</button></p></form>'
    )
    handler.send(status, _document("Enter code", inner), "text/html; charset=utf-8")


def _user_label(user: DemoUser) -> str:
    role = "Application Administrator" if user.can_change_applications else "no admin role"
    if user.app_scoped:
        role += " of its own apps"
    return f"{user.display_name} ({user.user_principal_name}, {role})"


def _outcome(handler: RequestHandler, authorization: DeviceAuthorization) -> None:
    app = html.escape(authorization.app_name)
    if authorization.state == "approved":
        title, text = "You're signed in", f"You have signed in to {app}. You can close this window."
    elif authorization.state == "blocked":
        title, text = (
            "Access blocked",
            "AADSTS53003: Access has been blocked by Conditional Access policies. The access "
            "policy does not allow token issuance.",
        )
    else:
        title, text = "Sign-in declined", f"You declined to sign in to {app}."
    # `text` is built from escaped parts and constants only.
    handler.send(200, _document(title, f"<p>{text}</p>"), "text/html; charset=utf-8")
