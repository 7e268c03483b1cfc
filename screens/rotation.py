"""Renew a saved set-up: the rotation's stages in one screen, resumable at any stage.

The screen shows where the rotation stands (from the profile), explains the stage at hand,
asks only what that stage needs (a passphrase for the new key, the old key's passphrase for
the proof), and runs it in a thread worker with `wizard.rotation.runner`, the runner that
`entra-cert-wizard rotate` drives too. Leaving is always safe: the profile records the next
stage, and the wizard or `entra-cert-wizard rotate` resumes it. On screen a stage is called a
"step", as the user reads it everywhere else.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from screens.base import Nav, StepScreen, too_small_notice
from screens.widgets import Field, StepIndicator, StepInput, TickBox
from wizard.profiles import Profile, get_profile
from wizard.rotation.access import TenantAccess, key_is_encrypted, portal_for, started_tenant
from wizard.rotation.progress import next_stage, stage_done, switch_diff
from wizard.rotation.runner import RotationCallbacks, StageOutcome, run_stage
from wizard.rotation.stages import ROTATION_DONE, STAGES, KeyRole, stage_number, stage_title
from wizard.rotation.work import (
    OLD_KEY_REFUSED_CODE,
    RotationTestOutcome,
    removal_instructions,
    upload_instructions,
)
from wizard.session import WizardState, renew_hint, wizard_fix
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.signin.plan import Check, ProbeResult
    from wizard.signin.settings import Credential

BUTTON_LABELS_DEMO = {
    "generate": "Generate",
    "upload": "Upload to the demo tenant",
    "test": "Run the tests",
    "switch": "My script uses the new one",
    "retire": "Remove the old one and prove it",
    "archive": "Archive and finish",
    ROTATION_DONE: "Close",
}
BUTTON_LABELS_REAL = {
    **BUTTON_LABELS_DEMO,
    "upload": "I have uploaded it",
    "retire": "I removed it: prove it",
}
VERDICT_LINES = {
    "pass": "Both tests passed: the new certificate works and nothing else does.",
    "fail": "The tests failed: see above. Fix it, then run them again.",
    "inconclusive": "Inconclusive: the service was not reached, or a probe proved nothing. "
    "Run the tests again.",
}


@dataclass
class RotationProgress(Message):
    """A line of progress from the worker (a check of the test, a probe)."""

    text: str


@dataclass
class RotationStageFinished(Message):
    """The worker finished a stage: `ok` False keeps the stage open with `report` beside it."""

    stage: str
    profile: Profile
    ok: bool
    report: str


class RotationScreen(StepScreen):
    """Rotation of one saved profile: generate, upload, test, switch, retire (proven), archive."""

    STEP: ClassVar[int] = 1
    TITLE: ClassVar[str] = "Renew the certificate"
    HELP_FILE: ClassVar[str] = "rotation"
    NEXT_LABEL: ClassVar[str] = "Next"

    def __init__(self, state: WizardState, profile_name: str) -> None:
        super().__init__(state)
        self.profile = get_profile(profile_name)
        self.new_passphrase: bytes | None = None
        self.finished = False
        self.work_cancel = threading.Event()

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield StepIndicator(1, len(STAGES), self.TITLE, id="step-indicator")
        yield too_small_notice()
        with VerticalScroll(id="body"):
            yield from self.compose_body()
        with Horizontal(id="step-buttons"):
            yield Button("Leave", id="back", compact=True)
            yield Button(self.NEXT_LABEL, id="next", variant="primary", compact=True)
        yield Footer()

    def compose_body(self) -> ComposeResult:
        yield Static("", id="rotation-checklist", markup=False)
        yield Static("", id="rotation-explain", classes="lead", markup=False)
        yield Field(
            "New passphrase",
            StepInput(password=True, id="new-pass", compact=True),
            hint="Protects the new key and its .pfx (kept in memory only).",
            id="new-pass-field",
        )
        yield Field(
            "Confirm",
            StepInput(password=True, id="new-pass-confirm", compact=True),
            id="new-pass-confirm-field",
        )
        yield TickBox(
            "No passphrase (file permissions only, no .pfx)", id="no-passphrase", compact=True
        )
        yield Field(
            "Old passphrase",
            StepInput(password=True, id="old-pass", compact=True),
            hint="The OLD key's passphrase: its refusal is proven by signing with it.",
            id="old-pass-field",
        )
        yield Static("", id="rotation-detail", markup=False)
        yield Static("", id="rotation-status", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.show_stage()

    # ------------------------------------------------------------------ state
    @property
    def stage(self) -> str:
        """The stage at hand; "done" once this screen archived the old files."""
        return ROTATION_DONE if self.finished else next_stage(self.profile)

    def needs_new_passphrase_input(self) -> bool:
        """The new key's passphrase is asked when generating, or when testing after a resume."""
        if self.stage == "generate":
            return True
        state = self.profile.rotation
        return (
            self.stage == "test"
            and self.new_passphrase is None
            and state is not None
            and key_is_encrypted(state.new_key_path)
        )

    def needs_old_passphrase_input(self) -> bool:
        state = self.profile.rotation
        if self.stage != "retire" or state is None:
            return False
        return key_is_encrypted(state.old_key_path or self.profile.key_path)

    def show_stage(self) -> None:
        """Redraw the checklist, the explanation, the fields and the Next label for the stage."""
        step = self.stage
        title = stage_title(step, finished="Finished")
        indicator = self.query_one("#step-indicator", StepIndicator)
        if step == ROTATION_DONE:
            indicator.update(f"Renew {shown(self.profile.name)} · done")
        else:
            indicator.update(
                f"Renew {shown(self.profile.name)} · Step {stage_number(step)} of {len(STAGES)} · {title}"
            )
        lines = []
        for index, each in enumerate(STAGES, start=1):
            mark = (
                "✓"
                if stage_done(self.profile, each.name) or step == ROTATION_DONE
                else ("▶" if each.name == step else "·")
            )
            lines.append(f"{mark} {index}. {each.title}")
        self.query_one("#rotation-checklist", Static).update("\n".join(lines))
        self.query_one("#rotation-explain", Static).update(shown(self.explanation(step), multiline=True))
        generate = step == "generate"
        new_pass = self.needs_new_passphrase_input()
        no_passphrase = self.query_one("#no-passphrase", Checkbox)
        new_field = self.query_one("#new-pass-field", Field)
        new_field.set_class(not new_pass, "hidden")
        new_field.query_one(".field-label", Label).update(
            "New passphrase" if generate else "New key passphrase"
        )
        new_field.query_one(".field-hint", Static).update(
            "Protects the new key and its .pfx (kept in memory only)."
            if generate
            else "Opens the new key for the test (kept in memory only)."
        )
        self.query_one("#new-pass-confirm-field", Field).set_class(
            not generate or no_passphrase.value, "hidden"
        )
        no_passphrase.set_class(not generate, "hidden")
        self.query_one("#old-pass-field", Field).set_class(
            not self.needs_old_passphrase_input(), "hidden"
        )
        if step == "switch":
            self.query_one("#rotation-detail", Static).update(shown(switch_diff(self.profile), multiline=True))
        labels = BUTTON_LABELS_DEMO if self.profile.demo else BUTTON_LABELS_REAL
        next_button = self.query_one("#next", Button)
        next_button.label = labels.get(step, "Next")
        next_button.refresh(layout=True)  # the label's length changes the button's width
        self.query_one("#back", Button).display = step != ROTATION_DONE

    def explanation(self, step: str) -> str:
        """What the stage `step` does, in the user's words (a stage is a \"step\" on screen)."""
        profile = self.profile
        if step == "generate":
            return (
                "A new key and certificate for the same app "
                f"(CN={profile.certificate_name or profile.name}), in a new folder beside the old "
                f"one. The old certificate ({profile.thumbprint_sha1}, "
                f"{profile.days_left()} days left) keeps working until step {stage_number('retire')}."
            )
        if step == "upload":
            if profile.demo:
                return (
                    "Upload the new .cer to the demo tenant's app, beside the old one: both work "
                    "until the old one is removed."
                )
            return "In the portal, upload the new .cer beside the old one:\n" + "\n".join(
                upload_instructions(profile)
            )
        if step == "test":
            return (
                "Positive test with the new certificate (it was just uploaded: a key-not-found "
                "answer is retried for up to a minute), then the negative test."
            )
        if step == "switch":
            return (
                "Change your script to the new files and thumbprint. These are the lines that "
                "change (- old, + new); both certificates work until the next step."
            )
        if step == "retire":
            lead = (
                "The old certificate is removed from the demo tenant's app"
                if profile.demo
                else "In the portal, remove the OLD certificate:\n"
                + "\n".join(removal_instructions(profile))
                + "\nThen it"
            )
            return (
                f"{lead}{' and it' if profile.demo else ''} is proven dead: a token request "
                f"signed with the old key must be refused with {OLD_KEY_REFUSED_CODE}."
            )
        if step == "archive":
            return "Move the old files to a dated archive folder (nothing is deleted) and finish."
        return (
            f"Rotation finished. {profile.name} now uses {profile.thumbprint_sha1}, valid until "
            f"{profile.not_after:%Y-%m-%d} ({profile.days_left()} days)."
        )

    def say(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#rotation-status", Static)
        status.update(shown(text, multiline=True))
        status.set_class(error, "error")

    # ------------------------------------------------------------- navigation
    @on(Checkbox.Changed, "#no-passphrase")
    def no_passphrase_changed(self) -> None:
        self.show_stage()

    def problems(self) -> dict[str, str | None]:
        from wizard.names import passphrase_problem

        if self.stage != "generate" or self.query_one("#no-passphrase", Checkbox).value:
            return {}
        first = self.query_one("#new-pass", Input).value
        confirm = self.query_one("#new-pass-confirm", Input).value
        problem = passphrase_problem(first, confirm)
        if problem is None:
            return {}
        differ = bool(first) and first != confirm
        return {"new-pass-confirm-field" if differ else "new-pass-field": problem}

    async def action_next(self) -> None:
        """Run the stage at hand (Next); at the end, close with Nav.NEXT."""
        if not self.ready:
            return
        stage = self.stage
        if stage == ROTATION_DONE:
            self.leave(Nav.NEXT)
            return
        if not self.validate_fields():
            return
        new_pass = self.query_one("#new-pass", Input).value
        old_pass = self.query_one("#old-pass", Input).value
        if stage == "generate":
            no_passphrase = self.query_one("#no-passphrase", Checkbox).value
            self.new_passphrase = None if no_passphrase else new_pass.encode("utf-8")
        elif self.needs_new_passphrase_input():
            self.new_passphrase = new_pass.encode("utf-8") if new_pass else None
        old_passphrase = old_pass.encode("utf-8") if old_pass else None
        self.ready = False
        self.query_one("#rotation-detail", Static).update("")
        self.say(f"{stage_title(stage)}…")
        self.run_stage_in_worker(stage, self.new_passphrase, old_passphrase)

    def action_back(self) -> None:
        """Leave the rotation; the profile says where it stands, so it resumes later."""
        self.work_cancel.set()
        self.leave(Nav.NEXT if self.stage == ROTATION_DONE else Nav.BACK)

    # ------------------------------------------------------------------- work
    @contextmanager
    def tenant(self, profile: Profile) -> Iterator[TenantAccess]:
        """The running demo tenant for a demo profile (the wizard's, else one started here)."""
        if not profile.demo:
            yield TenantAccess(None, None)
            return
        info = self.state.demo_info
        wanted = profile.demo_state_dir
        if info is not None and (
            not wanted or not info.state_dir or _same_dir(info.state_dir, wanted)
        ):
            yield TenantAccess(info, self.state.portal or portal_for(info))
            return
        with started_tenant(profile) as started:
            yield started

    def callbacks(
        self, new_passphrase: bytes | None, old_passphrase: bytes | None
    ) -> RotationCallbacks:
        """The runner's callbacks: pressing Next was the user's yes; passphrases come from
        the fields; progress goes to the status line."""

        def open_key(
            role: KeyRole, _key_path: str, opener: Callable[[bytes | None], Credential]
        ) -> Credential:
            return opener(new_passphrase if role == "new" else old_passphrase)

        return RotationCallbacks(
            user_did_it=lambda _stage, _profile: True,
            new_key_passphrase=lambda: new_passphrase,
            open_key=open_key,
            tenant=self.tenant,
            on_progress=self.progress_update,
            on_check=self.check_update,
            on_probe=self.probe_update,
            cancel=self.work_cancel,
        )

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotation")
    def run_stage_in_worker(
        self, stage: str, new_passphrase: bytes | None, old_passphrase: bytes | None
    ) -> None:
        from wizard.errors import UserError

        profile = get_profile(self.profile.name)
        try:
            outcome = run_stage(profile, stage, self.callbacks(new_passphrase, old_passphrase))
        except UserError as error:
            hint = renew_hint(error)
            report = str(error) + (f"\n{hint}" if hint else "")
            self.post_message(
                RotationStageFinished(stage, get_profile(profile.name), False, report)
            )
            return
        except Exception as error:  # a network or disk failure: say it, never a traceback
            explanation = _explain(error)
            self.post_message(
                RotationStageFinished(stage, get_profile(profile.name), False, explanation)
            )
            return
        self.post_message(
            RotationStageFinished(stage, outcome.profile, outcome.done, _report(outcome))
        )

    def progress_update(self, text: str) -> None:
        self.post_message(RotationProgress(text))

    def check_update(self, check: Check) -> None:
        self.post_message(RotationProgress(f"{check.status.name.lower():>7}  {check.title}"))

    def probe_update(self, probe: ProbeResult) -> None:
        self.post_message(RotationProgress(f"{_probe_mark(probe):>7}  {probe.title}"))

    @on(RotationProgress)
    def progress(self, event: RotationProgress) -> None:
        self.say(event.text)

    @on(RotationStageFinished)
    def stage_finished(self, event: RotationStageFinished) -> None:
        self.profile = event.profile
        self.finished = event.ok and event.stage == "archive"
        self.ready = True
        self.query_one("#rotation-detail", Static).update(shown(event.report, multiline=True))
        for input_id in ("#new-pass-confirm", "#old-pass"):
            self.query_one(input_id, Input).value = ""
        if event.ok:
            done = stage_title(event.stage)
            self.say(
                f"✓ {done}: done." + ("" if self.stage == ROTATION_DONE else " Next step below.")
            )
        else:
            self.say(f"✗ {stage_title(event.stage)}: not done.", error=True)
        detail = event.report
        if event.ok and self.stage == "switch":
            detail += "\n\n" + switch_diff(self.profile)
        self.show_stage()
        self.query_one("#rotation-detail", Static).update(shown(detail, multiline=True))
        self.query_one("#next", Button).focus()


def _report(outcome: StageOutcome) -> str:
    """What a stage did, for the detail box."""
    profile, state = outcome.profile, outcome.profile.rotation
    name = outcome.stage.name
    if name == "generate":
        assert state is not None
        return f"New certificate {state.new_thumbprint_sha1}\nin {state.new_cert_path}"
    if name == "upload":
        where = "the demo tenant" if profile.demo else "the portal (as you said)"
        return f"Uploaded to {where}, beside the old certificate."
    if outcome.test is not None:
        return _test_report(outcome.test)
    if name == "switch":
        return "Noted: your script uses the new certificate."
    if outcome.retire is not None:
        return f"{outcome.retire.observed}: {outcome.retire.detail}"
    folder = profile.retired[-1].get("archive_folder") if profile.retired else ""
    return f"Old files moved to {folder or '(nothing to move)'}."


def _test_report(outcome: RotationTestOutcome) -> str:
    lines = [f"{s.status.name.lower():>7}  {s.title}" for s in outcome.positive.checks]
    if outcome.negative is not None:
        lines += [f"{_probe_mark(p):>7}  {p.title}" for p in outcome.negative.probes]
    error = outcome.positive.error
    if error is not None:
        lines += [
            f"{error.code}: {error.title}",
            f"Cause: {error.cause}",
            f"Fix: {wizard_fix(error)}",
        ]
    return "\n".join([*lines, VERDICT_LINES[outcome.verdict]])


def _same_dir(first: str, second: str) -> bool:
    from pathlib import Path

    return Path(first).resolve() == Path(second).resolve()


def _probe_mark(probe: ProbeResult) -> str:
    if probe.alarm:
        return "TOKEN!"
    if probe.refused and not probe.inconclusive:
        return "refused"
    return probe.status.name.lower() if not probe.inconclusive else "unsure"


def _explain(error: BaseException) -> str:
    try:
        from wizard.signin.catalogue import explain_exception

        explanation = explain_exception(error)
        return f"{explanation.title}: {explanation.cause} {wizard_fix(explanation)}"
    except Exception:
        return f"The step failed ({type(error).__name__}). Try again."
