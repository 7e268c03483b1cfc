"""Safe storage: private files are 0600 from their first byte and appear complete or not at all.

Every file is written to a fresh temp name in its final folder (created with O_EXCL and its
final mode, so no other user can ever open it), fsynced, then renamed over the final name.
A certificate set is written into a hidden staging folder which is renamed into place in
one step, so a crash, Ctrl+C or SIGKILL at any moment leaves either the old certificate or
the complete new one under the final names, never a partial key or PFX.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import errno
import os
import secrets
import shutil
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from wizard import certs
from wizard.errors import Input, UserError
from wizard.names import file_stem_for
from wizard.paths import confinement_problem, default_cert_root

PRIVATE_FILE_MODE = 0o600
PUBLIC_FILE_MODE = 0o644
PRIVATE_DIR_MODE = 0o700
STALE_STAGING_SECONDS = 600  # Windows only: age after which an unfinished staging folder is removed
IS_WINDOWS = os.name == "nt"
WINDOWS_PERMISSIONS_WARNING = (
    "Windows does not use POSIX file permissions, so nothing here restricted who can read the "
    "files: check that only your account can open this folder (its access rules come from "
    "the parent folder)."
)
NO_PASSPHRASE_WARNING = (
    "The private key is not encrypted: it is protected by file permissions alone, and no .pfx "
    "was written (a .pfx needs a passphrase). Keep the folder private."
)


@dataclass(frozen=True)
class CertificateFiles:
    folder: Path
    stem: str
    cer: Path
    pem: Path
    key: Path
    pfx: Path | None

    def as_dict(self) -> dict[str, str | None]:
        """The file paths by kind (cer, pem, key, pfx), as strings for JSON."""
        return {
            "cer": str(self.cer),
            "pem": str(self.pem),
            "key": str(self.key),
            "pfx": str(self.pfx) if self.pfx else None,
        }


@dataclass(frozen=True)
class WriteResult:
    files: CertificateFiles
    backup_folder: Path | None
    warnings: list[str]


def _fsync_dir(path: Path) -> None:
    """Make a rename in this folder durable (a no-op on Windows, which cannot open folders)."""
    if IS_WINDOWS:
        return
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _os_error(error: OSError, path: Path, option: Input | None = None) -> UserError:
    """The user's words for a failed write in `path`; `option`: the input that chose it."""
    if isinstance(error, PermissionError):
        return UserError(
            f"You do not have permission to write in {path}.",
            hint="Choose a folder you own with --out, or fix the folder's permissions.",
            option=option,
        )
    if error.errno == errno.ENOSPC:
        return UserError(f"The disk holding {path} is full.", hint="Free some space and try again.")
    if error.errno == errno.EROFS:
        return UserError(
            f"{path} is on a read-only file system.", hint="Choose another --out.", option=option
        )
    return UserError(f"Cannot write in {path}: {error.strerror or error}.")


def atomic_write(
    path: Path, data: bytes, *, mode: int = PRIVATE_FILE_MODE, sync_folder: bool = True
) -> None:
    """Write `data` to `path` so it appears complete or not at all, created with `mode`.

    The temp file is created with O_EXCL and the final mode in one system call (the umask
    can only narrow it), so a private file is never readable by others, not even briefly;
    nothing is chmod-ed afterwards. `sync_folder=False` skips the folder fsync for callers
    that write several files into one folder and sync it once themselves.
    """
    path = Path(path)
    temp = path.with_name(f".{path.name}.{secrets.token_hex(6)}.tmp")
    flags = (
        os.O_WRONLY
        | os.O_CREAT
        | os.O_EXCL
        | getattr(os, "O_NOFOLLOW", 0)
        | getattr(os, "O_CLOEXEC", 0)
        | getattr(os, "O_BINARY", 0)
    )
    fd = os.open(temp, flags, mode)
    try:
        try:
            view = memoryview(data)
            while view:
                written = os.write(fd, view)
                view = view[written:]
            os.fsync(fd)
        finally:
            os.close(fd)
        os.replace(temp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temp)
        raise
    if sync_folder:
        _fsync_dir(path.parent)


def atomic_write_text(path: Path, text: str, mode: int = PRIVATE_FILE_MODE) -> None:
    """`atomic_write` for UTF-8 text."""
    atomic_write(path, text.encode("utf-8"), mode=mode)


