"""The wizard's session: the answers, the settings and credential a test uses, the one save of
the profile, the summary, and the wizard's own words for an engine error. No Textual here."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wizard import certs
from wizard.emulator import DemoInfo
from wizard.errors import UserError
from wizard.profiles import RotationState, get_profile, load_profiles, save_profile
from wizard.session import (
    WizardState,
    connection_settings,
    expiry_text,
    finish_note,
    key_needs_passphrase,
    key_passphrase_problem,
    load_credential,
    load_saved_profile,
    organization_domain,
    profile_for,
    recently_uploaded,
    save_tested_profile,
    summarize,
    verdict_line,
    wizard_hint,
)
from wizard.signin import catalogue
from wizard.signin.clouds import CLOUDS, demo_cloud
from wizard.signin.plan import NegativeResult, PositiveResult
from wizard.signin.run import JUST_UPLOADED_WINDOW
from wizard.storage import CertificateFiles, check_name_is_free, write_certificate_set

PASSPHRASE = b"session passphrase"
CLIENT = "1b2c3d4e-5f60-4a1b-9c2d-3e4f5a6b7c8d"
TENANT = "contoso.onmicrosoft.com"
ORGANIZATION = {"display_name": "Contoso", "verified_domains": ["contoso.com", TENANT]}


@pytest.fixture(scope="module")
def generated() -> certs.GeneratedCertificate:
    return certs.generate_certificate("SessionServer", days=30)


@pytest.fixture
def files(generated: certs.GeneratedCertificate, tmp_path: Path) -> CertificateFiles:
    return write_certificate_set(
        generated, "SessionServer", out_root=tmp_path, passphrase=PASSPHRASE
    ).files


def answers(files: CertificateFiles) -> WizardState:
    return WizardState(
        demo=False, name="SessionServer", files=files, passphrase=PASSPHRASE,
        client_id=CLIENT, tenant=TENANT, cloud_key="usgov",
    )


def passed() -> PositiveResult:
    return PositiveResult(ok=True, checks=[], organization=ORGANIZATION, signed_in=True)


# --- what a test needs -----------------------------------------------------------------------


def test_connection_settings_come_from_the_one_demo_flag(demo_info: DemoInfo) -> None:
    real = WizardState(demo=False, tenant=TENANT, client_id=CLIENT, cloud_key="usgov")
    assert connection_settings(real).cloud == CLOUDS["usgov"]
    demo = WizardState(demo=True, demo_info=demo_info, tenant=TENANT, client_id=CLIENT,
                       cloud_key="usgov")
    assert connection_settings(demo).cloud == demo_cloud(demo_info)  # the cloud key is not read
    with pytest.raises(UserError, match="demo tenant is not running"):
        connection_settings(WizardState(demo=True))
    with pytest.raises(UserError, match="Unknown cloud"):
        connection_settings(WizardState(demo=False, cloud_key="mars"))


def test_the_credential_is_read_from_the_files_written(files: CertificateFiles) -> None:
    state = answers(files)
    credential = load_credential(state)
    assert certs.thumbprint_sha1(credential.certificate) == certs.thumbprint_sha1(
        certs.load_certificate_file(files.cer)
    )
    with pytest.raises(UserError, match="no certificate to test"):
        load_credential(WizardState(demo=False))


def test_an_upload_is_recent_within_the_window() -> None:
    state = WizardState(demo=True, client_id="app-one")
    assert not recently_uploaded(state)
    state.upload_recorded("ab" * 20, "APP-ONE")
    assert state.uploaded_thumbprint == "AB" * 20 and state.uploaded_at is not None
    assert recently_uploaded(state)
    later = state.uploaded_at + JUST_UPLOADED_WINDOW + timedelta(seconds=1)
    assert not recently_uploaded(state, now=later)


def test_an_upload_to_another_app_is_no_reason_to_wait() -> None:
    state = WizardState(demo=True, client_id="app-two")
    state.upload_recorded("ab" * 20, "app-one")
    assert not recently_uploaded(state)


def test_a_new_certificate_forgets_what_belonged_to_the_old_one(files: CertificateFiles) -> None:
    state = answers(files)
    state.upload_recorded("AB" * 20, "app-one")
    state.positive = passed()
    state.certificate_made(files, "CD" * 20, datetime(2030, 1, 1, tzinfo=timezone.utc), ("x",))
    assert state.thumbprint_sha1 == "CD" * 20 and state.generation_stages == ("x",)
    assert (state.uploaded_thumbprint, state.uploaded_at, state.positive) == (None, None, None)
    assert state.uploaded_to == ""


def test_the_key_passphrase_is_checked(files: CertificateFiles) -> None:
    state = answers(files)
    assert key_needs_passphrase(state)
    assert key_passphrase_problem(state, PASSPHRASE) is None
    assert key_passphrase_problem(state, b"wrong") is not None


# --- the profile: saved once -----------------------------------------------------------------


def test_the_profile_is_saved_once_and_the_summary_records_the_verdict(
    files: CertificateFiles,
) -> None:
    state = answers(files)
    name, problem = save_tested_profile(state, passed())
    assert (name, problem) == ("SessionServer", None)
    saved = get_profile("SessionServer")
    assert saved.last_test == "pass" and saved.organization_domain == TENANT
    assert saved.cloud == "usgov" and not saved.demo
    state.positive, state.profile_name = passed(), name
    state.negative = NegativeResult(probes=[], verdict="inconclusive")
    summary = summarize(state)
    assert summary.profile_name == "SessionServer" and summary.problem is None
    assert summary.summary_path is not None and summary.summary_path.is_file()
    assert "SessionServer" in summary.snippets["powershell"]
    recorded = get_profile("SessionServer")
    assert recorded.last_test == "inconclusive"  # the verdict, recorded in the same profile
    assert recorded.created_at == saved.created_at and len(load_profiles()) == 1


def test_nothing_is_saved_before_the_certificate_signs_in(files: CertificateFiles) -> None:
    state = answers(files)
    failed = PositiveResult(ok=False, checks=[])
    assert save_tested_profile(state, failed) == (None, None)
    assert save_tested_profile(state, passed(), cancelled=True) == (None, None)
    state.start, state.profile_name = "test", "Picked on Welcome"
    assert save_tested_profile(state, passed()) == ("Picked on Welcome", None)
    assert load_profiles() == []
    state.start, state.profile_name, state.positive = "new", None, failed
    summary = summarize(state)
    assert summary.profile_name is None and load_profiles() == []
    assert summary.summary_path is not None  # the summary is written all the same


def test_the_summary_saves_when_step_7_could_not(files: CertificateFiles) -> None:
    state = answers(files)
    state.positive = passed()
    summary = summarize(state)
    assert summary.profile_name == "SessionServer"
    assert [p.last_test for p in load_profiles()] == ["pass"]


def test_a_new_certificate_under_a_saved_name_continues_its_history(
    files: CertificateFiles,
) -> None:
    earlier = profile_for(answers(files), last_test="pass")
    earlier.name = "sessionserver"
    earlier.thumbprint_sha1 = "AA" * 20  # another certificate
    earlier.created_at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    earlier.retired = [{"thumbprint_sha1": "BB" * 20, "archive_folder": "/a"}]
    earlier.rotation = RotationState(stage="upload", started_at=earlier.created_at)
    save_profile(earlier)
    name, _problem = save_tested_profile(answers(files), passed())
    again = get_profile("SessionServer")
    assert name == "sessionserver" == again.name and len(load_profiles()) == 1
    assert again.created_at == earlier.created_at and again.retired == earlier.retired
    assert again.rotation is None  # it belonged to the old certificate


def test_a_saved_set_up_is_picked_up_again(files: CertificateFiles) -> None:
    profile = profile_for(answers(files))
    profile.demo = True
    save_profile(profile)
    state = WizardState(demo=False, profile_name="SessionServer", start="test")
    load_saved_profile(state)
    assert state.demo and state.files is not None and state.files.key == files.key
    assert (state.client_id, state.tenant, state.cloud_key) == (CLIENT, TENANT, "usgov")


def test_the_organization_domain_prefers_the_initial_one() -> None:
    assert organization_domain(passed()) == TENANT
    assert organization_domain(PositiveResult(ok=True, checks=[])) is None
    assert organization_domain(None) is None


# --- the summary's words -------------------------------------------------------------------


def test_verdict_line_and_expiry_text() -> None:
    state = WizardState(demo=False)
    assert verdict_line(state)[1] == "warning"
    state.positive = passed()
    assert verdict_line(state) == (
        "✓ The certificate signs in (the negative test was not run).", "success"
    )
    state.negative = NegativeResult(probes=[], verdict="pass")
    assert verdict_line(state)[0].startswith("✓ Done")
    state.negative = None
    state.positive = PositiveResult(ok=False, checks=[], error=catalogue.DNS_FAILURE)
    assert verdict_line(state) == (
        "? The service was never reached: nothing is proved yet (see step 7).", "warning"
    )
    now = datetime(2026, 1, 1, tzinfo=timezone.utc)
    assert expiry_text(now + timedelta(days=10, hours=1), now).endswith("(10 days left)")
    assert expiry_text(now - timedelta(days=3), now).endswith("(expired 3 days ago)")
    assert expiry_text(None) == "unknown"


# --- errors: the command line's hint, the wizard's own ---------------------------------------


def test_each_interface_words_its_own_hint(files: CertificateFiles) -> None:
    with pytest.raises(UserError) as taken:
        check_name_is_free("SessionServer", out_root=files.folder.parent)
    assert taken.value.option == "name" and "--force" in (taken.value.hint or "")
    assert "step 2" in wizard_hint(taken.value, "Go back.")
    assert "--" not in wizard_hint(taken.value, "Go back.")
    neutral = UserError("The disk is full.", hint="Free some space and try again.")
    assert wizard_hint(neutral, "Go back.") == "Free some space and try again."
    assert wizard_hint(UserError("Odd."), "Go back.") == "Go back."


def test_the_finish_note_says_where_things_are_without_live_control_characters(
    files: CertificateFiles, tmp_path: Path
) -> None:
    state = answers(files)
    state.summary_path = files.folder / "SessionServer-summary.md"
    state.profile_name = "SessionServer"
    note = finish_note(state)
    assert note is not None
    assert f"Summary:           {state.summary_path}" in note
    assert f"Certificate files: {files.folder}" in note
    assert "entra-cert-wizard test --profile SessionServer" in note
    state.files = CertificateFiles(
        folder=tmp_path / "odd\x1b[31mname", stem="x", cer=files.cer, pem=files.pem,
        key=files.key, pfx=None,
    )
    shown = finish_note(state) or ""
    assert "\x1b" not in shown and "odd\\x1b[31mname" in shown
    assert finish_note(WizardState(demo=True)) is None  # nothing made: nothing to print
