"""Files swapped for something else (a pipe, a device, a huge sparse file) and profile files
edited by hand: every read is quick, small and refused with the clear message, never a hang,
a memory blow-up or a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from wizard import certs
from wizard.errors import UserError
from wizard.profiles import load_profiles, profile_from_files, profiles_file, save_profile
from wizard.storage import write_certificate_set

pytestmark = pytest.mark.skipif(os.name == "nt", reason="named pipes and /dev/zero are POSIX")


def cli(*args: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    """The command in its own process, so a hang is a timeout here, not a stuck test run."""
    return subprocess.run(
        [sys.executable, "-m", "wizard", *args], capture_output=True, text=True,
        stdin=subprocess.DEVNULL, timeout=timeout, check=False,
    )


def python(code: str, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=timeout, check=False
    )


@pytest.fixture
def fifo(tmp_path: Path) -> Path:
    path = tmp_path / "pipe.key"
    os.mkfifo(path)
    return path


@pytest.fixture
def sparse(tmp_path: Path) -> Path:
    path = tmp_path / "huge.key"
    with path.open("wb") as handle:
        handle.write(b"-----BEGIN ENCRYPTED PRIVATE KEY-----\n")
        handle.truncate(2 * 1024**3)  # 2 GiB that take no disk space
    return path


def saved_profile(tmp_path: Path, name: str = "hostile") -> dict[str, object]:
    generated = certs.generate_certificate(name)
    files = write_certificate_set(generated, name, out_root=tmp_path / "certs", passphrase=None)
    save_profile(
        profile_from_files(
            name=name, files=files.files, cloud="global", tenant="contoso.onmicrosoft.com",
            client_id="11111111-2222-4333-8444-555555555555",
        )
    )
    document = json.loads(profiles_file().read_text())
    assert isinstance(document, dict)
    return document


def rewrite_profile(document: dict[str, object], **changes: object) -> None:
    profiles = document["profiles"]
    assert isinstance(profiles, list)
    profiles[0].update(changes)
    profiles_file().write_text(json.dumps(document))


# --- the one safe read ---------------------------------------------------------------------


def test_only_regular_files_are_read_and_never_beyond_the_cap(
    tmp_path: Path, fifo: Path, sparse: Path
) -> None:
    from wizard.reading import FileTooLarge, NotARegularFile, read_regular_file

    started = time.monotonic()
    with pytest.raises(NotARegularFile, match="is a named pipe, not a private key"):
        read_regular_file(fifo, what="private key", limit=1024)
    with pytest.raises(NotARegularFile, match="is a device"):
        read_regular_file("/dev/zero", what="private key", limit=1024)
    with pytest.raises(NotARegularFile, match="is a folder"):
        read_regular_file(tmp_path, what="private key", limit=1024)
    with pytest.raises(FileTooLarge):
        read_regular_file(sparse, what="private key", limit=1024)
    assert time.monotonic() - started < 5
    small = tmp_path / "small"
    small.write_bytes(b"x" * 1024)
    assert read_regular_file(small, what="file", limit=1024) == b"x" * 1024
    link = tmp_path / "link"
    link.symlink_to(small)
    assert read_regular_file(link, what="file", limit=1024) == b"x" * 1024


def test_a_huge_sparse_key_is_refused_without_reading_it(sparse: Path) -> None:
    """The rotation's "is this key encrypted?" look read the whole file (2 GB in memory)."""
    done = python(
        "import resource, sys\n"
        "from wizard.rotation.access import key_is_encrypted\n"
        "before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss\n"
        f"print(key_is_encrypted({str(sparse)!r}))\n"
        "print(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before)\n"
    )
    assert done.returncode == 0, done.stderr
    answer, grown_kib = done.stdout.split()
    assert answer == "False"
    # Linux keeps the peak across exec (the child starts at pytest's own peak), so only the
    # growth during the call is measured: reading the file whole would add 2 GB.
    assert int(grown_kib) < 100 * 1024


def test_a_named_pipe_or_a_device_as_a_key_never_hangs(fifo: Path) -> None:
    done = python(
        "from wizard.rotation.access import key_is_encrypted\n"
        f"print(key_is_encrypted({str(fifo)!r}), key_is_encrypted('/dev/zero'))\n",
        timeout=20,
    )
    assert done.stdout.split() == ["False", "False"], done.stderr
    for bad in (fifo, Path("/dev/zero")):
        with pytest.raises(UserError, match="not a certificate"):
            certs.read_input_file(bad, "certificate")


