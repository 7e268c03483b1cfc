"""The demo tenant under stress: concurrency, hostile HTTP, slow clients, faults, the CLI."""

from __future__ import annotations

import contextlib
import json
import logging
import os
import signal
import socket
import ssl
import subprocess
import sys
import threading
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path
from typing import Any

import pytest
import requests
from conftest import DEMO_INFO_KEYS, DemoCertificate, make_test_certificate
from test_emulator_helpers import (
    assertion_form,
    key_pem,
    make_assertion,
    msal_token,
    post_token,
    session,
    thumbprint_credential,
)

from wizard import certs
from wizard.emulator import DemoInfo, DemoTenant, Fault, entra_routes
from wizard.emulator.directory import Directory
from wizard.errors import UserError
from wizard.portal import PortalClient

MakeCert = Callable[..., DemoCertificate]


def _discovery_ok(info: DemoInfo, timeout: float = 5) -> bool:
    answer = session(info).get(info.openid_configuration, timeout=timeout)
    return answer.status_code == 200 and "token_endpoint" in answer.json()


def _tls_socket(info: DemoInfo) -> ssl.SSLSocket:
    host, port = info.authority_host.removeprefix("https://").rsplit(":", 1)
    context = ssl.create_default_context(cafile=info.ca_bundle)
    raw = socket.create_connection((host, int(port)), timeout=5)
    return context.wrap_socket(raw, server_hostname=host)


def _raw_exchange(info: DemoInfo, data: bytes) -> bytes:
    with _tls_socket(info) as sock:
        sock.sendall(data)
        chunks = []
        try:
            while chunk := sock.recv(65536):
                chunks.append(chunk)
        except (TimeoutError, ssl.SSLError, ConnectionError):
            pass
        return b"".join(chunks)


@pytest.fixture
def clear_fault(demo_tenant: DemoTenant) -> Iterator[DemoTenant]:
    yield demo_tenant
    demo_tenant.set_fault(None)


# -- concurrency -------------------------------------------------------------------------


def test_many_concurrent_token_requests_get_correct_answers(
    demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    good = demo_certificate("ConcurrentGood")
    stranger = demo_certificate("ConcurrentStranger", upload=False)

    def client(index: int) -> list[tuple[bool, int]]:
        http = session(demo_info)
        made = good if index % 2 == 0 else stranger
        outcomes = []
        for _ in range(10):
            assertion = make_assertion(
                made.private_key,
                made.certificate,
                client_id=demo_info.client_id,
                audience=demo_info.token_endpoint,
            )
            answer = post_token(
                demo_info, assertion_form(demo_info.client_id, assertion), http=http
            )
            outcomes.append((made is good, answer.status_code))
            if made is good:
                assert "access_token" in answer.json()
            else:
                assert answer.json()["error_codes"] == [700027]
        return outcomes

    with ThreadPoolExecutor(16) as pool:
        results = [o for batch in pool.map(client, range(16)) for o in batch]
    assert len(results) == 160
    assert all(status == (200 if expected_ok else 401) for expected_ok, status in results)


def test_concurrent_uploads_and_deletes_never_corrupt_state(
    demo_tenant: DemoTenant, demo_portal: PortalClient
) -> None:
    info = demo_tenant.info
    made = [make_test_certificate(f"Parallel{i}")[0] for i in range(32)]

    def work(index: int) -> str:
        cert = made[index]
        thumbprint = demo_portal.upload_certificate(
            info.unconsented_client_id, certs.cert_der(cert)
        )
        if index % 2:
            demo_portal.delete_certificate(info.unconsented_client_id, thumbprint)
        return thumbprint

    with ThreadPoolExecutor(8) as pool:
        thumbprints = list(pool.map(work, range(32)))
    kept = {t for i, t in enumerate(thumbprints) if i % 2 == 0}
    gone = {t for i, t in enumerate(thumbprints) if i % 2}
    state = json.loads((Path(info.state_dir) / "directory.json").read_text())
    app = next(a for a in state["applications"] if a["client_id"] == info.unconsented_client_id)
    on_disk = {k["thumbprint"] for k in app["key_credentials"]}
    assert kept <= on_disk and not (gone & on_disk)
    reloaded = Directory(Path(info.state_dir)).application(info.unconsented_client_id)
    assert reloaded is not None
    assert {k.thumbprint_sha1 for k in reloaded.key_credentials} == on_disk
    for thumbprint in kept:
        demo_portal.delete_certificate(info.unconsented_client_id, thumbprint)


# -- hostile HTTP ------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("request_bytes", "expected_status"),
    [
        (b"NONSENSE\r\n\r\n", b" 400 "),
        # The HTTP/0.9 form (no version): http.server would answer it without a status line.
        (b"GET /\r\n\r\n", b" 400 "),
        (b"POST /portal/faults\r\n\r\n", b" 400 "),
        (b"GET / HTTP/1.x\r\n\r\n", b" 400 "),
        (b"GET / HTTP/2.0\r\n\r\n", b" 505 "),
        (b"GET /" + b"a" * 70_000 + b" HTTP/1.1\r\n\r\n", b" 414 "),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Big: " + b"b" * 70_000 + b"\r\n\r\n", b" 431 "),
        # Field lines RFC 9112 says a server must refuse: an obs-fold continuation,
        # whitespace before the colon, a control character in a value.
        (b"GET / HTTP/1.1\r\nHost: x\r\n folded: on\r\n\r\n", b" 400 "),
        (b"GET / HTTP/1.1\r\nHost : x\r\n\r\n", b" 400 "),
        (b"GET / HTTP/1.1\r\nHost: x\r\nX-Nul: a\0b\r\n\r\n", b" 400 "),
        (b"GET / HTTP/1.1\r\n" + b"X-a: b\r\n" * 101 + b"\r\n", b" 431 "),
        (b"POST /portal/faults HTTP/1.1\r\nHost: x\r\nContent-Length: nope\r\n\r\n", b" 400 "),
        (
            b"POST /x/oauth2/v2.0/token HTTP/1.1\r\nHost: x\r\nContent-Length: 5000000\r\n\r\n",
            b" 413 ",
        ),
        (
            b"POST /x/oauth2/v2.0/token HTTP/1.1\r\nHost: x\r\n"
            b"Transfer-Encoding: chunked\r\n\r\n0\r\n\r\n",
            b" 411 ",
        ),
    ],
)
def test_malformed_http_answered_and_server_survives(
    demo_info: DemoInfo, request_bytes: bytes, expected_status: bytes
) -> None:
    answer = _raw_exchange(demo_info, request_bytes)
    status_line = answer.split(b"\r\n", 1)[0]
    assert status_line.startswith(b"HTTP/1.1 ") and expected_status in status_line, answer[:200]
    assert _discovery_ok(demo_info)


