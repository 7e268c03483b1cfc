"""The demo tenant standing in for the public hosts, and what it answers like the real service.

`public_tenant` (conftest) answers as login.microsoftonline.com and graph.microsoft.com; a
request reaches it at its loopback address with the public name in the Host header (as it
does behind a proxy or a hosts entry).
"""

from __future__ import annotations

import json
import signal
import socket
import ssl
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import jwt
import msal
import pytest
from conftest import DEMO_INFO_KEYS, make_test_certificate
from test_emulator_helpers import (
    assertion_form,
    make_assertion,
    session,
    thumbprint_credential,
)

from wizard import certs
from wizard.emulator import DemoInfo, DemoTenant, Fault
from wizard.emulator.tenant import PUBLIC_LOGIN_ALIASES
from wizard.errors import UserError
from wizard.portal import PortalClient

LOGIN = "login.microsoftonline.com"
GRAPH = "graph.microsoft.com"


def _get(info: DemoInfo, path: str, host: str) -> Any:
    return session(info).get(info.listen_url + path, headers={"Host": host})


def _post(info: DemoInfo, path: str, host: str, data: dict[str, str]) -> Any:
    return session(info).post(info.listen_url + path, headers={"Host": host}, data=data)


def _uploaded(tenant: DemoTenant) -> tuple[Any, Any]:
    cert, key = make_test_certificate("PublicHosts")
    info = tenant.info
    PortalClient(info.portal, info.ca_bundle).upload_certificate(
        info.client_id, certs.cert_der(cert)
    )
    return cert, key


def _token_for(tenant: DemoTenant, audience: str) -> Any:
    cert, key = _uploaded(tenant)
    info = tenant.info
    assertion = make_assertion(key, cert, client_id=info.client_id, audience=audience)
    form = {
        **assertion_form(info.client_id, assertion),
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
    }
    return _post(info, f"/{info.tenant_id}/oauth2/v2.0/token", LOGIN, form)


def test_public_hosts_info_names_the_public_hosts(public_tenant: DemoTenant) -> None:
    info = public_tenant.info
    assert info.public_hosts
    assert info.authority_host == f"https://{LOGIN}"
    assert info.authority == f"https://{LOGIN}/{info.tenant_id}"
    assert info.token_endpoint == f"https://{LOGIN}/{info.tenant_id}/oauth2/v2.0/token"
    assert info.graph_endpoint == f"https://{GRAPH}"
    assert info.listen_url.startswith("https://localhost:") or "127.0.0.1" in info.listen_url
    assert info.portal.startswith(info.listen_url)


@pytest.mark.parametrize("name", [*PUBLIC_LOGIN_ALIASES, GRAPH])
def test_server_certificate_is_valid_for_the_public_names(
    public_tenant: DemoTenant, name: str
) -> None:
    """A hosts entry pointing the names here works: TLS checks out for each of them."""
    port = int(public_tenant.info.listen_url.rsplit(":", 1)[1])
    context = ssl.create_default_context(cafile=public_tenant.info.ca_bundle)
    with (
        socket.create_connection(("127.0.0.1", port), timeout=10) as raw,
        context.wrap_socket(raw, server_hostname=name) as tls,
    ):
        assert tls.version()


@pytest.mark.parametrize(
    "host", ["login.microsoftonline.com", "login.microsoft.com", "login.windows.net", "sts.windows.net"]
)
@pytest.mark.parametrize("form", ["tenant_id", "tenant_domain"])
def test_assertion_addressed_to_a_public_token_endpoint_is_accepted(
    public_tenant: DemoTenant, host: str, form: str
) -> None:
    tenant = getattr(public_tenant.info, form)
    answer = _token_for(public_tenant, f"https://{host}/{tenant}/oauth2/v2.0/token")
    assert answer.status_code == 200, answer.text


def test_loopback_audience_is_refused_by_the_public_hosts_tenant_elsewhere(
    public_tenant: DemoTenant,
) -> None:
    answer = _token_for(public_tenant, "https://login.example.com/x/oauth2/v2.0/token")
    assert answer.status_code == 401 and answer.json()["error_codes"] == [700023]


def test_instance_discovery_fills_in_the_tenant_and_lists_real_alias_groups(
    public_tenant: DemoTenant,
) -> None:
    info = public_tenant.info
    answer = _get(
        info,
        "/common/discovery/instance?api-version=1.1&authorization_endpoint="
        f"https://{LOGIN}/{info.tenant_domain}/oauth2/v2.0/authorize",
        LOGIN,
    )
    assert answer.status_code == 200
    body = answer.json()
    assert body["tenant_discovery_endpoint"] == (
        f"https://{LOGIN}/{info.tenant_domain}/v2.0/.well-known/openid-configuration"
    )
    global_group = body["metadata"][0]
    assert global_group["preferred_network"] == LOGIN
    assert global_group["preferred_cache"] == "login.windows.net"
    assert set(global_group["aliases"]) == set(PUBLIC_LOGIN_ALIASES)
    assert any("login.microsoftonline.us" in g["aliases"] for g in body["metadata"])


def test_openid_configuration_names_the_host_asked_for(public_tenant: DemoTenant) -> None:
    info = public_tenant.info
    path = f"/{info.tenant_id}/v2.0/.well-known/openid-configuration"
    config = _get(info, path, LOGIN).json()
    assert config["token_endpoint"] == info.token_endpoint
    assert config["issuer"] == f"https://{LOGIN}/{info.tenant_id}/v2.0"
    aliased = _get(info, path, "login.windows.net").json()
    assert aliased["token_endpoint"].startswith("https://login.windows.net/")


