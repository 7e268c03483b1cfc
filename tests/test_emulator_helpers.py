"""Clients for the demo-tenant tests (no tests here): real MSAL, requests, PyJWT assertions."""

from __future__ import annotations

import time
import urllib.parse
import uuid
from typing import Any

import jwt
import msal
import requests
from cryptography import x509
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from wizard import certs
from wizard.emulator import DemoInfo

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"


def session(info: DemoInfo) -> requests.Session:
    """A requests session that trusts the demo CA and ignores the environment's CA/proxies."""
    http = requests.Session()
    http.verify = info.ca_bundle
    http.trust_env = False
    return http


def msal_app(
    info: DemoInfo,
    credential: dict[str, Any],
    *,
    client_id: str | None = None,
    authority: str | None = None,
) -> Any:
    """A fresh MSAL app (MSAL caches tokens and 400 answers per app object)."""
    return msal.ConfidentialClientApplication(
        client_id or info.client_id,
        authority=authority or info.authority,
        client_credential=credential,
        http_client=session(info),
        instance_discovery=False,
    )


def msal_token(
    info: DemoInfo,
    credential: dict[str, Any],
    *,
    client_id: str | None = None,
    authority: str | None = None,
) -> dict[str, Any]:
    app = msal_app(info, credential, client_id=client_id, authority=authority)
    result: dict[str, Any] = app.acquire_token_for_client([info.graph_resource + "/.default"])
    return result


def key_pem(key: rsa.RSAPrivateKey) -> str:
    return key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()


def thumbprint_credential(cert: x509.Certificate, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """RS256 + x5t (SHA-1), as MSAL sends with `thumbprint`."""
    return {"private_key": key_pem(key), "thumbprint": certs.thumbprint_sha1(cert)}


def public_certificate_credential(cert: x509.Certificate, key: rsa.RSAPrivateKey) -> dict[str, Any]:
    """PS256 + x5t#S256 + x5c, as MSAL sends with `public_certificate`."""
    return {"private_key": key_pem(key), "public_certificate": certs.cert_pem(cert).decode()}


def make_assertion(
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    *,
    client_id: str,
    audience: str,
    algorithm: str = "RS256",
    headers: dict[str, Any] | None = None,
    claims: dict[str, Any] | None = None,
    use_x5t: bool = True,
) -> str:
    """A client assertion made with PyJWT (like MSAL does), overridable for hostile variants."""
    now = time.time()
    payload: dict[str, Any] = {
        "aud": audience,
        "iss": client_id,
        "sub": client_id,
        "exp": now + 600,
        "iat": now,
        "jti": str(uuid.uuid4()),
    }
    payload.update(claims or {})
    head: dict[str, Any] = {"x5t": certs.x5t(cert)} if use_x5t else {}
    head.update(headers or {})
    return jwt.encode(payload, key, algorithm=algorithm, headers=head)


def post_token(
    info: DemoInfo,
    form: dict[str, str],
    *,
    http: requests.Session | None = None,
    endpoint: str | None = None,
) -> requests.Response:
    body = {"grant_type": "client_credentials", "scope": info.graph_resource + "/.default"}
    body.update(form)
    return (http or session(info)).post(endpoint or info.token_endpoint, data=body, timeout=20)


def assertion_form(client_id: str, assertion: str) -> dict[str, str]:
    return {
        "client_id": client_id,
        "client_assertion_type": JWT_BEARER,
        "client_assertion": assertion,
    }


def delegated_token(
    info: DemoInfo, *, user: str = "admin", scope: str = "Application.ReadWrite.All"
) -> str:
    """A delegated Graph token from the device code flow, approved through the portal API.

    A --public-hosts tenant is reached at its listening address with the public Host header.
    """
    from wizard.emulator.device_code import DEVICE_CODE_GRANT, GRAPH_CLI_CLIENT_ID

    http = session(info)
    if info.public_hosts:
        http.headers["Host"] = urllib.parse.urlsplit(info.authority_host).netloc
    base = f"{info.listen_url if info.public_hosts else info.authority_host}/{info.tenant_id}"
    flow = http.post(
        f"{base}/oauth2/v2.0/devicecode",
        data={"client_id": GRAPH_CLI_CLIENT_ID, "scope": scope},
    ).json()
    decided = session(info).post(
        f"{info.portal}/devicecode/{flow['user_code']}", json={"decision": "approve", "user": user}
    )
    assert decided.json()["status"] == "approved", decided.text
    answer = http.post(
        f"{base}/oauth2/v2.0/token",
        data={
            "grant_type": DEVICE_CODE_GRANT,
            "client_id": GRAPH_CLI_CLIENT_ID,
            "device_code": flow["device_code"],
        },
    ).json()
    return str(answer["access_token"])
