"""Continuing after Generate: a certificate folder made in an earlier run, checked and reused.

Quitting after step 3 but before the test leaves the files and no profile. When the next run
reaches step 3 with the same name, the folder is checked here: a complete set (.cer, .pem,
.key, and the .pfx when there is a passphrase) whose key opens with the passphrase given on
step 2, matches the certificate, for this name, not expired. Such a set is taken into the
wizard as if it had just been generated, so it needs no new upload. Plain I/O and
cryptography, for a worker thread.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass
from datetime import datetime, timedelta
from pathlib import Path
from typing import TYPE_CHECKING

from wizard.clock import utc_now
from wizard.shown import shown

if TYPE_CHECKING:
    from wizard.session import WizardState
    from wizard.storage import CertificateFiles


@dataclass(frozen=True)
class ExistingSet:
    """A usable certificate set found on disk, and what it was made with."""

    files: CertificateFiles
    thumbprint_sha1: str
    not_after: datetime
    days: int
    key_size: int


def check_existing_set(
    folder: Path, name: str, passphrase: bytes | None, now: datetime | None = None
) -> ExistingSet | str:
    """The set in `folder` when it can be used as it is, else why not (one plain sentence,
    outside text shown escaped). `passphrase`: the one given on step 2 (None: no passphrase)."""
    from wizard import certs
    from wizard.errors import UserError
    from wizard.names import file_stem_for
    from wizard.paths import confinement_problem
    from wizard.storage import CertificateFiles

    outside = confinement_problem(folder)
    if outside is not None:
        return shown(outside)
    passphrase = passphrase or None
    stem = file_stem_for(name)
    files = CertificateFiles(
        folder=folder, stem=stem, cer=folder / f"{stem}.cer", pem=folder / f"{stem}.pem",
        key=folder / f"{stem}.key", pfx=folder / f"{stem}.pfx" if passphrase else None,
    )
    missing = [path.name for path in (files.cer, files.pem, files.key) if not path.is_file()]
    if missing:
        return f"It is not a complete set ({shown(', '.join(missing))} missing)."
    try:
        cert = certs.load_certificate_file(files.cer)
        if certs.thumbprint_sha1(certs.load_certificate_file(files.pem)) != certs.thumbprint_sha1(
            cert
        ):
            return f"Its {shown(files.pem.name)} and {shown(files.cer.name)} hold different certificates."
        key_data = certs.read_input_file(files.key, "private key")
        if passphrase is not None and _opens_without_passphrase(key_data):
            return (
                "Its key has no passphrase, but one was given on step 2. To use it, go back "
                "and tick the no-passphrase box."
            )
        key = certs.load_private_key_bytes(key_data, passphrase, shown(files.key.name))
        if files.pfx is not None and not files.pfx.is_file():
            return f"It is not a complete set ({shown(files.pfx.name)} missing)."
        if files.pfx is not None:
            in_pfx = certs.load_pfx_file(files.pfx, passphrase)[0]
            if certs.thumbprint_sha1(in_pfx) != certs.thumbprint_sha1(cert):
                return f"Its {shown(files.pfx.name)} holds another certificate."
    except certs.PassphraseNeeded:
        return "Its key is protected by a passphrase, and none was given on step 2."
    except certs.WrongPassphrase:
        return (
            "The passphrase given on step 2 does not open its key: go back and type the one "
            "chosen when it was made, or replace it."
        )
    except UserError as error:
        return shown(error.message)
    if not certs.key_matches_certificate(key, cert):
        return f"Its {shown(files.key.name)} is not the key of its certificate."
    if certs.subject_cn(cert) != name:
        return f"It was made for another name ({shown(certs.subject_cn(cert))})."
    try:
        open_to_others = os.name != "nt" and stat.S_IMODE(files.key.stat().st_mode) & 0o077
    except OSError as error:  # removed or made unreadable since it was read
        return f"Its {shown(files.key.name)} cannot be checked: {shown(error.strerror)}."
    if open_to_others:
        return f"Its {shown(files.key.name)} can be read by other users."
    not_before, not_after = certs.not_valid_before(cert), certs.not_valid_after(cert)
    if not_after <= (now or utc_now()):
        return f"It expired on {not_after:%Y-%m-%d}."
    lifetime = not_after - not_before - certs.CLOCK_SKEW
    return ExistingSet(
        files=files,
        thumbprint_sha1=certs.thumbprint_sha1(cert),
        not_after=not_after,
        days=max(1, round(lifetime / timedelta(days=1))),
        key_size=key.key_size,
    )


def _opens_without_passphrase(key_data: bytes) -> bool:
    from wizard import certs
    from wizard.errors import UserError

    try:
        certs.load_private_key_bytes(key_data, None)
    except UserError:
        return False
    return True


def use_existing_set(state: WizardState, existing: ExistingSet) -> None:
    """Take the set into the wizard as if just generated: the Name step's options become the
    ones it was made with, so Back and Next again keep it, and a change on step 2 remakes it."""
    state.days, state.key_size = existing.days, existing.key_size
    stages = ("Kept the certificate made earlier (not generated again)",)
    state.certificate_made(existing.files, existing.thumbprint_sha1, existing.not_after, stages)
