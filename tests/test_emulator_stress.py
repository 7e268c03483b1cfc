"""The demo tenant under load: concurrent uploads, deletes and token requests.

Every answer must be right at every moment (a token for a certificate that is registered,
AADSTS700027 for one that was deleted, the thumbprint the portal computed), the state file
must be valid, consistent JSON whenever anyone reads it, and it must hold exactly what was
acknowledged, also after the server process is killed with SIGKILL mid-upload.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
import uuid
from collections.abc import Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import jwt
import pytest
import requests
from conftest import make_test_certificate
from cryptography import x509
from cryptography.hazmat.primitives.asymmetric import rsa

from wizard import certs
from wizard.emulator import DemoInfo, DemoTenant
from wizard.portal import PortalClient

JWT_BEARER = "urn:ietf:params:oauth:client-assertion-type:jwt-bearer"
STATE_FILE = "directory.json"
WORKERS = 8
CYCLES = 10


@pytest.fixture(scope="module")
def tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTenant]:
    with DemoTenant(tmp_path_factory.mktemp("stress-tenant")) as running:
        yield running


def token_form(info: DemoInfo, cert: x509.Certificate, key: rsa.RSAPrivateKey) -> dict[str, str]:
    now = time.time()
    claims = {"aud": info.token_endpoint, "iss": info.client_id, "sub": info.client_id,
              "jti": str(uuid.uuid4()), "iat": now, "exp": now + 600}
    assertion = jwt.encode(claims, key, algorithm="RS256", headers={"x5t": certs.x5t(cert)})
    return {"client_id": info.client_id, "grant_type": "client_credentials",
            "scope": info.graph_resource + "/.default",
            "client_assertion_type": JWT_BEARER, "client_assertion": assertion}


def ask_token(http: requests.Session, info: DemoInfo, form: dict[str, str]) -> tuple[int, Any]:
    answer = http.post(info.token_endpoint, data=form, timeout=20)
    return answer.status_code, answer.json()


def consistent_state(path: Path) -> dict[str, set[str]]:
    """Parse the state file; it must be whole and consistent. Thumbprints by client ID."""
    data = json.loads(path.read_text(encoding="utf-8"))
    assert data["tenant"]["tenant_id"]
    registered: dict[str, set[str]] = {}
    for app in data["applications"]:
        prints = [key["thumbprint"] for key in app["key_credentials"]]
        assert len(prints) == len(set(prints)), "a certificate registered twice"
        registered[app["client_id"]] = set(prints)
    return registered


def test_concurrent_uploads_deletes_and_token_requests_are_always_answered_right(
    tenant: DemoTenant,
) -> None:
    info = tenant.info
    state_file = Path(tenant.state_dir) / STATE_FILE
    portal = PortalClient.for_demo(info)
    resident_cert, resident_key = make_test_certificate("Resident")
    portal.upload_certificate(info.client_id, certs.cert_der(resident_cert))
    resident_form = token_form(info, resident_cert, resident_key)
    stop = threading.Event()
    counts = {"uploads": 0, "deletes": 0, "tokens": 0, "refusals": 0, "state reads": 0,
              "listings": 0}
    lock = threading.Lock()
    kept: set[str] = {certs.thumbprint_sha1(resident_cert)}

    def count(kind: str) -> None:
        with lock:
            counts[kind] += 1

    def worker(index: int) -> None:
        chooser = random.Random(index)
        with requests.Session() as http:
            http.verify, http.trust_env = info.ca_bundle, False
            for cycle in range(CYCLES):
                cert, key = make_test_certificate(f"Stress{index}-{cycle}")
                thumbprint = certs.thumbprint_sha1(cert)
                assert portal.upload_certificate(info.client_id, certs.cert_der(cert)) == thumbprint
                count("uploads")
                form = token_form(info, cert, key)
                status, body = ask_token(http, info, form)
                assert status == 200 and body["access_token"], body
                claims = jwt.decode(body["access_token"], options={"verify_signature": False})
                assert claims["appid"] == info.client_id and claims["appidacr"] == "2"
                count("tokens")
                if chooser.random() < 0.3:
                    with lock:
                        kept.add(thumbprint)
                    continue
                portal.delete_certificate(info.client_id, thumbprint)
                count("deletes")
                status, body = ask_token(http, info, form)
                assert status in (400, 401) and 700027 in body["error_codes"], body
                count("refusals")

    def resident_tokens() -> None:
        with requests.Session() as http:
            http.verify, http.trust_env = info.ca_bundle, False
            while not stop.is_set():
                status, body = ask_token(http, info, resident_form)
                assert status == 200 and body["access_token"], body
                count("tokens")

    def state_reader() -> None:
        while not stop.is_set():
            registered = consistent_state(state_file)
            assert certs.thumbprint_sha1(resident_cert) in registered[info.client_id]
            count("state reads")
            listing = portal.list_applications()
            assert {app["client_id"] for app in listing} == set(registered)
            count("listings")

    with ThreadPoolExecutor(max_workers=WORKERS + 3) as pool:
        background = [pool.submit(resident_tokens), pool.submit(resident_tokens),
                      pool.submit(state_reader)]
        try:
            for future in [pool.submit(worker, index) for index in range(WORKERS)]:
                future.result(timeout=120)
        finally:
            stop.set()
        for future in background:
            future.result(timeout=30)

    print(f"demo tenant under load: {counts}")
    assert counts["uploads"] == WORKERS * CYCLES
    assert counts["state reads"] >= 5 and counts["tokens"] >= WORKERS * CYCLES
    # Exactly what was acknowledged is registered, in the file and after a restart.
    registered = consistent_state(state_file)[info.client_id]
    assert registered == kept  # the module's own tenant: nothing else was uploaded
    with DemoTenant(Path(tenant.state_dir)) as again:
        listed = {key["thumbprint"] for app in PortalClient.for_demo(again.info)
                  .list_applications() if app["client_id"] == info.client_id
                  for key in app["key_credentials"]}
        assert listed == registered
        with requests.Session() as http:
            http.verify, http.trust_env = again.info.ca_bundle, False
            status, body = ask_token(http, again.info, token_form(again.info, resident_cert,
                                                                   resident_key))
            assert status == 200, body


# ------------------------------------------------------------------ SIGKILL mid-upload

CLI = "import sys, wizard.cli; sys.exit(wizard.cli.main(sys.argv[1:]))"


def test_sigkill_during_concurrent_uploads_keeps_every_acknowledged_certificate(
    tmp_path: Path,
) -> None:
    state = tmp_path / "state"
    pool_of_certificates = [make_test_certificate(f"Durable{i}")[0] for i in range(400)]
    handed_out = iter(pool_of_certificates)
    take = threading.Lock()
    acknowledged: set[str] = set()
    rounds = 3
    for round_index in range(rounds):
        server = subprocess.Popen([sys.executable, "-c", CLI, "emulator", "--json", "--state",
                                   str(state)], stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                                  text=True)
        assert server.stdout is not None
        info = json.loads(server.stdout.readline())
        portal = PortalClient(info["portal"], info["ca_bundle"], timeout=5)

        def uploader(portal: PortalClient = portal, client_id: str = info["client_id"]) -> None:
            while True:
                with take:
                    cert = next(handed_out, None)
                if cert is None:
                    return
                try:
                    shown = portal.upload_certificate(client_id, certs.cert_der(cert))
                except Exception:
                    return  # the server is gone: this upload was never acknowledged
                assert shown == certs.thumbprint_sha1(cert)
                with take:
                    acknowledged.add(shown)

        threads = [threading.Thread(target=uploader) for _ in range(4)]
        for thread in threads:
            thread.start()
        time.sleep(0.4 + 0.3 * round_index)
        os.kill(server.pid, signal.SIGKILL)
        server.wait(timeout=10)
        for thread in threads:
            thread.join(timeout=30)
        registered = consistent_state(state / STATE_FILE)[info["client_id"]]
        missing = acknowledged - registered
        assert not missing, f"round {round_index}: acknowledged but lost: {sorted(missing)[:3]}"
    assert len(acknowledged) >= 20, len(acknowledged)
    print(f"SIGKILL mid-upload: {rounds} kills, {len(acknowledged)} acknowledged, none lost")
