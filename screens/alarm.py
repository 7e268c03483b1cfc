"""The alarm: a request that must be refused got a token. Unmistakable, in the error colour,
over the negative test; it says what it means and what to do, and offers to test again."""

from __future__ import annotations

from pathlib import PurePath
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Static

from screens.base import RESULTS_STYLESHEET, STYLESHEET

if TYPE_CHECKING:
    from wizard.signin.plan import NegativeResult

ALARM_BANNER = "⚠  ALARM: THE APP ACCEPTS WHAT IT MUST REFUSE  ⚠"


class AlarmScreen(ModalScreen[str]):
    """Dismissed with "retry" (test again) or "close" (read the results)."""

    # The same two sheets as every step (already parsed by the wizard: nothing new to read).
    CSS_PATH: ClassVar[list[str | PurePath]] = [STYLESHEET, RESULTS_STYLESHEET]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape", "close", "Close"),
        Binding("r", "retry", "Test again"),
    ]

    def __init__(self, result: NegativeResult) -> None:
        super().__init__()
        self.result = result

    def compose(self) -> ComposeResult:
        from wizard.signin.catalogue import NEGATIVE_ALARM

        got_token = [probe.title for probe in self.result.probes if probe.alarm]
        with Vertical(id="alarm-dialog"):
            yield Static(ALARM_BANNER, id="alarm-banner", markup=False)
            with VerticalScroll(id="alarm-body"):
                yield Static(
                    "These requests, made WITHOUT your certificate, were given a token:\n"
                    + "\n".join(f"  ✗ {title}" for title in got_token),
                    id="alarm-probes",
                    markup=False,
                )
                yield Static(f"What it means: {NEGATIVE_ALARM.cause}", markup=False)
                yield Static(f"What to do now: {NEGATIVE_ALARM.fix}", markup=False)
            with Horizontal(id="alarm-buttons"):
                yield Button("Test again", id="alarm-retry", variant="error", compact=True)
                yield Button("I understand", id="alarm-close", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#alarm-close", Button).focus()

    @on(Button.Pressed, "#alarm-retry")
    def action_retry(self) -> None:
        self.dismiss("retry")

    @on(Button.Pressed, "#alarm-close")
    def action_close(self) -> None:
        self.dismiss("close")
