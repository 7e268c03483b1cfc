"""`profiles`, `test --profile` and `rotate` as a user runs them: real subprocesses, real files,
and a real demo tenant that each command starts from the profile's state folder."""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wizard import certs
from wizard.emulator import DemoTenant
from wizard.portal import PortalClient
from wizard.profiles import Profile, get_profile, profile_from_files, profiles_file, save_profile
from wizard.storage import write_certificate_set

OLD_PW = "old passphrase for the cli"
NEW_PW = "new passphrase for the cli"


def cli(
    *args: str, env: dict[str, str] | None = None, timeout: float = 120
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wizard", *args],
        capture_output=True,
        text=True,
        stdin=subprocess.DEVNULL,
        env={**os.environ, "OLD_PW": OLD_PW, "NEW_PW": NEW_PW, **(env or {})},
        timeout=timeout,
        check=False,
    )


def no_traceback(result: subprocess.CompletedProcess[str]) -> None:
    assert "Traceback" not in result.stderr + result.stdout


def real_profile(tmp_path: Path, name: str = "real-one", **changes: object) -> Profile:
    generated = certs.generate_certificate(name)
    files = write_certificate_set(
        generated, name, out_root=tmp_path / "certs", passphrase=None
    ).files
    profile = profile_from_files(
        name=name,
        files=files,
        cloud="global",
        tenant="contoso.onmicrosoft.com",
        client_id="11111111-2222-4333-8444-555555555555",
    )
    for key, value in changes.items():
        setattr(profile, key, value)
    save_profile(profile)
    return profile


def test_profiles_with_none_saved_exits_0() -> None:
    result = cli("profiles")
    assert result.returncode == 0
    assert "No saved profiles yet" in result.stderr
    result = cli("profiles", "--json")
    assert result.returncode == 0 and json.loads(result.stdout)["profiles"] == []


def test_profiles_help_documents_the_exit_codes() -> None:
    text = " ".join(cli("profiles", "--help").stdout.split())
    assert "exit codes: 0 every certificate valid" in text
    assert "1 at least one certificate has expired or its files are missing" in text


def test_profiles_warns_and_exits_1_when_expired_or_missing(tmp_path: Path) -> None:
    now = datetime.now(timezone.utc)
    real_profile(tmp_path, "fine")
    real_profile(tmp_path, "soon", not_after=now + timedelta(days=12, hours=1))
    result = cli("profiles")
    assert result.returncode == 0, result.stderr  # a warning alone does not fail monitoring
    assert 'warning: "soon" expires in 12 day(s)' in result.stderr
    assert "12d left (!)" in result.stdout
    expired = real_profile(tmp_path, "old", not_after=now - timedelta(days=3))
    result = cli("profiles")
    assert result.returncode == 1
    assert 'error: "old" expired on' in result.stderr and "EXPIRED 3d ago" in result.stdout
    Path(expired.key_path).unlink()
    document = json.loads(cli("profiles", "--json").stdout)
    by_name = {p["name"]: p for p in document["profiles"]}
    assert [by_name[n]["status"] for n in ("fine", "soon", "old")] == ["ok", "warning", "expired"]
    assert by_name["soon"]["days_left"] == 12
    assert by_name["fine"]["files_present"] and not by_name["old"]["files_present"]
    assert by_name["old"]["missing_files"] == [expired.key_path]
    assert document["attention"] is True


def test_missing_files_alone_exit_1(tmp_path: Path) -> None:
    profile = real_profile(tmp_path, "moved")
    Path(profile.cert_path).unlink()
    result = cli("profiles")
    assert result.returncode == 1
    assert f'error: "moved": {profile.cert_path} is no longer there.' in result.stderr


def test_corrupt_profiles_file_is_one_clear_line_and_left_alone(tmp_path: Path) -> None:
    path = profiles_file()
    path.parent.mkdir(parents=True)
    path.write_text('{"profiles": [ {"name": "x",, } ]}')
    for args in (("profiles",), ("rotate", "x"), ("test", "--profile", "x")):
        result = cli(*args)
        assert result.returncode == 1
        assert result.stderr.startswith(
            f"error: The profiles file {path} is not valid JSON: line 1"
        )
        assert "hint: Fix the file by hand, or move it aside" in result.stderr
        no_traceback(result)
    assert path.read_text() == '{"profiles": [ {"name": "x",, } ]}'


def test_rotate_unknown_profile() -> None:
    result = cli("rotate", "nobody")
    assert result.returncode == 1 and 'There is no saved profile called "nobody"' in result.stderr


