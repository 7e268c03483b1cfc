"""Safe storage: modes from the first byte, no overwrite, backups, and no partial files ever."""

from __future__ import annotations

import os
import random
import signal
import stat
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from wizard import certs, storage
from wizard.errors import UserError

posix_only = pytest.mark.skipif(os.name == "nt", reason="POSIX file modes")
PASSPHRASE = b"storage test passphrase"


def mode_of(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def umask_zero() -> Iterator[None]:
    """The most permissive umask: files stay private only through the mode given at creation."""
    previous = os.umask(0)
    try:
        yield
    finally:
        os.umask(previous)


@pytest.fixture(scope="module")
def generated() -> certs.GeneratedCertificate:
    return certs.generate_certificate("Storage Test")


@pytest.fixture(scope="module")
def other() -> certs.GeneratedCertificate:
    return certs.generate_certificate("Storage Test")


# --- atomic_write -------------------------------------------------------------------------


@posix_only
def test_atomic_write_modes_survive_a_zero_umask(tmp_path: Path, umask_zero: None) -> None:
    storage.atomic_write(tmp_path / "secret", b"key")
    storage.atomic_write(tmp_path / "public", b"cert", mode=0o644)
    storage.atomic_write_text(tmp_path / "notes.md", "héllo")
    assert mode_of(tmp_path / "secret") == 0o600
    assert mode_of(tmp_path / "public") == 0o644
    assert mode_of(tmp_path / "notes.md") == 0o600
    assert (tmp_path / "notes.md").read_text(encoding="utf-8") == "héllo"
    assert sorted(p.name for p in tmp_path.iterdir()) == ["notes.md", "public", "secret"]


@posix_only
def test_the_temp_file_is_private_and_exclusive_while_being_written(
    tmp_path: Path, umask_zero: None, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Look at the temp file at the moment its bytes are flushed, before the rename."""
    seen: list[tuple[int, list[str], bool]] = []
    real_fsync = os.fsync
    target = tmp_path / "id.key"

    def observing_fsync(fd: int) -> None:
        if stat.S_ISREG(os.fstat(fd).st_mode):
            seen.append(
                (
                    stat.S_IMODE(os.fstat(fd).st_mode),
                    [p.name for p in tmp_path.iterdir()],
                    target.exists(),
                )
            )
        real_fsync(fd)

    monkeypatch.setattr(os, "fsync", observing_fsync)
    storage.atomic_write(target, b"x" * 100_000)
    assert len(seen) == 1
    observed_mode, names_in_folder, final_exists = seen[0]
    assert observed_mode == 0o600
    assert not final_exists
    assert len(names_in_folder) == 1 and names_in_folder[0].startswith(".id.key.")
    assert target.read_bytes() == b"x" * 100_000


def test_atomic_write_replaces_whole_and_leaves_no_temp_on_failure(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    target = tmp_path / "profile.json"
    storage.atomic_write(target, b"old")
    storage.atomic_write(target, b"new")
    assert target.read_bytes() == b"new"

    def failing_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", failing_fsync)
    with pytest.raises(OSError):
        storage.atomic_write(target, b"newer")
    assert target.read_bytes() == b"new"
    assert [p.name for p in tmp_path.iterdir()] == ["profile.json"]


@posix_only
def test_atomic_write_does_not_follow_a_planted_symlink(tmp_path: Path) -> None:
    victim = tmp_path / "victim"
    victim.write_bytes(b"untouched")
    (tmp_path / "link").symlink_to(victim)
    storage.atomic_write(tmp_path / "link", b"data")
    assert victim.read_bytes() == b"untouched"
    assert not (tmp_path / "link").is_symlink()


@posix_only
def test_ensure_private_dir(tmp_path: Path, umask_zero: None) -> None:
    deep = storage.ensure_private_dir(tmp_path / "a" / "b" / "c")
    for folder in (tmp_path / "a", tmp_path / "a" / "b", deep):
        assert mode_of(folder) == 0o700
    (tmp_path / "file").write_text("x")
    with pytest.raises(UserError, match="is a file, not a folder"):
        storage.ensure_private_dir(tmp_path / "file")
    existing = tmp_path / "shared"
    existing.mkdir(mode=0o755)
    storage.ensure_private_dir(existing)
    assert mode_of(existing) == 0o755  # a folder the user chose is not changed


# --- write_certificate_set ----------------------------------------------------------------


@posix_only
def test_certificate_set_files_and_modes(
    tmp_path: Path, umask_zero: None, generated: certs.GeneratedCertificate
) -> None:
    stages: list[str] = []
    result = storage.write_certificate_set(
        generated,
        "Storage Test",
        out_root=tmp_path / "root",
        passphrase=PASSPHRASE,
        on_stage=stages.append,
    )
    files = result.files
    assert files.folder == tmp_path / "root" / "Storage_Test"
    assert mode_of(tmp_path / "root") == 0o700
    assert mode_of(files.folder) == 0o700
    assert mode_of(files.cer) == 0o644 and mode_of(files.pem) == 0o644
    assert files.pfx is not None
    assert mode_of(files.key) == 0o600 and mode_of(files.pfx) == 0o600
    assert sorted(p.name for p in (tmp_path / "root").iterdir()) == ["Storage_Test"]
    assert sorted(p.name for p in files.folder.iterdir()) == [
        "Storage_Test.cer",
        "Storage_Test.key",
        "Storage_Test.pem",
        "Storage_Test.pfx",
    ]
    assert certs.load_certificate_file(files.cer) == generated.certificate
    assert certs.load_pfx_file(files.pfx, PASSPHRASE)[0] == generated.certificate
    key = certs.load_private_key_file(files.key, PASSPHRASE)
    assert certs.key_matches_certificate(key, generated.certificate)
    assert result.backup_folder is None and result.warnings == []
    assert any(".key" in stage for stage in stages) and any(".pfx" in stage for stage in stages)
    assert files.as_dict()["pfx"] == str(files.pfx)


def test_default_root_is_the_data_folder(
    isolated_home: Path, generated: certs.GeneratedCertificate
) -> None:
    result = storage.write_certificate_set(generated, "Storage Test", passphrase=None)
    assert result.files.folder == isolated_home / "data" / "certificates" / "Storage_Test"
    assert result.files.pfx is None
    assert not (result.files.folder / "Storage_Test.pfx").exists()
    assert storage.NO_PASSPHRASE_WARNING in result.warnings
    assert result.files.key.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")


def test_refuses_to_overwrite(
    tmp_path: Path, generated: certs.GeneratedCertificate, other: certs.GeneratedCertificate
) -> None:
    first = storage.write_certificate_set(
        generated, "Storage Test", out_root=tmp_path, passphrase=PASSPHRASE
    )
    before = {p.name: p.read_bytes() for p in first.files.folder.iterdir()}
    with pytest.raises(UserError) as raised:
        storage.write_certificate_set(
            other, "Storage Test", out_root=tmp_path, passphrase=PASSPHRASE
        )
    assert "already exists" in raised.value.message and "not overwritten" in raised.value.message
    assert raised.value.hint is not None and "--force" in raised.value.hint
    assert {p.name: p.read_bytes() for p in first.files.folder.iterdir()} == before
    with pytest.raises(UserError, match="already exists"):
        storage.check_name_is_free("Storage Test", out_root=tmp_path)
    assert not [p for p in tmp_path.iterdir() if p.name.startswith(".")]


def test_force_moves_the_old_files_to_a_backup_first(
    tmp_path: Path, generated: certs.GeneratedCertificate, other: certs.GeneratedCertificate
) -> None:
    first = storage.write_certificate_set(
        generated, "Storage Test", out_root=tmp_path, passphrase=PASSPHRASE
    )
    old = {p.name: p.read_bytes() for p in first.files.folder.iterdir()}
    second = storage.write_certificate_set(
        other, "Storage Test", out_root=tmp_path, passphrase=PASSPHRASE, force=True
    )
    assert second.backup_folder is not None
    assert second.backup_folder.parent == tmp_path
    assert second.backup_folder.name.startswith("Storage_Test.backup-")
    assert {p.name: p.read_bytes() for p in second.backup_folder.iterdir()} == old
    assert certs.load_certificate_file(second.files.cer) == other.certificate
    third = storage.write_certificate_set(
        generated, "Storage Test", out_root=tmp_path, passphrase=None, force=True
    )
    assert third.backup_folder not in (None, second.backup_folder)


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="renameat2 is Linux only")
def test_folders_are_swapped_in_one_step_on_linux(tmp_path: Path) -> None:
    (tmp_path / "a").mkdir()
    (tmp_path / "a" / "from-a").touch()
    (tmp_path / "b").mkdir()
    assert storage._exchange(tmp_path / "a", tmp_path / "b")
    assert [p.name for p in (tmp_path / "b").iterdir()] == ["from-a"]
    assert list((tmp_path / "a").iterdir()) == []


def test_force_without_an_atomic_swap(
    tmp_path: Path,
    generated: certs.GeneratedCertificate,
    other: certs.GeneratedCertificate,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setattr(storage, "_exchange", lambda first, second: False)
    storage.write_certificate_set(generated, "Storage Test", out_root=tmp_path, passphrase=None)
    second = storage.write_certificate_set(
        other, "Storage Test", out_root=tmp_path, passphrase=None, force=True
    )
    assert second.backup_folder is not None
    assert (
        certs.load_certificate_file(second.backup_folder / "Storage_Test.cer")
        == generated.certificate
    )
    assert certs.load_certificate_file(second.files.cer) == other.certificate
    assert sorted(p.name for p in tmp_path.iterdir()) == ["Storage_Test", second.backup_folder.name]


def test_an_empty_folder_of_that_name_is_used(
    tmp_path: Path, generated: certs.GeneratedCertificate
) -> None:
    (tmp_path / "Storage_Test").mkdir()
    result = storage.write_certificate_set(
        generated, "Storage Test", out_root=tmp_path, passphrase=None
    )
    assert result.files.cer.exists()


def test_a_file_where_the_folder_should_be(
    tmp_path: Path, generated: certs.GeneratedCertificate
) -> None:
    (tmp_path / "Storage_Test").write_text("in the way")
    with pytest.raises(UserError, match="is a file"):
        storage.write_certificate_set(generated, "Storage Test", out_root=tmp_path, passphrase=None)
    (tmp_path / "root-file").write_text("x")
    with pytest.raises(UserError, match="is a file"):
        storage.write_certificate_set(
            generated, "x", out_root=tmp_path / "root-file", passphrase=None
        )


def test_a_failure_midway_leaves_nothing_behind(
    tmp_path: Path, generated: certs.GeneratedCertificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    def broken_pfx(*_: object) -> bytes:
        raise KeyboardInterrupt

    monkeypatch.setattr(certs, "pfx_bytes", broken_pfx)
    with pytest.raises(KeyboardInterrupt):
        storage.write_certificate_set(
            generated, "Storage Test", out_root=tmp_path, passphrase=PASSPHRASE
        )
    assert list(tmp_path.iterdir()) == []


@posix_only
def test_unwritable_root_is_a_user_error(
    tmp_path: Path, generated: certs.GeneratedCertificate
) -> None:
    if os.geteuid() == 0:
        pytest.skip("root writes anywhere")
    locked = tmp_path / "locked"
    locked.mkdir(mode=0o500)
    with pytest.raises(UserError, match="permission"):
        storage.write_certificate_set(generated, "x", out_root=locked, passphrase=None)


def test_abandoned_staging_folders_are_cleaned_up(
    tmp_path: Path, generated: certs.GeneratedCertificate
) -> None:
    abandoned = tmp_path / ".Storage_Test.staging-999999999-dead"
    abandoned.mkdir()
    (abandoned / "Storage_Test.key").write_bytes(b"half a key")
    live = tmp_path / f".Storage_Test.staging-{os.getpid()}-beef"
    live.mkdir()
    result = storage.write_certificate_set(
        generated, "Storage Test", out_root=tmp_path, passphrase=None
    )
    assert not abandoned.exists()
    assert live.exists()  # another run still writing: left alone
    assert any("interrupted" in warning for warning in result.warnings)


def test_windows_gets_a_warning_instead_of_pretend_permissions(
    tmp_path: Path, generated: certs.GeneratedCertificate, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage, "IS_WINDOWS", True)
    result = storage.write_certificate_set(
        generated, "Storage Test", out_root=tmp_path, passphrase=PASSPHRASE
    )
    assert storage.WINDOWS_PERMISSIONS_WARNING in result.warnings


# --- SIGKILL at random moments ------------------------------------------------------------


def _generate_command(out: Path) -> list[str]:
    return [
        sys.executable,
        "-c",
        "import sys, wizard.cli; sys.exit(wizard.cli.main(sys.argv[1:]))",
        "generate",
        "--name",
        "Killed",
        "--out",
        str(out),
        "--passphrase-env",
        "ECW_KILL_PASS",
        "--force",
        "--json",
    ]


def _assert_complete_or_absent(root: Path) -> int:
    """Every certificate folder under its final name is whole: each key loads, each PFX opens."""
    complete = 0
    for folder in root.iterdir():
        if folder.name.startswith("."):
            continue  # a staging folder of a killed run: never a final name
        names = sorted(p.name for p in folder.iterdir())
        assert names == ["Killed.cer", "Killed.key", "Killed.pem", "Killed.pfx"], (folder, names)
        cert = certs.load_certificate_file(folder / "Killed.cer")
        key = certs.load_private_key_file(folder / "Killed.key", PASSPHRASE)
        pfx_cert, pfx_key = certs.load_pfx_file(folder / "Killed.pfx", PASSPHRASE)
        assert certs.key_matches_certificate(key, cert)
        assert pfx_cert == cert and certs.key_matches_certificate(pfx_key, cert)
        complete += 1
    for staging in root.glob(".*"):
        for path in staging.iterdir():
            assert path.name.startswith(".") or path.suffix in {".cer", ".pem", ".key", ".pfx"}
    return complete


@posix_only
def test_sigkill_at_random_moments_never_leaves_a_partial_key_or_pfx(tmp_path: Path) -> None:
    """Kill real `generate --force` runs at random moments; the final names stay whole.

    The kill moment adapts: a kill before anything was written moves the window later, a
    run that finished moves it earlier, so most kills land while files are being written.
    """
    env = {**os.environ, "ECW_KILL_PASS": PASSPHRASE.decode()}
    root = tmp_path / "certificates"
    started = time.monotonic()
    subprocess.run(_generate_command(root), env=env, check=True, capture_output=True, timeout=60)
    low, high = 0.0, (time.monotonic() - started) * 1.3
    chooser = random.Random(20261127)
    outcomes = {"before writing": 0, "while writing": 0, "finished": 0}
    for _ in range(15):
        if time.monotonic() - started > 45:
            break
        entries_before = len(list(root.iterdir()))
        process = subprocess.Popen(
            _generate_command(root), env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL
        )
        delay = chooser.uniform(low, high)
        time.sleep(delay)
        process.send_signal(signal.SIGKILL)
        returncode = process.wait(timeout=30)
        wrote = list(root.glob(f".Killed.staging-{process.pid}-*"))
        if returncode == 0:
            outcomes["finished"] += 1
            high = delay
        elif wrote or len(list(root.iterdir())) != entries_before:
            outcomes["while writing"] += 1
        else:
            outcomes["before writing"] += 1
            low = delay
        if high - low < 0.005:
            low, high = max(0.0, low - 0.05), high + 0.05
        _assert_complete_or_absent(root)
    assert _assert_complete_or_absent(root) >= 1
    print(f"SIGKILL outcomes: {outcomes}")
    assert outcomes["while writing"] >= 1, outcomes
