"""Step 4's admin path, driven with the pilot against the real demo tenant: a device code
sign-in approved through the demo tenant's portal API (as the approval page would), real
Graph calls that add the certificate (or create the app), then the rest of the wizard.

Real MSAL, real HTTPS, real files; no mocks.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from screen_host import StepHost
from test_wizard_e2e import JWT, SIZE, Driver, positive, start, statuses, text_of
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Button, Input, Static

from screens.admin_upload import AdminUpload, added_text, clock_text
from screens.generate import GenerateScreen
from screens.ids import IdsScreen
from screens.negative import NegativeScreen
from screens.summary import SummaryScreen
from screens.thumbprint import ThumbprintScreen
from screens.upload import UploadScreen
from screens.widgets import TickBox
from wizard import certs, storage
from wizard.app import CertWizardApp
from wizard.emulator import DemoInfo
from wizard.emulator.device_code import INTERVAL
from wizard.portal import PortalClient
from wizard.profiles import load_profiles
from wizard.session import AdminAdded, AdminTarget, WizardState, admin_sign_in


async def until(pilot: Pilot[Any], done: Callable[[], bool], what: str, seconds: float = 30) -> None:
    """Let the app run until `done()` (the admin path's work runs in the panel's workers)."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while not done():
        assert loop.time() < deadline, f"still waiting for {what}"
        await pilot.pause(0.05)
    await pilot.pause()  # the messages that follow (the step hears the news after the panel)


def admin_status(app: App[Any]) -> str:
    return str(app.screen.query_one("#admin-status", Static).content)


def user_code(app: App[Any]) -> str:
    panel = app.screen.query_one(AdminUpload)
    assert panel.prompt is not None
    return panel.prompt.user_code


def app_with_two_certificates(demo_info: DemoInfo, demo_portal: PortalClient,
                              tmp_path: Path) -> str:
    """A new app registration (created by the demo admin, consented) holding two certificates
    uploaded by hand: its client ID."""
    state = WizardState(demo=True, demo_info=demo_info)
    sign_in = admin_sign_in(state, AdminTarget(consent=True))
    prompt = sign_in.start()
    demo_portal.decide_device_code(prompt.user_code, approve=True)
    graph = sign_in.wait(threading.Event())
    try:
        created = graph.create_application("Two certificates already", consent=True)
    finally:
        graph.close()
    for index in range(2):
        made = certs.generate_certificate(f"Existing{index}", days=30)
        demo_portal.upload_certificate(created.client_id, certs.cert_der(made.certificate))
    return created.client_id


def written_set(tmp_path: Path) -> tuple[storage.CertificateFiles, str]:
    generated = certs.generate_certificate("AdminPathTest", days=30)
    result = storage.write_certificate_set(generated, "AdminPathTest", out_root=tmp_path,
                                           passphrase=None)
    return result.files, certs.thumbprint_sha1(generated.certificate)


@pytest.fixture(autouse=True)
def quick_polling(demo_portal: PortalClient) -> Iterator[None]:
    """Poll every second (Entra asks for 5): the same flow, sooner over."""
    demo_portal.set_device_code_policy(interval=1)
    yield
    demo_portal.set_device_code_policy(interval=INTERVAL)


def test_the_admin_signs_in_to_the_tenant_named_else_to_their_own(demo_info: DemoInfo) -> None:
    first_time = admin_sign_in(WizardState(demo=False, cloud_key="usgov"), AdminTarget())
    assert first_time.settings.tenant == "organizations"
    assert first_time.settings.cloud.key == "usgov" and first_time.scopes == [
        "https://graph.microsoft.us/Application.ReadWrite.All"]
    named = admin_sign_in(WizardState(demo=False, tenant="contoso.onmicrosoft.com"),
                          AdminTarget(consent=True))
    assert named.settings.tenant == "contoso.onmicrosoft.com" and len(named.scopes) == 2
    demo = admin_sign_in(WizardState(demo=True, demo_info=demo_info, tenant="typed.example"),
                         AdminTarget())
    assert demo.settings.tenant == demo_info.tenant_id