def test_real_tenant_rotation_waits_for_the_user_at_the_portal(tmp_path: Path) -> None:
    profile = real_profile(tmp_path)
    result = cli("rotate", profile.name, "--no-passphrase")
    assert result.returncode == 0, result.stderr
    state = get_profile(profile.name).rotation
    assert state is not None and state.stage == "upload"
    assert "Certificates & secrets › Certificates › Upload certificate" in result.stdout
    assert f"Choose the file: {state.new_cer_path}" in result.stdout
    assert f"entra-cert-wizard rotate {profile.name} --confirm" in result.stdout
    # out of order: a usage error that names the next step
    result = cli("rotate", profile.name, "--step", "retire")
    assert result.returncode == 2
    assert 'is at "upload"' in result.stderr and "--step upload" in result.stderr
    # the user says it is uploaded: only that step runs (no network here)
    result = cli("rotate", profile.name, "--step", "upload", "--confirm", "--json")
    assert result.returncode == 0, result.stderr
    document = json.loads(result.stdout)
    assert document["steps_run"] == ["upload"] and document["next_step"] == "test"
    assert document["rotation"]["uploaded_at"]
    status = cli("rotate", profile.name, "--step", "status")
    assert "[NEXT] 3. Test the new certificate" in status.stdout
    assert "[done] 2. Upload it beside the old one" in status.stdout
    abandoned = cli("rotate", profile.name, "--abandon")
    assert abandoned.returncode == 0 and get_profile(profile.name).rotation is None
    assert Path(state.new_key_path).exists()  # nothing deleted


@pytest.fixture
def demo_state(tmp_path: Path) -> Path:
    return tmp_path / "demo-state"


def test_demo_rotation_end_to_end_from_the_command_line(tmp_path: Path, demo_state: Path) -> None:
    """Set up a proven demo profile, then rotate it headless; each command starts the demo
    tenant from the profile's state folder, so the uploads and removals persist between them."""
    with DemoTenant(demo_state) as tenant:
        info = tenant.info
        generated = certs.generate_certificate("Cli Rotation")
        files = write_certificate_set(
            generated, "Cli Rotation", out_root=tmp_path / "certs", passphrase=OLD_PW.encode()
        ).files
        portal = PortalClient.for_demo(info)
        portal.upload_certificate(info.client_id, certs.cert_der(generated.certificate))
        profile = profile_from_files(
            name="cli-rot",
            files=files,
            cloud="global",
            tenant=info.tenant_id,
            client_id=info.client_id,
            demo=True,
            demo_state_dir=demo_state,
        )
        save_profile(profile)
    old_thumbprint = profile.thumbprint_sha1

    # test --profile: no other input than the passphrase's variable
    result = cli("test", "--profile", "cli-rot", "--passphrase-env", "OLD_PW", "--json")
    assert result.returncode == 0, result.stderr + result.stdout
    assert get_profile("cli-rot").last_test == "pass"

    # rotate: generate, upload, test run; then it waits for the script to switch
    result = cli("rotate", "cli-rot", "--passphrase-env", "NEW_PW")
    no_traceback(result)
    assert result.returncode == 0, result.stderr + result.stdout
    state = get_profile("cli-rot").rotation
    assert state is not None and state.stage == "switch" and state.test_verdict == "pass"
    assert "Uploaded" in result.stdout and "Both tests passed" in result.stdout
    assert f"-CertificateThumbprint '{old_thumbprint}'" in result.stdout
    assert f"-CertificateThumbprint '{state.new_thumbprint_sha1}'" in result.stdout
    assert "run: entra-cert-wizard rotate cli-rot --confirm" in result.stdout
    listing = json.loads(cli("profiles", "--json").stdout)["profiles"][0]
    assert listing["rotation_step"] == "switch" and listing["thumbprint_sha1"] == old_thumbprint

    # the user switched: confirm, retire (proof) and archive in one go
    result = cli(
        "rotate",
        "cli-rot",
        "--confirm",
        "--passphrase-env",
        "NEW_PW",
        "--old-passphrase-env",
        "OLD_PW",
        "--json",
    )
    assert result.returncode == 0, result.stderr + result.stdout
    document = json.loads(result.stdout)
    assert document["steps_run"] == ["switch", "retire", "archive"]
    assert document["results"]["retire"] == {"refused": True, "observed": "AADSTS700027"}
    assert document["rotation"] is None and document["thumbprint_sha1"] == state.new_thumbprint_sha1
    assert "refused with AADSTS700027" in result.stderr

    # profiles shows the new certificate and its expiry
    result = cli("profiles", "--json")
    assert result.returncode == 0
    listing = json.loads(result.stdout)["profiles"][0]
    assert listing["thumbprint_sha1"] == state.new_thumbprint_sha1
    assert listing["not_after"] == state.new_not_after.isoformat() if state.new_not_after else False
    assert listing["status"] == "ok" and listing["files_present"] and listing["rotation"] is None
    assert listing["retired"][0]["thumbprint_sha1"] == old_thumbprint
    assert Path(listing["retired"][0]["archive_folder"], files.key.name).is_file()

    # and the profile tests green with the new certificate
    result = cli("test", "--profile", "cli-rot", "--passphrase-env", "NEW_PW", "--json")
    assert result.returncode == 0, result.stderr + result.stdout


