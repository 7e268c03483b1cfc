"""Where a rotation stands: the next stage, which stage may run now, and the profile's two
certificates side by side (the old one it had, the new one it will have)."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from wizard.errors import UserError
from wizard.profiles import Profile, RotationState
from wizard.rotation.stages import ROTATION_DONE, STAGES, stage_number, stage_title
from wizard.snippets import snippet_diff


def next_stage(profile: Profile) -> str:
    """The stage to do next: "generate" when no rotation is under way, "done" when finished."""
    return profile.rotation.stage if profile.rotation is not None else STAGES[0].name


def stage_done(profile: Profile, stage: str) -> bool:
    """True when `stage` of the current rotation is behind us."""
    return stage_number(next_stage(profile)) > stage_number(stage) and profile.rotation is not None


def status_lines(profile: Profile) -> list[str]:
    """A short human account of the rotation, one line per stage."""
    state = profile.rotation
    if state is None:
        return [
            f'No rotation under way for "{profile.name}". Start one with: '
            f"entra-cert-wizard rotate {profile.shell_name}"
        ]
    current = next_stage(profile)
    lines = [f'Rotation of "{profile.name}" started {state.started_at:%Y-%m-%d %H:%M} UTC:']
    for number, stage in enumerate(STAGES, start=1):
        mark = (
            "done" if stage_done(profile, stage.name) else ("NEXT" if stage.name == current else "")
        )
        lines.append(f"  [{mark:>4}] {number}. {stage.title}")
    if state.new_thumbprint_sha1:
        lines.append(
            f"  New certificate: {state.new_thumbprint_sha1}, "
            f"files in {Path(state.new_cert_path).parent}"
        )
    return lines


def check_stage_allowed(profile: Profile, stage: str) -> None:
    """UserError unless `stage` can run now: the next one, or test/switch again before retire."""
    current = next_stage(profile)
    if stage == current:
        return
    if current == ROTATION_DONE:
        raise UserError(
            f'The rotation of "{profile.name}" is finished; nothing left to do.', exit_code=2
        )
    repeatable = stage in ("test", "switch") and stage_done(profile, stage)
    if repeatable and stage_number(current) <= stage_number("retire") and current != "archive":
        return
    # The user-facing words keep "step": the command line's option is --step.
    if stage_done(profile, stage):
        raise UserError(
            f'Stage "{stage}" of the rotation of "{profile.name}" is already done; '
            f'the next one is "{current}".',
            hint=f"Run: entra-cert-wizard rotate {profile.shell_name} --step {current}",
            exit_code=2,
        )
    raise UserError(
        f'Stage "{stage}" cannot run yet: the rotation of "{profile.name}" is at "{current}" '
        f"({stage_title(current)}).",
        hint=f"Run: entra-cert-wizard rotate {profile.shell_name} --step {current}",
        exit_code=2,
    )


def rotation_at(profile: Profile, stage: str) -> RotationState:
    """The rotation under way, once `stage` is allowed to run (UserError otherwise)."""
    check_stage_allowed(profile, stage)
    if profile.rotation is None:
        raise UserError(f'No rotation is under way for "{profile.name}".', exit_code=2)
    return profile.rotation


def new_profile_view(profile: Profile) -> Profile:
    """The profile as it will be once the new certificate replaces the old one."""
    state = profile.rotation
    if state is None or not state.new_thumbprint_sha1:
        return profile
    return replace(
        profile,
        thumbprint_sha1=state.new_thumbprint_sha1,
        thumbprint_sha256=state.new_thumbprint_sha256,
        cert_path=state.new_cert_path,
        key_path=state.new_key_path,
        pfx_path=state.new_pfx_path,
        cer_path=state.new_cer_path,
        not_after=state.new_not_after or profile.not_after,
        rotation=None,
    )


def old_profile_view(profile: Profile) -> Profile:
    """The profile as it was before the rotation (its old certificate)."""
    state = profile.rotation
    if state is None or not state.old_cert_path:
        return profile
    return replace(
        profile,
        thumbprint_sha1=state.old_thumbprint_sha1 or profile.thumbprint_sha1,
        thumbprint_sha256=state.old_thumbprint_sha256 or profile.thumbprint_sha256,
        cert_path=state.old_cert_path,
        key_path=state.old_key_path or profile.key_path,
        pfx_path=state.old_pfx_path,
        cer_path=state.old_cer_path,
        rotation=None,
    )


def switch_diff(profile: Profile) -> str:
    """The snippet lines that change when the script moves from the old to the new certificate."""
    return snippet_diff(old_profile_view(profile), new_profile_view(profile))