def test_what_the_admin_path_did_in_one_line() -> None:
    guid = "11111111-2222-3333-4444-555555555555"
    kept = AdminAdded(guid, guid, guid, 1, already_there=False, created=False, consented=False)
    assert added_text(kept) == f"✓ Added to app {guid}; 1 existing certificate kept."
    there = AdminAdded(guid, guid, guid, 2, already_there=True, created=False, consented=False)
    assert "already on app" in added_text(there)
    made = AdminAdded(guid, guid, guid, 0, already_there=False, created=True, consented=True)
    assert "Created the app registration and added the certificate, with admin consent" in (
        added_text(made))


def test_the_clock_counts_up_and_the_expiry_down() -> None:
    assert clock_text(100.0, 1000.0, 107.4) == (
        "Waiting for the sign-in: 0:07 so far; the code expires in 14:52. Esc cancels.")
    assert "the code has expired" in clock_text(100.0, 1000.0, 1001.0)


async def test_esc_cancels_the_wait_declined_and_forbidden_leave_the_manual_path(
    demo_info: DemoInfo, demo_portal: PortalClient, tmp_path: Path
) -> None:
    files, thumbprint = written_set(tmp_path)
    state = WizardState(demo=True, demo_info=demo_info, portal=demo_portal, files=files,
                        thumbprint_sha1=thumbprint, name="AdminPathTest")
    app = StepHost(UploadScreen, state)
    async with app.run_test(size=(100, 40)) as pilot:
        panel = app.screen.query_one(AdminUpload)
        await pilot.click("#admin-start")
        await pilot.click("#admin-existing")  # the demo app, its client ID filled in
        await until(pilot, lambda: panel.waiting, "the device code")
        url = app.screen.query_one("#admin-url .copyable-text", Static)
        assert str(url.content).startswith("https://")
        assert "expires in 14:" in str(app.screen.query_one("#admin-clock", Static).content)
        assert app.focused is app.screen.query_one("#admin-approve", Button)
        attempt = panel.attempt
        assert attempt is not None
        await pilot.press("escape")  # cancels the sign-in, not the step
        assert attempt.is_set() and panel.attempt is None and not panel.waiting
        assert app.results == [] and "cancelled" in admin_status(app)
        assert app.focused is app.screen.query_one("#admin-create", Button)  # the choice, again
        await until(pilot, lambda: not any(w.is_running for w in app.workers
                                           if w.group == "admin-upload"), "the worker to end")

        await pilot.click("#admin-existing")  # again, declined this time
        await until(pilot, lambda: panel.waiting, "the device code")
        demo_portal.decide_device_code(user_code(app), approve=False)
        await until(pilot, lambda: "✗" in admin_status(app), "the refusal", seconds=20)
        said = admin_status(app)
        assert "declined" in said and "What to do:" in said and "manual steps" in said

        await pilot.click("#admin-existing")  # approved by a user who may not change apps
        await until(pilot, lambda: panel.waiting, "the device code")
        demo_portal.decide_device_code(user_code(app), approve=True, user="user")
        await until(pilot, lambda: "✗" in admin_status(app), "the refusal", seconds=20)
        said = admin_status(app)
        assert "not allowed to change this app" in said and "Application Administrator" in said
        assert state.uploaded_thumbprint is None
        # The manual path still works, and has the focus.
        assert app.focused is app.screen.query_one("#upload", Button)
        await pilot.press("enter")
        await until(pilot, lambda: state.uploaded_thumbprint is not None, "the manual upload")
        assert state.uploaded_thumbprint == thumbprint


