"""`entra-cert-wizard rotate PROFILE [--step STEP]`: replace a certificate without an outage.

Without --step the next steps run one after another until one needs the user (upload in the
real portal, switching the script, removing the old certificate in the real portal); the
command then says exactly what to do and how to carry on (`--confirm`, or a y/N question at
a terminal). The profile records where the rotation stands, so it resumes from there.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING, Any

from wizard import rotation
from wizard.profiles import ROTATION_DONE, Profile, get_profile, profile_to_json

if TYPE_CHECKING:
    from wizard.signin.settings import Credential

EXIT_FAILED = 1
EXIT_ALARM = 3
EXIT_INCONCLUSIVE = 4


class _Run:
    """One invocation: the steps run, what they said, and the user's one --confirm."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.confirm_left = bool(args.confirm)
        self.steps_run: list[str] = []
        self.results: dict[str, Any] = {}
        self.waiting_for: str | None = None
        self.exit_code = 0

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
            answer = input(f"{question} [y/N] ")
        except EOFError:
            return False
        return answer.strip().lower() in ("y", "yes")

    def confirmed_or_wait(self, question: str, step: str, carry_on: str) -> bool:
        """Ask `question`; without a yes, the run waits at `step` and says how to carry on."""
        if self.confirmed(question):
            return True
        self.waiting_for = step
        self.say(carry_on)
        return False


def _open(
    opener: Callable[[bytes | None], Credential], env: str | None, what: str, key_path: str
) -> Credential:
    from wizard.passphrase import open_with_passphrase

    if not rotation.key_is_encrypted(key_path):
        return opener(None)  # a passphrase variable given for another key is not needed here
    return open_with_passphrase(opener, env, what)


def _command(profile: Profile) -> str:
    return f"entra-cert-wizard rotate {profile.shell_name}"


def _step_generate(run: _Run, profile: Profile) -> Profile:
    from wizard.passphrase import passphrase_for_new_key

    passphrase = passphrase_for_new_key(run.args.passphrase_env, run.args.no_passphrase)
    profile = rotation.generate_new_certificate(
        profile, passphrase=passphrase, days=run.args.days, on_stage=None
    )
    state = profile.rotation
    assert state is not None
    run.say(f"1. New certificate for the same app: {state.new_thumbprint_sha1}")
    run.say(f"   files in {Path(state.new_cert_path).parent}")
    run.say(
        f"   valid until {state.new_not_after:%Y-%m-%d %H:%M} UTC; the old files are untouched."
    )
    return profile


def _step_upload(run: _Run, profile: Profile) -> Profile | None:
    state = profile.rotation
    assert state is not None
    if profile.demo:
        with rotation.demo_tenant_for(profile) as info:
            assert info is not None
            profile = rotation.upload_new_certificate(profile, rotation.portal_for(info))
        run.say(f"2. Uploaded {state.new_cer_path} to the demo tenant, beside the old certificate.")
        return profile
    run.say("2. Upload the new certificate beside the old one, in the portal:")
    for line in rotation.upload_instructions(profile):
        run.say(f"   {line}")
    if not run.confirmed_or_wait(
        "Have you uploaded it?",
        "upload",
        f"When it is uploaded, run: {_command(profile)} --confirm",
    ):
        return None
    return rotation.upload_new_certificate(profile, None)


def _step_test(run: _Run, profile: Profile) -> Profile | None:
    state = profile.rotation
    assert state is not None
    credential = _open(
        lambda p: rotation.new_credential(profile, p),
        run.args.passphrase_env,
        "the NEW private key",
        state.new_key_path,
    )
    run.say("3. Testing the new certificate (positive test, then negative test)...")
    with rotation.demo_tenant_for(profile) as info:
        settings = rotation.connection_settings(profile, info, timeout=run.args.timeout)
        outcome = rotation.test_new_certificate(profile, settings, credential)
    positive, negative = outcome.positive, outcome.negative
    for step in positive.steps:
        run.say(
            f"   [{step.status.name:<7}] {step.title}" + (f": {step.detail}" if step.detail else "")
        )
    if negative is not None:
        for probe in negative.probes:
            mark = (
                "refused" if probe.refused else ("GOT A TOKEN" if probe.alarm else "inconclusive")
            )
            run.say(f"   [{mark}] {probe.title}")
    run.results["test"] = {
        "verdict": outcome.verdict,
        "positive_ok": positive.ok,
        "negative": negative.verdict if negative is not None else None,
        "error": positive.error.code if positive.error is not None else None,
    }
    if outcome.verdict == "pass":
        run.say("   Both tests passed: the new certificate works and nothing else does.")
        return outcome.profile
    if positive.error is not None:
        run.say(f"   {positive.error.code}: {positive.error.title}")
        run.say(f"   Cause: {positive.error.cause}")
        run.say(f"   Fix: {positive.error.fix}")
    run.say(f"   Fix it and run again: entra-cert-wizard rotate {profile.shell_name} --step test")
    if not positive.ok:
        run.exit_code = EXIT_FAILED
    elif negative is not None and negative.verdict == "fail":
        run.exit_code = EXIT_ALARM
    else:
        run.exit_code = EXIT_INCONCLUSIVE
    return None


