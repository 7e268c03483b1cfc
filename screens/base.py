"""What every step of the wizard shares: the navigation result and the screen frame (step
indicator, scrollable body, Back/Next, footer, F1 help).

A step is a `StepScreen`: it takes the `WizardState` (wizard.session) in its constructor,
shows and edits it, and ends with `dismiss(Nav.NEXT | Nav.BACK | Nav.QUIT)`. The app's one
flow loop decides what comes next; screens never push each other. The dialogs shown over a
step live in screens.dialogs.
"""

from __future__ import annotations

import threading
from collections.abc import Mapping
from dataclasses import dataclass, replace
from enum import Enum
from pathlib import Path, PurePath
from typing import Any, ClassVar

from textual import events, on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.reactive import reactive
from textual.screen import Screen
from textual.widget import Widget
from textual.widgets import Button, Input, Static

from screens.widgets import (
    CopyableValue,
    Field,
    NextButton,
    StepFooter,
    StepIndicator,
    copy_with_system_clipboard,
)
from wizard.session import WizardState

STYLESHEET = Path(__file__).with_name("wizard.tcss")
RESULTS_STYLESHEET = Path(__file__).with_name("results.tcss")
"""The test steps' rows, explanations, the summary and the alarm: parsed when the first of
them appears, not at start-up (see `StepScreen.CSS_PATH`)."""
TOTAL_STEPS = 9
MIN_WIDTH, MIN_HEIGHT = 80, 24
"""The smallest terminal the wizard supports (the classic default); below it a step shows only
a notice asking for a bigger one (README, "Terminal size")."""
TOO_SMALL_NOTICE = (
    f"This terminal is too small for the wizard.\n"
    f"Make it at least {MIN_WIDTH}x{MIN_HEIGHT} (columns x rows); the step comes back as it was.\n"
    "ctrl+q quits."
)


class Nav(Enum):
    """How a step ended: the flow loop moves forward, back, or stops."""

    NEXT = "next"
    BACK = "back"
    QUIT = "quit"
    JUMP = "jump"  # to the earlier step in `StepScreen.jump_to` (the one that fixes a failure)


@dataclass
class ClipboardResult(Message):
    """Posted by the copy worker: whether the OS clipboard (pyperclip) took the text."""

    text: str
    what: str
    system_problem: str | None  # None = pyperclip copied it


def enter_bindings(next_label: str) -> list[BindingType]:
    """Enter on a step: press the focused button, else Next (the footer shows which applies).

    Priority bindings, so the footer shows them over a focused widget's own Enter and the key
    is acted on in the order it arrived (see `StepScreen.action_enter_next`).
    """
    return [
        Binding("enter", "press_focused", "Press", priority=True),
        Binding("enter", "enter_next", next_label, priority=True),
    ]


def too_small_notice() -> Static:
    """The notice a step shows instead of itself in a terminal below MIN_WIDTH x MIN_HEIGHT."""
    return Static(TOO_SMALL_NOTICE, id="too-small", markup=False)


