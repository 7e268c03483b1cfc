"""Steps 7-9 and the alarm screen, each alone in a small host app, driven with the pilot.

Real certificate files (tmp), the real demo tenant over HTTPS (the session's `demo_tenant`),
real MSAL; the only thing a test changes on the tenant it puts back (faults, uploads).
"""

from __future__ import annotations

import dataclasses
import socket
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from screen_host import StepHost
from textual.app import App
from textual.pilot import Pilot
from textual.widgets import Button, Static

from screens.alarm import AlarmScreen
from screens.base import Nav
from screens.checks import CheckRow, Explained
from screens.negative import NegativeScreen
from screens.positive import NO_PERMISSIONS, PositiveScreen
from screens.summary import SummaryScreen
from screens.widgets import PathText, fold_path, shown_path
from wizard import certs, storage
from wizard.emulator import DemoInfo, DemoTenant, Fault
from wizard.portal import PortalClient
from wizard.profiles import load_profiles
from wizard.session import WizardState

PASSPHRASE = b"screens tests passphrase"


@dataclass(frozen=True)
class CertificateSet:
    files: storage.CertificateFiles
    thumbprint_sha1: str
    name: str


def write_set(root: Path, name: str) -> CertificateSet:
    generated = certs.generate_certificate(name, days=90)
    result = storage.write_certificate_set(generated, name, out_root=root, passphrase=PASSPHRASE)
    return CertificateSet(result.files, certs.thumbprint_sha1(generated.certificate), name)


@pytest.fixture(scope="module")
def uploaded_set(
    tmp_path_factory: pytest.TempPathFactory, demo_info: DemoInfo, demo_portal: PortalClient
) -> CertificateSet:
    """A real certificate set, uploaded to both demo apps (consented and unconsented)."""
    cert_set = write_set(tmp_path_factory.mktemp("certs"), "ScreensTestsUploaded")
    der = cert_set.files.cer.read_bytes()
    demo_portal.upload_certificate(demo_info.client_id, der)
    demo_portal.upload_certificate(demo_info.unconsented_client_id, der)
    return cert_set


@pytest.fixture
def fresh_set(tmp_path: Path) -> CertificateSet:
    """A real certificate set that nobody uploaded (yet)."""
    return write_set(tmp_path / "certs", "ScreensTestsFresh")


@pytest.fixture
def faults(demo_tenant: DemoTenant) -> Iterator[DemoTenant]:
    """The demo tenant, its faults cleared after the test whatever happens."""
    try:
        yield demo_tenant
    finally:
        demo_tenant.set_fault(None)


def state_for(
    info: DemoInfo, cert_set: CertificateSet, *, client_id: str | None = None
) -> WizardState:
    generated = certs.load_certificate_file(cert_set.files.cer)
    return WizardState(
        demo=True,
        demo_info=info,
        portal=PortalClient.for_demo(info),
        name=cert_set.name,
        passphrase=PASSPHRASE,
        files=cert_set.files,
        thumbprint_sha1=cert_set.thumbprint_sha1,
        not_after=certs.not_valid_after(generated),
        client_id=client_id or info.client_id,
        tenant=info.tenant_id,
        cloud_key="demo",
    )


def text_of(app: App[None], selector: str) -> str:
    return str(app.screen.query_one(selector, Static).content)


def statuses(app: App[None]) -> dict[str, str]:
    return {row.key: row.status for row in app.screen.query(CheckRow)}


def explained_text(app: App[None]) -> str:
    panel = app.screen.query_one(Explained)
    assert panel.display, "the explanation panel is hidden"
    return "\n".join(str(line.content) for line in panel.query(Static) if line.display)


async def settle(pilot: Pilot[None]) -> None:
    """Until the step's workers are done and the UI has handled what they posted."""
    for _ in range(2):
        await pilot.app.workers.wait_for_complete()
        await pilot.pause()


