"""Client-assertion verification, as strict as Entra ID's.

The order of checks follows what Entra reports first for each kind of broken assertion:
structure and algorithm, then the key (found, within its dates, signature), then the
claims (audience, issuer/subject, time range).
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import math
from collections.abc import Callable, Collection
from dataclasses import dataclass
from datetime import datetime, timezone

from wizard.emulator import errors
from wizard.emulator.directory import Directory, KeyCredential
from wizard.emulator.jose import (
    SUPPORTED_ALGORITHMS,
    JoseError,
    b64url_decode,
    parse_compact,
    verify_signature,
)

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
CLOCK_SKEW = 300  # seconds Entra tolerates for an nbf in the future


@dataclass(frozen=True)
class KeyHint:
    """What the assertion's header says about its key."""

    sha1: bytes | None
    sha256: bytes | None
    leaf_der: bytes | None

    def display_thumbprint(self) -> str:
        """The thumbprint Entra quotes back: SHA-1 hex when known, else the SHA-256 hex."""
        if self.sha1 is not None:
            return self.sha1.hex().upper()
        if self.leaf_der is not None:
            return hashlib.sha1(self.leaf_der).hexdigest().upper()
        if self.sha256 is not None:
            return self.sha256.hex().upper()
        return ""


def _thumbprint(header: dict[str, object], name: str, size: int) -> bytes | None:
    value = header.get(name)
    if value is None:
        return None
    if not isinstance(value, str):
        raise errors.malformed_assertion(f"The '{name}' header is not a string.")
    try:
        digest = b64url_decode(value)
    except JoseError:
        raise errors.malformed_assertion(f"The '{name}' header is not base64url.") from None
    if len(digest) != size:
        raise errors.malformed_assertion(f"The '{name}' header is not a {size * 8}-bit thumbprint.")
    return digest


def _leaf(header: dict[str, object]) -> bytes | None:
    chain = header.get("x5c")
    if chain is None:
        return None
    if not isinstance(chain, list) or not chain or not isinstance(chain[0], str):
        raise errors.malformed_assertion("The 'x5c' header is not a list of certificates.")
    # x5c is standard base64 (MSAL wraps it with newlines); be tolerant of whitespace only.
    try:
        return base64.b64decode("".join(chain[0].split()), validate=True)
    except (binascii.Error, ValueError):
        raise errors.malformed_assertion("The 'x5c' header is not base64.") from None


def key_hint(header: dict[str, object]) -> KeyHint:
    return KeyHint(
        _thumbprint(header, "x5t", 20), _thumbprint(header, "x5t#S256", 32), _leaf(header)
    )


def _find_key(directory: Directory, client_id: str, hint: KeyHint) -> KeyCredential | None:
    if hint.sha256 is not None:
        return directory.credential_by_sha256(client_id, hint.sha256.hex())
    if hint.sha1 is not None:
        return directory.credential_by_sha1(client_id, hint.sha1.hex())
    if hint.leaf_der is not None:
        return directory.credential_by_sha1(client_id, hashlib.sha1(hint.leaf_der).hexdigest())
    return None


def _number(claims: dict[str, object], name: str) -> float | None:
    value = claims.get(name)
    if value is None:
        return None
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        raise errors.malformed_assertion(f"The '{name}' claim is not a number.")
    try:
        seconds = float(value)
    except OverflowError:  # an integer beyond any float
        seconds = math.inf
    if not math.isfinite(seconds):  # NaN compares false with everything: never "expired"
        raise errors.malformed_assertion(f"The '{name}' claim is not a finite number.")
    return seconds


def _utc(seconds: float) -> datetime:
    try:
        return datetime.fromtimestamp(seconds, timezone.utc)
    except (OverflowError, OSError, ValueError):
        return (
            datetime.max.replace(tzinfo=timezone.utc)
            if seconds > 0
            else datetime.min.replace(tzinfo=timezone.utc)
        )


