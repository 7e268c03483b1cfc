"""Make the README's screenshots from the real wizard, driven by the Textual pilot.

    uv run python tests/make_screenshots.py [--out assets/screenshots] [--size 80x24]

Starts the demo tenant in a temporary folder (nothing touches your own certificates,
profiles or demo state), walks the whole demo flow like a user would, and writes one SVG
per step, plus a failed positive test (upload skipped) and the alarm screen (the demo
tenant's accept-any fault). Temporary paths, the demo tenant's random IDs and port, and
timings are shown as fixed values so that a re-run changes a picture only when the screen
changed. Not a test: pytest does not collect it.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import re
import sys
import tempfile
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parent.parent
if str(REPO) not in sys.path:
    sys.path.insert(0, str(REPO))

SHOWN_HOME = "~/.local/share/entra-cert-wizard"
SHOWN_TENANT_ID = "72f988bf-0000-4000-8000-00000000a001"
SHOWN_CLIENT_ID = "5c3f1a2b-0000-4000-8000-00000000c001"
SHOWN_UNCONSENTED_ID = "5c3f1a2b-0000-4000-8000-00000000c002"
SHOWN_HOST = "https://127.0.0.1:8443"
TITLE = "entra-cert-wizard --demo"
NAME = "ScriptServer01"
PASSPHRASE = "workshop-passphrase-2026"
VOLATILE: list[tuple[re.Pattern[str], str]] = [
    (re.compile(r"\b\d+\.\d+ s\b"), "0.05 s"),
    (re.compile(r"<?\b\d+ ms\b"), "4 ms"),  # "<1 ms" too (local work)
    (re.compile(r"±\d+ s"), "±0 s"),
    (re.compile(r"\b[0-9A-F]{40}\b"), "3F2A9C41D07B8E56A1C3E9F0B2D4A6C8E1F3B5D7"),
    (re.compile(r"\b\d{2}:\d{2} UTC \(in \d+ min\)"), "11:04 UTC (in 59 min)"),
    (re.compile(r"\b\d{4}-\d{2}-\d{2} \d{2}:\d{2} UTC"), "2027-11-27 10:04 UTC"),
    (re.compile(r"valid until \d{4}-\d{2}-\d{2}"), "valid until 2027-11-27"),
    (re.compile(r"\(\d+ days( left)?\)"), r"(364 days\1)"),
]


class Shooter:
    """Drives the app with the pilot and writes SVGs, showing stable text in place of the
    values that change from run to run (and putting the real ones back afterwards)."""

    def __init__(self, pilot: Any, out: Path, replacements: dict[str, str]) -> None:
        self.pilot = pilot
        self.app = pilot.app
        self.out = out
        self.replacements = replacements
        self.written: list[Path] = []

    def masked(self, text: str) -> str:
        for real, shown in self.replacements.items():
            text = text.replace(real, shown)
        for pattern, shown in VOLATILE:
            text = pattern.sub(shown, text)
        return text

    async def settle(self) -> None:
        from screen_host import wait_for_screen_workers

        await wait_for_screen_workers(self.pilot)
        await self.pilot.pause(0.3)  # animations (tab underline, scrolling) come to rest

    async def on(self, screen_name: str) -> None:
        for _ in range(500):
            if type(self.app.screen).__name__ == screen_name:
                break
            await self.pilot.pause(0.01)
        if type(self.app.screen).__name__ != screen_name:
            raise SystemExit(f"expected {screen_name}, the wizard shows {self.app.screen!r}")
        await self.settle()

    async def shoot(self, name: str) -> None:
        from textual.content import Content
        from textual.widgets import Input, Static

        # A pressed button stays lit for a moment (Textual's active effect): let it fade.
        await self.pilot.pause(0.3)
        await self.pilot.wait_for_scheduled_animations()
        shown_statics: list[tuple[Static, Any]] = []
        shown_inputs: list[tuple[Input, str]] = []
        for widget in self.app.screen.query(Static):
            content = widget.content
            text = content if isinstance(content, str) else (
                content.plain if isinstance(content, Content) else None
            )
            if text is not None and self.masked(text) != text:
                widget.update(self.masked(text))
                shown_statics.append((widget, content))
        for field in self.app.screen.query(Input):
            field.cursor_blink = False
            value = field.value
            if self.masked(value) != value:
                with field.prevent(Input.Changed):
                    field.value = self.masked(value)
                shown_inputs.append((field, value))
        await self.pilot.pause()
        svg = self.app.export_screenshot(title=TITLE)
        # Put the real values back: the flow goes on with them.
        for widget, content in shown_statics:
            widget.update(content)
        for field, value in shown_inputs:
            with field.prevent(Input.Changed):
                field.value = value
        await self.pilot.pause()
        path = self.out / f"{name}.svg"
        path.write_text(svg, encoding="utf-8")
        self.written.append(path)
        print(f"wrote {path.relative_to(REPO) if path.is_relative_to(REPO) else path}")

    async def press(self, *keys: str) -> None:
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def enter_value(self, text: str, *, replace: bool = True) -> None:
        from textual import events

        if replace:
            await self.pilot.press("end", "ctrl+u")
        focused = self.app.focused
        assert focused is not None
        focused.post_message(events.Paste(text))
        await self.pilot.pause()


async def walk_to_ids(shot: Shooter, *, upload: bool, capture: bool) -> None:
    """Welcome to IDs, as a user would (screenshots on the way when `capture`)."""
    await shot.on("WelcomeScreen")
    if capture:
        await shot.shoot("01-welcome")
    await shot.press("enter")
    await shot.on("NameScreen")
    # The suggested name is ScriptServer-<this host>: show a stable one instead.
    await shot.press("shift+tab", "shift+tab", "shift+tab", "shift+tab")
    await shot.enter_value(NAME)
    await shot.press("tab", "tab", "tab", "tab")
    await shot.enter_value(PASSPHRASE, replace=False)
    await shot.press("enter")  # on to the confirmation
    await shot.enter_value(PASSPHRASE, replace=False)
    if capture:
        await shot.shoot("02-name")
    await shot.press("enter")
    await shot.on("GenerateScreen")
    if capture:
        await shot.shoot("03-generate")
    await shot.press("enter")
    await shot.on("UploadScreen")
    if upload:
        await shot.press("enter")
        await shot.settle()
        if capture:
            await shot.shoot("04-upload")
        await shot.press("enter")
    else:
        await shot.press("tab", "tab", "enter")
    await shot.on("ThumbprintScreen")
    if capture:
        await shot.shoot("05-thumbprint")
    await shot.press("enter")
    await shot.on("IdsScreen")
    await shot.press("enter")  # fill from the demo tenant
    await shot.pilot.pause()
    if capture:
        await shot.shoot("06-ids")
    await shot.press("enter")


async def happy_path(info: Any, out: Path, size: tuple[int, int], replace: dict[str, str]) -> None:
    from wizard.app import CertWizardApp

    app = CertWizardApp(demo=True, demo_info=info)
    async with app.run_test(size=size) as pilot:
        shot = Shooter(pilot, out, replace)
        await walk_to_ids(shot, upload=True, capture=True)
        await shot.on("PositiveScreen")
        await shot.shoot("07-positive")
        await shot.press("enter")
        await shot.on("NegativeScreen")
        await shot.shoot("08-negative")
        await shot.press("enter")
        await shot.on("SummaryScreen")
        await shot.shoot("09-summary")
        await shot.press("enter")


async def upload_skipped(info: Any, out: Path, size: tuple[int, int],
                         replace: dict[str, str]) -> None:
    from wizard.app import CertWizardApp

    app = CertWizardApp(demo=True, demo_info=info)
    async with app.run_test(size=size) as pilot:
        shot = Shooter(pilot, out, replace)
        await walk_to_ids(shot, upload=False, capture=False)
        await shot.on("PositiveScreen")
        await shot.shoot("07-positive-failed")
        app.exit()


async def alarm(tenant: Any, out: Path, size: tuple[int, int], replace: dict[str, str]) -> None:
    from wizard.app import CertWizardApp
    from wizard.emulator import Fault

    app = CertWizardApp(demo=True, demo_info=tenant.info)
    async with app.run_test(size=size) as pilot:
        shot = Shooter(pilot, out, replace)
        await walk_to_ids(shot, upload=True, capture=False)
        await shot.on("PositiveScreen")
        tenant.set_fault(Fault(kind="accept-any", endpoint="token"))
        try:
            await shot.press("enter")
            await shot.on("AlarmScreen")
            await shot.shoot("08-alarm")
        finally:
            tenant.set_fault(None)
        app.exit()


def parse_size(text: str) -> tuple[int, int]:
    width, _, height = text.partition("x")
    return int(width), int(height)


async def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=REPO / "assets" / "screenshots")
    parser.add_argument("--size", type=parse_size, default=(80, 24), help="WIDTHxHEIGHT")
    args = parser.parse_args(argv)
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(prefix="ecw-screenshots-") as temp:
        os.environ["ENTRA_CERT_WIZARD_HOME"] = temp  # the user's own files stay untouched
        from wizard.emulator import DemoTenant

        with DemoTenant(Path(temp) / "demo-tenant") as tenant:
            info = tenant.info
            replace = {
                str(Path(temp) / "data"): SHOWN_HOME,
                temp: SHOWN_HOME,
                info.tenant_id: SHOWN_TENANT_ID,
                info.client_id: SHOWN_CLIENT_ID,
                info.unconsented_client_id: SHOWN_UNCONSENTED_ID,
                info.authority_host: SHOWN_HOST,
            }
            await happy_path(info, out, args.size, replace)
            # A new home for each run: the same certificate name again would be refused.
            for name, run in (("upload-skipped", upload_skipped), ("alarm", alarm)):
                os.environ["ENTRA_CERT_WIZARD_HOME"] = str(Path(temp) / name)
                replace[str(Path(temp) / name / "data")] = SHOWN_HOME
                await run(tenant if name == "alarm" else info, out, args.size, replace)
    return 0


if __name__ == "__main__":
    raise SystemExit(asyncio.run(main()))
