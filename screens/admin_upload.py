"""Step 4's other way: an admin signs in (device code) and the wizard adds the certificate to
the app registration itself, or first creates the app. The manual path beside it stays."""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.content import Content
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Button, Input, Static

from screens.widgets import CopyableValue, TickBox
from wizard import inputs
from wizard.session import AdminAdded, AdminTarget, WizardState
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.admin.signin import DeviceCodePrompt
    from wizard.errors import UserError

START_LABEL = "Sign in as an admin and let the wizard add it"
CHOICE_LEAD = ("The admin signs in on any device with a browser (even a phone); this server "
               "needs none. Which app?")
CONSENT_LABEL = "and grant it admin consent for Organization.Read.All"
DEMO_APPROVER = "the demo admin"
QR_MARGIN_ROWS = 22
"""The rows the step needs besides the QR code: below that height the QR is left out."""


@dataclass
class AttemptMessage(Message):
    """From the worker of one sign-in attempt: `attempt` is its cancel Event, so a message of
    an attempt cancelled since (Esc, then a new sign-in) is recognised and dropped."""

    attempt: threading.Event


@dataclass
class PromptShown(AttemptMessage):
    """The identity platform gave a code: show where to enter it."""

    prompt: DeviceCodePrompt


@dataclass
class SignedIn(AttemptMessage):
    """The admin approved; the certificate is being added."""


@dataclass
class Added(AttemptMessage):
    added: AdminAdded


@dataclass
class Failed(AttemptMessage):
    message: str
    fix: str


@dataclass
class DemoApproval(Message):
    problem: str | None  # None = the demo tenant took the approval


def clock_text(started: float, expires_at: float, now: float) -> str:
    """"Waiting for the sign-in: 0:07 so far; the code expires in 14:53. Esc cancels." """
    elapsed = max(0, int(now - started))
    left = int(expires_at - now)
    expiry = (f"the code expires in {left // 60}:{left % 60:02d}" if left > 0
              else "the code has expired")
    return (f"Waiting for the sign-in: {elapsed // 60}:{elapsed % 60:02d} so far; {expiry}. "
            "Esc cancels.")


def added_text(added: AdminAdded) -> str:
    """What the admin path did, in one line."""
    if added.already_there:
        return f"✓ The certificate was already on app {added.client_id}: nothing to add."
    if not added.created:
        kept = "certificate" if added.kept == 1 else "certificates"
        return f"✓ Added to app {added.client_id}; {added.kept} existing {kept} kept."
    consent = ", with admin consent for Organization.Read.All" if added.consented else ""
    return (f"✓ Created the app registration and added the certificate{consent}. Client ID "
            f"{added.client_id}, tenant {added.tenant_id}, object ID {added.object_id}: step 6 "
            "has them filled in.")


def failure_words(error: UserError) -> tuple[str, str]:
    """(what happened, why and what to do): the catalogue's explanation of an admin failure."""
    from wizard.admin.errors import AdminError
    from wizard.session import wizard_fix

    if not isinstance(error, AdminError):
        return error.message, error.hint or ""
    explained = error.explanation
    said = f"\nThe service said: {explained.service_text}" if explained.service_text else ""
    return explained.title, f"{explained.cause}{said}\nWhat to do: {wizard_fix(explained)}"


