"""Building a profile from the wizard's answers, and what `test --profile NAME` needs from one.

Kept apart from the model and the file: these pieces speak the wizard's and the command
line's language, and move with them.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from wizard.clock import utc_now
from wizard.errors import UserError
from wizard.profiles.model import CLOUD_KEYS, Profile
from wizard.profiles.store import default_demo_state_dir, get_profile, load_profiles, save_profile

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo
    from wizard.signin.plan import NegativeResult, PositiveResult
    from wizard.storage import CertificateFiles


# --- building a profile from the wizard ---------------------------------------------------


class WizardStateLike(Protocol):
    """What profile_from_state reads from screens.base.WizardState (kept Textual-free here)."""

    @property
    def demo(self) -> bool: ...
    @property
    def demo_info(self) -> DemoInfo | None: ...
    @property
    def name(self) -> str: ...
    @property
    def files(self) -> CertificateFiles | None: ...
    @property
    def client_id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def cloud_key(self) -> str: ...
    @property
    def positive(self) -> PositiveResult | None: ...
    @property
    def negative(self) -> NegativeResult | None: ...
    @property
    def profile_name(self) -> str | None: ...


def organization_domain_from(positive: PositiveResult | None) -> str | None:
    """The tenant's initial *.onmicrosoft.com domain (or the first verified one), if known."""
    organization = getattr(positive, "organization", None) if positive is not None else None
    if not isinstance(organization, dict):
        return None
    domains: list[str] = []
    for item in organization.get("verified_domains") or organization.get("verifiedDomains") or []:
        if isinstance(item, str):
            domains.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            if item.get("isInitial"):
                return str(item["name"])
            domains.append(str(item["name"]))
    for domain in domains:
        if domain.lower().endswith(".onmicrosoft.com"):
            return domain
    return domains[0] if domains else None


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
        demo_state_dir=str(demo_state_dir or default_demo_state_dir()) if demo else None,
        organization_domain=organization_domain,
        created_at=utc_now(),
        last_test=last_test,
        last_test_at=last_test_at,
    )


def profile_from_state(state: WizardStateLike, name: str | None = None) -> Profile:
    """The profile for what the wizard has set up and tested (does not save it)."""
    if state.files is None:
        raise UserError("No certificate was made in this session, so there is nothing to save.")
    verdict: str | None = None
    if state.positive is not None:
        from wizard.signin.plan import overall_verdict

        verdict = overall_verdict(state.positive, state.negative)
    existing_name = name or state.profile_name or state.name or state.files.stem
    info = state.demo_info
    demo_domain = info.tenant_domain if info is not None else None
    demo_state_dir = Path(info.state_dir) if info is not None and info.state_dir else None
    profile = profile_from_files(
        name=existing_name,
        files=state.files,
        cloud="global" if state.demo else state.cloud_key,
        tenant=state.tenant,
        client_id=state.client_id,
        demo=state.demo,
        demo_state_dir=demo_state_dir,
        organization_domain=organization_domain_from(state.positive) or demo_domain,
        last_test=verdict,
        last_test_at=utc_now() if verdict else None,
    )
    return _merged_with_saved(profile)


def _merged_with_saved(profile: Profile) -> Profile:
    """Keep what a re-save must not lose: history, and a rotation of this same certificate."""
    try:
        saved = next(
            (p for p in load_profiles() if p.name.casefold() == profile.name.casefold()), None
        )
    except UserError:
        return profile  # the save will report the damaged file
    if saved is None:
        return profile
    profile.name = saved.name
    profile.created_at = saved.created_at or profile.created_at
    profile.retired = list(saved.retired)
    profile.organization_domain = profile.organization_domain or saved.organization_domain
    if saved.thumbprint_sha1 == profile.thumbprint_sha1:
        profile.rotation = saved.rotation
    return profile


def save_profile_from_state(state: WizardStateLike, name: str | None = None) -> Profile:
    """Build the profile from the wizard's answers after a positive test, save and return it."""
    profile = profile_from_state(state, name)
    save_profile(profile)
    return profile


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
        else (default_demo_state_dir() if profile.demo else None),
    )
