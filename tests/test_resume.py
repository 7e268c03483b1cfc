"""Checking a certificate set made in an earlier run before the wizard uses it again: real
files written by the storage engine, then changed the way a user or an attacker might."""

from __future__ import annotations

import os
import shutil
from datetime import timedelta
from pathlib import Path

import pytest

from wizard import certs, storage
from wizard.clock import utc_now
from wizard.resume import ExistingSet, check_existing_set, use_existing_set
from wizard.session import WizardState

PASSPHRASE = b"resume-Passphrase-41"


@pytest.fixture(scope="module")
def made(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One set ("Resumed", 60 days, RSA 2048, with a passphrase), copied by each test."""
    root = tmp_path_factory.mktemp("made")
    generated = certs.generate_certificate("Resumed", days=60)
    storage.write_certificate_set(generated, "Resumed", out_root=root, passphrase=PASSPHRASE)
    return root / "Resumed"


@pytest.fixture
def folder(made: Path, tmp_path: Path) -> Path:
    copy = tmp_path / "Resumed"
    shutil.copytree(made, copy)
    return copy


def test_a_complete_set_is_usable_with_what_it_was_made_with(folder: Path) -> None:
    found = check_existing_set(folder, "Resumed", PASSPHRASE)
    assert isinstance(found, ExistingSet)
    on_disk = certs.load_certificate_file(folder / "Resumed.cer")
    assert found.thumbprint_sha1 == certs.thumbprint_sha1(on_disk)
    assert (found.days, found.key_size) == (60, 2048)
    assert found.files.pfx == folder / "Resumed.pfx"

    state = WizardState(demo=True, name="Resumed", days=365, key_size=3072,
                        passphrase=PASSPHRASE, uploaded_to="someone-else")
    use_existing_set(state, found)
    assert state.files == found.files and state.thumbprint_sha1 == found.thumbprint_sha1
    assert (state.days, state.key_size) == (60, 2048) and state.options_changed() == []
    assert state.uploaded_to == "" and state.untested_certificate
    state.days = 30  # a change on step 2 afterwards: Generate makes a new one
    assert state.options_changed() == ["validity 60 → 30 days"]


def test_an_expired_set_is_not_offered(folder: Path) -> None:
    later = utc_now() + timedelta(days=61)
    assert "expired" in str(check_existing_set(folder, "Resumed", PASSPHRASE, now=later))


def test_a_key_of_another_certificate_is_not_offered(folder: Path, tmp_path: Path) -> None:
    other = certs.generate_certificate("Resumed", days=60)
    (folder / "Resumed.key").write_bytes(certs.key_pem(other.private_key, PASSPHRASE))
    os.chmod(folder / "Resumed.key", 0o600)
    assert "not the key of its certificate" in str(
        check_existing_set(folder, "Resumed", PASSPHRASE)
    )


def test_a_certificate_made_for_another_name_is_not_offered(tmp_path: Path) -> None:
    generated = certs.generate_certificate("Payroll 02", days=60)
    storage.write_certificate_set(generated, "Payroll 02", out_root=tmp_path, passphrase=None)
    found = check_existing_set(tmp_path / "Payroll_02", "Payroll_02", None)
    assert "made for another name (Payroll 02)" in str(found)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_a_key_others_can_read_is_not_offered(folder: Path) -> None:
    os.chmod(folder / "Resumed.key", 0o644)
    assert "read by other users" in str(check_existing_set(folder, "Resumed", PASSPHRASE))


def test_a_missing_or_mismatched_file_is_named(folder: Path) -> None:
    (folder / "Resumed.pfx").unlink()
    assert "Resumed.pfx missing" in str(check_existing_set(folder, "Resumed", PASSPHRASE))
    other = certs.generate_certificate("Resumed", days=60)
    (folder / "Resumed.pem").write_bytes(certs.cert_pem(other.certificate))
    assert "different certificates" in str(check_existing_set(folder, "Resumed", PASSPHRASE))
    (folder / "Resumed.key").unlink()
    assert "Resumed.key missing" in str(check_existing_set(folder, "Resumed", PASSPHRASE))


def test_a_hostile_common_name_in_the_reason_is_shown_escaped(folder: Path) -> None:
    """The certificate on disk names itself with a terminal escape: never live in the reason."""
    from cryptography import x509
    from cryptography.hazmat.primitives import hashes
    from cryptography.x509.oid import NameOID

    key = certs.load_private_key_file(folder / "Resumed.key", PASSPHRASE)
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "Evil\x1b[2J")])
    now = utc_now()
    cert = (
        x509.CertificateBuilder().subject_name(subject).issuer_name(subject)
        .public_key(key.public_key()).serial_number(x509.random_serial_number())
        .not_valid_before(now).not_valid_after(now + timedelta(days=30))
        .sign(key, hashes.SHA256())
    )
    (folder / "Resumed.cer").write_bytes(certs.cert_der(cert))
    (folder / "Resumed.pem").write_bytes(certs.cert_pem(cert))
    (folder / "Resumed.pfx").write_bytes(certs.pfx_bytes(key, cert, PASSPHRASE, "Resumed"))
    found = check_existing_set(folder, "Resumed", PASSPHRASE)
    assert isinstance(found, str) and "another name" in found
    assert "\x1b" not in found and "\\x1b" in found
