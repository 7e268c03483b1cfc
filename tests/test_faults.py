"""Faults, for real: the demo tenant misbehaving on purpose and real sockets that fail.

Each fault must end in a clear, catalogued message, never a traceback, and the wizard must
stay responsive while a request hangs. What the engine alone already proves is in
tests/test_catalogue.py (every catalogue entry provoked: DNS, refused, TLS, proxy, timeout,
5xx/429, not JSON, reset) and tests/test_connection.py (cancelling); this module adds:

- the `entra-cert-wizard test` command under every fault, as a real process, side by side
  (one demo tenant per fault, all sharing one state folder): exit code, no traceback, the
  catalogue's title on screen; Ctrl+C while a request hangs; output into a closed pipe;
- the engine's recoveries (a dropped connection or a 429 once, then success) and the
  negative test under faults (never "pass", never a false alarm: inconclusive, explained);
- the whole wizard (pilot): help, Back and quit while the token request hangs.
"""

from __future__ import annotations

import dataclasses
import json
import os
import signal
import socket
import subprocess
import sys
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest

from wizard import certs
from wizard.emulator import DemoInfo, DemoTenant, Fault
from wizard.portal import PortalClient
from wizard.signin import catalogue
from wizard.signin.clouds import demo_cloud
from wizard.signin.negative import run_negative
from wizard.signin.plan import CheckStatus, exit_code_for
from wizard.signin.positive import run_positive
from wizard.signin.settings import ConnectionSettings, Credential

CLI = "import sys, wizard.cli; sys.exit(wizard.cli.main(sys.argv[1:]))"
UNRESOLVABLE = "https://login.entra-cert-wizard.invalid"


def flat(text: str) -> str:
    """Whitespace folded, so a title wrapped over two lines still matches."""
    return " ".join(text.split())


def closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


# ------------------------------------------------------------------ the CLI, one process per fault


@dataclass(frozen=True)
class CliFault:
    """One `entra-cert-wizard test` run: the fault its own demo tenant serves, what to expect."""

    fault: Fault | None
    exit_code: int
    says: tuple[str, ...]  # catalogue titles (and other words) the output must hold
    timeout: float = 5.0
    host: str | None = None  # another authority host (refused, unresolvable)
    trust: bool = True  # pass the demo CA bundle
    extra: tuple[str, ...] = ()
    max_seconds: float = 15.0  # generous: the cases run side by side on a busy machine


CLI_FAULTS: dict[str, CliFault] = {
    "slow token answer beyond --timeout": CliFault(
        Fault(kind="delay", endpoint="token", seconds=4.0), 4,
        (catalogue.TIMEOUT.title, "INCONCLUSIVE: the service was never reached"),
        timeout=1.0, max_seconds=8),  # 1 s for the positive test, 1 s for each probe
    "slow discovery beyond --timeout": CliFault(
        Fault(kind="delay", endpoint="discovery", seconds=4.0), 4, (catalogue.TIMEOUT.title,),
        timeout=1.0, max_seconds=8),
    "connection refused": CliFault(None, 4, (catalogue.CONNECTION_REFUSED.title,
                                             "proves nothing about the certificate"),
                                   host=f"https://127.0.0.1:{closed_port()}"),
    "reset mid-response, every time": CliFault(
        Fault(kind="reset", endpoint="token"), 4,
        (catalogue.CONNECTION_RESET.title, "retrying in 2 s", "retrying in 4 s"),
        extra=("--no-negative",)),  # with the probes: 3 x 6 s more of the same retries
    "reset mid-response, once": CliFault(
        Fault(kind="reset", endpoint="token", count=1), 0,
        (catalogue.CONNECTION_RESET.title, "retrying in 2 s", "PASS")),
    "HTTP 500 from the token endpoint": CliFault(
        Fault(kind="status", endpoint="token", status=500, retry_after=0), 1,
        (catalogue.explain_http_status(500, None).title, "retry 2 of 2")),
    "HTTP 503 from Graph after sign-in": CliFault(
        Fault(kind="status", endpoint="graph", status=503, retry_after=0), 1,
        (catalogue.explain_http_status(503, None).title, "the certificate itself works")),
    "429 with a long Retry-After": CliFault(
        Fault(kind="status", endpoint="token", status=429, retry_after=120), 1,
        (catalogue.explain_http_status(429, "120").title, "120 seconds"), max_seconds=8),
    "429 with Retry-After 1, once": CliFault(
        Fault(kind="status", endpoint="token", status=429, retry_after=1, count=1), 0,
        (catalogue.explain_http_status(429, "1").title, "retrying in 1 s", "PASS")),
    "a token answer that is not JSON": CliFault(
        Fault(kind="not-json", endpoint="token"), 1,
        (catalogue.explain_not_json(200).title, "Proxy login page")),
    "a discovery answer that is not JSON": CliFault(
        Fault(kind="not-json", endpoint="discovery"), 1, (catalogue.explain_not_json(200).title,)),
    "untrusted TLS certificate": CliFault(None, 4, (catalogue.TLS_FAILURE.title,), trust=False),
    "unresolvable host": CliFault(
        None, 4, (catalogue.DNS_FAILURE.title, "INCONCLUSIVE: the service was never reached"),
        host=UNRESOLVABLE),
    "the tenant accepts anything": CliFault(
        Fault(kind="accept-any", endpoint="token"), 3,
        ("ALARM: a token was issued", "ALARM: a request WITHOUT the certificate")),
    "an AADSTS refusal (1000502)": CliFault(
        Fault(kind="aadsts", endpoint="token", code=1000502), 1,
        (catalogue.explain_aadsts(1000502).title, "AADSTS1000502")),
    "an AADSTS code nobody knows": CliFault(
        Fault(kind="aadsts", endpoint="token", code=9999999), 1,
        ("AADSTS9999999", "login.microsoftonline.com/error?code=9999999")),
    "fresh upload not yet accepted, --just-uploaded": CliFault(
        Fault(kind="upload-propagation", endpoint="token", seconds=0.0), 0,
        ("not accepted yet", "PASS"), extra=("--just-uploaded",), max_seconds=25),
}