def verify_client_assertion(
    assertion: str,
    *,
    client_id: str,
    directory: Directory,
    audiences: Collection[str],
    now: float,
    hidden: Callable[[KeyCredential], bool] = lambda _key: False,
    refusal_code: Callable[[], int | None] = lambda: None,
) -> KeyCredential:
    """The registered credential that signed this assertion, or the EntraError Entra gives.

    `audiences` are the accepted token-endpoint URLs (compared case-insensitively);
    `hidden` lets the upload-propagation fault make fresh keys invisible for a while;
    `refusal_code` picks another of Entra's forms of a key refusal (None: the classic 700027).
    """

    def refuse(
        reason: str, thumbprint: str, found: tuple[datetime, datetime] | None = None
    ) -> errors.EntraError:
        code = refusal_code()
        if code is None:
            return errors.invalid_signature(
                reason, thumbprint=thumbprint, client_id=client_id, found=found
            )
        return errors.key_refused_as(code, reason, thumbprint=thumbprint, client_id=client_id)

    try:
        jws = parse_compact(assertion)
    except JoseError as error:
        raise errors.malformed_assertion(str(error)) from None
    alg = jws.header.get("alg")
    if not isinstance(alg, str) or alg not in SUPPORTED_ALGORITHMS:
        raise errors.unsupported_algorithm(str(alg))

    hint = key_hint(jws.header)
    key = _find_key(directory, client_id, hint)
    if key is None or hidden(key):
        # With no x5t, x5t#S256 or x5c at all the real response is not known to us; Entra
        # cannot choose a key, so "key not found" (with an empty thumbprint) is the answer.
        raise refuse(errors.KEY_NOT_FOUND, hint.display_thumbprint())

    def key_refused(reason: str) -> errors.EntraError:
        """The found key's 700027 (invalid signature) with `reason`."""
        return refuse(reason, key.thumbprint_sha1, (key.start, key.end))

    if hint.leaf_der is not None and hint.leaf_der != key.der:
        # A header naming one certificate by thumbprint and carrying another in x5c: Entra's
        # exact answer is unknown; refusing it as a signature failure is the strict choice.
        raise key_refused(errors.SIGNATURE_MISMATCH)
    moment = _utc(now)
    if moment >= key.end:
        raise key_refused(errors.KEY_EXPIRED)
    if moment < key.start:
        raise key_refused(errors.KEY_NOT_YET_VALID)
    public = key.public_key
    if public is None or not verify_signature(alg, public, jws.signing_input, jws.signature):
        raise key_refused(errors.SIGNATURE_MISMATCH)

    claims = jws.claims
    audience = claims.get("aud")
    accepted = {a.lower().rstrip("/") for a in audiences}
    if isinstance(audience, list) and len(audience) == 1:
        audience = audience[0]
    if not isinstance(audience, str) or audience.lower().rstrip("/") not in accepted:
        raise errors.wrong_audience()
    issuer, subject = claims.get("iss"), claims.get("sub")
    if not isinstance(issuer, str) or issuer.lower() != client_id.lower():
        raise errors.wrong_issuer()
    if not isinstance(subject, str) or subject.lower() != client_id.lower():
        raise errors.wrong_issuer()

    expires = _number(claims, "exp")
    not_before = _number(claims, "nbf")
    _number(claims, "iat")  # a non-number iat is malformed; its value sets no time limit
    if expires is None:
        raise errors.malformed_assertion("The 'exp' claim is missing.")
    # Entra reads the time range from nbf and exp only: an iat in the future is not refused
    # (RFC 7523 3.6 leaves iat to the server; Entra's 700024 quotes nbf as "valid from", and
    # MSAL's own assertions carry no nbf and are accepted with any iat).
    if now >= expires or (not_before is not None and not_before > now + CLOCK_SKEW):
        shown = not_before if not_before is not None else 0.0
        raise errors.outside_time_range(moment, _utc(shown), _utc(expires))
    # Replayed jti values are accepted: Entra does not reliably reject a reused assertion
    # within its lifetime (MSAL itself reuses one for up to ~9 minutes), so neither do we.
    return key
