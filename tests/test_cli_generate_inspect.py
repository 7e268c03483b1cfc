"""`generate` and `inspect` as a user and a script run them: output, exit codes, errors."""

from __future__ import annotations

import datetime as dt
import json
import os
import re
import select
import subprocess
import sys
import time
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.serialization import pkcs12

from wizard import certs
from wizard.cli import main

PASSPHRASE = "cli test passphrase"
PASS_ENV = "ECW_CLI_PASS"


@pytest.fixture
def passphrase_env(monkeypatch: pytest.MonkeyPatch) -> str:
    monkeypatch.setenv(PASS_ENV, PASSPHRASE)
    return PASS_ENV


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(list(argv))
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def generate_json(capsys: pytest.CaptureFixture[str], out: Path, *extra: str) -> dict[str, object]:
    code, stdout, stderr = run_cli(
        capsys, "generate", "--name", "Cli Test", "--out", str(out), "--json", *extra
    )
    assert code == 0, stderr
    document = json.loads(stdout)
    assert isinstance(document, dict)
    return document


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    """One generated set (with a passphrase) shared by the inspect tests."""
    out = tmp_path_factory.mktemp("made")
    os.environ[PASS_ENV] = PASSPHRASE
    try:
        assert (
            main(
                [
                    "generate",
                    "--name",
                    "Shared",
                    "--out",
                    str(out),
                    "--passphrase-env",
                    PASS_ENV,
                    "--json",
                ]
            )
            == 0
        )
    finally:
        del os.environ[PASS_ENV]
    folder = out / "Shared"
    return {suffix: folder / f"Shared.{suffix}" for suffix in ("cer", "pem", "key", "pfx")}


# --- generate -----------------------------------------------------------------------------


def test_generate_json_document(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, passphrase_env: str
) -> None:
    document = generate_json(capsys, tmp_path, "--passphrase-env", passphrase_env)
    assert set(document) >= {
        "name", "folder", "files", "thumbprint_sha1", "thumbprint_sha256", "x5t", "x5t_s256",
        "not_before", "not_after", "key_size", "serial", "warnings", "backup_folder",
    }  # fmt: skip
    files = document["files"]
    assert isinstance(files, dict)
    assert set(files) == {"cer", "pem", "key", "pfx"}
    cert = certs.load_certificate_file(files["cer"])
    assert document["thumbprint_sha1"] == certs.thumbprint_sha1(cert)
    assert document["thumbprint_sha256"] == certs.thumbprint_sha256(cert)
    assert document["x5t"] == certs.x5t(cert)
    assert document["x5t_s256"] == certs.x5t_s256(cert)
    assert document["serial"] == f"{cert.serial_number:X}"
    assert document["key_size"] == 2048
    assert document["warnings"] == [] and document["backup_folder"] is None
    assert document["name"] == "Cli Test" and document["folder"] == str(tmp_path / "Cli_Test")
    not_after = dt.datetime.fromisoformat(str(document["not_after"]).replace("Z", "+00:00"))
    assert not_after == certs.not_valid_after(cert)
    certs.load_pfx_file(files["pfx"], PASSPHRASE.encode())


def test_generate_human_output_says_what_is_for_whom(
    capsys: pytest.CaptureFixture[str], isolated_home: Path, passphrase_env: str
) -> None:
    code, stdout, stderr = run_cli(
        capsys, "generate", "--name", "Human", "--passphrase-env", passphrase_env
    )
    assert code == 0, stderr
    folder = isolated_home / "data" / "certificates" / "Human"
    cert = certs.load_certificate_file(folder / "Human.cer")
    assert str(folder) in stdout
    assert "Human.cer" in stdout and "UPLOAD THIS ONE" in stdout
    assert "Certificates & secrets" in stdout
    assert certs.thumbprint_sha1(cert) in stdout and "as the portal shows it" in stdout
    assert f"{certs.not_valid_after(cert):%Y-%m-%d}" in stdout
    if os.name != "nt":
        assert re.search(r"Human\.key +0600", stdout) and re.search(r"Human\.cer +0644", stdout)
        assert "folder 0700" in stdout
    assert "warning" not in stderr


