"""The Renew screen alone in a small host app, driven with the pilot against the real demo
tenant: a full rotation, leaving and resuming, and a passphrase mismatch kept beside its field."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from demo_profiles import rotation_thumbprints, save_real_tenant_profile, save_uploaded_demo_profile
from screen_host import wait_for_screen_workers
from textual.app import App
from textual.widgets import Button, Checkbox, Input, Static

from screens.base import Nav
from screens.rotation import RotationScreen
from wizard.profiles import Profile, get_profile
from wizard.rotation import progress
from wizard.session import WizardState

SIZE = (80, 24)  # everything essential must work at 80x24


class Host(App[None]):
    """Shows one RotationScreen and remembers how it ended."""

    def __init__(self, state: WizardState, profile_name: str) -> None:
        super().__init__()
        self.wizard_state = state
        self.profile_name = profile_name
        self.result: Nav | None = None

    def on_mount(self) -> None:
        self.push_screen(RotationScreen(self.wizard_state, self.profile_name), self.ended)

    def ended(self, nav: Nav | None) -> None:
        self.result = nav


def registered(demo_portal, client_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    for app in demo_portal.list_applications():
        if app["client_id"].lower() == client_id.lower():
            return {k["thumbprint"].upper() for k in app["key_credentials"]}
    return set()


@pytest.fixture
def demo_profile(demo_info, demo_portal, tmp_path: Path) -> Iterator[Profile]:  # type: ignore[no-untyped-def]
    profile = save_uploaded_demo_profile(
        demo_info,
        demo_portal,
        certificate_name="Screen Rotation",
        profile_name="screen-rot",
        out_root=tmp_path,
        passphrase=None,
    )
    yield profile
    for thumbprint in rotation_thumbprints(profile) & registered(demo_portal, demo_info.client_id):
        demo_portal.delete_certificate(demo_info.client_id, thumbprint)


def state_for(demo_info, demo_portal) -> WizardState:  # type: ignore[no-untyped-def]
    return WizardState(demo=True, demo_info=demo_info, portal=demo_portal)


def text_of(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).render())


async def press_next(app: App[None], pilot) -> None:  # type: ignore[no-untyped-def]
    button = app.screen.query_one("#next", Button)
    assert button.region.width >= len(str(button.label)) + 2, "the Next label is clipped"
    await pilot.click("#next")
    await app.workers.wait_for_complete()
    await pilot.pause()
    await pilot.pause()


async def test_full_rotation_in_the_screen(demo_info, demo_portal, demo_profile: Profile) -> None:  # type: ignore[no-untyped-def]
    old = demo_profile
    app = Host(state_for(demo_info, demo_portal), old.name)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        assert isinstance(screen, RotationScreen)
        assert "Step 1 of 6 · Generate the new certificate" in text_of(app, "#step-indicator")
        assert str(screen.query_one("#next", Button).label) == "Generate"
        screen.query_one("#new-pass", Input).value = "screen passphrase 1"
        screen.query_one("#new-pass-confirm", Input).value = "screen passphrase 1"
        await press_next(app, pilot)
        assert progress.next_stage(get_profile(old.name)) == "upload"
        assert "Step 2 of 6" in text_of(app, "#step-indicator")
        assert str(screen.query_one("#next", Button).label) == "Upload to the demo tenant"
        assert screen.query_one("#new-pass-field").has_class("hidden")

        await press_next(app, pilot)  # upload for real
        state = get_profile(old.name).rotation
        assert state is not None
        assert state.new_thumbprint_sha1 in registered(demo_portal, demo_info.client_id)

        await press_next(app, pilot)  # positive + negative tests
        assert "Both tests passed" in text_of(app, "#rotation-detail"), text_of(
            app, "#rotation-detail"
        )
        assert "Step 4 of 6 · Switch your script to it" in text_of(app, "#step-indicator")
        diff = text_of(app, "#rotation-detail")
        assert f"-CertificateThumbprint '{old.thumbprint_sha1}'" in diff
        assert f"-CertificateThumbprint '{state.new_thumbprint_sha1}'" in diff

        await press_next(app, pilot)  # switched
        assert str(screen.query_one("#next", Button).label) == "Remove the old one and prove it"
        assert screen.query_one("#old-pass-field").has_class("hidden")  # old key unencrypted

        await press_next(app, pilot)  # retire + proof
        assert "AADSTS700027" in text_of(app, "#rotation-detail")
        assert old.thumbprint_sha1 not in registered(demo_portal, demo_info.client_id)

        await press_next(app, pilot)  # archive
        assert "Rotation finished" in text_of(app, "#rotation-explain")
        assert str(screen.query_one("#next", Button).label) == "Close"
        for secret in ("screen passphrase 1",):
            assert secret not in "".join(
                text_of(app, s) for s in ("#rotation-detail", "#rotation-status")
            )

        await pilot.click("#next")
        await pilot.pause()
    assert app.result is Nav.NEXT
    profile = get_profile(old.name)
    assert profile.rotation is None and profile.thumbprint_sha1 == state.new_thumbprint_sha1
    assert profile.not_after == state.new_not_after
    assert profile.retired[0]["thumbprint_sha1"] == old.thumbprint_sha1


async def test_close_at_the_end_of_renew_returns_to_welcome(  # type: ignore[no-untyped-def]
    demo_info, demo_portal, demo_profile: Profile
) -> None:
    """The whole app: Renew from Welcome, the six stages, Close: back on Welcome, not out."""
    from screens.welcome import WelcomeScreen
    from wizard.app import CertWizardApp

    app = CertWizardApp(demo_info=demo_info, portal=demo_portal)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.click("#renew-profile")
        await pilot.pause()
        assert isinstance(app.screen, RotationScreen)
        app.screen.query_one("#new-pass", Input).value = "renew and close 1"
        app.screen.query_one("#new-pass-confirm", Input).value = "renew and close 1"
        for _stage in range(6):  # generate, upload, test, switch, retire, archive
            # Not press_next: it waits for every worker, and the flow loop runs until exit.
            await pilot.click("#next")
            await wait_for_screen_workers(pilot)
            await pilot.pause()
        assert str(app.screen.query_one("#next", Button).label) == "Close"
        await pilot.click("#next")
        await pilot.pause()
        assert isinstance(app.screen, WelcomeScreen)
        assert app.is_running
    assert app.finish_note is None  # nothing was finished by the new-certificate path


async def test_a_wrong_old_passphrase_is_worded_for_the_renew_screen(  # type: ignore[no-untyped-def]
    demo_info, demo_portal, tmp_path: Path
) -> None:
    """The old key's passphrase is a field here: the fix says so, not --passphrase-env."""
    old = save_uploaded_demo_profile(
        demo_info, demo_portal, certificate_name="Renew Words", profile_name="renew-words",
        out_root=tmp_path, passphrase=b"old key passphrase",
    )
    try:
        app = Host(state_for(demo_info, demo_portal), old.name)
        async with app.run_test(size=SIZE) as pilot:
            screen = app.screen
            screen.query_one("#new-pass", Input).value = "renew words new 1"
            screen.query_one("#new-pass-confirm", Input).value = "renew words new 1"
            for _stage in range(4):  # generate, upload, test, switch
                await press_next(app, pilot)
            assert not screen.query_one("#old-pass-field").has_class("hidden")
            screen.query_one("#old-pass", Input).value = "not the old passphrase"
            await press_next(app, pilot)  # retire: the old key does not open
            detail = text_of(app, "#rotation-detail")
            assert "passphrase" in detail.lower()
            assert "--passphrase-env" not in detail and "environment variable" not in detail
    finally:
        for thumbprint in rotation_thumbprints(get_profile(old.name)) & registered(
            demo_portal, demo_info.client_id
        ):
            demo_portal.delete_certificate(demo_info.client_id, thumbprint)