def test_body_over_cap_is_413_over_requests(demo_info: DemoInfo) -> None:
    answer = session(demo_info).post(demo_info.token_endpoint, data=b"x" * (64 * 1024 + 1))
    assert answer.status_code == 413


def test_plain_http_and_garbage_on_tls_port(demo_info: DemoInfo) -> None:
    host, port = demo_info.authority_host.removeprefix("https://").rsplit(":", 1)
    for payload in (b"GET / HTTP/1.1\r\nHost: x\r\n\r\n", os.urandom(4096)):
        with socket.create_connection((host, int(port)), timeout=5) as raw:
            raw.sendall(payload)
            with contextlib.suppress(ConnectionError, TimeoutError):
                raw.recv(1024)
    assert _discovery_ok(demo_info)


def test_slow_and_silent_clients_do_not_block_others(demo_info: DemoInfo) -> None:
    host, port = demo_info.authority_host.removeprefix("https://").rsplit(":", 1)
    silent = [socket.create_connection((host, int(port)), timeout=5) for _ in range(20)]
    stalled = _tls_socket(demo_info)
    stalled.sendall(
        b"POST /x/oauth2/v2.0/token HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\npartial"
    )
    try:
        started = time.perf_counter()
        for _ in range(5):
            assert _discovery_ok(demo_info, timeout=3)
        assert time.perf_counter() - started < 3
    finally:
        stalled.close()
        for sock in silent:
            sock.close()


