"""Step 1 · Welcome: what certificate authentication is, and where to set it up.

This is the first screen: it imports nothing heavy and touches no network until the user
asks for the demo tenant (started in a thread worker, or already running with --demo).
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar, Literal

from rich.text import Text
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.reactive import reactive
from textual.widget import Widget
from textual.widgets import Button, Static
from textual.worker import Worker, WorkerState

from screens.base import Nav, StepScreen
from wizard.session import WizardState
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo
    from wizard.emulator.process import DemoTenantProcess
    from wizard.portal import PortalClient
    from wizard.profiles import Profile

INTRODUCTION = """\
Your script signs in to Microsoft Entra ID as an app, with a certificate.
The private key stays on this server and signs each sign-in.
Entra checks the signature with the public .cer you upload to the app.
No secret to leak from a script or a log; the key never leaves here.
This wizard makes the certificate, guides the upload, proves it works."""


@dataclass
class DemoReady(Message):
    """The demo tenant is listening (worker -> screen)."""

    tenant: DemoTenantProcess
    info: DemoInfo
    portal: PortalClient


@dataclass
class DemoFailed(Message):
    message: str


def read_diagram() -> str:
    from wizard.paths import asset_path

    try:
        return asset_path("diagram.txt").read_text(encoding="utf-8").rstrip("\n")
    except OSError:
        return ""


def saved_profiles() -> tuple[list[Profile], str | None]:
    """The saved set-ups, and what is wrong when the file cannot be read."""
    from wizard.errors import UserError
    from wizard.profiles import load_profiles

    try:
        return load_profiles(), None
    except UserError as error:
        return [], f"Saved set-ups could not be read: {error}"


def tenant_label(*, real: bool, chosen: bool) -> str:
    mark = "◉" if chosen else "○"
    return f"{mark} My Microsoft Entra tenant" if real else f"{mark} The demo tenant (practice, offline)"


def days_left_text(days_left: int) -> str:
    """A saved set-up's expiry in its picker line: "expires in 12 days", or "EXPIRED"."""
    return f"expires in {days_left} days" if days_left >= 0 else "EXPIRED"


