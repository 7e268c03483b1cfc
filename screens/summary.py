"""Step 9 · Summary: the files, the thumbprint, the expiry, the saved profile, copyable code
for PowerShell, MSAL, azure-identity and az, and a markdown summary (no secret in it) written
beside the certificate. Finish ends the wizard."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path, PurePath
from typing import ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.binding import Binding, BindingType
from textual.containers import Horizontal, HorizontalScroll, Vertical
from textual.message import Message
from textual.widgets import Button, Static, TabbedContent, TabPane

from screens.base import RESULTS_STYLESHEET, STYLESHEET, StepScreen
from screens.widgets import CopyableValue, PathText, shown_path
from wizard.session import Summary, WizardState, expiry_text, summarize, verdict_line
from wizard.shown import shown

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
    """The worker recorded the verdict in the profile and wrote the markdown summary."""

    summary: Summary


def fact(label: str, value: str, value_id: str) -> ComposeResult:
    """One labelled line of the facts block."""
    with Horizontal(classes="fact"):
        yield Static(label, classes="fact-label", markup=False)
        yield Static(shown(value), id=value_id, classes="fact-value", markup=False)


class SummaryScreen(StepScreen):
    """What was set up, how to use it, and where it is written down."""

    STEP = 9
    TITLE = "Summary"
    HELP_FILE = "summary"
    NEXT_LABEL = "Finish"
    AUTO_FOCUS = "#next"
    CSS_PATH: ClassVar[list[str | PurePath]] = [STYLESHEET, RESULTS_STYLESHEET]

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
        yield Static(shown(self.files_text(), multiline=True), id="summary-files", markup=False)

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
        self.post_message(SummaryWritten(summarize(self.state)))

    @on(SummaryWritten)
    def summary_written(self, event: SummaryWritten) -> None:
        summary = event.summary
        if summary.profile_name is not None:
            self.state.profile_name = summary.profile_name
        self.state.summary_path = summary.summary_path
        profile = (
            f'"{summary.profile_name}" (entra-cert-wizard test --profile "{summary.profile_name}")'
            if summary.profile_name
            else "not saved (the positive test has not passed)"
        )
        self.query_one("#profile-name", Static).update(shown(profile))
        self.query_one("#summary-path", PathText).update(self.summary_text(summary))
        self.snippet_texts = dict(summary.snippets)
        for key, _label, _what in SNIPPET_TABS:
            text = summary.snippets.get(key, "")
            code = self.query_one(f"#code-{key}", Static)
            code.update(shown(text.rstrip("\n"), multiline=True) or "(no snippet: no certificate was made)")
            self.query_one(f"#copy-{key}", Button).disabled = not text

    def summary_text(self, summary: Summary) -> str:
        """The summary's file name when it sits in the folder shown above, else its path."""
        path = summary.summary_path
        if path is None:
            return f"not written: {summary.problem or 'no certificate'}"
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