@dataclass
class CliOutcome:
    code: int
    stdout: str
    stderr: str
    seconds: float


@dataclass
class FaultBench:
    """One state folder, one demo tenant per fault (same directory, own port, own fault)."""

    state: Path
    cert: Path
    key: Path


@pytest.fixture(scope="module")
def fault_bench(tmp_path_factory: pytest.TempPathFactory) -> FaultBench:
    root = tmp_path_factory.mktemp("faults")
    generated = certs.generate_certificate("FaultsCert", days=90)
    cert, key = root / "faults.pem", root / "faults.key"
    cert.write_bytes(certs.cert_pem(generated.certificate))
    key.write_bytes(certs.key_pem(generated.private_key, None))
    bench = FaultBench(root / "state", cert, key)
    with DemoTenant(bench.state) as first:
        info = first.info
        PortalClient(info.portal, info.ca_bundle).upload_certificate(
            info.client_id, certs.cert_der(generated.certificate))
    return bench


def run_cli_fault(bench: FaultBench, case: CliFault) -> CliOutcome:
    with DemoTenant(bench.state) as tenant:
        info = tenant.info
        fault = case.fault
        if fault is not None and fault.kind == "upload-propagation":
            # Hide the (earlier) upload for four more seconds: the first attempts get 700027.
            fault = dataclasses.replace(fault, seconds=time.time() - upload_time(tenant) + 4.0)
        tenant.set_fault(fault)
        host = case.host or info.authority_host
        argv = [
            "test", "--authority-host", host, "--graph-endpoint", f"{host}/graph",
            "--tenant", info.tenant_id, "--client-id", info.client_id,
            "--cert", str(bench.cert), "--key", str(bench.key), "--timeout", str(case.timeout),
            *(["--ca-bundle", info.ca_bundle] if case.trust else []), *case.extra,
        ]
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-c", CLI, *argv], capture_output=True,
                              text=True, timeout=60, env={**os.environ, "COLUMNS": "100"})
        return CliOutcome(done.returncode, done.stdout, done.stderr, time.monotonic() - started)


def upload_time(tenant: DemoTenant) -> float:
    app = tenant.directory.application(tenant.info.client_id)
    assert app is not None and app.key_credentials
    return max(key.added_at for key in app.key_credentials)


@pytest.fixture(scope="module")
def cli_outcomes(fault_bench: FaultBench) -> dict[str, CliOutcome]:
    """Every case at once (the waits overlap): about as long as the slowest case."""
    with ThreadPoolExecutor(max_workers=8) as pool:
        futures = {name: pool.submit(run_cli_fault, fault_bench, case)
                   for name, case in CLI_FAULTS.items()}
        return {name: future.result() for name, future in futures.items()}