def test_generate_without_passphrase_warns_and_writes_no_pfx(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, stdout, stderr = run_cli(
        capsys, "generate", "--name", "Plain", "--out", str(tmp_path), "--no-passphrase"
    )
    assert code == 0
    assert "file permissions alone" in stderr
    assert "no .pfx" in stdout
    assert sorted(p.suffix for p in (tmp_path / "Plain").iterdir()) == [".cer", ".key", ".pem"]
    document = generate_json(capsys, tmp_path / "json", "--no-passphrase")
    files = document["files"]
    assert isinstance(files, dict) and files["pfx"] is None
    assert any("permissions alone" in str(w) for w in document["warnings"])  # type: ignore[attr-defined]


def test_generate_refuses_to_overwrite_then_force_backs_up(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    first = generate_json(capsys, tmp_path, "--no-passphrase")
    old_cer = Path(first["files"]["cer"]).read_bytes()  # type: ignore[index]
    code, stdout, stderr = run_cli(
        capsys, "generate", "--name", "Cli Test", "--out", str(tmp_path), "--no-passphrase"
    )
    assert code == 1 and stdout == ""
    assert stderr.startswith("error: A certificate folder already exists")
    assert "--force" in stderr and "Traceback" not in stderr
    second = generate_json(capsys, tmp_path, "--no-passphrase", "--force")
    backup = Path(str(second["backup_folder"]))
    assert (backup / "Cli_Test.cer").read_bytes() == old_cer
    assert second["thumbprint_sha1"] != first["thumbprint_sha1"]


def test_long_validity_warns(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    document = generate_json(
        capsys, tmp_path, "--no-passphrase", "--days", "1000", "--key-size", "3072"
    )
    assert any("cap credential lifetime" in str(w) for w in document["warnings"])  # type: ignore[attr-defined]
    assert document["key_size"] == 3072


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--days", "0"], "--days: Enter the validity"),
        (["--days", "3651"], "1 to 3650"),
        (["--key-size", "1024"], "too weak"),
        (["--name", "bad\tname"], "--name: The name contains"),
        (["--name", ""], "Enter a certificate name"),
        (["--name", "x" * 65], "at most 64"),
    ],
)
def test_bad_arguments_are_usage_errors(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, argv: list[str], words: str
) -> None:
    base = {"--name": "Valid", "--out": str(tmp_path)}
    base.update(dict(zip(argv[::2], argv[1::2], strict=True)))
    flat = [item for pair in base.items() for item in pair]
    code, stdout, stderr = run_cli(capsys, "generate", *flat, "--no-passphrase")
    assert code == 2 and stdout == ""
    assert words in stderr and stderr.startswith("error: ")
    assert list(tmp_path.iterdir()) == []


def test_no_terminal_and_no_passphrase_option(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    code, _, stderr = run_cli(capsys, "generate", "--name", "NoTty", "--out", str(tmp_path))
    assert code == 2
    assert "--passphrase-env" in stderr and "--no-passphrase" in stderr
    assert list(tmp_path.iterdir()) == []


def test_passphrase_variable_missing_or_empty(
    capsys: pytest.CaptureFixture[str], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.delenv("ECW_UNSET_VAR", raising=False)
    code, _, stderr = run_cli(
        capsys,
        "generate",
        "--name",
        "x",
        "--out",
        str(tmp_path),
        "--passphrase-env",
        "ECW_UNSET_VAR",
    )
    assert code == 2 and "ECW_UNSET_VAR is not set" in stderr
    monkeypatch.setenv("ECW_EMPTY_VAR", "")
    code, _, stderr = run_cli(
        capsys,
        "generate",
        "--name",
        "x",
        "--out",
        str(tmp_path),
        "--passphrase-env",
        "ECW_EMPTY_VAR",
    )
    assert code == 2 and "ECW_EMPTY_VAR is empty" in stderr


def test_out_is_a_file(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    target = tmp_path / "file"
    target.write_text("x")
    code, _, stderr = run_cli(
        capsys, "generate", "--name", "x", "--out", str(target), "--no-passphrase"
    )
    assert code == 1 and "is a file, not a folder" in stderr


# --- inspect ------------------------------------------------------------------------------


def test_inspect_certificate_with_key(
    capsys: pytest.CaptureFixture[str], made: dict[str, Path], passphrase_env: str
) -> None:
    cert = certs.load_certificate_file(made["cer"])
    code, stdout, stderr = run_cli(
        capsys,
        "inspect",
        str(made["cer"]),
        "--key",
        str(made["key"]),
        "--passphrase-env",
        passphrase_env,
    )
    assert code == 0, stderr
    for expected in (
        "Subject:       CN=Shared",
        "(self-signed)",
        certs.thumbprint_sha1(cert),
        certs.thumbprint_sha256(cert),
        certs.x5t(cert),
        certs.x5t_s256(cert),
        "RSA 2048 bits",
        "sha256WithRSAEncryption",
        "days left",
        "ok    extended key usage: clientAuth",
        "ok    key match",
    ):
        assert expected in stdout, expected


def test_inspect_json_for_pem_and_pfx(
    capsys: pytest.CaptureFixture[str], made: dict[str, Path], passphrase_env: str
) -> None:
    code, stdout, _ = run_cli(capsys, "inspect", str(made["pem"]), "--json")
    pem = json.loads(stdout)
    assert code == 0
    assert pem["kind"] == "PEM certificate" and pem["key_matches"] is None
    assert pem["subject"] == "CN=Shared" and pem["self_signed"] is True
    assert pem["expired"] is False and 363 <= pem["days_left"] <= 365
    assert {check["name"] for check in pem["checks"]} >= {"validity", "key", "extended key usage"}
    code, stdout, _ = run_cli(
        capsys, "inspect", str(made["pfx"]), "--passphrase-env", passphrase_env, "--json"
    )
    pfx = json.loads(stdout)
    assert code == 0
    assert pfx["kind"] == "PFX/PKCS#12" and pfx["key_matches"] is True
    assert pfx["friendly_name"] == "Shared"
    assert pfx["thumbprint_sha1"] == pem["thumbprint_sha1"]


def test_inspect_finds_a_key_that_does_not_match(
    capsys: pytest.CaptureFixture[str], made: dict[str, Path], tmp_path: Path
) -> None:
    stranger = tmp_path / "stranger.key"
    stranger.write_bytes(certs.key_pem(certs.generate_certificate("Shared").private_key, None))
    code, stdout, stderr = run_cli(capsys, "inspect", str(made["cer"]), "--key", str(stranger))
    assert code == 1
    assert "fail  key match: the private key does NOT belong" in stdout
    assert "fails a check" in stderr


def test_inspect_an_expired_certificate(capsys: pytest.CaptureFixture[str], tmp_path: Path) -> None:
    old = certs.generate_certificate(
        "Old", days=30, now=dt.datetime(2020, 1, 1, tzinfo=dt.timezone.utc)
    )
    path = tmp_path / "old.cer"
    path.write_bytes(certs.cert_der(old.certificate))
    code, stdout, _ = run_cli(capsys, "inspect", str(path))
    assert code == 1
    assert "fail  validity: expired on 2020-01-31" in stdout and "days ago" in stdout


def test_inspect_a_pfx_without_a_passphrase(
    capsys: pytest.CaptureFixture[str], tmp_path: Path
) -> None:
    generated = certs.generate_certificate("Open")
    path = tmp_path / "open.pfx"
    path.write_bytes(
        pkcs12.serialize_key_and_certificates(
            b"Open",
            generated.private_key,
            generated.certificate,
            None,
            serialization.NoEncryption(),
        )
    )
    code, stdout, _ = run_cli(capsys, "inspect", str(path))
    assert code == 0 and "ok    key match" in stdout


def _bad_files(tmp_path: Path, made: dict[str, Path]) -> dict[str, tuple[list[str], str]]:
    def write(name: str, data: bytes) -> str:
        (tmp_path / name).write_bytes(data)
        return str(tmp_path / name)

    der = made["cer"].read_bytes()
    cer, pem, key, pfx = (str(made[suffix]) for suffix in ("cer", "pem", "key", "pfx"))
    wrong = ["--passphrase-env", "ECW_WRONG"]
    return {
        "missing": ([str(tmp_path / "nope.cer")], "does not exist"),
        "folder": ([str(tmp_path)], "is a folder, not a certificate"),
        "empty": ([write("empty.cer", b"")], "is empty"),
        "binary": ([write("random.cer", bytes(range(1, 256)) * 8)], "not a certificate"),
        "huge": ([write("huge.cer", b"A" * (1024 * 1024 + 10))], "far too big"),
        "truncated": ([write("cut.cer", der[:-40])], "damaged or truncated"),
        "private key as certificate": ([key], "is a private key, not a certificate"),
        "certificate as key": ([cer, "--key", pem], "is a certificate, not a private key"),
        "pfx, no passphrase, no terminal": ([pfx], "protected by a passphrase"),
        "pfx wrong passphrase": ([pfx, *wrong], "does not open"),
        "key wrong passphrase": ([cer, "--key", key, *wrong], "does not open"),
        "encrypted key, no terminal": ([cer, "--key", key], "needs its passphrase"),
    }


def test_every_bad_file_is_one_clear_line(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    made: dict[str, Path],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("ECW_WRONG", "not the passphrase")
    for label, (argv, words) in _bad_files(tmp_path, made).items():
        code, stdout, stderr = run_cli(capsys, "inspect", *argv)
        assert code == 1, label
        assert stdout == "", label
        lines = stderr.splitlines()
        assert lines[0].startswith("error: ") and words in lines[0], (label, stderr)
        assert len(lines) <= 2 and all(line.startswith(("error: ", "hint: ")) for line in lines), (
            label
        )


# --- as real processes --------------------------------------------------------------------


CLI_SCRIPT = "import sys, wizard.cli; sys.exit(wizard.cli.main(sys.argv[1:]))"


def python_cli(*argv: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", CLI_SCRIPT, *argv],
        capture_output=True,
        text=True,
        timeout=60,
        env={**os.environ, **(env or {})},
    )


def test_headless_commands_import_neither_textual_nor_msal(
    tmp_path: Path, made: dict[str, Path]
) -> None:
    script = (
        "import sys, wizard.cli\n"
        "code = wizard.cli.main(sys.argv[1:])\n"
        "loaded = sorted(m for m in ('textual', 'msal') if m in sys.modules)\n"
        "assert not loaded, loaded\n"
        "sys.exit(code)\n"
    )
    for argv in (
        ["generate", "--name", "Lean", "--out", str(tmp_path), "--no-passphrase", "--json"],
        ["inspect", str(made["cer"]), "--json"],
        ["inspect", str(made["pfx"]), "--passphrase-env", PASS_ENV],
    ):
        completed = subprocess.run(
            [sys.executable, "-c", script, *argv],
            capture_output=True, text=True, timeout=60, env={**os.environ, PASS_ENV: PASSPHRASE},
        )  # fmt: skip
        assert completed.returncode == 0, completed.stderr


def test_errors_have_no_traceback_unless_debug(tmp_path: Path) -> None:
    completed = python_cli("inspect", str(tmp_path / "missing.cer"))
    assert completed.returncode == 1
    assert "Traceback" not in completed.stderr
    assert completed.stderr.startswith("error: ")
    debug = python_cli("inspect", str(tmp_path / "missing.cer"), "--debug")
    assert "Traceback" in debug.stderr and "UserError" in debug.stderr


@pytest.mark.skipif(os.name == "nt", reason="needs a pseudo-terminal")
def test_interactive_passphrase_prompt_with_confirmation(tmp_path: Path) -> None:
    """At a real (pseudo-)terminal: asked twice, a mismatch asks again, nothing is echoed."""
    import pty

    controller, terminal = pty.openpty()
    argv = ["generate", "--name", "Typed", "--out", str(tmp_path), "--json"]
    process = subprocess.Popen(
        [sys.executable, "-c", CLI_SCRIPT, *argv],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    seen = b""

    def answer(prompt: bytes, occurrence: int, text: bytes) -> None:
        nonlocal seen
        deadline = time.monotonic() + 20
        while seen.count(prompt) < occurrence:
            assert time.monotonic() < deadline, seen
            if select.select([controller], [], [], 0.5)[0]:
                seen += os.read(controller, 4096)
        os.write(controller, text + b"\n")

    answer(b"new private key: ", 1, b"first try")
    answer(b"to confirm: ", 1, b"a typo")
    answer(b"new private key: ", 2, b"typed secret")
    answer(b"to confirm: ", 2, b"typed secret")
    stdout, _ = process.communicate(timeout=30)
    os.close(controller)
    assert process.returncode == 0, seen
    assert b"differ" in seen
    assert b"typed secret" not in seen and b"first try" not in seen  # no echo
    document = json.loads(stdout)
    certs.load_pfx_file(document["files"]["pfx"], b"typed secret")


def test_inspect_a_combined_pem_checks_its_own_key(
    capsys: pytest.CaptureFixture[str], made: dict[str, Path], tmp_path: Path
) -> None:
    combined = tmp_path / "combined.pem"
    key = certs.load_private_key_file(made["key"], PASSPHRASE.encode())
    combined.write_bytes(made["pem"].read_bytes() + certs.key_pem(key, None))
    code, stdout, _ = run_cli(capsys, "inspect", str(combined), "--json")
    document = json.loads(stdout)
    assert code == 0
    assert document["kind"] == "PEM certificate and private key"
    assert document["key_matches"] is True


@pytest.mark.skipif(os.name == "nt", reason="needs a pseudo-terminal")
def test_inspect_asks_for_a_pfx_passphrase_at_a_terminal(made: dict[str, Path]) -> None:
    import pty

    controller, terminal = pty.openpty()
    process = subprocess.Popen(
        [sys.executable, "-c", CLI_SCRIPT, "inspect", str(made["pfx"]), "--json"],
        stdin=terminal,
        stdout=subprocess.PIPE,
        stderr=terminal,
        start_new_session=True,
    )
    os.close(terminal)
    seen = b""
    for attempt, text in enumerate((b"wrong guess", PASSPHRASE.encode()), start=1):
        deadline = time.monotonic() + 20
        while seen.count(b"Passphrase for ") < attempt:
            assert time.monotonic() < deadline, seen
            if select.select([controller], [], [], 0.5)[0]:
                seen += os.read(controller, 4096)
        os.write(controller, text + b"\n")
    stdout, _ = process.communicate(timeout=30)
    os.close(controller)
    assert process.returncode == 0, seen
    assert b"try again" in seen
    assert json.loads(stdout)["key_matches"] is True
