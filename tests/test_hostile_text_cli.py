"""Hostile text never reaches the terminal from a command: certificate fields and file names
(`inspect`), a server's answers (`test`), profiles.json (`profiles`, `rotate`) and request
lines (`emulator --debug`). Each runs as a real process; its stdout and stderr bytes are read."""

from __future__ import annotations

import json
import os
import socket
import ssl
import subprocess
import sys
import time
import uuid
from datetime import datetime, timedelta, timezone
from pathlib import Path

from conftest import make_test_certificate
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.asymmetric import rsa
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12
from cryptography.x509.oid import NameOID
from hostile_text import (
    ESC_CSI,
    HOSTILE,
    HOSTILE_IN_FILE_NAME,
    HOSTILE_PIECES,
    MARKUP_NAMES,
    OSC_52,
    raw_controls,
)

from wizard import certs
from wizard.emulator import DemoTenant
from wizard.portal import PortalClient
from wizard.profiles import Profile, profiles_file, save_profile


def run(*argv: str, timeout: float = 120) -> subprocess.CompletedProcess[bytes]:
    return subprocess.run(
        [sys.executable, "-m", "wizard", *argv],
        capture_output=True,
        timeout=timeout,
        env=os.environ.copy(),
        stdin=subprocess.DEVNULL,
    )


def assert_shown_safely(done: subprocess.CompletedProcess[bytes]) -> str:
    """No raw control byte and no traceback; the output as text, for further checks."""
    out = (done.stdout + done.stderr).decode("utf-8", errors="replace")
    assert not raw_controls(done.stdout), out
    assert not raw_controls(done.stderr), out
    assert "Traceback" not in out, out
    return out


# -- inspect: a stranger's certificate ----------------------------------------------------


def hostile_certificate() -> tuple[x509.Certificate, rsa.RSAPrivateKey]:
    """A self-signed certificate whose subject and issuer carry every hostile piece
    (a name attribute holds at most 64 characters: one piece each)."""
    _, key = make_test_certificate()
    pieces = iter(HOSTILE_PIECES)
    oids = (NameOID.COMMON_NAME, NameOID.ORGANIZATION_NAME, NameOID.ORGANIZATIONAL_UNIT_NAME,
            NameOID.LOCALITY_NAME, NameOID.STATE_OR_PROVINCE_NAME, NameOID.STREET_ADDRESS,
            NameOID.TITLE)
    name = x509.Name([x509.NameAttribute(oid, f"x{next(pieces)}") for oid in oids])
    now = datetime.now(timezone.utc)
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=30))
        .add_extension(x509.SubjectAlternativeName([x509.DNSName(f"a{ESC_CSI}.example")]),
                       critical=False)
        .sign(key, hashes.SHA256())
    )
    return cert, key


def hostile_pfx(folder: Path) -> Path:
    cert, key = hostile_certificate()
    data = pkcs12.serialize_key_and_certificates(
        HOSTILE.encode("utf-8"), key, cert, None, NoEncryption()
    )
    path = folder / f"stranger{HOSTILE_IN_FILE_NAME}.pfx"
    path.write_bytes(data)
    return path


def test_inspect_shows_a_hostile_pfx_escaped(tmp_path: Path) -> None:
    path = hostile_pfx(tmp_path)
    done = run("inspect", str(path))
    out = assert_shown_safely(done)
    assert done.returncode == 0, out
    assert "\\x1b]52;c;aGFja2Vk\\x07" in out  # the friendly name, visibly escaped
    assert "\\u202egpj.exe" in out
    # one line per field: a CR or newline inside a value forges no line of its own
    assert not any(line.startswith("fake line") for line in out.splitlines())


def test_inspect_error_line_names_a_hostile_file_escaped(tmp_path: Path) -> None:
    path = tmp_path / f"broken{HOSTILE_IN_FILE_NAME}.cer"
    path.write_bytes(b"not a certificate")
    done = run("inspect", str(path))
    out = assert_shown_safely(done)
    assert done.returncode == 1 and "error:" in out and "broken" in out


def test_inspect_json_stays_exact(tmp_path: Path) -> None:
    """--json is for programs: the value round-trips exactly (JSON escapes the controls)."""
    done = run("inspect", str(hostile_pfx(tmp_path)), "--json")
    assert_shown_safely(done)
    assert json.loads(done.stdout)["friendly_name"] == HOSTILE


# -- test: a hostile server ---------------------------------------------------------------


