"""A workshop seat in a real browser: headless Chromium (Debian's), driven by Playwright.

The attendee opens the workshop's URL, joins with the code and a name, reloads the page
mid-way, gets the seat back with the seat token, and walks the demo flow to the green
summary. The page's terminal draws on a canvas, so what it shows is read from the web
socket's frames (the same bytes the terminal draws), and the step from the seat's status
file (what the trainer's view reads). A screenshot is saved in the test's folder.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks.workshop_client import ANSI, PASSPHRASE  # noqa: E402

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
CODE = "BR0WSE"
TIMEOUT = 90.0

pytestmark = pytest.mark.skipif(
    CHROMIUM is None,
    reason="no Chromium on this machine (Debian: apt-get install chromium; .ci/run installs it)",
)


class Screen:
    """What the page's terminal was sent, as text (escape sequences removed)."""

    def __init__(self, page: Any) -> None:
        self.page = page
        self.text = ""

    def pause(self, seconds: float) -> None:
        """Wait while Playwright delivers the page's events (time.sleep would hold them)."""
        self.page.wait_for_timeout(seconds * 1000)

    def frame(self, payload: Any) -> None:
        data = payload.decode("utf-8", "replace") if isinstance(payload, bytes) else str(payload)
        self.text = (self.text + ANSI.sub("", data))[-50000:]

    def wait(self, ready: Callable[[str], bool], what: str) -> None:
        deadline = time.monotonic() + TIMEOUT
        while not ready(self.text):
            if time.monotonic() > deadline:
                raise AssertionError(f"the page never showed {what}")
            self.pause(0.1)


@pytest.fixture
def workshop(tmp_path: Path) -> Iterator[dict[str, Any]]:
    process = subprocess.Popen(
        [sys.executable, "-m", "wizard", "workshop", "--seats", "2", "--port", "0", "--json",
         "--join-code", CODE, "--folder", str(tmp_path / "room")],
        stdout=subprocess.PIPE, stderr=subprocess.DEVNULL, text=True,
    )
    assert process.stdout is not None
    try:
        yield json.loads(process.stdout.readline())
    finally:
        process.terminate()
        process.wait(timeout=30)


def status(folder: Path, seat: int) -> dict[str, Any]:
    try:
        return dict(json.loads((folder / "seats" / str(seat) / "status.json").read_text()))
    except (OSError, ValueError):
        return {}


def test_join_reload_and_reach_the_green_summary_in_chromium(
    workshop: dict[str, Any], tmp_path: Path
) -> None:
    from playwright.sync_api import Page, sync_playwright

    folder = Path(workshop["folder"])
    started = time.monotonic()

    def on_step(screen: Screen, seat: int, number: int, keys: list[str],
                ready: Callable[[dict[str, Any]], bool] | None = None) -> None:
        deadline = time.monotonic() + TIMEOUT
        while True:
            now = status(folder, seat)
            if now.get("step") == number and (ready is None or ready(now)):
                break
            assert time.monotonic() < deadline, f"seat {seat} never reached step {number}: {now}"
            screen.pause(0.1)
        screen.pause(0.3)
        keyboard = screen.page.keyboard
        for key in keys:
            if key in ("Enter", "Tab"):
                keyboard.press(key)
            else:
                keyboard.type(key)
            screen.pause(0.4)

    def join(screen: Screen, *, token: str = "") -> int:
        page = screen.page
        screen.wait(lambda t: t.count("join code") >= 3, "the join screen")
        page.locator(".xterm-helper-textarea").focus()  # the page's terminal takes the keys
        page.keyboard.type(CODE)
        page.keyboard.press("Tab")
        screen.pause(0.5)
        if token:
            page.keyboard.press("Tab")
            screen.pause(0.5)
            page.keyboard.type(token)
        else:
            page.keyboard.type("Ada <b>[bold]")
        page.keyboard.press("Enter")
        screen.wait(lambda t: "you are at seat" in t, "the seat")
        found = re.search(r"you are at seat (\d+)", screen.text)
        assert found is not None
        screen.pause(0.3)
        page.keyboard.press("Enter")  # Start the wizard
        return int(found.group(1))

    def open_page(browser: Any) -> Screen:
        page: Page = browser.new_page(viewport={"width": 1100, "height": 760})
        screen = Screen(page)
        page.on("websocket", lambda ws: ws.on("framereceived", screen.frame))
        page.goto(workshop["url"])
        return screen

    with sync_playwright() as playwright:
        browser = playwright.chromium.launch(executable_path=CHROMIUM, args=["--no-sandbox"])
        try:
            screen = open_page(browser)
            page = screen.page
            seat = join(screen)
            tokens = re.findall(r"(?<!like )\b(\d{1,3}-[A-Z0-9]{4}-[A-Z0-9]{4})\b", screen.text)
            assert tokens, "the seat token was not shown"
            on_step(screen, seat, 1, ["Enter"])
            on_step(screen, seat, 2, [])
            first_pid = status(folder, seat)["pid"]

            # A reload mid-way: the old process ends, the token brings the seat back.
            screen.text = ""
            page.reload()
            assert join(screen, token=tokens[0]) == seat
            on_step(screen, seat, 1, ["Enter"], ready=lambda s: s.get("pid") != first_pid)
            on_step(screen, seat, 2, [PASSPHRASE, "Enter", PASSPHRASE, "Enter"])
            on_step(screen, seat, 3, ["Enter"], ready=lambda s: s.get("generated"))
            on_step(screen, seat, 4, ["Enter"])
            on_step(screen, seat, 4, ["Enter"], ready=lambda s: s.get("uploaded"))
            on_step(screen, seat, 5, ["Enter"])
            on_step(screen, seat, 6, ["Enter", "Enter"])
            on_step(screen, seat, 7, ["Enter"], ready=lambda s: s.get("positive"))
            on_step(screen, seat, 8, ["Enter"], ready=lambda s: s.get("negative"))
            on_step(screen, seat, 9, [])
            screen.wait(lambda t: "Done" in t, "the green summary")
            screen.pause(2)  # the profile and the summary file are written
            page.screenshot(path=str(tmp_path / "workshop-browser.png"))
        except BaseException:
            page.screenshot(path=str(tmp_path / "workshop-browser-failed.png"))
            (tmp_path / "workshop-browser-failed.txt").write_text(screen.text)
            raise
        finally:
            browser.close()
    final = status(folder, seat)
    assert (final["positive"], final["negative"]) == ("pass", "pass")
    claims = json.loads((folder / "claims.json").read_text())
    assert list(claims) == [str(seat)] and claims[str(seat)]["name"] == "Ada <b>[bold]"
    assert (tmp_path / "workshop-browser.png").stat().st_size > 10_000
    print(f"\nbrowser run: {time.monotonic() - started:.1f} s; screenshot in {tmp_path}")
