"""The application rolls its own certificate: Microsoft Graph's addKey and removeKey.

No admin and no permission: the app signs in app-only with a certificate it has, and proves
possession of a currently valid registered certificate with a short self-signed JWT (`aud`
00000002-0000-0000-c000-000000000000, `iss` = the application's OBJECT id, `nbf`, `exp` ten
minutes later, base64url without padding). Everything goes through the sign-in plumbing
(the cloud's hosts, its trust store, the environment's proxies for a real cloud).
"""

from __future__ import annotations

import base64
import json
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from wizard.errors import UserError
from wizard.signin.plan import EXIT_INCONCLUSIVE  # Graph busy, down or never reached

if TYPE_CHECKING:
    from wizard.signin.http import HttpSession
    from wizard.signin.settings import ConnectionSettings, Credential

PROOF_AUDIENCE = "00000002-0000-0000-c000-000000000000"
PROOF_LIFETIME = 600  # seconds from nbf to exp: the most Graph accepts
# How Graph words a keyCredential already on the app (a repeated addKey).
ALREADY_THERE = "already exists"
ADD_KEY_DOC = "https://learn.microsoft.com/en-us/graph/api/application-addkey"


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def make_proof(credential: Credential, object_id: str, *, now: float | None = None) -> str:
    """The proof of possession: RS256, signed with `credential`'s key, naming its certificate
    by SHA-1 thumbprint (x5t), for the application whose object ID is `object_id`."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    from wizard import certs

    issued = int(now if now is not None else time.time())
    der = certs.cert_der(credential.certificate)
    header = {"alg": "RS256", "typ": "JWT", "x5t": _b64url(_sha1(der))}
    claims = {
        "aud": PROOF_AUDIENCE,
        "iss": object_id,
        "nbf": issued,
        "exp": issued + PROOF_LIFETIME,
    }
    signing_input = ".".join(
        _b64url(json.dumps(part, separators=(",", ":")).encode()) for part in (header, claims)
    )
    signature = credential.private_key.sign(
        signing_input.encode("ascii"), padding.PKCS1v15(), hashes.SHA256()
    )
    return f"{signing_input}.{_b64url(signature)}"


def _sha1(data: bytes) -> bytes:
    import hashlib

    return hashlib.sha1(data).digest()  # the x5t thumbprint, not a security hash here


@dataclass(frozen=True)
class AddedKey:
    key_id: str
    thumbprint_sha1: str


class SelfServiceError(UserError):
    """Graph refused addKey/removeKey; the message says why in plain words and what to do."""


def _explain(status: int, body: str, action: str, object_id: str) -> SelfServiceError:
    from wizard.shown import shown

    code, message = "", ""
    try:
        error = json.loads(body).get("error", {})
        code, message = str(error.get("code", "")), str(error.get("message", ""))
    except (ValueError, AttributeError):
        pass
    said = shown(f"{code}: {message}".strip(": ")[:300]) or f"HTTP {status}"
    if status == 429 or status >= 500:
        return SelfServiceError(
            f"Graph could not take {action} now ({said}).",
            hint="Nothing was lost: run again later and the rotation carries on from this step.",
            exit_code=EXIT_INCONCLUSIVE,
        )
    if code == "Authentication_MissingOrMalformed":
        return SelfServiceError(
            f"Graph refused the proof of possession for {action} ({said}).",
            hint=f"Check the object ID {object_id}: it is the app registration's Object ID "
            "(Overview page), not the Application (client) ID. The proof must be signed by a "
            "certificate that is registered on the app and valid now, and this computer's "
            "clock must be right. An app with no valid certificate left needs an admin "
            f"(entra-cert-wizard upload). See {ADD_KEY_DOC}",
        )
    if status == 404:
        return SelfServiceError(
            f"Graph found no application with object ID {object_id} ({said}).",
            hint="Give the app registration's Object ID (its Overview page) with --object-id.",
            exit_code=2,
        )
    if status == 403:
        return SelfServiceError(
            f"Graph refused {action} ({said}).",
            hint=f"Only the application itself may roll its keys: {object_id} must be the "
            "Object ID (on the Overview page) of the app registration this profile signs in "
            "as. Give the right one with --object-id.",
        )
    return SelfServiceError(f"Graph refused {action}: {said}.")


def _app_only_token(settings: ConnectionSettings, credential: Credential, http: HttpSession) -> str:
    from wizard.signin.http import acquire_token, certificate_credential, with_transient_retries

    attempt = with_transient_retries(
        lambda: acquire_token(settings, http, certificate_credential(credential)),
        http,
        lambda _text: None,
    )
    if attempt.token is None:
        explanation = attempt.explanation
        title = explanation.title if explanation is not None else "no token"
        raise UserError(
            f"The app could not sign in with its certificate to roll its key: {title}.",
            hint=explanation.fix if explanation is not None else None,
        )
    return attempt.token


def _call(
    settings: ConnectionSettings,
    credential: Credential,
    object_id: str,
    action: str,
    body: dict[str, Any],
) -> tuple[int, str]:
    """Sign in as the app with `credential`, then POST one action; (status, body)."""
    from wizard.signin.http import HttpSession, explain_exception

    http = HttpSession(settings.cloud, settings.timeout, None)
    try:
        token = _app_only_token(settings, credential, http)
        url = f"{settings.cloud.graph_endpoint}/v1.0/applications/{object_id}/{action}"
        headers = {"Authorization": f"Bearer {token}", "Content-Type": "application/json"}
        try:
            response = http.post(url, headers=headers, data=json.dumps(body))
        except Exception as exc:  # network failures are explained, never a traceback
            explanation = explain_exception(exc, http)
            raise UserError(f"{action} did not reach Graph: {explanation.title}.",
                            hint=explanation.fix, exit_code=EXIT_INCONCLUSIVE) from None
        return response.status_code, response.text
    finally:
        http.close()


def add_key(
    settings: ConnectionSettings,
    current: Credential,
    object_id: str,
    new_certificate_der: bytes,
    *,
    key_id: str,
) -> AddedKey:
    """Add the new certificate beside the current one, proving possession of the current.

    `key_id` is ours (Graph keeps a keyId the request gives), so a repeated call after an
    interruption knows the key: Graph refusing it as already there counts as added."""
    body = {
        "keyCredential": {
            "keyId": key_id,
            "type": "AsymmetricX509Cert",
            "usage": "Verify",
            "key": base64.b64encode(new_certificate_der).decode("ascii"),
        },
        "passwordCredential": None,
        "proof": make_proof(current, object_id),
    }
    status, text = _call(settings, current, object_id, "addKey", body)
    thumbprint = _sha1(new_certificate_der).hex().upper()
    if status == 400 and ALREADY_THERE in text:
        return AddedKey(key_id=key_id, thumbprint_sha1=thumbprint)
    if status != 200:
        raise _explain(status, text, "addKey", object_id)
    try:
        answer = json.loads(text)
        added = str(answer["keyId"])
    except (ValueError, KeyError, TypeError):
        raise UserError("Graph answered addKey without the new key's keyId.") from None
    return AddedKey(key_id=added, thumbprint_sha1=thumbprint)


def remove_key(
    settings: ConnectionSettings, signer: Credential, object_id: str, key_id: str
) -> bool:
    """Remove the key `key_id`, proving possession with `signer` (the new certificate).
    False when Graph no longer has that key (removed by an earlier, interrupted run)."""
    body = {"keyId": key_id, "proof": make_proof(signer, object_id)}
    status, text = _call(settings, signer, object_id, "removeKey", body)
    if status == 204:
        return True
    if status == 404 and "Request_ResourceNotFound" in text and "keyId" in text:
        return False
    raise _explain(status, text, "removeKey", object_id)
