"""Microsoft Graph's app registrations, as the demo tenant serves them to an admin.

    GET   /v1.0/applications[?$filter=appId eq '{client_id}']
    GET   /v1.0/applications/{object_id}        also /applications(appId='{client_id}')
    PATCH /v1.0/applications/{object_id}        {"keyCredentials": [...]} -> 204

PATCH replaces the whole keyCredentials collection, as Graph does: an existing credential is
kept only when it is sent back by `keyId` (its `key` reads back null, and may come back null);
a known keyId with changed content is refused ("Update to existing credential with KeyId '…'
is not allowed.", Request_BadRequest: captured in Azure/azure-powershell#6784 and the
Request_BadRequest body in Azure/active-directory-dotnet-graphapi-b2bportal-web#8); a usage
other than Sign or Verify is refused with Graph's wording (msgraph-sdk-java#1823,
msgraph-sdk-dotnet#1869); a new AsymmetricX509Cert must have usage Verify (Graph's docs:
Sign belongs to X509CertAndPassword; that refusal's wording is ours). The collection is the
one the portal API and the token endpoint use.

Reading needs Application.Read.All, Application.ReadWrite.All or Directory.Read.All (a
delegated scope, or an application role); writing needs Application.ReadWrite.All, and in a
delegated token also a user holding an app-admin role. Otherwise 403
Authorization_RequestDenied. Errors go out in Graph's envelope (graph_routes sends them).
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import re
import urllib.parse
import uuid
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from wizard.emulator import strict_json
from wizard.emulator.directory import GRAPH_APP_ID, GUID_RE, Application, KeyCredential
from wizard.emulator.tokens import BearerRejected
from wizard.emulator.users import DemoUser, demo_users

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
KEY_FIELDS = (
    "@odata.type",
    "customKeyIdentifier",
    "displayName",
    "endDateTime",
    "key",
    "keyId",
    "startDateTime",
    "type",
    "usage",
)
INSUFFICIENT = "Insufficient privileges to complete the operation."

_APPLICATIONS = re.compile(r"^applications$", re.IGNORECASE)
_APPLICATION_BY_ID = re.compile(r"^applications/([^/()]+)$", re.IGNORECASE)
_APPLICATION_BY_APP_ID = re.compile(r"^applications\(appId='([^'/]*)'\)$", re.IGNORECASE)
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
        user = next((u for u in demo_users(tenant.directory.tenant) if u.object_id == oid), None)
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


def may_change_applications(user: DemoUser) -> bool:
    return user.can_change_applications


# -- routing --------------------------------------------------------------------------------


def serves(path: str) -> bool:
    """Whether a Graph path is one of this module's (others, such as addKey, are not)."""
    relative = relative_path(path)
    return relative is not None and any(
        pattern.match(relative)
        for pattern in (_APPLICATIONS, _APPLICATION_BY_ID, _APPLICATION_BY_APP_ID)
    )


def relative_path(path: str) -> str | None:
    if not path.startswith(V1):
        return None
    return urllib.parse.unquote(path[len(V1) :].rstrip("/"))


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
    require(who, WRITE_PERMISSIONS, user_may=may_change_applications)
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


# -- what Graph shows -----------------------------------------------------------------------


def _graph_time(moment: datetime) -> str:
    return moment.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def key_credential_json(key: KeyCredential) -> dict[str, Any]:
    """A keyCredential as Graph reads it back: `key` is always null."""
    return {
        "customKeyIdentifier": base64.b64encode(bytes.fromhex(key.thumbprint_sha1)).decode("ascii"),
        "displayName": key.display_name,
        "endDateTime": _graph_time(key.end),
        "key": None,
        "keyId": key.key_id,
        "startDateTime": _graph_time(key.start),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }


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
            "createdDateTime": _graph_time(directory_tenant.created),
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


# -- PATCH keyCredentials -------------------------------------------------------------------


@dataclass(frozen=True)
class ProposedKey:
    """One entry of a PATCH's keyCredentials, checked for shape (not yet against the app)."""

    key_id: str | None
    der: bytes | None
    fields: dict[str, Any]  # the other properties sent, as sent


def patch_application(tenant: DemoTenant, app: Application, body: bytes) -> None:
    try:
        changes = strict_json.loads(body or b"{}")
    except strict_json.StrictJsonError as error:
        raise GraphRefusal(400, "BadRequest", f"Invalid request body: {error}") from None
    if not isinstance(changes, dict):
        raise GraphRefusal(400, "BadRequest", "Invalid request body: send a JSON object.")
    for name in changes:
        if name != "keyCredentials":
            raise GraphRefusal(
                400,
                "BadRequest",
                f"Property '{str(name)[:64]}' does not exist as a declared property or "
                "extension property, or the demo tenant does not change it.",
            )
    if "keyCredentials" not in changes:
        return
    entries = changes["keyCredentials"]
    if not isinstance(entries, list):
        raise GraphRefusal(
            400, "BadRequest", "Invalid value for property 'keyCredentials': send an array."
        )
    proposed = [_proposed_key(entry) for entry in entries]
    tenant.directory.replace_key_credentials(
        app.client_id, lambda current: _merged(current, proposed)
    )


