"""The whole wizard, end to end, driven with the pilot like a user at the keyboard.

CertWizardApp against the session's running demo tenant: real files in the test's own
folder, a real upload through the Upload step's button, real MSAL sign-ins, real Graph
calls, the summary really written. Also the failure paths a first-time admin walks into
(upload skipped, a wrong client ID, an app without admin consent), and a hunt for secrets
in every file written and every screen shown.
"""

from __future__ import annotations

import html
import re
import uuid
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from cryptography.hazmat.primitives import serialization
from screen_host import wait_for_screen_workers
from textual import events
from textual.pilot import Pilot
from textual.screen import Screen
from textual.widgets import Button, Input, Static

from screens.checks import CheckRow, Explained
from screens.generate import GenerateScreen
from screens.ids import IdsScreen
from screens.name import NameScreen
from screens.negative import NegativeScreen
from screens.positive import PositiveScreen
from screens.summary import SummaryScreen
from screens.thumbprint import ThumbprintScreen
from screens.upload import UploadScreen
from screens.welcome import WelcomeScreen
from wizard import certs
from wizard.app import CertWizardApp
from wizard.emulator import DemoInfo
from wizard.portal import PortalClient
from wizard.profiles import load_profiles

PASSPHRASE = "e2e-Passphrase-7f3c9a"
SIZE = (80, 24)
JWT = re.compile(r"eyJ[\w-]{8,}\.eyJ[\w-]{8,}\.[\w-]{16,}")


class Driver:
    """The pilot, counting the keys a user presses besides the values they type."""

    def __init__(self, pilot: Pilot[None]) -> None:
        self.pilot = pilot
        self.app = pilot.app
        self.keystrokes = 0
        self.screens_seen: list[str] = []

    async def press(self, *keys: str) -> None:
        self.keystrokes += len(keys)
        await self.pilot.press(*keys)
        await self.pilot.pause()

    async def enter_value(self, text: str, *, replace: bool = False) -> None:
        """Enter a value, as a paste into the focused field (over the suggested one with
        `replace`): values are not counted, and pasting is 20 times faster than keys."""
        if replace:
            await self.pilot.press("end", "ctrl+u")
        focused = self.app.focused
        assert isinstance(focused, Input)
        focused.post_message(events.Paste(text))
        await self.pilot.pause()

    async def settle(self) -> None:
        """Wait for the current screen's workers (the flow's own worker runs to the end)."""
        await wait_for_screen_workers(self.pilot)
        await self.pilot.pause()

    async def on(self, screen_type: type[Screen[Any]]) -> Screen[Any]:
        """Wait until `screen_type` is on top (the flow pushes the next step), record it."""
        for _ in range(200):
            if isinstance(self.app.screen, screen_type):
                break
            await self.pilot.pause(0.01)
        screen = self.app.screen
        assert isinstance(screen, screen_type), f"expected {screen_type.__name__}, on {screen!r}"
        await self.settle()
        self.screens_seen.append(self.app.export_screenshot())
        return screen


def text_of(screen: Screen[Any], selector: str) -> str:
    return str(screen.query_one(selector, Static).content)


def explained(screen: Screen[Any]) -> str:
    panel = screen.query_one(Explained)
    assert panel.display
    return "\n".join(str(line.content) for line in panel.query(Static) if line.display)


def screen_text(svg: str) -> str:
    """The characters of an SVG screenshot, one row per line (spans joined)."""
    rows = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return "\n".join(html.unescape(re.sub(r"<[^>]+>", "", row)) for row in rows)


async def start(driver: Driver) -> None:
    """Welcome (demo tenant preselected), then Name & options: the suggested name and the
    defaults kept, the passphrase (focused first: it is the one answer without a default)
    typed twice."""
    await driver.on(WelcomeScreen)
    await driver.press("enter")
    name = await driver.on(NameScreen)
    assert name.query_one("#name", Input).value.startswith("ScriptServer")
    assert driver.app.focused is name.query_one("#passphrase", Input)
    await driver.enter_value(PASSPHRASE)
    await driver.press("enter")  # on to the confirmation
    assert driver.app.focused is name.query_one("#confirm", Input)
    await driver.enter_value(PASSPHRASE)
    await driver.press("enter")


