"""A profile from a written certificate set, and what `test --profile NAME` needs from one.

Kept apart from the model and the file: these pieces join a profile to certificate files
and to the command line's inputs.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING

from wizard.clock import utc_now
from wizard.errors import UserError
from wizard.paths import demo_tenant_dir
from wizard.profiles.model import CLOUD_KEYS, Profile
from wizard.profiles.store import get_profile

if TYPE_CHECKING:
    from wizard.storage import CertificateFiles


# --- a profile from a certificate set --------------------------------------------------------


def profile_from_files(
    *,
    name: str,
    files: CertificateFiles,
    cloud: str,
    tenant: str,
    client_id: str,
    demo: bool = False,
    demo_state_dir: Path | None = None,
    organization_domain: str | None = None,
    last_test: str | None = None,
    last_test_at: datetime | None = None,
) -> Profile:
    """A profile for the certificate in `files` (thumbprints and expiry read from its .cer)."""
    from wizard import certs

    certificate = certs.load_certificate_file(files.cer)
    cloud_key = cloud if cloud in CLOUD_KEYS else "global"
    return Profile(
        name=name,
        cloud=cloud_key,
        tenant=tenant,
        client_id=client_id,
        thumbprint_sha1=certs.thumbprint_sha1(certificate),
        thumbprint_sha256=certs.thumbprint_sha256(certificate),
        cert_path=str(Path(files.pem).resolve()),
        key_path=str(Path(files.key).resolve()),
        pfx_path=str(Path(files.pfx).resolve()) if files.pfx else None,
        cer_path=str(Path(files.cer).resolve()),
        not_after=certs.not_valid_after(certificate),
        certificate_name=certs.subject_cn(certificate),
        demo=demo,
        demo_state_dir=str(demo_state_dir or demo_tenant_dir()) if demo else None,
        organization_domain=organization_domain,
        created_at=utc_now(),
        last_test=last_test,
        last_test_at=last_test_at,
    )


# --- `test --profile NAME` ------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileConnectionInputs:
    """Everything `entra-cert-wizard test --profile NAME` needs besides the passphrase."""

    name: str
    cloud_key: str
    tenant: str
    client_id: str
    cert_path: Path
    key_path: Path
    pfx_path: Path | None
    demo: bool
    demo_state_dir: Path | None


def connection_inputs_for_profile(name: str) -> ProfileConnectionInputs:
    """The tenant, app, cloud and files of profile `name`; UserError if its files moved."""
    profile = get_profile(name)
    missing = profile.missing_files()
    if missing:
        raise UserError(
            f'Profile "{profile.name}": {", ".join(missing)} '
            f"{'is' if len(missing) == 1 else 'are'} no longer there.",
            hint="Move the files back, or run the wizard again to set up a new certificate.",
        )
    return ProfileConnectionInputs(
        name=profile.name,
        cloud_key=profile.cloud,
        tenant=profile.tenant,
        client_id=profile.client_id,
        cert_path=Path(profile.cert_path),
        key_path=Path(profile.key_path),
        pfx_path=Path(profile.pfx_path) if profile.pfx_path else None,
        demo=profile.demo,
        demo_state_dir=Path(profile.demo_state_dir)
        if profile.demo_state_dir
        else (demo_tenant_dir() if profile.demo else None),
    )
