"""Steps 1-6 of the wizard, each alone in a small host app, driven with the Textual pilot.

Real files (in tmp_path), the real demo tenant (the session's `demo_tenant` fixture), the real
clipboard seam (`app.clipboard`); no mocks.
"""

from __future__ import annotations

import stat
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from screen_host import StepHost
from textual import events
from textual.app import App
from textual.widgets import Button, Checkbox, Input, Select, Static

from screens.base import Nav
from screens.dialogs import HelpScreen
from screens.generate import GenerateScreen
from screens.ids import IdsScreen
from screens.name import NameScreen
from screens.thumbprint import ThumbprintScreen
from screens.upload import UploadScreen
from screens.welcome import WelcomeScreen
from screens.widgets import Field
from wizard import certs, storage
from wizard.emulator import DemoInfo, DemoTenant
from wizard.portal import PortalClient
from wizard.session import WizardState, connection_settings
from wizard.signin.clouds import demo_cloud

PASSPHRASE = "correct horse battery staple"


def text_of(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def field_error(app: App[None], field_id: str) -> str | None:
    return app.screen.query_one(f"#{field_id}", Field).error


def enter_label(app: App[None]) -> str | None:
    """What the footer says Enter does now (None: no Enter shown)."""
    active = app.screen.active_bindings.get("enter")
    return active.binding.description if active is not None and active.binding.show else None


async def burst(app: App[None], *parts: str) -> None:
    """Keys as one terminal read delivers them: all queued before the app handles the first.

    (pilot.press waits for the app to be idle after each key, which hides ordering bugs.)
    Named keys ("tab", "enter", "backspace") as they are; anything else typed character by
    character.
    """
    for part in parts:
        if part in ("tab", "shift+tab", "enter", "backspace"):
            app.post_message(events.Key(part, None))
        else:
            for char in part:
                app.post_message(events.Key("space" if char == " " else char, char))
    await app.workers.wait_for_complete()


async def settle(app: App[None]) -> None:
    await app.workers.wait_for_complete()
    await app.workers.wait_for_complete()  # handlers of the workers' messages may start more


@pytest.fixture(scope="module")
def written_set(tmp_path_factory: pytest.TempPathFactory) -> tuple[storage.CertificateFiles, str]:
    """One real certificate set on disk (key made once per module) and its SHA-1 thumbprint."""
    generated = certs.generate_certificate("ScreensFlowTest", days=30)
    result = storage.write_certificate_set(
        generated, "ScreensFlowTest", out_root=tmp_path_factory.mktemp("certs"),
        passphrase=PASSPHRASE.encode(),
    )
    return result.files, certs.thumbprint_sha1(generated.certificate)


def demo_state(info: DemoInfo, **answers: object) -> WizardState:
    state = WizardState(demo=True, demo_info=info,
                        portal=PortalClient.for_demo(info))
    for name, value in answers.items():
        setattr(state, name, value)
    return state


# ---------------------------------------------------------------------------- 1 Welcome
async def test_welcome_real_tenant_is_the_default_and_enter_starts() -> None:
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=(80, 24)) as pilot:
        assert "Step 1 of 9 · Welcome" in text_of(app, "#step-indicator")
        assert "MICROSOFT ENTRA ID" in text_of(app, "#diagram")
        assert not app.screen.query("#back")  # nothing before the first step
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.demo is False and app.state.start == "new"
    assert app.state.demo_info is None  # no demo tenant started for a real run


async def test_welcome_with_a_running_demo_tenant_preselects_it(demo_info: DemoInfo) -> None:
    app = StepHost(WelcomeScreen, demo_state(demo_info))
    async with app.run_test(size=(80, 24)) as pilot:
        assert "Demo tenant running" in text_of(app, "#demo-status")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.demo is True and app.state.demo_tenant is None


async def test_welcome_starts_the_demo_tenant_in_a_worker_when_chosen() -> None:
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("d", "enter")
        await settle(app)
        await pilot.pause()
    tenant = app.state.demo_tenant
    try:
        assert app.results == [Nav.NEXT]
        assert app.state.demo is True
        assert tenant is not None and app.state.demo_info is not None
        assert app.state.portal is not None
        assert app.state.portal.list_applications()  # it really answers
    finally:
        if tenant is not None:
            tenant.stop()


