"""The few JWS primitives the demo tenant needs, on `cryptography` alone.

Our own small verifier rather than PyJWT, so every rule (which algorithms, which padding,
how strict the encoding) is visible here and none is relaxed by a library default.
"""

from __future__ import annotations

import base64
import binascii
import json
from dataclasses import dataclass
from typing import Any

from cryptography.exceptions import InvalidSignature
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa

from wizard.emulator import strict_json

# Generous for x5c chains, small enough that a hostile header cannot cost much.
MAX_JWT_LENGTH = 16 * 1024
MAX_HEADER_LENGTH = 8 * 1024
SUPPORTED_ALGORITHMS = ("RS256", "PS256")


class JoseError(ValueError):
    """The token is not a well-formed compact JWS."""


def b64url_encode(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


def b64url_decode(text: str) -> bytes:
    """Decode base64url with or without '=' padding; reject anything else."""
    stripped = text.rstrip("=")
    # Deleting every alphabet byte must leave nothing: one C pass over the ~1-2 KB of an
    # assertion, about twice as fast as a set lookup per character.
    if not stripped.isascii() or stripped.encode("ascii").translate(None, _B64URL):
        raise JoseError("not base64url")
    try:
        return base64.urlsafe_b64decode(stripped + "=" * (-len(stripped) % 4))
    except (binascii.Error, ValueError) as error:
        raise JoseError("not base64url") from error


_B64URL = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-_"


@dataclass(frozen=True)
class CompactJws:
    header: dict[str, Any]
    claims: dict[str, Any]
    signing_input: bytes
    signature: bytes


def parse_compact(token: str) -> CompactJws:
    """Split and decode header.payload.signature; raise JoseError with the reason."""
    if len(token) > MAX_JWT_LENGTH:
        raise JoseError(f"The token is longer than {MAX_JWT_LENGTH} characters.")
    parts = token.split(".")
    if len(parts) != 3:
        raise JoseError("The token does not have three dot-separated parts.")
    header_b64, payload_b64, signature_b64 = parts
    if len(header_b64) > MAX_HEADER_LENGTH:
        raise JoseError("The token header is too large.")
    try:
        # Non-finite numbers and deep nesting are malformed too (strict_json says why).
        header = strict_json.loads(b64url_decode(header_b64))
        claims = strict_json.loads(b64url_decode(payload_b64))
    except (JoseError, strict_json.StrictJsonError) as error:
        raise JoseError("The token header or payload is not base64url-encoded JSON.") from error
    if not isinstance(header, dict) or not isinstance(claims, dict):
        raise JoseError("The token header and payload must be JSON objects.")
    signature = b64url_decode(signature_b64)
    return CompactJws(header, claims, f"{header_b64}.{payload_b64}".encode("ascii"), signature)


def verify_signature(
    alg: str, key: rsa.RSAPublicKey, signing_input: bytes, signature: bytes
) -> bool:
    """RS256 = PKCS#1 v1.5 + SHA-256; PS256 = PSS + MGF1(SHA-256).

    PyJWT (hence MSAL) signs PSS with salt length = digest length; verification accepts any
    salt length (AUTO) as RFC 7518 allows.
    """
    pad: padding.AsymmetricPadding
    if alg == "RS256":
        pad = padding.PKCS1v15()
    elif alg == "PS256":
        pad = padding.PSS(mgf=padding.MGF1(hashes.SHA256()), salt_length=padding.PSS.AUTO)
    else:
        return False
    try:
        key.verify(signature, signing_input, pad, hashes.SHA256())
    except InvalidSignature:
        return False
    return True


def sign_rs256(key: rsa.RSAPrivateKey, header: dict[str, Any], claims: dict[str, Any]) -> str:
    """A compact RS256 JWS (used for the tenant's own access tokens)."""
    header_b64 = b64url_encode(json.dumps(header, separators=(",", ":")).encode())
    payload_b64 = b64url_encode(json.dumps(claims, separators=(",", ":")).encode())
    signing_input = f"{header_b64}.{payload_b64}".encode("ascii")
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{header_b64}.{payload_b64}.{b64url_encode(signature)}"