def custom_cloud(tenant: DemoTenant, client_id: str) -> list[str]:
    info = tenant.info
    return [
        "--tenant", info.tenant_id, "--client-id", client_id,
        "--authority-host", info.authority_host, "--graph-endpoint", info.graph_endpoint,
        "--ca-bundle", info.ca_bundle, "--no-negative",
    ]


def test_test_shows_the_servers_words_escaped(tmp_path: Path, hostile_tenant: DemoTenant) -> None:
    info = hostile_tenant.info
    cert, key = make_test_certificate("HostileServerTest")
    PortalClient(info.portal, info.ca_bundle).upload_certificate(
        info.client_id, certs.cert_der(cert)
    )
    pem, key_file = tmp_path / "c.pem", tmp_path / "c.key"
    pem.write_bytes(certs.cert_pem(cert))
    key_file.write_bytes(certs.key_pem(key, None))
    key_file.chmod(0o600)
    files = ["--cert", str(pem), "--key", str(key_file)]

    signed_in = run("test", *files, *custom_cloud(hostile_tenant, info.client_id))
    out = assert_shown_safely(signed_in)
    assert signed_in.returncode == 0, out
    assert "Role" in out and "Contoso" in out  # roles and the organization were shown

    refused = run("test", *files, *custom_cloud(hostile_tenant, str(uuid.uuid4())))
    out = assert_shown_safely(refused)
    assert refused.returncode == 1 and "Said:" in out and "Contoso" in out


# -- profiles and rotate: a tampered profiles.json ----------------------------------------


PATH_PLACEHOLDER = "-file-name-"


def save_named(tmp_path: Path, names: dict[str, str], *, hostile_paths: bool = True) -> None:
    """Save one valid profile per placeholder, then write the real (hostile) names (and, with
    `hostile_paths`, file names) into the file by hand, as a tampered profiles.json holds them."""
    for index, placeholder in enumerate(names):
        save_profile(Profile(
            name=placeholder, cloud="global", tenant="contoso.onmicrosoft.com",
            client_id="1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d", thumbprint_sha1=f"{index:X}" * 40,
            thumbprint_sha256="B" * 64, cert_path=str(tmp_path / f"p{index}{PATH_PLACEHOLDER}.pem"),
            key_path=str(tmp_path / f"p{index}.key"), pfx_path=None,
            not_after=datetime.now(timezone.utc) + timedelta(days=10),
        ))
    text = profiles_file().read_text(encoding="utf-8")
    for placeholder, name in names.items():
        text = text.replace(json.dumps(placeholder), json.dumps(name))
    if hostile_paths:
        text = text.replace(PATH_PLACEHOLDER, json.dumps(HOSTILE_IN_FILE_NAME)[1:-1])
    profiles_file().write_text(text, encoding="utf-8")


def test_profiles_and_rotate_show_names_from_the_file_escaped(tmp_path: Path) -> None:
    save_named(tmp_path, {"one": f"Payroll{HOSTILE}", "two": "App [Prod]"})
    listed = run("profiles")
    out = assert_shown_safely(listed)
    assert "App [Prod]" in out or "damaged" in out  # shown as is (or the file refused)
    unknown = run("rotate", "nosuch")  # the error lists the saved names
    assert_shown_safely(unknown)
    assert unknown.returncode != 0
    status = run("rotate", f"Payroll{HOSTILE}", "--step", "status")
    assert_shown_safely(status)


def test_markup_names_are_plain_in_profiles(tmp_path: Path) -> None:
    save_named(tmp_path, {f"n{index}": name for index, name in enumerate(MARKUP_NAMES)},
               hostile_paths=False)
    out = assert_shown_safely(run("profiles"))
    for name in MARKUP_NAMES:
        assert name in out


# -- emulator --debug: a hostile request line ---------------------------------------------


def test_emulator_debug_logs_request_lines_escaped(tmp_path: Path) -> None:
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "emulator", "--json", "--debug",
         "--state", str(tmp_path / "state")],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=os.environ.copy(),
    )
    try:
        assert process.stdout is not None
        info = json.loads(process.stdout.readline())
        host, port = info["authority_host"].removeprefix("https://").rstrip("/").split(":")
        context = ssl.create_default_context(cafile=info["ca_bundle"])
        path = "/x" + OSC_52 + "\x1b[2J\u202e"
        with (
            socket.create_connection((host, int(port)), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.sendall(f"GET {path} HTTP/1.1\r\nHost: {host}\r\n\r\n".encode())
            tls.recv(4096)
        time.sleep(0.5)  # the log line is written after the answer
    finally:
        process.terminate()
        _, err = process.communicate(timeout=30)
    assert b"GET /x" in err, err
    assert not raw_controls(err), err
    assert b"\\x1b]52" in err
