"""Step 7 · Positive test: sign in as the app with the certificate, read the organization
from Microsoft Graph, and explain whatever fails, with Retry, the step that fixes it, and Back
to IDs."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from screens.checks import (
    CheckRow,
    Explained,
    LiveTestScreen,
    user_error_explanation,
)
from wizard.session import (
    connection_settings,
    load_credential,
    recently_uploaded,
    save_tested_profile,
    save_untested_profile,
    uploaded_elsewhere_note,
)
from wizard.shown import shown
from wizard.signin.plan import POSITIVE_CHECKS

if TYPE_CHECKING:
    from wizard.signin.catalogue import Explanation
    from wizard.signin.plan import Check, PositiveResult

NO_PERMISSIONS = "none: admin consent not granted"

# The earlier step that fixes a failure, by catalogue code: (step, the button's words).
FIX_STEPS: dict[str, tuple[int, str]] = {
    "AADSTS700027": (4, "Go to Upload (step 4)"),
    "KEY-MISMATCH": (2, "Make a new certificate (step 2)"),
    "CERT-EXPIRED": (2, "Make a new certificate (step 2)"),
}


@dataclass
class CheckChanged(Message):
    """The worker reports one check of the positive test (a copy: the engine keeps going)."""

    check: Check


@dataclass
class PositiveFinished(Message):
    """The positive test ended; on success the profile was saved (or why not)."""

    result: PositiveResult
    profile_name: str | None
    profile_problem: str | None


@dataclass
class PositiveCouldNotStart(Message):
    """The test never reached the network: no certificate, wrong passphrase, bad IDs..."""

    explanation: Explanation


def permissions_text(result: PositiveResult) -> str:
    """The token's application permissions (roles), or why there are none."""
    if result.token is None:
        return "no token"
    return ", ".join(sorted(result.token.roles)) or NO_PERMISSIONS


def organization_text(result: PositiveResult) -> str:
    organization = result.organization or {}
    name = str(organization.get("display_name") or "")
    domains = [str(domain) for domain in organization.get("verified_domains") or []]
    if not name:
        return "not read"
    return f"{name} ({', '.join(domains)})" if domains else name