def test_test_profile_with_an_encrypted_key_and_no_terminal_is_a_usage_error(
    tmp_path: Path,
) -> None:
    """No terminal to ask and no --passphrase-env: the command line lacks an input (exit 2)."""
    generated = certs.generate_certificate("Locked")
    files = write_certificate_set(
        generated, "Locked", out_root=tmp_path / "certs", passphrase=OLD_PW.encode()
    ).files
    save_profile(profile_from_files(
        name="locked", files=files, cloud="global", tenant="contoso.onmicrosoft.com",
        client_id="11111111-2222-4333-8444-555555555555",
    ))
    result = cli("test", "--profile", "locked")
    no_traceback(result)
    assert result.returncode == 2, result.stderr
    assert result.stderr.startswith("error: ") and "--passphrase-env" in result.stderr


def test_test_demo_hint_names_no_address_of_its_stopped_tenant(tmp_path: Path) -> None:
    """`test --demo` stops its demo tenant on exit: the upload hint names no URL of it."""
    generated = certs.generate_certificate("NeverUploaded")
    files = write_certificate_set(
        generated, "NeverUploaded", out_root=tmp_path / "certs", passphrase=None
    ).files
    result = cli("test", "--demo", "--cert", str(files.pem), "--key", str(files.key),
                 "--no-negative", "--json")
    assert result.returncode == 1, result.stderr
    document = json.loads(result.stdout)
    stopped_host = document["authority"].split("/")[2]
    assert document["hint"] and "emulator" in document["hint"]
    assert stopped_host not in document["hint"]


@pytest.mark.skipif(os.name == "nt", reason="needs a pseudo-terminal")
def test_rotate_at_a_terminal_asks_the_new_passphrase_once_then_the_old(
    tmp_path: Path, demo_state: Path
) -> None:
    """New passphrase and its confirmation (generate), nothing more for the test of the new
    key, then the old key's passphrase once (retire)."""
    import pty
    import select
    import time

    with DemoTenant(demo_state) as tenant:
        info = tenant.info
        generated = certs.generate_certificate("Tty Rotation")
        files = write_certificate_set(
            generated, "Tty Rotation", out_root=tmp_path / "certs", passphrase=OLD_PW.encode()
        ).files
        PortalClient.for_demo(info).upload_certificate(
            info.client_id, certs.cert_der(generated.certificate))
        save_profile(profile_from_files(
            name="tty-rot", files=files, cloud="global", tenant=info.tenant_id,
            client_id=info.client_id, demo=True, demo_state_dir=demo_state,
        ))
    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "rotate", "tty-rot"],
        stdin=terminal, stdout=terminal, stderr=terminal, start_new_session=True,
    )
    os.close(terminal)
    seen = b""

    def read_some() -> None:
        nonlocal seen
        if select.select([controller], [], [], 0.5)[0]:
            with contextlib.suppress(OSError):  # EIO: the process closed the terminal
                seen += os.read(controller, 4096)

    def answer(prompt: bytes, text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 60
        while prompt not in seen:
            assert time.monotonic() < deadline and process.poll() is None, seen
            read_some()
        seen = seen.replace(prompt, b"<answered>", 1)
        os.write(controller, text + b"\n")

    try:
        answer(b"new private key: ", NEW_PW.encode())
        answer(b"to confirm: ", NEW_PW.encode())
        answer(b"[y/N] ", b"y")
        answer(b"OLD private key: ", OLD_PW.encode())
        deadline = time.monotonic() + 60
        while process.poll() is None:
            assert time.monotonic() < deadline, seen
            read_some()
        read_some()
    finally:
        if process.poll() is None:
            process.kill()
        os.close(controller)
    text = seen.decode(errors="replace")
    assert process.returncode == 0, text
    assert text.count("Passphrase for") == 2, text  # the new key's, then the old key's
    assert text.count("Type it again") == 1, text
    assert "NEW private key" not in text, text  # the test of the new key asks nothing
    assert get_profile("tty-rot").rotation is None