def test_unexpected_exception_is_500_entra_shaped_and_logged(
    demo_tenant: DemoTenant, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(entra_routes, "openid_configuration", broken)
    with caplog.at_level(logging.ERROR, logger="wizard.emulator"):
        answer = session(demo_tenant.info).get(demo_tenant.info.openid_configuration)
    assert answer.status_code == 500
    assert set(answer.json()) >= {
        "error",
        "error_description",
        "error_codes",
        "trace_id",
        "correlation_id",
    }
    assert any("unexpected error" in r.getMessage() for r in caplog.records)
    monkeypatch.undo()
    assert _discovery_ok(demo_tenant.info)


# -- faults ------------------------------------------------------------------------------


def test_status_fault_with_retry_after_then_normal(
    clear_fault: DemoTenant, demo_certificate: MakeCert
) -> None:
    info = clear_fault.info
    made = demo_certificate("Throttled")
    clear_fault.set_fault(Fault("status", endpoint="token", status=429, retry_after=7, count=1))
    form = assertion_form(
        info.client_id,
        make_assertion(
            made.private_key,
            made.certificate,
            client_id=info.client_id,
            audience=info.token_endpoint,
        ),
    )
    first = post_token(info, form)
    assert first.status_code == 429 and first.headers["Retry-After"] == "7"
    assert first.json()["error_codes"]
    assert post_token(info, form).status_code == 200


def test_delay_not_json_and_reset_faults(clear_fault: DemoTenant) -> None:
    info = clear_fault.info
    clear_fault.set_fault(Fault("delay", endpoint="discovery", seconds=0.4, count=1))
    started = time.perf_counter()
    assert _discovery_ok(info)
    assert time.perf_counter() - started >= 0.4
    clear_fault.set_fault(Fault("not-json", endpoint="graph", count=1))
    answer = session(info).get(info.graph_endpoint + "/v1.0/organization")
    assert answer.status_code == 200 and answer.headers["Content-Type"].startswith("text/html")
    clear_fault.set_fault(Fault("reset", endpoint="discovery", count=1))
    with pytest.raises(requests.exceptions.RequestException):
        session(info).get(info.openid_configuration, timeout=5)
    assert _discovery_ok(info)


def test_accept_any_fault_issues_token_for_stranger(
    clear_fault: DemoTenant, demo_certificate: MakeCert
) -> None:
    info = clear_fault.info
    stranger = demo_certificate("AlarmStranger", upload=False)
    credential = thumbprint_credential(stranger.certificate, stranger.private_key)
    assert "access_token" not in msal_token(info, credential)
    clear_fault.set_fault(Fault("accept-any", endpoint="token"))
    assert "access_token" in msal_token(info, credential)
    assert post_token(info, {"client_id": info.client_id}).status_code == 200
    clear_fault.set_fault(None)
    assert "access_token" not in msal_token(info, credential)


def test_upload_propagation_fault_over_portal_api(
    clear_fault: DemoTenant, demo_certificate: MakeCert, demo_portal: PortalClient
) -> None:
    info = clear_fault.info
    demo_portal.set_fault({"kind": "upload-propagation", "endpoint": "token", "seconds": 60})
    made = demo_certificate("JustUploaded")
    credential = thumbprint_credential(made.certificate, made.private_key)
    refused = msal_token(info, credential)
    assert (
        refused["error_codes"] == [700027]
        and "The key was not found." in refused["error_description"]
    )
    demo_portal.set_fault(None)
    assert "access_token" in msal_token(info, credential)


def test_fault_json_validated(demo_portal: PortalClient) -> None:
    for bad in (
        {"kind": "explode"},
        {"kind": "delay", "seconds": "soon"},
        {"kind": "status", "bogus": 1},
        {},
        {"kind": "aadsts", "endpoint": "token"},
        {"kind": "aadsts", "endpoint": "graph", "code": 53003},
        {"kind": "aadsts", "code": 1.5},
        {"kind": "delay", "code": 53003},
        {"kind": "cloud-instance", "endpoint": "discovery", "instance": "not a host"},
        {"kind": "cloud-instance", "endpoint": "token", "instance": "microsoftonline.us"},
    ):
        with pytest.raises(UserError, match="fault"):
            demo_portal.set_fault(bad)


def test_aadsts_fault_answers_entras_envelope(
    clear_fault: DemoTenant, demo_portal: PortalClient
) -> None:
    info = clear_fault.info
    demo_portal.set_fault({"kind": "aadsts", "endpoint": "token", "code": 900382, "count": 1})
    refused = post_token(info, {"client_id": info.client_id})
    body = refused.json()
    assert refused.status_code == 400 and body["error"] == "invalid_request"
    assert body["error_codes"] == [900382]
    assert body["error_description"].startswith(
        "AADSTS900382: Confidential Client is not supported in Cross Cloud request.\r\nTrace ID: "
    )
    # count=1: the next request is judged normally again (no credential -> 7000216).
    assert post_token(info, {"client_id": info.client_id}).json()["error_codes"] == [7000216]
    clear_fault.set_fault(Fault("aadsts", endpoint="token", code=1000502))
    expired = post_token(info, {"client_id": info.client_id})
    assert expired.status_code == 401 and expired.json()["error_codes"] == [1000502]
    clear_fault.set_fault(Fault("aadsts", endpoint="token", code=7000112))
    disabled = post_token(info, {"client_id": info.client_id}).json()["error_description"]
    assert f"Application '{info.client_id}'({info.app_name}) is disabled." in disabled


def test_cloud_instance_fault_changes_the_openid_configuration(
    clear_fault: DemoTenant, demo_portal: PortalClient
) -> None:
    info = clear_fault.info
    http = session(info)
    assert http.get(info.openid_configuration).json()["cloud_instance_name"] == (
        "microsoftonline.com"
    )
    fault = Fault("cloud-instance", endpoint="discovery", instance="microsoftonline.us")
    demo_portal.set_fault(fault.to_json())
    assert Fault.from_json(fault.to_json()) == fault
    config = http.get(info.openid_configuration).json()
    assert config["cloud_instance_name"] == "microsoftonline.us"
    assert config["msgraph_host"] == "graph.microsoft.us"
    demo_portal.set_fault(None)
    assert http.get(info.openid_configuration).json()["cloud_instance_name"] == (
        "microsoftonline.com"
    )


# -- the command -------------------------------------------------------------------------

_MSAL_SCRIPT = r"""
import json, sys, msal, requests
info = json.loads(sys.argv[1]); cert_pem, key_pem, thumbprint = sys.argv[2:5]
http = requests.Session(); http.verify = info["ca_bundle"]; http.trust_env = False
app = msal.ConfidentialClientApplication(
    info["client_id"], authority=info["authority"], instance_discovery=False, http_client=http,
    client_credential={"private_key": key_pem, "thumbprint": thumbprint})
token = app.acquire_token_for_client([info["graph_resource"] + "/.default"])["access_token"]
org = http.get(info["graph_endpoint"] + "/v1.0/organization",
               headers={"Authorization": "Bearer " + token}).json()["value"][0]
print(org["displayName"])
"""


def _start_command(state: Path) -> tuple[subprocess.Popen[str], dict[str, Any], float]:
    started = time.perf_counter()
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "emulator", "--json", "--state", str(state)],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    line = process.stdout.readline() if process.stdout else ""
    elapsed = time.perf_counter() - started
    assert line, process.stderr.read() if process.stderr else ""
    return process, json.loads(line), elapsed


