"""Renew a saved set-up: the six rotation steps in one screen, resumable at any step.

The screen shows where the rotation stands (from the profile), explains the step at hand,
asks only what that step needs (a passphrase for the new key, the old key's passphrase for
the proof), and runs it in a thread worker with `wizard.rotation`. Leaving is always safe:
the profile records the next step, and the wizard or `entra-cert-wizard rotate` resumes it.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from typing import TYPE_CHECKING, ClassVar

from textual import on, work
from textual.app import ComposeResult
from textual.containers import Horizontal, VerticalScroll
from textual.message import Message
from textual.widgets import Button, Checkbox, Footer, Input, Label, Static

from screens.base import Nav, StepScreen
from screens.widgets import Field, StepIndicator
from wizard import rotation
from wizard.profiles import ROTATION_DONE, ROTATION_STEPS, Profile, get_profile
from wizard.session import WizardState

if TYPE_CHECKING:
    from wizard.connection import ProbeResult, Step
    from wizard.emulator import DemoInfo
    from wizard.portal import PortalClient

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


@dataclass
class RotationProgress(Message):
    """A line of progress from the worker (a test step, a probe)."""

    text: str


@dataclass
class RotationStepFinished(Message):
    """The worker finished a step: `ok` False keeps the step open with `report` beside it."""

    step: str
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
        self.progress_lines: list[str] = []
        self.finished = False
        self.work_cancel = threading.Event()

    # ----------------------------------------------------------------- layout
    def compose(self) -> ComposeResult:
        yield StepIndicator(1, len(ROTATION_STEPS), self.TITLE, id="step-indicator")
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
            Input(password=True, id="new-pass"),
            hint="Protects the new key and its .pfx (kept in memory only).",
            id="new-pass-field",
        )
        yield Field(
            "Confirm", Input(password=True, id="new-pass-confirm"), id="new-pass-confirm-field"
        )
        yield Checkbox("No passphrase (file permissions only, no .pfx)", id="no-passphrase")
        yield Field(
            "Old passphrase",
            Input(password=True, id="old-pass"),
            hint="The OLD key's passphrase: its refusal is proven by signing with it.",
            id="old-pass-field",
        )
        yield Static("", id="rotation-detail", markup=False)
        yield Static("", id="rotation-status", markup=False)

    def on_mount(self) -> None:
        super().on_mount()
        self.show_step()

    # ------------------------------------------------------------------ state
    @property
    def step(self) -> str:
        """The step at hand; "done" once this screen archived the old files."""
        return ROTATION_DONE if self.finished else rotation.next_step(self.profile)

    def needs_new_passphrase_input(self) -> bool:
        """The new key's passphrase is asked when generating, or when testing after a resume."""
        if self.step == "generate":
            return True
        state = self.profile.rotation
        return (
            self.step == "test"
            and self.new_passphrase is None
            and state is not None
            and rotation.key_is_encrypted(state.new_key_path)
        )

    def needs_old_passphrase_input(self) -> bool:
        state = self.profile.rotation
        if self.step != "retire" or state is None:
            return False
        return rotation.key_is_encrypted(state.old_key_path or self.profile.key_path)

    def show_step(self) -> None:
        """Redraw the checklist, the explanation, the fields and the Next label for the step."""
        step = self.step
        number = rotation.step_number(step)
        title = rotation.STEP_TITLES.get(step, "Finished")
        indicator = self.query_one("#step-indicator", StepIndicator)
        if step == ROTATION_DONE:
            indicator.update(f"Renew {self.profile.name} · done")
        else:
            indicator.update(f"Renew {self.profile.name} · Step {number} of 6 · {title}")
        lines = []
        for index, name in enumerate(ROTATION_STEPS, start=1):
            mark = (
                "✓"
                if rotation.step_done(self.profile, name) or step == ROTATION_DONE
                else ("▶" if name == step else "·")
            )
            lines.append(f"{mark} {index}. {rotation.STEP_TITLES[name]}")
        self.query_one("#rotation-checklist", Static).update("\n".join(lines))
        self.query_one("#rotation-explain", Static).update(self.explanation(step))
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
            self.query_one("#rotation-detail", Static).update(rotation.switch_diff(self.profile))
        labels = BUTTON_LABELS_DEMO if self.profile.demo else BUTTON_LABELS_REAL
        next_button = self.query_one("#next", Button)
        next_button.label = labels.get(step, "Next")
        next_button.refresh(layout=True)  # the label's length changes the button's width
        self.query_one("#back", Button).display = step != ROTATION_DONE

    def explanation(self, step: str) -> str:
        profile = self.profile
        if step == "generate":
            return (
                "A new key and certificate for the same app "
                f"(CN={profile.certificate_name or profile.name}), in a new folder beside the old "
                f"one. The old certificate ({profile.thumbprint_sha1}, "
                f"{profile.days_left()} days left) keeps working until step 5."
            )
        if step == "upload":
            if profile.demo:
                return (
                    "Upload the new .cer to the demo tenant's app, beside the old one: both work "
                    "until the old one is removed."
                )
            return "In the portal, upload the new .cer beside the old one:\n" + "\n".join(
                rotation.upload_instructions(profile)
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
                + "\n".join(rotation.removal_instructions(profile))
                + "\nThen it"
            )
            return (
                f"{lead}{' and it' if profile.demo else ''} is proven dead: a token request "
                f"signed with the old key must be refused with {rotation.OLD_KEY_REFUSED_CODE}."
            )
        if step == "archive":
            return "Move the old files to a dated archive folder (nothing is deleted) and finish."
        return (
            f"Rotation finished. {profile.name} now uses {profile.thumbprint_sha1}, valid until "
            f"{profile.not_after:%Y-%m-%d} ({profile.days_left()} days)."
        )

    def say(self, text: str, *, error: bool = False) -> None:
        status = self.query_one("#rotation-status", Static)
        status.update(text)
        status.set_class(error, "error")

    # ------------------------------------------------------------- navigation
    @on(Checkbox.Changed, "#no-passphrase")
    def no_passphrase_changed(self) -> None:
        self.show_step()

    def problems(self) -> dict[str, str | None]:
        from wizard.names import passphrase_problem as validate_passphrase

        if self.step != "generate" or self.query_one("#no-passphrase", Checkbox).value:
            return {}
        first = self.query_one("#new-pass", Input).value
        confirm = self.query_one("#new-pass-confirm", Input).value
        problem = validate_passphrase(first, confirm)
        if problem is None:
            return {}
        differ = bool(first) and first != confirm
        return {"new-pass-confirm-field" if differ else "new-pass-field": problem}

    async def action_next(self) -> None:
        """Run the step at hand (Next); at the end, close with Nav.NEXT."""
        if not self.ready:
            return
        step = self.step
        if step == ROTATION_DONE:
            self.leave(Nav.NEXT)
            return
        if not self.validate_fields():
            return
        new_pass = self.query_one("#new-pass", Input).value
        old_pass = self.query_one("#old-pass", Input).value
        if step == "generate":
            no_passphrase = self.query_one("#no-passphrase", Checkbox).value
            self.new_passphrase = None if no_passphrase else new_pass.encode("utf-8")
        elif self.needs_new_passphrase_input():
            self.new_passphrase = new_pass.encode("utf-8") if new_pass else None
        old_passphrase = old_pass.encode("utf-8") if old_pass else None
        self.ready = False
        self.progress_lines = []
        self.query_one("#rotation-detail", Static).update("")
        self.say(f"{rotation.STEP_TITLES[step]}…")
        self.run_step(step, self.new_passphrase, old_passphrase)

    def action_back(self) -> None:
        """Leave the rotation; the profile says where it stands, so it resumes later."""
        self.work_cancel.set()
        self.leave(Nav.NEXT if self.step == ROTATION_DONE else Nav.BACK)

    # ------------------------------------------------------------------- work
    @contextmanager
    def tenant(self) -> Iterator[tuple[DemoInfo | None, PortalClient | None]]:
        """The running demo tenant for a demo profile (the wizard's, else one started here)."""
        if not self.profile.demo:
            yield None, None
            return
        info = self.state.demo_info
        wanted = self.profile.demo_state_dir
        if info is not None and (
            not wanted or not info.state_dir or _same_dir(info.state_dir, wanted)
        ):
            yield info, self.state.portal or rotation.portal_for(info)
            return
        with rotation.demo_tenant_for(self.profile) as started:
            assert started is not None
            yield started, rotation.portal_for(started)

    @work(thread=True, exclusive=True, exit_on_error=False, group="rotation")
    def run_step(
        self, step: str, new_passphrase: bytes | None, old_passphrase: bytes | None
    ) -> None:
        from wizard.errors import UserError

        profile = get_profile(self.profile.name)
        try:
            ok, report, profile = self.do_step(step, profile, new_passphrase, old_passphrase)
        except UserError as error:
            report = str(error) + (f"\n{error.hint}" if error.hint else "")
            self.post_message(RotationStepFinished(step, get_profile(profile.name), False, report))
            return
        except Exception as error:  # a network or disk failure: say it, never a traceback
            explanation = _explain(error)
            self.post_message(
                RotationStepFinished(step, get_profile(profile.name), False, explanation)
            )
            return
        self.post_message(RotationStepFinished(step, profile, ok, report))

    def do_step(
        self,
        step: str,
        profile: Profile,
        new_passphrase: bytes | None,
        old_passphrase: bytes | None,
    ) -> tuple[bool, str, Profile]:
        """One rotation step, in the worker thread: (ok, what to show, the profile now)."""
        if step == "generate":
            profile = rotation.generate_new_certificate(
                profile,
                passphrase=new_passphrase,
                on_stage=self.stage_update,
            )
            state = profile.rotation
            assert state is not None
            return (
                True,
                f"New certificate {state.new_thumbprint_sha1}\nin {state.new_cert_path}",
                profile,
            )
        if step == "upload":
            with self.tenant() as (_, portal):
                profile = rotation.upload_new_certificate(profile, portal)
            where = "the demo tenant" if portal is not None else "the portal (as you said)"
            return True, f"Uploaded to {where}, beside the old certificate.", profile
        if step == "test":
            credential = rotation.new_credential(profile, new_passphrase)
            with self.tenant() as (info, _):
                settings = rotation.connection_settings(profile, info)
                outcome = rotation.test_new_certificate(
                    profile,
                    settings,
                    credential,
                    on_step=self.step_update,
                    on_probe=self.probe_update,
                    cancel=self.work_cancel,
                )
            lines = [f"{s.status.name.lower():>7}  {s.title}" for s in outcome.positive.steps]
            if outcome.negative is not None:
                lines += [f"{_probe_mark(p):>7}  {p.title}" for p in outcome.negative.probes]
            error = outcome.positive.error
            if error is not None:
                lines += [
                    f"{error.code}: {error.title}",
                    f"Cause: {error.cause}",
                    f"Fix: {error.fix}",
                ]
            verdict = {
                "pass": "Both tests passed: the new certificate works and nothing else does.",
                "fail": "The tests failed: see above. Fix it, then run them again.",
                "inconclusive": "Inconclusive: a probe proved nothing. Run the tests again.",
            }[outcome.verdict]
            return outcome.verdict == "pass", "\n".join([*lines, verdict]), outcome.profile
        if step == "switch":
            return (
                True,
                "Noted: your script uses the new certificate.",
                rotation.confirm_switch(profile),
            )
        if step == "retire":
            credential = rotation.old_credential(profile, old_passphrase)
            with self.tenant() as (info, portal):
                settings = rotation.connection_settings(profile, info)
                retired = rotation.retire_old_certificate(
                    profile, settings, credential, portal, cancel=self.work_cancel
                )
            return retired.refused, f"{retired.observed}: {retired.detail}", retired.profile
        if step == "archive":
            profile = rotation.archive_old_files(profile)
            folder = profile.retired[-1].get("archive_folder") if profile.retired else ""
            return True, f"Old files moved to {folder or '(nothing to move)'}.", profile
        raise AssertionError(f"unknown step {step}")

    def stage_update(self, text: str) -> None:
        self.post_message(RotationProgress(text))

    def step_update(self, step: Step) -> None:
        self.post_message(RotationProgress(f"{step.status.name.lower():>7}  {step.title}"))

    def probe_update(self, probe: ProbeResult) -> None:
        self.post_message(RotationProgress(f"{_probe_mark(probe):>7}  {probe.title}"))

    @on(RotationProgress)
    def progress(self, event: RotationProgress) -> None:
        self.say(event.text)

    @on(RotationStepFinished)
    def step_finished(self, event: RotationStepFinished) -> None:
        self.profile = event.profile
        self.finished = event.ok and event.step == "archive"
        self.ready = True
        self.query_one("#rotation-detail", Static).update(event.report)
        for input_id in ("#new-pass-confirm", "#old-pass"):
            self.query_one(input_id, Input).value = ""
        if event.ok:
            done = rotation.STEP_TITLES.get(event.step, event.step)
            self.say(
                f"✓ {done}: done." + ("" if self.step == ROTATION_DONE else " Next step below.")
            )
        else:
            self.say(f"✗ {rotation.STEP_TITLES.get(event.step, event.step)}: not done.", error=True)
        detail = event.report
        if event.ok and self.step == "switch":
            detail += "\n\n" + rotation.switch_diff(self.profile)
        self.show_step()
        self.query_one("#rotation-detail", Static).update(detail)
        self.query_one("#next", Button).focus()


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
        from wizard.catalogue import explain_exception

        explanation = explain_exception(error)
        return f"{explanation.title}: {explanation.cause} {explanation.fix}"
    except Exception:
        return f"The step failed ({type(error).__name__}). Try again."
