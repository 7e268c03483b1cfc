"""Who may use the demo tenant's Graph app-registration endpoints, and what they share.

A caller is the bearer of a valid token from the tenant: an app on its own (app-only, its
`roles`) or a user through a client (delegated, its `scp`, and the user's directory roles).
Refusals go out in Graph's envelope (graph_routes sends them): 401 InvalidAuthenticationToken
for no valid token, 403 Authorization_RequestDenied "Insufficient privileges to complete the
operation." for a token without the permission or a user without the role.
"""

from __future__ import annotations

import re
import urllib.parse
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from wizard.emulator.tokens import BearerRejected
from wizard.emulator.users import DemoUser

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant
    from wizard.emulator.transport import RequestHandler

V1 = "/graph/v1.0/"
READ_PERMISSIONS = (
    "Application.Read.All",
    "Application.ReadWrite.All",
    "Directory.Read.All",
    "Directory.AccessAsUser.All",
)
WRITE_PERMISSIONS = ("Application.ReadWrite.All", "Directory.AccessAsUser.All")
# Graph's application permissions by name -> app role ID (Microsoft Graph's service
# principal publishes them; the IDs are the same in every tenant).
GRAPH_APP_ROLES = {
    "Organization.Read.All": "498476ce-e0fe-48b0-b801-37ba7e2685c6",
    "Directory.Read.All": "7ab1d382-f21e-4acd-a863-ba3e13f7da61",
    "Application.Read.All": "9a5d68dd-52b0-4cc2-bd40-abcf44ac3a30",
    "Application.ReadWrite.All": "1bfefb4e-e0b5-418b-a88f-73c46d2cc8e9",
    "Application.ReadWrite.OwnedBy": "18a4783c-866b-4cc7-a460-3d5e5662c884",
    "AppRoleAssignment.ReadWrite.All": "06b708a9-e830-4db3-a914-8e69da51d44f",
    "User.Read.All": "df021288-bdef-4463-88db-98f22de89214",
}
INSUFFICIENT = "Insufficient privileges to complete the operation."
_FILTER_APP_ID = re.compile(r"^\s*appId\s+eq\s+'((?:[^']|'')*)'\s*$")
_FILTER_PROPERTY = re.compile(
    r"^\s*([A-Za-z]\w*)\s+(eq|ne|gt|lt|ge|le|startswith)\b", re.IGNORECASE
)


class GraphRefusal(Exception):
    """A refusal in Graph's envelope: status, Graph's error code, message."""

    def __init__(self, status: int, code: str, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message


@dataclass(frozen=True)
class GraphAnswer:
    status: int
    body: dict[str, Any] | None  # None: no content (204)


# -- who is calling -------------------------------------------------------------------------


@dataclass(frozen=True)
class Caller:
    """The bearer of a valid token: an app on its own, or a user through a client."""

    claims: dict[str, Any]
    user: DemoUser | None  # delegated tokens only
    permissions: frozenset[str]  # scp (delegated) or roles (app-only)

    @property
    def delegated(self) -> bool:
        return self.claims.get("idtyp") == "user" or "scp" in self.claims


def caller(tenant: DemoTenant, handler: RequestHandler) -> Caller:
    """The validated bearer, or a 401 InvalidAuthenticationToken refusal."""
    scheme, _, token = handler.headers.get("Authorization", "").partition(" ")
    try:
        claims = tenant.issuer.validate(token.strip() if scheme.lower() == "bearer" else "")
    except BearerRejected as rejected:
        raise GraphRefusal(401, "InvalidAuthenticationToken", str(rejected)) from None
    if "scp" in claims:
        scopes = claims.get("scp")
        permissions = frozenset(scopes.split()) if isinstance(scopes, str) else frozenset()
        oid = claims.get("oid")
        user = next((u for u in tenant.users() if u.object_id == oid), None)
        return Caller(claims, user, permissions)
    roles = claims.get("roles")
    permissions = (
        frozenset(r for r in roles if isinstance(r, str))
        if isinstance(roles, list)
        else frozenset()
    )
    return Caller(claims, None, permissions)


def require(
    who: Caller,
    permissions: tuple[str, ...],
    *,
    user_may: Callable[[DemoUser], bool] | None = None,
) -> None:
    """403 unless the token carries one of `permissions` and, when it is delegated and
    `user_may` is given, its user passes that check (a directory role)."""
    if not who.permissions & set(permissions):
        raise GraphRefusal(403, "Authorization_RequestDenied", INSUFFICIENT)
    if user_may is not None and who.delegated and (who.user is None or not user_may(who.user)):
        raise GraphRefusal(403, "Authorization_RequestDenied", INSUFFICIENT)


# -- paths and queries ----------------------------------------------------------------------


def relative_path(path: str) -> str | None:
    if not path.startswith(V1):
        return None
    return urllib.parse.unquote(path[len(V1) :].rstrip("/"))


def query_filter(handler: RequestHandler) -> str | None:
    """The request's $filter, or None; Graph's refusal when it comes more than once."""
    query = urllib.parse.parse_qs(urllib.parse.urlsplit(handler.path).query, keep_blank_values=True)
    filters = [
        v for name, values in query.items() if name.lower().lstrip("$") == "filter" for v in values
    ]
    if len(filters) > 1:
        raise GraphRefusal(
            400,
            "BadRequest",
            "Query option 'Filter' was specified more than once, but it must be specified at "
            "most once.",
        )
    return filters[0] if filters else None


def filtered_app_id(clause: str, resource: str) -> str:
    """The app ID in `appId eq '…'` (lower case), or Graph's refusal of any other filter."""
    matched = _FILTER_APP_ID.match(clause)
    if matched:
        return matched.group(1).replace("''", "'").lower()
    other = _FILTER_PROPERTY.match(clause)
    if other and other.group(1).lower() != "appid":
        raise GraphRefusal(
            400,
            "Request_UnsupportedQuery",
            f"Unsupported or invalid query filter clause specified for property "
            f"'{other.group(1)[:64]}' of resource '{resource}'.",
        )
    raise GraphRefusal(
        400, "BadRequest", f"Invalid filter clause: syntax error in '{clause[:100]}'."
    )


def graph_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")