def ensure_private_dir(path: Path, option: Input | None = None) -> Path:
    """Create `path` (and missing parents) with mode 0700; an existing folder is left as it is.

    `option`: the input that chose `path`, blamed by the errors (None for the tool's own folders).
    """
    path = Path(path).expanduser()
    if path.is_dir():
        return path
    # Checked again after is_dir(): another process may have just created the folder.
    if path.exists() and not path.is_dir():
        raise UserError(
            f"{path} exists but is a file, not a folder.", hint="Choose another folder.",
            option=option,
        )
    missing: list[Path] = []
    for candidate in (path, *path.parents):
        if candidate.is_dir():
            break
        missing.append(candidate)
    for folder in reversed(missing):
        try:
            folder.mkdir(mode=PRIVATE_DIR_MODE)
        except FileExistsError:
            if not folder.is_dir():
                raise UserError(
                    f"{folder} exists but is a file, not a folder.", option=option
                ) from None
        except OSError as error:
            raise _os_error(error, folder.parent, option) from None
    return path


def _has_entries(folder: Path) -> bool:
    try:
        return any(folder.iterdir())
    except FileNotFoundError:
        return False
    except OSError as error:
        raise _os_error(error, folder) from None


def _backup_folder_for(root: Path, stem: str) -> Path:
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    candidate = root / f"{stem}.backup-{stamp}"
    counter = 2
    while candidate.exists():
        candidate = root / f"{stem}.backup-{stamp}-{counter}"
        counter += 1
    return candidate


def _staging_is_abandoned(staging: Path) -> bool:
    """True when the process that made this staging folder is gone (it was killed mid-write)."""
    owner = staging.name.rsplit(".staging-", 1)[-1].split("-", 1)[0]
    if IS_WINDOWS or not owner.isdigit():
        try:
            return time.time() - staging.stat().st_mtime > STALE_STAGING_SECONDS
        except OSError:
            return False
    try:
        os.kill(int(owner), 0)
    except ProcessLookupError:
        return True
    except OSError:
        return False
    return False


def _remove_abandoned_staging(root: Path, stem: str) -> bool:
    removed = False
    for staging in root.glob(f".{stem}.staging-*"):
        if staging.is_dir() and _staging_is_abandoned(staging):
            shutil.rmtree(staging, ignore_errors=True)
            removed = True
    return removed


def _exchange(first: Path, second: Path) -> bool:
    """Swap two folders in one atomic step (Linux renameat2); False where that is unavailable."""
    if not sys.platform.startswith("linux"):
        return False
    import ctypes  # only here: it costs start-up time on every command otherwise

    try:
        libc = ctypes.CDLL(None, use_errno=True)
        renameat2 = libc.renameat2
    except (OSError, AttributeError):
        return False
    at_fdcwd, rename_exchange = -100, 2
    result = renameat2(at_fdcwd, os.fsencode(first), at_fdcwd, os.fsencode(second), rename_exchange)
    if result == 0:
        return True
    code = ctypes.get_errno()
    if code in (errno.ENOSYS, errno.EINVAL, errno.ENOTSUP, errno.EOPNOTSUPP):
        return False  # an old kernel or a file system without exchange
    raise OSError(code, os.strerror(code), str(first))


def _replace_folder(staging: Path, folder: Path, backup: Path) -> None:
    """Put the complete `staging` at `folder` and the old `folder` at `backup`.

    Where the kernel can swap two folders atomically, the new set is first renamed to the
    backup name and then swapped with the old folder: the final name holds the old set or
    the new one at every instant (killed between the two steps, the unused new set stays
    under the backup name, where nothing reads it). Elsewhere it takes two renames; if
    interrupted between them (Ctrl+C) the old folder is put back, and only SIGKILL or a
    power cut in that instant can leave the old set under the backup name and the new one
    hidden in staging.
    """
    os.rename(staging, backup)
    try:
        if _exchange(backup, folder):
            return
    except BaseException:
        os.rename(backup, staging)
        raise
    os.rename(backup, staging)
    os.rename(folder, backup)
    try:
        os.rename(staging, folder)
    except BaseException:
        os.rename(backup, folder)
        raise