async def test_welcome_offers_saved_profiles(tmp_path: Path) -> None:
    from wizard.profiles import Profile, save_profile

    save_profile(Profile(
        name="payroll", cloud="global", tenant="contoso.onmicrosoft.com",
        client_id="1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d", thumbprint_sha1="A" * 40,
        thumbprint_sha256="B" * 64, cert_path=str(tmp_path / "p.pem"),
        key_path=str(tmp_path / "p.key"), pfx_path=None,
        not_after=datetime.now(timezone.utc) + timedelta(days=100),
    ))
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the saved set-ups are read once the screen is up
        assert app.screen.query_one("#profile-select", Select).value == "payroll"
        await pilot.click("#test-profile")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.start == "test" and app.state.profile_name == "payroll"


# ------------------------------------------------------------------------------- 2 Name
async def test_name_missing_passphrase_stays_with_the_message_beside_it(tmp_path: Path) -> None:
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        assert "Step 2 of 9" in text_of(app, "#step-indicator")
        assert app.focused is app.screen.query_one("#passphrase", Input)  # the only blank
        await pilot.press(*"secret-1", "enter")  # Enter goes on to the confirmation first
        assert app.focused is app.screen.query_one("#confirm", Input)
        app.screen.query_one("#passphrase", Input).value = ""
        await pilot.click("#next")
        await pilot.pause()
        assert app.results == []
        assert "passphrase" in (field_error(app, "passphrase-field") or "")
        assert app.focused is app.screen.query_one("#passphrase", Input)


async def test_name_keys_in_one_burst_land_in_order(tmp_path: Path) -> None:
    """A fast typist or a terminal read holding several keys: Tab, Backspace and Enter act
    where they stand among the typed characters."""
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        passphrase = screen.query_one("#passphrase", Input)
        confirm = screen.query_one("#confirm", Input)
        await burst(app, "correct horse", "tab", "correct horsf")
        await pilot.pause()
        assert (passphrase.value, confirm.value) == ("correct horse", "correct horsf")
        assert app.focused is confirm
        await burst(app, "enter")
        await pilot.pause()
        assert "differ" in (field_error(app, "confirm-field") or "")
        await burst(app, "backspace", "e", "enter")
        await pilot.pause()
        assert confirm.value == "correct horse"
    assert app.results == [Nav.NEXT]
    assert app.state.passphrase == b"correct horse"


