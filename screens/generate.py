"""Step 3 · Generate: the key and certificate made in a thread worker, then the files listed
with their permissions and what each one is for."""

from __future__ import annotations

import stat
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.widgets import Button, Static

from screens.base import StepScreen
from screens.widgets import PathText, shown_path
from wizard.session import WizardState
from wizard.shown import shown

if TYPE_CHECKING:
    from textual.timer import Timer

    from wizard.resume import ExistingSet
    from wizard.storage import CertificateFiles


@dataclass
class StageStarted(Message):
    """The worker began one stage (the previous one is done)."""

    text: str


@dataclass
class CertificateWritten(Message):
    files: CertificateFiles
    thumbprint_sha1: str
    not_after: datetime
    backup_folder: Path | None
    warnings: list[str]


@dataclass
class ExistingChecked(Message):
    """The check of the set found in the folder: usable as it is, or why not."""

    verdict: ExistingSet | str


@dataclass
class GenerationFailed(Message):
    message: str
    hint: str  # in the wizard's words (wizard.session.wizard_hint)


def target_folder(state: WizardState) -> Path:
    """Where the certificate's files go: <output folder>/<file stem of the name>/."""
    from wizard.names import file_stem_for
    from wizard.paths import default_cert_root

    return (state.out_dir or default_cert_root()) / file_stem_for(state.name)


def folder_in_use(folder: Path) -> bool:
    return folder.is_dir() and any(folder.iterdir())


def file_purposes(files: CertificateFiles) -> list[tuple[Path, str]]:
    """Each file written and who it is for."""
    listing = [
        (files.cer, "upload this one to the portal (public)"),
        (files.pem, "the certificate as text, for scripts (public)"),
        (files.key, "private key for scripts on this server: keep private"),
    ]
    if files.pfx is not None:
        listing.append((files.pfx, "key + certificate for Windows/PowerShell import: private"))
    return listing


def permissions(path: Path) -> str:
    """ls-style mode, e.g. -rw-------, or a dash line when the file cannot be read."""
    try:
        return stat.filemode(path.stat().st_mode)
    except OSError:
        return "?---------"


