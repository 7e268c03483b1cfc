"""Layout, focus and the command palette, driven with the pilot at the sizes users run:
one look for every input, nothing cut off or below the fold at the smallest supported size."""

from __future__ import annotations

from pathlib import Path

import pytest
from demo_profiles import save_real_tenant_profile
from focus_look import invisible_focus_stops
from screen_host import StepHost, wait_for_screen_workers
from test_screens_rotation import Host as RotationHost
from textual.app import App
from textual.command import CommandInput, CommandPalette
from textual.pilot import Pilot
from textual.widgets import Checkbox, Input, Static

from wizard import certs, storage
from wizard.emulator import DemoInfo
from wizard.preferences import preferences_file, save_theme
from wizard.session import WizardState

SMALLEST = (80, 24)


async def test_renew_inputs_look_like_the_wizards_and_it_opens_at_the_top(tmp_path: Path) -> None:
    profile = save_real_tenant_profile(
        certificate_name="Renew Look", profile_name="renew-look", out_root=tmp_path
    )
    app = RotationHost(WizardState(demo=False), profile.name)
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.pause()
        await pilot.pause()
        screen = app.screen
        # One look: compact, borderless, one row, as on the wizard's own steps.
        for control in [*screen.query(Input), *screen.query(Checkbox)]:
            assert control.compact, f"{control.id} has a border the wizard's fields don't"
        new_pass = screen.query_one("#new-pass", Input)
        assert new_pass.has_focus and new_pass.region.height == 1
        # Opened at the top: the checklist's first steps are on screen, not scrolled away.
        assert screen.query_one("#body").scroll_y == 0
        checklist = screen.query_one("#rotation-checklist", Static)
        assert checklist.region.y >= 1 and "1. " in str(checklist.render())


# ------------------------------------------------------------------ the command palette
async def run_command(pilot: Pilot[None], words: str) -> None:
    """Open the command palette, enter `words`, take the best match."""
    await pilot.press("ctrl+p")
    await pilot.pause()
    assert isinstance(pilot.app.screen, CommandPalette)
    # Set at once, not typed key by key: what is under test is what the palette offers.
    pilot.app.screen.query_one(CommandInput).value = words
    await pilot.pause(0.3)  # the palette searches its providers in the background
    await pilot.press("enter")
    await pilot.pause()


async def test_palette_offers_the_wizards_own_commands(demo_info: DemoInfo, tmp_path: Path) -> None:
    from screens.dialogs import HelpScreen
    from screens.generate import GenerateScreen
    from screens.name import NameScreen
    from wizard.app import CertWizardApp

    app = CertWizardApp(demo_info=demo_info)
    app.state.name, app.state.out_dir = "PaletteJump", tmp_path
    app.state.passphrase = b"correct horse battery staple"
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.pause()
        await pilot.press("enter")  # Welcome: start (demo tenant already running)
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)
        await pilot.press("enter")
        await wait_for_screen_workers(pilot)
        await pilot.pause()
        assert isinstance(app.screen, GenerateScreen)

        await run_command(pilot, "help for this")
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()

        app.state.client_id = demo_info.client_id
        await run_command(pilot, "copy the client id")
        await wait_for_screen_workers(pilot)
        await pilot.pause()
        assert app.clipboard == demo_info.client_id

        await run_command(pilot, "demo tenant's details")
        notes = [note for note in app._notifications if note.title == "Demo tenant"]
        assert len(notes) == 1 and demo_info.tenant_id in notes[0].message
        await run_command(pilot, "demo tenant's details")  # the same command hides them
        assert not [note for note in app._notifications if note.title == "Demo tenant"]

        await run_command(pilot, "go to step 2")
        assert isinstance(app.screen, NameScreen)
        assert app.screen.query_one("#name", Input).value == "PaletteJump"


# ------------------------------------------------------------------ the theme, kept
async def test_the_chosen_theme_is_kept_across_restarts() -> None:
    from wizard.app import CertWizardApp

    first = CertWizardApp()
    default = first.theme
    async with first.run_test(size=SMALLEST) as pilot:
        await pilot.pause()
        first.theme = "nord" if default != "nord" else "gruvbox"
        chosen = first.theme
        await pilot.pause()
        for worker in [w for w in first.workers if w.group == "preferences"]:
            await worker.wait()
        await pilot.press("ctrl+q")
    assert preferences_file().stat().st_mode & 0o077 == 0  # owner-only, like every file we keep

    second = CertWizardApp()
    assert second.theme == chosen


def test_a_damaged_or_oversized_preferences_file_is_ignored() -> None:
    from wizard.app import CertWizardApp

    default = CertWizardApp().theme
    path = preferences_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    for content in (
        b"{not json",
        b"\xff\xfe",
        b'["nord"]',
        b'{"theme": "no-such-theme"}',
        b'{"theme": "nord\\u001b[31m"}',
        b'{"theme": "nord", "pad": "' + b"x" * 5000 + b'"}',
    ):
        path.write_bytes(content)
        assert CertWizardApp().theme == default, content
    assert save_theme("nord") is None  # a damaged file is replaced by a good one
    assert CertWizardApp().theme == "nord"


