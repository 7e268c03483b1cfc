"""`entra-cert-wizard rotate PROFILE [--step STEP]`: replace a certificate without an outage.

Without --step the next stages run one after another until one needs the user (upload in the
real portal, switching the script, removing the old certificate in the real portal); the
command then says exactly what to do and how to carry on (`--confirm`, or a y/N question at
a terminal). The profile records where the rotation stands, so it resumes from there.
The stages run in wizard.rotation.runner; this module only asks and prints.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard.errors import UserError
from wizard.profiles import Profile, get_profile, profile_to_json
from wizard.rotation import work
from wizard.rotation.access import key_is_encrypted, started_tenant
from wizard.rotation.progress import check_stage_allowed, next_stage, status_lines, switch_diff
from wizard.rotation.runner import RotationCallbacks, StageOutcome, run_stage, run_until_waiting
from wizard.rotation.stages import ROTATION_DONE, KeyRole, Stage, stage_number, stage_title
from wizard.shown import shown
from wizard.signin.plan import EXIT_POSITIVE_FAILED, exit_code_for

if TYPE_CHECKING:
    from wizard.signin.settings import Credential

# The retire stage's failure (the old certificate was not proven refused) shares exit code 1
# with a failed positive test: "a stage failed".
EXIT_STAGE_FAILED = EXIT_POSITIVE_FAILED


class _Run:
    """One invocation: the stages run, what they said, and the user's one --confirm."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.confirm_left = bool(args.confirm)
        self.stages_run: list[str] = []
        self.results: dict[str, Any] = {}
        self.waiting_for: str | None = None
        self.exit_code = 0
        # The new key's passphrase typed in this run opens the new key later on: one
        # passphrase is typed (and confirmed) once, not asked again for the test.
        self.typed_new_passphrase: bytes | None = None

    def say(self, text: str = "") -> None:
        """Human text: stdout normally, stderr under --json (stdout is the JSON document)."""
        print(text, file=sys.stderr if self.args.json else sys.stdout)

    def confirmed(self, question: str) -> bool:
        """--confirm answers the first question; else ask at a terminal; else wait."""
        if self.confirm_left:
            self.confirm_left = False
            return True
        from wizard.passphrase import stdin_is_interactive

        if self.args.json or not stdin_is_interactive():
            return False
        try:
            answer = input(shown(f"{question} [y/N] "))  # input() may write past sys.stdout
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    def confirmed_or_wait(self, question: str, stage: str, carry_on: str) -> bool:
        """Ask `question`; without a yes, the run waits at `stage` and says how to carry on."""
        if self.confirmed(question):
            return True
        self.waiting_for = stage
        self.say(carry_on)
        return False

    def callbacks(self) -> RotationCallbacks:
        return RotationCallbacks(
            user_did_it=self.user_did_it,
            new_key_passphrase=self.new_key_passphrase,
            open_key=self.open_key,
            tenant=started_tenant,
            starting=self.starting,
            timeout=self.args.timeout,
            days=self.args.days,
        )

    # --- what the runner asks ------------------------------------------------------------

    def user_did_it(self, stage: Stage, profile: Profile) -> bool:
        """Say what the user does in this stage, then ask whether it is done."""
        number = stage_number(stage.name)
        carry_on = f"run: {_command(profile)} --confirm"
        if stage.name == "upload":
            self.say(f"{number}. Upload the new certificate beside the old one, in the portal:")
            for line in work.upload_instructions(profile):
                self.say(f"   {line}")
            return self.confirmed_or_wait(
                "Have you uploaded it?", stage.name, f"When it is uploaded, {carry_on}"
            )
        if stage.name == "switch":
            self.say(f"{number}. Switch your script to the new certificate. The lines that change:")
            diff = switch_diff(profile)
            self.results["switch_diff"] = diff
            for line in diff.splitlines():
                self.say(f"   {line}")
            return self.confirmed_or_wait(
                "Does your script use the new certificate now?",
                stage.name,
                "Both certificates work until the old one is removed. When your script uses the "
                f"new one, {carry_on}",
            )
        self.say(f"{number}. Remove the OLD certificate from the app registration, in the portal:")
        for line in work.removal_instructions(profile):
            self.say(f"   {line}")
        return self.confirmed_or_wait(
            "Have you removed the old certificate?", stage.name, f"When it is removed, {carry_on}"
        )

    def new_key_passphrase(self) -> bytes | None:
        from wizard.passphrase import passphrase_for_new_key

        passphrase = passphrase_for_new_key(self.args.passphrase_env, self.args.no_passphrase)
        self.typed_new_passphrase = passphrase
        return passphrase

    def open_key(
        self, role: KeyRole, key_path: str, opener: Callable[[bytes | None], Credential]
    ) -> Credential:
        from wizard.passphrase import open_with_passphrase

        if not key_is_encrypted(key_path):
            return opener(None)  # a passphrase variable given for another key is not needed here
        if role == "new":
            if self.typed_new_passphrase is not None:
                return opener(self.typed_new_passphrase)
            return open_with_passphrase(opener, self.args.passphrase_env, "the NEW private key")
        env = self.args.old_passphrase_env or self.args.passphrase_env
        return open_with_passphrase(opener, env, "the OLD private key")

    def starting(self, stage: Stage, profile: Profile) -> None:
        number = stage_number(stage.name)
        if stage.name == "test":
            self.say(
                f"{number}. Testing the new certificate (positive test, then negative test)..."
            )
        elif stage.name == "retire" and profile.object_id:
            self.say(f"{number}. Removing the old certificate with Graph removeKey (signed with "
                     "the new one)...")
        elif stage.name == "retire" and profile.demo:
            self.say(
                f"{number}. Removing the old certificate from the demo tenant's app registration..."
            )

    # --- what the stages did -------------------------------------------------------------

    def report(self, outcome: StageOutcome) -> None:
        """Print what the stage did; a failed stage sets the exit code."""
        profile, number = outcome.profile, stage_number(outcome.stage.name)
        state = profile.rotation
        if outcome.waiting:
            return
        if outcome.stage.name == "generate":
            assert state is not None
            self.say(f"{number}. New certificate for the same app: {state.new_thumbprint_sha1}")
            self.say(f"   files in {Path(state.new_cert_path).parent}")
            self.say(
                f"   valid until {state.new_not_after:%Y-%m-%d %H:%M} UTC; "
                "the old files are untouched."
            )
        elif outcome.stage.name == "upload" and profile.object_id:
            assert state is not None
            self.say(f"{number}. Added the new certificate beside the old one with Graph addKey "
                     f"(keyId {state.new_key_id}).")
        elif outcome.stage.name == "upload" and profile.demo:
            assert state is not None
            self.say(
                f"{number}. Uploaded {state.new_cer_path} to the demo tenant, "
                "beside the old certificate."
            )
        elif outcome.test is not None:
            self.report_test(outcome.test, profile)
        elif outcome.retire is not None:
            self.results["retire"] = {
                "refused": outcome.retire.refused,
                "observed": outcome.retire.observed,
            }
            self.say(f"   {outcome.retire.detail}")
            if not outcome.retire.refused:
                self.exit_code = EXIT_STAGE_FAILED
                self.say(
                    f"   Try again: entra-cert-wizard rotate {profile.shell_name} --step retire"
                )
        elif outcome.stage.name == "archive":
            folder = profile.retired[-1].get("archive_folder") if profile.retired else ""
            self.say(
                f"{number}. Old files moved to {folder or '(nothing to move)'}; nothing was deleted."
            )
            self.say(
                f'Rotation of "{profile.name}" finished: certificate {profile.thumbprint_sha1}, '
                "valid until "
                f"{profile.not_after:%Y-%m-%d} ({profile.days_left()} days)."
            )
            if profile.object_id:
                from wizard.snippets import schedule_snippets

                self.say("From now on the app can roll its own certificate, e.g. daily from cron:")
                self.say(f"   {schedule_snippets(profile)['cron']}")

    def report_test(self, outcome: work.RotationTestOutcome, profile: Profile) -> None:
        positive, negative = outcome.positive, outcome.negative
        for check in positive.checks:
            self.say(
                f"   [{check.status.name:<7}] {check.title}"
                + (f": {check.detail}" if check.detail else "")
            )
        if negative is not None:
            for probe in negative.probes:
                mark = (
                    "refused"
                    if probe.refused
                    else ("GOT A TOKEN" if probe.alarm else "inconclusive")
                )
                self.say(f"   [{mark}] {probe.title}")
        self.results["test"] = {
            "verdict": outcome.verdict,
            "positive_ok": positive.ok,
            "negative": negative.verdict if negative is not None else None,
            "error": positive.error.code if positive.error is not None else None,
        }
        if outcome.verdict == "pass":
            self.say("   Both tests passed: the new certificate works and nothing else does.")
            return
        if positive.error is not None:
            self.say(f"   {positive.error.code}: {positive.error.title}")
            self.say(f"   Cause: {positive.error.cause}")
            self.say(f"   Fix: {positive.error.fix}")
        self.say(
            f"   Fix it and run again: entra-cert-wizard rotate {profile.shell_name} --step test"
        )
        self.exit_code = exit_code_for(positive, negative)


