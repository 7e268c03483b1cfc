"""Widgets shared by the wizard's steps: a labelled field with its error line, the step
indicator, and a value the user can copy."""

from __future__ import annotations

import os
import re
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from rich.cells import cell_len, chop_cells
from textual import events, on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.validation import ValidationResult, Validator
from textual.widget import Widget
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from wizard.shown import shown

if TYPE_CHECKING:
    from textual.screen import Screen


class StepIndicator(Static):
    """The line at the top of every step: "Step 3 of 9 · Generate"."""

    DEFAULT_CSS = """
    StepIndicator {
        height: 1;
        width: 1fr;
        padding: 0 1;
        background: $primary;
        color: $text;
        text-style: bold;
    }
    """

    def __init__(self, step: int, total: int, title: str, *, id: str | None = None) -> None:
        super().__init__(f"Step {step} of {total} · {title}", id=id, markup=False)
        self.step = step
        self.total = total


class StepInput(Input):
    """An Input whose Enter is the step's Next, and the footer says so.

    It also runs its own editing keys (backspace, delete, arrows, ...) the moment it takes
    them. Textual runs a widget's bindings only after the key has bubbled up to the App,
    while typed characters go in at once: from one terminal read (a fast typist, a paste
    without bracketed paste, tmux send-keys) "BSpace BSpace BSpace pw1" became "pw1" and
    then three deletions. Here every key is applied in the order it arrived.
    """

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "submit", "Next")]

    async def _on_key(self, event: events.Key) -> None:
        for binding in self._bindings.key_to_bindings.get(event.key, ()):
            if await self.app.run_action(binding.action, self):
                event.stop()
                event.prevent_default()
                return
        await super()._on_key(event)


class TickBox(Checkbox, inherit_bindings=False):
    """A checkbox whose state reads without colour ("[X]" ticked, "[ ]" not), toggled by Space.

    Textual's Checkbox shows the same X either way (only its colour changes), which a
    monochrome terminal or a colour-blind user can't read; and its Enter toggles, where on a
    step Enter means Next.
    """

    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("space", "toggle_button", "Tick/untick", show=False),
    ]

    @property
    def _button(self) -> Content:
        style = self.get_visual_style("toggle--button")
        return Content.assemble("[", ("X" if self.value else " ", style), "]")


class NextButton(Button):
    """The step's Next button; the footer shows Enter as Next while it has focus."""

    BINDINGS: ClassVar[list[BindingType]] = [Binding("enter", "press", "Next")]


class Field(Vertical):
    """A labelled control with an optional hint and an error line beside it.

    The error line stays hidden until there is something to say, so a valid form costs no
    rows at 80x24. Input validators run on blur and on submit; once an error is shown it is
    re-checked while typing, so it disappears the moment the value is fixed.
    """

    # Label and control on one row, hint and error beneath, aligned under the control.
    DEFAULT_CSS = """
    Field {
        height: auto;
    }
    Field .field-row {
        height: auto;
    }
    Field .field-label {
        width: 20;
        padding-right: 1;
        text-style: bold;
    }
    Field .field-row > Input,
    Field .field-row > Select,
    Field .field-row > Checkbox {
        width: 1fr;
    }
    Field .field-hint {
        padding-left: 20;
        color: $text-muted;
    }
    Field .field-error {
        display: none;
        padding-left: 20;
        color: $text-error;
    }
    Field .field-error.-shown {
        display: block;
    }
    """

    def __init__(
        self,
        label: str,
        control: Widget,
        *,
        hint: str = "",
        id: str | None = None,
        classes: str | None = None,
    ) -> None:
        super().__init__(id=id, classes=classes)
        self.label_text = label
        self.control_widget = control
        self.hint = hint
        self._error: str | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="field-row"):
            yield Label(self.label_text, classes="field-label")
            yield self.control_widget
        if self.hint:
            yield Static(self.hint, classes="field-hint", markup=False)
        yield Static("", classes="field-error", markup=False)

    @property
    def error(self) -> str | None:
        """The message shown beside the field, or None."""
        return self._error

    def show_error(self, message: str | None) -> None:
        """Write (or clear, with None) the failure beside the control."""
        self._error = message or None
        line = self.query_one(".field-error", Static)
        line.update(f"✗ {message}" if message else "")
        line.set_class(bool(message), "-shown")
        self.set_class(bool(message), "-invalid")

    def check(self) -> str | None:
        """Run the control's validators now; show and return the first failure (None = fine)."""
        message: str | None = None
        control = self.control_widget
        if isinstance(control, Input):
            result = control.validate(control.value)
            if result is not None and not result.is_valid:
                descriptions = result.failure_descriptions
                message = descriptions[0] if descriptions else "Not valid."
        self.show_error(message)
        return message

    def on_input_blurred(self, event: Input.Blurred) -> None:
        if event.input is self.control_widget and event.value:
            self.check()

    def on_input_changed(self, event: Input.Changed) -> None:
        if event.input is self.control_widget and self.has_class("-invalid"):
            self.check()