async def test_name_enter_in_the_passphrase_moves_on_before_later_keys(tmp_path: Path) -> None:
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await burst(app, "pw-one-two", "enter", "pw-one-two", "enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.passphrase == b"pw-one-two"


async def test_name_enter_on_a_select_keeps_its_own_meaning(tmp_path: Path) -> None:
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        key_size = screen.query_one("#key-size", Select)
        key_size.focus()
        await pilot.pause()
        await pilot.press("enter")  # opens the list
        await pilot.pause()
        assert key_size.expanded
        await pilot.press("down", "enter")  # picks 3072
        await pilot.pause()
        assert key_size.value == 3072 and not key_size.expanded
    assert app.results == []  # Enter was not Next


async def test_name_no_passphrase_box_reads_without_colour_and_enter_stays_next(
    tmp_path: Path,
) -> None:
    """Its state is "[ ]" / "[X]" (not a colour), Space toggles it, Enter is still Next."""
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        no_passphrase = app.screen.query_one("#no-passphrase", Checkbox)
        assert str(no_passphrase.render()).startswith("[ ]")
        no_passphrase.focus()
        await pilot.press("space")
        await pilot.pause()
        assert no_passphrase.value
        assert str(no_passphrase.render()).startswith("[X]")
        assert enter_label(app) == "Next"
        await pilot.press("enter")
        await pilot.pause()
        assert no_passphrase.value  # still ticked: Enter did not untick it
    assert app.results == [Nav.NEXT]
    assert app.state.no_passphrase and app.state.passphrase is None


async def test_name_empty_passphrase_is_said_on_the_first_enter(tmp_path: Path) -> None:
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        passphrase = app.screen.query_one("#passphrase", Input)
        assert app.focused is passphrase
        await pilot.press("enter")
        await pilot.pause()
        assert "passphrase" in (field_error(app, "passphrase-field") or "").lower()
        assert app.focused is passphrase
    assert app.results == []


async def test_name_invalid_fields_focus_the_first_bad_one(tmp_path: Path) -> None:
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#name", Input).value = " padded"
        screen.query_one("#days", Input).value = "0"
        screen.query_one("#passphrase", Input).value = PASSPHRASE
        screen.query_one("#confirm", Input).value = PASSPHRASE + "x"
        await pilot.click("#next")
        await pilot.pause()
        assert app.results == []
        assert "space" in (field_error(app, "name-field") or "")
        assert "days" in (field_error(app, "days-field") or "")
        assert "differ" in (field_error(app, "confirm-field") or "")
        assert app.focused is screen.query_one("#name", Input)
        # Fixing a field clears its message while typing.
        screen.query_one("#name", Input).value = "Padded"
        await pilot.pause()
        assert field_error(app, "name-field") is None


async def test_name_no_passphrase_choice_and_long_validity_warning(tmp_path: Path) -> None:
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#days", Input).value = "1000"
        await pilot.pause()
        assert "long" in text_of(app, "#days-warning")
        screen.query_one("#no-passphrase", Checkbox).value = True
        await pilot.pause()
        assert "unencrypted" in text_of(app, "#no-passphrase-warning")
        assert screen.query_one("#passphrase-field", Field).disabled
        await pilot.click("#next")
        await pilot.pause()
    assert app.results == [Nav.NEXT]  # a warning, not a block
    assert app.state.days == 1000
    assert app.state.passphrase is None and app.state.no_passphrase


async def test_name_prefilled_answers_round_trip_and_back_keeps_them(tmp_path: Path) -> None:
    state = WizardState(demo=False, name="Payroll-01", days=90, key_size=3072, out_dir=tmp_path,
                        passphrase=PASSPHRASE.encode())
    app = StepHost(NameScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.click("#next")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    answers = (state.name, state.days, state.key_size, state.out_dir)
    assert answers == ("Payroll-01", 90, 3072, tmp_path)
    assert state.passphrase == PASSPHRASE.encode()

    app = StepHost(NameScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        app.screen.query_one("#name", Input).value = "Payroll-02"
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [Nav.BACK]
    assert state.name == "Payroll-02" and state.key_size == 3072


# --------------------------------------------------------------------------- 3 Generate
async def test_generate_writes_real_files_and_shows_permissions(tmp_path: Path) -> None:
    state = WizardState(demo=True, name="GenerateStep", days=30, out_dir=tmp_path,
                        passphrase=PASSPHRASE.encode())
    app = StepHost(GenerateScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)
        await pilot.pause()
        assert state.files is not None
        listing = text_of(app, "#files")
        for path in (state.files.cer, state.files.key, state.files.pfx):
            assert path is not None and path.is_file() and path.name in listing
        if stat.S_IMODE(state.files.key.stat().st_mode) == 0o600:
            assert "-rw-------" in listing
        assert "upload this one to the portal" in listing
        assert "✓" in text_of(app, "#stages")
        assert PASSPHRASE not in listing
        assert not app.screen.query_one("#next", Button).disabled
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert len(state.thumbprint_sha1) == 40 and state.not_after is not None


async def test_generate_existing_name_offers_back_or_replace(tmp_path: Path) -> None:
    generated = certs.generate_certificate("Taken", days=5)
    storage.write_certificate_set(generated, "Taken", out_root=tmp_path, passphrase=None)
    state = WizardState(demo=True, name="Taken", days=30, out_dir=tmp_path,
                        passphrase=PASSPHRASE.encode())
    app = StepHost(GenerateScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "already exists" in text_of(app, "#stages")
        assert app.screen.query_one("#next", Button).disabled
        await pilot.press("enter")  # Next is not possible yet: focus is on "Back: rename"
        await pilot.pause()
    assert app.results == [Nav.BACK]

    app = StepHost(GenerateScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)  # the check of the set on disk may still move the buttons
        await pilot.pause()
        await pilot.click("#replace")
        await settle(app)
        await pilot.pause()
        assert "backup" in text_of(app, "#generate-notes")
    assert state.files is not None and state.files.pfx is not None
    on_disk = certs.load_certificate_file(state.files.cer)
    assert certs.thumbprint_sha1(on_disk) == state.thumbprint_sha1
    assert list(tmp_path.glob("Taken.backup-*"))


async def existing_set_screen(
    tmp_path: Path, passphrase: bytes | None, *, made_with: bytes | None = None
) -> tuple[StepHost, WizardState, str]:
    """A set made earlier ("Earlier", 40 days, key with `made_with`), and step 3 for the same
    name with `passphrase` given on step 2."""
    generated = certs.generate_certificate("Earlier", days=40)
    storage.write_certificate_set(generated, "Earlier", out_root=tmp_path, passphrase=made_with)
    state = WizardState(demo=True, name="Earlier", days=365, out_dir=tmp_path,
                        passphrase=passphrase, no_passphrase=passphrase is None)
    return StepHost(GenerateScreen, state), state, certs.thumbprint_sha1(generated.certificate)


async def test_generate_offers_the_set_made_earlier_and_enter_uses_it(tmp_path: Path) -> None:
    app, state, thumbprint = await existing_set_screen(
        tmp_path, PASSPHRASE.encode(), made_with=PASSPHRASE.encode()
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)
        await pilot.pause()
        use = app.screen.query_one("#use-existing", Button)
        assert use.display and app.focused is use
        assert thumbprint in text_of(app, "#exists-verdict")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert state.files is not None and state.files.folder == tmp_path / "Earlier"
    assert state.thumbprint_sha1 == thumbprint and state.files.pfx is not None
    # What the files were made with, read from them: Back and Next again keeps them.
    assert (state.days, state.key_size) == (40, 2048) and state.options_changed() == []
    assert not list(tmp_path.glob("Earlier.backup-*"))

    app = StepHost(GenerateScreen, state)  # Back from Upload: the same files, shown again
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "Kept the certificate made earlier" in text_of(app, "#stages")
    assert state.thumbprint_sha1 == thumbprint


async def test_generate_wrong_passphrase_for_the_set_made_earlier_says_so(
    tmp_path: Path,
) -> None:
    app, state, _ = await existing_set_screen(
        tmp_path, b"not-the-passphrase", made_with=PASSPHRASE.encode()
    )
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)
        await pilot.pause()
        verdict = text_of(app, "#exists-verdict")
        assert "passphrase given on step 2 does not open" in verdict
        assert not app.screen.query_one("#use-existing", Button).display
        assert app.focused is app.screen.query_one("#rename", Button)
        await pilot.click("#replace")
        await settle(app)
        await pilot.pause()
    assert state.files is not None and list(tmp_path.glob("Earlier.backup-*"))


@pytest.mark.parametrize(
    ("given", "made_with", "said"),
    [
        (None, PASSPHRASE.encode(), "none was given"),
        (PASSPHRASE.encode(), None, "has no passphrase"),
    ],
)
async def test_generate_set_made_earlier_with_another_passphrase_choice_is_not_offered(
    tmp_path: Path, given: bytes | None, made_with: bytes | None, said: str
) -> None:
    app, _, _ = await existing_set_screen(tmp_path, given, made_with=made_with)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)
        await pilot.pause()
        assert said in text_of(app, "#exists-verdict")
        assert not app.screen.query_one("#use-existing", Button).display


async def test_generate_shows_its_stages_again_after_back(tmp_path: Path) -> None:
    state = WizardState(demo=True, name="StagesAgain", days=30, out_dir=tmp_path,
                        passphrase=PASSPHRASE.encode())
    app = StepHost(GenerateScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(app)
        await pilot.pause()
        stages = text_of(app, "#stages")
    assert "✓" in stages and "…" not in stages
    app = StepHost(GenerateScreen, state)  # Back from Upload: a new Generate screen
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert text_of(app, "#stages") == stages
        assert str(state.files.folder if state.files else "?") in text_of(app, "#files-folder")


# ----------------------------------------------------------------------------- 4 Upload
async def test_upload_to_the_demo_tenant_for_real(
    demo_tenant: DemoTenant, written_set: tuple[storage.CertificateFiles, str]
) -> None:
    files, thumbprint = written_set
    info = demo_tenant.info
    state = demo_state(info, files=files, thumbprint_sha1=thumbprint)
    app = StepHost(UploadScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        assert str(files.cer) in text_of(app, "#cer-path .copyable-text")
        await pilot.click("#upload")
        await settle(app)
        await pilot.pause()
        assert "matches ours" in text_of(app, "#upload-status")
        await pilot.click("#next")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert state.uploaded_thumbprint == thumbprint and state.uploaded_at is not None
    assert state.portal is not None
    apps = state.portal.list_applications()
    app_entry = next(a for a in apps if a["client_id"] == info.client_id)
    assert thumbprint in {k["thumbprint"].upper() for k in app_entry["key_credentials"]}


async def test_upload_footer_says_what_enter_does(
    demo_info: DemoInfo, written_set: tuple[storage.CertificateFiles, str]
) -> None:
    files, thumbprint = written_set
    app = StepHost(UploadScreen, demo_state(demo_info, files=files, thumbprint_sha1=thumbprint))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused is app.screen.query_one("#upload", Button)
        assert enter_label(app) == "Upload"
        app.screen.query_one("#next", Button).focus()
        await pilot.pause()
        assert enter_label(app) == "Next"


async def test_upload_real_tenant_shows_the_exact_clicks(
    written_set: tuple[storage.CertificateFiles, str],
) -> None:
    files, thumbprint = written_set
    app = StepHost(UploadScreen, WizardState(demo=False, files=files, thumbprint_sha1=thumbprint))
    async with app.run_test(size=(80, 24)) as pilot:
        body = " ".join(str(s.content) for s in app.screen.query(Static))
        assert "App registrations › your app › Certificates & secrets" in body
        assert not app.screen.query("#upload")
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [Nav.BACK]


# ------------------------------------------------------------------------- 5 Thumbprint
async def test_thumbprint_copy_and_paste_back(
    written_set: tuple[storage.CertificateFiles, str],
) -> None:
    files, thumbprint = written_set
    state = WizardState(demo=False, files=files, thumbprint_sha1=thumbprint)
    app = StepHost(ThumbprintScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        assert text_of(app, "#thumbprint-big") == thumbprint
        await pilot.click("#copy")
        await settle(app)
        await pilot.pause()
        assert app.clipboard == thumbprint
        assert "Copied" in text_of(app, "#copy-status") or "OSC 52" in text_of(app, "#copy-status")

        pasted = app.screen.query_one("#pasted", Input)
        pasted.value = "\u200e" + ":".join(thumbprint[i:i + 2] for i in range(0, 40, 2)).lower()
        await pilot.pause()
        assert "✓ Match: the thumbprint you pasted is this certificate's" in text_of(
            app, "#compare-result"
        )
        pasted.value = "0" * 40
        await pilot.pause()
        assert "the thumbprint you pasted is not this certificate's" in text_of(
            app, "#compare-result"
        )
        pasted.value = "not a thumbprint"
        await pilot.pause()
        assert "40 hexadecimal" in text_of(app, "#compare-result")
        await pilot.press("escape")
        await pilot.pause()
    assert app.results == [Nav.BACK]


async def test_thumbprint_after_a_skipped_demo_upload_says_what_was_compared(
    demo_info: DemoInfo, written_set: tuple[storage.CertificateFiles, str],
) -> None:
    """Nothing was uploaded: a pasted match is about two texts, never "the portal holds it"."""
    files, thumbprint = written_set
    app = StepHost(ThumbprintScreen, demo_state(demo_info, files=files, thumbprint_sha1=thumbprint))
    async with app.run_test(size=(80, 24)) as pilot:
        assert not app.screen.query("#portal-thumbprint")
        app.screen.query_one("#pasted", Input).value = thumbprint
        await pilot.pause()
        result = text_of(app, "#compare-result")
        assert "the thumbprint you pasted is this certificate's" in result
        assert "Nothing was uploaded to the demo tenant" in result
        assert "portal holds" not in result


# -------------------------------------------------------------------------------- 6 IDs
async def test_ids_invalid_values_stay_with_the_message(demo_info: DemoInfo) -> None:
    app = StepHost(IdsScreen, WizardState(demo=False))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        screen.query_one("#client-id", Input).value = "not-a-guid"
        screen.query_one("#tenant", Input).value = "contoso"
        await pilot.click("#next")
        await pilot.pause()
        assert app.results == []
        assert "Application (client) ID" in (field_error(app, "client-id-field") or "")
        assert "onmicrosoft.com" in (field_error(app, "tenant-field") or "")
        assert app.focused is screen.query_one("#client-id", Input)
        screen.query_one("#client-id", Input).value = " {1B2C3D4E-5F60-4A1B-9C2D-3E4F5A6B7C8D} "
        screen.query_one("#tenant", Input).value = "contoso.onmicrosoft.com"
        screen.query_one("#cloud", Select).value = "usgov"
        await pilot.click("#next")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.client_id == "1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d"
    assert app.state.tenant == "contoso.onmicrosoft.com" and app.state.cloud_key == "usgov"


async def test_ids_fill_from_the_demo_tenant(demo_info: DemoInfo) -> None:
    app = StepHost(IdsScreen, demo_state(demo_info))
    async with app.run_test(size=(80, 24)) as pilot:
        assert app.screen.query_one("#cloud", Select).disabled
        await pilot.click("#fill-demo")
        await pilot.pause()
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.client_id == demo_info.client_id
    assert app.state.tenant == demo_info.tenant_id and app.state.demo
    assert connection_settings(app.state).cloud == demo_cloud(demo_info)  # the demo tenant's


async def test_ids_demo_fill_has_a_footer_key(demo_info: DemoInfo) -> None:
    app = StepHost(IdsScreen, demo_state(demo_info))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert app.focused is app.screen.query_one("#fill-demo", Button)  # the first thing to do
        assert enter_label(app) == "Fill from demo"
        app.screen.query_one("#client-id", Input).focus()
        await pilot.pause()
        assert "ctrl+f" in app.screen.active_bindings
        await pilot.press("ctrl+f")
        await pilot.pause()
        assert app.screen.query_one("#client-id", Input).value == demo_info.client_id
        assert enter_label(app) == "Next"
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]

    app = StepHost(IdsScreen, WizardState(demo=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "ctrl+f" not in app.screen.active_bindings  # no demo tenant, no such key
        assert enter_label(app) == "Next"


# ------------------------------------------------------------------------------ frame
async def test_footer_enter_follows_the_next_button(tmp_path: Path) -> None:
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert enter_label(app) == "Start"
        for _ in range(4):  # round the focus chain: every stop says what Enter does
            await pilot.press("tab")
            await pilot.pause()
            focused_id = app.focused.id if app.focused is not None else None
            expected = "Choose" if (focused_id or "").startswith("choice") else "Start"
            assert enter_label(app) == expected, app.focused
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert enter_label(app) == "Next"
        app.screen.query_one("#back", Button).focus()
        await pilot.pause()
        assert enter_label(app) == "Back"
        await pilot.press("enter")  # a focused button is pressed, not Next
        await pilot.pause()
    assert app.results == [Nav.BACK]


# ------------------------------------------------------------------------------ frame
async def test_f1_opens_the_steps_help_and_escape_closes_it(tmp_path: Path) -> None:
    app = StepHost(NameScreen, WizardState(demo=True, out_dir=tmp_path))
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.press("f1")
        await pilot.pause()
        assert isinstance(app.screen, HelpScreen)
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)
    assert app.results == []


# ------------------------------------------------------------------ the app's flow loop
async def test_app_back_from_name_returns_to_welcome_keeping_answers(demo_info: DemoInfo) -> None:
    from wizard.app import CertWizardApp

    app = CertWizardApp(demo_info=demo_info)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert isinstance(app.screen, NameScreen)
        app.screen.query_one("#name", Input).value = "KeptName"
        await pilot.press("escape")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("enter")
        await pilot.pause()
        assert app.screen.query_one("#name", Input).value == "KeptName"


async def test_app_quit_asks_while_a_certificate_is_untested(
    demo_info: DemoInfo, written_set: tuple[storage.CertificateFiles, str]
) -> None:
    from screens.dialogs import ConfirmScreen
    from wizard.app import CertWizardApp

    app = CertWizardApp(demo_info=demo_info)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        app.state.files = written_set[0]
        await pilot.press("ctrl+q")
        await pilot.pause()
        assert isinstance(app.screen, ConfirmScreen)
        question = str(app.screen.query_one("#confirm-question", Static).content)
        assert str(written_set[0].folder) in question
        # One wording: the footer's keys say what the buttons say.
        buttons = {str(b.label) for b in app.screen.query(Button)}
        footer = {
            active.binding.description
            for active in app.screen.active_bindings.values()
            if active.binding.show and active.node is app.screen
        }
        assert buttons == {"Quit", "Stay"} and footer == buttons
        await pilot.press("n")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        await pilot.press("ctrl+q")
        await pilot.pause()
        await pilot.press("y")
        await pilot.pause()
    assert app.return_code == 0


async def test_app_tests_a_saved_profile_again_after_asking_its_passphrase(
    demo_info: DemoInfo, written_set: tuple[storage.CertificateFiles, str]
) -> None:
    from screens.dialogs import PassphrasePrompt
    from wizard.app import CertWizardApp
    from wizard.profiles import Profile, save_profile

    files, thumbprint = written_set
    save_profile(Profile(
        name="screens-flow", cloud="global", tenant=demo_info.tenant_id,
        client_id=demo_info.client_id, thumbprint_sha1=thumbprint, thumbprint_sha256="0" * 64,
        cert_path=str(files.pem), key_path=str(files.key),
        pfx_path=str(files.pfx) if files.pfx else None, cer_path=str(files.cer),
        not_after=datetime.now(timezone.utc) + timedelta(days=30), demo=True,
    ))
    app = CertWizardApp(demo_info=demo_info)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.click("#test-profile")
        await pilot.pause()
        assert isinstance(app.screen, PassphrasePrompt)
        app.screen.query_one("#existing-passphrase", Input).value = "wrong"
        await pilot.press("enter")
        await pilot.pause()
        assert "passphrase" in (field_error(app, "existing-passphrase-field") or "")
        app.screen.query_one("#existing-passphrase", Input).value = PASSPHRASE
        await pilot.press("enter")
        await pilot.pause()
        assert type(app.screen).__name__ == "PositiveScreen"
        assert app.state.files is not None and app.state.files.key == files.key
        assert app.state.passphrase == PASSPHRASE.encode()
        assert (app.state.client_id, app.state.demo) == (demo_info.client_id, True)
        assert connection_settings(app.state).cloud == demo_cloud(demo_info)
        # Not app.workers.wait_for_complete(): the flow loop is a worker that runs until exit.
        for _ in range(300):
            if app.state.positive is not None:
                break
            await pilot.pause(0.05)
        assert app.state.positive is not None


async def test_generate_counts_the_seconds_of_a_long_stage(tmp_path: Path) -> None:
    """A stage that runs over a second (a 4096-bit key on a slow machine) shows its time so
    far. The stage is announced as the worker announces it; no key is made meanwhile."""
    from screens.generate import StageStarted

    storage.write_certificate_set(certs.generate_certificate("Taken", days=5), "Taken",
                                  out_root=tmp_path, passphrase=None)
    state = WizardState(demo=True, name="Taken", days=30, out_dir=tmp_path,
                        passphrase=PASSPHRASE.encode())
    app = StepHost(GenerateScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await pilot.pause()
        assert "already exists" in text_of(app, "#stages")  # nothing running: no worker
        app.screen.post_message(StageStarted("Making the RSA 4096-bit key and the certificate"))
        await pilot.pause(0.3)
        assert text_of(app, "#stages") == "… Making the RSA 4096-bit key and the certificate"
        await pilot.pause(1.0)
        first = text_of(app, "#stages")
        await pilot.pause(0.5)
        second = text_of(app, "#stages")
    assert first.endswith(" s)") and second.endswith(" s)") and first != second, (first, second)
