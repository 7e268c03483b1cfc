"""Step 9 · Summary: the files, the thumbprint, the expiry, the saved profile, copyable code
for PowerShell, MSAL, azure-identity and az, and a markdown summary (no secret in it) written
beside the certificate. Finish ends the wizard."""

from __future__ import annotations

import os
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.widgets import Button, Static, TabbedContent, TabPane

from screens.base import STYLESHEET, StepScreen, WizardState
from screens.checks import RESULTS_STYLESHEET
from screens.widgets import CopyableValue

# Tab label and what the copy says it copied, in the order the tabs show.
SNIPPET_TABS: tuple[tuple[str, str, str], ...] = (
    ("powershell", "PowerShell", "PowerShell snippet"),
    ("msal-python", "MSAL Python", "MSAL Python snippet"),
    ("azure-identity", "azure-identity", "azure-identity snippet"),
    ("az-cli", "az CLI", "az login command"),
    ("exchange-online", "Exchange", "Exchange Online snippet"),
)


@dataclass
class SummaryWritten(Message):
    """The worker saved the profile (when the test passed) and wrote the markdown summary."""

    profile_name: str | None
    summary_path: Path | None
    snippets: dict[str, str]
    problem: str | None


def fact(label: str, value: str, value_id: str) -> ComposeResult:
    """One labelled line of the facts block."""
    with Horizontal(classes="fact"):
        yield Static(label, classes="fact-label", markup=False)
        yield Static(value, id=value_id, classes="fact-value", markup=False)


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def verdict_line(state: WizardState) -> tuple[str, str]:
    """(the one-line verdict of both tests, its style class)."""
    positive, negative = state.positive, state.negative
    if positive is None:
        return "The tests were not run: go back to step 7 to prove it works.", "warning"
    from wizard.connection import overall_verdict

    verdict = overall_verdict(positive, negative)
    if verdict == "pass" and negative is not None:
        return "✓ Done: the certificate signs in, and nothing else does.", "success"
    if verdict == "pass":
        return "✓ The certificate signs in (the negative test was not run).", "success"
    if negative is not None and negative.alarm:
        return "✗ ALARM: a request without the certificate got a token (see step 8).", "error"
    if not positive.ok:
        return "✗ The positive test did not pass: the set-up is not finished.", "error"
    return "! Inconclusive: the negative test did not prove everything (see step 8).", "warning"


def expiry_text(not_after: datetime | None, now: datetime | None = None) -> str:
    """"2027-11-27 (365 days left)", or "expired" once past."""
    if not_after is None:
        return "unknown"
    days = (not_after - (now or utc_now())).days
    when = f"{not_after:%Y-%m-%d %H:%M} UTC"
    if days < 0:
        return f"{when} (expired {-days} days ago)"
    return f"{when} ({days} days left)"