# ------------------------------------------------------------------------ 7 Positive test
async def test_positive_passes_with_an_uploaded_certificate(
    demo_info: DemoInfo, uploaded_set: CertificateSet
) -> None:
    app = StepHost(PositiveScreen, state_for(demo_info, uploaded_set))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert "Step 7 of 9" in text_of(app, "#step-indicator")
        assert set(statuses(app).values()) == {"ok"}
        for row in app.screen.query(CheckRow):  # a fast loopback call reads "4 ms", not "0.00 s"
            timing = str(row.query_one(".check-time", Static).content)
            assert timing.endswith(" ms") and not timing.startswith("0."), timing
        assert "r" not in app.screen.active_bindings  # nothing to retry once it works
        assert "Organization.Read.All" in text_of(app, "#permissions")
        assert demo_info.organization_name in text_of(app, "#organization")
        assert not app.screen.query_one("#next", Button).disabled
        assert not app.screen.query_one("#failure-actions").display
        assert 'Saved as profile "ScreensTestsUploaded"' in text_of(app, "#profile")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.positive is not None and app.state.positive.ok
    assert app.state.profile_name == "ScreensTestsUploaded"
    assert [p.name for p in load_profiles()] == ["ScreensTestsUploaded"]


async def test_positive_fails_with_700027_explained_when_not_uploaded(
    demo_info: DemoInfo, fresh_set: CertificateSet
) -> None:
    app = StepHost(PositiveScreen, state_for(demo_info, fresh_set))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert statuses(app)["token"] == "fail"
        assert statuses(app)["graph"] == "skipped"
        explained = explained_text(app)
        assert "AADSTS700027" in explained
        assert "Why: " in explained and "Fix: " in explained
        assert "Upload" in explained or "upload" in explained
        assert app.screen.query_one("#next", Button).disabled  # no Next past a failure
        assert app.screen.query_one("#failure-actions").display
        # The step that fixes it is offered and focused: Enter goes there.
        fix = app.screen.query_one("#fix-step", Button)
        assert fix.display and str(fix.label) == "Go to Upload (step 4)"
        assert app.focused is fix
        assert "failed" in text_of(app, "#verdict")
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.JUMP]
    assert app.state.positive is not None and not app.state.positive.ok
    # Saved before the test, marked untested: something to come back to.
    assert [(p.name, p.last_test) for p in load_profiles()] == [("ScreensTestsFresh", None)]


async def test_positive_words_the_fix_for_the_wizard_not_the_command_line(
    demo_info: DemoInfo, fresh_set: CertificateSet, faults: DemoTenant
) -> None:
    """A cross-cloud refusal: the command line says --cloud, the wizard its Cloud field."""
    faults.set_fault(Fault(kind="aadsts", endpoint="token", code=900382))
    app = StepHost(PositiveScreen, state_for(demo_info, fresh_set))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        explained = explained_text(app)
        assert "AADSTS900382" in explained
        assert "Cloud field on step 6" in explained
        assert "--cloud" not in explained
        assert not app.screen.query_one("#fix-step", Button).display  # no earlier step to offer


async def test_positive_retry_passes_once_the_certificate_is_uploaded(
    demo_info: DemoInfo, demo_portal: PortalClient, fresh_set: CertificateSet
) -> None:
    app = StepHost(PositiveScreen, state_for(demo_info, fresh_set))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        assert statuses(app)["token"] == "fail"
        demo_portal.upload_certificate(demo_info.client_id, fresh_set.files.cer.read_bytes())
        try:
            await pilot.press("r")
            await settle(pilot)
            await pilot.pause()
            assert set(statuses(app).values()) == {"ok"}
            assert not app.screen.query_one(Explained).display
            assert not app.screen.query_one("#next", Button).disabled
        finally:
            demo_portal.delete_certificate(demo_info.client_id, fresh_set.thumbprint_sha1)
    assert app.state.positive is not None and app.state.positive.ok