@pytest.mark.parametrize("name", list(CLI_FAULTS))
def test_cli_test_under_fault(name: str, cli_outcomes: dict[str, CliOutcome]) -> None:
    case, outcome = CLI_FAULTS[name], cli_outcomes[name]
    shown = outcome.stdout + outcome.stderr
    assert "Traceback" not in shown, shown
    assert outcome.code == case.exit_code, shown
    for words in case.says:
        assert flat(words) in flat(shown), (words, shown)
    if case.exit_code in (1, 4):
        assert "Why:" in outcome.stdout and "Fix:" in outcome.stdout, shown
        assert "Unexpected error" not in shown
    assert outcome.seconds < case.max_seconds, outcome.seconds


def test_ctrl_c_while_a_request_hangs(fault_bench: FaultBench) -> None:
    """SIGINT during a hung token request: one line, exit 130, promptly, no traceback."""
    with DemoTenant(fault_bench.state) as tenant:
        info = tenant.info
        tenant.set_fault(Fault(kind="delay", endpoint="token", seconds=20.0))
        process = subprocess.Popen(
            [sys.executable, "-c", CLI, "test", "--authority-host", info.authority_host,
             "--graph-endpoint", info.graph_endpoint, "--ca-bundle", info.ca_bundle,
             "--tenant", info.tenant_id, "--client-id", info.client_id,
             "--cert", str(fault_bench.cert), "--key", str(fault_bench.key)],
            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
        assert process.stdout is not None
        for line in process.stdout:  # wait until the token request is on its way
            if "Tenant discovery" in line:
                break
        time.sleep(0.3)
        interrupted = time.monotonic()
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=10)
        took = time.monotonic() - interrupted
    assert process.returncode == 130, stderr
    assert "Traceback" not in stdout + stderr
    assert "Interrupted" in stderr
    assert took < 2.0


def test_output_into_a_closed_pipe_is_quiet(fault_bench: FaultBench) -> None:
    """`entra-cert-wizard inspect X | head -0`: the reader is gone; no traceback."""
    read_end, write_end = os.pipe()
    os.close(read_end)
    try:
        done = subprocess.run([sys.executable, "-c", CLI, "inspect", str(fault_bench.cert)],
                              stdout=write_end, stderr=subprocess.PIPE, text=True, timeout=60)
    finally:
        os.close(write_end)
    assert "Traceback" not in done.stderr and "Exception ignored" not in done.stderr
    assert done.returncode == 141


# ------------------------------------------------------------------ the engine's recoveries


@pytest.fixture(scope="module")
def credential(demo_info: DemoInfo) -> Credential:
    generated = certs.generate_certificate("FaultsEngine", days=90)
    PortalClient.for_demo(demo_info).upload_certificate(
        demo_info.client_id, certs.cert_der(generated.certificate))
    return Credential(generated.certificate, generated.private_key)


def settings_for(info: DemoInfo, timeout: float = 5.0) -> ConnectionSettings:
    return ConnectionSettings(demo_cloud(info), info.tenant_id, info.client_id, timeout)


def test_a_dropped_discovery_is_retried_and_passes(
    demo_info: DemoInfo, credential: Credential, fault: Callable[[Fault], None]
) -> None:
    fault(Fault(kind="reset", endpoint="discovery", count=1))
    updates: list[str] = []
    result = run_positive(settings_for(demo_info), credential,
                          on_update=lambda step: updates.append(step.detail))
    assert result.ok, result.error
    assert any(catalogue.CONNECTION_RESET.title in u and "retrying" in u for u in updates)


def test_retry_after_is_honoured_then_passes(
    demo_info: DemoInfo, credential: Credential, fault: Callable[[Fault], None]
) -> None:
    fault(Fault(kind="status", endpoint="token", status=429, retry_after=1, count=1))
    started = time.monotonic()
    result = run_positive(settings_for(demo_info), credential)
    assert result.ok, result.error
    assert time.monotonic() - started >= 1.0  # it waited as asked


