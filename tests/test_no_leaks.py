"""Nothing leaked: no private key, passphrase or full token in any file, output or screen.

After real CLI runs (generate, inspect, test, with errors and --debug, and with a demo
tenant that hands out tokens it must refuse, so tokens are in the air) and a wizard run down
the alarm path, the whole temporary home and output folder are scanned, with every line
the commands printed and every screen the wizard showed. The happy wizard path is scanned
by tests/test_wizard_e2e.py; this covers the CLI and the failure and alarm paths.

What counts as a leak: the passphrase; any 64-character line of the private key's PEM (a
base64 copy of the key, wrapped or not, contains them); the private exponent in hex; any
whole JWT (an access token or a client assertion).
"""

from __future__ import annotations

import contextlib
import html
import io
import re
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from cryptography.hazmat.primitives import serialization

from wizard import certs, cli
from wizard.emulator import DemoInfo, DemoTenant, Fault
from wizard.portal import PortalClient

PASSPHRASE = "leak-Passphrase-93c1e7"
PASS_ENV = "ECW_LEAK_PASSPHRASE"
WRONG_ENV = "ECW_LEAK_WRONG"
WRONG = "wrong-Passphrase-0a0a0a"
JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{16,}")


def secret_fragments(key_file: Path, cert_file: Path) -> list[str]:
    """What must never show: the passphrases, the private key's 64-character PEM lines (but
    not those that only encode the public modulus, which the certificate holds too), d."""
    key = certs.load_private_key_file(key_file, PASSPHRASE.encode())
    cert = certs.load_certificate_file(cert_file)
    public = "".join(
        "".join(pem.decode().splitlines()[1:-1]) for pem in (
            certs.cert_pem(cert),
            key.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.SubjectPublicKeyInfo),
            key.public_key().public_bytes(serialization.Encoding.PEM,
                                          serialization.PublicFormat.PKCS1)))
    plain = key.private_bytes(serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
                              serialization.NoEncryption()).decode()
    pkcs1 = key.private_bytes(serialization.Encoding.PEM,
                              serialization.PrivateFormat.TraditionalOpenSSL,
                              serialization.NoEncryption()).decode()
    lines = {line for pem in (plain, pkcs1, key_file.read_text()) for line in pem.splitlines()
             if len(line) == 64 and line not in public}
    d = f"{key.private_numbers().d:x}"
    return [PASSPHRASE, WRONG, d[:40], d[:40].upper(), *sorted(lines)]


def leaks_in(text: str, fragments: list[str]) -> list[str]:
    flat = re.sub(r"\s+", "", text)
    found = [f"a JWT: {match[:20]}..." for match in JWT.findall(flat)]
    found += [f"secret fragment {fragment[:12]}..." for fragment in fragments
              if fragment in text or fragment in flat]
    return found


def run_cli(*argv: str) -> str:
    """In-process `entra-cert-wizard ARGV`: everything it printed, stdout and stderr."""
    out, err = io.StringIO(), io.StringIO()
    with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
        try:
            cli.main(list(argv))
        except SystemExit:
            pass
        except Exception as error:  # --debug re-raises: the traceback text is output too
            import traceback

            err.write("".join(traceback.format_exception(error)))
    return out.getvalue() + err.getvalue()


@pytest.fixture
def accept_anything(demo_tenant: DemoTenant) -> Iterator[Callable[[], None]]:
    yield lambda: demo_tenant.set_fault(Fault(kind="accept-any", endpoint="token"))
    demo_tenant.set_fault(None)