def test_emulator_command_json_contract_msal_script_and_sigterm(tmp_path: Path) -> None:
    state = tmp_path / "cli-state"
    process, info, cold = _start_command(state)
    try:
        for key in DEMO_INFO_KEYS:
            assert info[key], key
        assert cold < 2.0, f"cold start took {cold:.2f}s"
        cert, private_key = make_test_certificate("CliScript")
        PortalClient(info["portal"], info["ca_bundle"]).upload_certificate(
            info["client_id"], certs.cert_der(cert)
        )
        key_text = key_pem(private_key)
        script = subprocess.run(
            [
                sys.executable,
                "-c",
                _MSAL_SCRIPT,
                json.dumps(info),
                certs.cert_pem(cert).decode(),
                key_text,
                certs.thumbprint_sha1(cert),
            ],
            capture_output=True,
            text=True,
            timeout=60,
        )
        assert script.returncode == 0, script.stderr
        assert script.stdout.strip() == info["organization_name"]
    finally:
        process.send_signal(signal.SIGTERM)
        assert process.wait(timeout=10) == 0
    # A warm start (state kept) is what users live with: well under a second.
    process, again, warm = _start_command(state)
    try:
        assert again["tenant_id"] == info["tenant_id"]
        assert warm < 1.0, f"warm start took {warm:.2f}s"
    finally:
        process.send_signal(signal.SIGINT)
        assert process.wait(timeout=10) == 0