async def generate_and_upload(driver: Driver, *, upload: bool) -> None:
    """Generate (wait, Next); Upload with the step's own button, or skip it; Thumbprint."""
    generate = await driver.on(GenerateScreen)
    assert not generate.query_one("#next", Button).disabled
    await driver.press("enter")
    upload_step = await driver.on(UploadScreen)
    if upload:
        assert driver.app.focused is upload_step.query_one("#upload", Button)
        await driver.press("enter")  # "Upload to the demo tenant"
        await driver.settle()
        assert "✓ Uploaded" in text_of(upload_step, "#upload-status")
        await driver.press("enter")  # focus moved to Next
    else:
        await driver.press("tab", "tab")  # past the upload button and Back, to Next
        assert driver.app.focused is upload_step.query_one("#next", Button)
        await driver.press("enter")
    await driver.on(ThumbprintScreen)
    await driver.press("enter")


async def fill_ids(driver: Driver, client_id: str | None = None) -> None:
    """IDs: "Fill from the demo tenant", optionally another client ID typed over it."""
    ids = await driver.on(IdsScreen)
    await driver.press("enter")  # fill
    if client_id is not None:
        await driver.pilot.click("#client-id")
        assert driver.app.focused is ids.query_one("#client-id", Input)
        await driver.enter_value(client_id, replace=True)
    await driver.press("enter")


async def positive(driver: Driver) -> PositiveScreen:
    screen = await driver.on(PositiveScreen)
    assert isinstance(screen, PositiveScreen)
    return screen


def statuses(screen: Screen[Any]) -> dict[str, str]:
    return {row.key: row.status for row in screen.query(CheckRow)}


def secret_fragments(key_file: Path) -> list[str]:
    """What must never leak: the passphrase and the private key's PEM body lines."""
    key = certs.load_private_key_file(key_file, PASSPHRASE.encode())
    plain = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    ).decode()
    encrypted = key_file.read_text()
    body = [
        line for pem in (plain, encrypted) for line in pem.splitlines()
        if line and not line.startswith("-----") and ":" not in line
    ]
    return [PASSPHRASE, *body]


# ------------------------------------------------------------------------- the happy path
async def test_the_whole_demo_flow_end_to_end(
    demo_info: DemoInfo, isolated_home: Path, record_property: Callable[[str, object], None]
) -> None:
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await generate_and_upload(driver, upload=True)
        await fill_ids(driver)

        test = await positive(driver)
        assert set(statuses(test).values()) == {"ok"}
        assert "Organization.Read.All" in text_of(test, "#permissions")
        assert demo_info.organization_name in text_of(test, "#organization")
        await driver.press("enter")

        negative = await driver.on(NegativeScreen)
        assert set(statuses(negative).values()) == {"ok"}
        await driver.press("enter")

        summary = await driver.on(SummaryScreen)
        assert "Done" in text_of(summary, "#verdict")
        name = app.state.name
        assert name.startswith("ScriptServer") and name in text_of(summary, "#profile-name")
        summary_path = app.state.summary_path
        assert summary_path is not None and summary_path.is_file()
        await driver.press("enter")  # Finish
        await pilot.pause()
        keystrokes = driver.keystrokes
        shown = [screen_text(svg) for svg in driver.screens_seen]
    assert app.return_code == 0 and not app.is_running
    # Printed once the terminal is back: where the summary and the files are.
    assert app.finish_note is not None and app.state.files is not None
    assert f"Summary:           {summary_path}" in app.finish_note
    assert f"Certificate files: {app.state.files.folder}" in app.finish_note
    assert f"test --profile {name}" in app.finish_note
    record_property("keystrokes", keystrokes)
    print(f"\nA full demo run took {keystrokes} keystrokes besides the typed values.")
    assert keystrokes == 12

    # What was made, where, and what was remembered.
    files = app.state.files
    assert files is not None and files.folder.is_relative_to(isolated_home)
    assert summary_path.parent == files.folder
    assert [(p.name, p.last_test, p.demo) for p in load_profiles()] == [(name, "pass", True)]

    # No secret anywhere it does not belong: every file written except the key and PFX
    # themselves, and every screen the user saw.
    leaks = secret_fragments(files.key)
    written = [
        path for path in isolated_home.rglob("*")
        if path.is_file() and path not in (files.key, files.pfx)
    ]
    assert summary_path in written and any(p.name == "profiles.json" for p in written)
    for path in written:
        content = path.read_bytes().decode("utf-8", errors="replace")
        assert not JWT.search(content), f"a token in {path}"
        for fragment in leaks:
            assert fragment not in content, f"a secret in {path}"
    assert len(shown) == 9
    for text in shown:
        flat = re.sub(r"\s+", "", text)
        assert not JWT.search(flat), "a token on screen"
        for fragment in leaks:
            assert fragment not in flat, "a secret on screen"


