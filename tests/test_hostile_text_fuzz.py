"""Random hostile text through every place outside text is shown: `shown` itself, `inspect`,
`test`, `profiles`, `rotate`, the demo tenant's request log and the wizard's Welcome step.
Nothing may crash, and no raw control or bidi character may come out (bounded example
counts: the file runs in well under a minute)."""

from __future__ import annotations

import asyncio
import contextlib
import io
import json
import logging
import socket
import ssl
import uuid
from collections.abc import Iterator
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from conftest import make_test_certificate
from cryptography import x509
from cryptography.hazmat.primitives import hashes
from cryptography.hazmat.primitives.serialization import NoEncryption, pkcs12
from cryptography.x509.oid import NameOID
from hostile_text import HOSTILE_PIECES, MARKUP_NAMES, raw_controls
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from screen_host import StepHost
from test_hostile_text_tui import assert_nothing_raw, save_profiles_named

from screens.welcome import WelcomeScreen
from wizard import certs, cli
from wizard.emulator import DemoTenant
from wizard.emulator.directory import STATE_FILE
from wizard.profiles import profiles_file
from wizard.session import WizardState
from wizard.shown import shown

FUZZ = settings(deadline=None, suppress_health_check=list(HealthCheck), max_examples=25)
FEW = settings(FUZZ, max_examples=8)

# Pieces of attacks, markup, any character at all (no lone surrogates: JSON files and
# certificates cannot hold them; `shown` is checked with them separately).
pieces = st.one_of(
    st.sampled_from(HOSTILE_PIECES),
    st.sampled_from(MARKUP_NAMES),
    st.characters(max_codepoint=0x9F),
    st.characters(blacklist_categories=("Cs",)),
)
hostile_text = st.lists(pieces, min_size=1, max_size=12).map("".join)


def run_main(*argv: str) -> tuple[int, str]:
    """cli.main in this process, stdout and stderr captured as the terminal would get them."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        code = cli.main(list(argv))
    return code, out.getvalue() + err.getvalue()


# -- shown --------------------------------------------------------------------------------


@FUZZ
@given(st.text())
def test_shown_leaves_nothing_raw_and_is_stable(text: str) -> None:
    once = shown(text)
    assert not raw_controls(once) and "\n" not in once and "\t" not in once
    assert shown(once) == once  # escaping twice changes nothing: safe to apply at each layer
    assert shown(text, multiline=True).count("\n") == text.count("\n")
    once.encode("utf-8")  # no lone surrogate left: it can be written to any UTF-8 terminal


@FUZZ
@given(st.text(alphabet=st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Zl", "Zp"))))
def test_shown_leaves_ordinary_text_alone(text: str) -> None:
    assert shown(text) == text


# -- the commands -------------------------------------------------------------------------


@FUZZ
@given(friendly_name=hostile_text, common_name=hostile_text)
def test_inspect_fuzz(tmp_path: Path, friendly_name: str, common_name: str) -> None:
    _, key = make_test_certificate()
    now = datetime.now(timezone.utc)
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, common_name[:16])])
    cert = (
        x509.CertificateBuilder().subject_name(name).issuer_name(name)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(minutes=1)).not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    path = tmp_path / "stranger.pfx"
    path.write_bytes(pkcs12.serialize_key_and_certificates(
        friendly_name.encode("utf-8"), key, cert, None, NoEncryption()
    ))
    code, output = run_main("inspect", str(path))
    assert code in (0, 1)
    assert not raw_controls(output), output


@FEW
@given(names=st.lists(hostile_text, min_size=1, max_size=3, unique=True), typed=hostile_text)
def test_profiles_and_rotate_fuzz(tmp_path: Path, names: list[str], typed: str) -> None:
    profiles_file().unlink(missing_ok=True)
    save_profiles_named(tmp_path, names)
    for argv in (["profiles"], ["rotate", names[0], "--step", "status"], ["rotate", typed]):
        code, output = run_main(*argv)
        assert code in (0, 1, 2), output
        assert not raw_controls(output), output


@pytest.fixture(scope="module")
def fuzz_tenant(tmp_path_factory: pytest.TempPathFactory) -> Iterator[DemoTenant]:
    with DemoTenant(tmp_path_factory.mktemp("fuzz-tenant")) as tenant:
        yield tenant


def rename_tenant(tenant: DemoTenant, display_name: str) -> None:
    """Give the running demo tenant another name (it picks up its state file's changes)."""
    state = Path(tenant.info.state_dir) / STATE_FILE
    data = json.loads(state.read_text(encoding="utf-8"))
    data["tenant"]["display_name"] = display_name
    state.write_text(json.dumps(data), encoding="utf-8")


@FEW
@given(display_name=hostile_text)
def test_test_fuzz(tmp_path: Path, fuzz_tenant: DemoTenant, display_name: str) -> None:
    """A server that names itself anything: its words come back in "Said:"."""
    info = fuzz_tenant.info
    cert, key = make_test_certificate("FuzzServer")
    pem, key_file = tmp_path / "c.pem", tmp_path / "c.key"
    pem.write_bytes(certs.cert_pem(cert))
    key_file.write_bytes(certs.key_pem(key, None))
    key_file.chmod(0o600)
    rename_tenant(fuzz_tenant, display_name)
    code, output = run_main(
        "test", "--cert", str(pem), "--key", str(key_file), "--tenant", info.tenant_id,
        "--client-id", str(uuid.uuid4()), "--authority-host", info.authority_host,
        "--graph-endpoint", info.graph_endpoint, "--ca-bundle", info.ca_bundle, "--no-negative",
    )
    assert code == 1 and "Said:" in output, output
    assert not raw_controls(output), output


class Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.lines: list[str] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.lines.append(record.getMessage())


@FUZZ
@given(path=hostile_text)
def test_request_log_fuzz(fuzz_tenant: DemoTenant, path: str) -> None:
    """Whatever bytes a client sends as its request line are logged escaped."""
    info = fuzz_tenant.info
    host, port = info.authority_host.removeprefix("https://").split(":")
    logger = logging.getLogger("wizard.emulator")
    records, level = Records(), logger.level
    logger.addHandler(records)
    logger.setLevel(logging.DEBUG)
    try:
        context = ssl.create_default_context(cafile=info.ca_bundle)
        line = f"GET /{path.replace(chr(10), '')} HTTP/1.1\r\nHost: {host}\r\n\r\n"
        with (
            socket.create_connection((host, int(port)), timeout=10) as raw,
            context.wrap_socket(raw, server_hostname=host) as tls,
        ):
            tls.sendall(line.encode("utf-8"))
            with contextlib.suppress(OSError):
                tls.recv(65536)
    finally:
        logger.removeHandler(records)
        logger.setLevel(level)
    for message in records.lines:
        assert not raw_controls(message), message


# -- the wizard ---------------------------------------------------------------------------


@FEW
@given(names=st.lists(hostile_text, min_size=1, max_size=3, unique=True))
def test_welcome_fuzz(tmp_path: Path, names: list[str]) -> None:
    profiles_file().unlink(missing_ok=True)
    save_profiles_named(tmp_path, names)

    async def show() -> None:
        app = StepHost(WelcomeScreen, WizardState(demo=False))
        async with app.run_test(size=(100, 30)) as pilot:
            await pilot.pause()
            assert_nothing_raw(app)

    asyncio.run(show())

