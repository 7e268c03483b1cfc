"""Graph's PATCH of an application's keyCredentials, with Graph's replace-the-collection rules.

PATCH replaces the whole keyCredentials collection, as Graph does: an existing credential is
kept only when it is sent back by `keyId` (its `key` reads back null, and may come back null);
a known keyId with changed content is refused ("Update to existing credential with KeyId '…'
is not allowed.", Request_BadRequest: captured in Azure/azure-powershell#6784 and the
Request_BadRequest body in Azure/active-directory-dotnet-graphapi-b2bportal-web#8); a usage
other than Sign or Verify is refused with Graph's wording (msgraph-sdk-java#1823,
msgraph-sdk-dotnet#1869); a new AsymmetricX509Cert must have usage Verify (Graph's docs:
Sign belongs to X509CertAndPassword; that refusal's wording is ours, as are those for a
repeated keyId or certificate). The collection is the one the portal API and the token
endpoint use, replaced under the directory's lock.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import uuid
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from typing import TYPE_CHECKING, Any

from wizard.emulator import strict_json
from wizard.emulator.directory import GUID_RE, Application, KeyCredential
from wizard.emulator.graph_access import GraphRefusal, graph_time

if TYPE_CHECKING:
    from wizard.emulator.tenant import DemoTenant

# The properties of a keyCredential Graph knows; anything else is refused.
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


def key_credential_json(key: KeyCredential) -> dict[str, Any]:
    """A keyCredential as Graph reads it back: `key` is always null."""
    return {
        "customKeyIdentifier": base64.b64encode(bytes.fromhex(key.thumbprint_sha1)).decode("ascii"),
        "displayName": key.display_name,
        "endDateTime": graph_time(key.end),
        "key": None,
        "keyId": key.key_id,
        "startDateTime": graph_time(key.start),
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
    }


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