# ------------------------------------------------------------------------- failure paths
async def test_skipping_the_upload_fails_with_700027_explained(demo_info: DemoInfo) -> None:
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await generate_and_upload(driver, upload=False)
        assert app.state.uploaded_at is None  # so no patient retry: a verdict at once
        await fill_ids(driver)
        test = await positive(driver)
        assert statuses(test)["token"] == "fail"
        text = explained(test)
        assert "AADSTS700027" in text
        assert "Why: " in text and "Fix: " in text and "Upload certificate" in text
        assert test.query_one("#next", Button).disabled
        # Back to IDs, keeping the answers.
        await pilot.click("#back-to-ids")
        ids = await driver.on(IdsScreen)
        assert ids.query_one("#client-id", Input).value == demo_info.client_id
    assert app.state.positive is not None and not app.state.positive.ok


async def test_after_700027_the_upload_step_is_one_key_away(demo_info: DemoInfo) -> None:
    """The fix for a certificate that was never uploaded is the Upload step: offered and
    focused on step 7, one Enter away; after the upload the same answers pass."""
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await generate_and_upload(driver, upload=False)
        await fill_ids(driver)
        test = await positive(driver)
        assert "AADSTS700027" in explained(test)
        fix = test.query_one("#fix-step", Button)
        assert fix.display and str(fix.label) == "Go to Upload (step 4)"
        assert app.focused is fix
        await driver.press("enter")
        upload_step = await driver.on(UploadScreen)
        assert app.focused is upload_step.query_one("#upload", Button)
        await driver.press("enter")  # upload for real
        await driver.settle()
        assert app.state.uploaded_thumbprint == app.state.thumbprint_sha1
        await driver.press("enter")  # Next
        await driver.on(ThumbprintScreen)
        await driver.press("enter")
        ids = await driver.on(IdsScreen)
        assert ids.query_one("#client-id", Input).value == demo_info.client_id  # kept
        await pilot.click("#next")
        test = await positive(driver)
        for _ in range(300):
            if app.state.positive is not None:
                break
            await pilot.pause(0.05)
        assert app.state.positive is not None and app.state.positive.ok


async def test_a_wrong_client_id_fails_with_700016_explained(demo_info: DemoInfo) -> None:
    unknown = str(uuid.uuid4())
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await generate_and_upload(driver, upload=True)
        await fill_ids(driver, client_id=unknown)
        assert app.state.client_id == unknown
        test = await positive(driver)
        assert statuses(test)["token"] == "fail"
        text = explained(test)
        assert "AADSTS700016" in text and "Fix: " in text
        assert test.query_one("#next", Button).disabled


async def test_an_app_without_consent_shows_the_403_explained(
    demo_info: DemoInfo, demo_portal: PortalClient
) -> None:
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await generate_and_upload(driver, upload=True)
        # The admin uploaded the same .cer to the app that has no admin consent.
        files = app.state.files
        assert files is not None
        demo_portal.upload_certificate(demo_info.unconsented_client_id, files.cer.read_bytes())
        await fill_ids(driver, client_id=demo_info.unconsented_client_id)
        test = await positive(driver)
        assert statuses(test)["token"] == "ok"
        assert statuses(test)["graph"] == "warn"
        assert "none: admin consent not granted" in text_of(test, "#permissions")
        text = explained(test)
        assert "403" in text or "Authorization_RequestDenied" in text
        assert "admin consent" in text.lower()
    positive_result = app.state.positive
    assert positive_result is not None and positive_result.signed_in and not positive_result.ok


