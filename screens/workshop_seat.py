"""A workshop seat: the wizard in a browser, after the attendee joins with the room's code.

The join screen takes the join code and a display name (a new seat) or a seat token (one's
own seat back after a reload). The wizard then runs in demo mode against the workshop's demo
tenant, with the seat's own app, portal token and folder; every second it records where it
is (wizard.workshop.status) for the trainer's view.
"""

from __future__ import annotations

import os
import time
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.screen import Screen
from textual.widgets import Button, Footer, Input, Static

from screens.base import StepScreen
from wizard.app import CertWizardApp
from wizard.paths import CONFINE_ENV, HOME_ENV
from wizard.session import WizardState
from wizard.shown import shown
from wizard.workshop.room import MAX_NAME_LENGTH, JoinRefused, Room, SeatClaim
from wizard.workshop.status import SeatStatus, status_of, write_status

# A reload reconnects before the old seat process has quite ended: a busy seat is retried.
REJOIN_PATIENCE_SECONDS = 5.0
WRONG_CODE_PAUSE_SECONDS = 1.0


class JoinScreen(Screen[SeatClaim | None]):
    """Join code + display name, or join code + seat token."""

    DEFAULT_CSS = """
    JoinScreen { align: center middle; }
    JoinScreen #join-box { width: 72; height: auto; border: round $primary; padding: 0 1; }
    JoinScreen .title { text-style: bold; }
    JoinScreen Input { margin-bottom: 1; }
    JoinScreen #join-error { color: $error; height: auto; }
    JoinScreen #join-buttons { height: 1; align-horizontal: right; }
    """
    BINDINGS: ClassVar = [("ctrl+q", "app.quit", "Quit")]

    def __init__(self, room: Room) -> None:
        super().__init__()
        self.room = room
        self.failures = 0

    def compose(self) -> ComposeResult:
        with Vertical(id="join-box"):
            yield Static("Join the workshop", classes="title", markup=False)
            yield Static("The join code is on the trainer's screen.", markup=False)
            yield Input(placeholder="join code", id="code", compact=True)
            yield Static("Your name, as the trainer will see it:", markup=False)
            yield Input(placeholder="display name", id="name", max_length=MAX_NAME_LENGTH,
                        compact=True)
            yield Static("Back after a reload? Your seat token instead of a name:", markup=False)
            yield Input(placeholder="seat token, like 3-ABCD-EFGH", id="token", compact=True)
            yield Static("", id="join-error", markup=False)
            with Horizontal(id="join-buttons"):
                yield Button("Join", id="join", variant="success", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#code", Input).focus()

    @on(Button.Pressed, "#join")
    @on(Input.Submitted)
    def join_pressed(self) -> None:
        self.query_one("#join", Button).disabled = True
        self.query_one("#join-error", Static).update("Joining...")
        self.try_join(self.query_one("#code", Input).value, self.query_one("#name", Input).value,
                      self.query_one("#token", Input).value)

    @work(thread=True, exclusive=True, exit_on_error=False, group="join")
    def try_join(self, code: str, name: str, token: str) -> None:
        deadline = time.monotonic() + REJOIN_PATIENCE_SECONDS
        while True:
            try:
                claim = self.room.join(code, name, token)
            except JoinRefused as error:
                busy = "open in another" in error.message
                if busy and time.monotonic() < deadline:
                    time.sleep(0.5)
                    continue
                if not busy:
                    self.failures += 1
                    time.sleep(WRONG_CODE_PAUSE_SECONDS * self.failures)  # guessing is slow
                text = error.message + (f" {error.hint}" if error.hint else "")
                self.app.call_from_thread(self.refused, text)
                return
            except Exception as error:  # an unreadable workshop folder: say it, no traceback
                self.app.call_from_thread(self.refused, f"Joining failed ({error}).")
                return
            self.app.call_from_thread(self.dismiss, claim)
            return

    def refused(self, message: str) -> None:
        self.query_one("#join-error", Static).update(shown(message, multiline=True))
        self.query_one("#join", Button).disabled = False


class SeatScreen(Screen[bool]):
    """Which seat this is, and (once, when just taken) the token that gets it back."""

    DEFAULT_CSS = """
    SeatScreen { align: center middle; }
    SeatScreen #seat-box { width: 72; height: auto; border: round $success; padding: 0 1; }
    SeatScreen #seat-token { text-style: bold; color: $success; }
    SeatScreen #seat-buttons { height: 1; align-horizontal: right; margin-top: 1; }
    """

    def __init__(self, claim: SeatClaim) -> None:
        super().__init__()
        self.claim = claim

    def compose(self) -> ComposeResult:
        with Vertical(id="seat-box"):
            yield Static(shown(f"Welcome, {self.claim.name}: you are at seat {self.claim.number}."),
                         markup=False)
            if self.claim.token:
                yield Static("Your seat token (write it down: after a reload, type it with the "
                             "join code to get your seat and your work back):", markup=False)
                yield Static(self.claim.token, id="seat-token", markup=False)
            with Horizontal(id="seat-buttons"):
                yield Button("Start the wizard", id="start", variant="success", compact=True)

    def on_mount(self) -> None:
        self.query_one("#start", Button).focus()

    @on(Button.Pressed, "#start")
    def start(self) -> None:
        self.dismiss(True)


class WorkshopSeatApp(CertWizardApp):
    """The wizard bound to one seat of a workshop, once the attendee has joined."""

    def __init__(self, room: Room) -> None:
        super().__init__(demo=True)
        self.room = room
        self.seat: SeatClaim | None = None
        self.recorded = SeatStatus()
        self.server_pid = os.getppid()

    def check_server(self) -> None:
        """End with the workshop's server, however it ended (a kill leaves no one to say so)."""
        if os.getppid() != self.server_pid:
            self.exit()

    async def open_session(self) -> bool:
        self.set_interval(2.0, self.check_server)
        claim = await self.push_screen_wait(JoinScreen(self.room))
        if claim is None:
            return False
        await self.push_screen_wait(SeatScreen(claim))
        self.seat = claim
        # The seat's own folder for certificates and profiles, from here on.
        os.environ[HOME_ENV] = os.environ[CONFINE_ENV] = str(self.room.seat_home(claim.number))
        from wizard.portal import PortalClient

        info = self.room.seat_info(claim.number)
        self.state = WizardState(demo=True, demo_info=info)
        self.state.portal = PortalClient.for_demo(info)
        self.set_interval(1.0, self.record_status)
        self.record_status()
        return True

    def record_status(self) -> None:
        """Write the seat's status file when something the trainer sees has changed."""
        if self.seat is None:
            return
        screen = self.screen
        step, title = (screen.STEP, screen.TITLE) if isinstance(screen, StepScreen) else (
            self.recorded.step, self.recorded.step_title)
        since = self.recorded.step_since if step == self.recorded.step and self.recorded.step_since \
            else time.time()
        status = status_of(self.state, step, title, since, os.getpid())
        if status.same_place(self.recorded) and status.step_since == self.recorded.step_since:
            return
        self.recorded = status
        self.save_status(status)

    @work(thread=True, exit_on_error=False, group="seat-status")
    def save_status(self, status: SeatStatus) -> None:
        assert self.seat is not None
        write_status(self.room.seat_dir(self.seat.number), status)
