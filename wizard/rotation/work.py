"""The work of each rotation stage: generate, upload, test, switch, retire, archive (and
abandon). Each function checks that its stage may run, saves the profile and returns it (or an
outcome holding it); none prompts, prints or imports Textual. The runner drives them.
"""

from __future__ import annotations

import contextlib
import os
import re
import shutil
import threading
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from wizard.clock import utc_now
from wizard.entra_portal import ADMIN_CENTER_URL, CERTIFICATES, UPLOAD_CERTIFICATE
from wizard.errors import UserError
from wizard.profiles import Profile, RotationState, certificate_folder_of, save_profile
from wizard.rotation.access import registered_thumbprints
from wizard.rotation.progress import (
    check_stage_allowed,
    new_profile_view,
    old_profile_view,
    rotation_at,
)
from wizard.rotation.stages import stage_number

if TYPE_CHECKING:
    from wizard.portal import PortalClient
    from wizard.signin.plan import Check, NegativeResult, PositiveResult, ProbeResult
    from wizard.signin.settings import ConnectionSettings, Credential

OLD_KEY_REFUSED_CODE = "AADSTS700027"
_DATED_SUFFIX = re.compile(r"-\d{8}(-\d+)?$")



def _new_folder_stem(old_stem: str, root: Path, now: datetime) -> str:
    base = f"{_DATED_SUFFIX.sub('', old_stem)}-{now:%Y%m%d}"
    stem, counter = base, 2
    while (root / stem).exists():
        stem = f"{base}-{counter}"
        counter += 1
    return stem


# --- stage 1: generate ---------------------------------------------------------------------


def generate_new_certificate(
    profile: Profile,
    *,
    passphrase: bytes | None,
    days: int | None = None,
    key_size: int | None = None,
    now: datetime | None = None,
    on_stage: Callable[[str], None] | None = None,
) -> Profile:
    """Stage 1: a new key and certificate (same CN) in `<stem>-<YYYYmmdd>/` beside the old folder.

    Validity and key size default to the old certificate's. The old files are not touched.
    """
    if profile.rotation is None or profile.rotation.stage != "generate":
        check_stage_allowed(profile, "generate")
    from wizard import certs
    from wizard.storage import write_certificate_set

    now = now or utc_now()
    old_cert_path = Path(profile.cert_path)
    try:
        old_cert = certs.load_certificate_file(old_cert_path)
        name = certs.subject_cn(old_cert) or profile.certificate_name or profile.name
        old_days = (certs.not_valid_after(old_cert) - certs.not_valid_before(old_cert)).days
        old_key_size = old_cert.public_key().key_size  # type: ignore[union-attr]
    except UserError:
        name = profile.certificate_name or profile.name
        old_days, old_key_size = certs.DEFAULT_DAYS, certs.DEFAULT_KEY_SIZE
    days = days or max(1, min(old_days, certs.MAX_DAYS))
    key_size = key_size or (
        old_key_size if old_key_size in certs.KEY_SIZES else certs.DEFAULT_KEY_SIZE
    )
    old_folder = old_cert_path.parent
    root = old_folder.parent
    stem = _new_folder_stem(old_folder.name, root, now)
    if on_stage is not None:
        on_stage(f"Generating a {key_size}-bit RSA key and a certificate valid {days} days")
    generated = certs.generate_certificate(name, days=days, key_size=key_size, now=now)
    result = write_certificate_set(
        generated, stem, out_root=root, passphrase=passphrase, on_stage=on_stage
    )
    files = result.files
    profile.rotation = RotationState(
        stage="upload",
        started_at=now,
        new_cert_path=str(files.pem.resolve()),
        new_key_path=str(files.key.resolve()),
        new_pfx_path=str(files.pfx.resolve()) if files.pfx else None,
        new_cer_path=str(files.cer.resolve()),
        new_thumbprint_sha1=certs.thumbprint_sha1(generated.certificate),
        new_thumbprint_sha256=certs.thumbprint_sha256(generated.certificate),
        new_not_after=certs.not_valid_after(generated.certificate),
        old_thumbprint_sha1=profile.thumbprint_sha1,
        old_thumbprint_sha256=profile.thumbprint_sha256,
        old_cert_path=profile.cert_path,
        old_key_path=profile.key_path,
        old_pfx_path=profile.pfx_path,
        old_cer_path=profile.cer_path,
        old_not_after=profile.not_after,
    )
    save_profile(profile)
    return profile


# --- stage 2: upload -----------------------------------------------------------------------


