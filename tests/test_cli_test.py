"""`entra-cert-wizard test`: exit codes, human output and the --json document.

A few end-to-end runs as real subprocesses (`--demo` starting its own demo tenant, a custom
cloud pointing at the session's demo tenant); the rest in-process through `cli.main` to keep
the suite fast. Everything talks to a real demo tenant over HTTPS.
"""

from __future__ import annotations

import io
import json
import os
import re
import subprocess
import sys
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from wizard import certs
from wizard.cli import main
from wizard.emulator import DemoInfo, DemoTenant, Fault
from wizard.paths import data_dir
from wizard.portal import PortalClient

MakeCert = Callable[..., Any]
PASS_ENV = "ECW_TEST_PASSPHRASE"


def write_files(folder: Path, cert: Any, passphrase: bytes | None = None) -> tuple[Path, Path]:
    folder.mkdir(parents=True, exist_ok=True)
    pem, key = folder / "cert.pem", folder / "cert.key"
    pem.write_bytes(certs.cert_pem(cert.certificate))
    key.write_bytes(certs.key_pem(cert.private_key, passphrase))
    key.chmod(0o600)
    return pem, key


def custom_cloud_args(info: DemoInfo) -> list[str]:
    return [
        "--authority-host",
        info.authority_host,
        "--graph-endpoint",
        info.graph_endpoint,
        "--ca-bundle",
        info.ca_bundle,
    ]


def run_cli(capsys: pytest.CaptureFixture[str], *argv: str) -> tuple[int, str, str]:
    code = main(["test", *argv])
    captured = capsys.readouterr()
    return code, captured.out, captured.err


def run_subprocess(*argv: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "wizard", "test", *argv],
        capture_output=True,
        text=True,
        timeout=120,
        env=os.environ.copy(),
    )


def verdict_of(out: str) -> str:
    """The one-line verdict (wrapped on narrow terminals) after the last blank line."""
    return " ".join(out.strip().split("\n\n")[-1].split())


def assert_no_token_in(text: str) -> None:
    """No JWT-looking run of base64url characters beyond the 12-character preview."""
    assert not re.search(r"eyJ[A-Za-z0-9_-]{20,}\.[A-Za-z0-9_-]{20,}", text)
    assert "PRIVATE KEY" not in text


# ---------------------------------------------------------------- end to end, as subprocesses


def test_demo_run_passes_as_a_whole_process(tmp_path: Path, demo_certificate: MakeCert) -> None:
    """`test --demo` starts its own demo tenant on the persistent state in the data folder:
    upload there first (as the wizard or `emulator` would), then test from a new process."""
    with DemoTenant(data_dir() / "demo-tenant") as tenant:
        info = tenant.info
        cert = demo_certificate("CliDemo", upload=False, days=90)
        PortalClient(info.portal, info.ca_bundle).upload_certificate(
            info.client_id, certs.cert_der(cert.certificate)
        )
    pem, key = write_files(tmp_path, cert)
    done = run_subprocess("--demo", "--cert", str(pem), "--key", str(key), "--json")
    assert done.returncode == 0, done.stdout + done.stderr
    document = json.loads(done.stdout)  # stdout is exactly one JSON document
    assert document["verdict"] == "pass" and document["exit_code"] == 0
    assert document["tenant"] == info.tenant_id and document["client_id"] == info.client_id
    assert document["cloud"] == "demo"
    positive = document["positive"]
    assert [s["key"] for s in positive["steps"]] == [
        "preflight",
        "discovery",
        "token",
        "claims",
        "graph",
    ]
    for step in positive["steps"]:
        assert set(step) >= {"key", "title", "status", "seconds", "detail"}
        assert step["status"] == "ok"
    assert positive["organization"]["display_name"] == info.organization_name
    assert positive["token"]["roles"] == ["Organization.Read.All"]
    assert positive["token"]["app_id"] == info.client_id and positive["token"]["expires_at"]
    assert positive["error"] is None
    assert [n["name"] for n in document["negative"]] == [
        "no-credential",
        "stranger-certificate",
        "stolen-public-certificate",
    ]
    for probe in document["negative"]:
        assert probe["ok"] is True and probe["expected"] and probe["observed_code"]
    assert document["certificate"]["thumbprint_sha1"] == cert.thumbprint_sha1
    assert_no_token_in(done.stdout + done.stderr)


