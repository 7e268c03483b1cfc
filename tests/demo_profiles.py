"""Saved profiles for the rotation tests (engine and screen): a demo profile whose certificate
is uploaded to the demo tenant, a real-tenant one, and the thumbprints to remove from the
demo tenant afterwards."""

from __future__ import annotations

from pathlib import Path

from wizard import certs
from wizard.emulator import DemoInfo
from wizard.portal import PortalClient
from wizard.profiles import Profile, load_profiles, profile_from_files, save_profile
from wizard.storage import write_certificate_set


def save_uploaded_demo_profile(
    demo_info: DemoInfo,
    demo_portal: PortalClient,
    *,
    certificate_name: str,
    profile_name: str,
    out_root: Path,
    passphrase: bytes | None,
    last_test: str | None = None,
) -> Profile:
    """Generate a certificate, upload it to the consented demo app, save it as a profile."""
    generated = certs.generate_certificate(certificate_name)
    files = write_certificate_set(
        generated, certificate_name, out_root=out_root, passphrase=passphrase
    ).files
    demo_portal.upload_certificate(demo_info.client_id, certs.cert_der(generated.certificate))
    profile = profile_from_files(
        name=profile_name,
        files=files,
        cloud="global",
        tenant=demo_info.tenant_id,
        client_id=demo_info.client_id,
        demo=True,
        demo_state_dir=Path(demo_info.state_dir),
        last_test=last_test,
    )
    save_profile(profile)
    return profile


def save_real_tenant_profile(*, certificate_name: str, profile_name: str, out_root: Path) -> Profile:
    """A certificate without a passphrase, saved as a profile of a (never reached) real tenant."""
    generated = certs.generate_certificate(certificate_name)
    files = write_certificate_set(
        generated, certificate_name, out_root=out_root, passphrase=None
    ).files
    profile = profile_from_files(
        name=profile_name,
        files=files,
        cloud="global",
        tenant="contoso.onmicrosoft.com",
        client_id="11111111-2222-4333-8444-555555555555",
    )
    save_profile(profile)
    return profile


def rotation_thumbprints(profile: Profile) -> set[str]:
    """`profile`'s thumbprint and every saved profile's, old and new (mid-rotation)."""
    mine = {profile.thumbprint_sha1}
    for saved in load_profiles():
        mine.add(saved.thumbprint_sha1)
        if saved.rotation is not None:
            mine.add(saved.rotation.new_thumbprint_sha1)
    return mine
