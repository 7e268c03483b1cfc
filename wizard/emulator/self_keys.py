"""Graph's `addKey` and `removeKey`: an application rolls its own certificates.

POST /v1.0/applications/{object id}/addKey (also `applications(appId='…')/…` and the
`microsoft.graph.addKey` spelling the SDKs send). No permission is needed, but only the
application itself may call it, with an app-only token, and the body carries a proof of
possession: a JWT signed with a certificate registered on the app and valid now, with
`aud` 00000002-0000-0000-c000-000000000000, `iss` = the application's OBJECT id, `nbf` and
`exp` at most ten minutes apart, and no `=` padding.

graph_routes sends the answers, refusals in Graph's envelope. What they rely on (learn.microsoft.com/graph/api/application-addkey and -removekey;
issue threads microsoftgraph/microsoft-graph-docs #10556, #10686, #14626, #22076 and
msgraph-sdk-powershell #779, with captured bodies):
- every proof Graph cannot accept is 401 Authentication_MissingOrMalformed "Access Token
  missing or malformed." (padding, wrong aud, wrong iss, foreign key alike: Graph gives no
  reason, so neither do we on the wire; the reason goes to the log);
- a call without a proof is 403 Authorization_RequestDenied "Insufficient privileges to
  complete the operation.";
- a key that is not base64 is 400 Request_BadRequest "Cannot convert a primitive value to the
  expected type 'Edm.Binary'. …";
- addKey answers 200 with the new keyCredential (its `key` null), removeKey 204.
Not captured anywhere we could find, so worded by us in Graph's envelope: an unknown keyId
(404 Request_ResourceNotFound), a wrong type or usage and a certificate already on the app
(400 Request_BadRequest).
"""

from __future__ import annotations

import base64
import binascii
import logging
import math
import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import TYPE_CHECKING, Any

from wizard import certs
from wizard.emulator import strict_json
from wizard.emulator.directory import (
    GUID_RE,
    Application,
    KeyCredential,
    PortalError,
    _iso,
)
from wizard.emulator.graph_access import (
    INSUFFICIENT,
    GraphAnswer,
    GraphRefusal,
    caller,
    relative_path,
)
from wizard.emulator.jose import SUPPORTED_ALGORITHMS, JoseError, b64url_decode, verify_signature
from wizard.errors import UserError

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant
    from wizard.emulator.transport import RequestHandler

log = logging.getLogger("wizard.emulator")

# The proof's audience: the Azure AD Graph application ID, as the docs require.
PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"
PROOF_MAX_LIFETIME = 600  # exp - nbf, seconds
CLOCK_SKEW = 300
MAX_PROOF_LENGTH = 16 * 1024
MAX_BODY_KEY_LENGTH = 64 * 1024

_PATH = re.compile(
    r"^applications(?:/(?P<object_id>[^/()]+)|\(appId='(?P<app_id>[^'/]+)'\))"
    r"/(?:microsoft\.graph\.)?(?P<action>addKey|removeKey)$",
    re.IGNORECASE,
)
MALFORMED = "Access Token missing or malformed."
NOT_BINARY = (
    "Cannot convert a primitive value to the expected type 'Edm.Binary'. See the inner "
    "exception for more details."
)
BAD_PAYLOAD = (
    "Unable to read JSON request payload. Please ensure Content-Type header is set and "
    "payload is of valid JSON format."
)


def _refused(status: int, code: str, message: str, reason: str) -> GraphRefusal:
    """A refusal whose reason Graph does not say: it goes to the log only."""
    log.info("addKey/removeKey refused: %s", reason)
    return GraphRefusal(status, code, message)


def _malformed(reason: str) -> GraphRefusal:
    return _refused(401, "Authentication_MissingOrMalformed", MALFORMED, reason)


def _bad_request(message: str) -> GraphRefusal:
    return GraphRefusal(400, "Request_BadRequest", message)


@dataclass(frozen=True)
class _Target:
    action: str  # "addkey" | "removekey"
    object_id: str | None
    app_id: str | None


def _target(path: str) -> _Target | None:
    relative = relative_path(path)
    match = _PATH.match(relative) if relative is not None else None
    if match is None:
        return None
    return _Target(match["action"].lower(), match["object_id"], match["app_id"])


def serves(path: str) -> bool:
    """Whether the path is an application's addKey or removeKey."""
    return _target(path) is not None


