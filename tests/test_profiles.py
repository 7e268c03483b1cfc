"""Saved profiles: round trip, no secrets, strict reading of a damaged or hand-edited file."""

from __future__ import annotations

import json
import os
import stat
from dataclasses import replace
from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest

from wizard import certs
from wizard.errors import UserError
from wizard.profiles import (
    Profile,
    RotationState,
    connection_inputs_for_profile,
    get_profile,
    load_profiles,
    profile_from_files,
    profiles_file,
    record_test_result,
    save_profile,
)
from wizard.session import organization_domain, profile_for, save_set_up, save_tested_profile
from wizard.storage import CertificateFiles, write_certificate_set

PASSPHRASE = b"a long passphrase for tests"
TENANT = "0a1b2c3d-0000-4000-8000-00000000abcd"
CLIENT = "11111111-2222-4333-8444-555555555555"


@pytest.fixture(scope="module")
def files(tmp_path_factory: pytest.TempPathFactory) -> CertificateFiles:
    """One real certificate set (key generated once for the module)."""
    generated = certs.generate_certificate("Profile Test 01")
    root = tmp_path_factory.mktemp("certs with space")
    return write_certificate_set(
        generated, "Profile Test 01", out_root=root, passphrase=PASSPHRASE
    ).files


def delete_profile(name: str) -> None:
    """Forget a saved profile by editing the file by hand, as a user would (the product never
    deletes one)."""
    target = get_profile(name)
    path = profiles_file()
    document = json.loads(path.read_text(encoding="utf-8"))
    document["profiles"] = [p for p in document["profiles"] if p["name"] != target.name]
    path.write_text(json.dumps(document, indent=2), encoding="utf-8")


def make_profile(
    files: CertificateFiles, name: str = "ScriptServer01", **changes: object
) -> Profile:
    profile = profile_from_files(
        name=name, files=files, cloud="global", tenant=TENANT, client_id=CLIENT
    )
    return replace(profile, **changes)  # type: ignore[arg-type]


def test_round_trip_keeps_every_field(files: CertificateFiles) -> None:
    profile = make_profile(
        files, last_test="pass", last_test_at=datetime(2026, 1, 2, 3, 4, 5, tzinfo=timezone.utc)
    )
    profile.rotation = RotationState(
        stage="test",
        started_at=datetime(2026, 1, 3, tzinfo=timezone.utc),
        new_cert_path="/x/new.pem",
        new_key_path="/x/new.key",
        new_thumbprint_sha1="AB" * 20,
        new_not_after=datetime(2027, 1, 3, tzinfo=timezone.utc),
        uploaded_at=datetime(2026, 1, 3, 1, tzinfo=timezone.utc),
        old_cert_path=profile.cert_path,
    )
    path = save_profile(profile)
    assert path == profiles_file()
    [loaded] = load_profiles()
    assert loaded == profile
    assert loaded.thumbprint_sha1 == certs.thumbprint_sha1(certs.load_certificate_file(files.cer))
    assert loaded.not_after == certs.not_valid_after(certs.load_certificate_file(files.cer))


def test_file_is_readable_json_private_and_holds_no_secret(files: CertificateFiles) -> None:
    save_profile(make_profile(files))
    path = profiles_file()
    text = path.read_text(encoding="utf-8")
    assert text.startswith("{\n  ")  # indented: a person can read and fix it
    document = json.loads(text)
    assert document["version"] == 1
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert PASSPHRASE.decode() not in text
    assert "PRIVATE KEY" not in text and "BEGIN" not in text
    key_text = files.key.read_text()
    assert key_text.splitlines()[1] not in text


def test_save_replaces_by_name_case_insensitively_and_keeps_others(files: CertificateFiles) -> None:
    save_profile(make_profile(files, "alpha"))
    save_profile(make_profile(files, "beta"))
    save_profile(make_profile(files, "ALPHA", tenant="contoso.onmicrosoft.com"))
    names = [(p.name, p.tenant) for p in load_profiles()]
    assert names == [("ALPHA", "contoso.onmicrosoft.com"), ("beta", TENANT)]
    assert get_profile("Beta").name == "beta"
    delete_profile("beta")
    assert [p.name for p in load_profiles()] == ["ALPHA"]


def test_unknown_profile_lists_the_saved_ones(files: CertificateFiles) -> None:
    save_profile(make_profile(files, "alpha"))
    with pytest.raises(
        UserError, match=r'no saved profile called "nope" \(saved profiles: alpha\)'
    ):
        get_profile("nope")