def test_graph_hanging_beyond_the_timeout_after_sign_in(
    demo_info: DemoInfo, credential: Credential, fault: Callable[[Fault], None]
) -> None:
    fault(Fault(kind="delay", endpoint="graph", seconds=3.0))
    started = time.monotonic()
    result = run_positive(settings_for(demo_info, timeout=0.5), credential)
    assert result.signed_in and not result.ok
    graph = {step.key: step for step in result.checks}["graph"]
    assert graph.status is CheckStatus.FAIL
    assert result.error is not None and result.error.code == catalogue.TIMEOUT.code
    assert time.monotonic() - started < 2.5


NEGATIVE_FAULTS = {
    "500 on every token request": (Fault(kind="status", endpoint="token", status=500,
                                         retry_after=0), 5.0),
    "token answers that are not JSON": (Fault(kind="not-json", endpoint="token"), 5.0),
    "token requests that hang beyond the timeout": (
        Fault(kind="delay", endpoint="token", seconds=2.0), 0.5),
    "a throttled token endpoint (long Retry-After)": (
        Fault(kind="status", endpoint="token", status=429, retry_after=300), 5.0),
}


@pytest.mark.parametrize("name", list(NEGATIVE_FAULTS))
def test_negative_test_under_a_fault_is_inconclusive_never_pass_or_alarm(
    name: str, demo_info: DemoInfo, credential: Credential, fault: Callable[[Fault], None]
) -> None:
    chosen, timeout = NEGATIVE_FAULTS[name]
    positive = run_positive(settings_for(demo_info), credential)
    assert positive.ok
    fault(chosen)
    negative = run_negative(settings_for(demo_info, timeout), credential)
    assert negative.verdict == "inconclusive" and not negative.alarm
    for probe in negative.probes:
        assert probe.inconclusive and not probe.passed
        assert probe.explanation is not None and probe.explanation.code != "UNEXPECTED"
        assert probe.explanation.title and probe.explanation.fix
    assert exit_code_for(positive, negative) == 4


# ------------------------------------------------------------------ the wizard, a request hanging

RESPONSIVE_SECONDS = 0.5


async def test_wizard_stays_responsive_back_and_quit_while_the_token_request_hangs(
    demo_tenant: DemoTenant, demo_info: DemoInfo, monkeypatch: pytest.MonkeyPatch
) -> None:
    from textual.pilot import Pilot

    from screens.checks import CheckRow
    from screens.dialogs import ConfirmScreen, HelpScreen
    from screens.ids import IdsScreen
    from screens.positive import PositiveScreen
    from wizard.app import CertWizardApp

    monkeypatch.setenv("DISPLAY", "")
    monkeypatch.setenv("WAYLAND_DISPLAY", "")
    app = CertWizardApp(demo=True, demo_info=demo_info)

    async def until(pilot: Pilot[None], check: Callable[[], bool], seconds: float) -> float:
        """Seconds until `check()` holds; fails after `seconds`."""
        started = time.monotonic()
        while not check():
            assert time.monotonic() - started < seconds, f"not within {seconds} s: {app.screen}"
            await pilot.pause(0.01)
        return time.monotonic() - started

    def on(kind: type[Any]) -> Callable[[], bool]:
        return lambda: isinstance(app.screen, kind)

    def token_running() -> bool:
        screen = app.screen
        return isinstance(screen, PositiveScreen) and any(
            row.key == "token" and row.status == "running" for row in screen.query(CheckRow)
        )

    try:
        async with app.run_test(size=(80, 24)) as pilot:
            await until(pilot, lambda: type(app.screen).__name__ == "WelcomeScreen", 10)
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "NameScreen", 10)
            await pilot.pause()
            app.screen.query_one("#passphrase").focus()
            await pilot.press(*"fault-pass")
            app.screen.query_one("#confirm").focus()
            await pilot.press(*"fault-pass", "enter")
            await until(pilot, lambda: type(app.screen).__name__ == "GenerateScreen", 10)
            await until(pilot, lambda: app.state.files is not None, 30)
            await pilot.pause()
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "UploadScreen", 10)
            await pilot.press("enter")  # the real upload
            await until(pilot, lambda: app.state.uploaded_thumbprint is not None, 20)
            await pilot.pause()
            await pilot.press("enter")
            await until(pilot, lambda: type(app.screen).__name__ == "ThumbprintScreen", 10)
            await pilot.press("enter")
            await until(pilot, on(IdsScreen), 10)
            await pilot.press("enter")  # fill from the demo tenant
            await pilot.pause()
            demo_tenant.set_fault(Fault(kind="delay", endpoint="token", seconds=5.0))
            await pilot.press("enter")
            await until(pilot, token_running, 10)

            # The token request hangs in its worker: keys are still handled at once.
            await pilot.press("f1")
            assert await until(pilot, on(HelpScreen), RESPONSIVE_SECONDS) < RESPONSIVE_SECONDS
            await pilot.press("escape")
            await until(pilot, on(PositiveScreen), RESPONSIVE_SECONDS)
            await pilot.press("escape")  # Back while it hangs
            await until(pilot, on(IdsScreen), RESPONSIVE_SECONDS)
            assert app.state.positive is None
            await pilot.press("enter")  # Next again: a new test, hanging again
            await until(pilot, token_running, 5)
            await pilot.press("ctrl+q")  # quit while it hangs: asks first (untested certificate)
            await until(pilot, on(ConfirmScreen), RESPONSIVE_SECONDS)
            quit_pressed = time.monotonic()
            await pilot.press("y")
        closed = time.monotonic() - quit_pressed
    finally:
        demo_tenant.set_fault(None)
    assert closed < 3.0, f"the app took {closed:.1f} s to close while a request hung"


