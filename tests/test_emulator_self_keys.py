"""Graph's addKey/removeKey on the demo tenant, with hand-made proofs: strict like Graph.

Every proof Graph cannot accept is 401 Authentication_MissingOrMalformed, whatever is wrong
with it; each case changes one thing of a good proof and checks nothing changed on the app.
"""

from __future__ import annotations

import base64
import datetime as dt
import json
import time
import uuid
from collections.abc import Iterator
from typing import Any

import pytest
import requests
from conftest import make_test_certificate
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from test_emulator_helpers import assertion_form, make_assertion, post_token, session

from wizard import certs
from wizard.emulator import DemoInfo
from wizard.portal import PortalClient

AUD = "00000002-0000-0000-c000-000000000000"


def _b64url(data: bytes, *, pad: bool = False) -> str:
    text = base64.urlsafe_b64encode(data).decode()
    return text if pad else text.rstrip("=")


def proof(
    key: rsa.RSAPrivateKey,
    cert: x509.Certificate,
    object_id: str,
    *,
    claims: dict[str, Any] | None = None,
    relative: dict[str, int] | None = None,
    drop: tuple[str, ...] = (),
    header: dict[str, Any] | None = None,
    pad_header: bool = False,
    pad_payload: bool = False,
) -> str:
    now = int(time.time())
    body: dict[str, Any] = {"aud": AUD, "iss": object_id, "nbf": now, "exp": now + 600}
    body.update(claims or {})
    body.update({name: now + seconds for name, seconds in (relative or {}).items()})
    for name in drop:
        body.pop(name)
    head: dict[str, Any] = {"alg": "RS256", "typ": "JWT", "x5t": certs.x5t(cert)}
    head.update(header or {})
    # A header of 17 bytes encodes with padding; the payload is padded until it needs it.
    head_b64 = _b64url(json.dumps(head).encode(), pad=pad_header)
    raw = json.dumps(body).encode()
    while pad_payload and len(raw) % 3 == 0:
        raw += b" "
    payload_b64 = _b64url(raw, pad=pad_payload)
    if pad_header:
        assert head_b64.endswith("="), "the header must need padding for this case"
    signing_input = f"{head_b64}.{payload_b64}".encode()
    signature = key.sign(signing_input, padding.PKCS1v15(), hashes.SHA256())
    return f"{head_b64}.{payload_b64}.{_b64url(signature)}"


