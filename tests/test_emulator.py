"""The demo tenant, proved with clients nobody here wrote: MSAL, azure-identity, requests."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Callable
from pathlib import Path
from typing import Any

import msal
import pytest
from conftest import DEMO_INFO_KEYS, DemoCertificate, make_test_certificate
from cryptography.hazmat.primitives import serialization
from test_emulator_helpers import (
    key_pem,
    msal_token,
    public_certificate_credential,
    session,
    thumbprint_credential,
)

from wizard import certs
from wizard.emulator import DemoInfo, DemoTenant
from wizard.errors import UserError
from wizard.portal import PortalClient

MakeCert = Callable[..., DemoCertificate]


def _error_code(result: dict[str, Any]) -> int:
    assert "access_token" not in result, "the demo tenant issued a token it must refuse"
    return int(result["error_codes"][0])


def _claims(token: str) -> dict[str, Any]:
    import jwt

    return dict(jwt.decode(token, options={"verify_signature": False}))


# -- MSAL: each credential form ------------------------------------------------------------


def test_msal_thumbprint_rs256_gets_token_with_graph_claims(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    made = demo_certificate("MsalThumbprint")
    result = msal_token(demo_info, thumbprint_credential(made.certificate, made.private_key))
    assert result.get("token_type") == "Bearer", result
    assert result["expires_in"] == 3599
    claims = _claims(result["access_token"])
    assert claims["aud"] == "https://graph.microsoft.com"
    assert claims["iss"] == f"https://sts.windows.net/{demo_info.tenant_id}/"
    assert claims["tid"] == demo_info.tenant_id
    assert claims["appid"] == demo_info.client_id
    assert claims["appidacr"] == "2"
    assert claims["idtyp"] == "app"
    assert claims["ver"] == "1.0"
    assert claims["sub"] == claims["oid"]
    assert claims["roles"] == ["Organization.Read.All"]
    assert claims["nbf"] <= claims["iat"] < claims["exp"]


def test_msal_public_certificate_ps256_x5c_gets_token(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    made = demo_certificate("MsalPublicCert")
    result = msal_token(
        demo_info, public_certificate_credential(made.certificate, made.private_key)
    )
    assert "access_token" in result, result


def test_msal_pfx_with_passphrase_gets_token(
    demo_info: DemoInfo, demo_certificate: MakeCert, tmp_path: Path
) -> None:
    made = demo_certificate("MsalPfx")
    pfx = tmp_path / "msal.pfx"
    pfx.write_bytes(
        certs.pfx_bytes(made.private_key, made.certificate, b"correct horse", "MsalPfx")
    )
    credential = {"private_key_pfx_path": str(pfx), "passphrase": "correct horse"}
    result = msal_token(demo_info, credential)
    assert "access_token" in result, result


def test_msal_by_tenant_domain_gets_token(demo_info: DemoInfo, demo_certificate: MakeCert) -> None:
    made = demo_certificate("MsalDomain")
    authority = f"{demo_info.authority_host}/{demo_info.tenant_domain}"
    result = msal_token(
        demo_info, thumbprint_credential(made.certificate, made.private_key), authority=authority
    )
    assert "access_token" in result, result
    assert _claims(result["access_token"])["tid"] == demo_info.tenant_id


# -- MSAL: refusals ----------------------------------------------------------------------


def test_msal_refused_for_certificate_never_uploaded(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    made = demo_certificate("NeverUploaded", upload=False)
    result = msal_token(demo_info, thumbprint_credential(made.certificate, made.private_key))
    assert _error_code(result) == 700027
    assert result["error"] == "invalid_client"
    assert "The key was not found." in result["error_description"]
    assert (
        f"Thumbprint of key used by client: '{made.thumbprint_sha1}'" in result["error_description"]
    )
    assert demo_info.client_id in result["error_description"]


def test_msal_refused_after_certificate_deleted(
    demo_info: DemoInfo, demo_certificate: MakeCert, demo_portal: PortalClient
) -> None:
    made = demo_certificate("Deleted")
    credential = thumbprint_credential(made.certificate, made.private_key)
    assert "access_token" in msal_token(demo_info, credential)
    demo_portal.delete_certificate(demo_info.client_id, made.thumbprint_sha1)
    assert _error_code(msal_token(demo_info, credential)) == 700027


def test_msal_refused_for_expired_certificate(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    long_ago = dt.datetime.now(dt.timezone.utc) - dt.timedelta(days=400)
    made = demo_certificate("Expired", days=30, not_before=long_ago)
    result = msal_token(demo_info, thumbprint_credential(made.certificate, made.private_key))
    assert _error_code(result) == 700027
    assert "The key used is expired." in result["error_description"]
    assert "Found key 'Start=" in result["error_description"]


def test_msal_refused_for_certificate_not_yet_valid(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    tomorrow = dt.datetime.now(dt.timezone.utc) + dt.timedelta(days=1)
    made = demo_certificate("Future", days=30, not_before=tomorrow)
    result = msal_token(demo_info, thumbprint_credential(made.certificate, made.private_key))
    assert _error_code(result) == 700027


def test_msal_refused_for_unknown_application(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    made = demo_certificate("UnknownApp", upload=False)
    stranger = "11111111-2222-3333-4444-555555555555"
    result = msal_token(
        demo_info, thumbprint_credential(made.certificate, made.private_key), client_id=stranger
    )
    assert _error_code(result) == 700016
    assert result["error"] == "unauthorized_client"
    assert (
        f"'{stranger}' was not found in the directory '{demo_info.organization_name}'"
        in result["error_description"]
    )


def test_msal_fails_to_build_app_for_unknown_tenant(demo_info: DemoInfo) -> None:
    key = make_test_certificate("X")[1]
    with pytest.raises(ValueError, match="Unable to get authority configuration") as caught:
        msal.ConfidentialClientApplication(
            demo_info.client_id,
            authority=f"{demo_info.authority_host}/00000000-0000-0000-0000-000000000001",
            client_credential={"private_key": key_pem(key), "thumbprint": "00" * 20},
            http_client=session(demo_info),
            instance_discovery=False,
        )
    # MSAL keeps the tenant discovery answer (Entra's envelope) as the exception's context.
    assert "AADSTS90002" in str(caught.value.__context__)


# -- azure-identity --------------------------------------------------------------------


def test_azure_identity_certificate_credential_gets_token(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    from azure.identity import CertificateCredential

    made = demo_certificate("AzureIdentity")
    credential = CertificateCredential(
        demo_info.tenant_id,
        demo_info.client_id,
        certificate_data=made.cert_pem + made.key_pem,
        authority=demo_info.authority_host,
        disable_instance_discovery=True,
        connection_verify=demo_info.ca_bundle,
        use_env_settings=False,
    )
    token = credential.get_token(demo_info.graph_resource + "/.default")
    assert _claims(token.token)["appid"] == demo_info.client_id
    credential.close()


# -- tenant discovery ------------------------------------------------------------------


@pytest.mark.parametrize("form", ["tenant_id", "tenant_domain"])
def test_openid_configuration_by_guid_and_domain(demo_info: DemoInfo, form: str) -> None:
    tenant = getattr(demo_info, form)
    answer = session(demo_info).get(
        f"{demo_info.authority_host}/{tenant}/v2.0/.well-known/openid-configuration"
    )
    assert answer.status_code == 200
    config = answer.json()
    assert config["token_endpoint"] == f"{demo_info.authority_host}/{tenant}/oauth2/v2.0/token"
    assert config["issuer"] == f"{demo_info.authority_host}/{demo_info.tenant_id}/v2.0"
    assert config["authorization_endpoint"].endswith(f"/{tenant}/oauth2/v2.0/authorize")
    assert config["cloud_instance_name"] == "microsoftonline.com"
    assert "tenant_region_scope" in config
    keys = session(demo_info).get(config["jwks_uri"]).json()["keys"]
    assert keys[0]["kty"] == "RSA" and keys[0]["kid"]


def test_unknown_tenant_answers_90002(demo_info: DemoInfo) -> None:
    answer = session(demo_info).get(
        f"{demo_info.authority_host}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration"
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_codes"] == [90002]
    assert body["error_description"].startswith(
        "AADSTS90002: Tenant 'fabrikam.onmicrosoft.com' not found."
    )


def test_malformed_tenant_answers_90002_on_openid_configuration(demo_info: DemoInfo) -> None:
    answer = session(demo_info).get(
        f"{demo_info.authority_host}/not_a_tenant!/v2.0/.well-known/openid-configuration"
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_codes"] == [90002]
    assert "Tenant 'not_a_tenant!' not found." in body["error_description"]


def test_malformed_tenant_answers_900023_on_token_endpoint(demo_info: DemoInfo) -> None:
    answer = session(demo_info).post(
        f"{demo_info.authority_host}/not_a_tenant!/oauth2/v2.0/token",
        data={"grant_type": "client_credentials"},
    )
    assert answer.status_code == 400
    body = answer.json()
    assert body["error_codes"] == [900023]
    assert (
        "Specified tenant identifier 'not_a_tenant!' is neither a valid DNS name"
        in body["error_description"]
    )


@pytest.mark.parametrize("segment", ["common", "organizations"])
def test_multi_tenant_openid_configuration_answers(demo_info: DemoInfo, segment: str) -> None:
    answer = session(demo_info).get(
        f"{demo_info.authority_host}/{segment}/v2.0/.well-known/openid-configuration"
    )
    assert answer.status_code == 200
    config = answer.json()
    assert config["issuer"] == f"{demo_info.authority_host}/{{tenantid}}/v2.0"
    assert config["token_endpoint"] == f"{demo_info.authority_host}/{segment}/oauth2/v2.0/token"
    keys = session(demo_info).get(config["jwks_uri"])
    assert keys.status_code == 200 and keys.json()["keys"]


def test_entra_error_envelope_shape(demo_info: DemoInfo) -> None:
    answer = session(demo_info).get(
        f"{demo_info.authority_host}/fabrikam.onmicrosoft.com/v2.0/.well-known/openid-configuration",
        headers={"client-request-id": "0f0f0f0f-1111-2222-3333-444444444444"},
    )
    body = answer.json()
    assert set(body) == {
        "error",
        "error_description",
        "error_codes",
        "timestamp",
        "trace_id",
        "correlation_id",
        "error_uri",
    }
    lines = body["error_description"].split("\r\n")
    assert lines[1] == f"Trace ID: {body['trace_id']}"
    assert lines[2] == "Correlation ID: 0f0f0f0f-1111-2222-3333-444444444444"
    assert lines[3] == f"Timestamp: {body['timestamp']}"
    assert body["error_uri"].endswith("error?code=90002")


# -- Graph -------------------------------------------------------------------------------


def _graph(info: DemoInfo, token: str | None) -> Any:
    headers = {"Authorization": f"Bearer {token}"} if token is not None else {}
    return session(info).get(info.graph_endpoint + "/v1.0/organization", headers=headers)


def test_graph_organization_with_consented_app(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    made = demo_certificate("GraphOk")
    token = msal_token(demo_info, thumbprint_credential(made.certificate, made.private_key))[
        "access_token"
    ]
    answer = _graph(demo_info, token)
    assert answer.status_code == 200
    body = answer.json()
    assert body["@odata.context"].endswith("$metadata#organization")
    org = body["value"][0]
    assert org["id"] == demo_info.tenant_id
    assert org["displayName"] == demo_info.organization_name
    assert org["tenantType"] == "AAD"
    domain = org["verifiedDomains"][0]
    assert (
        domain["name"] == demo_info.tenant_domain
        and domain["isDefault"]
        and domain["type"] == "Managed"
    )


def test_graph_403_without_consent_then_200_after_consent(
    demo_info: DemoInfo, demo_certificate: MakeCert, demo_portal: PortalClient
) -> None:
    made = demo_certificate("NoConsent", client_id=demo_info.unconsented_client_id)
    credential = thumbprint_credential(made.certificate, made.private_key)
    result = msal_token(demo_info, credential, client_id=demo_info.unconsented_client_id)
    assert "roles" not in _claims(result["access_token"])
    answer = _graph(demo_info, result["access_token"])
    assert answer.status_code == 403
    error = answer.json()["error"]
    assert error["code"] == "Authorization_RequestDenied"
    assert error["message"] == "Insufficient privileges to complete the operation."
    assert set(error["innerError"]) == {"date", "request-id", "client-request-id"}
    demo_portal.set_consent(demo_info.unconsented_client_id, True)
    try:
        result = msal_token(demo_info, credential, client_id=demo_info.unconsented_client_id)
        assert _graph(demo_info, result["access_token"]).status_code == 200
    finally:
        demo_portal.set_consent(demo_info.unconsented_client_id, False)


@pytest.mark.parametrize("token", [None, "", "garbage", "a.b.c"])
def test_graph_401_for_missing_or_bad_token(demo_info: DemoInfo, token: str | None) -> None:
    answer = _graph(demo_info, token)
    assert answer.status_code == 401
    assert answer.json()["error"]["code"] == "InvalidAuthenticationToken"


def test_graph_401_for_tampered_and_expired_tokens(
    demo_info: DemoInfo, demo_tenant: DemoTenant, demo_certificate: MakeCert
) -> None:
    made = demo_certificate("Tampered")
    token = msal_token(demo_info, thumbprint_credential(made.certificate, made.private_key))[
        "access_token"
    ]
    head, payload, signature = token.split(".")
    flipped = ("A" if signature[0] != "A" else "B") + signature[1:]
    assert _graph(demo_info, f"{head}.{payload}.{flipped}").status_code == 401
    app = demo_tenant.directory.application(demo_info.client_id)
    assert app is not None
    old = demo_tenant.issuer.issue(app, demo_info.graph_resource, now=1_600_000_000)
    answer = _graph(demo_info, old.access_token)
    assert answer.status_code == 401
    assert "expired" in answer.json()["error"]["message"]


# -- the portal --------------------------------------------------------------------------


def test_portal_lists_apps_with_credentials(
    demo_info: DemoInfo, demo_certificate: MakeCert, demo_portal: PortalClient
) -> None:
    made = demo_certificate("Listed")
    apps = {a["client_id"]: a for a in demo_portal.list_applications()}
    consented = apps[demo_info.client_id]
    assert consented["display_name"] == demo_info.app_name
    assert consented["consented"] is True and consented["roles"] == ["Organization.Read.All"]
    assert apps[demo_info.unconsented_client_id]["roles"] == []
    listed = {k["thumbprint"]: k for k in consented["key_credentials"]}
    assert listed[made.thumbprint_sha1]["display_name"] == "CN=Listed"
    assert listed[made.thumbprint_sha1]["end"] == made.certificate.not_valid_after_utc.strftime(
        "%Y-%m-%dT%H:%M:%SZ"
    )


def test_portal_accepts_pem_and_der(demo_info: DemoInfo, demo_portal: PortalClient) -> None:
    for encoding in (serialization.Encoding.PEM, serialization.Encoding.DER):
        cert, _key = make_test_certificate("Formats")
        assert demo_portal.upload_certificate(
            demo_info.client_id, cert.public_bytes(encoding)
        ) == certs.thumbprint_sha1(cert)
        demo_portal.delete_certificate(demo_info.client_id, certs.thumbprint_sha1(cert))


def test_portal_rejects_what_the_real_portal_rejects(
    demo_info: DemoInfo, demo_portal: PortalClient
) -> None:
    cert, key = make_test_certificate("Rejects")
    samples = {
        "private key": key_pem(key).encode(),
        "key and certificate": key_pem(key).encode() + certs.cert_pem(cert),
        "pfx": certs.pfx_bytes(key, cert, b"pw", "Rejects"),
        "garbage": b"\x00\x01garbage\xff" * 10,
        "text": b"hello, this is not a certificate",
        "empty": b"",
    }
    for what, data in samples.items():
        with pytest.raises(UserError) as caught:
            demo_portal.upload_certificate(demo_info.client_id, data)
        assert caught.value.message, what
    listed = demo_portal.list_applications()
    assert all(certs.thumbprint_sha1(cert) not in json.dumps(a) for a in listed)


def test_portal_refuses_duplicate_with_409_message(
    demo_info: DemoInfo, demo_certificate: MakeCert, demo_portal: PortalClient
) -> None:
    made = demo_certificate("Duplicate")
    with pytest.raises(UserError, match="already registered"):
        demo_portal.upload_certificate(demo_info.client_id, certs.cert_der(made.certificate))


def test_portal_not_found_answers(demo_info: DemoInfo, demo_portal: PortalClient) -> None:
    cert, _ = make_test_certificate("Nowhere")
    with pytest.raises(UserError, match="No application"):
        demo_portal.upload_certificate("99999999-9999-9999-9999-999999999999", certs.cert_der(cert))
    with pytest.raises(UserError, match="No certificate with thumbprint"):
        demo_portal.delete_certificate(demo_info.client_id, "AB" * 20)


def test_portal_client_explains_unreachable_tenant(demo_info: DemoInfo) -> None:
    client = PortalClient("https://127.0.0.1:9/portal", demo_info.ca_bundle, timeout=2)
    with pytest.raises(UserError, match="not reachable"):
        client.list_applications()


# -- state: restart, remote mode ---------------------------------------------------------


def test_restart_keeps_tenant_ca_and_uploads(tmp_path: Path) -> None:
    cert, key = make_test_certificate("Restart")
    with DemoTenant(tmp_path / "state") as first:
        info1 = first.info
        PortalClient.for_demo(info1).upload_certificate(
            info1.client_id, certs.cert_der(cert)
        )
        ca_pem = Path(info1.ca_bundle).read_bytes()
    with DemoTenant(tmp_path / "state") as second:
        info2 = second.info
        assert (info2.tenant_id, info2.client_id) == (info1.tenant_id, info1.client_id)
        assert Path(info2.ca_bundle).read_bytes() == ca_pem
        result = msal_token(info2, thumbprint_credential(cert, key))
        assert "access_token" in result, result
    state = json.loads((tmp_path / "state" / "directory.json").read_text())
    assert state["tenant"]["tenant_id"] == info1.tenant_id
    assert (tmp_path / "state").stat().st_mode & 0o077 == 0


def test_non_loopback_host_refused_without_allow_remote(tmp_path: Path) -> None:
    with pytest.raises(UserError, match="loopback"):
        DemoTenant(tmp_path, host="192.0.2.10")


def test_allow_remote_portal_needs_admin_token(tmp_path: Path) -> None:
    with DemoTenant(tmp_path / "remote", host="127.0.0.1", allow_remote=True) as tenant:
        info = tenant.info
        assert info.admin_token
        with pytest.raises(UserError, match="admin token"):
            PortalClient(info.portal, info.ca_bundle).list_applications()
        with pytest.raises(UserError, match="admin token"):
            PortalClient(info.portal, info.ca_bundle, admin_token="wrong").list_applications()
        assert PortalClient.for_demo(info).list_applications()


def test_demo_info_json_contract(demo_info: DemoInfo) -> None:
    data = demo_info.to_json()
    for key in DEMO_INFO_KEYS:
        assert data[key], key
    assert data["authority"] == f"{data['authority_host']}/{data['tenant_id']}"
    assert data["token_endpoint"] == f"{data['authority']}/oauth2/v2.0/token"
    json.dumps(data)


@pytest.mark.parametrize(
    ("setting", "code", "error"),
    [
        ("enabled", 7000112, "unauthorized_client"),
        ("public_client", 700025, "invalid_client"),
        ("blocked_by_conditional_access", 53003, "access_denied"),
    ],
)
def test_app_settings_an_admin_can_get_wrong(
    demo_info: DemoInfo,
    demo_certificate: MakeCert,
    demo_portal: PortalClient,
    setting: str,
    code: int,
    error: str,
) -> None:
    made = demo_certificate(f"Setting{code}", client_id=demo_info.unconsented_client_id)
    credential = thumbprint_credential(made.certificate, made.private_key)
    wrong = {setting: setting != "enabled"}
    demo_portal.update_application(demo_info.unconsented_client_id, **wrong)
    try:
        result = msal_token(demo_info, credential, client_id=demo_info.unconsented_client_id)
        assert _error_code(result) == code
        assert result["error"] == error
    finally:
        demo_portal.update_application(
            demo_info.unconsented_client_id, **{setting: not wrong[setting]}
        )
    result = msal_token(demo_info, credential, client_id=demo_info.unconsented_client_id)
    assert "access_token" in result, result


def test_app_settings_validated(demo_info: DemoInfo, demo_portal: PortalClient) -> None:
    with pytest.raises(UserError, match="booleans"):
        demo_portal.update_application(demo_info.client_id)


def test_damaged_state_file_is_reported_not_overwritten(tmp_path: Path) -> None:
    state = tmp_path / "damaged"
    with DemoTenant(state):
        pass
    (state / "directory.json").write_text("{ half a file")
    with pytest.raises(UserError, match="damaged"):
        DemoTenant(state).start()
    assert (state / "directory.json").read_text() == "{ half a file"