# The same quit, measured where a user feels it: until the process has ended. The child
# runs the app on the event loop `entra-cert-wizard` itself uses (wizard.app.new_event_loop:
# thread workers that cannot hold up the exit), closes it as the command does, and writes the
# moment "y" was pressed to a file; the parent takes the time when the process is gone.
QUIT_WHILE_HANGING = """
import json, sys, time
from pathlib import Path
import wizard.app
from wizard.app import CertWizardApp
from wizard.emulator import DemoTenant, Fault

tenant = DemoTenant(Path(sys.argv[1]))
info = tenant.start()
marks = Path(sys.argv[3])

async def main():
    app = CertWizardApp(demo=True, demo_info=info)
    async with app.run_test(size=(80, 24)) as pilot:
        async def until(check):
            for _ in range(1500):
                if check():
                    return
                await pilot.pause(0.02)
            raise SystemExit("stuck on " + type(app.screen).__name__)
        name = lambda: type(app.screen).__name__
        await until(lambda: name() == "WelcomeScreen"); await pilot.press("enter")
        await until(lambda: name() == "NameScreen"); await pilot.pause()
        app.screen.query_one("#passphrase").focus(); await pilot.press(*"quit-pass")
        app.screen.query_one("#confirm").focus(); await pilot.press(*"quit-pass", "enter")
        await until(lambda: app.state.files is not None); await pilot.pause()
        await pilot.press("enter")
        await until(lambda: name() == "UploadScreen"); await pilot.press("enter")
        await until(lambda: app.state.uploaded_thumbprint is not None); await pilot.pause()
        await pilot.press("enter")
        await until(lambda: name() == "ThumbprintScreen"); await pilot.press("enter")
        await until(lambda: name() == "IdsScreen"); await pilot.press("enter"); await pilot.pause()
        tenant.set_fault(Fault(kind="delay", endpoint="token", seconds=float(sys.argv[2])))
        await pilot.press("enter")
        await until(lambda: name() == "PositiveScreen"); await pilot.pause(0.5)
        await pilot.press("ctrl+q")
        await until(lambda: name() == "ConfirmScreen")
        marks.write_text(json.dumps({"quit": time.time()}))
        await pilot.press("y")

loop = wizard.app.new_event_loop()
try:
    loop.run_until_complete(main())
    loop.run_until_complete(loop.shutdown_default_executor())
finally:
    loop.close()
"""


def test_quit_while_a_request_hangs_ends_the_process_promptly(tmp_path: Path) -> None:
    hang = 6.0
    marks = tmp_path / "marks.json"
    done = subprocess.run([sys.executable, "-c", QUIT_WHILE_HANGING, str(tmp_path / "state"),
                           str(hang), str(marks)], capture_output=True, text=True, timeout=90,
                          env={**os.environ, "DISPLAY": "", "WAYLAND_DISPLAY": ""})
    ended = time.time()
    assert done.returncode == 0, done.stderr[-2000:]
    took = ended - json.loads(marks.read_text())["quit"]
    assert took < 2.0, f"the process ended {took:.1f} s after quit, the request hung {hang} s"