def respond(
    handler: RequestHandler, tenant: DemoTenant, method: str, path: str, body: bytes
) -> GraphAnswer:
    """addKey's 200 with the new keyCredential, removeKey's 204, or a GraphRefusal (which
    graph_routes sends in Graph's envelope)."""
    target = _target(path)
    assert target is not None
    if method != "POST":
        raise GraphRefusal(
            405, "Request_BadRequest", f"The HTTP method '{method}' is not allowed here."
        )
    who = caller(tenant, handler)
    app = _application(tenant, target)
    # Only the application itself, app-only: another app's token (or a user's) has no
    # permission for this call without Application.ReadWrite.* (not modelled here).
    if who.delegated or str(who.claims.get("appid", "")).lower() != app.client_id:
        raise _refused(403, "Authorization_RequestDenied", INSUFFICIENT, "not the app's own token")
    request = _json_body(body)
    proof = request.get("proof")
    if proof is None or proof == "":
        raise _refused(403, "Authorization_RequestDenied", INSUFFICIENT, "no proof")
    if not isinstance(proof, str):
        raise _bad_request("The 'proof' property must be a string.")
    now = time.time()
    verify_proof(proof, app, now=now)
    if target.action == "removekey":
        _remove_key(tenant, app, request)
        return GraphAnswer(204, None)
    added = _add_key(tenant, app, request, now)
    context = f"{tenant.graph_endpoint}/v1.0/$metadata#microsoft.graph.keyCredential"
    return GraphAnswer(200, {"@odata.context": context, **added})


def _application(tenant: DemoTenant, target: _Target) -> Application:
    directory = tenant.directory
    if target.object_id is not None:
        wanted, app = target.object_id, directory.application_by_object_id(target.object_id)
    else:
        wanted = target.app_id or ""
        app = directory.application(wanted)
    if app is not None:
        return app
    if not GUID_RE.match(wanted):
        raise _bad_request(f"Invalid object identifier '{wanted[:64]}'.")
    raise GraphRefusal(
        404,
        "Request_ResourceNotFound",
        f"Resource '{wanted.lower()}' does not exist or one of its queried reference-property "
        "objects are not present.",
    )


def _json_body(body: bytes) -> dict[str, Any]:
    try:
        data = strict_json.loads(body) if body.strip() else None
    except strict_json.StrictJsonError:
        data = None
    if not isinstance(data, dict):
        raise GraphRefusal(400, "BadRequest", BAD_PAYLOAD)
    return data


# --- the proof -------------------------------------------------------------------------------


def _segment(text: str, what: str) -> dict[str, Any]:
    if "=" in text:
        raise _malformed(f"the {what} carries '=' padding")
    try:
        value = strict_json.loads(b64url_decode(text))
    except (JoseError, strict_json.StrictJsonError):
        raise _malformed(f"the {what} is not base64url JSON") from None
    if not isinstance(value, dict):
        raise _malformed(f"the {what} is not a JSON object")
    return value


def _seconds(claims: dict[str, Any], name: str) -> float:
    value = claims.get(name)
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise _malformed(f"'{name}' is missing or not a number")
    try:
        seconds = float(value)
    except OverflowError:
        seconds = math.inf
    if not math.isfinite(seconds):
        raise _malformed(f"'{name}' is not finite")
    return seconds


def _signing_key(header: dict[str, Any], app: Application) -> KeyCredential:
    """The app's certificate the header names (x5t, x5t#S256 or a hex thumbprint kid)."""
    wanted: list[tuple[str, str]] = []
    for name, size, algorithm in (("x5t", 20, "sha1"), ("x5t#S256", 32, "sha256")):
        value = header.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            raise _malformed(f"'{name}' is not a string")
        try:
            digest = b64url_decode(value)
        except JoseError:
            raise _malformed(f"'{name}' is not base64url") from None
        if len(digest) != size:
            raise _malformed(f"'{name}' has the wrong length")
        wanted.append((algorithm, digest.hex().upper()))
    kid = header.get("kid")
    if isinstance(kid, str) and re.fullmatch(r"[0-9A-Fa-f]{40}", kid):
        wanted.append(("sha1", kid.upper()))
    if not wanted:
        raise _malformed("the header names no certificate (x5t, x5t#S256 or kid)")
    for key in app.key_credentials:
        for algorithm, thumbprint in wanted:
            mine = key.thumbprint_sha1 if algorithm == "sha1" else key.thumbprint_sha256
            if mine == thumbprint:
                return key
    raise _malformed("signed with a certificate that is not registered on the application")


