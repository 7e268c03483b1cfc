"""What the test steps (7 positive, 8 negative) share: a live row per check and an explained
failure (the connection settings and credential come from wizard.session)."""

from __future__ import annotations

import time
from pathlib import PurePath
from typing import TYPE_CHECKING, ClassVar

from textual import on
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, Vertical
from textual.reactive import reactive
from textual.widgets import Button, Static

from screens.base import RESULTS_STYLESHEET, STYLESHEET, StepScreen
from wizard.session import wizard_fix
from wizard.shown import shown
from wizard.signin.plan import format_seconds

if TYPE_CHECKING:
    from textual.timer import Timer

    from wizard.signin.catalogue import Explanation

ICONS = {
    "pending": "·",
    "running": "…",
    "ok": "✓",
    "warn": "!",
    "fail": "✗",
    "skipped": "–",
}


# What a running check waits for, said once it has waited LIVE_AFTER seconds (by key: the
# positive checks, then the negative probes).
WAITING_FOR = {
    "preflight": "the certificate and key to be read",
    "discovery": "the tenant's sign-in settings (discovery)",
    "token": "the sign-in service to answer the token request",
    "claims": "the token to be read",
    "graph": "Microsoft Graph to answer",
}
WAITING_FOR_A_PROBE = "the sign-in service to answer this request"
LIVE_AFTER = 1.0  # seconds: shorter waits need no counter
LIVE_EVERY = 0.2  # seconds between two updates of the counter


def live_seconds(seconds: float) -> str:
    """A running check's time so far, e.g. "3.4 s"."""
    return f"{seconds:.1f} s"


class CheckRow(Vertical):
    """One check of a test, live: status icon, title, time, and a detail line beneath.

    The status is a CSS class (-pending, -running, -ok, -warn, -fail, -skipped) so the
    stylesheet colours it from the theme.
    """

    def __init__(self, key: str, title: str, *, detail: str = "") -> None:
        super().__init__(id=f"check-{key}", classes="-pending")
        self.key = key
        self.title = title
        self.status = "pending"
        self._detail = detail
        self.running_since: float | None = None  # time.monotonic() when it started running
        self.running_detail = ""  # what the engine said while running (a retry, a wait)
        self._ticker: Timer | None = None

    def compose(self) -> ComposeResult:
        with Horizontal(classes="check-line"):
            yield Static(ICONS["pending"], classes="check-icon", markup=False)
            yield Static(self.title, classes="check-title", markup=False)
            yield Static("", classes="check-time", markup=False)
        yield Static(self._detail, classes="check-detail", markup=False)

    def show(self, status: str, *, detail: str = "", seconds: float | None = None) -> None:
        """Show the check's new state (status: a CheckStatus value); the title stays as planned."""
        self.remove_class(f"-{self.status}")
        self.status = status
        self.add_class(f"-{status}")
        self.query_one(".check-icon", Static).update(ICONS.get(status, "?"))
        if status == "running":
            # Live from here on: the elapsed time counts, and what it waits for is said.
            if self.running_since is None:
                self.running_since = time.monotonic() - (seconds or 0.0)
                self._ticker = self.set_interval(LIVE_EVERY, self.tick)
            self.running_detail = detail
            self.tick()
            return
        self.stop_ticking()
        self.query_one(".check-time", Static).update(format_seconds(seconds, below_one_ms="<1 ms"))
        self.set_detail(detail)

    def set_detail(self, detail: str) -> None:
        detail_line = self.query_one(".check-detail", Static)
        detail_line.update(shown(detail, multiline=True))
        detail_line.display = bool(detail)
        # The row is measured anew too: otherwise it can keep the height it had with the
        # previous detail (one line where the final detail needs two). Again once the new
        # text is drawn: a row changed just as the screen (re)styles itself can otherwise be
        # measured with the width it had before.
        self.refresh(layout=True)
        self.call_after_refresh(self.remeasure)

    def remeasure(self) -> None:
        self.refresh(layout=True)
        if self.parent is not None:
            self.parent.refresh(layout=True)

    def tick(self) -> None:
        """While running: the time so far and, after a second, what the check waits for."""
        if self.running_since is None:
            return
        elapsed = time.monotonic() - self.running_since
        live = elapsed >= LIVE_AFTER
        self.query_one(".check-time", Static).update(live_seconds(elapsed) if live else "")
        waiting = f"Waiting for {WAITING_FOR.get(self.key, WAITING_FOR_A_PROBE)}…"
        self.set_detail(self.running_detail or (waiting if live else ""))

    def stop_ticking(self) -> None:
        if self._ticker is not None:
            self._ticker.stop()
        self._ticker = None
        self.running_since = None