class App:
    def __init__(self, info: DemoInfo, portal: PortalClient) -> None:
        self.info, self.portal = info, portal
        listed = next(a for a in portal.list_applications() if a["client_id"] == info.client_id)
        self.object_id: str = listed["object_id"]
        self.client_id = info.client_id

    def registered(self) -> dict[str, str]:
        """thumbprint -> keyId of the app's certificates."""
        listed = next(
            a for a in self.portal.list_applications() if a["client_id"] == self.client_id
        )
        return {k["thumbprint"]: k["key_id"] for k in listed["key_credentials"]}

    def token(self, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> str:
        assertion = make_assertion(
            key, cert, client_id=self.client_id, audience=self.info.token_endpoint
        )
        answer = post_token(self.info, assertion_form(self.client_id, assertion))
        assert answer.status_code == 200, answer.text
        return str(answer.json()["access_token"])

    def post(
        self, action: str, body: object, token: str, *, by_app_id: bool = False, raw: bytes | None = None
    ) -> requests.Response:
        target = (
            f"applications(appId='{self.client_id}')" if by_app_id
            else f"applications/{self.object_id}"
        )
        url = f"{self.info.graph_endpoint}/v1.0/{target}/{action}"
        data = raw if raw is not None else json.dumps(body).encode()
        return session(self.info).post(
            url,
            data=data,
            headers={"Authorization": f"Bearer {token}", "Content-Type": "application/json"},
            timeout=20,
        )


@pytest.fixture(scope="module")
def app(demo_info: DemoInfo, demo_portal: PortalClient) -> App:
    return App(demo_info, demo_portal)


@pytest.fixture(scope="module")
def current(app: App) -> Iterator[tuple[x509.Certificate, rsa.RSAPrivateKey, str]]:
    """The app's current certificate (its own key), and an app-only token signed with it."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    cert, _ = make_test_certificate("SelfKeysCurrent", key=key)
    app.portal.upload_certificate(app.client_id, certs.cert_der(cert))
    yield cert, key, app.token(cert, key)
    app.portal.delete_certificate(app.client_id, certs.thumbprint_sha1(cert))


def _new_cert_body(cert: x509.Certificate, **changes: Any) -> dict[str, Any]:
    credential = {
        "type": "AsymmetricX509Cert",
        "usage": "Verify",
        "key": base64.b64encode(certs.cert_der(cert)).decode(),
    }
    credential.update(changes)
    return {"keyCredential": credential, "passwordCredential": None}


def _graph_error(answer: requests.Response, status: int, code: str) -> dict[str, Any]:
    assert answer.status_code == status, answer.text
    error: dict[str, Any] = answer.json()["error"]
    assert error["code"] == code, error
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    return error


def test_add_then_remove_a_key_by_object_id_and_by_app_id(app: App, current: Any) -> None:
    cert, key, token = current
    new_cert, _ = make_test_certificate("SelfKeysNew")
    body = _new_cert_body(new_cert) | {"proof": proof(key, cert, app.object_id)}
    answer = app.post("addKey", body, token)
    assert answer.status_code == 200, answer.text
    added = answer.json()
    assert added["key"] is None and added["type"] == "AsymmetricX509Cert"
    assert added["usage"] == "Verify"
    assert added["customKeyIdentifier"] == certs.thumbprint_sha1(new_cert)
    assert app.registered()[certs.thumbprint_sha1(new_cert)] == added["keyId"]
    assert certs.thumbprint_sha1(cert) in app.registered()  # nothing else removed
    # The same certificate again: refused, still once on the app.
    again = app.post("addKey", body | {"proof": proof(key, cert, app.object_id)}, token)
    _graph_error(again, 400, "Request_BadRequest")
    removal = {"keyId": added["keyId"], "proof": proof(key, cert, app.object_id)}
    gone = app.post("removeKey", removal, token, by_app_id=True)
    assert gone.status_code == 204, gone.text
    assert certs.thumbprint_sha1(new_cert) not in app.registered()
    missing = app.post("removeKey", removal | {"proof": proof(key, cert, app.object_id)}, token)
    _graph_error(missing, 404, "Request_ResourceNotFound")


def test_the_sdk_spelling_and_a_chosen_key_id(app: App, current: Any) -> None:
    cert, key, token = current
    new_cert, _ = make_test_certificate("SelfKeysChosen")
    key_id = str(uuid.uuid4())
    body = _new_cert_body(new_cert, keyId=key_id) | {"proof": proof(key, cert, app.object_id)}
    answer = app.post("microsoft.graph.addKey", body, token)
    assert answer.status_code == 200 and answer.json()["keyId"] == key_id
    removal = {"keyId": key_id, "proof": proof(key, cert, app.object_id)}
    assert app.post("microsoft.graph.removeKey", removal, token).status_code == 204


_EXPIRED_START = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=40)


@pytest.mark.parametrize(
    ("case", "kwargs"),
    [
        ("padded header", {"pad_header": True, "header": {"typ": "JWT1"}}),
        ("padded payload", {"pad_payload": True}),
        ("Microsoft Graph's audience", {"claims": {"aud": "00000003-0000-0000-c000-000000000000"}}),
        ("no aud", {"drop": ("aud",)}),
        ("iss is the client ID", {"claims": {"iss": "CLIENT"}}),
        ("no iss", {"drop": ("iss",)}),
        ("no nbf", {"drop": ("nbf",)}),
        ("no exp", {"drop": ("exp",)}),
        ("lives 11 minutes", {"relative": {"exp": 660}}),
        ("exp before nbf", {"relative": {"exp": -1}}),
        ("expired", {"relative": {"nbf": -900, "exp": -300}}),
        ("not yet valid", {"relative": {"nbf": 3600, "exp": 4000}}),
        ("exp is a string", {"claims": {"exp": "soon"}}),
        ("exp is NaN-like huge", {"claims": {"exp": 10**400}}),
        ("alg none", {"header": {"alg": "none"}}),
        ("alg HS256", {"header": {"alg": "HS256"}}),
        ("names no certificate", {"header": {"x5t": None}}),
        ("x5t not base64url", {"header": {"x5t": "***"}}),
    ],
)
def test_a_bad_proof_is_missing_or_malformed(
    app: App, current: Any, case: str, kwargs: dict[str, Any]
) -> None:
    cert, key, token = current
    if kwargs.get("claims", {}).get("iss") == "CLIENT":
        kwargs = {"claims": {"iss": app.client_id}}
    if kwargs.get("header", {}).get("x5t", "") is None:
        kwargs = {"header": {"x5t": None}}
    new_cert, _ = make_test_certificate("SelfKeysRefused")
    before = app.registered()
    made = proof(key, cert, app.object_id, **kwargs)
    if case == "names no certificate":
        head = json.loads(base64.urlsafe_b64decode(made.split(".")[0] + "=="))
        assert head["x5t"] is None
    answer = app.post("addKey", _new_cert_body(new_cert) | {"proof": made}, token)
    error = _graph_error(answer, 401, "Authentication_MissingOrMalformed")
    assert error["message"] == "Access Token missing or malformed.", case
    assert app.registered() == before


def test_a_proof_by_a_foreign_an_expired_or_a_mismatched_certificate_is_refused(
    app: App, current: Any
) -> None:
    cert, _, token = current
    new_cert, _ = make_test_certificate("SelfKeysTarget")
    stranger_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    stranger, _ = make_test_certificate("SelfKeysStranger", key=stranger_key)
    expired, expired_key = make_test_certificate("SelfKeysExpired", not_before=_EXPIRED_START)
    app.portal.upload_certificate(app.client_id, certs.cert_der(expired))
    try:
        before = app.registered()
        for made in (
            proof(stranger_key, stranger, app.object_id),  # not registered on the app
            proof(expired_key, expired, app.object_id),  # registered, but expired
            proof(stranger_key, cert, app.object_id),  # names the right one, wrong key
        ):
            answer = app.post("addKey", _new_cert_body(new_cert) | {"proof": made}, token)
            _graph_error(answer, 401, "Authentication_MissingOrMalformed")
        assert app.registered() == before
    finally:
        app.portal.delete_certificate(app.client_id, certs.thumbprint_sha1(expired))


def test_who_may_call_and_what_body(app: App, current: Any) -> None:
    cert, key, token = current
    new_cert, _ = make_test_certificate("SelfKeysBody")
    good = proof(key, cert, app.object_id)
    before = app.registered()
    # No proof: no permission to change the app.
    _graph_error(app.post("addKey", _new_cert_body(new_cert), token), 403,
                 "Authorization_RequestDenied")
    # Not a token of ours at all.
    bad = app.post("addKey", _new_cert_body(new_cert) | {"proof": good}, "not-a-token")
    _graph_error(bad, 401, "InvalidAuthenticationToken")
    assert "WWW-Authenticate" in bad.headers
    # Bodies Graph cannot read or accept.
    for raw in (b"", b"not json", b"[]", b'{"a": NaN}', b"[" * 5000):
        _graph_error(app.post("addKey", None, token, raw=raw), 400, "BadRequest")
    for changes in (
        {"key": "not base64!"},
        {"key": ""},
        {"usage": "Sign"},
        {"type": "Symmetric"},
        {"key": base64.b64encode(b"-----BEGIN PRIVATE KEY-----").decode()},
        {"key": base64.b64encode(b"\x30\x03\x02\x01\x00").decode()},
        {"keyId": "not-a-guid"},
    ):
        body = _new_cert_body(new_cert, **changes) | {"proof": proof(key, cert, app.object_id)}
        _graph_error(app.post("addKey", body, token), 400, "Request_BadRequest")
    expired, _ = make_test_certificate("SelfKeysOld", not_before=_EXPIRED_START)
    body = _new_cert_body(expired) | {"proof": proof(key, cert, app.object_id)}
    _graph_error(app.post("addKey", body, token), 400, "Request_BadRequest")
    body = {"keyId": "x", "proof": proof(key, cert, app.object_id)}
    _graph_error(app.post("removeKey", body, token), 400, "Request_BadRequest")
    assert app.registered() == before


def test_another_app_s_token_and_an_unknown_application(
    app: App, current: Any, demo_info: DemoInfo
) -> None:
    cert, key, token = current
    new_cert, _ = make_test_certificate("SelfKeysOther")
    body = _new_cert_body(new_cert) | {"proof": proof(key, cert, app.object_id)}
    # The unconsented app signs in with a certificate of its own and calls for ours.
    other_key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    other, _ = make_test_certificate("SelfKeysOtherApp", key=other_key)
    app.portal.upload_certificate(demo_info.unconsented_client_id, certs.cert_der(other))
    try:
        assertion = make_assertion(
            other_key, other, client_id=demo_info.unconsented_client_id,
            audience=demo_info.token_endpoint,
        )
        answer = post_token(demo_info, assertion_form(demo_info.unconsented_client_id, assertion))
        other_token = str(answer.json()["access_token"])
        _graph_error(app.post("addKey", body, other_token), 403, "Authorization_RequestDenied")
    finally:
        app.portal.delete_certificate(demo_info.unconsented_client_id, certs.thumbprint_sha1(other))
    unknown = App.__new__(App)
    unknown.info, unknown.portal, unknown.client_id = app.info, app.portal, app.client_id
    unknown.object_id = str(uuid.uuid4())
    _graph_error(unknown.post("addKey", body, token), 404, "Request_ResourceNotFound")
    unknown.object_id = "not-a-guid"
    _graph_error(unknown.post("addKey", body, token), 400, "Request_BadRequest")
    unknown.object_id = "..%2f..%2fportal"  # no longer an application's path once decoded
    _graph_error(unknown.post("addKey", body, token), 400, "BadRequest")


@pytest.mark.parametrize(
    "target",
    [
        "applications(appId='not-a-guid')/addKey",
        "applications(appId='%00%1b[31m')/addKey",
        "applications/%2e%2e/addKey",
        "applications/" + "a" * 5000 + "/addKey",
    ],
)
def test_hostile_application_paths_are_refused_in_graph_s_envelope(
    app: App, current: Any, target: str
) -> None:
    cert, key, token = current
    new_cert, _ = make_test_certificate("SelfKeysPath")
    body = _new_cert_body(new_cert) | {"proof": proof(key, cert, app.object_id)}
    before = app.registered()
    answer = session(app.info).post(
        f"{app.info.graph_endpoint}/v1.0/{target}", json=body,
        headers={"Authorization": f"Bearer {token}"}, timeout=20,
    )
    assert 400 <= answer.status_code < 500
    if answer.headers.get("Content-Type", "").startswith("application/json"):
        assert "error" in answer.json()
    assert app.registered() == before


def test_oversized_and_deeply_nested_proofs_are_malformed(app: App, current: Any) -> None:
    cert, _, token = current
    new_cert, _ = make_test_certificate("SelfKeysHuge")
    deep = _b64url(b"[" * 200 + b"]" * 200)
    for made in ("a." * 9000 + "a", f"{deep}.{deep}.sig", "..", "a.b", "\u202e.x.y"):
        answer = app.post("addKey", _new_cert_body(new_cert) | {"proof": made}, token)
        _graph_error(answer, 401, "Authentication_MissingOrMalformed")
    wrong_type = app.post("addKey", _new_cert_body(new_cert) | {"proof": 12}, token)
    _graph_error(wrong_type, 400, "Request_BadRequest")
    assert certs.thumbprint_sha1(cert) in app.registered()