class SummaryScreen(StepScreen):
    """What was set up, how to use it, and where it is written down."""

    STEP = 9
    TITLE = "Summary"
    HELP_FILE = "summary"
    NEXT_LABEL = "Finish"
    CSS_PATH = [STYLESHEET, RESULTS_STYLESHEET]  # type: ignore[assignment]  # noqa: RUF012
    AUTO_FOCUS = "#next"

    def __init__(self, state: WizardState) -> None:
        super().__init__(state)
        self.snippet_texts: dict[str, str] = {}

    def compose_body(self) -> ComposeResult:
        state = self.state
        verdict, style = verdict_line(state)
        yield Static(verdict, id="verdict", classes=f"outcome-line {style}", markup=False)
        with Vertical(id="facts"):
            yield from fact("Certificate", f"CN={state.name}", "certificate")
            yield from fact("Expires", expiry_text(state.not_after), "expiry")
            with Horizontal(classes="fact"):
                yield Static("Thumbprint", classes="fact-label", markup=False)
                yield CopyableValue(state.thumbprint_sha1, what="thumbprint", id="thumbprint")
            yield from fact("Profile", "saving…", "profile-name")
            yield from fact("Summary", "writing…", "summary-path")
        with TabbedContent(id="snippets"):
            for key, label, _what in SNIPPET_TABS:
                with TabPane(label, id=f"tab-{key}"):
                    with Horizontal(classes="snippet-actions"):
                        yield Button("Copy", id=f"copy-{key}", compact=True)
                        yield Static("No secret in it: passphrases are asked for.",
                                     id=f"copied-{key}", markup=False)
                    yield Static("Preparing…", id=f"code-{key}", classes="snippet-code",
                                 markup=False)
        yield Static(self.files_text(), id="files", markup=False)

    def files_text(self) -> str:
        files = self.state.files
        if files is None:
            return "Files: none (no certificate was made in this session)."
        rows = [
            (files.cer, "uploaded to the app registration (public)"),
            (files.pem, "the certificate for scripts (public)"),
            (files.key, "the private key: keep it here, private"),
        ]
        if files.pfx is not None:
            rows.append((files.pfx, "key + certificate for Import-PfxCertificate: private"))
        width = max(len(path.name) for path, _purpose in rows)
        lines = [f"Files, in {files.folder}{os.sep}"]
        lines += [f"  {path.name:<{width}}  {purpose}" for path, purpose in rows]
        return "\n".join(lines)

    def on_mount(self) -> None:
        super().on_mount()
        self.write_summary()

    # ---------------------------------------------------------------- writing
    @work(thread=True, exclusive=True, exit_on_error=False, group="summary")
    def write_summary(self) -> None:
        self.post_message(save_and_summarize(self.state))

    @on(SummaryWritten)
    def summary_written(self, event: SummaryWritten) -> None:
        if event.profile_name is not None:
            self.state.profile_name = event.profile_name
        self.state.summary_path = event.summary_path
        profile = (
            f'"{event.profile_name}" (entra-cert-wizard test --profile "{event.profile_name}")'
            if event.profile_name
            else "not saved (the positive test has not passed)"
        )
        self.query_one("#profile-name", Static).update(profile)
        summary = (
            str(event.summary_path)
            if event.summary_path is not None
            else f"not written: {event.problem or 'no certificate'}"
        )
        self.query_one("#summary-path", Static).update(summary)
        self.snippet_texts = dict(event.snippets)
        for key, _label, _what in SNIPPET_TABS:
            text = event.snippets.get(key, "")
            code = self.query_one(f"#code-{key}", Static)
            code.update(text.rstrip("\n") or "(no snippet: no certificate was made)")
            self.query_one(f"#copy-{key}", Button).disabled = not text

    # ---------------------------------------------------------------- copying
    @on(Button.Pressed, ".snippet-actions Button")
    def copy_snippet(self, event: Button.Pressed) -> None:
        event.stop()
        key = (event.button.id or "").removeprefix("copy-")
        text = self.snippet_texts.get(key)
        if not text:
            return
        what = next((what for k, _label, what in SNIPPET_TABS if k == key), "snippet")
        self.query_one(f"#copied-{key}", Static).update("Copying…")
        self.copy_text(text, what)

    def copied(self, text: str, what: str, outcome: str, *, system: bool) -> None:
        for key, _label, snippet_what in SNIPPET_TABS:
            if snippet_what == what:
                self.query_one(f"#copied-{key}", Static).update(
                    "✓ Copied (system clipboard)." if system else "Sent to the terminal's "
                    "clipboard (OSC 52); if pasting gives nothing, select it on screen."
                )
                return
        super().copied(text, what, outcome, system=system)


def save_and_summarize(state: WizardState) -> SummaryWritten:
    """Save the profile with the final verdict (when the positive test passed), write the
    markdown summary beside the certificate, and build the snippets. Plain I/O, no widgets."""
    from wizard.connection import overall_verdict
    from wizard.errors import UserError
    from wizard.profiles import Profile, profile_from_state, record_test_result, save_profile
    from wizard.snippets import snippets
    from wizard.summary import write_summary

    if state.files is None:
        return SummaryWritten(None, None, {}, "no certificate was made in this session")
    problems: list[str] = []
    saved_name: str | None = None
    profile: Profile
    try:
        if state.start == "test" and state.profile_name:
            # A saved set-up tested again: keep the profile as it is, record the verdict.
            verdict = overall_verdict(state.positive, state.negative) if state.positive else None
            if verdict is None:
                from wizard.profiles import get_profile

                profile = get_profile(state.profile_name)
            else:
                profile = record_test_result(state.profile_name, verdict)
            saved_name = profile.name
        else:
            profile = profile_from_state(state)
            if state.positive is not None and state.positive.ok:
                try:
                    save_profile(profile)
                    saved_name = profile.name
                except UserError as error:
                    problems.append(f"the profile was not saved: {error.message}")
    except (UserError, OSError, ValueError) as error:
        return SummaryWritten(None, None, {}, str(error))
    path: Path | None = None
    try:
        path = write_summary(profile, positive=state.positive, negative=state.negative)
    except (UserError, OSError) as error:
        problems.append(f"the summary was not written: {error}")
    return SummaryWritten(saved_name, path, snippets(profile), "; ".join(problems) or None)