async def test_an_existing_app_keeps_its_two_certificates_and_signs_in(
    demo_info: DemoInfo, demo_portal: PortalClient, tmp_path: Path
) -> None:
    client_id = app_with_two_certificates(demo_info, demo_portal, tmp_path)
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await driver.on(GenerateScreen)
        await driver.press("enter")
        upload = await driver.on(UploadScreen)
        await pilot.click("#admin-start")
        await pilot.click("#admin-client-id")
        await driver.enter_value(client_id, replace=True)
        await pilot.click("#admin-existing")
        await until(pilot, lambda: upload.query_one(AdminUpload).waiting, "the device code")
        await driver.press("enter")  # approve as the demo admin
        await until(pilot, lambda: "✓" in admin_status(app), "the upload", seconds=20)
        assert f"Added to app {client_id}; 2 existing certificates kept." in admin_status(app)
        assert "success" in upload.query_one("#admin-status", Static).classes
        held = next(a for a in demo_portal.list_applications() if a["client_id"] == client_id)
        assert len(held["key_credentials"]) == 3
        await driver.press("enter")  # Next
        await driver.on(ThumbprintScreen)
        await driver.press("enter")
        ids = await driver.on(IdsScreen)
        assert ids.query_one("#client-id", Input).value == client_id
        assert ids.query_one("#tenant", Input).value == demo_info.tenant_id
        await driver.press("enter")
        test = await positive(driver)
        await until(pilot, lambda: app.state.positive is not None, "the positive test", 60)
        assert set(statuses(test).values()) == {"ok"}
        await driver.press("enter")
        await driver.on(NegativeScreen)
        await driver.press("enter")
        summary = await driver.on(SummaryScreen)
        assert "Done" in text_of(summary, "#verdict")


async def test_a_new_app_with_consent_from_welcome_to_green(
    demo_info: DemoInfo, isolated_home: Path, record_property: Callable[[str, object], None]
) -> None:
    app = CertWizardApp(demo=True, demo_info=demo_info)
    async with app.run_test(size=SIZE) as pilot:
        driver = Driver(pilot)
        await start(driver)
        await driver.on(GenerateScreen)
        await driver.press("enter")
        upload = await driver.on(UploadScreen)
        # From the demo's upload button up past the app list to the admin sign-in; with no
        # app named yet in this run, it opens on "Create a new app registration".
        await driver.press("shift+tab", "shift+tab", "enter")
        assert app.focused is upload.query_one("#admin-create", Button)
        assert upload.query_one("#admin-consent", TickBox).value  # consent: ticked already
        await driver.press("enter")
        await until(pilot, lambda: upload.query_one(AdminUpload).waiting, "the device code")
        await driver.press("enter")  # approve as the demo admin
        await until(pilot, lambda: "✓" in admin_status(app), "the new app", seconds=30)
        state = app.state
        assert "Created the app registration" in admin_status(app)
        assert state.client_id and state.client_id != demo_info.client_id
        assert state.tenant == demo_info.tenant_id and state.object_id
        assert state.uploaded_to == state.client_id
        assert app.focused is upload.query_one("#next", Button)
        assert "✓ Added through the admin sign-in" in text_of(upload, "#upload-status")
        await driver.press("enter")
        await driver.on(ThumbprintScreen)
        await driver.press("enter")
        ids = await driver.on(IdsScreen)
        assert ids.query_one("#client-id", Input).value == state.client_id  # filled in
        await driver.press("enter")
        test = await positive(driver)
        await until(pilot, lambda: state.positive is not None, "the positive test", 60)
        assert set(statuses(test).values()) == {"ok"}  # consent granted: Graph reads the org
        await driver.press("enter")
        await driver.on(NegativeScreen)
        await driver.press("enter")
        summary = await driver.on(SummaryScreen)
        assert "Done" in text_of(summary, "#verdict")
        await driver.press("enter")  # Finish
        keystrokes = driver.keystrokes
    saved = [p for p in load_profiles() if p.client_id == state.client_id]
    assert len(saved) == 1 and saved[0].object_id == state.object_id
    for path in isolated_home.rglob("*"):  # nothing of the admin's sign-in was written
        if path.is_file():
            assert not JWT.search(path.read_bytes().decode("utf-8", errors="replace")), path
    record_property("keystrokes", keystrokes)
    print(f"\nThe demo run with the admin path took {keystrokes} keystrokes.")
    assert keystrokes == 15


async def test_after_an_admin_upload_in_a_real_tenant_step_5_names_no_demo(
    tmp_path: Path,
) -> None:
    files, thumbprint = written_set(tmp_path)
    state = WizardState(demo=False, files=files, thumbprint_sha1=thumbprint,
                        uploaded_thumbprint=thumbprint)
    app = StepHost(ThumbprintScreen, state)
    async with app.run_test(size=SIZE):
        said = str(app.screen.query_one("#portal-thumbprint", Static).content)
    assert said == (f"Microsoft Graph lists {thumbprint}. ✓ Match: the app registration holds "
                    "this certificate.")