def verify_proof(proof: str, app: Application, *, now: float) -> KeyCredential:
    """The app's certificate that signed a valid proof, or the 401 Graph answers."""
    if len(proof) > MAX_PROOF_LENGTH:
        raise _malformed("the proof is too long")
    parts = proof.split(".")
    if len(parts) != 3:
        raise _malformed("the proof is not three dot-separated parts")
    header = _segment(parts[0], "header")
    claims = _segment(parts[1], "payload")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        raise _malformed(f"unsupported algorithm {str(alg)[:20]!r}")
    key = _signing_key(header, app)
    moment = datetime.fromtimestamp(now, timezone.utc)
    if not key.start <= moment < key.end:
        raise _malformed("signed with a certificate that is not valid now")
    try:
        signature = b64url_decode(parts[2])
    except JoseError:
        raise _malformed("the signature is not base64url") from None
    public = key.public_key
    signing_input = f"{parts[0]}.{parts[1]}".encode("ascii")
    if public is None or not verify_signature(alg, public, signing_input, signature):
        raise _malformed("the signature does not verify with the named certificate")
    audience = claims.get("aud")
    if audience != PROOF_AUDIENCE:
        raise _malformed("'aud' is not 00000002-0000-0000-c000-000000000000")
    issuer = claims.get("iss")
    if not isinstance(issuer, str) or issuer.lower() != app.app_object_id.lower():
        why = "the client ID" if isinstance(issuer, str) and issuer.lower() == app.client_id else ""
        raise _malformed(f"'iss' is not the application's object ID {why}".strip())
    not_before, expires = _seconds(claims, "nbf"), _seconds(claims, "exp")
    if expires - not_before > PROOF_MAX_LIFETIME:
        raise _malformed("'exp' is more than ten minutes after 'nbf'")
    if expires <= not_before:
        raise _malformed("'exp' is not after 'nbf'")
    if now >= expires:
        raise _malformed("the proof has expired")
    if not_before > now + CLOCK_SKEW:
        raise _malformed("the proof is not valid yet")
    return key


# --- the two actions -------------------------------------------------------------------------


def key_credential_json(key: KeyCredential) -> dict[str, Any]:
    """A keyCredential as Graph returns it: the key itself never comes back."""
    return {
        "customKeyIdentifier": key.thumbprint_sha1,
        "displayName": key.display_name,
        "endDateTime": _iso(key.end),
        "key": None,
        "keyId": key.key_id,
        "startDateTime": _iso(key.start),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }


def _add_key(
    tenant: DemoTenant, app: Application, request: dict[str, Any], now: float
) -> dict[str, Any]:
    credential = request.get("keyCredential")
    if not isinstance(credential, dict):
        raise _bad_request("The 'keyCredential' property is required.")
    if credential.get("type") != "AsymmetricX509Cert":
        raise _bad_request(
            "Invalid value specified for property 'type' of resource 'KeyCredential': "
            "only AsymmetricX509Cert is supported here."
        )
    if credential.get("usage") != "Verify":
        raise _bad_request(
            "Invalid value specified for property 'usage' of resource 'KeyCredential': "
            "an AsymmetricX509Cert must have usage Verify."
        )
    if request.get("passwordCredential") is not None:
        raise _bad_request("'passwordCredential' must be null for an AsymmetricX509Cert.")
    key = credential.get("key")
    if not isinstance(key, str) or not key or len(key) > MAX_BODY_KEY_LENGTH:
        raise _bad_request(NOT_BINARY)
    try:
        der = base64.b64decode(key, validate=True)
    except (binascii.Error, ValueError):
        raise _bad_request(NOT_BINARY) from None
    if b"PRIVATE KEY" in der:
        raise _bad_request("The key must be a public certificate only.")
    try:
        end = certs.not_valid_after(certs.load_certificate_bytes(der, source="The key"))
    except UserError as error:
        raise _bad_request(
            "Invalid value specified for property 'key' of resource 'KeyCredential': "
            f"{error.message}"
        ) from None
    if end <= datetime.fromtimestamp(now, timezone.utc):
        raise _bad_request("Key credential end date is invalid: the certificate has expired.")
    key_id = credential.get("keyId")
    if key_id is not None and (not isinstance(key_id, str) or not GUID_RE.match(key_id)):
        raise _bad_request("Invalid value specified for property 'keyId': it must be a GUID.")
    if key_id is not None and any(k.key_id == key_id.lower() for k in app.key_credentials):
        raise _bad_request(f"A key credential with keyId '{key_id}' already exists.")
    try:
        added = tenant.directory.add_certificate(app.client_id, der, key_id)
    except PortalError as error:
        if error.code == "CertificateAlreadyRegistered":
            raise _bad_request(
                "The certificate is already on the application, under another keyId."
            ) from None
        raise _bad_request(
            f"Invalid value specified for property 'key' of resource 'KeyCredential': "
            f"{error.message}"
        ) from None
    log.info("addKey: %s added to %s", added.thumbprint_sha1, app.client_id)
    return key_credential_json(added)


def _remove_key(tenant: DemoTenant, app: Application, request: dict[str, Any]) -> None:
    key_id = request.get("keyId")
    if not isinstance(key_id, str) or not GUID_RE.match(key_id):
        raise _bad_request("The 'keyId' property must be a GUID.")
    for key in list(app.key_credentials):
        if key.key_id.lower() == key_id.lower():
            try:
                tenant.directory.remove_certificate(app.client_id, key.thumbprint_sha1)
            except PortalError:
                break  # removed meanwhile by another request
            log.info("removeKey: %s removed from %s", key.thumbprint_sha1, app.client_id)
            return
    raise GraphRefusal(
        404,
        "Request_ResourceNotFound",
        f"No key credential with keyId '{key_id}' on the application.",
    )
