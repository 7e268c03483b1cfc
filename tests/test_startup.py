"""Start-up: the demo tenant never holds up the first frame, and its state is made once.

Real processes and the real app (driven by its pilot); the first-frame figures themselves are
measured by benchmarks/startup.py.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from screens.welcome import WelcomeScreen
from wizard.app import CertWizardApp
from wizard.emulator import DemoTenant
from wizard.emulator.directory import STATE_FILE
from wizard.emulator.tls import CA_FILE, CA_KEY_FILE, SERVER_FILE, SERVER_KEY_FILE
from wizard.emulator.tokens import SIGNING_CERT_FILE, SIGNING_KEY_FILE
from wizard.paths import HOME_ENV

ROOT = Path(__file__).resolve().parent.parent
STATE_FILES = (CA_FILE, CA_KEY_FILE, SERVER_FILE, SERVER_KEY_FILE, SIGNING_KEY_FILE,
               SIGNING_CERT_FILE, STATE_FILE)

# A program that starts a demo tenant in a daemon thread, as the Welcome step's worker does,
# and ends the moment the tenant has begun making its state (a wizard closed at once).
ENDS_DURING_FIRST_START = """
import sys, threading, time
from pathlib import Path
from wizard.emulator import DemoTenant
folder = Path(sys.argv[1])
threading.Thread(target=DemoTenant(folder).start, daemon=True).start()
deadline = time.monotonic() + 60
while not folder.exists() and time.monotonic() < deadline:
    time.sleep(0.001)
"""


def test_demo_state_is_complete_when_the_program_ends_during_its_first_start(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = tmp_path / "demo-tenant"
    subprocess.run([sys.executable, "-c", ENDS_DURING_FIRST_START, str(folder)], cwd=ROOT,
                   check=True, timeout=120)
    assert folder.is_dir()
    missing = [name for name in STATE_FILES if not (folder / name).is_file()]
    assert not missing, f"state left incomplete: {missing}"

    # The next start loads it all: no RSA key is generated on a normal start.
    from cryptography.hazmat.primitives.asymmetric import rsa

    def no_new_keys(*args: object, **kwargs: object) -> object:
        raise AssertionError("a normal start generated an RSA key")

    monkeypatch.setattr(rsa, "generate_private_key", no_new_keys)
    with DemoTenant(folder) as tenant:
        assert tenant.info.client_id


# The wizard with --demo, reporting at its very end (its first atexit, so it runs last) the
# threads still running and where they are: a thread still starting the demo tenant (loading
# cryptography's bindings) when the interpreter shuts down can abort the process (SIGABRT).
QUITS_AND_REPORTS_THREADS = """
import atexit, sys, threading, traceback
def report():
    frames = sys._current_frames()
    with open(sys.argv[1], "w") as out:
        for thread in threading.enumerate():
            if thread is not threading.main_thread() and thread.ident in frames:
                out.write(f"== {thread.name}\\n" + "".join(traceback.format_stack(frames[thread.ident])))
atexit.register(report)
from wizard.entry import run
sys.exit(run(["--demo"]))
"""
# Where such a thread would be; a worker only waiting for the start to end is harmless.
IN_THE_DEMO_START = (", in start_demo_tenant\n", ", in _load_or_make_state\n", "<frozen importlib",
                     "/cryptography/")


def test_quitting_at_once_leaves_no_thread_starting_the_demo_tenant(tmp_path: Path) -> None:
    """Ctrl+Q the moment the footer shows, as the start-up benchmark does: the demo tenant's
    start (in a worker since the first frame) is finished and stopped before the interpreter
    shuts down. Twice: the first start makes the state, the second loads it."""
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    from benchmarks.startup import Variant, run_once

    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    env.update({HOME_ENV: str(tmp_path / "home"), "TERM": "xterm-256color"})
    for attempt in range(2):
        report = tmp_path / f"threads-{attempt}.txt"
        command = (sys.executable, "-c", QUITS_AND_REPORTS_THREADS, str(report))
        run_once(Variant(command, b"Your script signs in", b"Real tenant"), env)
        threads = report.read_text()
        assert not any(place in threads for place in IN_THE_DEMO_START), threads


async def test_the_demo_tenant_starts_after_the_first_frame(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """With --demo, nothing of the demo tenant runs before the Welcome step's first frame;
    it starts right after it."""
    at_first_frame: list[tuple[bool, str]] = []
    original = WelcomeScreen.on_mount

    def on_mount(screen: WelcomeScreen) -> None:
        def first_frame() -> None:
            started = any(w.name == "run_demo_tenant" for w in screen.app.workers)
            at_first_frame.append((started, str(screen.demo_status_text())))

        screen.call_after_refresh(first_frame)  # queued before the step's own callbacks
        original(screen)

    monkeypatch.setattr(WelcomeScreen, "on_mount", on_mount)
    app = CertWizardApp(demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        deadline = time.monotonic() + 60
        while app.state.demo_info is None and time.monotonic() < deadline:
            await pilot.pause(0.05)
        running = app.state.demo_info is not None
        app.stop_demo_tenant()
    assert at_first_frame == [(False, "Starting the demo tenant…")]
    assert running, "the demo tenant did not start after the first frame"


async def test_the_first_step_shows_its_footer_keys_from_its_first_compose(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """The footer's keys come with the step's first frame: read as the footer is composed,
    never rebuilt as the bindings are announced (focus, the screen's resume, an idle pass)
    when what it shows stays the same."""
    from textual.widgets import Footer

    rebuilt: list[str] = []
    original = Footer.recompose

    async def recompose(footer: Footer) -> None:
        rebuilt.append(type(footer.screen).__name__)
        await original(footer)

    monkeypatch.setattr(Footer, "recompose", recompose)
    app = CertWizardApp()
    async with app.run_test(size=(80, 24)) as pilot:
        keys = [str(key.description) for key in app.screen.query("FooterKey")]
        await pilot.pause(0.3)
        settled = [str(key.description) for key in app.screen.query("FooterKey")]
    assert rebuilt == []
    assert "Real tenant" in keys and "Demo tenant" in keys and "Start" in keys
    assert settled == keys


# Opens "the wizard" as the command line would, recording how it was asked for and whether
# argparse had been imported by then.
OPENS_THE_WIZARD = """
import sys
import wizard.commands.wizard as command
def open_wizard(*, demo):
    print(demo, "argparse" in sys.modules)
    return 0
command.open_wizard = open_wizard
from wizard.cli import main
raise SystemExit(main(sys.argv[1:]))
"""


@pytest.mark.parametrize(
    ("argv", "expected"),
    [([], "False False"), (["--demo"], "True False"), (["--demo", "--debug"], "True True")],
)
def test_the_wizard_opens_without_building_the_parser(argv: list[str], expected: str) -> None:
    """The wizard's own start builds no parser (argparse is not even imported); any other
    command line goes through it as before."""
    done = subprocess.run([sys.executable, "-c", OPENS_THE_WIZARD, *argv], cwd=ROOT,
                          capture_output=True, text=True, timeout=60, check=True)
    assert done.stdout.strip() == expected


async def test_the_first_step_parses_only_the_steps_stylesheet() -> None:
    """The test results' stylesheet is parsed when a screen showing results appears, not at
    start-up."""
    from screens.base import RESULTS_STYLESHEET, STYLESHEET

    app = CertWizardApp()
    async with app.run_test(size=(80, 24)):
        assert app.stylesheet.has_source(str(STYLESHEET))
        assert not app.stylesheet.has_source(str(RESULTS_STYLESHEET))