def test_cli_runs_leak_nothing(
    isolated_home: Path, tmp_path: Path, demo_info: DemoInfo, monkeypatch: pytest.MonkeyPatch,
    accept_anything: Callable[[], None],
) -> None:
    monkeypatch.setenv(PASS_ENV, PASSPHRASE)
    monkeypatch.setenv(WRONG_ENV, WRONG)
    out = tmp_path / "certificates"
    outputs: dict[str, str] = {}

    def run(label: str, *argv: str) -> None:
        outputs[label] = run_cli(*argv)

    run("generate", "generate", "--name", "LeakTest", "--out", str(out),
        "--passphrase-env", PASS_ENV)
    run("generate --json --force", "generate", "--name", "LeakTest", "--out", str(out),
        "--passphrase-env", PASS_ENV, "--force", "--json")
    folder = out / "LeakTest"
    cer, pem, key, pfx = (folder / f"LeakTest.{s}" for s in ("cer", "pem", "key", "pfx"))
    for flags in ([], ["--json"]):
        run(f"inspect cert+key {flags}", "inspect", str(cer), "--key", str(key),
            "--passphrase-env", PASS_ENV, *flags)
        run(f"inspect pfx {flags}", "inspect", str(pfx), "--passphrase-env", PASS_ENV, *flags)
    for flags in ([], ["--debug"]):
        run(f"inspect pfx, wrong passphrase {flags}", "inspect", str(pfx),
            "--passphrase-env", WRONG_ENV, *flags)
        run(f"inspect key, wrong passphrase {flags}", "inspect", str(cer), "--key", str(key),
            "--passphrase-env", WRONG_ENV, *flags)
    PortalClient.for_demo(demo_info).upload_certificate(
        demo_info.client_id, cer.read_bytes())
    tenant = ["--authority-host", demo_info.authority_host, "--graph-endpoint",
              demo_info.graph_endpoint, "--ca-bundle", demo_info.ca_bundle,
              "--tenant", demo_info.tenant_id, "--client-id", demo_info.client_id]
    for flags in ([], ["--json"]):
        run(f"test {flags}", "test", "--cert", str(pem), "--key", str(key),
            "--passphrase-env", PASS_ENV, *tenant, *flags)
        run(f"test with the pfx {flags}", "test", "--pfx", str(pfx),
            "--passphrase-env", PASS_ENV, *tenant, *flags)
    run("test, wrong passphrase --debug", "test", "--pfx", str(pfx), "--passphrase-env",
        WRONG_ENV, *tenant, "--debug")
    accept_anything()  # now every probe gets a token: the alarm path must not print one
    for flags in ([], ["--json"]):
        run(f"test, tenant accepts anything {flags}", "test", "--cert", str(pem), "--key",
            str(key), "--passphrase-env", PASS_ENV, *tenant, *flags)
    assert "ALARM" in outputs["test, tenant accepts anything []"]
    assert '"alarm": true' in outputs["test, tenant accepts anything ['--json']"]
    assert '"verdict": "pass"' in outputs["test ['--json']"]

    fragments = secret_fragments(key, cer)
    assert leaks_in(key.read_text(), fragments), "the scanner must find the key in its own file"
    for label, text in outputs.items():
        assert not leaks_in(text, fragments), (label, leaks_in(text, fragments))
    scanned = scan_files([isolated_home, tmp_path], fragments, allowed={key, pfx})
    print(f"no leak in {len(outputs)} CLI outputs and {scanned} files")
    assert scanned >= 4


def scan_files(roots: list[Path], fragments: list[str], allowed: set[Path]) -> int:
    """Every file under `roots` except the key/PFX themselves (and their backups)."""
    count = 0
    for root in roots:
        for path in root.rglob("*"):
            if not path.is_file() or path in allowed or path.suffix in (".key", ".pfx"):
                continue
            text = path.read_bytes().decode("utf-8", errors="replace")
            assert not leaks_in(text, fragments), (path, leaks_in(text, fragments))
            count += 1
    return count


# ------------------------------------------------------------------ the wizard, down the alarm path


def screen_text(svg: str) -> str:
    rows = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return "\n".join(html.unescape(re.sub(r"<[^>]+>", "", row)) for row in rows)