def test_msal_in_real_mode_shape_gets_a_token_and_graph_answers_by_host(
    public_tenant: DemoTenant,
) -> None:
    """MSAL with instance discovery on, as in real mode, with every request sent to the
    tenant's loopback address under its public name (what a proxy does)."""
    info = public_tenant.info
    cert, key = _uploaded(public_tenant)
    http = session(info)
    port = info.listen_url.rsplit(":", 1)[1]

    original = http.request

    def to_loopback(method: str, url: str, *args: Any, **kwargs: Any) -> Any:
        host = url.split("/")[2]
        headers = {**(kwargs.pop("headers", None) or {}), "Host": host}
        local = url.replace(f"https://{host}", f"https://127.0.0.1:{port}", 1)
        return original(method, local, *args, headers=headers, **kwargs)

    http.request = to_loopback  # type: ignore[method-assign]
    app = msal.ConfidentialClientApplication(
        info.client_id,
        authority=info.authority,
        client_credential=thumbprint_credential(cert, key),
        http_client=http,
    )
    result = app.acquire_token_for_client(["https://graph.microsoft.com/.default"])
    assert "access_token" in result, result
    organization = http.get(
        f"{info.graph_endpoint}/v1.0/organization",
        headers={"Authorization": "Bearer " + result["access_token"]},
    )
    assert organization.status_code == 200, organization.text
    body = organization.json()
    assert body["@odata.context"] == f"https://{GRAPH}/v1.0/$metadata#organization"
    assert body["value"][0]["id"] == info.tenant_id


def test_public_hosts_only_on_loopback(tmp_path: Path) -> None:
    with pytest.raises(UserError) as caught:
        DemoTenant(tmp_path, host="0.0.0.0", allow_remote=True, public_hosts=True)
    assert "loopback" in str(caught.value)


def test_emulator_command_public_hosts_json_line(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [
            sys.executable, "-m", "wizard", "emulator", "--public-hosts", "--json",
            "--state", str(tmp_path / "state"),
        ],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        line = process.stdout.readline() if process.stdout else ""
        info = json.loads(line)
        for key in DEMO_INFO_KEYS:
            assert info[key], key
        assert info["authority_host"] == f"https://{LOGIN}"
        assert info["graph_endpoint"] == f"https://{GRAPH}"
        assert info["public_hosts"] is True
        assert info["listen_url"].startswith("https://")
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0


# -- fidelity: what the real service does ----------------------------------------------------


def test_graph_token_is_back_dated_with_real_claims(public_tenant: DemoTenant) -> None:
    info = public_tenant.info
    before = time.time()
    answer = _token_for(public_tenant, info.token_endpoint)
    assert answer.status_code == 200, answer.text
    body = answer.json()
    assert body["expires_in"] == 3599
    token = body["access_token"]
    header = jwt.get_unverified_header(token)
    claims = jwt.decode(token, options={"verify_signature": False})
    assert isinstance(header.get("nonce"), str) and len(header["nonce"]) >= 40
    assert claims["iat"] == claims["nbf"]
    assert before - 310 <= claims["iat"] <= before - 290
    assert claims["exp"] - claims["iat"] == 3900
    assert claims["rh"].startswith("1.") and claims["rh"].endswith(".")
    assert claims["wids"] == ["0997a1d0-0d1d-4acb-b408-d5ca73121e90"]
    assert {"xms_idrel", "xms_tcdt", "xms_rd", "xms_ftd"} <= set(claims)


def test_graph_401_challenge_carries_client_id_and_inner_date_has_no_z(
    public_tenant: DemoTenant,
) -> None:
    answer = _get(
        public_tenant.info, "/v1.0/organization", GRAPH
    )
    assert answer.status_code == 401
    challenge = answer.headers["WWW-Authenticate"]
    assert 'client_id="00000003-0000-0000-c000-000000000000"' in challenge
    date = answer.json()["error"]["innerError"]["date"]
    assert not date.endswith("Z") and "T" in date


@pytest.mark.parametrize("code", [7000274, 70002])
def test_key_refusal_fault_answers_the_other_forms(
    public_tenant: DemoTenant, code: int
) -> None:
    info = public_tenant.info
    stranger, key = make_test_certificate("Stranger")
    assertion = make_assertion(key, stranger, client_id=info.client_id, audience=info.token_endpoint)
    form = {
        **assertion_form(info.client_id, assertion),
        "grant_type": "client_credentials",
        "scope": "https://graph.microsoft.com/.default",
    }
    public_tenant.set_fault(Fault("key-refusal", "token", code=code))
    try:
        answer = _post(info, f"/{info.tenant_id}/oauth2/v2.0/token", LOGIN, form)
    finally:
        public_tenant.set_fault(None)
    assert answer.status_code == 401
    body = answer.json()
    expected = [70002, 50012] if code == 70002 else [code]
    assert body["error_codes"] == expected
    assert body["error_description"].startswith(f"AADSTS{code}: ")


def test_key_refusal_fault_only_takes_the_known_codes() -> None:
    with pytest.raises(ValueError, match="key-refusal"):
        Fault("key-refusal", "token", code=50013)


def test_instance_discovery_fault_leaves_openid_configuration_alone(
    public_tenant: DemoTenant,
) -> None:
    info = public_tenant.info
    public_tenant.set_fault(Fault("status", "instance-discovery", status=503))
    try:
        discovery = _get(info, "/common/discovery/instance?api-version=1.1", LOGIN)
        config = _get(info, f"/{info.tenant_id}/v2.0/.well-known/openid-configuration", LOGIN)
    finally:
        public_tenant.set_fault(None)
    assert discovery.status_code == 503
    assert config.status_code == 200