def _command(profile: Profile) -> str:
    return f"entra-cert-wizard rotate {profile.shell_name}"


def _document(run: _Run, profile: Profile) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "steps_run": run.stages_run,
        "next_step": next_stage(profile)
        if profile.rotation is not None or not run.stages_run
        else ROTATION_DONE,
        "waiting_for": run.waiting_for,
        "results": run.results,
        "rotation": profile_to_json(profile)["rotation"],
        "thumbprint_sha1": profile.thumbprint_sha1,
        "not_after": profile.not_after.isoformat(timespec="seconds"),
        "days_left": profile.days_left(),
    }


def _abandon(session: _Run, profile: Profile) -> Profile:
    if profile.demo and profile.rotation is not None:
        with started_tenant(profile) as access:
            profile = work.abandon_rotation(profile, access.portal)
    else:
        profile = work.abandon_rotation(profile)
    session.say(
        f'The rotation of "{profile.name}" was abandoned; the new files were left in place.'
    )
    if not profile.demo and profile.object_id:
        session.say("The new certificate may already be on the app registration (added with "
                    "Graph addKey): remove it in the portal too.")
    elif not profile.demo:
        session.say("If you uploaded the new certificate, remove it in the portal too.")
    return profile


def _after(session: _Run, profile: Profile, outcome: StageOutcome) -> Profile:
    """Record and print a stage's outcome; the profile as it stands after it."""
    session.stages_run.append(outcome.stage.name)
    session.report(outcome)
    return outcome.profile if outcome.done else get_profile(profile.name)