def test_alarm_exits_3_as_a_whole_process(
    tmp_path: Path,
    demo_info: DemoInfo,
    demo_certificate: MakeCert,
    fault: Callable[[Fault], None],
) -> None:
    cert = demo_certificate("CliAlarm", days=90)
    pem, key = write_files(tmp_path, cert)
    fault(Fault(kind="accept-any", endpoint="token"))
    done = run_subprocess(
        *custom_cloud_args(demo_info),
        "--tenant",
        demo_info.tenant_id,
        "--client-id",
        demo_info.client_id,
        "--cert",
        str(pem),
        "--key",
        str(key),
    )
    assert done.returncode == 3, done.stdout + done.stderr
    assert "ALARM" in done.stdout
    assert verdict_of(done.stdout).startswith("ALARM: a request WITHOUT")
    assert_no_token_in(done.stdout)


def test_never_uploaded_certificate_exits_1_with_the_explanation_as_a_process(
    tmp_path: Path, demo_info: DemoInfo, demo_certificate: MakeCert
) -> None:
    cert = demo_certificate("CliNever", upload=False, days=90)
    pem, key = write_files(tmp_path, cert)
    done = run_subprocess(
        *custom_cloud_args(demo_info),
        "--tenant",
        demo_info.tenant_domain,
        "--client-id",
        demo_info.client_id,
        "--cert",
        str(pem),
        "--key",
        str(key),
        "--json",
    )
    assert done.returncode == 1
    document = json.loads(done.stdout)
    assert document["verdict"] == "fail"
    assert document["positive"]["error"]["code"] == "AADSTS700027"
    assert set(document["positive"]["error"]) >= {"code", "title", "cause", "fix", "link"}
    assert all(probe["ok"] for probe in document["negative"])


# ---------------------------------------------------------------- in-process


@pytest.fixture
def files(tmp_path: Path, demo_certificate: MakeCert) -> tuple[Path, Path]:
    return write_files(tmp_path / "good", demo_certificate("CliGood", days=90))


def base_args(info: DemoInfo, pem: Path, key: Path, client_id: str | None = None) -> list[str]:
    return [
        *custom_cloud_args(info),
        "--tenant",
        info.tenant_id,
        "--client-id",
        client_id or info.client_id,
        "--cert",
        str(pem),
        "--key",
        str(key),
    ]


def test_human_output_one_line_per_step_and_a_verdict(
    capsys: pytest.CaptureFixture[str], demo_info: DemoInfo, files: tuple[Path, Path]
) -> None:
    code, out, err = run_cli(capsys, *base_args(demo_info, *files))
    assert code == 0, out + err
    for title in (
        "Pre-flight checks",
        "Tenant discovery",
        "Token with the certificate",
        "The token explained",
        "Graph: read the organization",
        "No credential at all",
    ):
        assert re.search(rf"✓ {re.escape(title)}\s+(\d+ ms|\d+\.\d\d s)", out), title
    assert verdict_of(out).startswith("PASS:")
    assert "Organization.Read.All" in out
    assert_no_token_in(out + err)


def test_pasted_ids_are_accepted(
    capsys: pytest.CaptureFixture[str], demo_info: DemoInfo, files: tuple[Path, Path]
) -> None:
    pem, key = files
    args = base_args(demo_info, pem, key)
    args[args.index("--tenant") + 1] = f" {{{demo_info.tenant_id.upper()}}}\u200e\n"
    args[args.index("--client-id") + 1] = f'"{demo_info.client_id}"\ufeff'
    code, out, _ = run_cli(capsys, *args, "--no-negative")
    assert code == 0
    assert "negative test skipped" in out


