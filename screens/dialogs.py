"""The wizard's dialogs, shown over the current step: a step's help, a yes/no question, and
the passphrase of an existing key. Each carries its own look (DEFAULT_CSS)."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import replace
from typing import ClassVar, TypeVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical, VerticalScroll
from textual.message import Message
from textual.screen import ModalScreen
from textual.widgets import Button, Footer, Input, Static

from screens.widgets import Field, NextButton, StepInput
from wizard.shown import shown

_Answer = TypeVar("_Answer")


class Dialog(ModalScreen[_Answer]):
    """A box centred over the step it interrupts, its buttons on the right."""

    DEFAULT_CSS = """
    Dialog {
        align: center middle;
    }
    Dialog #confirm-buttons {
        height: 1;
        margin-top: 1;
        align-horizontal: right;
    }
    Dialog #confirm-buttons Button {
        margin-left: 2;
    }
    """


class HelpScreen(Dialog[None]):
    """The help for one step, from assets/help/<topic>.md, over the step it explains."""

    DEFAULT_CSS = """
    HelpScreen #help-dialog {
        width: 90%;
        max-width: 100;
        height: 90%;
        border: round $primary;
        background: $surface;
        padding: 0 1;
    }
    HelpScreen #help-title {
        text-style: bold;
        height: 1;
    }
    HelpScreen #help-body {
        height: 1fr;
    }
    HelpScreen #help-close {
        dock: bottom;
        margin-top: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("escape,f1,q", "close", "Close help"),
    ]

    def __init__(self, topic: str, title: str) -> None:
        super().__init__()
        self.topic = topic
        self.help_title = title

    def compose(self) -> ComposeResult:
        from textual.widgets import Markdown  # markdown-it is slow to import: not before F1

        with Vertical(id="help-dialog"):
            yield Static(f"Help · {self.help_title}", id="help-title", markup=False)
            with VerticalScroll(id="help-body"):
                yield Markdown(read_help(self.topic))
            yield Button("Close", id="help-close", compact=True)
        yield Footer()

    @on(Button.Pressed, "#help-close")
    def action_close(self) -> None:
        self.dismiss(None)


def read_help(topic: str) -> str:
    """The markdown help for a step; a plain sentence when the file is missing."""
    from wizard.paths import asset_path

    try:
        return asset_path("help", f"{topic}.md").read_text(encoding="utf-8")
    except OSError:
        return "There is no help for this step in this installation."


class ConfirmScreen(Dialog[bool]):
    """A yes/no question over the current step (y = yes; Escape or n = no; Enter the focused)."""

    DEFAULT_CSS = """
    ConfirmScreen #confirm-dialog {
        width: 64;
        max-width: 95%;
        height: auto;
        border: round $warning;
        background: $surface;
        padding: 1 2;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("y", "answer(True)", "Yes"),
        Binding("escape,n", "answer(False)", "No"),
    ]

    def __init__(self, question: str, *, yes: str = "Yes", no: str = "No") -> None:
        super().__init__()
        self.question = question
        self.yes_label = yes
        self.no_label = no
        # The footer names the keys with the buttons' words ("y Quit", "esc Stay"): one wording.
        words = {"answer(True)": yes, "answer(False)": no}
        self._bindings.key_to_bindings = {
            key: [replace(b, description=words.get(b.action, b.description)) for b in bindings]
            for key, bindings in self._bindings.key_to_bindings.items()
        }

    def compose(self) -> ComposeResult:
        with Vertical(id="confirm-dialog"):
            yield Static(shown(self.question, multiline=True), id="confirm-question", markup=False)
            with Horizontal(id="confirm-buttons"):
                yield Button(self.yes_label, id="confirm-yes", variant="warning", compact=True)
                yield Button(self.no_label, id="confirm-no", variant="primary", compact=True)
        yield Footer()

    def on_mount(self) -> None:
        self.query_one("#confirm-no", Button).focus()

    @on(Button.Pressed, "#confirm-yes")
    def yes(self) -> None:
        self.dismiss(True)

    @on(Button.Pressed, "#confirm-no")
    def no(self) -> None:
        self.dismiss(False)

    def action_answer(self, answer: bool) -> None:
        self.dismiss(answer)


class PassphrasePrompt(Dialog[bytes | None]):
    """Ask for the passphrase of an existing key; `check` says what is wrong (None = it opens).

    Dismissed with the passphrase, or None when the user backs out (Escape).
    """

    DEFAULT_CSS = """
    PassphrasePrompt #passphrase-dialog {
        width: 72;
        max-width: 95%;
        height: auto;
        border: round $primary;
        background: $surface;
        padding: 1 2;
    }
    PassphrasePrompt #passphrase-question {
        margin-bottom: 1;
    }
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("escape", "cancel", "Back")]

    def __init__(self, question: str, check: Callable[[bytes], str | None]) -> None:
        super().__init__()
        self.question = question
        self.check = check

    def compose(self) -> ComposeResult:
        with Vertical(id="passphrase-dialog"):
            yield Static(shown(self.question, multiline=True), id="passphrase-question", markup=False)
            yield Field("Passphrase", StepInput(id="existing-passphrase", password=True,
                                               compact=True), id="existing-passphrase-field")
            with Horizontal(id="confirm-buttons"):
                yield Button("Back", id="passphrase-cancel", compact=True)
                yield NextButton("Unlock", id="passphrase-ok", variant="primary", compact=True)
        yield Footer()

    @on(Input.Submitted)
    @on(Button.Pressed, "#passphrase-ok")
    def unlock(self, event: Message) -> None:
        event.stop()
        passphrase = self.query_one("#existing-passphrase", Input).value.encode()
        problem = self.check(passphrase)
        if problem is None:
            self.dismiss(passphrase)
            return
        field = self.query_one("#existing-passphrase-field", Field)
        field.show_error(problem)
        field.control_widget.focus()

    @on(Button.Pressed, "#passphrase-cancel")
    def action_cancel(self) -> None:
        self.dismiss(None)