async def test_leave_and_resume_where_it_stood(
    demo_info, demo_portal, demo_profile: Profile
) -> None:  # type: ignore[no-untyped-def]
    app = Host(state_for(demo_info, demo_portal), demo_profile.name)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.query_one("#new-pass", Input).value = "resume passphrase"
        screen.query_one("#new-pass-confirm", Input).value = "resume passphrase"
        await press_next(app, pilot)
        await press_next(app, pilot)
        assert progress.next_stage(get_profile(demo_profile.name)) == "test"
        await pilot.press("escape")
        await pilot.pause()
    assert app.result is Nav.BACK

    # a new session: the passphrase typed before is gone, so the screen asks for it
    again = Host(state_for(demo_info, demo_portal), demo_profile.name)
    async with again.run_test(size=SIZE) as pilot:
        screen = again.screen
        assert "Step 3 of 6 · Test the new certificate" in text_of(again, "#step-indicator")
        assert "✓ 1. Generate" in text_of(again, "#rotation-checklist")
        assert "✓ 2. Upload" in text_of(again, "#rotation-checklist")
        assert "▶ 3. Test" in text_of(again, "#rotation-checklist")
        field = screen.query_one("#new-pass-field")
        assert not field.has_class("hidden")
        assert str(field.query_one(".field-label", Static).render()) == "New key passphrase"
        assert screen.query_one("#new-pass-confirm-field").has_class("hidden")
        screen.query_one("#new-pass", Input).value = "resume passphrase"
        await press_next(again, pilot)
        assert progress.next_stage(get_profile(demo_profile.name)) == "switch"


async def test_passphrase_mismatch_stays_with_the_message_beside_the_field(
    demo_info,
    demo_portal,
    demo_profile: Profile,  # type: ignore[no-untyped-def]
) -> None:
    app = Host(state_for(demo_info, demo_portal), demo_profile.name)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.query_one("#new-pass", Input).value = "one passphrase"
        screen.query_one("#new-pass-confirm", Input).value = "another one"
        await press_next(app, pilot)
        error = str(screen.query_one("#new-pass-confirm-field .field-error", Static).render())
        assert "The two passphrases differ" in error
        assert progress.next_stage(get_profile(demo_profile.name)) == "generate"
        assert app.focused is screen.query_one("#new-pass-confirm", Input)


async def test_real_tenant_upload_shows_the_clicks_and_waits_for_the_user(tmp_path: Path) -> None:
    profile = save_real_tenant_profile(
        certificate_name="Real Renew", profile_name="real-renew", out_root=tmp_path
    )
    app = Host(WizardState(demo=False), profile.name)
    async with app.run_test(size=SIZE) as pilot:
        screen = app.screen
        screen.query_one("#no-passphrase", Checkbox).value = True
        await pilot.pause()
        await press_next(app, pilot)
        state = get_profile(profile.name).rotation
        assert state is not None
        explain = text_of(app, "#rotation-explain")
        assert "Certificates & secrets › Certificates › Upload certificate" in explain
        assert str(state.new_cer_path) in explain.replace("\n", "")
        assert str(screen.query_one("#next", Button).label) == "I have uploaded it"
        await press_next(app, pilot)
        assert progress.next_stage(get_profile(profile.name)) == "test"
        assert "Uploaded to the portal (as you said)" in text_of(app, "#rotation-detail")