def test_wrong_client_id_exits_1_and_negative_is_inconclusive(
    capsys: pytest.CaptureFixture[str], demo_info: DemoInfo, files: tuple[Path, Path]
) -> None:
    code, out, _ = run_cli(
        capsys, *base_args(demo_info, *files, client_id=str(uuid.uuid4())), "--json"
    )
    document = json.loads(out)
    assert code == 1 and document["verdict"] == "fail"
    assert document["positive"]["error"]["code"] == "AADSTS700016"
    assert document["negative_verdict"] == "inconclusive"
    assert {n["observed_code"] for n in document["negative"]} == {"AADSTS700016"}


def test_wrong_tenant_exits_1_and_skips_the_negative_test(
    capsys: pytest.CaptureFixture[str], demo_info: DemoInfo, files: tuple[Path, Path]
) -> None:
    args = base_args(demo_info, *files)
    args[args.index("--tenant") + 1] = str(uuid.uuid4())
    code, out, _ = run_cli(capsys, *args)
    assert code == 1
    assert "✗ Tenant discovery" in out and "Tenant not found" in out
    assert "Why:" in out and "Fix:" in out
    assert "negative test not run" in out


def test_unconsented_app_exits_1_but_says_the_certificate_works(
    capsys: pytest.CaptureFixture[str],
    tmp_path: Path,
    demo_info: DemoInfo,
    demo_certificate: MakeCert,
) -> None:
    cert = demo_certificate("CliNoConsent", client_id=demo_info.unconsented_client_id, days=90)
    pem, key = write_files(tmp_path, cert)
    code, out, _ = run_cli(
        capsys,
        *base_args(demo_info, pem, key, client_id=demo_info.unconsented_client_id),
        "--no-negative",
    )
    assert code == 1
    assert "! Graph: read the organization" in out
    assert "admin consent" in out
    last = verdict_of(out)
    assert last.startswith("FAIL: Signed in fine") and "certificate itself works" in last


def test_pfx_with_passphrase_from_the_environment(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    demo_info: DemoInfo,
    demo_certificate: MakeCert,
) -> None:
    cert = demo_certificate("CliPfx", days=90)
    pfx = tmp_path / "cert.pfx"
    pfx.write_bytes(certs.pfx_bytes(cert.private_key, cert.certificate, b"s3cret pass", "CliPfx"))
    monkeypatch.setenv(PASS_ENV, "s3cret pass")
    args = [*custom_cloud_args(demo_info), "--tenant", demo_info.tenant_id]
    code, out, err = run_cli(
        capsys,
        *args,
        "--client-id",
        demo_info.client_id,
        "--pfx",
        str(pfx),
        "--passphrase-env",
        PASS_ENV,
        "--no-negative",
        "--json",
    )
    assert code == 0, err
    assert json.loads(out)["verdict"] == "pass"
    assert "s3cret" not in out + err


def test_wrong_passphrase_is_one_clear_line(
    capsys: pytest.CaptureFixture[str],
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    demo_info: DemoInfo,
    demo_certificate: MakeCert,
) -> None:
    pem, key = write_files(tmp_path, demo_certificate("CliLocked", days=90), b"the right one")
    monkeypatch.setenv(PASS_ENV, "the wrong one")
    code, out, err = run_cli(capsys, *base_args(demo_info, pem, key), "--passphrase-env", PASS_ENV)
    assert code == 1 and out == ""
    assert err.startswith("error: The passphrase does not open") and "Traceback" not in err
    assert "wrong one" not in err


def test_missing_key_file(
    capsys: pytest.CaptureFixture[str], demo_info: DemoInfo, files: tuple[Path, Path]
) -> None:
    pem, key = files
    code, _, err = run_cli(capsys, *base_args(demo_info, pem, key.with_name("gone.key")))
    assert code == 1 and "gone.key does not exist" in err and "hint:" in err