class Explained(Vertical):
    """A catalogue explanation: title, why it happened, what to do, and the service's words."""

    def __init__(self, *, id: str | None = None) -> None:
        super().__init__(id=id)
        self.explanation: Explanation | None = None

    def compose(self) -> ComposeResult:
        yield Static("", classes="explained-title", markup=False)
        yield Static("", classes="explained-cause", markup=False)
        yield Static("", classes="explained-fix", markup=False)
        yield Static("", classes="explained-link", markup=False)
        yield Static("", classes="explained-service", markup=False)

    def on_mount(self) -> None:
        self.explain(self.explanation)

    def explain(self, explanation: Explanation | None, *, warning: bool = False) -> None:
        """Show `explanation` (None hides the panel). `warning`: not a failure, a caution."""
        self.explanation = explanation
        self.display = explanation is not None
        self.set_class(warning, "-warning")
        if explanation is None or not self.is_mounted:
            return
        lines = {
            ".explained-title": (
                f"{'!' if warning else '✗'} {explanation.title} ({explanation.code})"
            ),
            ".explained-cause": f"Why: {explanation.cause}",
            ".explained-fix": f"Fix: {wizard_fix(explanation)}",
            ".explained-link": f"More: {explanation.link}" if explanation.link else "",
            ".explained-service": (
                f"The service said: {explanation.service_text}" if explanation.service_text else ""
            ),
        }
        for selector, text in lines.items():
            line = self.query_one(selector, Static)
            line.update(shown(text, multiline=True))  # server words are outside text
            line.display = bool(text)


def user_error_explanation(error: Exception) -> Explanation:
    """A catalogue-style explanation for anything raised before the test could start."""
    from wizard.errors import UserError
    from wizard.session import wizard_hint
    from wizard.signin.catalogue import Explanation, KeyLoadError, explain_exception

    if isinstance(error, KeyLoadError):
        return error.explanation
    if isinstance(error, UserError):
        return Explanation(
            code="INPUT",
            title="The test could not start",
            cause=error.message,
            fix=wizard_hint(error, "Go back a step and check the answers."),
        )
    return explain_exception(error)


class LiveTestScreen(StepScreen):
    """A test step (7 positive, 8 negative): the test starts as the step opens, its rows fill
    in live, and Retry ("r" or the #retry button) starts it again once it has ended short of a
    pass."""

    CSS_PATH: ClassVar[list[str | PurePath]] = [STYLESHEET, RESULTS_STYLESHEET]
    BINDINGS: ClassVar[list[BindingType]] = [
        Binding("r", "retry", "Retry"),
    ]

    running: reactive[bool] = reactive(False, bindings=True)
    """Whether the test is running now (Retry waits for it)."""

    def on_mount(self) -> None:
        super().on_mount()
        self.start_test()

    def start_test(self) -> None:
        """(Re)start the test: rows pending, the outcome cleared, Next waits."""
        raise NotImplementedError

    def passed(self) -> bool:
        """Whether the last run passed (nothing left to retry)."""
        raise NotImplementedError

    def show_verdict(self, text: str, style: str) -> None:
        """The verdict line, coloured by `style` (success, warning, error, muted or "")."""
        line = self.query_one("#verdict", Static)
        line.update(shown(text, multiline=True))
        for name in ("success", "warning", "error", "muted"):
            line.set_class(name == style, name)

    def check_action(self, action: str, parameters: tuple[object, ...]) -> bool | None:
        if action == "retry":
            return not self.running and not self.passed()
        return super().check_action(action, parameters)

    @on(Button.Pressed, "#retry")
    def retry_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_retry()

    def action_retry(self) -> None:
        if not self.running:
            self.start_test()
