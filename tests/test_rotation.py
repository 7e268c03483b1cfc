"""Rotation against the real demo tenant: the new certificate works, the old one is proven
refused (AADSTS700027), the profile follows, old files are archived, and every step resumes
from the saved profile alone."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from demo_profiles import rotation_thumbprints, save_uploaded_demo_profile

from wizard import certs
from wizard.emulator import DemoTenant, Fault
from wizard.errors import UserError
from wizard.profiles import Profile, get_profile, save_profile
from wizard.rotation import access, progress, work
from wizard.signin.positive import run_positive
from wizard.signin.settings import Credential

NEW_PASSPHRASE = b"the new key's passphrase"
OLD_PASSPHRASE = b"the old key's passphrase"


def registered(demo_portal, client_id: str) -> set[str]:  # type: ignore[no-untyped-def]
    for app in demo_portal.list_applications():
        if app["client_id"].lower() == client_id.lower():
            return {k["thumbprint"].upper() for k in app["key_credentials"]}
    raise AssertionError("app not found")


@pytest.fixture
def demo_profile(demo_info, demo_portal, tmp_path: Path) -> Iterator[Profile]:  # type: ignore[no-untyped-def]
    """A saved demo profile whose (encrypted) certificate is uploaded and works."""
    profile = save_uploaded_demo_profile(
        demo_info,
        demo_portal,
        certificate_name="Rotate Me",
        profile_name="rotate-me",
        out_root=tmp_path / "certs",
        passphrase=OLD_PASSPHRASE,
        last_test="pass",
    )
    yield profile
    # leave the shared demo tenant as we found it
    for thumbprint in rotation_thumbprints(profile) & registered(demo_portal, demo_info.client_id):
        demo_portal.delete_certificate(demo_info.client_id, thumbprint)


def test_end_to_end_rotation_resuming_from_the_saved_profile_at_every_step(
    demo_info,
    demo_portal,
    demo_profile: Profile,  # type: ignore[no-untyped-def]
) -> None:
    old = demo_profile
    old_key_bytes = Path(old.key_path).read_bytes()
    settings = access.connection_settings(get_profile(old.name), demo_info)
    assert progress.next_stage(get_profile(old.name)) == "generate"

    # 1 generate: same CN, new dated folder beside the old one, old files untouched
    profile = work.generate_new_certificate(get_profile(old.name), passphrase=NEW_PASSPHRASE)
    state = profile.rotation
    assert state is not None and state.stage == "upload"
    new_folder = Path(state.new_cert_path).parent
    assert new_folder.parent == Path(old.cert_path).parent.parent
    assert new_folder.name.startswith("Rotate_Me-") and len(new_folder.name) == len(
        "Rotate_Me-20260101"
    )
    new_cert = certs.load_certificate_file(state.new_cert_path)
    assert certs.subject_cn(new_cert) == "Rotate Me"
    assert state.new_thumbprint_sha1 == certs.thumbprint_sha1(new_cert) != old.thumbprint_sha1
    assert Path(old.key_path).read_bytes() == old_key_bytes
    assert access.key_is_encrypted(state.new_key_path)

    # 2 upload beside the old one: both registered at once
    profile = work.upload_new_certificate(get_profile(old.name), demo_portal)
    assert {old.thumbprint_sha1, state.new_thumbprint_sha1} <= registered(
        demo_portal, demo_info.client_id
    )
    assert progress.next_stage(get_profile(old.name)) == "test"

    # 3 test with the new certificate: positive and negative
    outcome = work.test_new_certificate(
        get_profile(old.name),
        settings,
        access.new_credential(get_profile(old.name), NEW_PASSPHRASE),
    )
    assert outcome.verdict == "pass" and outcome.positive.ok
    assert outcome.negative is not None and outcome.negative.verdict == "pass"
    assert progress.next_stage(get_profile(old.name)) == "switch"

    # both still work while the script switches
    assert run_positive(settings, access.old_credential(get_profile(old.name), OLD_PASSPHRASE)).ok

    # 4 switch: the exact lines that change
    diff = progress.switch_diff(get_profile(old.name))
    assert (
        f"- Connect-MgGraph -ClientId '{old.client_id}' -TenantId '{old.tenant}' "
        f"-CertificateThumbprint '{old.thumbprint_sha1}'" in diff
    )
    assert (
        f"+ Connect-MgGraph -ClientId '{old.client_id}' -TenantId '{old.tenant}' "
        f"-CertificateThumbprint '{state.new_thumbprint_sha1}'" in diff
    )
    profile = work.confirm_switch(get_profile(old.name))
    assert progress.next_stage(profile) == "retire"

    # 5 retire: removed for real, then proven refused with AADSTS700027
    retired = work.retire_old_certificate(
        get_profile(old.name),
        settings,
        access.old_credential(get_profile(old.name), OLD_PASSPHRASE),
        demo_portal,
    )
    assert retired.refused and retired.observed == "AADSTS700027"
    assert old.thumbprint_sha1 not in registered(demo_portal, demo_info.client_id)
    profile = get_profile(old.name)
    assert profile.thumbprint_sha1 == state.new_thumbprint_sha1
    assert profile.not_after == state.new_not_after
    assert profile.rotation is not None and profile.rotation.retire_proof == "AADSTS700027"
    # the old key really is dead, the new one really works
    dead = run_positive(
        settings, Credential.from_files(old.cert_path, old.key_path, OLD_PASSPHRASE)
    )
    assert not dead.ok and dead.error is not None and dead.error.code == "AADSTS700027"
    assert run_positive(settings, access.new_credential(profile, NEW_PASSPHRASE)).ok

    # 6 archive: old files moved (not deleted), byte for byte; rotation ends
    profile = work.archive_old_files(get_profile(old.name))
    assert profile.rotation is None
    archive = Path(profile.retired[-1]["archive_folder"])
    assert archive.parent.name == "archive" and "-retired-" in archive.name
    assert (archive / Path(old.key_path).name).read_bytes() == old_key_bytes
    assert {p.name for p in archive.iterdir()} >= {
        Path(old.cert_path).name,
        Path(old.key_path).name,
        Path(old.pfx_path or "").name,
    }
    assert not Path(old.key_path).exists()
    assert profile.retired[-1]["thumbprint_sha1"] == old.thumbprint_sha1
    summary = Path(profile.cert_path).with_name(f"{Path(profile.cert_path).stem}-summary.md")
    assert state.new_thumbprint_sha1 in summary.read_text()
    assert progress.next_stage(profile) == "generate"  # ready for the next rotation, a year on


def test_steps_run_in_order_and_say_which_comes_next(demo_profile: Profile) -> None:
    with pytest.raises(
        UserError, match=r'cannot run yet: the rotation of "rotate-me" is at "generate"'
    ):
        progress.check_stage_allowed(demo_profile, "retire")
    profile = work.generate_new_certificate(demo_profile, passphrase=None)
    with pytest.raises(
        UserError,
        match=r'"generate" of the rotation of "rotate-me" is already done; '
        r'the next one is "upload"',
    ):
        progress.check_stage_allowed(profile, "generate")
    with pytest.raises(UserError, match=r'"switch" cannot run yet') as caught:
        work.confirm_switch(profile)
    assert caught.value.hint == "Run: entra-cert-wizard rotate rotate-me --step upload"
    assert "NEXT" in "\n".join(progress.status_lines(profile))


def test_retire_without_removal_is_not_proven_and_keeps_the_profile(
    demo_info,
    demo_portal,
    demo_profile: Profile,  # type: ignore[no-untyped-def]
) -> None:
    """Real-tenant path where the user says "removed" but did not: the old key still works."""
    settings = access.connection_settings(demo_profile, demo_info)
    profile = work.generate_new_certificate(demo_profile, passphrase=None)
    profile = work.upload_new_certificate(profile, demo_portal)
    profile.rotation.stage = "retire"  # type: ignore[union-attr]
    save_profile(profile)
    outcome = work.retire_old_certificate(
        profile, settings, access.old_credential(profile, OLD_PASSPHRASE), portal=None
    )
    assert not outcome.refused and outcome.observed == "token issued"
    assert "still gets a token" in outcome.detail
    saved = get_profile(profile.name)
    assert (
        saved.thumbprint_sha1 == demo_profile.thumbprint_sha1
        and progress.next_stage(saved) == "retire"
    )
    work.abandon_rotation(saved, demo_portal)
    assert profile.rotation is not None
    assert profile.rotation.new_thumbprint_sha1 not in registered(demo_portal, demo_info.client_id)
    assert get_profile(profile.name).rotation is None


@pytest.mark.parametrize("code", [700027, 7000274, 70002])
def test_retire_counts_every_form_of_the_key_refusal_as_proof(
    demo_tenant: DemoTenant,
    demo_portal,  # type: ignore[no-untyped-def]
    demo_profile: Profile,
    code: int,
) -> None:
    """Entra refuses an unregistered key as 700027, 7000274 or the pair [70002, 50012]: each
    proves the old certificate is gone."""
    settings = access.connection_settings(demo_profile, demo_tenant.info)
    profile = work.generate_new_certificate(demo_profile, passphrase=None)
    profile = work.upload_new_certificate(profile, demo_portal)
    profile.rotation.stage = "retire"  # type: ignore[union-attr]
    save_profile(profile)
    demo_tenant.set_fault(Fault("key-refusal", "token", code=code))
    try:
        outcome = work.retire_old_certificate(
            profile, settings, access.old_credential(profile, OLD_PASSPHRASE), portal=demo_portal
        )
    finally:
        demo_tenant.set_fault(None)
    assert outcome.refused, outcome.detail
    assert progress.next_stage(get_profile(profile.name)) == "archive"


def test_abandon_is_refused_once_the_old_certificate_is_retired(demo_profile: Profile) -> None:
    profile = work.generate_new_certificate(demo_profile, passphrase=None)
    profile.rotation.stage = "archive"  # type: ignore[union-attr]
    with pytest.raises(UserError, match="already retired"):
        work.abandon_rotation(profile)
    profile.rotation = None
    with pytest.raises(UserError, match="No rotation is under way"):
        work.abandon_rotation(profile)


def test_second_rotation_on_the_same_day_gets_its_own_folder(demo_profile: Profile) -> None:
    first = work.generate_new_certificate(demo_profile, passphrase=None)
    assert first.rotation is not None
    first_folder = Path(first.rotation.new_cert_path).parent
    work.abandon_rotation(first)
    second = work.generate_new_certificate(get_profile(demo_profile.name), passphrase=None)
    assert second.rotation is not None
    second_folder = Path(second.rotation.new_cert_path).parent
    assert second_folder.name == f"{first_folder.name}-2"
    assert (first_folder / f"{first_folder.name}.key").exists()  # abandoned files stay


def test_a_failed_retest_moves_the_rotation_back_to_test(
    demo_info,
    demo_portal,
    demo_profile: Profile,  # type: ignore[no-untyped-def]
) -> None:
    settings = access.connection_settings(demo_profile, demo_info)
    profile = work.generate_new_certificate(demo_profile, passphrase=None)
    profile = work.upload_new_certificate(profile, demo_portal)
    credential = access.new_credential(profile, None)
    assert work.test_new_certificate(profile, settings, credential).verdict == "pass"
    assert progress.next_stage(get_profile(profile.name)) == "switch"
    # someone removes the new certificate in the portal; the user tests again
    assert profile.rotation is not None
    demo_portal.delete_certificate(demo_info.client_id, profile.rotation.new_thumbprint_sha1)
    from wizard.signin.positive import run_positive

    assert not run_positive(settings, credential).ok
    saved = get_profile(profile.name)
    saved.rotation.uploaded_at = None  # type: ignore[union-attr]
    outcome = work.test_new_certificate(
        saved, access.connection_settings(saved, demo_info, timeout=5), credential
    )
    assert outcome.verdict == "fail"
    assert progress.next_stage(get_profile(profile.name)) == "test"