@pytest.mark.parametrize(
    ("argv", "words"),
    [
        (["--tenant", "contoso.com", "--client-id", str(uuid.uuid4())], "Which certificate"),
        (["--cert", "x.pem"], "--key"),
        (["--pfx", "x.pfx", "--cert", "x.pem"], "either --pfx"),
        (["--demo", "--cloud", "usgov", "--pfx", "x.pfx"], "--demo and --cloud"),
        (["--authority-host", "https://x", "--pfx", "x.pfx"], "--graph-endpoint"),
        (["--cloud", "china", "--authority-host", "https://x", "--pfx", "x.pfx"], "--cloud and"),
        (["--pfx", "x.pfx", "--timeout", "0"], "--timeout"),
    ],
)
def test_usage_errors_exit_2(
    capsys: pytest.CaptureFixture[str], argv: list[str], words: str
) -> None:
    code, out, err = run_cli(capsys, *argv)
    assert code == 2 and out == ""
    assert words in err and "Traceback" not in err


def test_missing_or_bad_ids_exit_2_naming_the_field(
    capsys: pytest.CaptureFixture[str], demo_info: DemoInfo, files: tuple[Path, Path]
) -> None:
    pem, key = files
    common = [*custom_cloud_args(demo_info), "--cert", str(pem), "--key", str(key)]
    code, _, err = run_cli(capsys, *common, "--client-id", demo_info.client_id)
    assert code == 2 and "--tenant is required" in err
    code, _, err = run_cli(
        capsys, *common, "--tenant", "admin@contoso.com", "--client-id", demo_info.client_id
    )
    assert code == 2 and "Directory (tenant) ID" in err and "contoso.com" in err
    code, _, err = run_cli(capsys, *common, "--tenant", demo_info.tenant_id, "--client-id", "x")
    assert code == 2 and "Application (client) ID" in err


def test_profile_seam(
    capsys: pytest.CaptureFixture[str], demo_info: DemoInfo, files: tuple[Path, Path]
) -> None:
    """--profile asks wizard.profiles; an unknown name is that module's clear error."""
    code, _, err = run_cli(capsys, "--profile", "no-such-profile")
    assert code in (1, 2) and err.startswith("error:") and "Traceback" not in err


class _TriggerOnWrite(io.StringIO):
    """stdout that runs `action` once when `marker` is printed: lets a fault start exactly
    between the positive and the negative test of one real run."""

    def __init__(self, marker: str, action: Callable[[], None]) -> None:
        super().__init__()
        self.marker, self.action, self.fired = marker, action, False

    def write(self, text: str) -> int:
        if not self.fired and self.marker in text:
            self.fired = True
            self.action()
        return super().write(text)


def test_throttled_negative_test_is_inconclusive_exit_4(
    monkeypatch: pytest.MonkeyPatch,
    demo_tenant: DemoTenant,
    demo_info: DemoInfo,
    files: tuple[Path, Path],
) -> None:
    stdout = _TriggerOnWrite(
        "Negative test:",
        lambda: demo_tenant.set_fault(
            Fault(kind="status", endpoint="token", status=429, retry_after=600)
        ),
    )
    monkeypatch.setattr(sys, "stdout", stdout)
    try:
        code = main(["test", *base_args(demo_info, *files)])
    finally:
        demo_tenant.set_fault(None)
    out = stdout.getvalue()
    assert stdout.fired
    assert code == 4, out
    assert "+ Graph: read the organization" in out  # StringIO has no encoding: ASCII marks
    assert out.count("Too many requests") == 3 and out.count("Why:") == 1  # explained once
    assert verdict_of(out).startswith("INCONCLUSIVE: the certificate works, but 3 negative")


def test_ca_bundle_help_names_a_proxy_too(
    capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
) -> None:
    """--ca-bundle also trusts a company proxy in front of a named cloud: the help says so."""
    monkeypatch.setenv("COLUMNS", "200")  # one help line per option, unwrapped
    with pytest.raises(SystemExit) as exit_info:
        main(["test", "--help"])
    assert exit_info.value.code == 0
    rows = capsys.readouterr().out.splitlines()
    line = next(row for row in rows if row.strip().startswith("--ca-bundle"))
    assert "CA bundle to trust (a proxy's CA, or the custom hosts')" in line
