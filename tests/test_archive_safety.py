"""The rotation's archive moves only the old certificate's own files, and the summary is
written only where the tool keeps it, whatever a (tampered) profiles file says."""

from __future__ import annotations

from datetime import timedelta
from pathlib import Path

import pytest

from wizard import certs
from wizard.clock import utc_now
from wizard.errors import UserError
from wizard.paths import data_dir
from wizard.profiles import Profile, RotationState, get_profile, profile_from_files, save_profile
from wizard.rotation import work
from wizard.storage import CertificateFiles, write_certificate_set
from wizard.summary import summary_path_for, write_summary


def certificate_set(root: Path, name: str) -> CertificateFiles:
    generated = certs.generate_certificate(name)
    return write_certificate_set(generated, name, out_root=root, passphrase=None).files


def at_archive_stage(tmp_path: Path, **old_paths: str) -> Profile:
    """A profile whose rotation is proven and only the archive is left; `old_paths` replace
    the recorded old files (as a hand-edited profiles file would)."""
    old = certificate_set(tmp_path / "certs", "Rotated")
    new = certificate_set(tmp_path / "certs", "Rotated-20990101")
    profile = profile_from_files(
        name="rotated", files=new, cloud="global", tenant="contoso.onmicrosoft.com",
        client_id="11111111-2222-4333-8444-555555555555",
    )
    profile.rotation = RotationState(
        stage="archive",
        started_at=utc_now() - timedelta(hours=1),
        new_cert_path=str(new.pem),
        new_key_path=str(new.key),
        new_cer_path=str(new.cer),
        new_thumbprint_sha1=profile.thumbprint_sha1,
        old_cert_path=old_paths.get("cert", str(old.pem)),
        old_key_path=old_paths.get("key", str(old.key)),
        old_cer_path=old_paths.get("cer", str(old.cer)),
        old_thumbprint_sha1="AB" * 20,
        retired_at=utc_now(),
    )
    save_profile(profile)
    return profile


def contents(folder: Path) -> dict[str, bytes]:
    return {str(p.relative_to(folder)): p.read_bytes() for p in folder.rglob("*") if p.is_file()}


def test_the_old_files_are_archived_and_their_emptied_folder_removed(tmp_path: Path) -> None:
    profile = at_archive_stage(tmp_path)
    old_folder = tmp_path / "certs" / "Rotated"
    before = contents(old_folder)
    done = work.archive_old_files(profile)
    archive = Path(done.retired[-1]["archive_folder"])
    assert archive.parent == tmp_path / "certs" / "archive"
    assert contents(archive) == before
    assert not old_folder.exists()


def test_a_file_in_another_folder_is_never_moved(tmp_path: Path) -> None:
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    victim = elsewhere / "id_rsa"
    victim.write_bytes(b"someone else's key")
    profile = at_archive_stage(tmp_path, key=str(victim))
    before = contents(tmp_path)
    with pytest.raises(UserError, match="not in the old certificate's own folder") as caught:
        work.archive_old_files(profile)
    assert str(victim) in str(caught.value)
    assert contents(tmp_path) == before  # nothing moved at all
    assert elsewhere.is_dir() and victim.read_bytes() == b"someone else's key"
    assert get_profile("rotated").rotation is not None  # still at the archive stage


def test_two_files_of_one_name_never_overwrite_each_other(tmp_path: Path) -> None:
    """Before, the second move landed on the first: one file was gone."""
    other = certificate_set(tmp_path / "other", "Rotated")
    profile = at_archive_stage(tmp_path, cer=str(other.cer))
    before = contents(tmp_path)
    with pytest.raises(UserError, match="nothing was moved"):
        work.archive_old_files(profile)
    assert contents(tmp_path) == before


def test_a_folder_the_profile_merely_names_is_never_emptied_or_removed(tmp_path: Path) -> None:
    """Before, the file was moved out, the emptied folder removed, then FileNotFoundError."""
    lone = tmp_path / "documents" / "report.pem"
    lone.parent.mkdir()
    lone.write_bytes(b"not a certificate of ours")
    profile = at_archive_stage(tmp_path, cert=str(lone))
    with pytest.raises(UserError, match="nothing was moved"):
        work.archive_old_files(profile)
    assert lone.read_bytes() == b"not a certificate of ours"
    assert not (tmp_path / "documents" / "archive").exists()


def test_files_already_gone_are_skipped_and_links_refused(tmp_path: Path) -> None:
    profile = at_archive_stage(tmp_path)
    state = profile.rotation
    assert state is not None and state.old_key_path and state.old_cer_path
    Path(state.old_cer_path).unlink()
    target = tmp_path / "precious"
    target.write_bytes(b"precious")
    Path(state.old_key_path).unlink()
    Path(state.old_key_path).symlink_to(target)
    with pytest.raises(UserError, match="not a regular file"):
        work.archive_old_files(profile)
    Path(state.old_key_path).unlink()
    done = work.archive_old_files(get_profile("rotated"))
    assert {p.name for p in Path(done.retired[-1]["archive_folder"]).iterdir()} >= {"Rotated.pem"}
    assert target.read_bytes() == b"precious"


def test_the_summary_goes_beside_the_certificate_only_in_its_own_folder(tmp_path: Path) -> None:
    files = certificate_set(tmp_path / "certs", "Summed")
    profile = profile_from_files(
        name="summed", files=files, cloud="global", tenant="contoso.onmicrosoft.com",
        client_id="11111111-2222-4333-8444-555555555555",
    )
    assert write_summary(profile) == files.folder / "Summed-summary.md"
    elsewhere = tmp_path / "etc" / "cron.d"
    elsewhere.mkdir(parents=True)
    planted = elsewhere / "job.pem"
    planted.write_bytes(certs.cert_pem(certs.load_certificate_file(files.pem)))
    profile.cert_path = str(planted)
    written = write_summary(profile)
    assert written == summary_path_for(profile)
    assert written.parent == data_dir() / "summaries"
    assert sorted(p.name for p in elsewhere.iterdir()) == ["job.pem"]
