"""The wizard's demo tenant in a child process: it answers, it ends with the wizard however the
wizard ends (a normal stop, or a SIGKILL leaving no process and no listening port), and a
child that cannot start says why.

Real processes throughout: the `emulator` command as the child, the real app in a parent.
"""

from __future__ import annotations

import json
import os
import signal
import socket
import subprocess
import sys
import time
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from wizard.emulator import DemoInfo
from wizard.emulator.process import DemoTenantProcess
from wizard.errors import UserError
from wizard.portal import PortalClient

ROOT = Path(__file__).resolve().parent.parent

# The real wizard with --demo, driven by its pilot until its demo tenant answers; it prints
# the tenant's process ID and address, then waits to be killed.
WIZARD_WAITING_TO_BE_KILLED = """
import asyncio, json, sys
from wizard.app import CertWizardApp

async def main():
    app = CertWizardApp(demo=True)
    async with app.run_test(size=(80, 24)) as pilot:
        while app.state.demo_info is None:
            await pilot.pause(0.05)
        tenant = app.state.demo_tenant
        print(json.dumps({"pid": tenant.pid, "url": app.state.demo_info.listen_url}), flush=True)
        await asyncio.sleep(600)

asyncio.run(main())
"""


def running(pid: int) -> bool:
    """Whether the process exists and is not a zombie waiting for its parent to read it."""
    try:
        status = Path(f"/proc/{pid}/status").read_text()
    except OSError:
        return False
    return "\nState:\tZ" not in status


def listening(url: str) -> bool:
    parts = urlsplit(url)
    assert parts.hostname is not None and parts.port is not None
    try:
        with socket.create_connection((parts.hostname, parts.port), timeout=2):
            return True
    except OSError:
        return False


def wait_until(condition: object, seconds: float = 20.0) -> bool:
    assert callable(condition)
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if condition():
            return True
        time.sleep(0.05)
    return bool(condition())


def test_the_child_tenant_answers_and_stops_with_its_state_kept(tmp_path: Path) -> None:
    folder = tmp_path / "demo-tenant"
    tenant = DemoTenantProcess(folder)
    info = tenant.start()
    pid = tenant.pid
    assert pid is not None and pid != os.getpid()
    try:
        assert PortalClient.for_demo(info).list_applications()  # it really answers
        assert info.state_dir == str(folder.absolute())
    finally:
        tenant.stop()
    assert not running(pid)
    assert not listening(info.listen_url)
    # Made once: the next child reads the same tenant.
    again = DemoTenantProcess(folder)
    try:
        assert again.start().tenant_id == info.tenant_id
    finally:
        again.stop()


def test_a_child_that_cannot_start_says_why(tmp_path: Path) -> None:
    occupied = tmp_path / "a-file"
    occupied.write_text("not a folder")
    tenant = DemoTenantProcess(occupied)
    with pytest.raises(UserError) as raised:
        tenant.start()
    message = raised.value.message
    assert message.startswith("The demo tenant did not start:")
    assert "is a file, not a folder" in message  # the child's own words, nothing else
    assert "Traceback" not in message and "Fatal" not in message
    assert tenant.pid is None  # nothing left running


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc")
def test_killing_the_wizard_leaves_no_demo_tenant_running() -> None:
    wizard = subprocess.Popen([sys.executable, "-c", WIZARD_WAITING_TO_BE_KILLED], cwd=ROOT,
                              stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        assert wizard.stdout is not None
        line = wizard.stdout.readline()
        assert line, wizard.stderr.read() if wizard.stderr else ""
        started = json.loads(line)
        assert running(started["pid"]) and listening(started["url"])
    finally:
        wizard.send_signal(signal.SIGKILL)
        wizard.communicate(timeout=30)
    assert wait_until(lambda: not running(started["pid"])), "the demo tenant outlived the wizard"
    assert not listening(started["url"])


def test_a_client_of_a_demo_tenant_loads_none_of_the_tenant() -> None:
    """DemoInfo and the child's handle load neither cryptography nor the HTTPS server: a
    wizard (or workshop seat) talking to a tenant elsewhere does not carry one in memory."""
    probe = ("import sys; from wizard.emulator import DemoInfo; "
             "from wizard.emulator.process import DemoTenantProcess; "
             "print(sorted(m for m in ('cryptography', 'http.server', 'wizard.emulator.tenant') "
             "if m in sys.modules))")
    loaded = subprocess.run([sys.executable, "-c", probe], cwd=ROOT, capture_output=True,
                            text=True, check=True, timeout=60).stdout.strip()
    assert loaded == "[]"


def test_demo_info_from_json_names_a_bad_field(demo_info: DemoInfo) -> None:
    document = demo_info.to_json()
    assert DemoInfo.from_json({**document, "a field from a newer tenant": 1}) == demo_info
    with pytest.raises(ValueError, match="'client_id'"):
        DemoInfo.from_json({**document, "client_id": ["not", "text"]})
    without_portal = {k: v for k, v in document.items() if k != "portal"}
    with pytest.raises(ValueError, match="'portal' is missing"):
        DemoInfo.from_json(without_portal)


async def test_welcome_says_plainly_why_the_demo_tenant_did_not_start(isolated_home: Path) -> None:
    """The child's own words, no traceback; the step stays for another choice."""
    from screen_host import StepHost, wait_for_screen_workers
    from textual.widgets import Static

    from screens.welcome import WelcomeScreen
    from wizard.paths import demo_tenant_dir
    from wizard.session import WizardState

    blocked = demo_tenant_dir()
    blocked.parent.mkdir(parents=True, exist_ok=True)
    blocked.write_text("a file where the demo tenant's folder goes")
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", "enter")
        await wait_for_screen_workers(pilot)
        await pilot.pause()
        status = str(app.screen.query_one("#demo-status", Static).content)
    assert status.startswith("The demo tenant did not start:")
    assert "is a file, not a folder" in status
    assert "Traceback" not in status and "Fatal" not in status
    assert app.results == [] and app.state.demo_tenant is None