def upload_instructions(profile: Profile) -> list[str]:
    """What to click in the real portal to upload the new .cer (keep the old one!)."""
    state = profile.rotation
    cer = state.new_cer_path if state is not None else None
    return [
        f"Open: {UPLOAD_CERTIFICATE} ({ADMIN_CENTER_URL})",
        f"   (the app with Application (client) ID {profile.client_id})",
        f"Choose the file: {cer}",
        "Description: anything, e.g. the date; then Add.",
        "Do NOT delete the old certificate yet: both must work until your script has switched.",
        f"The portal then lists the new thumbprint {state.new_thumbprint_sha1 if state else ''}.",
    ]


def upload_new_certificate(profile: Profile, portal: PortalClient | None) -> Profile:
    """Stage 2. Demo (`portal` given): upload the new .cer for real and check the thumbprint.
    Real tenant (`portal` None): record the user's word that it was uploaded."""
    state = rotation_at(profile, "upload")
    registered = registered_thumbprints(portal, profile.client_id) if portal is not None else set()
    if portal is not None and state.new_thumbprint_sha1.upper() not in registered:
        cer = Path(state.new_cer_path or "")
        if not state.new_cer_path or not cer.is_file():
            raise UserError(f"The new .cer file {cer} is missing, so there is nothing to upload.")
        from wizard.certs import read_input_file

        data = read_input_file(cer, "certificate")
        thumbprint = portal.upload_certificate(profile.client_id, data)
        if thumbprint.upper() != state.new_thumbprint_sha1.upper():
            raise UserError(
                f"The portal computed thumbprint {thumbprint}, not "
                f"{state.new_thumbprint_sha1}: a different certificate was uploaded."
            )
    state.uploaded_at = utc_now()
    state.stage = "test"
    save_profile(profile)
    return profile


def add_new_key(profile: Profile, settings: ConnectionSettings, current: Credential) -> Profile:
    """Stage 2 when the app rolls its own keys: Graph addKey, proven with the current key.

    The new key's keyId is chosen here and saved before the call, so a run killed after Graph
    added the key still knows which key to keep, and one that repeats the call finds it there.
    """
    import uuid

    from wizard.certs import read_input_file
    from wizard.rotation import self_service

    state = rotation_at(profile, "upload")
    object_id = profile.object_id or ""
    cer = Path(state.new_cer_path or "")
    if not state.new_cer_path or not cer.is_file():
        raise UserError(f"The new .cer file {cer} is missing, so there is nothing to upload.")
    from wizard import certs

    der = certs.cert_der(certs.load_certificate_bytes(read_input_file(cer, "certificate")))
    if state.new_key_id is None:
        state.new_key_id = str(uuid.uuid4())
        save_profile(profile)
    self_service.add_key(settings, current, object_id, der, key_id=state.new_key_id)
    state.uploaded_at = utc_now()
    state.stage = "test"
    save_profile(profile)
    return profile


def old_key_id(profile: Profile, portal: PortalClient | None) -> str:
    """The keyId of the certificate being retired: the profile's, or (demo) the portal's."""
    if profile.key_id:
        return profile.key_id
    state = profile.rotation
    thumbprint = (state.old_thumbprint_sha1 if state else None) or profile.thumbprint_sha1
    if portal is not None:
        for app in portal.list_applications():
            if str(app.get("client_id", "")).lower() != profile.client_id.lower():
                continue
            for key in app.get("key_credentials") or []:
                if isinstance(key, dict) and str(key.get("thumbprint", "")).upper() == thumbprint:
                    return str(key.get("key_id", ""))
    raise UserError(
        f"The keyId of the old certificate ({thumbprint}) is not known, so Graph's removeKey "
        "cannot name it.",
        hint="Find it in the portal (Certificates & secrets: the Certificate ID of that "
        f"thumbprint) and run: entra-cert-wizard rotate {profile.shell_name} --key-id GUID",
        exit_code=2,
    )


# --- stage 3: test -------------------------------------------------------------------------


@dataclass
class RotationTestOutcome:
    """What testing the new certificate found, and the profile after it."""

    profile: Profile
    positive: PositiveResult
    negative: NegativeResult | None
    verdict: str  # "pass" | "fail" | "inconclusive"


def test_new_certificate(
    profile: Profile,
    settings: ConnectionSettings,
    credential: Credential,
    *,
    on_check: Callable[[Check], None] | None = None,
    on_probe: Callable[[ProbeResult], None] | None = None,
    cancel: threading.Event | None = None,
) -> RotationTestOutcome:
    """Stage 3: positive test with the new certificate (patient just after its upload)
    then the negative test. Moves on to "switch" only when both pass."""
    from wizard.signin.run import just_uploaded, run_tests

    state = rotation_at(profile, "test")
    result = run_tests(
        settings,
        credential,
        recently_uploaded=just_uploaded(state.uploaded_at, utc_now()),
        on_check=on_check,
        on_probe=on_probe,
        cancel=cancel,
    )
    positive, negative, verdict = result.positive, result.negative, result.verdict
    state.tested_at = utc_now()
    state.test_verdict = verdict
    if verdict == "pass" and state.stage == "test":
        state.stage = "switch"
    elif verdict != "pass":
        state.stage = "test"  # a failed re-test: no switching to a certificate that fails
    save_profile(profile)
    return RotationTestOutcome(
        profile=profile, positive=positive, negative=negative, verdict=verdict
    )