def _proposed_key(entry: object) -> ProposedKey:
    if not isinstance(entry, dict):
        raise GraphRefusal(400, "BadRequest", "Each keyCredential must be a JSON object.")
    for name in entry:
        if name not in KEY_FIELDS:
            raise GraphRefusal(
                400,
                "BadRequest",
                f"Property '{str(name)[:64]}' does not exist as a declared property or extension "
                "property.",
            )
    key_id = entry.get("keyId")
    if key_id is not None and not (isinstance(key_id, str) and GUID_RE.match(key_id)):
        raise GraphRefusal(
            400,
            "BadRequest",
            f"Cannot convert the literal '{str(key_id)[:64]}' to the expected type 'Edm.Guid'.",
        )
    for name in (
        "displayName",
        "type",
        "usage",
        "customKeyIdentifier",
        "startDateTime",
        "endDateTime",
    ):
        if entry.get(name) is not None and not isinstance(entry[name], str):
            raise GraphRefusal(400, "BadRequest", f"Invalid value for property '{name}'.")
    for name in ("startDateTime", "endDateTime"):
        if entry.get(name) is not None:
            _parse_time(entry[name])
    der = None
    if entry.get("key") is not None:
        if not isinstance(entry["key"], str):
            raise GraphRefusal(400, "BadRequest", "Invalid value for property 'key'.")
        try:
            der = base64.b64decode(entry["key"], validate=True)
        except (binascii.Error, ValueError):
            raise GraphRefusal(
                400,
                "BadRequest",
                "Cannot convert the value of 'key' to the expected type 'Edm.Binary'.",
            ) from None
    fields = {name: value for name, value in entry.items() if name not in ("keyId", "key")}
    return ProposedKey(key_id.lower() if key_id else None, der, fields)


def _parse_time(text: str) -> datetime:
    try:
        moment = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        raise GraphRefusal(
            400,
            "BadRequest",
            f"Cannot convert the literal '{text[:64]}' to the expected type 'Edm.DateTimeOffset'.",
        ) from None
    return moment if moment.tzinfo else moment.replace(tzinfo=timezone.utc)


def _merged(current: list[KeyCredential], proposed: list[ProposedKey]) -> list[KeyCredential]:
    """The new collection: kept credentials (by keyId, unchanged) and new certificates."""
    existing = {key.key_id: key for key in current}
    result: list[KeyCredential] = []
    for entry in proposed:
        kept = existing.get(entry.key_id) if entry.key_id else None
        credential = _kept(kept, entry) if kept is not None else _new_credential(entry)
        for other in result:
            if other.key_id == credential.key_id:
                raise GraphRefusal(
                    400,
                    "Request_BadRequest",
                    f"The keyId '{credential.key_id}' appears more than once in keyCredentials.",
                )
            if other.thumbprint_sha1 == credential.thumbprint_sha1:
                raise GraphRefusal(
                    400,
                    "Request_BadRequest",
                    f"The certificate with thumbprint {credential.thumbprint_sha1} appears more than "
                    "once in keyCredentials.",
                )
        result.append(credential)
    return result


def _kept(old: KeyCredential, entry: ProposedKey) -> KeyCredential:
    """An existing credential sent back by keyId: anything it says must match what is kept."""
    sent = entry.fields
    same = (
        (entry.der is None or entry.der == old.der)
        and sent.get("type") in (None, "AsymmetricX509Cert")
        and sent.get("usage") in (None, "Verify")
        and sent.get("displayName") in (None, old.display_name)
        and sent.get("customKeyIdentifier")
        in (None, key_credential_json(old)["customKeyIdentifier"])
        and _same_time(sent.get("startDateTime"), old.start)
        and _same_time(sent.get("endDateTime"), old.end)
    )
    if not same:
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            f"Update to existing credential with KeyId '{old.key_id}' is not allowed.",
        )
    return old


def _same_time(sent: str | None, kept: datetime) -> bool:
    return sent is None or abs(_parse_time(sent) - kept) < timedelta(seconds=1)


def _new_credential(entry: ProposedKey) -> KeyCredential:
    from wizard import certs
    from wizard.errors import UserError

    sent = entry.fields
    usage, kind = sent.get("usage"), sent.get("type")
    if usage not in ("Sign", "Verify"):
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            'The value for the property "usage" in one of your credentials is invalid. Acceptable '
            "values are Sign, Verify.",
        )
    if kind != "AsymmetricX509Cert":
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            "The demo tenant takes certificates only: a new keyCredential has type "
            "'AsymmetricX509Cert'.",
        )
    if usage != "Verify":
        raise GraphRefusal(
            400,
            "Request_BadRequest",
            "A certificate an app signs in with is type 'AsymmetricX509Cert' with usage "
            "'Verify'; usage 'Sign' needs type 'X509CertAndPassword' and its private key.",
        )
    if entry.der is None:
        raise GraphRefusal(400, "Request_BadRequest", "Invalid certificate: Key value is null.")
    if b"PRIVATE KEY-----" in entry.der:
        raise GraphRefusal(
            400, "Request_BadRequest", "Invalid certificate: Key value is invalid certificate"
        )
    try:
        cert = certs.load_certificate_bytes(entry.der, source="The key")
    except UserError:
        raise GraphRefusal(
            400, "Request_BadRequest", "Invalid certificate: Key value is invalid certificate"
        ) from None
    credential = KeyCredential.from_certificate(cert)
    if credential.public_key is None:
        raise GraphRefusal(
            400, "Request_BadRequest", "Invalid certificate: the key is not RSA; Entra expects RSA."
        )
    start = _parse_time(sent["startDateTime"]) if sent.get("startDateTime") else credential.start
    end = _parse_time(sent["endDateTime"]) if sent.get("endDateTime") else credential.end
    if end > credential.end + timedelta(seconds=1) or end <= start:
        raise GraphRefusal(400, "Request_BadRequest", "Key credential end date is invalid.")
    if start < credential.start - timedelta(seconds=1):
        raise GraphRefusal(400, "Request_BadRequest", "Key credential start date is invalid.")
    return dataclasses.replace(
        credential,
        key_id=entry.key_id or str(uuid.uuid4()),
        display_name=str(sent.get("displayName") or credential.display_name)[:256],
        start=start,
        end=end,
    )
