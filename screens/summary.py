"""Step 9 · Summary: the files, the thumbprint, the expiry, the saved profile, copyable code
for PowerShell, MSAL, azure-identity and az, and a markdown summary (no secret in it) written
beside the certificate. Finish ends the wizard."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import ClassVar

from rich.cells import cell_len, chop_cells
from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.content import Content
from textual.geometry import Size
from textual.message import Message
from textual.widgets import Button, Static, TabbedContent, TabPane

from screens.base import StepScreen, WizardState
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


def shown_path(path: Path | str) -> str:
    """A path as people read it: the home folder as ~ (shells and PowerShell expand it)."""
    text = str(path)
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


def utc_now() -> datetime:
    return datetime.now(timezone.utc)


def verdict_line(state: WizardState) -> tuple[str, str]:
    """(the one-line verdict of both tests, its style class)."""
    positive, negative = state.positive, state.negative
    if positive is None:
        return "The tests were not run: go back to step 7 to prove it works.", "warning"
    from wizard.signin.plan import overall_verdict

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
    AUTO_FOCUS = "#next"

    BINDINGS: ClassVar[list[BindingType]] = [
        # Wherever the focus is (unless it uses the arrows itself, like the tabs), ←/→ scroll
        # the code shown: its long lines are not wrapped.
        Binding("left", "scroll_code(-8)", "Scroll the code left", show=False),
        Binding("right", "scroll_code(8)", "Scroll the code right", show=False),
    ]

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
            if state.files is not None:
                with Horizontal(classes="fact"):
                    yield Static("Folder", classes="fact-label", markup=False)
                    yield PathText(shown_path(folder_text(state.files.folder)), id="folder",
                                   classes="fact-value")
            with Horizontal(classes="fact"):
                yield Static("Summary", classes="fact-label", markup=False)
                yield PathText("writing…", id="summary-path", classes="fact-value")
        with TabbedContent(id="snippets"):
            for key, label, _what in SNIPPET_TABS:
                with TabPane(label, id=f"tab-{key}"):
                    with Horizontal(classes="snippet-actions"):
                        yield Button("Copy", id=f"copy-{key}", compact=True)
                        yield Static("No secret in it. Long lines scroll sideways (←/→).",
                                     id=f"copied-{key}", markup=False)
                    # Code is never wrapped (a wrapped PowerShell line reads as two
                    # commands): a line wider than the panel scrolls sideways.
                    with HorizontalScroll(id=f"scroll-{key}", classes="snippet-scroll"):
                        yield Static("Preparing…", id=f"code-{key}", classes="snippet-code",
                                     markup=False)
        yield Static(self.files_text(), id="summary-files", markup=False)

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
        lines = ["Files, in the folder above:"]
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
        self.query_one("#summary-path", PathText).update(self.summary_text(event))
        self.snippet_texts = dict(event.snippets)
        for key, _label, _what in SNIPPET_TABS:
            text = event.snippets.get(key, "")
            code = self.query_one(f"#code-{key}", Static)
            code.update(text.rstrip("\n") or "(no snippet: no certificate was made)")
            self.query_one(f"#copy-{key}", Button).disabled = not text

    def summary_text(self, event: SummaryWritten) -> str:
        """The summary's file name when it sits in the folder shown above, else its path."""
        path = event.summary_path
        if path is None:
            return f"not written: {event.problem or 'no certificate'}"
        files = self.state.files
        if files is not None and path.parent == files.folder:
            return f"{path.name} (in the folder above)"
        return shown_path(path)

    def action_scroll_code(self, cells: int) -> None:
        """Scroll the code of the snippet tab shown sideways."""
        key = (self.query_one(TabbedContent).active or "").removeprefix("tab-")
        for scroll in self.query(f"#scroll-{key}").results(HorizontalScroll):
            scroll.scroll_relative(x=cells, animate=False)

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


def folder_text(folder: Path) -> str:
    """A folder written as one, with its trailing separator."""
    return f"{folder}{os.sep}"


def save_and_summarize(state: WizardState) -> SummaryWritten:
    """Save the profile with the final verdict (when the positive test passed), write the
    markdown summary beside the certificate, and build the snippets. Plain I/O, no widgets."""
    from wizard.errors import UserError
    from wizard.profiles import Profile, profile_from_state, record_test_result, save_profile
    from wizard.signin.plan import overall_verdict
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
        host = state.demo_info.authority_host if state.demo_info is not None else None
        path = write_summary(profile, positive=state.positive, negative=state.negative,
                             demo_authority_host=host if profile.demo else None)
    except (UserError, OSError) as error:
        problems.append(f"the summary was not written: {error}")
    return SummaryWritten(saved_name, path, snippets(profile), "; ".join(problems) or None)
