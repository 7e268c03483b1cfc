"""`entra-cert-wizard upload` in real mode: the admin's device code sign-in and the Graph
calls go to login.microsoftonline.com and graph.microsoft.com, through a TLS-intercepting
proxy (tests/intercepting_proxy.py) to a demo tenant answering as those hosts.

Each run is a separate process with a user's environment (HTTPS_PROXY, the proxy's CA);
the test approves the code through the tenant's portal API, as the admin would on a phone.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest
from conftest import make_test_certificate
from intercepting_proxy import InterceptingProxy
from test_admin_upload import read_prompt
from test_real_mode import _ENV_TO_DROP, _routes

from wizard import certs
from wizard.emulator import DemoTenant
from wizard.emulator.tenant import PUBLIC_GRAPH_HOST, PUBLIC_LOGIN_HOST
from wizard.portal import PortalClient


@pytest.fixture(scope="module")
def proxy(public_tenant: DemoTenant) -> Iterator[InterceptingProxy]:
    with InterceptingProxy(_routes(public_tenant), public_tenant.info.ca_bundle) as running:
        yield running


def start_real_upload(proxy: InterceptingProxy, *argv: str) -> subprocess.Popen[str]:
    environment = {k: v for k, v in os.environ.items() if k not in _ENV_TO_DROP}
    environment["HTTPS_PROXY"] = proxy.url()
    return subprocess.Popen(
        [sys.executable, "-m", "wizard", "upload", "--ca-bundle", str(proxy.ca_file), *argv],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=environment,
    )


def decide(tenant: DemoTenant, code: str, decision: str = "approve", user: str = "admin") -> None:
    info = tenant.info
    PortalClient(info.portal, info.ca_bundle).decide_device_code(
        code, approve=decision == "approve", user=user
    )


def cer(tmp_path: Path, name: str) -> tuple[Path, str]:
    cert, _ = make_test_certificate(name)
    path = tmp_path / f"{name}.cer"
    path.write_bytes(certs.cert_der(cert))
    return path, certs.thumbprint_sha1(cert)


def test_upload_through_the_proxy_keeps_the_existing_certificates(
    tmp_path: Path, proxy: InterceptingProxy, public_tenant: DemoTenant
) -> None:
    info = public_tenant.info
    portal = PortalClient(info.portal, info.ca_bundle)
    existing, _ = cer(tmp_path, "AlreadyOnTheApp")
    portal.upload_certificate(info.client_id, existing.read_bytes())
    before = {
        k["thumbprint"]
        for a in portal.list_applications() if a["client_id"] == info.client_id
        for k in a["key_credentials"]
    }
    path, thumbprint = cer(tmp_path, "RealModeUpload")
    process = start_real_upload(
        proxy, "--tenant", info.tenant_id, "--client-id", info.client_id, "--cert", str(path),
        "--json",
    )
    url, code, _ = read_prompt(process)
    assert url.startswith(f"https://{PUBLIC_LOGIN_HOST}/")
    decide(public_tenant, code)
    out, err = process.communicate(timeout=120)
    assert process.returncode == 0, err
    document = json.loads(out)
    assert document["kept"] == len(before) and document["cloud"] == "global"
    after = {
        k["thumbprint"]
        for a in portal.list_applications() if a["client_id"] == info.client_id
        for k in a["key_credentials"]
    }
    assert after == before | {thumbprint}
    assert {PUBLIC_LOGIN_HOST, PUBLIC_GRAPH_HOST} <= proxy.log.hosts()


def test_a_user_without_the_role_is_explained_in_real_mode(
    tmp_path: Path, proxy: InterceptingProxy, public_tenant: DemoTenant
) -> None:
    info = public_tenant.info
    path, _ = cer(tmp_path, "RealModeRefused")
    process = start_real_upload(
        proxy, "--tenant", info.tenant_id, "--client-id", info.client_id, "--cert", str(path),
    )
    _, code, _ = read_prompt(process)
    decide(public_tenant, code, user="user")
    out, err = process.communicate(timeout=120)
    assert process.returncode == 1, err
    assert "not allowed to change this app" in err and "manual steps" in err
    assert out == "" and "Traceback" not in err