class AdminUpload(Vertical):
    """Which app, then the device-code panel, then what was done (or why not, and the fix)."""

    DEFAULT_CSS = """
    AdminUpload {
        height: auto;
        margin-bottom: 1;
    }
    AdminUpload Horizontal {
        height: auto;
    }
    AdminUpload Horizontal > Button {
        margin-right: 2;
    }
    AdminUpload #admin-client-id {
        width: 1fr;
    }
    AdminUpload #admin-choice, AdminUpload #admin-wait {
        height: auto;
        display: none;
    }
    AdminUpload.-choosing #admin-choice, AdminUpload.-waiting #admin-wait {
        display: block;
    }
    AdminUpload.-choosing #admin-start, AdminUpload.-waiting #admin-start {
        display: none;
    }
    AdminUpload #admin-qr {
        width: auto;
    }
    """

    def __init__(self, state: WizardState, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.state = state
        self.attempt: threading.Event | None = None
        """The sign-in under way (set = cancelled), None when none is."""
        self.started = 0.0
        self.prompt: DeviceCodePrompt | None = None
        self.clock: Timer | None = None

    @property
    def waiting(self) -> bool:
        """The device code is shown, the admin has yet to sign in."""
        return self.has_class("-waiting")

    @property
    def open(self) -> bool:
        """The choice is shown or a sign-in is under way (Esc closes or cancels it)."""
        return self.has_class("-choosing") or self.attempt is not None

    def compose(self) -> ComposeResult:
        state = self.state
        info = state.demo_info if state.demo else None
        client_id = state.client_id or (info.client_id if info is not None else "")
        yield Button(START_LABEL, id="admin-start", compact=True)
        with Vertical(id="admin-choice"):
            yield Static(CHOICE_LEAD, classes="section", markup=False)
            with Horizontal():
                yield Button("Add it to the app", id="admin-existing", compact=True)
                yield Input(client_id, id="admin-client-id", compact=True,
                            placeholder="Application (client) ID of the existing app")
            with Horizontal():
                # Content, not a str: a typed name is never read as markup.
                name = Content(shown(f"Create a new app registration named '{self.new_app_name}'"))
                yield Button(name, id="admin-create", compact=True)
            yield TickBox(CONSENT_LABEL, value=True, id="admin-consent", compact=True)
        with Vertical(id="admin-wait"):
            yield Static("Open this address in a browser, on any device:", markup=False)
            yield CopyableValue("", what="sign-in address", id="admin-url")
            yield Static("and enter this code:", markup=False)
            yield CopyableValue("", what="code", id="admin-code")
            yield Static("", id="admin-qr", markup=False)
            yield Static("", id="admin-clock", markup=False)
            if info is not None:
                yield Button(f"Approve as {DEMO_APPROVER} (demo shortcut, no browser needed)",
                             id="admin-approve", variant="success", compact=True)
        yield Static("", id="admin-status", markup=False)

    @property
    def new_app_name(self) -> str:
        return self.state.name or (self.state.files.stem if self.state.files else "ScriptServer")

    # ------------------------------------------------------------------ start
    @on(Button.Pressed, "#admin-start")
    def start_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.add_class("-choosing")
        self.focus_choice()

    def focus_choice(self) -> None:
        # No app named yet in this run: the likely wish is a new one (the other is a Tab back).
        first = "#admin-existing" if self.state.client_id else "#admin-create"
        self.query_one(first, Button).focus()

    def close(self) -> None:
        """Esc: cancel the sign-in under way, else fold the choice away."""
        if self.attempt is not None:
            self.cancel()
        else:
            self.remove_class("-choosing")
            self.query_one("#admin-start", Button).focus()

    @on(Button.Pressed, "#admin-existing")
    def existing_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        typed = self.query_one("#admin-client-id", Input).value
        problem = inputs.client_id_problem(typed)
        if problem is not None:
            self.say(f"✗ {problem}", "error")
            self.query_one("#admin-client-id", Input).focus()
            return
        self.start(AdminTarget(client_id=inputs.normalize_client_id(typed)))

    @on(Button.Pressed, "#admin-create")
    def create_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        consent = self.query_one("#admin-consent", TickBox).value
        self.start(AdminTarget(new_app_name=self.new_app_name, consent=consent))

    def start(self, target: AdminTarget) -> None:
        if self.state.files is None:
            self.say("✗ There is no certificate to add yet: go back a step and generate one.",
                     "error")
            return
        self.attempt = threading.Event()
        self.say("Asking the identity platform for a sign-in code… (Esc cancels)", "")
        self.query_one("#admin-choice").disabled = True
        self.sign_in_and_add(target, self.attempt)

    @work(thread=True, exclusive=True, exit_on_error=False, group="admin-upload")
    def sign_in_and_add(self, target: AdminTarget, attempt: threading.Event) -> None:
        """Sign in (polling until approved, or `attempt` is set), then add the certificate."""
        from wizard.errors import UserError
        from wizard.session import admin_add_certificate, admin_sign_in

        try:
            sign_in = admin_sign_in(self.state, target)
            self.post_message(PromptShown(attempt, sign_in.start()))
            graph = sign_in.wait(attempt)
            self.post_message(SignedIn(attempt))
            added = admin_add_certificate(graph, self.state, target)
        except UserError as error:
            self.post_message(Failed(attempt, *failure_words(error)))
            return
        self.post_message(Added(attempt, added))

    def current(self, event: AttemptMessage) -> bool:
        """Whether `event` is news of the sign-in under way; a stale one goes no further."""
        if event.attempt is self.attempt and not event.attempt.is_set():
            return True
        event.stop()
        return False

    # ----------------------------------------------------------------- the wait
    @on(PromptShown)
    def prompt_shown(self, event: PromptShown) -> None:
        event.stop()
        if not self.current(event):
            return
        prompt = self.prompt = event.prompt
        self.started = time.monotonic()
        self.set_value("#admin-url", prompt.verification_uri)
        self.set_value("#admin-code", prompt.user_code)
        self.show_qr()
        self.remove_class("-choosing")
        self.add_class("-waiting")
        self.say("", "")
        self.tick()
        self.clock = self.set_interval(1, self.tick)
        for button in self.query("#admin-approve").results(Button):
            button.disabled = False
            button.focus()
            break
        else:
            self.query_one("#admin-url .copy-button", Button).focus()

    def set_value(self, selector: str, value: str) -> None:
        copyable = self.query_one(selector, CopyableValue)
        copyable.value = value
        copyable.query_one(".copyable-text", Static).update(shown(value))

    def show_qr(self) -> None:
        """The QR code of the address, when the terminal has the room; else a one-line note."""
        from wizard.qr import qr_lines

        assert self.prompt is not None
        lines = qr_lines(self.prompt.verification_uri)
        width = max((len(line) for line in lines), default=0)
        size = self.app.size
        qr = self.query_one("#admin-qr", Static)
        if size.height >= len(lines) + QR_MARGIN_ROWS and size.width >= width + 4:
            qr.update("\n".join(lines))
        else:
            qr.update(f"(A QR code of the address shows in a terminal of at least "
                      f"{width + 4}x{len(lines) + QR_MARGIN_ROWS}.)")

    def on_resize(self) -> None:
        if self.waiting and self.prompt is not None:
            self.show_qr()

    def tick(self) -> None:
        if self.prompt is not None:
            self.query_one("#admin-clock", Static).update(
                clock_text(self.started, self.prompt.expires_at, time.monotonic()))

    def cancel(self) -> None:
        """Esc during the sign-in: stop polling (the worker ends) and show the choice again."""
        self.end_attempt()
        self.say("Sign-in cancelled. Add it by hand (below), or sign in again.", "warning")
        self.focus_choice()

    def on_unmount(self) -> None:
        if self.attempt is not None:
            self.attempt.set()  # the step was left: the worker stops polling

    def end_attempt(self, *, show_choice: bool = True) -> None:
        """The sign-in is over (done, failed or cancelled): its worker hears no more of us."""
        if self.attempt is not None:
            self.attempt.set()
            self.attempt = None
        if self.clock is not None:
            self.clock.stop()
            self.clock = None
        self.remove_class("-waiting")
        self.set_class(show_choice, "-choosing")
        self.query_one("#admin-choice").disabled = False

    @on(SignedIn)
    def signed_in(self, event: SignedIn) -> None:
        event.stop()
        if not self.current(event):
            return
        if self.clock is not None:
            self.clock.stop()
        self.remove_class("-waiting")
        self.say("Signed in. Adding the certificate (every certificate already there is kept)…",
                 "")

    @on(Failed)
    def failed(self, event: Failed) -> None:
        if not self.current(event):
            return
        self.end_attempt()
        fix = f"\n{event.fix}" if event.fix else ""
        self.say(shown(f"✗ {event.message}{fix}", multiline=True), "error")

    @on(Added)
    def added(self, event: Added) -> None:
        if not self.current(event):
            return
        self.end_attempt(show_choice=False)
        self.state.admin_added(event.added)
        self.say(added_text(event.added), "success")

    def say(self, text: str, style: str) -> None:
        status = self.query_one("#admin-status", Static)
        status.update(text)
        for name in ("error", "warning", "success"):
            status.set_class(name == style, name)

    # ------------------------------------------------------ the demo's shortcut
    @on(Button.Pressed, "#admin-approve")
    def approve_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        if self.prompt is None or self.state.portal is None:
            return
        event.button.disabled = True
        self.approve_in_demo(self.prompt.user_code)

    @work(thread=True, exclusive=True, exit_on_error=False, group="admin-approve")
    def approve_in_demo(self, user_code: str) -> None:
        from wizard.errors import UserError

        assert self.state.portal is not None and self.state.demo_info is not None
        # The tenant's admin, or in a workshop seat that seat's own admin.
        admin_user = self.state.demo_info.admin_user
        try:
            self.state.portal.decide_device_code(user_code, approve=True, user=admin_user)
        except UserError as error:
            self.post_message(DemoApproval(error.message))
            return
        self.post_message(DemoApproval(None))

    @on(DemoApproval)
    def demo_approval(self, event: DemoApproval) -> None:
        event.stop()
        if not self.waiting:
            return
        if event.problem is None:
            self.say(f"Approved as {DEMO_APPROVER}: the sign-in completes at the next poll.", "")
            return
        self.say(shown(f"✗ The demo tenant refused the approval: {event.problem}"), "error")
        for button in self.query("#admin-approve").results(Button):
            button.disabled = False