class StepScreen(Screen[Nav]):
    """One step of the wizard: "Step N of 9 · Title", a scrolling body, Back/Next, a footer.

    Subclasses set STEP, TITLE and HELP_FILE (the assets/help/<HELP_FILE>.md topic) and override:
    - `compose_body()` — the step's widgets (inside a VerticalScroll);
    - `problems()` — extra failures keyed by Field id (cross-field checks), beyond the
      Validators of each Field's Input;
    - `save_answers()` — copy the widgets' values into `self.state` (called on Next after
      validation, and on Back so the answers are kept);
    - `before_next()` — optional async last check (return False to stay).
    Enter is Next on every step (the footer says "⏎ <NEXT_LABEL>"), except on a focused
    button other than Next, which Enter presses, and on widgets that own Enter (a Select).
    Set `self.ready = False` while Next must wait (e.g. generation running): the Next button
    and the Enter binding are disabled until it is True again.
    Leaving the step (Next, Back, quit) sets `self.cancel_event`, for thread workers to stop.
    """

    STEP: ClassVar[int] = 0
    TITLE: ClassVar[str] = ""
    HELP_FILE: ClassVar[str] = ""
    """The step's help topic: assets/help/<HELP_FILE>.md (not Textual's own `Screen.HELP`)."""
    NEXT_LABEL: ClassVar[str] = "Next"
    ENTER_LABELS: ClassVar[Mapping[str, str]] = {}
    """The footer's word for Enter on a focused button, by button id, when its label is long."""
    SHOW_BACK: ClassVar[bool] = True
    # Every step carries the steps' sheet, so a step shown alone (tests, snapshots) is styled
    # as in the wizard; the App parses it at start-up, so no step re-parses it. The screens
    # with test results add RESULTS_STYLESHEET: Textual parses it and restyles once, as the
    # first of them appears, instead of on every start.
    CSS_PATH: ClassVar[list[str | PurePath]] = [STYLESHEET]
    # Classes for a terminal below the smallest supported size: the step gives way to a notice.
    # (No ClassVar: Textual declares these as instance variables, and mypy holds us to it.)
    HORIZONTAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-too-narrow"), (MIN_WIDTH, "-wide-enough")
    ]
    VERTICAL_BREAKPOINTS = [  # noqa: RUF012
        (0, "-too-short"), (MIN_HEIGHT, "-tall-enough")
    ]
    AUTO_FOCUS = "#body Input, #body Select, #body Checkbox, #body RadioSet, #body Button, #next"

    BINDINGS: ClassVar[list[BindingType]] = [
        *enter_bindings("Next"),
        Binding("escape", "back", "Back"),
        Binding("f1", "help", "Help"),
        # Priority, so focus moves the moment Tab arrives: Textual resolves a non-priority
        # binding only after the key has bubbled up from the focused widget, and by then the
        # keys typed after Tab in the same read have already gone to the old field.
        Binding("tab", "app.focus_next", "Next field", show=False, priority=True),
        Binding("shift+tab", "app.focus_previous", "Previous field", show=False, priority=True),
    ]

    ready: reactive[bool] = reactive(True, bindings=True, init=False)
    """Whether Next is allowed now."""

    def __init_subclass__(cls, **kwargs: Any) -> None:
        # The footer's Enter says what the Next button says ("⏎ Start", "⏎ Finish").
        if "NEXT_LABEL" in cls.__dict__:
            cls.BINDINGS = [*cls.__dict__.get("BINDINGS", []), *enter_bindings(cls.NEXT_LABEL)]
        super().__init_subclass__(**kwargs)

    def __init__(self, state: WizardState) -> None:
        super().__init__()
        self.state = state
        self.cancel_event = threading.Event()
        self.jump_to: int | None = None
        """With Nav.JUMP: the number of the step to go back to."""

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield StepIndicator(self.STEP, TOTAL_STEPS, self.TITLE, id="step-indicator")
        yield too_small_notice()
        with VerticalScroll(id="body"):
            yield from self.compose_body()
        with Horizontal(id="step-buttons"):
            if self.SHOW_BACK:
                yield Button("Back", id="back", compact=True)
            yield NextButton(self.NEXT_LABEL, id="next", variant="primary", compact=True)
        yield StepFooter()

    def compose_body(self) -> ComposeResult:
        """The step's own widgets."""
        yield from ()

    def on_mount(self) -> None:
        self.query_one("#next", Button).disabled = not self.ready

    def on_unmount(self) -> None:
        self.cancel_event.set()  # also when the app closes without leaving the step

    def watch_ready(self, ready: bool) -> None:
        for button in self.query("#next").results(Button):
            button.disabled = not ready

    @property
    def too_small(self) -> bool:
        """The terminal is below the smallest supported size: only the notice is shown."""
        return self.has_class("-too-narrow") or self.has_class("-too-short")

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if self.too_small:
            return False  # no key acts on a step the user cannot see
        # False hands Enter on to the focused widget (and its own footer entry, if any).
        if action == "press_focused":
            return self.enter_presses_button()
        if action == "enter_next":
            if not self.enter_means_next():
                return False
            return True if self.ready else None  # None: shown dimmed, Next exists but not yet
        if action == "next" and not self.ready:
            return None
        return not (action == "back" and not self.SHOW_BACK)

    def on_descendant_focus(self, event: events.DescendantFocus) -> None:
        self.name_enter_for(event.widget)

    def name_enter_for(self, widget: Widget) -> None:
        """Make the footer's "⏎ …" name the focused button Enter will press."""
        if not isinstance(widget, Button) or widget.id == "next":
            return  # Enter is Next here: the press binding is not shown
        text = str(widget.label)
        label = self.ENTER_LABELS.get(widget.id or "", text if len(text) <= 16 else "Press")
        bindings = self._bindings.key_to_bindings.get("enter", [])
        if all(b.description == label for b in bindings if b.action == "press_focused"):
            return  # unchanged: spare the footer a rebuild (it matters at start-up)
        # A Binding is frozen: swap in a renamed copy (this screen's own bindings map only).
        self._bindings.key_to_bindings["enter"] = [
            replace(binding, description=label) if binding.action == "press_focused" else binding
            for binding in bindings
        ]
        self.refresh_bindings()

    def enter_presses_button(self) -> bool:
        """A button other than Next has focus: Enter presses it."""
        focused = self.focused
        return isinstance(focused, Button) and focused.id != "next"

    def enter_means_next(self) -> bool:
        """Enter is Next: on a text field, the Next button, or anything without its own Enter.

        Widgets that bind Enter keep it (a Select opens its list); a TickBox toggles on Space.
        """
        focused = self.focused
        if focused is None or isinstance(focused, Input):
            return True
        if isinstance(focused, Button):
            return focused.id == "next"
        return "enter" not in focused._bindings.key_to_bindings

    # ------------------------------------------------------------- navigation
    @on(Button.Pressed, "#next")
    @on(Input.Submitted)
    async def next_requested(self, event: Message) -> None:
        event.stop()
        await self.action_next()

    @on(Button.Pressed, "#back")
    def back_requested(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_back()

    async def action_enter_next(self) -> None:
        """Enter: Next, once the focused field holds every key typed before this Enter.

        Enter is a priority binding, handled the moment it arrives; keys typed just before it
        in the same read may still wait in the focused Input's queue. Asking that Input to
        call back puts Next behind them, so validation never reads a value short of them.
        """
        focused = self.focused
        if isinstance(focused, Input):
            focused.call_later(self.call_later, self.action_next)
        else:
            await self.action_next()

    def action_press_focused(self) -> None:
        """Enter on a button other than Next presses that button."""
        if isinstance(self.focused, Button):
            self.focused.press()

    async def action_next(self) -> None:
        """Validate every field, show each failure beside it, focus the first bad one; else Next."""
        if not self.ready or not self.validate_fields():
            return
        if not await self.before_next():
            return
        self.save_answers()
        self.leave(Nav.NEXT)

    def action_back(self) -> None:
        if not self.SHOW_BACK:
            return
        self.save_answers()
        self.leave(Nav.BACK)

    def action_help(self) -> None:
        from screens.dialogs import HelpScreen

        self.app.push_screen(HelpScreen(self.HELP_FILE, f"Step {self.STEP} · {self.TITLE}"))

    def go_to_step(self, step: int) -> None:
        """Leave for an earlier step of this path (the answers are kept, as with Back)."""
        self.save_answers()
        self.jump_to = step
        self.leave(Nav.JUMP)

    def leave(self, nav: Nav) -> None:
        """End the step: stop its work, hand `nav` to the flow loop."""
        self.cancel_event.set()
        self.workers.cancel_node(self)
        self.dismiss(nav)

    # ------------------------------------------------------------- validation
    def problems(self) -> Mapping[str, str | None]:
        """Failures beyond the Inputs' own Validators, keyed by Field id (None = fine)."""
        return {}

    def validate_fields(self) -> bool:
        """Check every visible, enabled Field; write failures beside them; focus the first."""
        extra = self.problems()
        failures: dict[str, str] = {}
        for field in self.query(Field):
            if not field.display or field.disabled or field.id is None:
                continue
            message = field.check() or extra.get(field.id)
            if message:
                field.show_error(message)
                failures[field.id] = message
        return self.report(failures)

    def report(self, failures: Mapping[str, str | None]) -> bool:
        """Show each message beside its Field (None clears it) and focus the first failing one.

        Also for failures found later (e.g. a worker says the name is taken). True = no failure.
        """
        first: Field | None = None
        for field_id, message in failures.items():
            field = self.query_one(f"#{field_id}", Field)
            field.show_error(message)
            if message and first is None:
                first = field
        if first is None:
            return True
        if first.control_widget.focusable:
            first.control_widget.focus()
        self.query_one("#body", VerticalScroll).scroll_to_widget(first, animate=False)
        return False

    async def before_next(self) -> bool:
        """A last check before leaving with Next; False keeps the step open."""
        return True

    def save_answers(self) -> None:
        """Copy the widgets' values into `self.state`."""

    # -------------------------------------------------------------- clipboard
    @on(CopyableValue.CopyRequested)
    def copy_requested(self, event: CopyableValue.CopyRequested) -> None:
        event.stop()
        self.copy_text(event.text, event.what)

    def copy_text(self, text: str, what: str) -> None:
        """Copy with pyperclip in a worker, then also through the terminal (OSC 52)."""
        self._copy_in_thread(text, what)

    @work(thread=True, exclusive=True, exit_on_error=False, group="clipboard")
    def _copy_in_thread(self, text: str, what: str) -> None:
        self.post_message(ClipboardResult(text, what, copy_with_system_clipboard(text)))

    @on(ClipboardResult)
    def clipboard_result(self, event: ClipboardResult) -> None:
        # OSC 52 as well: over SSH the system clipboard is the server's, the terminal's is yours.
        self.app.copy_to_clipboard(event.text)
        if event.system_problem is None:
            outcome = f"Copied the {event.what} to the clipboard (system clipboard, via pyperclip)."
        else:
            outcome = (
                f"Sent the {event.what} to your terminal's clipboard (OSC 52; no system clipboard "
                "here). If pasting gives nothing, select it on screen and copy it by hand."
            )
        self.copied(event.text, event.what, outcome, system=event.system_problem is None)

    def copied(self, text: str, what: str, outcome: str, *, system: bool) -> None:
        """Say how the copy went; screens with a status line override this."""
        self.notify(outcome, title="Copy")