async def test_wizard_alarm_path_leaks_nothing(
    isolated_home: Path, demo_info: DemoInfo, accept_anything: Callable[[], None],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from textual.pilot import Pilot

    from wizard.app import CertWizardApp

    monkeypatch.setenv("DISPLAY", "")
    monkeypatch.setenv("WAYLAND_DISPLAY", "")
    app = CertWizardApp(demo=True, demo_info=demo_info)
    screens: dict[str, str] = {}

    async def until(pilot: Pilot[None], check: Callable[[], bool], seconds: float = 30) -> None:
        for _ in range(int(seconds / 0.02)):
            if check():
                return
            await pilot.pause(0.02)
        raise AssertionError(f"stuck on {type(app.screen).__name__}")

    def on(name: str) -> Callable[[], bool]:
        return lambda: type(app.screen).__name__ == name

    def idle() -> bool:
        return not any(w.node is app.screen and not w.is_finished for w in app.workers)

    async def capture(pilot: Pilot[None]) -> None:
        await until(pilot, idle)
        await pilot.pause()
        screens[type(app.screen).__name__] = screen_text(app.export_screenshot())

    async with app.run_test(size=(100, 40)) as pilot:
        await until(pilot, on("WelcomeScreen"))
        await pilot.press("enter")
        await until(pilot, on("NameScreen"))
        await pilot.pause()
        app.screen.query_one("#passphrase").focus()
        await pilot.press(*PASSPHRASE)
        app.screen.query_one("#confirm").focus()
        await pilot.press(*PASSPHRASE)
        await capture(pilot)  # passwords typed: masked on screen
        await pilot.press("enter")
        await until(pilot, lambda: app.state.files is not None)
        await capture(pilot)
        await pilot.press("enter")
        await until(pilot, on("UploadScreen"))
        await pilot.press("enter")
        await until(pilot, lambda: app.state.uploaded_thumbprint is not None)
        await capture(pilot)
        await pilot.press("enter")
        await until(pilot, on("ThumbprintScreen"))
        await pilot.press("enter")
        await until(pilot, on("IdsScreen"))
        await pilot.press("enter")
        await pilot.pause()
        await pilot.press("enter")
        await until(pilot, on("PositiveScreen"))
        await capture(pilot)
        accept_anything()
        await pilot.press("enter")
        await until(pilot, lambda: type(app.screen).__name__ in ("AlarmScreen", "NegativeScreen"))
        await capture(pilot)
        await until(pilot, on("AlarmScreen"), 20)
        await capture(pilot)
        await pilot.press("escape")
        await pilot.pause()
        await capture(pilot)
        app.exit()

    files = app.state.files
    assert files is not None and "AlarmScreen" in screens
    assert app.state.negative is not None and app.state.negative.alarm
    fragments = secret_fragments(files.key, files.cer)
    assert leaks_in(files.key.read_text(), fragments) and leaks_in(PASSPHRASE, fragments)
    for name, text in screens.items():
        assert not leaks_in(text, fragments), (name, leaks_in(text, fragments))
    scanned = scan_files([isolated_home], fragments, allowed={files.key, files.pfx or files.key})
    print(f"no leak on {len(screens)} screens and in {scanned} files")


# ------------------------------------------------------------------ an admin's sign-in


def test_no_admin_token_or_refresh_token_is_written(
    isolated_home: Path, demo_tenant: DemoTenant, tmp_path: Path
) -> None:
    """After an admin's device code sign-in and an upload, neither the admin's access token
    nor the refresh token that came with it is in any file of the home or the tenant's state."""
    import threading

    from conftest import make_test_certificate
    from test_admin_upload import decide, settings_for

    from wizard.admin.signin import AdminSignIn

    info = demo_tenant.info
    signin = AdminSignIn(settings_for(info))
    prompt = signin.start()
    answers: list[dict[str, str]] = []
    assert signin._http is not None
    signin._http.session.hooks["response"].append(
        lambda response, **_: answers.append(response.json()) if "token" in response.url else None
    )
    decide(info, prompt.user_code)
    graph = signin.wait(threading.Event())
    answer = next(a for a in answers if "access_token" in a)
    secrets = [answer["access_token"], answer.get("refresh_token") or answer["access_token"]]
    # Nothing keeps the answer once the sign-in is over, but the graph's own token.
    assert signin._http.token_answer is None and signin._http.last is None
    cert, _ = make_test_certificate("AdminNoLeak")
    graph.add_certificate(info.client_id, certs.cert_der(cert), display_name="AdminNoLeak")
    graph.close()
    assert secrets[0][:40] not in repr(graph)
    scanned = 0
    for root in (isolated_home, demo_tenant.state_dir, tmp_path):
        for path in root.rglob("*"):
            if path.is_file():
                text = path.read_bytes().decode("utf-8", errors="replace")
                assert not any(secret in text for secret in secrets), path
                scanned += 1
    print(f"no admin token in {scanned} files")
    assert scanned >= 1
