"""Step 2 · Name & options: the certificate's name, validity, key size, folder and passphrase."""

from __future__ import annotations

import socket
from collections.abc import Mapping
from pathlib import Path

from textual import on
from textual.app import ComposeResult
from textual.widgets import Checkbox, Input, Select, Static

from screens.base import StepScreen
from screens.widgets import EngineCheck, Field, StepInput, TickBox
from wizard import names
from wizard.paths import confinement_problem, default_cert_root
from wizard.session import WizardState

PASSPHRASE_WHY = (
    "A passphrase encrypts the private key, so a copied .key is useless alone; the .pfx "
    "(Windows/PowerShell) needs one."
)
NO_PASSPHRASE_WARNING = (
    "⚠ The key will be stored unencrypted, protected by file permissions alone, and no .pfx "
    "is written. Anyone who can read the file can sign in as your app."
)


class CertificateName(EngineCheck):
    def __init__(self) -> None:
        super().__init__(names.certificate_name_problem)


class ValidityDays(EngineCheck):
    def __init__(self) -> None:
        super().__init__(names.days_problem)


class OutputFolder(EngineCheck):
    def __init__(self) -> None:
        super().__init__(output_folder_problem)


class NewPassphrase(EngineCheck):
    def __init__(self) -> None:
        super().__init__(lambda text: names.passphrase_problem(text, text))


def output_folder_problem(text: str) -> str | None:
    if not text.strip():
        return "Enter the folder that will hold the certificate's folder."
    if "\x00" in text:
        return "The folder name holds an invisible NUL character; type it again."
    try:
        path = Path(text.strip()).expanduser()
        if path.exists() and not path.is_dir():
            return f"{path} is a file; choose a folder."
        outside = confinement_problem(path)
        if outside is not None:
            return outside
    except RuntimeError:  # ~name of a user that does not exist
        return f"There is no user {text.strip().split('/')[0][1:]!r}: write ~/folder or a full path."
    except (OSError, ValueError) as error:  # a name too long, a NUL byte, ...
        reason = error.strerror if isinstance(error, OSError) and error.strerror else str(error)
        return f"This folder can't be used ({reason}); choose another."
    return None


def default_certificate_name() -> str:
    """ "ScriptServer-<host>": says which machine holds the key, as a valid CN."""
    host = socket.gethostname().split(".")[0].strip() or "01"
    name = f"ScriptServer-{host}"[: names.MAX_NAME_LENGTH]
    return name if names.certificate_name_problem(name) is None else "ScriptServer01"


