"""Hostile JSON against the demo tenant: non-finite numbers and deep nesting are refused the
way Entra and Graph refuse a malformed token, never answered with a token or a 500."""

from __future__ import annotations

import base64
import json
import logging
from pathlib import Path
from typing import Any

import pytest
from conftest import DemoCertificate, make_test_certificate
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from test_emulator_helpers import assertion_form, post_token, session

from wizard import certs
from wizard.emulator import DemoInfo, strict_json
from wizard.emulator.directory import STATE_FILE, Directory
from wizard.emulator.graph_routes import ORGANIZATION_PATH
from wizard.errors import UserError

DEEP = "[" * 5000 + "]" * 5000


def _b64url(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def _signed(key: rsa.RSAPrivateKey, header_json: str, claims_json: str) -> str:
    """A correctly RS256-signed compact JWS over exactly these JSON texts."""
    signing_input = f"{_b64url(header_json.encode())}.{_b64url(claims_json.encode())}"
    signature = key.sign(signing_input.encode(), padding.PKCS1v15(), hashes.SHA256())
    return f"{signing_input}.{_b64url(signature)}"


def _claims_json(info: DemoInfo, **raw: str) -> str:
    """The claims an honest client sends, with some values replaced by raw JSON literals."""
    import time

    now = int(time.time())
    values = {
        "aud": json.dumps(info.token_endpoint),
        "iss": json.dumps(info.client_id),
        "sub": json.dumps(info.client_id),
        "jti": '"hostile-json"',
        "iat": str(now),
        "exp": str(now + 600),
    }
    values.update(raw)
    return "{" + ",".join(f'"{name}":{value}' for name, value in values.items()) + "}"


@pytest.fixture(scope="module")
def registered(demo_info: DemoInfo, demo_portal: Any) -> DemoCertificate:
    cert, key = make_test_certificate("HostileJson")
    demo_portal.upload_certificate(demo_info.client_id, certs.cert_der(cert))
    return DemoCertificate(cert, key, certs.thumbprint_sha1(cert), demo_info.client_id, True)


def _header_json(made: DemoCertificate) -> str:
    return json.dumps({"alg": "RS256", "typ": "JWT", "x5t": certs.x5t(made.certificate)})


def _refused_as_malformed(answer: Any) -> None:
    body: dict[str, Any] = answer.json()
    assert "access_token" not in body, "the demo tenant issued a token it must refuse"
    assert answer.status_code == 401, answer.text
    assert body["error"] == "invalid_client" and body["error_codes"] == [50027], body


def test_the_honest_form_of_the_hand_signed_assertion_gets_a_token(
    demo_info: DemoInfo, registered: DemoCertificate
) -> None:
    # The control: the same hand-made signing with finite claims is accepted, so each refusal
    # below is about the one value changed.
    assertion = _signed(registered.private_key, _header_json(registered), _claims_json(demo_info))
    answer = post_token(demo_info, assertion_form(demo_info.client_id, assertion))
    assert answer.status_code == 200, answer.text


@pytest.mark.parametrize("claim", ["exp", "nbf", "iat"])
@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e999", "9" * 400])
def test_non_finite_time_claims_are_refused(
    demo_info: DemoInfo,
    registered: DemoCertificate,
    claim: str,
    literal: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    claims = _claims_json(demo_info, **{claim: literal})
    assertion = _signed(registered.private_key, _header_json(registered), claims)
    with caplog.at_level(logging.ERROR, logger="wizard.emulator"):
        answer = post_token(demo_info, assertion_form(demo_info.client_id, assertion))
    _refused_as_malformed(answer)
    assert not caplog.records


def test_deeply_nested_assertion_header_is_malformed_not_500(
    demo_info: DemoInfo, registered: DemoCertificate, caplog: pytest.LogCaptureFixture
) -> None:
    header = '{"alg":"RS256","x5t":"' + certs.x5t(registered.certificate) + '","n":' + DEEP[:6000] + "}"
    assertion = _signed(registered.private_key, header, _claims_json(demo_info))
    with caplog.at_level(logging.ERROR, logger="wizard.emulator"):
        answer = post_token(demo_info, assertion_form(demo_info.client_id, assertion))
    _refused_as_malformed(answer)
    assert not caplog.records, [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize("part", ["header", "claims"])
def test_deeply_nested_graph_token_is_401(
    demo_info: DemoInfo, part: str, caplog: pytest.LogCaptureFixture
) -> None:
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    header = '{"alg":"RS256","n":' + DEEP[:6000] + "}" if part == "header" else '{"alg":"RS256"}'
    claims = '{"n":' + DEEP[:6000] + "}" if part == "claims" else "{}"
    token = _signed(key, header, claims)
    with caplog.at_level(logging.ERROR, logger="wizard.emulator"):
        answer = session(demo_info).get(
            demo_info.authority_host + ORGANIZATION_PATH,
            headers={"Authorization": f"Bearer {token}"},
        )
    assert answer.status_code == 401, answer.text
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"
    assert not caplog.records, [r.getMessage() for r in caplog.records]


@pytest.mark.parametrize(
    "body", [DEEP, '{"kind":' + DEEP + "}", '{"kind":"delay","seconds":NaN}', "[1e999]"]
)
def test_hostile_fault_bodies_are_400(
    demo_info: DemoInfo, body: str, caplog: pytest.LogCaptureFixture
) -> None:
    headers = {"Content-Type": "application/json"}
    if demo_info.admin_token:
        headers["Authorization"] = f"Bearer {demo_info.admin_token}"
    with caplog.at_level(logging.ERROR, logger="wizard.emulator"):
        answer = session(demo_info).post(
            demo_info.portal + "/faults", data=body.encode(), headers=headers
        )
    assert answer.status_code == 400, answer.text
    assert answer.json()["error"]["code"] == "InvalidFault"
    assert not caplog.records, [r.getMessage() for r in caplog.records]


def test_strict_reader_counts_nesting_outside_strings_only() -> None:
    assert strict_json.nesting_depth('{"a": "[[[[\\"{{{{", "b": [[1]]}') == 3
    assert strict_json.loads('{"x": "[' + "[" * 100 + '"}') == {"x": "[" + "[" * 100}
    nested = "[" * strict_json.MAX_DEPTH + "]" * strict_json.MAX_DEPTH
    assert strict_json.loads(nested) is not None
    for bad in ("[" + nested + "]", "NaN", "[Infinity]", "1e400", b"\xff"):
        with pytest.raises(strict_json.StrictJsonError):
            strict_json.loads(bad)


@pytest.mark.parametrize("content", [DEEP, '{"tenant": {"created": NaN}}'])
def test_a_tampered_state_file_is_reported_damaged(tmp_path: Path, content: str) -> None:
    state = tmp_path / "state"
    Directory(state)
    (state / STATE_FILE).write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match="damaged"):
        Directory(state)