@pytest.fixture(autouse=True)
def _no_real_clipboard(monkeypatch: pytest.MonkeyPatch) -> None:
    """Keep the test machine's clipboard out of it (the copy falls back to OSC 52)."""
    monkeypatch.setenv("DISPLAY", "")
    monkeypatch.setenv("WAYLAND_DISPLAY", "")


async def test_back_after_generate_with_other_options_makes_a_new_certificate(
    demo_info: DemoInfo, isolated_home: Path
) -> None:
    """Generate, Esc back to step 2, other days, key size and passphrase, Next: the files on
    disk follow what step 3 shows (the old ones backed up), and the new passphrase opens
    the key on step 7."""
    from textual.widgets import Select

    new_passphrase = "another-Passphrase-42b1"
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        generate = await driver.on(GenerateScreen)
        first = app.state.files
        assert first is not None
        old_thumbprint = app.state.thumbprint_sha1
        await driver.press("escape")
        name = await driver.on(NameScreen)
        name.query_one("#days", Input).value = "730"
        name.query_one("#key-size", Select).value = 3072
        name.query_one("#passphrase", Input).value = new_passphrase
        name.query_one("#confirm", Input).value = new_passphrase
        name.query_one("#name", Input).focus()
        await driver.press("enter")
        generate = await driver.on(GenerateScreen)
        await driver.settle()
        assert "730 days · RSA 3072" in text_of(generate, "#generate-summary")
        stages = text_of(generate, "#stages")
        assert "RSA 3072-bit" in stages and "RSA 2048" not in stages, stages
        notes = text_of(generate, "#generate-notes")
        assert "A new certificate was made" in notes and "730 days" in notes, notes
        assert "backup" in notes
        files = app.state.files
        assert files is not None and app.state.thumbprint_sha1 != old_thumbprint
        on_disk = certs.load_certificate_file(files.cer)
        assert certs.thumbprint_sha1(on_disk) == app.state.thumbprint_sha1
        lifetime = certs.not_valid_after(on_disk) - on_disk.not_valid_before_utc
        assert 729 <= lifetime.days <= 731
        key = certs.load_private_key_file(files.key, new_passphrase.encode())
        assert key.key_size == 3072  # type: ignore[union-attr]
        assert list(files.folder.parent.glob(f"{files.folder.name}.backup-*"))
        # On to step 7: the new passphrase opens the new key, the new certificate signs in.
        await driver.press("enter")
        upload_step = await driver.on(UploadScreen)
        assert driver.app.focused is upload_step.query_one("#upload", Button)
        await driver.press("enter")
        await driver.settle()
        await driver.press("enter")
        await driver.on(ThumbprintScreen)
        await driver.press("enter")
        await fill_ids(driver)
        test = await positive(driver)
        assert set(statuses(test).values()) == {"ok"}, explained(test)


async def test_the_consent_lesson_in_a_few_keys_upload_to_the_unconsented_app(
    demo_info: DemoInfo,
) -> None:
    """Step 4: choose the app without admin consent, upload; step 6: Fill takes that app;
    step 7: the certificate signs in, Graph's 403 is explained, no waiting for retries."""
    from textual.widgets import Select

    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        generate = await driver.on(GenerateScreen)
        assert not generate.query_one("#next", Button).disabled
        await driver.press("enter")
        upload_step = await driver.on(UploadScreen)
        await driver.press("shift+tab")  # from the Upload button to the app to upload to
        chooser = upload_step.query_one("#upload-app", Select)
        assert driver.app.focused is chooser
        await driver.press("enter", "down", "enter")
        assert chooser.value == demo_info.unconsented_client_id
        await driver.press("tab", "enter")  # Upload
        await driver.settle()
        status = text_of(upload_step, "#upload-status")
        assert "✓ Uploaded to " + demo_info.unconsented_app_name in status, status
        await driver.press("enter")
        await driver.on(ThumbprintScreen)
        await driver.press("enter")
        await fill_ids(driver)
        assert app.state.client_id == demo_info.unconsented_client_id
        test = await positive(driver)
        assert statuses(test)["token"] == "ok" and statuses(test)["graph"] == "warn"
        text = explained(test)
        assert "403" in text or "Authorization_RequestDenied" in text
        assert "admin consent" in text.lower()


