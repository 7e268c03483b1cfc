"""The tenant's own access tokens: issued by the token endpoint, checked by the small Graph.

v1 app-only tokens like the ones Entra issues for Microsoft Graph, signed RS256 with the
tenant's signing key (published, with its certificate, at the jwks_uri).
"""

from __future__ import annotations

import base64
import hashlib
import secrets
import time
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.x509.oid import NameOID

from wizard.emulator._files import atomic_write, read_state_file
from wizard.emulator.directory import GRAPH_APP_ID, Application, Tenant
from wizard.emulator.jose import (
    JoseError,
    b64url_encode,
    parse_compact,
    sign_rs256,
    verify_signature,
)
from wizard.emulator.users import DemoUser

SIGNING_KEY_FILE = "tenant-signing.key"
SIGNING_CERT_FILE = "tenant-signing.pem"
# Entra's app-only Graph tokens are back-dated five minutes (iat = nbf = now - 300) and run
# about 3900 s from iat, while the response's expires_in says 3599 (decoded real tokens in
# Microsoft's access-token docs and public captures, e.g. jwt.ms samples).
TOKEN_LIFETIME = 3599
BACKDATE = 300
LIFETIME_FROM_IAT = 3900
CLOCK_SKEW = 300
# The role template every app-only token of a service principal carries in `wids`.
APP_ONLY_WIDS = ["0997a1d0-0d1d-4acb-b408-d5ca73121e90"]


class BearerRejected(Exception):
    """Graph's 401 InvalidAuthenticationToken, with Graph's message."""


@dataclass(frozen=True)
class IssuedToken:
    access_token: str
    expires_in: int
    claims: dict[str, Any]


def _load_or_create_signing(state_dir: Path) -> tuple[rsa.RSAPrivateKey, x509.Certificate]:
    key_path, cert_path = state_dir / SIGNING_KEY_FILE, state_dir / SIGNING_CERT_FILE
    if key_path.exists() and cert_path.exists():
        try:
            key = serialization.load_pem_private_key(read_state_file(key_path), password=None)
            cert = x509.load_pem_x509_certificate(read_state_file(cert_path))
            if isinstance(key, rsa.RSAPrivateKey) and cert.not_valid_after_utc > datetime.now(
                timezone.utc
            ):
                return key, cert
        except ValueError:
            pass
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    now = datetime.now(timezone.utc)
    name = x509.Name(
        [x509.NameAttribute(NameOID.COMMON_NAME, "accounts.accesscontrol.windows.net")]
    )
    cert = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=5))
        .not_valid_after(now + timedelta(days=3650))
        .sign(key, hashes.SHA256())
    )
    atomic_write(
        key_path,
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        ),
    )
    atomic_write(cert_path, cert.public_bytes(serialization.Encoding.PEM), mode=0o644)
    return key, cert


def random_texts(*sizes: int) -> list[str]:
    """base64url texts of this many random bytes each, from one read of the system's random
    source: one syscall per token instead of one per claim (secrets.token_urlsafe each)."""
    pool = secrets.token_bytes(sum(sizes))
    texts, start = [], 0
    for size in sizes:
        texts.append(b64url_encode(pool[start : start + size]))
        start += size
    return texts