def _step_switch(run: _Run, profile: Profile) -> Profile | None:
    run.say("4. Switch your script to the new certificate. The lines that change:")
    diff = rotation.switch_diff(profile)
    run.results["switch_diff"] = diff
    for line in diff.splitlines():
        run.say(f"   {line}")
    if not run.confirmed_or_wait(
        "Does your script use the new certificate now?",
        "switch",
        "Both certificates work until the old one is removed. When your script uses the new "
        f"one, run: {_command(profile)} --confirm",
    ):
        return None
    return rotation.confirm_switch(profile)


def _step_retire(run: _Run, profile: Profile) -> Profile | None:
    state = profile.rotation
    assert state is not None
    if not profile.demo:
        run.say("5. Remove the OLD certificate from the app registration, in the portal:")
        for line in rotation.removal_instructions(profile):
            run.say(f"   {line}")
        if not run.confirmed_or_wait(
            "Have you removed the old certificate?",
            "retire",
            f"When it is removed, run: {_command(profile)} --confirm",
        ):
            return None
    old_key = state.old_key_path or profile.key_path
    credential = _open(
        lambda p: rotation.old_credential(profile, p),
        run.args.old_passphrase_env or run.args.passphrase_env,
        "the OLD private key",
        old_key,
    )
    with rotation.demo_tenant_for(profile) as info:
        settings = rotation.connection_settings(profile, info, timeout=run.args.timeout)
        portal = rotation.portal_for(info) if info is not None else None
        if portal is not None:
            run.say("5. Removing the old certificate from the demo tenant's app registration...")
        outcome = rotation.retire_old_certificate(profile, settings, credential, portal)
    run.results["retire"] = {"refused": outcome.refused, "observed": outcome.observed}
    run.say(f"   {outcome.detail}")
    if not outcome.refused:
        run.exit_code = EXIT_FAILED
        run.say(f"   Try again: entra-cert-wizard rotate {profile.shell_name} --step retire")
        return None
    return outcome.profile


def _step_archive(run: _Run, profile: Profile) -> Profile:
    state = profile.rotation
    assert state is not None
    profile = rotation.archive_old_files(profile)
    folder = profile.retired[-1].get("archive_folder") if profile.retired else ""
    run.say(f"6. Old files moved to {folder or '(nothing to move)'}; nothing was deleted.")
    run.say(
        f'Rotation of "{profile.name}" finished: certificate {profile.thumbprint_sha1}, '
        "valid until "
        f"{profile.not_after:%Y-%m-%d} ({profile.days_left()} days)."
    )
    return profile


_STEPS: dict[str, Callable[[_Run, Profile], Profile | None]] = {
    "generate": _step_generate,
    "upload": _step_upload,
    "test": _step_test,
    "switch": _step_switch,
    "retire": _step_retire,
    "archive": _step_archive,
}


def _document(run: _Run, profile: Profile) -> dict[str, Any]:
    return {
        "profile": profile.name,
        "steps_run": run.steps_run,
        "next_step": rotation.next_step(profile)
        if profile.rotation is not None or not run.steps_run
        else ROTATION_DONE,
        "waiting_for": run.waiting_for,
        "results": run.results,
        "rotation": profile_to_json(profile)["rotation"],
        "thumbprint_sha1": profile.thumbprint_sha1,
        "not_after": profile.not_after.isoformat(timespec="seconds"),
        "days_left": profile.days_left(),
    }


def run(args: argparse.Namespace) -> int:
    profile = get_profile(args.profile)
    session = _Run(args)
    if args.abandon:
        if profile.demo and profile.rotation is not None:
            with rotation.demo_tenant_for(profile) as info:
                assert info is not None
                profile = rotation.abandon_rotation(profile, rotation.portal_for(info))
        else:
            profile = rotation.abandon_rotation(profile)
        session.say(
            f'The rotation of "{profile.name}" was abandoned; the new files were left in place.'
        )
        if not profile.demo:
            session.say("If you uploaded the new certificate, remove it in the portal too.")
    elif args.step == "status":
        for line in rotation.status_lines(profile):
            session.say(line)
    elif args.step is not None:
        rotation.check_step_allowed(profile, args.step)
        session.steps_run.append(args.step)
        profile = _STEPS[args.step](session, profile) or get_profile(profile.name)
    else:
        if profile.rotation is None:
            session.say(
                f'Rotating "{profile.name}" ({profile.thumbprint_sha1}, '
                f"valid until {profile.not_after:%Y-%m-%d})."
            )
        while True:
            step = rotation.next_step(profile)
            if step == ROTATION_DONE:
                break
            session.steps_run.append(step)
            moved = _STEPS[step](session, profile)
            if moved is None:
                profile = get_profile(profile.name)
                break
            profile = moved
            if profile.rotation is None:
                break
    if (
        not args.abandon
        and args.step != "status"
        and profile.rotation is not None
        and session.exit_code == 0
        and session.waiting_for is None
    ):
        upcoming = rotation.next_step(profile)
        session.say(
            f"Next: {rotation.STEP_TITLES.get(upcoming, upcoming)} — "
            f"entra-cert-wizard rotate {profile.shell_name}"
        )
    if args.json:
        print(json.dumps(_document(session, profile), indent=2))
    return session.exit_code