async def test_a_certificate_uploaded_to_another_app_is_named_at_once(
    demo_info: DemoInfo,
) -> None:
    """Uploaded to the consented app, tested against the unconsented one: no minute of
    "not accepted yet" retries, a verdict at once that says where the certificate went."""
    import time

    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await generate_and_upload(driver, upload=True)
        await fill_ids(driver, client_id=demo_info.unconsented_client_id)
        started = time.monotonic()
        test = await positive(driver)
        took = time.monotonic() - started
        assert statuses(test)["token"] == "fail"
        assert "AADSTS700027" in explained(test)
        assert "does not hold the certificate" in text_of(test, "#verdict")
        assert demo_info.app_name in text_of(test, "#permissions")
    assert took < 10, f"{took:.1f} s: the just-uploaded window applied to another app"


async def test_a_failed_test_leaves_a_set_up_to_continue_on_the_next_start(
    demo_info: DemoInfo, demo_portal: PortalClient
) -> None:
    """Upload skipped, the test fails, the user quits; the next start offers to continue
    where they left off, and once uploaded the saved set-up passes without a new certificate."""
    from screens.dialogs import ConfirmScreen, PassphrasePrompt

    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await generate_and_upload(driver, upload=False)
        await fill_ids(driver)
        test = await positive(driver)
        assert statuses(test)["token"] == "fail"
        await pilot.press("ctrl+q")
        await driver.on(ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    files, name = app.state.files, app.state.name
    assert files is not None
    assert [(p.name, p.last_test) for p in load_profiles()] == [(name, None)]

    demo_portal.upload_certificate(demo_info.client_id, files.cer.read_bytes())
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=(120, 40)) as pilot:
        driver = Driver(pilot)
        welcome = await driver.on(WelcomeScreen)
        for _ in range(100):
            if welcome.query("#test-profile"):
                break
            await pilot.pause(0.02)
        welcome_text = screen_text(app.export_screenshot()).replace("\xa0", " ")
        assert "continue where you left off" in welcome_text
        await pilot.click("#test-profile")
        prompt = await driver.on(PassphrasePrompt)
        prompt.query_one("#existing-passphrase", Input).value = PASSPHRASE
        await pilot.press("enter")
        test = await positive(driver)
        assert set(statuses(test).values()) == {"ok"}, explained(test)
        assert app.state.files is not None and app.state.files.key == files.key
        await driver.press("enter")
        negative = await driver.on(NegativeScreen)
        assert set(statuses(negative).values()) == {"ok"}
        await driver.press("enter")
        await driver.on(SummaryScreen)
    assert [(p.name, p.last_test) for p in load_profiles()] == [(name, "pass")]


async def test_quitting_after_generate_continues_with_the_same_certificate(
    demo_info: DemoInfo,
) -> None:
    """Generate, then quit on the Upload step (no IDs yet, so no profile); the next start with
    the same name and passphrase offers the certificate made earlier, and it passes the test."""
    from screens.dialogs import ConfirmScreen

    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await driver.on(GenerateScreen)
        await driver.press("enter")
        await driver.on(UploadScreen)
        await pilot.press("ctrl+q")
        await driver.on(ConfirmScreen)
        await pilot.press("y")
        await pilot.pause()
    files, thumbprint = app.state.files, app.state.thumbprint_sha1
    assert files is not None and files.key.is_file() and load_profiles() == []

    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        generate = await driver.on(GenerateScreen)
        use = generate.query_one("#use-existing", Button)
        assert use.display and "continue where you left off" in str(use.label)
        assert driver.app.focused is use
        await driver.press("enter")
        upload_step = await driver.on(UploadScreen)
        assert app.state.files == files and app.state.thumbprint_sha1 == thumbprint
        assert app.state.options_changed() == []
        assert driver.app.focused is upload_step.query_one("#upload", Button)
        await driver.press("enter")
        await driver.settle()
        assert "✓ Uploaded" in text_of(upload_step, "#upload-status")
        await driver.press("enter")
        await driver.on(ThumbprintScreen)
        await driver.press("enter")
        await fill_ids(driver)
        test = await positive(driver)
        assert set(statuses(test).values()) == {"ok"}, explained(test)
    assert files.key.is_file() and not list(files.folder.parent.glob("*.backup-*"))