def check_name_is_free(name: str, *, out_root: Path | None = None, force: bool = False) -> Path:
    """The certificate folder for `name`; raises UserError when it is taken and not `force`.

    Commands call this before generating a key or asking for a passphrase, to fail fast;
    `write_certificate_set` checks again.
    """
    root = Path(out_root).expanduser() if out_root is not None else default_cert_root()
    folder = root / file_stem_for(name)
    outside = confinement_problem(folder)
    if outside is not None:
        raise UserError(outside, option="out")
    if root.exists() and not root.is_dir():
        raise UserError(
            f"{root} exists but is a file, not a folder.", hint="Choose another --out.",
            option="out",
        )
    if folder.exists() and not folder.is_dir():
        raise UserError(
            f"{folder} exists and is a file, so the certificate folder cannot be created there.",
            hint="Choose another --name or --out.",
            option="name",
        )
    if not force and _has_entries(folder):
        raise UserError(
            f"A certificate folder already exists at {folder}: it is not overwritten.",
            hint="Choose another --name, or add --force to replace it "
            "(the old files are moved to a backup folder first).",
            option="name",
        )
    return folder


def write_certificate_set(
    generated: certs.GeneratedCertificate,
    name: str,
    *,
    out_root: Path | None = None,
    passphrase: bytes | None,
    force: bool = False,
    on_stage: Callable[[str], None] | None = None,
) -> WriteResult:
    """Write .cer, .pem, .key (and .pfx with a passphrase) into `out_root/<stem>/`.

    An existing certificate folder is refused unless `force`, which first moves it to
    `<stem>.backup-YYYYmmdd-HHMMSS/` beside it. `on_stage` hears a short sentence before
    each step, for progress displays.
    """

    def stage(message: str) -> None:
        if on_stage is not None:
            on_stage(message)

    passphrase = passphrase or None  # an empty passphrase protects nothing: treat it as none
    stem = file_stem_for(name)
    check_name_is_free(name, out_root=out_root, force=force)
    root = ensure_private_dir(
        Path(out_root) if out_root is not None else default_cert_root(), option="out"
    )
    folder = root / stem
    existing = _has_entries(folder)
    warnings: list[str] = []
    if IS_WINDOWS:
        warnings.append(WINDOWS_PERMISSIONS_WARNING)
    if passphrase is None:
        warnings.append(NO_PASSPHRASE_WARNING)
    if _remove_abandoned_staging(root, stem):
        warnings.append("Removed unfinished files left by an earlier, interrupted run.")

    staging = root / f".{stem}.staging-{os.getpid()}-{secrets.token_hex(4)}"
    cert = generated.certificate
    backup: Path | None = None
    try:
        staging.mkdir(mode=PRIVATE_DIR_MODE)
        # Each file is fsynced; the staging folder once, before it is renamed into place.
        stage(f"Writing the certificate ({stem}.cer, {stem}.pem)")
        der, pem = certs.cert_der(cert), certs.cert_pem(cert)
        atomic_write(staging / f"{stem}.cer", der, mode=PUBLIC_FILE_MODE, sync_folder=False)
        atomic_write(staging / f"{stem}.pem", pem, mode=PUBLIC_FILE_MODE, sync_folder=False)
        stage(f"Writing the private key ({stem}.key)")
        key_bytes = certs.key_pem(generated.private_key, passphrase)
        atomic_write(staging / f"{stem}.key", key_bytes, sync_folder=False)
        if passphrase:
            stage(f"Writing the PFX ({stem}.pfx)")
            pfx = certs.pfx_bytes(generated.private_key, cert, passphrase, name)
            atomic_write(staging / f"{stem}.pfx", pfx, sync_folder=False)
        _fsync_dir(staging)
        stage("Moving the files into place")
        if existing:
            backup = _backup_folder_for(root, stem)
            _replace_folder(staging, folder, backup)
        else:
            if folder.is_dir():
                folder.rmdir()  # an empty folder left behind: nothing to keep
            os.rename(staging, folder)
        _fsync_dir(root)
    except OSError as error:
        shutil.rmtree(staging, ignore_errors=True)
        if error.errno in (errno.ENOTEMPTY, errno.EEXIST) and folder.is_dir():
            raise UserError(
                f"Another certificate appeared in {folder} while this one was being written.",
                hint="Run the command again (add --force to replace it).",
                option="name",
            ) from None
        raise _os_error(error, root, "out") from None
    except BaseException:
        shutil.rmtree(staging, ignore_errors=True)
        raise
    files = CertificateFiles(
        folder=folder,
        stem=stem,
        cer=folder / f"{stem}.cer",
        pem=folder / f"{stem}.pem",
        key=folder / f"{stem}.key",
        pfx=folder / f"{stem}.pfx" if passphrase else None,
    )
    return WriteResult(files=files, backup_folder=backup, warnings=warnings)