def test_no_file_means_no_profiles() -> None:
    assert load_profiles() == []


@pytest.mark.parametrize(
    ("content", "expected"),
    [
        ("{not json", r"is not valid JSON: line 1, column 2"),
        ("", r"is empty"),
        ('{"version": 1, "profiles": {}}', r'expected an object with a "profiles" list'),
        ('{"version": 9, "profiles": []}', r"has version 9"),
        ('{"profiles": [{"name": "a"}]}', r'profile "a": "cloud" is missing'),
        ('{"profiles": [42]}', r"profile #1: must be an object"),
    ],
)
def test_damaged_file_is_reported_and_never_replaced(
    files: CertificateFiles, content: str, expected: str
) -> None:
    path = profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(content, encoding="utf-8")
    with pytest.raises(UserError, match=expected) as caught:
        load_profiles()
    assert str(path) in caught.value.message
    assert caught.value.hint is not None and "aside" in caught.value.hint
    with pytest.raises(UserError):
        save_profile(make_profile(files))  # a save refuses too
    assert path.read_text(encoding="utf-8") == content


@pytest.mark.parametrize(
    ("field", "value", "expected"),
    [
        ("not_after", "next tuesday", r'"not_after" is not a date and time'),
        ("cloud", "mars", r'"cloud" must be one of global, usgov, usgov-dod, china'),
        ("demo", "yes", r'"demo" must be true or false'),
        ("client_id", 12, r'"client_id" must be a string'),
        ("last_test", "great", r'"last_test" must be one of pass, fail, inconclusive'),
        (
            "rotation",
            {"step": "dance", "started_at": "2026-01-01T00:00:00Z"},
            r'rotation: "step" must be one of',
        ),
    ],
)
def test_hand_edited_field_names_the_profile_and_the_field(
    files: CertificateFiles, field: str, value: object, expected: str
) -> None:
    save_profile(make_profile(files, "edited"))
    path = profiles_file()
    document = json.loads(path.read_text())
    document["profiles"][0][field] = value
    path.write_text(json.dumps(document))
    with pytest.raises(UserError, match=expected) as caught:
        load_profiles()
    assert 'profile "edited"' in caught.value.message


def test_hand_edited_dates_with_z_and_unknown_keys_are_accepted(files: CertificateFiles) -> None:
    save_profile(make_profile(files, "edited"))
    path = profiles_file()
    document = json.loads(path.read_text())
    document["profiles"][0]["not_after"] = "2030-05-06T07:08:09Z"
    document["profiles"][0]["my_note"] = "kept by hand"
    path.write_text(json.dumps(document))
    assert get_profile("edited").not_after == datetime(2030, 5, 6, 7, 8, 9, tzinfo=timezone.utc)


def test_duplicate_names_in_the_file_are_reported(files: CertificateFiles) -> None:
    save_profile(make_profile(files, "twice"))
    path = profiles_file()
    document = json.loads(path.read_text())
    document["profiles"].append(dict(document["profiles"][0], name="TWICE"))
    path.write_text(json.dumps(document))
    with pytest.raises(UserError, match="the name is used twice"):
        load_profiles()


def test_expiry_status_boundaries(files: CertificateFiles) -> None:
    now = datetime(2026, 6, 1, 12, tzinfo=timezone.utc)
    profile = make_profile(files, not_after=now + timedelta(days=31, hours=1))
    assert (profile.days_left(now), profile.expiry_status(now)) == (31, "ok")
    profile.not_after = now + timedelta(days=30, hours=1)
    assert (profile.days_left(now), profile.expiry_status(now)) == (30, "warning")
    profile.not_after = now + timedelta(minutes=1)
    assert (profile.days_left(now), profile.expiry_status(now)) == (0, "warning")
    profile.not_after = now - timedelta(days=2, minutes=1)
    assert profile.expiry_status(now) == "expired"
    assert profile.days_left(now) == -3


def test_missing_files_are_reported(files: CertificateFiles, tmp_path: Path) -> None:
    profile = make_profile(files)
    assert profile.missing_files() == []
    gone = tmp_path / "gone.key"
    profile.key_path = str(gone)
    assert profile.missing_files() == [str(gone)]
    save_profile(profile)
    with pytest.raises(UserError, match=r"gone\.key is no longer there"):
        connection_inputs_for_profile(profile.name)