async def test_positive_that_never_reaches_the_service_says_it_proves_nothing(
    demo_info: DemoInfo, uploaded_set: CertificateSet
) -> None:
    """Nothing listening where the tenant should be: no verdict on the certificate."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        closed = f"https://127.0.0.1:{probe.getsockname()[1]}"
    gone = dataclasses.replace(demo_info, authority_host=closed,
                               authority=f"{closed}/{demo_info.tenant_id}",
                               token_endpoint=f"{closed}/{demo_info.tenant_id}/oauth2/v2.0/token",
                               graph_endpoint=f"{closed}/graph")
    app = StepHost(PositiveScreen, state_for(gone, uploaded_set))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        verdict = text_of(app, "#verdict")
        assert "never reached" in verdict and "failed" not in verdict, verdict
        assert "Connection refused" in explained_text(app)
        assert app.screen.query_one("#failure-actions").display
    assert app.state.positive is not None and app.state.positive.unreached


async def test_positive_unconsented_app_shows_the_403_explained(
    demo_info: DemoInfo, uploaded_set: CertificateSet
) -> None:
    state = state_for(demo_info, uploaded_set, client_id=demo_info.unconsented_client_id)
    app = StepHost(PositiveScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert statuses(app)["token"] == "ok"
        assert statuses(app)["graph"] == "warn"
        assert NO_PERMISSIONS in text_of(app, "#permissions")
        explained = explained_text(app)
        assert "403" in explained or "Authorization_RequestDenied" in explained
        assert "consent" in explained.lower()
    assert app.state.positive is not None
    assert app.state.positive.signed_in and not app.state.positive.ok


async def test_positive_back_cancels_the_running_test(
    demo_info: DemoInfo, uploaded_set: CertificateSet, faults: DemoTenant
) -> None:
    faults.set_fault(Fault(kind="delay", endpoint="token", seconds=1.5))
    app = StepHost(PositiveScreen, state_for(demo_info, uploaded_set))
    async with app.run_test(size=(80, 24)) as pilot:
        screen = app.screen
        assert isinstance(screen, PositiveScreen)
        for _ in range(100):  # until the token request is on its way
            await pilot.pause(0.02)
            if statuses(app).get("token") == "running":
                break
        assert statuses(app)["token"] == "running"
        await pilot.press("escape")
        await pilot.pause()
        assert app.results == [Nav.BACK]
        assert screen.cancel_event.is_set()
        await settle(pilot)
    assert app.state.positive is None  # the cancelled run left no verdict behind
    assert [p.last_test for p in load_profiles()] == [None]  # saved, untested


async def test_a_hanging_request_shows_live_time_and_what_it_waits_for(
    demo_info: DemoInfo, uploaded_set: CertificateSet, faults: DemoTenant
) -> None:
    faults.set_fault(Fault(kind="delay", endpoint="token", seconds=5.0))
    app = StepHost(PositiveScreen, state_for(demo_info, uploaded_set))
    async with app.run_test(size=(80, 24)) as pilot:
        for _ in range(200):  # until the token request is on its way
            await pilot.pause(0.02)
            if statuses(app).get("token") == "running":
                break
        row = app.screen.query_one("#check-token", CheckRow)

        def time_shown() -> str:
            return str(row.query_one(".check-time", Static).content)

        await pilot.pause(1.3)
        first = time_shown()
        await pilot.pause(0.6)
        second = time_shown()
        detail = str(row.query_one(".check-detail", Static).content)
        assert row.status == "running"
        assert first.endswith(" s") and second.endswith(" s"), (first, second)
        assert float(second.split()[0]) > float(first.split()[0]) >= 1.0, (first, second)
        assert "Waiting for the sign-in service" in detail, detail
        await settle(pilot)
        await pilot.pause()
        assert statuses(app)["token"] == "ok"
        assert "Waiting" not in str(row.query_one(".check-detail", Static).content)


async def test_the_not_accepted_yet_retry_counts_live(
    demo_info: DemoInfo, fresh_set: CertificateSet, demo_portal: PortalClient,
    faults: DemoTenant,
) -> None:
    """A fresh upload not accepted yet: between two retries the time keeps counting."""
    state = state_for(demo_info, fresh_set)
    demo_portal.upload_certificate(demo_info.client_id, fresh_set.files.cer.read_bytes())
    state.upload_recorded(fresh_set.thumbprint_sha1, demo_info.client_id)
    faults.set_fault(Fault(kind="upload-propagation", endpoint="token", seconds=5.0))
    try:
        app = StepHost(PositiveScreen, state)
        async with app.run_test(size=(80, 24)) as pilot:
            row = app.screen.query_one("#check-token", CheckRow)

            def detail() -> str:
                return str(row.query_one(".check-detail", Static).content)

            for _ in range(400):  # the second wait: 4 s without a word from the engine
                await pilot.pause(0.02)
                if "retrying in 4 s" in detail():
                    break
            assert "retrying in 4 s" in detail()
            await pilot.pause(1.0)
            first = str(row.query_one(".check-time", Static).content)
            await pilot.pause(1.0)
            second = str(row.query_one(".check-time", Static).content)
            assert "retrying in 4 s" in detail() and row.status == "running"
            assert first and second and first != second, (first, second)
            await settle(pilot)
            assert statuses(app)["token"] == "ok"
    finally:
        demo_portal.delete_certificate(demo_info.client_id, fresh_set.thumbprint_sha1)


# ------------------------------------------------------------------------ 8 Negative test
async def test_negative_shows_three_refusals(
    demo_info: DemoInfo, uploaded_set: CertificateSet
) -> None:
    app = StepHost(NegativeScreen, state_for(demo_info, uploaded_set))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert "Step 8 of 9" in text_of(app, "#step-indicator")
        assert statuses(app) == {
            "no-credential": "ok",
            "stranger-certificate": "ok",
            "stolen-public-certificate": "ok",
        }
        for row in app.screen.query(CheckRow):
            assert str(row.query_one(".check-icon", Static).content) == "✓"
            assert "Refused (AADSTS" in str(row.query_one(".check-detail", Static).content)
        assert "All three were refused" in text_of(app, "#verdict")
        assert not app.screen.query_one("#next", Button).disabled
        assert "r" not in app.screen.active_bindings  # no "r Retry" once all three passed
        await pilot.press("enter")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    assert app.state.negative is not None and app.state.negative.verdict == "pass"


async def test_negative_raises_the_alarm_when_the_tenant_accepts_anything(
    demo_info: DemoInfo, uploaded_set: CertificateSet, faults: DemoTenant
) -> None:
    faults.set_fault(Fault(kind="accept-any", endpoint="token"))
    app = StepHost(NegativeScreen, state_for(demo_info, uploaded_set))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert isinstance(app.screen, AlarmScreen)
        assert "ALARM" in str(app.screen.query_one("#alarm-banner", Static).content)
        assert "No credential at all" in str(app.screen.query_one("#alarm-probes", Static).content)
        await pilot.press("escape")  # "I understand": back to the results, alarm explained
        await pilot.pause()
        assert isinstance(app.screen, NegativeScreen)
        assert set(statuses(app).values()) == {"fail"}
        assert "ALARM" in text_of(app, "#verdict") and "security incident" in explained_text(app)
        faults.set_fault(None)
        await pilot.press("r")  # test again, now that the tenant behaves
        await settle(pilot)
        await pilot.pause()
        assert isinstance(app.screen, NegativeScreen)
        assert set(statuses(app).values()) == {"ok"}
    assert app.state.negative is not None and app.state.negative.verdict == "pass"


async def test_negative_inconclusive_is_explained(
    demo_info: DemoInfo, uploaded_set: CertificateSet
) -> None:
    # An unknown app: every probe is refused for a reason unrelated to the certificate.
    state = state_for(demo_info, uploaded_set, client_id="11111111-2222-3333-4444-555555555555")
    app = StepHost(NegativeScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert set(statuses(app).values()) == {"warn"}
        assert app.screen.active_bindings["r"].enabled  # inconclusive: worth trying again
        assert "Inconclusive" in text_of(app, "#verdict")
        assert "Why: " in explained_text(app)
        assert app.screen.query_one("#retry-actions").display
    assert app.state.negative is not None and app.state.negative.verdict == "inconclusive"


# ------------------------------------------------------------------------ 9 Summary
async def test_summary_writes_the_markdown_and_copies_a_snippet(
    demo_info: DemoInfo, uploaded_set: CertificateSet
) -> None:
    from wizard.session import connection_settings, load_credential
    from wizard.signin.negative import run_negative
    from wizard.signin.positive import run_positive

    state = state_for(demo_info, uploaded_set)
    state.positive = run_positive(connection_settings(state), load_credential(state))
    state.negative = run_negative(connection_settings(state), load_credential(state))
    assert state.positive.ok and state.negative.verdict == "pass"
    app = StepHost(SummaryScreen, state)
    async with app.run_test(size=(120, 40)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert "Step 9 of 9" in text_of(app, "#step-indicator")
        assert "Done" in text_of(app, "#verdict")
        assert "days left" in text_of(app, "#expiry")
        assert uploaded_set.thumbprint_sha1 in str(
            app.screen.query_one("#thumbprint .copyable-text", Static).content
        )
        powershell = text_of(app, "#code-powershell")
        assert "Import-PfxCertificate" in powershell and "Cert:\\CurrentUser\\My" in powershell
        assert f"-CertificateThumbprint '{uploaded_set.thumbprint_sha1}'" in powershell
        code = app.screen.query_one("#code-powershell", Static)
        longest = max(len(line) for line in powershell.splitlines())
        assert code.size.height == len(powershell.splitlines())  # one row per line: no wrapping
        assert code.size.width >= longest > app.screen.query_one("#scroll-powershell").size.width
        scroll = app.screen.query_one("#scroll-powershell")
        assert app.focused is app.screen.query_one("#next", Button)
        await pilot.press("right", "right")  # the long lines scroll sideways; Next stays
        await pilot.pause()
        assert scroll.scroll_x == 16 and app.results == []
        await pilot.press("left")
        await pilot.pause()
        assert scroll.scroll_x == 8
        await pilot.click("#copy-powershell")
        await settle(pilot)
        await pilot.pause()
        screen = app.screen
        assert isinstance(screen, SummaryScreen)
        assert app.clipboard == screen.snippet_texts["powershell"]  # OSC 52 went out too
        assert "Copied" in text_of(app, "#copied-powershell") or "OSC 52" in text_of(
            app, "#copied-powershell"
        )
        assert str(app.screen.query_one("#next", Button).label) == "Finish"
        await pilot.click("#next")
        await pilot.pause()
    assert app.results == [Nav.NEXT]
    summary = app.state.summary_path
    assert summary is not None and summary.parent == uploaded_set.files.folder
    text = summary.read_text()
    assert uploaded_set.thumbprint_sha1 in text and "PRIVATE KEY" not in text
    cloud = next(line for line in text.splitlines() if line.startswith("- Cloud:"))
    assert "demo tenant" in cloud and demo_info.authority_host in cloud, cloud
    assert "login.microsoftonline.com" not in cloud
    assert PASSPHRASE.decode() not in text
    assert [p.last_test for p in load_profiles()] == ["pass"]


async def test_summary_shows_long_paths_folded_at_separators(
    demo_info: DemoInfo, tmp_path: Path
) -> None:
    deep = tmp_path / "certificates-for-the-scripts" / "that-run-on-this-server" / "nightly"
    cert_set = write_set(deep, "ScreensTestsLongPath")
    app = StepHost(SummaryScreen, state_for(demo_info, cert_set))
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        folder = app.screen.query_one("#folder", PathText)
        lines = folder.render().plain.splitlines()
        assert len(lines) > 1 and "".join(lines) == f"{cert_set.files.folder}/", lines
        assert all(line.endswith("/") for line in lines)  # broken after a separator only
        assert max(len(line) for line in lines) <= folder.content_size.width
        assert folder.size.height == len(lines)
        assert "(in the folder above)" in text_of(app, "#summary-path")


def test_fold_path_breaks_after_separators_and_shortens_home() -> None:
    assert fold_path("/srv/certs/Server/Server-summary.md", 20) == [
        "/srv/certs/Server/",
        "Server-summary.md",
    ]
    assert fold_path("C:\\Users\\admin\\certs\\x.md", 14) == ["C:\\Users\\", "admin\\certs\\", "x.md"]
    assert fold_path("/" + "n" * 30, 12) == ["/", "n" * 12, "n" * 12, "n" * 6]  # too long: cut
    assert fold_path("short", 80) == ["short"]
    assert shown_path(Path.home() / "certs" / "x.md") == str(Path("~") / "certs" / "x.md")
    assert shown_path("/srv/x.md") == "/srv/x.md"


async def test_summary_of_a_saved_set_up_tested_again_records_the_verdict_only(
    demo_info: DemoInfo, uploaded_set: CertificateSet
) -> None:
    from datetime import datetime, timezone

    from wizard.profiles import get_profile, profile_from_files, save_profile
    from wizard.session import connection_settings, load_credential
    from wizard.signin.negative import run_negative
    from wizard.signin.positive import run_positive

    created = datetime(2026, 1, 2, tzinfo=timezone.utc)
    saved = profile_from_files(
        name="Saved earlier", files=uploaded_set.files, cloud="global",
        tenant=demo_info.tenant_id, client_id=demo_info.client_id, demo=True,
    )
    saved.created_at = created
    save_profile(saved)
    state = state_for(demo_info, uploaded_set)
    state.start, state.profile_name = "test", "Saved earlier"
    state.positive = run_positive(connection_settings(state), load_credential(state))
    state.negative = run_negative(connection_settings(state), load_credential(state))
    app = StepHost(SummaryScreen, state)
    async with app.run_test(size=(80, 24)) as pilot:
        await settle(pilot)
        await pilot.pause()
        assert '"Saved earlier"' in text_of(app, "#profile-name")
    profile = get_profile("Saved earlier")
    assert profile.last_test == "pass" and profile.created_at == created  # kept, not rebuilt
    assert [p.name for p in load_profiles()] == ["Saved earlier"]
