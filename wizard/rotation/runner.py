"""The one rotation runner: `entra-cert-wizard rotate` and the Renew screen both drive it.

It knows what each stage needs (the user's yes, which private key, the tenant) from the stage
list, asks the interface for it through callbacks, does the stage's work and returns an
outcome. The interface words everything: the command line prints, the screen shows.
"""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, nullcontext
from dataclasses import dataclass
from typing import TYPE_CHECKING

from wizard.profiles import Profile
from wizard.rotation import work
from wizard.rotation.access import (
    TenantAccess,
    connection_settings,
    key_path_for,
    new_credential,
    old_credential,
    started_tenant,
)
from wizard.rotation.progress import check_stage_allowed, next_stage
from wizard.rotation.stages import (
    ROTATION_DONE,
    KeyRole,
    Stage,
    asks_the_user,
    keys_needed,
    stage_named,
)
from wizard.signin.settings import DEFAULT_TIMEOUT

if TYPE_CHECKING:
    from wizard.signin.plan import Check, ProbeResult
    from wizard.signin.settings import Credential


@dataclass
class RotationCallbacks:
    """What the interface driving a rotation supplies, and where progress goes."""

    # The user's yes for a stage only they can do (see stages.asks_the_user); no = wait.
    user_did_it: Callable[[Stage, Profile], bool]
    # The passphrase that protects the new key (None: none), asked when generating.
    new_key_passphrase: Callable[[], bytes | None]
    # Open a private key: (which, its file, the opener taking its passphrase).
    open_key: Callable[[KeyRole, str, Callable[[bytes | None], Credential]], Credential]
    # The profile's tenant for the duration of a stage that needs it.
    tenant: Callable[[Profile], AbstractContextManager[TenantAccess]] = started_tenant
    # Called once a stage has what it needs, just before its work starts.
    starting: Callable[[Stage, Profile], None] | None = None
    on_progress: Callable[[str], None] | None = None
    on_check: Callable[[Check], None] | None = None
    on_probe: Callable[[ProbeResult], None] | None = None
    cancel: threading.Event | None = None
    timeout: float = DEFAULT_TIMEOUT
    days: int | None = None  # validity of the new certificate (default: as the old one)


@dataclass
class StageOutcome:
    """What running one stage came to, and the profile after it."""

    stage: Stage
    profile: Profile
    done: bool  # the stage's work is done and the rotation moved on
    waiting: bool = False  # the user has not done their part yet: nothing changed
    test: work.RotationTestOutcome | None = None
    retire: work.RetireOutcome | None = None


def run_stage(profile: Profile, name: str, callbacks: RotationCallbacks) -> StageOutcome:
    """Run stage `name` of the profile's rotation (UserError if it cannot run now)."""
    stage = stage_named(name)
    check_stage_allowed(profile, name)
    rolls_itself = profile.object_id is not None
    if asks_the_user(
        stage, demo=profile.demo, rolls_itself=rolls_itself
    ) and not callbacks.user_did_it(stage, profile):
        return StageOutcome(stage, profile, done=False, waiting=True)
    if name == "generate":
        profile = work.generate_new_certificate(
            profile,
            passphrase=callbacks.new_key_passphrase(),
            days=callbacks.days,
            on_stage=callbacks.on_progress,
        )
        return StageOutcome(stage, profile, done=True)
    keys = {
        role: _open_key(profile, role, callbacks)
        for role in keys_needed(stage, rolls_itself=rolls_itself)
    }
    if callbacks.starting is not None:
        callbacks.starting(stage, profile)
    tenant = (
        callbacks.tenant(profile) if stage.needs_tenant else nullcontext(TenantAccess(None, None))
    )
    with tenant as access:
        return _work(stage, profile, keys, access, callbacks)


def run_until_waiting(profile: Profile, callbacks: RotationCallbacks) -> Iterator[StageOutcome]:
    """Run the next stages one after another until one fails, waits for the user, or the
    rotation is finished; yields each stage's outcome as it ends."""
    while True:
        name = next_stage(profile)
        if name == ROTATION_DONE:
            return
        outcome = run_stage(profile, name, callbacks)
        yield outcome
        if not outcome.done:
            return
        profile = outcome.profile
        if profile.rotation is None:
            return


def _open_key(profile: Profile, role: KeyRole, callbacks: RotationCallbacks) -> Credential:
    def opener(passphrase: bytes | None) -> Credential:
        if role == "new":
            return new_credential(profile, passphrase)
        return old_credential(profile, passphrase)

    return callbacks.open_key(role, key_path_for(profile, role), opener)


def _work(
    stage: Stage,
    profile: Profile,
    keys: dict[KeyRole, Credential],
    access: TenantAccess,
    callbacks: RotationCallbacks,
) -> StageOutcome:
    """The stage's own work, with its inputs gathered."""
    credential = keys.get(stage.signs_with) if stage.signs_with else None
    rolls_itself = profile.object_id is not None
    settings = (
        connection_settings(profile, access.info, timeout=callbacks.timeout)
        if stage.needs_tenant
        else None
    )
    if stage.name == "upload":
        if rolls_itself:
            assert settings is not None
            profile = work.add_new_key(profile, settings, keys["old"])
        else:
            profile = work.upload_new_certificate(profile, access.portal)
        return StageOutcome(stage, profile, done=True)
    if stage.name == "test":
        assert credential is not None
        assert settings is not None
        tested = work.test_new_certificate(
            profile,
            settings,
            credential,
            on_check=callbacks.on_check,
            on_probe=callbacks.on_probe,
            cancel=callbacks.cancel,
        )
        return StageOutcome(stage, tested.profile, done=tested.verdict == "pass", test=tested)
    if stage.name == "switch":
        return StageOutcome(stage, work.confirm_switch(profile), done=True)
    if stage.name == "retire":
        assert credential is not None and settings is not None
        retired = work.retire_old_certificate(
            profile,
            settings,
            credential,
            access.portal,
            cancel=callbacks.cancel,
            remover=keys.get("new") if rolls_itself else None,
        )
        return StageOutcome(stage, retired.profile, done=retired.refused, retire=retired)
    if stage.name == "archive":
        return StageOutcome(stage, work.archive_old_files(profile), done=True)
    raise AssertionError(f"no work for the stage {stage.name}")
