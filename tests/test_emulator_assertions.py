"""Hand-made client assertions against the demo tenant's token endpoint: strict like Entra."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import time
from collections.abc import Callable
from typing import Any

import pytest
from conftest import DemoCertificate, make_test_certificate
from cryptography.hazmat.primitives.asymmetric import rsa
from test_emulator_helpers import JWT_BEARER, assertion_form, make_assertion, post_token, session

from wizard import certs
from wizard.emulator import DemoInfo

MakeCert = Callable[..., DemoCertificate]


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _refused(answer: Any, code: int, *, error: str = "invalid_client") -> dict[str, Any]:
    body: dict[str, Any] = answer.json()
    assert "access_token" not in body, "the demo tenant issued a token it must refuse"
    assert body["error_codes"] == [code], body["error_description"]
    assert body["error"] == error
    assert answer.status_code == (401 if error == "invalid_client" else 400)
    assert body["error_description"].startswith(f"AADSTS{code}: ")
    return body


@pytest.fixture(scope="module")
def registered(demo_info: DemoInfo, demo_portal: Any) -> DemoCertificate:
    """One uploaded certificate for the whole module (the hostile variants never change it)."""
    cert, key = make_test_certificate("HostileTarget")
    demo_portal.upload_certificate(demo_info.client_id, certs.cert_der(cert))
    return DemoCertificate(cert, key, certs.thumbprint_sha1(cert), demo_info.client_id, True)


@pytest.fixture(scope="module")
def impostor_key() -> rsa.RSAPrivateKey:
    """A key of its own: the shared test-key pool could hand back the registered one."""
    return rsa.generate_private_key(public_exponent=65537, key_size=2048)


def _good(info: DemoInfo, made: DemoCertificate, **kwargs: Any) -> str:
    return make_assertion(
        made.private_key,
        made.certificate,
        client_id=info.client_id,
        audience=info.token_endpoint,
        **kwargs,
    )


# -- accepted forms ----------------------------------------------------------------------


def test_rs256_x5t_accepted_and_replay_accepted(
    demo_info: DemoInfo, registered: DemoCertificate
) -> None:
    assertion = _good(demo_info, registered)
    for _ in range(2):  # Entra does not reliably reject a replayed jti; neither do we
        answer = post_token(demo_info, assertion_form(demo_info.client_id, assertion))
        assert answer.status_code == 200, answer.text
        body = answer.json()
        assert (
            body["token_type"] == "Bearer"
            and body["expires_in"] == 3599
            and body["ext_expires_in"] == 3599
        )


@pytest.mark.parametrize("padded", [True, False])
def test_ps256_x5t_s256_padded_or_not_accepted(
    demo_info: DemoInfo, registered: DemoCertificate, padded: bool
) -> None:
    digest = certs.x5t_s256(registered.certificate)
    header = {"x5t#S256": digest if padded else digest.rstrip("=")}
    assertion = _good(demo_info, registered, algorithm="PS256", headers=header, use_x5t=False)
    assert post_token(demo_info, assertion_form(demo_info.client_id, assertion)).status_code == 200


def test_x5c_leaf_alone_accepted(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    x5c = [base64.b64encode(certs.cert_der(registered.certificate)).decode()]
    assertion = _good(demo_info, registered, headers={"x5c": x5c}, use_x5t=False)
    assert post_token(demo_info, assertion_form(demo_info.client_id, assertion)).status_code == 200


def test_domain_form_audience_accepted(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    endpoint = f"{demo_info.authority_host}/{demo_info.tenant_domain}/oauth2/v2.0/token"
    assertion = make_assertion(
        registered.private_key,
        registered.certificate,
        client_id=demo_info.client_id,
        audience=endpoint,
    )
    answer = post_token(
        demo_info, assertion_form(demo_info.client_id, assertion), endpoint=endpoint
    )
    assert answer.status_code == 200, answer.text


# -- hostile assertions ------------------------------------------------------------------


def _app_claims(demo_info: DemoInfo) -> str:
    """The encoded claims of an honest assertion for the app: audience, issuer and subject
    right, valid for ten minutes (so only the header or signature can be refused)."""
    now = time.time()
    return _b64url(
        json.dumps(
            {
                "aud": demo_info.token_endpoint,
                "iss": demo_info.client_id,
                "sub": demo_info.client_id,
                "exp": now + 600,
                "iat": now,
            }
        ).encode()
    )


def test_alg_none_refused(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    header = _b64url(
        json.dumps({"alg": "none", "typ": "JWT", "x5t": certs.x5t(registered.certificate)}).encode()
    )
    payload = _app_claims(demo_info)
    answer = post_token(demo_info, assertion_form(demo_info.client_id, f"{header}.{payload}."))
    _refused(answer, 5002738)


def test_hs256_keyed_with_public_certificate_refused(
    demo_info: DemoInfo, registered: DemoCertificate
) -> None:
    # The classic algorithm-confusion attack: HMAC keyed with the (public) certificate.
    header = _b64url(
        json.dumps(
            {"alg": "HS256", "typ": "JWT", "x5t": certs.x5t(registered.certificate)}
        ).encode()
    )
    payload = _app_claims(demo_info)
    for secret in (certs.cert_pem(registered.certificate), certs.cert_der(registered.certificate)):
        signature = hmac.new(secret, f"{header}.{payload}".encode(), hashlib.sha256).digest()
        answer = post_token(
            demo_info,
            assertion_form(demo_info.client_id, f"{header}.{payload}.{_b64url(signature)}"),
        )
        _refused(answer, 5002738)


def test_registered_thumbprint_signed_by_another_key_refused(
    demo_info: DemoInfo, registered: DemoCertificate, impostor_key: rsa.RSAPrivateKey
) -> None:
    other_key = impostor_key
    assertion = make_assertion(
        other_key,
        registered.certificate,
        client_id=demo_info.client_id,
        audience=demo_info.token_endpoint,
    )
    body = _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 700027)
    assert (
        "The provided signature value did not match the expected signature value."
        in body["error_description"]
    )
    assert registered.thumbprint_sha1 in body["error_description"]


def test_ps256_signed_by_another_key_refused(
    demo_info: DemoInfo, registered: DemoCertificate, impostor_key: rsa.RSAPrivateKey
) -> None:
    other_key = impostor_key
    header = {"x5t#S256": certs.x5t_s256(registered.certificate)}
    assertion = make_assertion(
        other_key,
        registered.certificate,
        client_id=demo_info.client_id,
        audience=demo_info.token_endpoint,
        algorithm="PS256",
        headers=header,
        use_x5t=False,
    )
    _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 700027)


@pytest.mark.parametrize(
    "audience",
    [
        "https://login.microsoftonline.com/{tenant}/oauth2/v2.0/token",
        "{host}/{tenant}/oauth2/token",
        "{host}/common/oauth2/v2.0/token",
        "{host}/00000000-0000-0000-0000-000000000001/oauth2/v2.0/token",
    ],
)
def test_wrong_audience_refused(
    demo_info: DemoInfo, registered: DemoCertificate, audience: str
) -> None:
    aud = audience.format(host=demo_info.authority_host, tenant=demo_info.tenant_id)
    assertion = _good(demo_info, registered, claims={"aud": aud})
    body = _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 700023)
    assert "audience claim does not match Realm issuer" in body["error_description"]


@pytest.mark.parametrize("claim", ["iss", "sub"])
def test_issuer_or_subject_other_than_client_refused(
    demo_info: DemoInfo, registered: DemoCertificate, claim: str
) -> None:
    assertion = _good(demo_info, registered, claims={claim: demo_info.unconsented_client_id})
    _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 700021)


def test_expired_assertion_refused(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    now = time.time()
    assertion = _good(demo_info, registered, claims={"iat": now - 3600, "exp": now - 1800})
    body = _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 700024)
    assert (
        "Client assertion is not within its valid time range. Current time: "
        in body["error_description"]
    )
    # Like Entra: "valid from" comes from nbf, which MSAL-style assertions do not carry.
    assert "assertion valid from 1970-01-01T00:00:00.0000000Z" in body["error_description"]


def test_assertion_not_before_the_future_refused(
    demo_info: DemoInfo, registered: DemoCertificate
) -> None:
    now = time.time()
    assertion = _good(demo_info, registered, claims={"nbf": now + 3600, "exp": now + 4200})
    _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 700024)


def test_assertion_issued_in_the_future_accepted(
    demo_info: DemoInfo, registered: DemoCertificate
) -> None:
    # Entra reads the time range from nbf and exp; an iat ahead of its clock is not refused.
    now = time.time()
    assertion = _good(demo_info, registered, claims={"iat": now + 3600, "exp": now + 4200})
    assert post_token(demo_info, assertion_form(demo_info.client_id, assertion)).status_code == 200


def test_small_clock_skew_tolerated(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    now = time.time()
    assertion = _good(demo_info, registered, claims={"iat": now + 120, "nbf": now + 120})
    assert post_token(demo_info, assertion_form(demo_info.client_id, assertion)).status_code == 200


@pytest.mark.parametrize("mangle", ["truncated", "two-parts", "garbage", "not-json", "bad-base64"])
def test_malformed_jwt_refused(
    demo_info: DemoInfo, registered: DemoCertificate, mangle: str
) -> None:
    good = _good(demo_info, registered)
    head, payload, signature = good.split(".")
    broken = {
        "truncated": good[: len(good) // 2],
        "two-parts": f"{head}.{payload}",
        "garbage": "this is not a JWT at all",
        "not-json": f"{_b64url(b'not json')}.{payload}.{signature}",
        "bad-base64": f"{head}.{payload}.***",
    }[mangle]
    _refused(
        post_token(demo_info, assertion_form(demo_info.client_id, broken)),
        50027,
    )


def test_oversized_header_refused(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    assertion = _good(demo_info, registered, headers={"padding": "x" * 12_000})
    _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 50027)


def test_x5c_not_matching_x5t_refused(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    other_cert, _ = make_test_certificate("OtherLeaf")
    x5c = [base64.b64encode(certs.cert_der(other_cert)).decode()]
    assertion = _good(demo_info, registered, headers={"x5c": x5c})
    _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 700027)


def test_no_key_hint_refused(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    assertion = _good(demo_info, registered, use_x5t=False)
    _refused(post_token(demo_info, assertion_form(demo_info.client_id, assertion)), 700027)


# -- request shape -----------------------------------------------------------------------


def test_missing_credential_answers_7000216(demo_info: DemoInfo) -> None:
    body = _refused(post_token(demo_info, {"client_id": demo_info.client_id}), 7000216)
    assert (
        "'client_assertion', 'client_secret' or 'request' is required" in body["error_description"]
    )


def test_client_secret_refused(demo_info: DemoInfo) -> None:
    _refused(
        post_token(demo_info, {"client_id": demo_info.client_id, "client_secret": "s3cret"}),
        7000215,
    )


def test_wrong_or_missing_assertion_type(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    form = assertion_form(demo_info.client_id, _good(demo_info, registered))
    _refused(post_token(demo_info, {**form, "client_assertion_type": "urn:example:saml"}), 70002)
    del form["client_assertion_type"]
    _refused(post_token(demo_info, form), 7000219, error="invalid_request")


@pytest.mark.parametrize(
    ("scope", "code", "error"),
    [
        ("https://graph.microsoft.com/User.Read", 1002012, "invalid_scope"),
        ("https://graph.microsoft.com/.default openid", 1002012, "invalid_scope"),
        ("https://contoso.example/.default", 500011, "invalid_resource"),
    ],
)
def test_scope_rules(
    demo_info: DemoInfo, registered: DemoCertificate, scope: str, code: int, error: str
) -> None:
    form = assertion_form(demo_info.client_id, _good(demo_info, registered))
    _refused(post_token(demo_info, {**form, "scope": scope}), code, error=error)


def test_graph_app_id_scope_accepted(demo_info: DemoInfo, registered: DemoCertificate) -> None:
    form = assertion_form(demo_info.client_id, _good(demo_info, registered))
    answer = post_token(
        demo_info, {**form, "scope": "00000003-0000-0000-c000-000000000000/.default"}
    )
    assert answer.status_code == 200


def test_unknown_app_and_missing_parameters(demo_info: DemoInfo) -> None:
    stranger = "12345678-1234-1234-1234-123456789012"
    body = _refused(
        post_token(demo_info, {"client_id": stranger}), 700016, error="unauthorized_client"
    )
    assert "This can happen if the application has not been installed" in body["error_description"]
    _refused(post_token(demo_info, {}), 900144, error="invalid_request")
    _refused(post_token(demo_info, {"client_id": "not-a-guid"}), 700038, error="invalid_request")
    answer = session(demo_info).post(
        demo_info.token_endpoint, data={"grant_type": "password", "client_id": demo_info.client_id}
    )
    assert answer.json()["error"] == "unsupported_grant_type"


def test_token_endpoint_for_unknown_tenant(demo_info: DemoInfo) -> None:
    endpoint = f"{demo_info.authority_host}/fabrikam.onmicrosoft.com/oauth2/v2.0/token"
    answer = post_token(
        demo_info,
        {"client_id": demo_info.client_id, "client_assertion_type": JWT_BEARER},
        endpoint=endpoint,
    )
    assert answer.status_code == 400
    assert answer.json()["error_codes"] == [90002]


# -- fuzzing: anything a client sends ends as an Entra refusal, never a crash -------------

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from wizard.emulator import DemoTenant  # noqa: E402
from wizard.emulator.assertions import verify_client_assertion  # noqa: E402
from wizard.emulator.errors import EntraError  # noqa: E402

_json_values = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats(allow_nan=True) | st.text(max_size=20),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=8,
)
_headers = st.fixed_dictionaries(
    {},
    optional={
        "alg": st.sampled_from(["RS256", "PS256", "none", "HS256", "ES256", ""]) | _json_values,
        "x5t": st.text(max_size=40) | _json_values,
        "x5t#S256": st.text(max_size=60) | _json_values,
        "x5c": st.lists(st.text(max_size=40), max_size=2) | _json_values,
    },
)
_claims = st.dictionaries(
    st.sampled_from(["aud", "iss", "sub", "exp", "iat", "nbf", "jti"]), _json_values, max_size=7
)


def _encode(value: object) -> str:
    return _b64url(json.dumps(value).encode())


@settings(max_examples=300, deadline=None)
@given(
    header=_headers,
    claims=_claims,
    signature=st.binary(max_size=300),
    known_key=st.booleans(),
    signed=st.booleans(),
    honest_claims=st.sampled_from(["none", "aud", "aud+iss", "aud+iss+sub"]),
)
def test_fuzzed_assertions_never_crash_the_verifier(
    demo_tenant: DemoTenant,
    registered: DemoCertificate,
    header: dict[str, object],
    claims: dict[str, object],
    signature: bytes,
    known_key: bool,
    signed: bool,
    honest_claims: str,
) -> None:
    """Garbage headers and claims, sometimes validly signed by a registered key over fuzzed
    claims: the verifier either accepts or raises Entra's invalid_client, nothing else."""
    from cryptography.hazmat.primitives import hashes
    from cryptography.hazmat.primitives.asymmetric import padding

    info = demo_tenant.info
    if known_key:
        header = {**header, "x5t": certs.x5t(registered.certificate)}
        header.pop("x5t#S256", None)
        header.pop("x5c", None)
    honest = {"aud": info.token_endpoint, "iss": info.client_id, "sub": info.client_id}
    for name in honest_claims.split("+"):
        if name in honest:
            claims = {**claims, name: honest[name]}
    if known_key and signed:
        header["alg"] = "RS256"
    signing_input = f"{_encode(header)}.{_encode(claims)}"
    if known_key and signed:
        signature = registered.private_key.sign(
            signing_input.encode(), padding.PKCS1v15(), hashes.SHA256()
        )
    token = f"{signing_input}.{_b64url(signature)}"
    try:
        verify_client_assertion(
            token,
            client_id=info.client_id,
            directory=demo_tenant.directory,
            audiences=[info.token_endpoint],
            now=time.time(),
        )
    except EntraError as refused:
        assert refused.error == "invalid_client"
        return
    # Accepted: then it must have been a fully honest, validly signed, current assertion.
    assert known_key and signed and honest_claims == "aud+iss+sub"
    expires = claims.get("exp")
    assert isinstance(expires, (int, float)) and expires > time.time()


@settings(max_examples=200, deadline=None)
@given(raw=st.text(max_size=200))
def test_fuzzed_raw_text_is_refused_cleanly(demo_tenant: DemoTenant, raw: str) -> None:
    with pytest.raises(EntraError):
        verify_client_assertion(
            raw,
            client_id=demo_tenant.info.client_id,
            directory=demo_tenant.directory,
            audiences=[demo_tenant.info.token_endpoint],
            now=time.time(),
        )