class GenerateScreen(StepScreen):
    """Make the key and certificate (Next waits until the files are written)."""

    STEP = 3
    TITLE = "Generate"
    HELP_FILE = "generate"
    ENTER_LABELS: ClassVar[Mapping[str, str]] = {
        "use-existing": "Use it", "rename": "Back", "replace": "Replace"
    }

    def __init__(self, state: WizardState) -> None:
        super().__init__(state)
        self.stages: list[str] = []
        self.remade_because = ""  # why the certificate made earlier in this run was replaced
        self.stage_since: float | None = None  # time.monotonic() when the running stage began
        self.ticker: Timer | None = None
        self.existing: ExistingSet | None = None  # the set made earlier, checked usable

    def compose_body(self) -> ComposeResult:
        state = self.state
        passphrase = "with a passphrase" if state.passphrase else "WITHOUT a passphrase"
        yield Static(
            f"{state.name} · {state.days} days · RSA {state.key_size} · key {passphrase}",
            id="generate-summary", classes="lead", markup=False,
        )
        yield Static("", id="stages", markup=False)
        yield Static("", id="exists-verdict", markup=False, classes="hidden")
        # On a row of its own: beside Back and Replace it would not fit 80 columns.
        yield Button("Use this certificate (continue where you left off)",
                     id="use-existing", variant="primary", compact=True, classes="hidden")
        with Horizontal(id="exists-choice", classes="hidden"):
            yield Button("Back: choose another name", id="rename", compact=True)
            yield Button("Replace it (old files backed up first)", id="replace",
                         variant="warning", compact=True)
        yield PathText("", id="files-folder")  # broken at separators, never mid-name
        yield Static("", id="files", markup=False)
        yield Static("", id="generate-notes", classes="muted", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        folder = target_folder(self.state)
        files = self.state.files
        changed = self.state.options_changed()
        if files is not None and files.folder == folder and files.cer.exists() and changed:
            # Back, then other options: the files on disk must follow what the screen shows.
            self.remade_because = (
                f"Changed since the certificate was made: {', '.join(changed)}. A new "
                "certificate was made; upload this one instead."
            )
            self.start(force=True)
        elif files is not None and files.folder == folder and files.cer.exists():
            # Made earlier in this run (Back, then Next again): show the same stages and files.
            self.stages = list(self.state.generation_stages)
            self.show_stages(running=False)
            self.show_files(files, None, [])
        elif folder_in_use(folder):
            self.ready = False
            self.query_one("#stages", Static).update(
                f"A certificate named {self.state.name!r} already exists in\n{folder}\n"
                "Go back and choose another name, or replace it: the old files are moved "
                "to a backup folder first, nothing is deleted."
            )
            self.query_one("#exists-choice").remove_class("hidden")
            self.query_one("#rename", Button).focus()
            self.check_existing(folder)
        else:
            self.start(force=False)

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def check_existing(self, folder: Path) -> None:
        """Can the set made in an earlier run be used as it is? (It decrypts the key: a worker.)"""
        from wizard.resume import check_existing_set

        state = self.state
        self.post_message(ExistingChecked(check_existing_set(folder, state.name, state.passphrase)))

    @on(ExistingChecked)
    def existing_checked(self, event: ExistingChecked) -> None:
        from wizard.resume import ExistingSet
        from wizard.session import expiry_text

        if self.query_one("#exists-choice").has_class("hidden"):
            return  # replaced meanwhile
        verdict = self.query_one("#exists-verdict", Static)
        verdict.remove_class("hidden")
        if isinstance(event.verdict, ExistingSet):
            self.existing = event.verdict
            verdict.update(  # the thumbprint on a line of its own: never wrapped
                "It is a complete set made earlier, which you can use to continue where you "
                "left off (no new upload if it was uploaded already).\n"
                f"Thumbprint {event.verdict.thumbprint_sha1}\n"
                f"Expires    {expiry_text(event.verdict.not_after)}"
            )
            use = self.query_one("#use-existing", Button)
            use.remove_class("hidden")
            if not self.query_one("#replace", Button).has_focus:
                self.call_after_refresh(use.focus)  # once shown: a hidden button takes no focus
        else:
            verdict.update(f"It cannot be used as it is. {shown(event.verdict, multiline=True)}")

    @on(Button.Pressed, "#use-existing")
    async def use_existing(self, event: Button.Pressed) -> None:
        from wizard.resume import use_existing_set

        event.stop()
        if self.existing is None:
            return
        use_existing_set(self.state, self.existing)
        event.button.add_class("hidden")
        self.query_one("#exists-choice").add_class("hidden")
        self.query_one("#exists-verdict", Static).add_class("hidden")
        self.stages = list(self.state.generation_stages)
        self.show_stages(running=False)
        self.show_files(self.existing.files, None, [])
        await self.action_next()

    @on(Button.Pressed, "#rename")
    def rename(self, event: Button.Pressed) -> None:
        event.stop()
        self.action_back()

    @on(Button.Pressed, "#replace")
    def replace(self, event: Button.Pressed) -> None:
        event.stop()
        self.query_one("#exists-choice").add_class("hidden")
        self.query_one("#exists-verdict", Static).add_class("hidden")
        self.query_one("#use-existing").add_class("hidden")
        self.start(force=True)

    def start(self, *, force: bool) -> None:
        self.ready = False
        self.stages = []
        self.state.files = None
        self.generate(force)

    @work(thread=True, exclusive=True, exit_on_error=False, group="generate")
    def generate(self, force: bool) -> None:
        from wizard import certs, storage
        from wizard.errors import UserError
        from wizard.session import wizard_hint

        state = self.state
        try:
            self.post_message(
                StageStarted(f"Making the RSA {state.key_size}-bit key and the certificate")
            )
            generated = certs.generate_certificate(
                state.name, days=state.days, key_size=state.key_size
            )
            if self.cancel_event.is_set():
                return  # the user left: nothing written
            result = storage.write_certificate_set(
                generated,
                state.name,
                out_root=state.out_dir,
                passphrase=state.passphrase,
                force=force,
                on_stage=self.report_stage,
            )
        except UserError as error:
            self.post_message(
                GenerationFailed(error.message, wizard_hint(error, "Go back to change it."))
            )
            return
        self.post_message(
            CertificateWritten(
                files=result.files,
                thumbprint_sha1=certs.thumbprint_sha1(generated.certificate),
                not_after=certs.not_valid_after(generated.certificate),
                backup_folder=result.backup_folder,
                warnings=list(result.warnings),
            )
        )

    def report_stage(self, text: str) -> None:
        """Called by the storage engine in the worker thread."""
        self.post_message(StageStarted(text))

    @on(StageStarted)
    def stage_started(self, event: StageStarted) -> None:
        self.stages.append(event.text)
        self.stage_since = time.monotonic()
        if self.ticker is None:
            # A big key takes seconds: the running stage counts them (from the first second).
            self.ticker = self.set_interval(0.2, lambda: self.show_stages(running=True))
        self.show_stages(running=True)

    def show_stages(self, *, running: bool) -> None:
        lines = [f"✓ {text}" for text in self.stages[:-1]]
        if self.stages:
            elapsed = time.monotonic() - self.stage_since if self.stage_since else 0.0
            counter = f" ({elapsed:.1f} s)" if running and elapsed >= 1.0 else ""
            lines.append(f"{'…' if running else '✓'} {self.stages[-1]}{counter}")
        self.query_one("#stages", Static).update("\n".join(lines))

    @on(CertificateWritten)
    def written(self, event: CertificateWritten) -> None:
        self.state.certificate_made(
            event.files, event.thumbprint_sha1, event.not_after, tuple(self.stages)
        )
        self.stop_ticking()
        self.show_stages(running=False)
        self.show_files(event.files, event.backup_folder, event.warnings)

    def show_files(self, files: CertificateFiles, backup: Path | None, warnings: list[str]) -> None:
        self.query_one("#files-folder", PathText).update(f"Written to {shown_path(files.folder)}")
        lines = [""]
        for path, purpose in file_purposes(files):
            lines.append(f"{permissions(path)}  {path.name}")
            lines.append(f"            → {purpose}")
        self.query_one("#files", Static).update("\n".join(lines))
        notes = [self.remade_because,
                 f"The old files were moved to {backup}." if backup else ""]
        notes += [f"⚠ {warning}" for warning in warnings]
        notes.append("Next: upload the .cer to your app registration.")
        self.query_one("#generate-notes", Static).update("\n".join(n for n in notes if n))
        self.ready = True
        self.query_one("#next").focus()

    def stop_ticking(self) -> None:
        if self.ticker is not None:
            self.ticker.stop()
        self.ticker = None

    @on(GenerationFailed)
    def failed(self, event: GenerationFailed) -> None:
        self.stop_ticking()
        text = f"✗ {event.message}\n{event.hint}"
        self.query_one("#stages", Static).update(text)
        self.query_one("#stages").add_class("error")
        self.query_one("#back").focus()

    async def before_next(self) -> bool:
        return self.state.files is not None
