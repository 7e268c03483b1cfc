"""What a signed-in admin does through Microsoft Graph: add a certificate, or create the app.

What this relies on (Graph v1.0, the `application` resource and its update):
- `GET /applications(appId='{client id}')` reads one app by its client ID; 404
  `Request_ResourceNotFound` when there is none.
- `PATCH /applications/{object id}` with `keyCredentials` REPLACES the whole collection: a
  credential left out is deleted. An existing one is kept by sending back its `keyId` alone (its
  `key` reads back null, and sending it changed is refused: "Update to existing credential with
  KeyId … is not allowed"). A new certificate is {type AsymmetricX509Cert, usage Verify, key:
  base64 DER, displayName}: `usage` must be Verify for that type.
- A certificate's `customKeyIdentifier` is its SHA-1 thumbprint unless one was given.
- A new app needs its service principal (`POST /servicePrincipals {appId}`) before an app role
  can be assigned to it; admin consent for an application permission is that assignment:
  `POST /servicePrincipals/{Graph's principal}/appRoleAssignedTo {principalId, resourceId,
  appRoleId}` (Graph's principal found by `servicePrincipals(appId='00000003-…')`).
- Graph's errors are `{"error": {"code", "message"}}`; 403 `Authorization_RequestDenied` is a
  signed-in user without the role to change apps.

Rules of the upload: read before write, merge, re-read right before the PATCH and refuse if
the keyIds changed, verify after. The delegated token lives in this object only.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

from wizard.admin.errors import AdminError, with_manual_steps
from wizard.signin import catalogue

if TYPE_CHECKING:
    from wizard.signin.http import HttpSession

MICROSOFT_GRAPH_APP_ID = "00000003-0000-0000-c000-000000000000"
ORGANIZATION_READ_ALL = "Organization.Read.All"
ORGANIZATION_READ_ALL_ID = "498476ce-e0fe-48b0-b801-37ba7e2685c6"  # its app role ID on Graph
_RETRIES = 2  # 429 and 5xx, honouring Retry-After (capped as the sign-in tests do)
# A new app takes a moment to reach every replica: reading it back may 404 for a few seconds.
_NEW_APP_WAIT_SECONDS = (1.0, 2.0, 4.0, 8.0)


@dataclass(frozen=True)
class KeyCredential:
    """One certificate on an app, as Graph lists it (never the key itself)."""

    key_id: str
    display_name: str
    thumbprint_sha1: str | None
    end: str | None


@dataclass(frozen=True)
class AppRegistration:
    object_id: str
    client_id: str
    display_name: str
    keys: tuple[KeyCredential, ...] = ()

    @property
    def key_ids(self) -> frozenset[str]:
        return frozenset(key.key_id for key in self.keys)

    def key_with_thumbprint(self, thumbprint_sha1: str) -> KeyCredential | None:
        return next((k for k in self.keys if k.thumbprint_sha1 == thumbprint_sha1), None)


@dataclass(frozen=True)
class UploadOutcome:
    """`kept`: how many certificates the app held before and still holds."""

    object_id: str
    key_id: str
    kept: int
    already_there: bool
    client_id: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "object_id": self.object_id,
            "client_id": self.client_id,
            "key_id": self.key_id,
            "kept": self.kept,
            "already_there": self.already_there,
        }


@dataclass(frozen=True)
class CreatedApplication:
    client_id: str
    object_id: str
    tenant_id: str
    consented: bool
    service_principal_id: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "client_id": self.client_id,
            "object_id": self.object_id,
            "tenant_id": self.tenant_id,
            "consented": self.consented,
            "service_principal_id": self.service_principal_id,
        }


@dataclass
class _Answer:
    status: int
    body: dict[str, Any] = field(default_factory=dict)
    text: str = ""


class AdminGraph:
    """Microsoft Graph as the signed-in admin. The access token is held here, in memory."""

    def __init__(
        self, http: HttpSession, access_token: str, *, tenant_id: str, graph_endpoint: str
    ) -> None:
        self._http = http
        self._token = access_token
        self.tenant_id = tenant_id
        self._base = f"{graph_endpoint.rstrip('/')}/v1.0"

    def __repr__(self) -> str:  # never the token
        return f"AdminGraph(tenant_id={self.tenant_id!r})"

    def close(self) -> None:
        """Forget the token and close the connections."""
        self._token = ""
        self._http.close()

    # -- reading ---------------------------------------------------------------------------

    def find_application(self, client_id: str) -> AppRegistration:
        """The app registration with this client ID; AdminError "not_found" if none."""
        path = f"/applications(appId='{quote(client_id, safe='')}')"
        answer = self._call("GET", f"{path}?$select=id,appId,displayName,keyCredentials")
        if answer.status != 200:
            raise self._error(answer)
        return _registration(answer.body)

    # -- adding a certificate ---------------------------------------------------------------

    def add_certificate(
        self, client_id: str, certificate_der: bytes, *, display_name: str
    ) -> UploadOutcome:
        """Add the certificate beside every one the app has; nothing is ever removed."""
        thumbprint = hashlib.sha1(certificate_der).hexdigest().upper()  # as Entra shows it
        before = self.find_application(client_id)
        present = before.key_with_thumbprint(thumbprint)
        if present is not None:
            kept = len(before.keys)
            return UploadOutcome(before.object_id, present.key_id, kept, True, client_id)
        keys = [{"keyId": key.key_id} for key in before.keys]  # kept by keyId alone
        keys.append(
            {
                "type": "AsymmetricX509Cert",
                "usage": "Verify",
                "key": base64.b64encode(certificate_der).decode("ascii"),
                "displayName": display_name,
            }
        )
        # Right before the write: if anything changed since the read, this PATCH would drop it.
        now = self.find_application(client_id)
        if now.key_ids != before.key_ids:
            raise AdminError("changed_underneath", catalogue.ADMIN_CHANGED_UNDERNEATH)
        path = f"/applications/{quote(before.object_id, safe='')}"  # the server's ID, quoted
        answer = self._call("PATCH", path, {"keyCredentials": keys})
        if answer.status not in (200, 204):
            raise self._error(answer)
        after = self.find_application(client_id)
        added = after.key_with_thumbprint(thumbprint)
        if added is None or not before.key_ids <= after.key_ids:
            missing = len(before.key_ids - after.key_ids)
            explanation = catalogue.ADMIN_NOT_VERIFIED
            if missing:
                explanation = _said(explanation, f"{missing} certificate(s) the app had are gone")
            raise AdminError("not_verified", explanation)
        return UploadOutcome(after.object_id, added.key_id, len(before.keys), False, client_id)

    # -- creating an app --------------------------------------------------------------------

    def create_application(self, display_name: str, *, consent: bool) -> CreatedApplication:
        """A single-tenant app registration asking for Organization.Read.All, its service
        principal, and (with `consent`) admin consent for it; returns once the app can be read."""
        answer = self._call(
            "POST",
            "/applications",
            {
                "displayName": display_name,
                "signInAudience": "AzureADMyOrg",
                "requiredResourceAccess": [
                    {
                        "resourceAppId": MICROSOFT_GRAPH_APP_ID,
                        "resourceAccess": [{"id": ORGANIZATION_READ_ALL_ID, "type": "Role"}],
                    }
                ],
            },
        )
        if answer.status != 201:
            raise self._error(answer)
        app = _registration(answer.body)
        principal = self._until_replicated(
            lambda: self._call("POST", "/servicePrincipals", {"appId": app.client_id}), (201,)
        )
        principal_id = str(principal.body.get("id") or "")
        if consent:
            self._grant_organization_read(principal_id)
        # Whoever adds the certificate next reads the app first: wait until it can be read.
        self.wait_for_application(app.client_id)
        return CreatedApplication(
            app.client_id, app.object_id, self.tenant_id, consent, principal_id
        )

    def _grant_organization_read(self, principal_id: str) -> None:
        """Admin consent for Organization.Read.All: an app role assignment to Graph's principal."""
        answer = self._call(
            "GET",
            f"/servicePrincipals(appId='{MICROSOFT_GRAPH_APP_ID}')?$select=id,appRoles",
        )
        if answer.status != 200:
            raise self._error(answer)
        graph_principal = str(answer.body.get("id") or "")
        roles = answer.body.get("appRoles")
        role_id = next(
            (
                str(role.get("id"))
                for role in (roles if isinstance(roles, list) else [])
                if isinstance(role, dict) and role.get("value") == ORGANIZATION_READ_ALL
            ),
            ORGANIZATION_READ_ALL_ID,
        )
        self._until_replicated(
            lambda: self._call(
                "POST",
                f"/servicePrincipals/{quote(graph_principal, safe='')}/appRoleAssignedTo",
                {"principalId": principal_id, "resourceId": graph_principal, "appRoleId": role_id},
            ),
            (200, 201),
        )

    def wait_for_application(self, client_id: str) -> AppRegistration:
        """Read a just-created app, waiting while it reaches every replica."""
        for pause in (*_NEW_APP_WAIT_SECONDS, None):
            try:
                return self.find_application(client_id)
            except AdminError as error:
                if error.kind != "not_found" or pause is None:
                    raise
                self._sleep(pause)
        raise AssertionError("unreachable")

    # -- HTTP ------------------------------------------------------------------------------

    def _until_replicated(self, call: Any, ok: tuple[int, ...]) -> _Answer:
        """A call about an object created a moment ago: a 400/404 may only mean "not yet"."""
        for pause in (*_NEW_APP_WAIT_SECONDS, None):
            answer: _Answer = call()
            if answer.status in ok:
                return answer
            if answer.status not in (400, 404) or pause is None:
                raise self._error(answer)
            self._sleep(pause)
        raise AssertionError("unreachable")

    def _sleep(self, seconds: float) -> None:
        from wizard.signin.http import Cancelled

        try:
            self._http.sleep(seconds)
        except Cancelled:
            raise AdminError.cancelled() from None

    def _call(self, method: str, path: str, body: dict[str, Any] | None = None) -> _Answer:
        """One Graph request, retried on throttling and outages; the network's failures and a
        cancel become AdminErrors."""
        from wizard.signin.http import (
            DEFAULT_RETRY_AFTER_SECONDS,
            MAX_RETRY_AFTER_SECONDS,
            Cancelled,
            retry_after_seconds,
        )

        if not self._token:
            raise RuntimeError("this admin sign-in is closed")
        headers = {"Authorization": f"Bearer {self._token}", "Accept": "application/json"}
        for retry in range(_RETRIES + 1):
            try:
                response = self._http.session.request(
                    method, f"{self._base}{path}", json=body, headers=headers
                )
            except Cancelled:
                raise AdminError.cancelled() from None
            except Exception as exc:  # requests' many network failures
                explanation = catalogue.explain_exception(exc)
                explanation = catalogue.with_trust_source(explanation, self._http.trust.source)
                raise AdminError.unreachable(explanation) from None
            transient = response.status_code == 429 or response.status_code >= 500
            if transient and retry < _RETRIES:
                wait = retry_after_seconds(response.headers.get("Retry-After"))
                wait = DEFAULT_RETRY_AFTER_SECONDS * (retry + 1) if wait is None else wait
                if wait <= MAX_RETRY_AFTER_SECONDS:
                    self._sleep(wait)
                    continue
            return _answer(response.status_code, response.text)
        raise AssertionError("unreachable")

    def _error(self, answer: _Answer) -> AdminError:
        explanation = catalogue.explain_admin_graph(answer.status, answer.text)
        return AdminError.explained(with_manual_steps(explanation), "graph_error")