# --- stage 4: switch -----------------------------------------------------------------------


def confirm_switch(profile: Profile) -> Profile:
    """Stage 4: the user says the script now uses the new files/thumbprint."""
    state = rotation_at(profile, "switch")
    state.switched_at = utc_now()
    if state.stage == "switch":
        state.stage = "retire"
    save_profile(profile)
    return profile


# --- stage 5: retire -----------------------------------------------------------------------


def removal_instructions(profile: Profile) -> list[str]:
    """What to click in the real portal to remove the OLD certificate."""
    state = profile.rotation
    old = (
        state.old_thumbprint_sha1
        if state is not None and state.old_thumbprint_sha1
        else profile.thumbprint_sha1
    )
    new = state.new_thumbprint_sha1 if state is not None else ""
    return [
        f"Open: {CERTIFICATES} ({ADMIN_CENTER_URL})",
        f"   (the app with Application (client) ID {profile.client_id})",
        f"Find the OLD certificate, thumbprint {old}, and click its Delete (bin) icon; confirm.",
        f"Keep the NEW one, thumbprint {new}.",
    ]


@dataclass
class RetireOutcome:
    """Whether the old certificate was proven refused, and the profile after it."""

    profile: Profile
    refused: bool  # the old certificate was refused with AADSTS700027: proven dead
    observed: str  # the code seen, or "token issued", or the error title
    detail: str


def retire_old_certificate(
    profile: Profile,
    settings: ConnectionSettings,
    old: Credential,
    portal: PortalClient | None,
    *,
    cancel: threading.Event | None = None,
    remover: Credential | None = None,
) -> RetireOutcome:
    """Stage 5. Demo (`portal` given): delete the old certificate for real; real tenant: the user
    removed it; `remover` given (the app rolls its own keys): Graph removeKey, proven with the
    new key. Then prove it: a token request signed with the old key must be refused as
    "key not registered" (AADSTS700027, or the other forms Entra uses for it). Only then does the profile switch to the new certificate."""
    from wizard.signin.positive import run_positive

    state = rotation_at(profile, "retire")
    old_thumbprint = state.old_thumbprint_sha1 or profile.thumbprint_sha1
    if remover is not None:
        from wizard.rotation import self_service

        self_service.remove_key(
            settings, remover, profile.object_id or "", old_key_id(profile, portal)
        )
    elif portal is not None and old_thumbprint.upper() in registered_thumbprints(
        portal, profile.client_id
    ):
        portal.delete_certificate(profile.client_id, old_thumbprint)
    result = run_positive(settings, old, cancel=cancel)
    code = result.error.code if result.error is not None else ""
    if result.signed_in or result.ok:
        return RetireOutcome(
            profile,
            refused=False,
            observed="token issued",
            detail="The old certificate still gets a token: it is still registered on the app "
            "(or the removal has not reached every server yet). Check the portal and try again "
            "in a minute.",
        )
    if not result.refused_the_certificate:
        title = result.error.title if result.error is not None else "no answer"
        return RetireOutcome(
            profile,
            refused=False,
            observed=code or title,
            detail=f"The request with the old certificate failed with {code or title}, not with "
            f"{OLD_KEY_REFUSED_CODE} (key not found): that does not prove the old certificate "
            "is gone. Check the connection and try again.",
        )
    state.retired_at = utc_now()
    state.retire_proof = code
    state.stage = "archive"
    # From here the profile is the new certificate: the old one is dead.
    new_view = new_profile_view(profile)
    profile.thumbprint_sha1 = new_view.thumbprint_sha1
    profile.thumbprint_sha256 = new_view.thumbprint_sha256
    profile.cert_path = new_view.cert_path
    profile.key_path = new_view.key_path
    profile.pfx_path = new_view.pfx_path
    profile.cer_path = new_view.cer_path
    profile.not_after = new_view.not_after
    profile.key_id = state.new_key_id
    if state.test_verdict in ("pass", "fail", "inconclusive"):
        profile.last_test = state.test_verdict
        profile.last_test_at = state.tested_at
    save_profile(profile)
    return RetireOutcome(
        profile,
        refused=True,
        observed=code,
        detail=f"The old certificate ({old_thumbprint}) was refused with {code}: the key was not "
        "found on the app. The old key is dead; only the new certificate works now.",
    )


# --- stage 6: archive ----------------------------------------------------------------------