# ------------------------------------------------------------------ the smallest size
async def test_below_the_smallest_size_a_step_asks_for_a_bigger_terminal(tmp_path: Path) -> None:
    from screens.name import NameScreen

    state = WizardState(demo=False, name="TooSmall", out_dir=tmp_path)
    app = StepHost(NameScreen, state)
    async with app.run_test(size=(60, 20)) as pilot:
        await pilot.pause()
        notice = app.screen.query_one("#too-small", Static)
        assert notice.region.height > 0 and "at least 80x24" in str(notice.render())
        assert app.screen.query_one("#body").region.height == 0  # nothing half-drawn
        await pilot.press("enter")  # no key acts on a step the user cannot see
        await pilot.pause()
        assert app.results == [] and isinstance(app.screen, NameScreen)

        await pilot.resize_terminal(80, 23)  # one row short is still too small
        await pilot.pause()
        assert notice.region.height > 0

        await pilot.resize_terminal(*SMALLEST)
        await pilot.pause()
        assert notice.region.height == 0
        assert app.screen.query_one("#name", Input).region.height == 1
        assert app.screen.query_one("#next").region.height == 1


# ------------------------------------------------------------------ 80x24
async def test_welcome_with_a_saved_setup_shows_its_buttons_without_scrolling(
    tmp_path: Path,
) -> None:
    from screens.welcome import WelcomeScreen

    save_real_tenant_profile(certificate_name="Welcome Back", profile_name="welcome-back",
                             out_root=tmp_path)
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.pause()
        await pilot.pause(0.2)
        body = app.screen.query_one("#body").region
        for selector in ("#profile-select", "#test-profile", "#renew-profile"):
            region = app.screen.query_one(selector).region
            assert region.height == 1 and body.contains_region(region), f"{selector} is below the fold"
        assert app.screen.query_one("#body").scroll_y == 0


async def test_generate_breaks_a_long_folder_at_its_separators(tmp_path: Path) -> None:
    from screens.generate import GenerateScreen
    from screens.widgets import PathText

    out_dir = tmp_path / "certificates-for-the-servers" / "in-the-second-datacenter"
    state = WizardState(demo=False, name="ScriptServer-vm", out_dir=out_dir, no_passphrase=True)
    app = StepHost(GenerateScreen, state)
    async with app.run_test(size=SMALLEST) as pilot:
        await wait_for_screen_workers(pilot)
        await pilot.pause()
        assert state.files is not None
        shown = app.screen.query_one("#files-folder", PathText)
        full = f"Written to {state.files.folder}"
        assert str(shown.content) == full  # the whole path is there, for copying
        lines = str(shown.render()).split("\n")
        assert len(lines) > 1 and "".join(lines) == full
        for line in lines[:-1]:
            assert line.endswith("/") and len(line) <= shown.content_size.width, lines
        assert shown.region.height == len(lines)


# ------------------------------------------------------------------ focus, without colour
def written_certificate(tmp_path: Path) -> WizardState:
    generated = certs.generate_certificate("FocusLook", days=30)
    files = storage.write_certificate_set(
        generated, "FocusLook", out_root=tmp_path / "certs", passphrase=None
    ).files
    return WizardState(
        demo=False, name="FocusLook", files=files,
        thumbprint_sha1=certs.thumbprint_sha1(generated.certificate),
        not_after=certs.not_valid_after(generated.certificate),
        client_id="11111111-2222-4333-8444-555555555555", tenant="contoso.onmicrosoft.com",
    )


@pytest.mark.parametrize("step", ["welcome", "name", "thumbprint", "summary", "renew"])
async def test_every_focus_stop_shows_focus_in_monochrome(
    step: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from screens.name import NameScreen
    from screens.summary import SummaryScreen
    from screens.thumbprint import ThumbprintScreen
    from screens.welcome import WelcomeScreen

    monkeypatch.setenv("NO_COLOR", "1")
    profile = save_real_tenant_profile(certificate_name="Focus Look", profile_name="focus-look",
                                       out_root=tmp_path)  # Welcome then offers its list too
    state = written_certificate(tmp_path)
    app: App[None] = (
        RotationHost(WizardState(demo=False), profile.name)
        if step == "renew"
        else StepHost(
            {"welcome": WelcomeScreen, "name": NameScreen, "thumbprint": ThumbprintScreen,
             "summary": SummaryScreen}[step],
            state,
        )
    )
    async with app.run_test(size=SMALLEST) as pilot:
        await wait_for_screen_workers(pilot)
        await pilot.pause(0.2)
        assert len(app.screen.focus_chain) >= 3
        assert await invisible_focus_stops(pilot) == []


async def test_summary_keeps_the_thumbprint_on_one_line_at_the_smallest_size(tmp_path: Path) -> None:
    from screens.summary import SummaryScreen

    state = written_certificate(tmp_path)
    app = StepHost(SummaryScreen, state)
    async with app.run_test(size=SMALLEST) as pilot:
        await wait_for_screen_workers(pilot)
        await pilot.pause()
        shown = app.screen.query_one("#thumbprint .copyable-text", Static)
        assert str(shown.content) == state.thumbprint_sha1
        assert shown.region.height == 1 and shown.region.width >= len(state.thumbprint_sha1)


async def test_upload_breaks_the_certificates_path_at_its_separators(tmp_path: Path) -> None:
    from screens.upload import UploadScreen
    from screens.widgets import PathText

    deep = tmp_path / "certificates-for-the-servers" / "in-the-second-datacenter-row"
    state = written_certificate(deep)
    assert state.files is not None and len(str(state.files.cer)) > 80
    app = StepHost(UploadScreen, state)
    async with app.run_test(size=SMALLEST) as pilot:
        await pilot.pause()
        shown = app.screen.query_one("#cer-path .copyable-text", PathText)
        lines = str(shown.render()).split("\n")
        assert len(lines) > 1 and "".join(lines) == str(state.files.cer)
        assert all(line.endswith("/") for line in lines[:-1]), lines
        assert shown.region.height == len(lines)
        await pilot.click("#cer-path .copy-button")
        await wait_for_screen_workers(pilot)
        await pilot.pause()
        assert app.clipboard == str(state.files.cer)  # the whole path, in one piece