class PositiveScreen(LiveTestScreen):
    """Run the positive test as soon as the step opens; Next once the certificate works."""

    STEP = 7
    TITLE = "Positive test: sign in with the certificate"
    HELP_FILE = "positive"
    AUTO_FOCUS = "#next"
    ENTER_LABELS: ClassVar[Mapping[str, str]] = {"fix-step": "Go there"}

    def compose_body(self) -> ComposeResult:
        yield Static(
            "Sign in with the certificate, as your scripts will, then call Graph.",
            classes="lead",
            markup=False,
        )
        with Vertical(classes="check-list", id="positive-checks"):
            for planned in POSITIVE_CHECKS:
                yield CheckRow(planned.key, planned.title)
        with Vertical(classes="outcome", id="positive-outcome"):
            yield Static("", id="verdict", classes="outcome-line", markup=False)
            yield Static("", id="permissions", markup=False)
            yield Static("", id="organization", markup=False)
            yield Static("", id="profile", classes="muted", markup=False)
        with Horizontal(classes="test-actions", id="failure-actions"):
            yield Button("Retry", id="retry", variant="primary", compact=True)
            yield Button("", id="fix-step", compact=True)
            back = "Back to Welcome" if self.state.start == "test" else "Back to IDs"
            yield Button(back, id="back-to-ids", compact=True)
        yield Explained(id="explanation")

    # ---------------------------------------------------------------- running
    def start_test(self) -> None:
        """(Re)start the test: every row pending, the outcome cleared, Next waits."""
        self.state.positive = None
        self.ready = False
        self.running = True
        for row in self.query(CheckRow):
            row.show("pending")
        self.show_outcome("Testing…", "")
        self.query_one("#failure-actions").display = False
        self.query_one("#fix-step").display = False
        self.query_one(Explained).explain(None)
        self.run_test()

    @work(thread=True, exclusive=True, exit_on_error=False, group="positive")
    def run_test(self) -> None:
        from wizard.signin.positive import run_positive

        cancel = self.cancel_event
        try:
            settings = connection_settings(self.state)
            credential = load_credential(self.state)
        except Exception as error:  # any failure to start is explained, never a traceback
            self.post_message(PositiveCouldNotStart(user_error_explanation(error)))
            return
        save_untested_profile(self.state)  # something to come back to, whatever happens next
        result = run_positive(
            settings,
            credential,
            on_update=self.report_check,
            cancel=cancel,
            recently_uploaded=recently_uploaded(self.state),
        )
        profile_name, profile_problem = save_tested_profile(
            self.state, result, cancelled=cancel.is_set()
        )
        self.post_message(PositiveFinished(result, profile_name, profile_problem))

    def report_check(self, check: Check) -> None:
        """Called by the engine in the worker thread: hand the check to the UI thread."""
        self.post_message(CheckChanged(check))

    # ---------------------------------------------------------------- results
    @on(CheckChanged)
    def check_changed(self, event: CheckChanged) -> None:
        check = event.check
        rows = self.query(f"#check-{check.key}").results(CheckRow)
        for row in rows:
            detail = "" if check.status.value == "skipped" else check.detail
            row.show(check.status.value, detail=detail, seconds=check.seconds)

    @on(PositiveCouldNotStart)
    def could_not_start(self, event: PositiveCouldNotStart) -> None:
        self.running = False
        for row in self.query(CheckRow):
            row.show("skipped")
        self.show_outcome("✗ The test could not start.", "error")
        self.show_failure(event.explanation)

    @on(PositiveFinished)
    def finished(self, event: PositiveFinished) -> None:
        result = event.result
        self.state.positive = result  # before `running`: the footer's Retry looks at both
        self.running = False
        if event.profile_name is not None:
            self.state.profile_name = event.profile_name
        if result.cancelled:
            self.show_outcome("Cancelled.", "muted")
            self.query_one("#failure-actions").display = True
            return
        permissions = f"Permissions in the token: {permissions_text(result)}"
        organization = f"Organization: {organization_text(result)}"
        if result.ok:
            self.show_outcome("✓ The certificate works: signed in, and Graph answered.",
                              "success", permissions, organization)
            profile = self.query_one("#profile", Static)
            if event.profile_name is not None and self.state.start == "test":
                profile.update(f'Profile "{shown(event.profile_name)}".')
            elif event.profile_name is not None:
                profile.update(f'Saved as profile "{shown(event.profile_name)}".')
            elif event.profile_problem is not None:
                profile.update(shown(f"The profile was not saved: {event.profile_problem}"))
            profile.display = True
            self.ready = True
            self.query_one("#next", Button).focus()
            return
        if result.signed_in:
            # The certificate works; what is missing is a permission, not a certificate.
            self.show_outcome("! Signed in with the certificate, but Graph refused the call.",
                              "warning", permissions,
                              organization if result.organization else "")
            self.ready = True
            self.query_one("#next", Button).focus()
        elif result.unreached:
            # No answer from the service proves nothing about the certificate.
            self.show_outcome("? The service was never reached: nothing is proved about the "
                              "certificate yet.", "warning")
        elif (note := uploaded_elsewhere_note(self.state)) is not None:
            self.show_outcome("✗ The sign-in failed: this app does not hold the certificate.",
                              "error", note)
        else:
            self.show_outcome("✗ The sign-in with the certificate failed.", "error")
        self.show_failure(result.error, warning=result.signed_in)

    def show_outcome(self, verdict: str, style: str, permissions: str = "",
                     organization: str = "") -> None:
        self.show_verdict(verdict, style)
        for widget_id, text in (("#permissions", permissions), ("#organization", organization),
                                ("#profile", "")):
            widget = self.query_one(widget_id, Static)
            widget.update(shown(text, multiline=True))  # roles and names come from the service
            widget.display = bool(text)

    def show_failure(self, explanation: Explanation | None, *, warning: bool = False) -> None:
        explained = self.query_one(Explained)
        explained.explain(explanation, warning=warning)
        actions = self.query_one("#failure-actions")
        actions.display = True
        fix_step = self.fix_step(explanation)
        fix_button = self.query_one("#fix-step", Button)
        fix_button.display = fix_step is not None
        if fix_step is not None:
            fix_button.label = fix_step[1]
        if not self.ready:
            (fix_button if fix_step is not None else self.query_one("#retry", Button)).focus()
        # What went wrong and what to do matter more than the rows above: bring them up.
        self.call_after_refresh(self.query_one("#positive-outcome").scroll_visible,
                                animate=False, top=True)

    # ---------------------------------------------------------------- actions
    def passed(self) -> bool:
        """The certificate works: nothing to retry."""
        return bool(self.state.positive and self.state.positive.ok)

    def fix_step(self, explanation: Explanation | None) -> tuple[int, str] | None:
        """The earlier step that fixes this failure, when this run went through it."""
        if explanation is None or self.state.start != "new":
            return None
        return FIX_STEPS.get(explanation.code)

    @on(Button.Pressed, "#fix-step")
    def go_to_fix(self, event: Button.Pressed) -> None:
        event.stop()
        explanation = self.query_one(Explained).explanation
        fix_step = self.fix_step(explanation)
        if fix_step is not None:
            self.go_to_step(fix_step[0])

    @on(Button.Pressed, "#back-to-ids")
    def back_to_ids(self, event: Button.Pressed) -> None:
        """Step 6 comes right before this one (Welcome, for a saved set-up tested again):
        the flow loop's Back is "Back to IDs"."""
        event.stop()
        self.action_back()