class NameScreen(StepScreen):
    """Collect the certificate's options; each field is checked where it stands."""

    STEP = 2
    TITLE = "Name & options"
    HELP_FILE = "name"

    def __init__(self, state: WizardState) -> None:
        super().__init__(state)
        if not state.name:
            state.name = default_certificate_name()

    def compose_body(self) -> ComposeResult:
        state = self.state
        passphrase = state.passphrase.decode("utf-8") if state.passphrase else ""
        yield Field(
            "Certificate name",
            StepInput(state.name, id="name", validators=[CertificateName()], compact=True,
                  select_on_focus=False),
            hint="The subject, CN=<name>: say which server or script uses it.",
            id="name-field",
        )
        yield Field(
            "Valid for (days)",
            StepInput(str(state.days), id="days", type="integer", max_length=4,
                  validators=[ValidityDays()], compact=True),
            id="days-field",
        )
        yield Static("", id="days-warning", classes="warning hidden", markup=False)
        yield Field(
            "Key size (RSA)",
            Select(
                [("2048 bits (recommended)", 2048), ("3072 bits", 3072), ("4096 bits", 4096)],
                value=state.key_size, allow_blank=False, id="key-size", compact=True,
            ),
            id="key-size-field",
        )
        yield Field(
            "Output folder",
            StepInput(str(state.out_dir or default_cert_root()), id="out-dir",
                  validators=[OutputFolder()], compact=True),
            hint="A private sub-folder for this certificate is made in it.",
            id="out-dir-field",
        )
        yield Static(PASSPHRASE_WHY, classes="muted gap", markup=False)
        yield Field(
            "Passphrase",
            StepInput(passphrase, id="passphrase", password=True, validators=[NewPassphrase()],
                  compact=True),
            id="passphrase-field",
        )
        yield Field(
            "Confirm passphrase",
            StepInput(passphrase, id="confirm", password=True, compact=True),
            id="confirm-field",
        )
        yield Static("", id="passphrase-warning", classes="warning hidden", markup=False)
        yield TickBox("Write the key without a passphrase", value=state.no_passphrase,
                      id="no-passphrase", compact=True)
        yield Static(NO_PASSPHRASE_WARNING, id="no-passphrase-warning", classes="warning hidden",
                     markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.show_days_warning(self.query_one("#days", Input).value)
        self.apply_passphrase_choice(self.state.no_passphrase)
        name_ok = names.certificate_name_problem(self.state.name) is None
        if name_ok and self.state.passphrase is None and not self.state.no_passphrase:
            self.query_one("#passphrase", Input).focus()  # the one answer with no default

    async def action_enter_next(self) -> None:
        """Enter in the passphrase moves on to its confirmation while that is still empty.

        Decided the moment Enter arrives (the confirmation's value is settled: keys go to the
        focused field only), so the keys typed after it land in the confirmation. The
        passphrase itself is checked once the keys typed before Enter are in it: a problem
        (e.g. none typed) is said on this Enter, and focus returns to it.
        """
        confirm = self.query_one("#confirm", Input)
        passphrase = self.query_one("#passphrase", Input)
        if self.focused is passphrase and not confirm.value:
            self.set_focus(confirm)  # now, not after a refresh as Widget.focus() does
            passphrase.call_later(self.call_later, self.check_passphrase_after_enter)
            return
        await super().action_enter_next()

    def check_passphrase_after_enter(self) -> None:
        if self.query_one("#passphrase-field", Field).check() is not None:
            self.set_focus(self.query_one("#passphrase", Input))

    @on(Input.Changed, "#days")
    def days_changed(self, event: Input.Changed) -> None:
        self.show_days_warning(event.value)

    def show_days_warning(self, text: str) -> None:
        warning = self.query_one("#days-warning", Static)
        days = int(text) if text.isdigit() else 0
        long = days > names.LONG_VALIDITY_WARNING_DAYS and names.days_problem(days) is None
        warning.update(
            f"⚠ {days} days is long: if the key leaks, it works until then. Microsoft "
            "recommends under two years; renewing is a short wizard run." if long else ""
        )
        warning.set_class(not long, "hidden")

    @on(Input.Changed, "#passphrase")
    def passphrase_changed(self) -> None:
        self.show_passphrase_warning()

    def show_passphrase_warning(self) -> None:
        """A weak passphrase is warned about as it is typed (still accepted: a warning)."""
        no_passphrase = self.query_one("#no-passphrase", Checkbox).value
        typed = self.query_one("#passphrase", Input).value
        warning = None if no_passphrase else names.weak_passphrase_warning(typed)
        widget = self.query_one("#passphrase-warning", Static)
        widget.update(f"⚠ {warning}" if warning else "")
        widget.set_class(warning is None, "hidden")

    @on(Checkbox.Changed, "#no-passphrase")
    def passphrase_choice_changed(self, event: Checkbox.Changed) -> None:
        self.apply_passphrase_choice(event.value)

    def apply_passphrase_choice(self, no_passphrase: bool) -> None:
        for field_id in ("#passphrase-field", "#confirm-field"):
            field = self.query_one(field_id, Field)
            field.disabled = no_passphrase
            if no_passphrase:
                field.show_error(None)
        self.query_one("#no-passphrase-warning").set_class(not no_passphrase, "hidden")
        self.show_passphrase_warning()

    def problems(self) -> Mapping[str, str | None]:
        if self.query_one("#no-passphrase", Checkbox).value:
            return {}
        passphrase = self.query_one("#passphrase", Input).value
        confirm = self.query_one("#confirm", Input).value
        if names.passphrase_problem(passphrase, passphrase) is not None:
            return {}  # the passphrase field's own validator says it
        return {"confirm-field": names.passphrase_problem(passphrase, confirm)}

    def save_answers(self) -> None:
        state = self.state
        state.name = self.query_one("#name", Input).value
        days = self.query_one("#days", Input).value
        if names.days_problem(days) is None:
            state.days = int(days)
        key_size = self.query_one("#key-size", Select).value
        if isinstance(key_size, int):
            state.key_size = key_size
        folder = self.query_one("#out-dir", Input).value.strip()
        state.out_dir = Path(folder).expanduser() if folder else None
        state.no_passphrase = self.query_one("#no-passphrase", Checkbox).value
        passphrase = self.query_one("#passphrase", Input).value
        state.passphrase = None if state.no_passphrase or not passphrase else passphrase.encode()