def add_to_app(
    graph: AdminGraph,
    certificate_der: bytes,
    *,
    display_name: str,
    client_id: str | None = None,
    consent: bool = False,
) -> tuple[UploadOutcome, CreatedApplication | None]:
    """The admin path in one call: add the certificate to the app `client_id`, or, with no
    client ID, create the app (named `display_name`, with admin consent if asked) and add it
    there. The command and the wizard's screen both run this."""
    created = None
    if client_id is None:
        created = graph.create_application(display_name, consent=consent)
        client_id = created.client_id
    outcome = graph.add_certificate(client_id, certificate_der, display_name=display_name)
    return outcome, created


def _answer(status: int, text: str) -> _Answer:
    try:
        body = json.loads(text) if text else {}
    except ValueError:
        body = {}
    return _Answer(status, body if isinstance(body, dict) else {}, text)


def _said(explanation: catalogue.Explanation, text: str) -> catalogue.Explanation:
    from dataclasses import replace

    return replace(explanation, service_text=text)


def _registration(body: dict[str, Any]) -> AppRegistration:
    credentials = body.get("keyCredentials")
    keys = tuple(
        KeyCredential(
            key_id=str(item.get("keyId") or ""),
            display_name=str(item.get("displayName") or ""),
            thumbprint_sha1=_thumbprint_of(item),
            end=str(item["endDateTime"]) if item.get("endDateTime") else None,
        )
        for item in (credentials if isinstance(credentials, list) else [])
        if isinstance(item, dict) and item.get("keyId")
    )
    return AppRegistration(
        object_id=str(body.get("id") or ""),
        client_id=str(body.get("appId") or ""),
        display_name=str(body.get("displayName") or ""),
        keys=keys,
    )


def _thumbprint_of(item: dict[str, Any]) -> str | None:
    """A key credential's SHA-1 thumbprint, as 40 upper-case hex digits: from the key itself
    when Graph returns it, else from `customKeyIdentifier` (Graph's Binary: base64 of the 20
    thumbprint bytes; some tools stored the hex text itself)."""
    key = item.get("key")
    if isinstance(key, str) and key:
        try:
            return hashlib.sha1(base64.b64decode(key, validate=True)).hexdigest().upper()
        except (binascii.Error, ValueError):
            pass
    custom = item.get("customKeyIdentifier")
    if not isinstance(custom, str) or not custom:
        return None
    if len(custom) == 40 and all(c in "0123456789abcdefABCDEF" for c in custom):
        return custom.upper()
    try:
        raw = base64.b64decode(custom, validate=True)
    except (binascii.Error, ValueError):
        return None
    if len(raw) == 20:
        return raw.hex().upper()
    text = raw.decode("ascii", errors="replace")
    if len(text) == 40 and all(c in "0123456789abcdefABCDEF" for c in text):
        return text.upper()
    return None