class CopyableValue(Horizontal):
    """A value shown as selectable text with a Copy button beside it.

    The button posts `CopyableValue.CopyRequested`; `StepScreen` handles it (pyperclip first,
    then the terminal's OSC 52) and says which worked.
    """

    DEFAULT_CSS = """
    CopyableValue {
        height: auto;
        margin-bottom: 1;
    }
    CopyableValue .copyable-text {
        width: 1fr;
        text-style: bold;
    }
    CopyableValue .copy-button {
        margin-left: 1;
    }
    """

    @dataclass
    class CopyRequested(Message):
        text: str
        what: str

    def __init__(self, value: str, *, what: str = "value", label: str = "Copy",
                 path: bool = False, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(id=id, classes=classes)
        self.value = value
        self.what = what
        self.button_label = label
        self.path = path  # a file path: wrapped at its separators, never mid-name

    def compose(self) -> ComposeResult:
        if self.path:
            yield PathText(shown(self.value), classes="copyable-text")
        else:
            yield Static(shown(self.value, multiline=True), classes="copyable-text", markup=False)
        yield Button(self.button_label, classes="copy-button", compact=True)

    @on(Button.Pressed, ".copy-button")
    def request_copy(self, event: Button.Pressed) -> None:
        event.stop()
        self.post_message(self.CopyRequested(self.value, self.what))


def shown_path(path: Path | str) -> str:
    """A path as people read it: the home folder as ~ (shells and PowerShell expand it)."""
    text = shown(path)
    home = str(Path.home())
    if home.rstrip(os.sep) and (text == home or text.startswith(home.rstrip(os.sep) + os.sep)):
        return "~" + text[len(home.rstrip(os.sep)):]
    return text


def fold_path(text: str, width: int) -> list[str]:
    """`text` in lines of at most `width` cells, broken after a separator (/ or \\), so no
    folder or file name is cut in two unless it alone is wider than the line."""
    if width <= 0 or cell_len(text) <= width:
        return [text]
    lines: list[str] = []
    line = ""
    for part in re.findall(r"[^/\\]*[/\\]|[^/\\]+", text):
        if line and cell_len(line) + cell_len(part) > width:
            lines.append(line)
            line = ""
        line += part
        if cell_len(line) > width:
            *full, line = chop_cells(line, width)
            lines += full
    if line:
        lines.append(line)
    return lines


class PathText(Static):
    """A file path that wraps at its separators ("…/certificates/" then "ScriptServer/"),
    never in the middle of a name, so a long path still reads as a path at 80 columns."""

    def __init__(self, path: str, *, id: str | None = None, classes: str | None = None) -> None:
        super().__init__(path, id=id, classes=classes, markup=False)

    @property
    def path_text(self) -> str:
        return str(self.content)

    def get_content_width(self, container: Size, viewport: Size) -> int:
        return cell_len(self.path_text)

    def get_content_height(self, container: Size, viewport: Size, width: int) -> int:
        return len(fold_path(self.path_text, width))

    def render(self) -> Content:
        return Content("\n".join(fold_path(self.path_text, self.content_size.width)))


def copy_with_system_clipboard(text: str) -> str | None:
    """Copy with pyperclip (the OS clipboard); None when it worked, else why not.

    Runs in a thread worker: pyperclip shells out (xclip, pbcopy, clip.exe) and raises
    PyperclipException when there is no clipboard, as on most SSH sessions.
    """
    try:
        import pyperclip

        pyperclip.copy(text)
    except Exception as error:  # pyperclip raises its own and OS errors; any means "not copied"
        return str(error) or type(error).__name__
    return None


class EngineCheck(Validator):
    """A Textual Validator over one of the engine's pure checks (None = fine, else the message).

    The CLI and the screens then say the same words for the same mistake.
    """

    def __init__(self, check: Callable[[str], str | None]) -> None:
        super().__init__()
        self.check = check

    def validate(self, value: str) -> ValidationResult:
        problem = self.check(value)
        return self.success() if problem is None else self.failure(problem)


class StepFooter(Footer):
    """The footer, with its keys in the step's first frame, rebuilt only when they change.

    Textual's Footer composes empty and shows its keys a frame later, once the bindings are
    announced; this one reads them as it is composed, so the first frame is complete. As a
    step appears its bindings are then announced three times in one go (focus, the screen's
    resume, an idle pass): an announcement that changes nothing shown is let go, and a
    rebuild already waiting covers the announcements before it reads the bindings.
    """

    rebuild_waiting = False
    shown_keys: tuple[object, ...] | None = None
    """The bindings the last compose showed (None before the first)."""

    def keys(self) -> tuple[object, ...]:
        """The keys shown, in order (focus moves the hidden ones, such as Tab, about)."""
        palette = self.app.COMMAND_PALETTE_BINDING
        return tuple((key, active.binding, active.enabled, active.tooltip)
                     for key, active in self.screen.active_bindings.items()
                     if active.binding.show or key == palette)

    def bindings_changed(self, screen: Screen[object]) -> None:
        if screen is self.screen and (self.rebuild_waiting or self.keys() == self.shown_keys):
            return
        super().bindings_changed(screen)  # schedules the rebuild, if it is to happen
        self.rebuild_waiting = self.is_attached and screen is self.screen and screen.app.app_focus

    def compose(self) -> ComposeResult:
        self.set_reactive(Footer._bindings_ready, True)
        self.shown_keys = self.keys()
        self.rebuild_waiting = False
        yield from super().compose()
