"""Step 8 · Negative test: the same app without the certificate must be refused. Three probes,
live; ✓ = refused. A probe that gets a token raises the alarm screen."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static

from screens.alarm import AlarmScreen
from screens.checks import (
    CheckRow,
    Explained,
    LiveTestScreen,
    user_error_explanation,
)
from wizard.session import connection_settings, load_credential
from wizard.signin.plan import NEGATIVE_PROBES

if TYPE_CHECKING:
    from wizard.signin.catalogue import Explanation
    from wizard.signin.plan import NegativeResult, ProbeResult


@dataclass
class ProbeChanged(Message):
    """The worker reports one probe (a copy)."""

    probe: ProbeResult


@dataclass
class NegativeFinished(Message):
    result: NegativeResult


@dataclass
class NegativeCouldNotStart(Message):
    explanation: Explanation


def probe_line(probe: ProbeResult) -> tuple[str, str]:
    """(status for the row, the one line under it) for a finished or running probe."""
    if probe.alarm:
        return "fail", f"GOT A TOKEN: this request must be refused. {probe.proves}"
    if probe.passed:
        code = f" ({probe.observed_code})" if probe.observed_code else ""
        return "ok", f"Refused{code}. {probe.proves}"
    if probe.status.value in ("pending", "running"):
        return probe.status.value, probe.proves
    if probe.status.value == "skipped":
        return "skipped", probe.detail or "Cancelled."
    return "warn", f"Inconclusive: {probe.detail}"


class NegativeScreen(LiveTestScreen):
    """Run the three probes as soon as the step opens; Next once they have answered."""

    STEP = 8
    TITLE = "Negative test: nothing else gets in"
    HELP_FILE = "negative"
    AUTO_FOCUS = "#next"

    def compose_body(self) -> ComposeResult:
        yield Static(
            "Without the certificate, the same app must be refused (✓ = refused).",
            classes="lead",
            markup=False,
        )
        with Vertical(classes="check-list", id="probes"):
            for probe in NEGATIVE_PROBES:
                yield CheckRow(probe.key, probe.title, detail=probe.proves)
        yield Static("", id="verdict", classes="outcome-line outcome", markup=False)
        with Horizontal(classes="test-actions", id="retry-actions"):
            yield Button("Test again", id="retry", variant="primary", compact=True)
            yield Button("Back to the positive test", id="back-to-positive", compact=True)
        yield Explained(id="explanation")

    # ---------------------------------------------------------------- running
    def start_test(self) -> None:
        self.state.negative = None
        self.ready = False
        self.running = True
        for probe in NEGATIVE_PROBES:
            for row in self.query(f"#check-{probe.key}").results(CheckRow):
                row.show("pending", detail=probe.proves)
        self.show_verdict("Testing…", "muted")
        self.query_one(Explained).explain(None)
        self.query_one("#retry-actions").display = False
        self.run_probes()

    @work(thread=True, exclusive=True, exit_on_error=False, group="negative")
    def run_probes(self) -> None:
        from wizard.signin.negative import run_negative

        try:
            settings = connection_settings(self.state)
            credential = load_credential(self.state)
        except Exception as error:  # explained on screen, never a traceback
            self.post_message(NegativeCouldNotStart(user_error_explanation(error)))
            return
        result = run_negative(
            settings,
            credential,
            on_update=self.report_probe,
            cancel=self.cancel_event,
        )
        self.post_message(NegativeFinished(result))

    def report_probe(self, probe: ProbeResult) -> None:
        """Called by the engine in the worker thread: hand the probe to the UI thread."""
        self.post_message(ProbeChanged(probe))

    # ---------------------------------------------------------------- results
    @on(ProbeChanged)
    def probe_changed(self, event: ProbeChanged) -> None:
        probe = event.probe
        status, line = probe_line(probe)
        for row in self.query(f"#check-{probe.key}").results(CheckRow):
            row.show(status, detail=line, seconds=probe.seconds)

    @on(NegativeCouldNotStart)
    def could_not_start(self, event: NegativeCouldNotStart) -> None:
        self.running = False
        for row in self.query(CheckRow):
            row.show("skipped")
        self.show_verdict("✗ The negative test could not start.", "error")
        self.query_one(Explained).explain(event.explanation)
        self.query_one("#retry-actions").display = True
        self.query_one("#retry", Button).focus()

    @on(NegativeFinished)
    def finished(self, event: NegativeFinished) -> None:
        result = event.result
        self.state.negative = result  # before `running`: the footer's Retry looks at both
        self.running = False
        if result.cancelled:
            self.show_verdict("Cancelled.", "muted")
            self.query_one("#retry-actions").display = True
            return
        self.ready = True
        if result.verdict == "pass":
            self.show_verdict(
                "✓ All three were refused: only the certificate (with its private key) gets in.",
                "success",
            )
            self.query_one("#next", Button).focus()
            return
        self.query_one("#retry-actions").display = True
        if result.alarm:
            self.show_verdict(
                "✗ ALARM: a request without the certificate got a token.", "error"
            )
            from wizard.signin.catalogue import NEGATIVE_ALARM

            self.query_one(Explained).explain(NEGATIVE_ALARM)
            self.bring_up_verdict()
            self.app.push_screen(AlarmScreen(result), self.alarm_closed)
            return
        self.show_verdict(
            "! Inconclusive: nothing got a token, but not every probe proved something.",
            "warning",
        )
        unproven = next((p for p in result.probes if not p.passed), None)
        from wizard.signin.catalogue import PROBE_UNRELATED

        explanation = unproven.explanation if unproven and unproven.explanation else None
        self.query_one(Explained).explain(explanation or PROBE_UNRELATED, warning=True)
        self.query_one("#retry", Button).focus()
        self.bring_up_verdict()

    def bring_up_verdict(self) -> None:
        """Scroll the verdict and its explanation into view (they matter more than the rows)."""
        self.call_after_refresh(self.query_one("#verdict").scroll_visible, animate=False, top=True)

    def alarm_closed(self, choice: str | None) -> None:
        if choice == "retry":
            self.action_retry()
        else:
            self.query_one("#retry", Button).focus()

    # ---------------------------------------------------------------- actions
    def passed(self) -> bool:
        """All three were refused: nothing to retry."""
        negative = self.state.negative
        return negative is not None and negative.verdict == "pass"

    @on(Button.Pressed, "#back-to-positive")
    def back_pressed(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_back()
