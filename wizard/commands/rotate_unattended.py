"""`entra-cert-wizard rotate NAME --unattended`: the rotation cron or a systemd timer runs.

Never asks: whatever would need a person (the object ID, a passphrase without
--passphrase-env) is an error saying what to give, exit code 2. Does nothing, exit 0, until
the certificate expires within --within-days days; then, holding the profile's lock, runs
the stages from wherever the last run stopped (a crash included) to the end. The app rolls
its own certificate through Graph, so no admin and no portal is involved. The switch stage is
taken as done: an unattended rotation is for a script that reads its certificate from the
profile (`entra-cert-wizard profiles --json`), so it follows the profile by itself.
"""

from __future__ import annotations

import argparse
import json
import sys
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from wizard.commands.rotate import _after, _document, _remember_ids, _Run
from wizard.errors import UserError
from wizard.profiles import Profile, get_profile
from wizard.rotation.access import key_is_encrypted, key_path_for
from wizard.rotation.runner import run_until_waiting
from wizard.rotation.stages import KeyRole, Stage, stage_number
from wizard.rotation.unattended import RotationLocked, is_due, rotation_lock
from wizard.signin.plan import EXIT_INCONCLUSIVE

if TYPE_CHECKING:
    from wizard.signin.settings import Credential

EXIT_NEEDS_A_PERSON = 2
EXIT_LOCKED = 5


class _UnattendedRun(_Run):
    """The interactive run's reporting, with every question answered or refused up front."""

    def user_did_it(self, stage: Stage, profile: Profile) -> bool:
        if stage.name == "switch":
            self.say(f"{stage_number('switch')}. Switch: the script takes its certificate from "
                     "the profile, which names the new one once the old one is retired.")
            return True
        raise UserError(  # only reached without the object ID, which is checked first
            f'The "{stage.name}" step needs a person on this tenant.',
            exit_code=EXIT_NEEDS_A_PERSON,
        )

    def new_key_passphrase(self) -> bytes | None:
        if self.args.passphrase_env or self.args.no_passphrase:
            return super().new_key_passphrase()
        return None  # never a prompt: the old key was checked to need no passphrase either

    def open_key(
        self, role: KeyRole, key_path: str, opener: Callable[[bytes | None], Credential]
    ) -> Credential:
        if key_is_encrypted(key_path) and not (
            self.args.passphrase_env or (role == "old" and self.args.old_passphrase_env)
        ):
            raise UserError(
                f"The {role.upper()} private key {key_path} is encrypted and an unattended run "
                "cannot ask for its passphrase.",
                hint="Give --passphrase-env VAR, with VAR set in the job's environment.",
                exit_code=EXIT_NEEDS_A_PERSON,
            )
        return super().open_key(role, key_path, opener)


def _preflight(args: argparse.Namespace, profile: Profile) -> None:
    """Refuse, before anything changes, what an unattended run cannot do."""
    if args.step is not None or args.abandon or args.confirm:
        raise UserError(
            "--unattended runs the next steps on its own: leave out --step, --confirm and "
            "--abandon.",
            exit_code=2,
        )
    if profile.object_id is None:
        raise UserError(
            f'The app\'s object ID is not known for "{profile.name}", so it cannot roll its own '
            "certificate.",
            hint=f"Run once: entra-cert-wizard rotate {profile.shell_name} --object-id GUID "
            "(the Object ID on the app registration's Overview page).",
            exit_code=EXIT_NEEDS_A_PERSON,
        )
    if not (profile.key_id or profile.demo):
        raise UserError(
            f'The keyId of the current certificate of "{profile.name}" is not known, so Graph\'s '
            "removeKey could not retire it.",
            hint=f"Run once: entra-cert-wizard rotate {profile.shell_name} --key-id GUID (the "
            "Certificate ID the portal lists for that thumbprint).",
            exit_code=EXIT_NEEDS_A_PERSON,
        )
    if key_is_encrypted(key_path_for(profile, "old")) and not (
        args.passphrase_env or args.old_passphrase_env
    ):
        raise UserError(
            f"The private key of \"{profile.name}\" is encrypted and an unattended run cannot "
            "ask for its passphrase.",
            hint="Give --passphrase-env VAR, with VAR set in the job's environment.",
            exit_code=EXIT_NEEDS_A_PERSON,
        )


def _rotate(session: _UnattendedRun, profile: Profile) -> tuple[str, Profile]:
    for outcome in run_until_waiting(profile, session.callbacks()):
        profile = _after(session, profile, outcome)
    if profile.rotation is None and "archive" in session.stages_run:
        return "rotated", profile
    return ("inconclusive" if session.exit_code == EXIT_INCONCLUSIVE else "failed"), profile


def run(args: argparse.Namespace) -> int:
    from wizard.snippets import schedule_snippets

    if args.within_days < 0:
        raise UserError("--within-days must be 0 or more.", exit_code=2)
    profile = get_profile(args.profile)
    name = profile.name
    session = _UnattendedRun(args)
    document: dict[str, Any] = {"profile": name, "within_days": args.within_days}
    try:
        with rotation_lock(name):
            profile = get_profile(name)  # as the last run left it, now that it is ours
            if args.object_id is not None or args.key_id is not None:
                profile = _remember_ids(profile, args)
            if not is_due(profile, args.within_days):
                status = "not due"
                session.say(
                    f'"{name}": {profile.days_left()} days left, more than {args.within_days}: '
                    "nothing to do."
                )
            else:
                _preflight(args, profile)
                status, profile = _rotate(session, profile)
            document.update(_document(session, profile))
    except RotationLocked as locked:
        status, session.exit_code = "locked", EXIT_LOCKED
        session.say(locked.message)
    except UserError as error:
        status = "failed"
        session.exit_code = error.exit_code or 1
        document["error"] = {"message": error.message, "hint": error.hint}
        print(f"error: {error.message}", file=sys.stderr)
        if error.hint:
            print(f"hint: {error.hint}", file=sys.stderr)
    if status == "rotated":
        document["schedule"] = schedule_snippets(profile, args.passphrase_env)
    document.update(
        status=status,
        days_left=profile.days_left(),
        exit_code=session.exit_code,
    )
    if args.json:
        print(json.dumps(document, indent=2))
    elif status == "rotated":
        session.say(f'"{name}" rolled its own certificate; '
                    f"the next run will wait until {args.within_days} days before expiry.")
    return session.exit_code
