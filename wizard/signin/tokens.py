"""Read a token's claims to explain it — decoded, never trusted.

The signature is deliberately not checked: the token was just received over verified TLS
from the sign-in service, and the point here is to show the user what it says (which app,
which tenant, how it authenticated, which permissions), not to authorise anything with it.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass, field
from datetime import datetime, timezone

PREVIEW_CHARS = 12


class TokenFormatError(ValueError):
    """The text is not a JWT (three base64url parts with a JSON payload)."""


def _b64url_json(part: str) -> dict[str, object]:
    padded = part + "=" * (-len(part) % 4)
    try:
        data = json.loads(base64.urlsafe_b64decode(padded.encode("ascii")))
    except (binascii.Error, UnicodeError, ValueError) as error:
        raise TokenFormatError("not a JWT part") from error
    if not isinstance(data, dict):
        raise TokenFormatError("a JWT part is not a JSON object")
    return data


def decode_unverified(token: str) -> tuple[dict[str, object], dict[str, object]]:
    """(header, payload) of a compact JWT, without checking its signature."""
    parts = token.split(".")
    if len(parts) != 3:
        raise TokenFormatError("a JWT has three dot-separated parts")
    return _b64url_json(parts[0]), _b64url_json(parts[1])


def token_preview(token: str) -> str:
    """A few leading characters (the header's start, harmless) and the length; never the token."""
    return f"{token[:PREVIEW_CHARS]}… ({len(token)} characters, not shown)"


@dataclass
class TokenSummary:
    """What a token says, in the terms the user entered them in."""

    app_id: str
    tenant_id: str
    appidacr: str
    roles: list[str] = field(default_factory=list)
    expires_at: datetime | None = None
    preview: str = ""
    audience: str = ""
    issuer: str = ""
    id_type: str = ""

    def to_json(self) -> dict[str, object]:
        return {
            "app_id": self.app_id,
            "tenant_id": self.tenant_id,
            "appidacr": self.appidacr,
            "roles": list(self.roles),
            "expires_at": self.expires_at.isoformat() if self.expires_at else None,
            "audience": self.audience,
            "issuer": self.issuer,
            "id_type": self.id_type,
            "preview": self.preview,
        }


def _text(payload: dict[str, object], *names: str) -> str:
    for name in names:
        value = payload.get(name)
        if isinstance(value, str) and value:
            return value
    return ""


def summarize(token: str) -> TokenSummary:
    """The claims that matter for app-only sign-in. v1 tokens (Graph's) say appid/appidacr,
    v2 tokens azp/azpacr: both are read."""
    _, payload = decode_unverified(token)
    roles = payload.get("roles")
    expires: datetime | None = None
    exp = payload.get("exp")
    if isinstance(exp, int | float):
        expires = datetime.fromtimestamp(float(exp), tz=timezone.utc)
    return TokenSummary(
        app_id=_text(payload, "appid", "azp"),
        tenant_id=_text(payload, "tid"),
        appidacr=_text(payload, "appidacr", "azpacr"),
        roles=[str(r) for r in roles] if isinstance(roles, list) else [],
        expires_at=expires,
        preview=token_preview(token),
        audience=_text(payload, "aud"),
        issuer=_text(payload, "iss"),
        id_type=_text(payload, "idtyp"),
    )
