"""The wizard app: one worker walks the steps in order (ARCHITECTURE.md, at the repository root,
draws the flow of one run).

Start-up is kept close to a bare Textual app: only the Welcome step is imported before the
first screen; the other steps (and MSAL, cryptography, the network) come when they are needed.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import PurePath
from typing import TYPE_CHECKING, Any, ClassVar, TypeVar

from textual import work
from textual.app import App
from textual.binding import Binding, BindingType
from textual.command import Provider

from screens.base import STYLESHEET, Nav, StepScreen
from screens.welcome import WelcomeScreen
from wizard.preferences import save_theme, saved_theme
from wizard.session import (
    WizardState,
    finish_note,
    key_needs_passphrase,
    key_passphrase_problem,
    load_saved_profile,
)
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo, DemoTenant
    from wizard.portal import PortalClient
    from wizard.workshop import Room
    from wizard.workshop.web import SeatWebServer


_T = TypeVar("_T")


class _DaemonThreadExecutor(ThreadPoolExecutor):
    """Runs each thread worker in a daemon thread, so quitting never waits for a hung request.

    The default executor's threads are joined when the event loop and the interpreter shut
    down: a token request stuck on a slow network would keep the shell waiting until its
    timeout, long after the window closed. Abandoning such a thread is safe for the files: every
    file is written to a temporary name and renamed, so an interrupted write leaves nothing
    half-written under a real name. Short local work that loads C extensions (the demo
    tenant's start) is the exception: it runs in `wizard.threads.finish_before_exit`.
    """

    def submit(self, fn: Callable[..., _T], /, *args: Any, **kwargs: Any) -> Future[_T]:
        future: Future[_T] = Future()

        def run() -> None:
            if not future.set_running_or_notify_cancel():
                return
            try:
                future.set_result(fn(*args, **kwargs))
            except BaseException as error:
                future.set_exception(error)

        threading.Thread(target=run, name="wizard-worker", daemon=True).start()
        return future


def new_event_loop() -> asyncio.AbstractEventLoop:
    """The event loop the wizard runs on: thread workers that never hold up quitting."""
    loop = asyncio.new_event_loop()
    loop.set_default_executor(_DaemonThreadExecutor())
    return loop


def run_workshop_seat(room: Room) -> int:
    """One browser's wizard in a workshop: the join screen, then the wizard bound to the seat."""
    from screens.workshop_seat import WorkshopSeatApp

    app = WorkshopSeatApp(room)
    loop = new_event_loop()
    try:
        app.run(loop=loop)
    finally:
        loop.close()
    return int(app.return_code or 0)


def run_trainer_view(
    room: Room, tenant: DemoTenant, web: SeatWebServer, url: str, join_code: str
) -> None:
    """The trainer's view of a running workshop, until the trainer stops it."""
    from screens.trainer import TrainerApp

    loop = new_event_loop()
    try:
        TrainerApp(room, tenant, web, url, join_code).run(loop=loop)
    finally:
        loop.close()


def wizard_commands() -> type[Provider]:
    """The wizard's commands in the palette, imported when the palette first opens."""
    from screens.palette import WizardCommands

    return WizardCommands


def new_certificate_steps() -> list[type[StepScreen]]:
    """Steps 2-9: name, generate, upload, thumbprint, IDs, positive, negative, summary."""
    from screens.generate import GenerateScreen
    from screens.ids import IdsScreen
    from screens.name import NameScreen
    from screens.negative import NegativeScreen
    from screens.positive import PositiveScreen
    from screens.summary import SummaryScreen
    from screens.thumbprint import ThumbprintScreen
    from screens.upload import UploadScreen

    return [
        NameScreen,
        GenerateScreen,
        UploadScreen,
        ThumbprintScreen,
        IdsScreen,
        PositiveScreen,
        NegativeScreen,
        SummaryScreen,
    ]


def retest_steps() -> list[type[StepScreen]]:
    """A saved set-up tested again: positive, negative, summary."""
    from screens.negative import NegativeScreen
    from screens.positive import PositiveScreen
    from screens.summary import SummaryScreen

    return [PositiveScreen, NegativeScreen, SummaryScreen]


class CertWizardApp(App[None]):
    """From nothing to a proven certificate sign-in, one step at a time."""

    TITLE = "Entra certificate wizard"
    # The steps' stylesheet, parsed with the app's at start-up (the test results' sheet comes
    # with the first screen that shows results: see StepScreen.CSS_PATH).
    CSS_PATH: ClassVar[list[str | PurePath]] = [STYLESHEET]
    COMMANDS: ClassVar[set[type[Provider] | Callable[[], type[Provider]]]] = {
        *App.COMMANDS,
        wizard_commands,
    }
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("ctrl+q", "quit", "Quit", priority=True),
    ]

    def __init__(
        self,
        demo: bool = False,
        demo_info: DemoInfo | None = None,
        *,
        portal: PortalClient | None = None,
        state: WizardState | None = None,
    ) -> None:
        super().__init__()
        self.finish_note: str | None = None
        """Printed once the terminal is back (see commands/wizard.py): where things are."""
        if state is None:
            state = WizardState(demo=demo or demo_info is not None, demo_info=demo_info)
            if demo_info is not None:
                from wizard.portal import PortalClient

                portal = portal or PortalClient.for_demo(demo_info)
            state.portal = portal
        self.state = state
        self.walk_steps: list[type[StepScreen]] = []
        self.walk_index = 0
        self.jump_target: int | None = None
        # The theme chosen last time (preferences.json); one the app does not know is ignored.
        self.remembered_theme = saved_theme()
        self.theme_save_lock = threading.Lock()
        if self.remembered_theme in self.available_themes:
            self.theme = self.remembered_theme

    def watch_theme(self, theme: str) -> None:
        """Keep a newly chosen theme for the next start (written in a worker)."""
        if theme != self.remembered_theme and self.is_running:
            self.remembered_theme = theme
            self.remember_theme()

    @work(thread=True, exit_on_error=False, group="preferences")
    def remember_theme(self) -> None:
        # The theme picker previews each theme it passes: writes come fast and in threads.
        # Each writes the theme of the moment, one at a time, so the last write is the last choice.
        with self.theme_save_lock:
            problem = save_theme(self.theme)
        if problem is not None:
            self.call_from_thread(self.notify, problem, title="Theme", severity="warning")

    def on_mount(self) -> None:
        self.run_flow()

    @work(exclusive=True, exit_on_error=True, group="flow")
    async def run_flow(self) -> None:
        """Welcome, then the path it chose; Back off a path's first step returns to Welcome."""
        if not await self.open_session():
            self.exit()
            return
        while True:
            if await self.push_screen_wait(WelcomeScreen(self.state)) is not Nav.NEXT:
                break
            if self.state.start == "renew":
                nav = await self.renew_saved_profile()
            elif self.state.start == "test":
                nav = await self.retest_saved_profile()
            else:
                nav = await self.walk(new_certificate_steps())
            if nav is Nav.NEXT:
                self.finish_note = finish_note(self.state)
            if nav is not Nav.BACK:
                break
        self.stop_demo_tenant()
        self.exit()

    async def open_session(self) -> bool:
        """What comes before Welcome: nothing here; a workshop seat joins first. False = quit."""
        return True

    async def walk(self, steps: list[type[StepScreen]]) -> Nav:
        """Show the steps in order: Next moves on, Back moves back; Nav.BACK off the start.

        A step may leave with Nav.JUMP naming the step that fixes what failed (`jump_to`); a
        jump from the command palette (`jump_to_step`) leaves the step as Back does and lands
        on an earlier step of this walk.
        """
        self.walk_steps, self.walk_index = steps, 0
        try:
            while 0 <= self.walk_index < len(steps):
                screen = steps[self.walk_index](self.state)
                nav = await self.push_screen_wait(screen)
                if nav is Nav.QUIT:
                    return Nav.QUIT
                if self.jump_target is not None:
                    self.walk_index, self.jump_target = self.jump_target, None
                elif nav is Nav.JUMP:
                    numbers = [step.STEP for step in steps]
                    if screen.jump_to in numbers:
                        self.walk_index = numbers.index(screen.jump_to)
                else:
                    self.walk_index += 1 if nav is Nav.NEXT else -1
            return Nav.BACK if self.walk_index < 0 else Nav.NEXT
        finally:
            self.walk_steps, self.walk_index, self.jump_target = [], 0, None

    def completed_steps(self) -> list[tuple[int, type[StepScreen]]]:
        """The steps of this walk before the one shown (by index), for jumping back to."""
        return list(enumerate(self.walk_steps[: self.walk_index]))

    def jump_to_step(self, index: int) -> None:
        """Leave the step shown (answers kept, as with Back) for an earlier step of the walk."""
        screen = self.screen
        if not isinstance(screen, StepScreen) or not 0 <= index < self.walk_index:
            return
        self.jump_target = index
        screen.save_answers()
        screen.leave(Nav.BACK)

    async def retest_saved_profile(self) -> Nav:
        """Test a saved set-up again: its files and IDs, its key unlocked, then steps 7-9."""
        from wizard.errors import UserError

        try:
            load_saved_profile(self.state)
        except UserError as error:
            self.notify(shown(error.message, multiline=True), title="Saved set-up", severity="error",
                        markup=False)
            return Nav.BACK
        if not await self.unlock_key():
            return Nav.BACK
        return await self.walk(retest_steps())

    async def renew_saved_profile(self) -> Nav:
        """Rotate a saved set-up's certificate (the rotation screen runs its six steps)."""
        from screens.rotation import RotationScreen

        assert self.state.profile_name is not None
        nav = await self.push_screen_wait(RotationScreen(self.state, self.state.profile_name))
        # Close at the end of a rotation is the end of that errand, not of the wizard.
        return Nav.BACK if nav is Nav.NEXT else nav

    async def unlock_key(self) -> bool:
        """Ask for the key's passphrase when it has one (kept in memory only); False = Back."""
        from wizard.errors import UserError

        state = self.state
        assert state.files is not None
        try:
            encrypted = key_needs_passphrase(state)
        except UserError as error:  # missing or unreadable: nothing to ask
            self.notify(shown(error.message, multiline=True), title="Saved set-up", severity="error",
                        markup=False)
            return False
        if not encrypted:
            state.passphrase = None
            return True
        from screens.dialogs import PassphrasePrompt

        question = f"The private key {state.files.key.name} is encrypted. Its passphrase, to test it:"
        passphrase = await self.push_screen_wait(
            PassphrasePrompt(question, lambda typed: key_passphrase_problem(state, typed))
        )
        state.passphrase = passphrase
        return passphrase is not None

    # ----------------------------------------------------------------- quit
    async def action_quit(self) -> None:
        """Quit, asking first when a certificate was made but has not passed its test yet."""
        from screens.dialogs import ConfirmScreen

        if isinstance(self.screen, ConfirmScreen):
            return
        if self.state.untested_certificate and self.state.files is not None:
            question = (
                "A certificate was made but has not passed its test yet.\n"
                f"Its files stay in {self.state.files.folder}\n\nQuit anyway?"
            )
            self.push_screen(ConfirmScreen(question, yes="Quit", no="Stay"), self.quit_confirmed)
            return
        self.stop_demo_tenant()
        self.exit()

    def quit_confirmed(self, quit_now: bool | None) -> None:
        if quit_now:
            self.stop_demo_tenant()
            self.exit()

    def stop_demo_tenant(self) -> None:
        """Stop the demo tenant if this app started it (a tenant handed in is the caller's)."""
        tenant, self.state.demo_tenant = self.state.demo_tenant, None
        if tenant is not None:
            tenant.stop()