def _remember_ids(profile: Profile, args: argparse.Namespace) -> Profile:
    """--object-id / --key-id: checked, then kept in the profile for every later run."""
    from wizard.inputs import is_guid
    from wizard.profiles import save_profile

    for option, value, field_name in (
        ("--object-id", args.object_id, "object_id"),
        ("--key-id", args.key_id, "key_id"),
    ):
        if value is None:
            continue
        cleaned = value.strip().lower()
        if not is_guid(cleaned):
            raise UserError(
                f"{option} must be a GUID (the portal shows it on the app registration).",
                exit_code=2,
            )
        if field_name == "object_id" and cleaned == profile.client_id.lower():
            raise UserError(
                "--object-id is the app registration's Object ID, not its Application "
                "(client) ID: both are on its Overview page.",
                exit_code=2,
            )
        setattr(profile, field_name, cleaned)
    save_profile(profile)
    return profile


def run(args: argparse.Namespace) -> int:
    from wizard.rotation.unattended import rotation_lock

    name = get_profile(args.profile).name
    # One run at a time changes a profile's rotation (a scheduled one may be under way).
    with rotation_lock(name):
        profile = get_profile(name)
        if args.object_id is not None or args.key_id is not None:
            profile = _remember_ids(profile, args)
        return _run_locked(args, profile)


def _run_locked(args: argparse.Namespace, profile: Profile) -> int:
    session = _Run(args)
    callbacks = session.callbacks()
    if args.abandon:
        profile = _abandon(session, profile)
    elif args.step == "status":
        for line in status_lines(profile):
            session.say(line)
    elif args.step is not None:
        check_stage_allowed(profile, args.step)
        profile = _after(session, profile, run_stage(profile, args.step, callbacks))
    else:
        if profile.rotation is None:
            session.say(
                f'Rotating "{profile.name}" ({profile.thumbprint_sha1}, '
                f"valid until {profile.not_after:%Y-%m-%d})."
            )
        for outcome in run_until_waiting(profile, callbacks):
            profile = _after(session, profile, outcome)
    if (
        not args.abandon
        and args.step != "status"
        and profile.rotation is not None
        and session.exit_code == 0
        and session.waiting_for is None
    ):
        upcoming = next_stage(profile)
        session.say(
            f"Next: {stage_title(upcoming)} — entra-cert-wizard rotate {profile.shell_name}"
        )
    if args.json:
        print(json.dumps(_document(session, profile), indent=2))
    return session.exit_code