def test_profiles_file_as_a_named_pipe_is_reported_not_waited_on() -> None:
    path = profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    os.mkfifo(path)
    started = time.monotonic()
    done = cli("profiles", timeout=30)
    assert time.monotonic() - started < 30
    assert done.returncode != 0
    assert "Traceback" not in done.stderr + done.stdout
    assert "profiles file is damaged" in done.stderr and "named pipe" in done.stderr
    with pytest.raises(UserError, match="named pipe"):
        load_profiles()


def test_a_profiles_file_of_gigabytes_is_refused_unread() -> None:
    path = profiles_file()
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("wb") as handle:
        handle.truncate(2 * 1024**3)
    with pytest.raises(UserError, match=r"profiles file is damaged.*too big"):
        load_profiles()


# --- values in the profiles file -----------------------------------------------------------


def test_a_date_past_the_calendar_edge_is_damage_not_a_crash(tmp_path: Path) -> None:
    document = saved_profile(tmp_path)
    rewrite_profile(document, not_after="9999-12-31T23:59:59-01:00")
    with pytest.raises(UserError, match=r'is damaged: profile "hostile": "not_after"'):
        load_profiles()
    done = cli("profiles")
    assert done.returncode != 0
    assert "Traceback" not in done.stderr and "OverflowError" not in done.stderr
    assert "is damaged" in done.stderr
    rewrite_profile(document, not_after="9999-12-31T23:59:59+00:00")  # "never expires": fine
    assert load_profiles()[0].days_left() > 2_000_000


@pytest.mark.parametrize(
    ("field", "value", "said"),
    [
        ("thumbprint_sha1", "not a thumbprint", "40 upper-case hex digits"),
        ("thumbprint_sha256", "AB" * 31, "64 upper-case hex digits"),
        ("client_id", "app; rm -rf ~", "a GUID"),
        ("cert_path", "/tmp/x\u0000y.pem", "control or invisible character"),
        ("key_path", "/tmp/\u001b]52;c;aGk=\u0007.key", "control or invisible character"),
        ("name", "Srv\u001b[2J", "control or invisible character"),
        ("name", "x" * 65, "not a usable profile name"),
    ],
)
def test_every_value_is_checked_on_read(
    tmp_path: Path, field: str, value: str, said: str
) -> None:
    rewrite_profile(saved_profile(tmp_path), **{field: value})
    with pytest.raises(UserError, match="is damaged") as caught:
        load_profiles()
    assert said in str(caught.value)
    assert caught.value.hint and "move it aside" in caught.value.hint


def test_a_ca_bundle_that_is_a_device_or_huge_is_a_usage_error(tmp_path: Path, sparse: Path) -> None:
    """TLS reads the bundle whole: /dev/zero never ends, a sparse file is 2 GiB in memory."""
    generated = certs.generate_certificate("Bundle")
    files = write_certificate_set(generated, "Bundle", out_root=tmp_path, passphrase=None).files
    for bundle in ("/dev/zero", str(sparse)):
        started = time.monotonic()
        done = cli(
            "test", "--cert", str(files.pem), "--key", str(files.key), "--ca-bundle", bundle,
            "--authority-host", "https://127.0.0.1:9", "--graph-endpoint",
            "https://127.0.0.1:9/graph", "--tenant", "contoso.onmicrosoft.com",
            "--client-id", "00000000-0000-0000-0000-000000000001", "--timeout", "2",
            timeout=60,
        )
        assert time.monotonic() - started < 60
        assert done.returncode == 2, done.stderr
        assert "CA bundle" in done.stderr and "Traceback" not in done.stderr


def test_rotate_with_a_named_pipe_as_the_new_key_says_so_and_ends(tmp_path: Path) -> None:
    """It hung: the look at whether the key is encrypted waited on the pipe forever."""
    saved_profile(tmp_path, "piped")
    assert cli("rotate", "piped", "--no-passphrase").returncode == 0
    assert cli("rotate", "piped", "--step", "upload", "--confirm").returncode == 0
    document = json.loads(profiles_file().read_text())
    new_key = Path(document["profiles"][0]["rotation"]["new_key_path"])
    new_key.unlink()
    os.mkfifo(new_key)
    done = cli("rotate", "piped", "--step", "test", timeout=30)
    assert done.returncode not in (0, None)
    assert "Traceback" not in done.stderr + done.stdout
    assert "named pipe" in done.stderr + done.stdout