def test_emulator_command_refuses_remote_host_without_flag(tmp_path: Path) -> None:
    result = subprocess.run(
        [
            sys.executable,
            "-m",
            "wizard",
            "emulator",
            "--host",
            "192.0.2.1",
            "--state",
            str(tmp_path),
        ],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert result.returncode == 2
    assert result.stderr.startswith("error: The demo tenant only listens on this machine")
    assert "Traceback" not in result.stderr


def test_stop_is_prompt_and_idempotent(tmp_path: Path) -> None:
    tenant = DemoTenant(tmp_path / "s")
    info = tenant.start()
    assert _discovery_ok(info)
    started = time.perf_counter()
    tenant.stop()
    # stop() wakes the accept loop: no poll interval to wait out (serve_forever's 0.2 s was
    # paid by every `test --demo` run).
    assert time.perf_counter() - started < 0.1
    tenant.stop()
    with pytest.raises(RuntimeError):
        _ = tenant.info
    with pytest.raises(requests.exceptions.ConnectionError):
        session(info).get(info.openid_configuration, timeout=2)


def test_threads_do_not_leak_after_many_requests(demo_info: DemoInfo) -> None:
    before = threading.active_count()
    for _ in range(30):
        assert _discovery_ok(demo_info)
    time.sleep(0.2)
    assert threading.active_count() <= before + 5


# -- two demo tenants sharing one state folder -------------------------------------------


def test_two_tenants_on_one_state_folder_share_ca_and_uploads(tmp_path: Path) -> None:
    state = tmp_path / "shared"
    tenants = [DemoTenant(state), DemoTenant(state)]
    with ThreadPoolExecutor(2) as pool:
        infos = list(pool.map(lambda t: t.start(), tenants))
    try:
        first, second = infos
        assert first.tenant_id == second.tenant_id and first.client_id == second.client_id
        assert Path(first.ca_bundle).read_bytes() == Path(second.ca_bundle).read_bytes()
        cert, key = make_test_certificate("SharedState")
        PortalClient.for_demo(first).upload_certificate(
            first.client_id, certs.cert_der(cert)
        )
        # The other running tenant sees the upload without a restart.
        assert "access_token" in msal_token(second, thumbprint_credential(cert, key))
        PortalClient.for_demo(second).delete_certificate(
            second.client_id, certs.thumbprint_sha1(cert)
        )
        assert "access_token" not in msal_token(first, thumbprint_credential(cert, key))
    finally:
        for tenant in tenants:
            tenant.stop()


def test_get_on_token_endpoint_answers_900561(demo_info: DemoInfo) -> None:
    answer = session(demo_info).get(demo_info.token_endpoint)
    assert answer.status_code == 400
    assert answer.json()["error_codes"] == [900561]


# -- binding -----------------------------------------------------------------------------


def test_localhost_name_is_served_with_a_matching_certificate(tmp_path: Path) -> None:
    with DemoTenant(tmp_path / "named", host="localhost") as tenant:
        assert tenant.info.authority_host.startswith("https://localhost:")
        assert _discovery_ok(tenant.info)


def test_ipv6_loopback(tmp_path: Path) -> None:
    try:
        with socket.socket(socket.AF_INET6) as probe:
            probe.bind(("::1", 0))
    except OSError:
        pytest.skip("no IPv6 loopback here")
    with DemoTenant(tmp_path / "v6", host="::1") as tenant:
        assert tenant.info.authority_host.startswith("https://[::1]:")
        assert _discovery_ok(tenant.info)


def test_busy_port_is_a_user_error(demo_info: DemoInfo, tmp_path: Path) -> None:
    port = int(demo_info.authority_host.rsplit(":", 1)[1])
    with pytest.raises(UserError, match="could not listen"):
        DemoTenant(tmp_path / "busy", port=port).start()


def test_in_process_tenant_never_writes_to_the_terminal(
    demo_tenant: DemoTenant, monkeypatch: pytest.MonkeyPatch, capfd: pytest.CaptureFixture[str]
) -> None:
    def broken(*_args: Any) -> Any:
        raise RuntimeError("simulated bug")

    monkeypatch.setattr(entra_routes, "openid_configuration", broken)
    assert session(demo_tenant.info).get(demo_tenant.info.openid_configuration).status_code == 500
    captured = capfd.readouterr()
    assert captured.err == "" and captured.out == ""


def test_connection_cap_sheds_a_flood_and_recovers(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from wizard.emulator import transport

    monkeypatch.setattr(transport, "MAX_CONNECTIONS", 4)
    monkeypatch.setattr(transport, "MAX_CONNECTIONS_PER_CLIENT", 4)
    with DemoTenant(tmp_path / "capped") as tenant:
        info = tenant.info
        host, port = info.authority_host.removeprefix("https://").rsplit(":", 1)
        flood = [socket.create_connection((host, int(port)), timeout=5) for _ in range(4)]
        try:
            time.sleep(0.2)
            # A full table of silent connections does not lock the next client out: the
            # connection that has waited longest is closed to make room for it.
            assert _discovery_ok(info, timeout=5)
            assert flood[0].recv(1) == b""
            flood[-1].settimeout(0.2)
            with pytest.raises(TimeoutError):
                flood[-1].recv(1)
        finally:
            for sock in flood:
                sock.close()
        assert _discovery_ok(info, timeout=5)