def _files_to_archive(state: RotationState, old_summary: Path) -> tuple[Path | None, list[Path]]:
    """The old certificate's own folder and the old files in it, each under the name the tool
    gave it; UserError (nothing moved) when the profile names any file elsewhere."""
    folder = certificate_folder_of(state.old_cert_path)
    stem = folder.name if folder is not None else ""
    expected = {
        "certificate": (state.old_cert_path, (".pem", ".cer")),
        "private key": (state.old_key_path, (".key",)),
        "PFX": (state.old_pfx_path, (".pfx",)),
        ".cer": (state.old_cer_path, (".cer",)),
    }
    files: list[Path] = []
    for role, (recorded, suffixes) in expected.items():
        if not recorded:
            continue
        path = Path(os.path.abspath(recorded))
        if not path.exists() and not path.is_symlink():
            continue  # already gone: nothing to move
        if folder is None or path.parent != folder or path.name not in {
            f"{stem}{suffix}" for suffix in suffixes
        }:
            raise UserError(
                f"The rotation's old {role} is recorded as {path}, which is not in the old "
                "certificate's own folder under the name this tool gave it, so nothing was "
                "moved (the profiles file may have been edited).",
                hint="Move the old files away yourself, then run this step again to finish.",
            )
        if path.is_symlink() or not path.is_file():
            raise UserError(
                f"The rotation's old {role} {path} is not a regular file, so nothing was moved.",
                hint="Move it away yourself, then run this step again to finish.",
            )
        files.append(path)
    if folder is not None and old_summary.parent == folder and old_summary.is_file():
        files.append(old_summary)
    return folder, list(dict.fromkeys(files))


def archive_old_files(profile: Profile, *, now: datetime | None = None) -> Profile:
    """Stage 6: move the old files to `<root>/archive/<old folder>-retired-<YYYYmmdd>/` (nothing
    is deleted), write the new summary, record the retired thumbprint, end the rotation.

    Only files in the old certificate's own folder, under their expected names, are moved, into
    a folder made fresh for them (so nothing is ever moved onto another file); the old folder is
    removed only when that leaves it empty.
    """
    from wizard.storage import ensure_private_dir
    from wizard.summary import summary_path_for, write_summary

    state = rotation_at(profile, "archive")
    now = now or utc_now()
    old_folder, present = _files_to_archive(state, summary_path_for(old_profile_view(profile)))
    archive: Path | None = None
    if present and old_folder is not None:
        shelf = ensure_private_dir(old_folder.parent / "archive")
        base = shelf / f"{old_folder.name}-retired-{now:%Y%m%d}"
        archive, counter = base, 2
        while True:
            try:
                archive.mkdir(mode=0o700)  # fails on anything already there: ours alone
                break
            except FileExistsError:
                archive = base.with_name(f"{base.name}-{counter}")
                counter += 1
            except OSError as error:
                raise UserError(f"Cannot make the archive folder {archive}: {error.strerror}.") from None
        for path in present:
            target = archive / path.name
            try:
                if target.exists() or target.is_symlink():
                    raise FileExistsError(target)
                shutil.move(str(path), str(target))
            except OSError as error:
                raise UserError(
                    f"Could not move {path} into {archive}: {error.strerror or error}.",
                    hint="Nothing was deleted; move the remaining old files yourself, then run "
                    "this step again to finish.",
                ) from None
        with contextlib.suppress(OSError):
            old_folder.rmdir()  # only when empty: anything else the user kept there stays
    profile.retired.append(
        {
            "thumbprint_sha1": state.old_thumbprint_sha1 or "",
            "not_after": state.old_not_after.isoformat(timespec="seconds")
            if state.old_not_after
            else "",
            "retired_at": (state.retired_at or now).isoformat(timespec="seconds"),
            "archive_folder": str(archive) if archive else "",
        }
    )
    state.archive_folder = str(archive) if archive else None
    profile.rotation = None
    save_profile(profile)
    write_summary(profile, now=now)
    return profile


def abandon_rotation(profile: Profile, portal: PortalClient | None = None) -> Profile:
    """Stop a rotation before the old certificate is retired; the new files are left in place.

    Demo (`portal` given): the new certificate is also removed from the app registration.
    """
    state = profile.rotation
    if state is None:
        raise UserError(f'No rotation is under way for "{profile.name}".', exit_code=2)
    if stage_number(state.stage) > stage_number("retire"):
        raise UserError(
            "The old certificate is already retired, so the rotation cannot be undone; finish it "
            f"with: entra-cert-wizard rotate {profile.shell_name}",
            exit_code=2,
        )
    if portal is not None and state.new_thumbprint_sha1.upper() in registered_thumbprints(
        portal, profile.client_id
    ):
        portal.delete_certificate(profile.client_id, state.new_thumbprint_sha1)
    profile.rotation = None
    save_profile(profile)
    return profile
