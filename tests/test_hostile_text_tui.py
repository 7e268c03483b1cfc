"""Hostile text never reaches the terminal from the wizard, and is never read as markup:
profile names in the Welcome list and picker, the demo tenant's name, the service's words
in an explained failure. What the pilot renders is read segment by segment (the text that
goes to the terminal between our own style codes) and from the exported screen."""

from __future__ import annotations

import dataclasses
import json
from datetime import datetime, timedelta, timezone
from pathlib import Path
from typing import Any

from hostile_text import HOSTILE, MARKUP_NAMES, OSC_52, raw_controls
from screen_host import StepHost
from textual.app import App, ComposeResult
from textual.widgets import Select

from screens.checks import CheckRow, Explained
from screens.welcome import WelcomeScreen
from wizard import certs, storage
from wizard.emulator import DemoInfo, DemoTenant
from wizard.portal import PortalClient
from wizard.profiles import Profile, profiles_file, save_profile
from wizard.session import WizardState
from wizard.signin.catalogue import Explanation


def rendered(app: App[Any]) -> tuple[str, bool]:
    """The text of every segment on screen (one line per screen row), and whether any
    segment is a hyperlink."""
    strips = app.screen._compositor.render_strips()
    segments = [segment for strip in strips for segment in strip]
    linked = any(segment.style is not None and segment.style.link for segment in segments)
    return "\n".join(strip.text for strip in strips), linked


def assert_nothing_raw(app: App[Any]) -> str:
    text, linked = rendered(app)
    assert not raw_controls(text), text
    assert not raw_controls(app.export_screenshot()), "the exported screen holds a raw control"
    assert not linked, "outside text became a hyperlink"
    return text


def save_profiles_named(tmp_path: Path, names: list[str]) -> None:
    """Profiles saved the usual way, then renamed by hand in profiles.json (names are only
    checked on save: a tampered file can hold anything)."""
    placeholders = [f"placeholder-{index}" for index in range(len(names))]
    for placeholder in placeholders:
        save_profile(Profile(
            name=placeholder, cloud="global", tenant="contoso.onmicrosoft.com",
            client_id="1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d", thumbprint_sha1="A" * 40,
            thumbprint_sha256="B" * 64, cert_path=str(tmp_path / "p.pem"),
            key_path=str(tmp_path / "p.key"), pfx_path=None,
            not_after=datetime.now(timezone.utc) + timedelta(days=100),
        ))
    text = profiles_file().read_text(encoding="utf-8")
    for placeholder, name in zip(placeholders, names, strict=True):
        text = text.replace(json.dumps(placeholder), json.dumps(name))
    profiles_file().write_text(text, encoding="utf-8")


async def show_welcome_picker(names: list[str]) -> tuple[str, list[str]]:
    """Welcome with those saved profiles, its picker opened: what it renders, and the
    picker's values."""
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()  # the saved set-ups are read once the screen is up
        select = app.screen.query_one("#profile-select", Select)
        closed = assert_nothing_raw(app)
        select.expanded = True
        await pilot.pause()
        opened = assert_nothing_raw(app)
        values = [value for _, value in select._options]
    return closed + "\n" + opened, values


async def test_welcome_says_a_file_with_hostile_profile_names_is_damaged(tmp_path: Path) -> None:
    """A control character has no place in a profile name: the file is reported damaged (the
    names are never shown), and nothing of it reaches the terminal raw."""
    save_profiles_named(tmp_path, [f"Payroll{HOSTILE}", f"Ops{OSC_52}"])
    app = StepHost(WelcomeScreen, WizardState(demo=False))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = " ".join(assert_nothing_raw(app).split())
        assert not app.screen.query("#profile-select")
    assert "damaged" in text and "control or invisible character" in text, text


async def test_welcome_shows_markup_in_profile_names_as_is(tmp_path: Path) -> None:
    """`App [Prod]` stays distinguishable from `App`, `Srv[/]` does not crash the start,
    `[link=…]` makes no link."""
    names = [*MARKUP_NAMES, "App"]
    save_profiles_named(tmp_path, names)
    text, values = await show_welcome_picker(names)
    assert values == names
    for name in MARKUP_NAMES:
        assert name in text, text


async def test_demo_tenant_name_is_shown_escaped(demo_info: DemoInfo) -> None:
    hostile = dataclasses.replace(
        demo_info, organization_name=f"Contoso{HOSTILE}", tenant_domain=f"[b]x{OSC_52}"
    )
    app = StepHost(WelcomeScreen, WizardState(demo=True, demo_info=hostile))
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        text = assert_nothing_raw(app)
    assert "Demo tenant running: ContosoEvil\\x1b[2J" in " ".join(text.split())
    assert "[b]x\\x1b]52" in text


class ExplainedHost(App[None]):
    def compose(self) -> ComposeResult:
        yield CheckRow("token", "Token")
        yield Explained(id="explained")