def test_connection_inputs_and_recorded_results(files: CertificateFiles) -> None:
    save_profile(make_profile(files, "run-me", cloud="usgov"))
    inputs = connection_inputs_for_profile("run-me")
    assert (inputs.cloud_key, inputs.tenant, inputs.client_id, inputs.demo) == (
        "usgov",
        TENANT,
        CLIENT,
        False,
    )
    assert inputs.cert_path == files.pem.resolve() and inputs.key_path == files.key.resolve()
    assert inputs.pfx_path == files.pfx.resolve() if files.pfx else inputs.pfx_path is None
    when = datetime(2026, 2, 3, 4, 5, 6, tzinfo=timezone.utc)
    record_test_result("run-me", "fail", when)
    profile = get_profile("run-me")
    assert (profile.last_test, profile.last_test_at) == ("fail", when)
    with pytest.raises(ValueError):
        record_test_result("run-me", "maybe")


def test_invalid_profile_name_is_refused(files: CertificateFiles) -> None:
    with pytest.raises(UserError, match="starts or ends with a space"):
        save_profile(make_profile(files, " padded"))
    assert not profiles_file().exists()


def test_config_folder_is_created_private(files: CertificateFiles) -> None:
    save_profile(make_profile(files))
    mode = stat.S_IMODE(profiles_file().parent.stat().st_mode)
    assert mode & 0o077 == 0 or os.name == "nt"


# --- from the wizard's state, against the real demo tenant ---------------------------------


def test_profile_from_wizard_state_after_a_real_positive_test(
    demo_info, demo_portal, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    from wizard.session import WizardState
    from wizard.signin.clouds import demo_cloud
    from wizard.signin.positive import run_positive
    from wizard.signin.settings import ConnectionSettings, Credential

    generated = certs.generate_certificate("StateProfile")
    written = write_certificate_set(
        generated, "StateProfile", out_root=tmp_path, passphrase=None
    ).files
    demo_portal.upload_certificate(demo_info.client_id, certs.cert_der(generated.certificate))
    try:
        settings = ConnectionSettings(
            demo_cloud(demo_info), demo_info.tenant_id, demo_info.client_id
        )
        positive = run_positive(settings, Credential(generated.certificate, generated.private_key))
        assert positive.ok
        state = WizardState(demo=True, demo_info=demo_info, name="StateProfile", files=written)
        state.client_id, state.tenant, state.cloud_key = (
            demo_info.client_id,
            demo_info.tenant_id,
            "demo",
        )
        state.positive = positive
        built = profile_for(state, last_test="pass")
        assert built.name == "StateProfile" and built.demo and built.cloud == "global"
        assert built.last_test == "pass" and built.last_test_at is not None
        assert built.organization_domain == organization_domain(positive)
        assert built.organization_domain and built.organization_domain.endswith(".onmicrosoft.com")
        assert built.demo_state_dir == demo_info.state_dir
        state.profile_name = "renamed"
        saved_name, problem = save_tested_profile(state, positive)
        assert (saved_name, problem) == ("renamed", None)
        assert get_profile("renamed").thumbprint_sha1 == built.thumbprint_sha1
    finally:
        demo_portal.delete_certificate(
            demo_info.client_id, certs.thumbprint_sha1(generated.certificate)
        )


def test_saving_again_from_the_wizard_keeps_history_and_rotation(files: CertificateFiles) -> None:
    from wizard.session import WizardState

    first = make_profile(files, "kept", organization_domain="contoso.onmicrosoft.com")
    first.created_at = datetime(2025, 1, 1, tzinfo=timezone.utc)
    first.retired = [{"thumbprint_sha1": "AA" * 20, "archive_folder": "/a"}]
    first.rotation = RotationState(
        stage="upload", started_at=datetime(2026, 1, 1, tzinfo=timezone.utc)
    )
    save_profile(first)
    state = WizardState(
        demo=False, files=files, client_id=CLIENT, tenant=TENANT, profile_name="KEPT"
    )
    again = save_set_up(profile_for(state))
    assert again.name == "kept" and len(load_profiles()) == 1
    assert again.created_at == first.created_at and again.retired == first.retired
    assert again.rotation == first.rotation  # same certificate: the rotation goes on
    assert again.organization_domain == "contoso.onmicrosoft.com"