def _int_b64(value: int) -> str:
    return b64url_encode(value.to_bytes((value.bit_length() + 7) // 8, "big"))


class TokenIssuer:
    """Signs and checks the tenant's access tokens."""

    def __init__(self, state_dir: Path, tenant: Tenant, graph_resource: str) -> None:
        self._key, self._cert = _load_or_create_signing(state_dir)
        self._public = self._key.public_key()
        self.tenant = tenant
        self.graph_resource = graph_resource
        der = self._cert.public_bytes(serialization.Encoding.DER)
        # Entra's kid and x5t are the unpadded base64url SHA-1 of the signing certificate.
        self.kid = b64url_encode(hashlib.sha1(der).digest())
        self._x5c = base64.b64encode(der).decode("ascii")
        self.issuer = f"https://sts.windows.net/{tenant.tenant_id}/"

    def jwks(self, issuer_v2: str) -> dict[str, Any]:
        numbers = self._public.public_numbers()
        return {
            "keys": [
                {
                    "kty": "RSA",
                    "use": "sig",
                    "kid": self.kid,
                    "x5t": self.kid,
                    "n": _int_b64(numbers.n),
                    "e": _int_b64(numbers.e),
                    "x5c": [self._x5c],
                    "issuer": issuer_v2,
                }
            ]
        }

    def issue(self, app: Application, resource: str, *, now: float | None = None) -> IssuedToken:
        issued = int(now if now is not None else time.time()) - BACKDATE
        tid = self.tenant.tenant_id
        aio, rh, uti, ftd, rd = random_texts(24, 48, 16, 40, 24)
        claims: dict[str, Any] = {
            "aud": resource,
            "iss": self.issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + LIFETIME_FROM_IAT,
            "aio": aio,
            "app_displayname": app.display_name,
            "appid": app.client_id,
            "appidacr": "2",
            "idp": self.issuer,
            "idtyp": "app",
            "oid": app.sp_object_id,
            "rh": "1." + rh + ".",
            "sub": app.sp_object_id,
            "tenant_region_scope": "EU",
            "tid": tid,
            "uti": uti,
            "ver": "1.0",
            "wids": list(APP_ONLY_WIDS),
            "xms_ftd": ftd,
            "xms_idrel": "7 26",
            "xms_rd": "0.42LjYBJiOsUoJMLBLiSQ" + rd,
            "xms_tcdt": int(self.tenant.created.timestamp()),
        }
        roles = app.granted_roles
        if roles:
            claims["roles"] = roles
        return self._graph_token(claims)

    def _graph_token(self, claims: dict[str, Any]) -> IssuedToken:
        """A Graph access token with these claims, signed with the tenant's key.

        Graph's tokens carry a header nonce (Graph hashes it before checking the signature,
        which is why they fail generic JWT validators); ours is signed as it stands.
        """
        header = {
            "typ": "JWT",
            "nonce": secrets.token_urlsafe(32),
            "alg": "RS256",
            "x5t": self.kid,
            "kid": self.kid,
        }
        return IssuedToken(sign_rs256(self._key, header, claims), TOKEN_LIFETIME, claims)

    def issue_delegated(
        self,
        *,
        client_id: str,
        app_name: str,
        user: DemoUser,
        scopes: tuple[str, ...],
        id_token_issuer: str,
        now: float | None = None,
    ) -> tuple[IssuedToken, str]:
        """A v1 Graph token on a user's behalf (`scp`, `idtyp` user), and the v2 ID token.

        Shaped like a public client's delegated Graph token: `aud` is Graph's app ID,
        `appidacr` "0" (no client credential), the user's `oid`/`upn` and directory roles
        in `wids`.
        """
        issued = int(now if now is not None else time.time()) - BACKDATE
        tid = self.tenant.tenant_id
        claims: dict[str, Any] = {
            "aud": GRAPH_APP_ID,
            "iss": self.issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + LIFETIME_FROM_IAT,
            "acct": 0,
            "acr": "1",
            "aio": secrets.token_urlsafe(24),
            "amr": ["pwd"],
            "app_displayname": app_name,
            "appid": client_id,
            "appidacr": "0",
            "family_name": user.family_name,
            "given_name": user.given_name,
            "idtyp": "user",
            "name": user.display_name,
            "oid": user.object_id,
            "rh": "1." + secrets.token_urlsafe(48) + ".",
            "scp": " ".join(scopes),
            "sid": secrets.token_hex(16),
            "sub": b64url_encode(hashlib.sha256((user.object_id + client_id).encode()).digest()),
            "tenant_region_scope": "EU",
            "tid": tid,
            "unique_name": user.user_principal_name,
            "upn": user.user_principal_name,
            "uti": secrets.token_urlsafe(16),
            "ver": "1.0",
            "wids": list(user.role_ids),
            "xms_tcdt": int(self.tenant.created.timestamp()),
        }
        access = self._graph_token(claims)
        id_claims = {
            "aud": client_id,
            "iss": id_token_issuer,
            "iat": issued,
            "nbf": issued,
            "exp": issued + LIFETIME_FROM_IAT,
            "name": user.display_name,
            "oid": user.object_id,
            "preferred_username": user.user_principal_name,
            "rh": claims["rh"],
            "sub": claims["sub"],
            "tid": tid,
            "uti": claims["uti"],
            "ver": "2.0",
        }
        id_token = sign_rs256(self._key, {"typ": "JWT", "alg": "RS256", "kid": self.kid}, id_claims)
        return access, id_token

    def validate(self, token: str, *, now: float | None = None) -> dict[str, Any]:
        """The claims of a bearer token for Graph, or BearerRejected with Graph's wording."""
        moment = now if now is not None else time.time()
        if not token:
            raise BearerRejected("Access token is empty.")
        try:
            jws = parse_compact(token)
        except JoseError:
            raise BearerRejected(
                "IDX14100: JWT is not well formed, there are no dots (.).\nThe token needs to "
                "be in JWS or JWE Compact Serialization Format."
                if "." not in token
                else "Invalid JWT token. The token is malformed."
            ) from None
        if jws.header.get("alg") != "RS256" or jws.header.get("kid") != self.kid:
            raise BearerRejected("Invalid JWT token. Token signature could not be validated.")
        if not verify_signature("RS256", self._public, jws.signing_input, jws.signature):
            raise BearerRejected("Invalid JWT token. Token signature could not be validated.")
        claims = jws.claims
        if claims.get("iss") != self.issuer or claims.get("tid") != self.tenant.tenant_id:
            raise BearerRejected(
                "Invalid JWT token. The token issuer is not valid for this tenant."
            )
        if claims.get("aud") not in (self.graph_resource, self.graph_resource + "/", GRAPH_APP_ID):
            raise BearerRejected("Invalid audience.")
        exp, nbf = claims.get("exp"), claims.get("nbf", claims.get("iat"))
        if not isinstance(exp, (int, float)) or not isinstance(nbf, (int, float)):
            raise BearerRejected("Access token validation failure.")
        if moment >= exp or moment + CLOCK_SKEW < nbf:
            raise BearerRejected("Lifetime validation failed, the token is expired.")
        return claims