class WelcomeScreen(StepScreen):
    """Choose the real tenant or the demo tenant (or a saved set-up); Next starts the wizard."""

    STEP = 1
    TITLE = "Welcome"
    HELP_FILE = "welcome"
    SHOW_BACK = False
    NEXT_LABEL = "Start"
    AUTO_FOCUS = "#next"
    ENTER_LABELS: ClassVar[Mapping[str, str]] = {"choice-real": "Choose", "choice-demo": "Choose", "renew-profile": "Renew"}

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "choose('real')", "Real tenant"),
        Binding("d", "choose('demo')", "Demo tenant"),
    ]

    wants_demo: reactive[bool] = reactive(False, init=False)
    """The tenant chosen: the demo tenant (True) or the user's own (False)."""

    def __init__(self, state: WizardState) -> None:
        super().__init__(state)
        self.set_reactive(WelcomeScreen.wants_demo, state.demo)
        self.profiles: list[Profile] = []
        self.demo_starting = False
        self.demo_process: DemoTenantProcess | None = None
        """The demo tenant being started (a quit while it starts kills it)."""
        self.demo_start_pending = state.demo and state.demo_info is None
        """Started with --demo: the demo tenant starts once the first frame is out."""
        self.advance_when_demo_ready = False
        self.intent: Literal["new", "test", "renew"] = "new"

    def compose_body(self) -> ComposeResult:
        yield Static(INTRODUCTION, classes="lead", markup=False)
        yield Static(read_diagram(), id="diagram", markup=False)
        yield Static("Where do you want to set it up?", classes="section")
        # Two buttons rather than a RadioSet: the same choice, and a faster first screen.
        # Composed as chosen (not set in on_mount): no restyle and repaint before the first one.
        demo = self.wants_demo
        with Horizontal(id="tenant-choice"):
            yield Button(tenant_label(real=True, chosen=not demo), id="choice-real",
                         classes="" if demo else "-chosen", compact=True)
            yield Button(tenant_label(real=False, chosen=demo), id="choice-demo",
                         classes="-chosen" if demo else "", compact=True)
        yield Static(self.demo_status_text(), id="demo-status", classes="muted", markup=False)
        yield Vertical(id="saved-setups")  # filled once the screen is up: see offer_saved_profiles

    def offer_saved_profiles(self) -> None:
        """Offer the saved set-ups (read after the first paint, so the screen shows at once)."""
        self.profiles, problem = saved_profiles()
        container = self.query_one("#saved-setups", Vertical)
        widgets: list[Widget] = []
        if problem:
            widgets.append(Static(shown(problem, multiline=True), classes="warning", markup=False))
        if self.profiles:
            from textual.widgets import Select

            # Rich Text, not a str: a name like "App [Prod]" is shown as is, never as markup.
            options = [
                (Text(f"{shown(profile.name)} · {days_left_text(profile.days_left())}"
                      + (" · untested: continue where you left off" if profile.last_test is None
                         else "")), profile.name)
                for profile in self.profiles
            ]
            widgets += [
                Static(f"Or pick up a saved set-up ({len(self.profiles)}):", classes="section"),
                Select[str](options, id="profile-select", allow_blank=False, compact=True),
                Horizontal(
                    Button("Test it again", id="test-profile", compact=True),
                    Button("Renew its certificate", id="renew-profile", compact=True),
                    id="profile-actions",
                ),
            ]
        if self.profiles:
            # A returning user has seen the diagram: its rows go to the saved set-ups, whose
            # buttons then fit at 80x24 without scrolling.
            self.query_one("#diagram", Static).display = False
        if widgets:
            container.mount_all(widgets)

    def on_mount(self) -> None:
        super().on_mount()
        # After the first frame has gone to the terminal, and behind whatever else waited for
        # it: reading the saved set-ups (and importing their module) is not on the first paint.
        self.call_after_refresh(self.call_later, self.offer_saved_profiles)
        if self.demo_start_pending:
            # After the first frame too: the demo tenant's imports and its state files hold
            # the interpreter while they load, and must not hold up the first screen.
            self.call_after_refresh(self.call_later, self.start_demo)

    # --------------------------------------------------------------- choices
    def watch_wants_demo(self) -> None:
        real = self.query_one("#choice-real", Button)
        demo = self.query_one("#choice-demo", Button)
        real.label = tenant_label(real=True, chosen=not self.wants_demo)
        demo.label = tenant_label(real=False, chosen=self.wants_demo)
        real.set_class(not self.wants_demo, "-chosen")
        demo.set_class(self.wants_demo, "-chosen")
        self.show_demo_status()

    def action_choose(self, which: str) -> None:
        self.wants_demo = which == "demo"

    @on(Button.Pressed, "#choice-real")
    def choose_real(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose("real")

    @on(Button.Pressed, "#choice-demo")
    def choose_demo(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_choose("demo")

    def show_demo_status(self) -> None:
        self.query_one("#demo-status", Static).update(self.demo_status_text())

    def demo_status_text(self) -> str:
        info = self.state.demo_info
        if not self.wants_demo:
            return "You need an app registration you can edit in the Entra admin center."
        if info is not None:
            return shown(f"Demo tenant running: {info.organization_name} ({info.tenant_domain}).")
        if self.demo_starting or self.demo_start_pending:
            return "Starting the demo tenant…"
        return "The demo tenant starts when you press Start."

    @on(Button.Pressed, "#test-profile")
    async def test_profile(self, event: Button.Pressed) -> None:
        event.stop()
        await self.pick_profile("test")

    @on(Button.Pressed, "#renew-profile")
    async def renew_profile(self, event: Button.Pressed) -> None:
        event.stop()
        await self.pick_profile("renew")

    async def pick_profile(self, intent: Literal["test", "renew"]) -> None:
        """Carry on with a saved set-up, in the tenant (real or demo) it was made for."""
        from textual.widgets import Select

        name = self.query_one("#profile-select", Select).value
        profile = next((p for p in self.profiles if p.name == name), None)
        if profile is None:
            return
        self.intent = intent
        self.state.profile_name = profile.name
        self.action_choose("demo" if profile.demo else "real")
        await self.action_next()

    # ------------------------------------------------------------ navigation
    async def before_next(self) -> bool:
        self.state.start = self.intent
        if self.intent == "new":
            self.state.profile_name = None
        self.state.demo = self.wants_demo
        if not self.state.demo or self.state.demo_info is not None:
            return True
        self.advance_when_demo_ready = True
        if not self.demo_starting:
            self.start_demo()
        return False  # DemoReady moves on

    def start_demo(self) -> None:
        if self.demo_starting or self.state.demo_info is not None:
            return
        self.demo_start_pending = False
        self.demo_starting = True
        self.show_demo_status()
        self.run_demo_tenant()

    @work(thread=True, exclusive=True, exit_on_error=False, group="welcome")
    def run_demo_tenant(self) -> DemoReady | DemoFailed | None:
        """Start the demo tenant (a child process); what came of it is posted once the worker
        has finished (`demo_worker_finished`): leaving the step then cannot cancel a worker
        still running.

        The start is never cut off by a quit: the program ends once it is done (wizard.threads),
        and a quit ends it at once (`on_unmount` kills a child not ready yet)."""
        from wizard.threads import finish_before_exit

        return finish_before_exit(self.start_demo_tenant, "demo-tenant-start")

    def start_demo_tenant(self) -> DemoReady | DemoFailed | None:
        from wizard.emulator.process import DemoTenantProcess
        from wizard.errors import UserError
        from wizard.portal import PortalClient

        tenant = self.demo_process = DemoTenantProcess()
        if self.cancel_event.is_set():
            return None
        try:
            info = tenant.start()
        except UserError as error:
            if self.cancel_event.is_set():
                return None  # the quit ended it
            return DemoFailed(error.message)  # it says what the child said
        except Exception as error:  # a port, TLS or disk problem: say it, no traceback
            detail = str(error) or type(error).__name__
            return DemoFailed(f"The demo tenant did not start ({detail}). "
                              "Choose the real tenant, or try again.")
        portal = PortalClient.for_demo(info)
        if self.cancel_event.is_set():
            tenant.stop()
            return None
        return DemoReady(tenant, info, portal)

    def on_unmount(self) -> None:
        super().on_unmount()
        if self.demo_starting and self.demo_process is not None:
            self.demo_process.cancel()  # a quit: the start ends at once, the tenant with it

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        worker = event.worker
        if worker.name == "run_demo_tenant" and event.state is WorkerState.SUCCESS:
            outcome = worker.result
            if isinstance(outcome, (DemoReady, DemoFailed)):
                self.post_message(outcome)

    @on(DemoReady)
    def demo_ready(self, event: DemoReady) -> None:
        self.state.demo_tenant = event.tenant
        self.state.demo_info = event.info
        self.state.portal = event.portal
        self.demo_starting = False
        self.show_demo_status()
        if self.advance_when_demo_ready and self.wants_demo:
            self.leave(Nav.NEXT)  # the user already pressed Start

    @on(DemoFailed)
    def demo_failed(self, event: DemoFailed) -> None:
        self.demo_starting = False
        self.advance_when_demo_ready = False
        message = shown(event.message, multiline=True)
        self.query_one("#demo-status", Static).update(message)
        self.notify(message, severity="error", title="Demo tenant", markup=False)