async def test_the_services_words_are_shown_escaped() -> None:
    app = ExplainedHost()
    async with app.run_test(size=(120, 30)) as pilot:
        app.query_one(CheckRow).show("fail", detail=f"AADSTS700016 {HOSTILE}")
        explanation = Explanation(
            code="AADSTS700016", title="Unknown app", cause=f"Not in '{HOSTILE}'.",
            fix="Check the IDs.", service_text=f"Said [link=https://evil.example]{HOSTILE}",
        )
        app.query_one(Explained).explain(explanation)
        await pilot.pause()
        text = assert_nothing_raw(app)
    assert "The service said: Said [link=https://evil.example]Evil\\x1b" in " ".join(text.split())


async def test_demo_app_names_are_shown_as_is_and_escaped(demo_info: DemoInfo) -> None:
    """The demo tenant's app names, on the Upload button (a Button reads a str as markup)
    and in the IDs step's note."""
    from screens.ids import IdsScreen
    from screens.upload import UploadScreen

    hostile = dataclasses.replace(
        demo_info, app_name=f"[b]Srv[/]{OSC_52}", unconsented_app_name=f"Other{HOSTILE}"
    )
    for screen in (UploadScreen, IdsScreen):
        app = StepHost(screen, WizardState(demo=True, demo_info=hostile))
        async with app.run_test(size=(120, 40)) as pilot:
            await pilot.pause()
            text = " ".join(assert_nothing_raw(app).split())
        assert "[b]Srv[/]\\x1b]52" in text, screen


async def test_positive_step_shows_the_tenants_words_escaped(
    tmp_path: Path, hostile_tenant: DemoTenant
) -> None:
    """Graph's displayName and verifiedDomains and the token's roles, from a hostile tenant."""
    from screens.positive import PositiveScreen

    info = hostile_tenant.info
    generated = certs.generate_certificate("HostileTenantScreen", days=30)
    files = storage.write_certificate_set(
        generated, "HostileTenantScreen", out_root=tmp_path, passphrase=None
    ).files
    PortalClient.for_demo(info).upload_certificate(info.client_id, files.cer.read_bytes())
    state = WizardState(
        demo=True, demo_info=info, portal=PortalClient.for_demo(info),
        name="HostileTenantScreen", files=files,
        thumbprint_sha1=certs.thumbprint_sha1(generated.certificate),
        not_after=certs.not_valid_after(generated.certificate),
        client_id=info.client_id, tenant=info.tenant_id, cloud_key="demo",
    )
    app = StepHost(PositiveScreen, state)
    async with app.run_test(size=(120, 40)) as pilot:
        for _ in range(2):
            await app.workers.wait_for_complete()
            await pilot.pause()
        text = " ".join(assert_nothing_raw(app).split())
    assert "ContosoEvil\\x1b[2J" in text and "RoleEvil\\x1b[2J" in text, text
    assert "contoso\\x1b]52" in text, text


async def test_renew_step_shows_a_hostile_profile_name_escaped(tmp_path: Path) -> None:
    """The Renew screen names the profile (and its files) read from profiles.json."""
    from demo_profiles import save_real_tenant_profile

    from screens.rotation import RotationScreen

    profile = save_real_tenant_profile(
        certificate_name="Hostile Renew", profile_name="placeholder", out_root=tmp_path
    )
    name = 'Srv[/][link="https://evil.example/"]x'  # controls make the file damaged
    text = profiles_file().read_text(encoding="utf-8")
    profiles_file().write_text(
        text.replace(json.dumps(profile.name), json.dumps(name)), encoding="utf-8"
    )

    class Host(App[None]):
        def on_mount(self) -> None:
            self.push_screen(RotationScreen(WizardState(demo=False), name))

    app = Host()
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        shown_text = " ".join(assert_nothing_raw(app).split())
    assert f"Renew {name}" in shown_text, shown_text


async def test_a_saved_set_up_that_cannot_be_opened_is_notified_plainly(tmp_path: Path) -> None:
    """The notice names the key file from profiles.json: not read as markup (no crash on
    `[/]`) and with its controls escaped."""
    from wizard.app import CertWizardApp

    save_profiles_named(tmp_path, ["payroll"])
    text = profiles_file().read_text(encoding="utf-8")
    gone = str(tmp_path / "p.key")
    hostile_key = str(tmp_path / "gone[/][b]x.key")  # controls make the file damaged
    profiles_file().write_text(
        text.replace(json.dumps(gone), json.dumps(hostile_key)), encoding="utf-8"
    )
    app = CertWizardApp(demo=False)
    async with app.run_test(size=(120, 40)) as pilot:
        await pilot.pause()
        await pilot.pause()
        await pilot.click("#test-profile")
        for _ in range(5):
            await pilot.pause()
        notices = [(notice.message, notice.markup) for notice in app._notifications]
        assert_nothing_raw(app)
    assert any("gone[/][b]x" in message and not markup for message, markup in notices), notices
