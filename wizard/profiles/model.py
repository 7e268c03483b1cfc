"""What a saved profile is: one app registration with one certificate, and its rotation.

Each field is declared once, here: the profiles file is read and written from these
declarations (`dataclasses.fields()`), so a new field needs no other edit. A field with a
default, or one that may be None, may be absent from the file; `choices` and `stored_as` in a
field's metadata say which values the file may hold and under which key.
"""

from __future__ import annotations

import os
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, Literal

from wizard.clock import utc_now
from wizard.names import EXPIRY_WARNING_DAYS
from wizard.rotation.stages import ROTATION_DONE, STAGE_NAMES
from wizard.signin.clouds import CLOUDS

CLOUD_KEYS: tuple[str, ...] = tuple(CLOUDS)
TEST_VERDICTS = ("pass", "fail", "inconclusive")
MAX_PROFILE_NAME_LENGTH = 64

ExpiryStatus = Literal["ok", "warning", "expired"]


def one_of(choices: tuple[str, ...], *, stored_as: str | None = None) -> dict[str, Any]:
    """Field metadata: the file may hold only `choices` (under `stored_as`, if given)."""
    return {"choices": choices} | ({"stored_as": stored_as} if stored_as else {})


def shaped(pattern: str, what: str) -> dict[str, Any]:
    """Field metadata: a value in the file must match `pattern` (`what` names the shape)."""
    return {"pattern": pattern, "shape": what}


SHA1_HEX = shaped(r"[0-9A-F]{40}", "40 upper-case hex digits")
SHA256_HEX = shaped(r"[0-9A-F]{64}", "64 upper-case hex digits")
GUID = shaped(r"[0-9a-fA-F]{8}(?:-[0-9a-fA-F]{4}){3}-[0-9a-fA-F]{12}", "a GUID")


class _StoredRecord:
    """Only declared fields can be set (a misspelt one would never reach the file), and
    moments are kept in UTC to the second, as the file stores them, so a profile read back
    equals the one saved."""

    def __setattr__(self, name: str, value: object) -> None:
        if name not in getattr(type(self), "__dataclass_fields__", {}):
            raise AttributeError(f"{type(self).__name__} has no field {name!r}")
        if isinstance(value, datetime):
            value = value.astimezone(timezone.utc).replace(microsecond=0)
        super().__setattr__(name, value)


@dataclass
class RotationState(_StoredRecord):
    """Where a rotation stands, saved in the profile so it can be left and resumed.

    `stage` is the next stage to do (a name from wizard.rotation.stages, or "done"); the file
    keeps it under its first name, "step".
    """

    stage: str = field(metadata=one_of((*STAGE_NAMES, ROTATION_DONE), stored_as="step"))
    started_at: datetime
    new_cert_path: str = ""
    new_key_path: str = ""
    new_pfx_path: str | None = None
    new_cer_path: str | None = None
    new_thumbprint_sha1: str = field(default="", metadata=SHA1_HEX)
    new_thumbprint_sha256: str = field(default="", metadata=SHA256_HEX)
    new_not_after: datetime | None = None
    uploaded_at: datetime | None = None
    tested_at: datetime | None = None
    test_verdict: str | None = None
    switched_at: datetime | None = None
    retired_at: datetime | None = None
    retire_proof: str | None = None
    old_thumbprint_sha1: str | None = field(default=None, metadata=SHA1_HEX)
    old_thumbprint_sha256: str | None = field(default=None, metadata=SHA256_HEX)
    old_cert_path: str | None = None
    old_key_path: str | None = None
    old_pfx_path: str | None = None
    old_cer_path: str | None = None
    old_not_after: datetime | None = None
    archive_folder: str | None = None


@dataclass(kw_only=True)
class Profile(_StoredRecord):
    """One app registration set up with one certificate, and when it was last proven.

    The fields are in the order the file lists them (keyword-only, so order and defaults
    are free of each other).
    """

    name: str
    certificate_name: str = ""
    cloud: str = field(metadata=one_of(CLOUD_KEYS))
    tenant: str
    client_id: str = field(metadata=GUID)
    # The app registration's object ID (not the client ID): with it the app rolls its own
    # certificate through Graph's addKey/removeKey.
    object_id: str | None = field(default=None, metadata=GUID)
    # The keyId Entra gave the current certificate (the portal's "Certificate ID"): what
    # removeKey needs to retire it.
    key_id: str | None = field(default=None, metadata=GUID)
    organization_domain: str | None = None
    thumbprint_sha1: str = field(metadata=SHA1_HEX)
    thumbprint_sha256: str = field(default="", metadata=SHA256_HEX)
    cert_path: str
    key_path: str
    pfx_path: str | None
    cer_path: str | None = None
    not_after: datetime
    created_at: datetime | None = None
    last_test: str | None = field(default=None, metadata=one_of(TEST_VERDICTS))
    last_test_at: datetime | None = None
    demo: bool = False
    demo_state_dir: str | None = None
    rotation: RotationState | None = None
    retired: list[dict[str, str]] = field(default_factory=list)

    @property
    def shell_name(self) -> str:
        """The name as one shell word, for the commands we tell the user to run."""
        return shlex.quote(self.name)

    def days_left(self, now: datetime | None = None) -> int:
        """Whole days until the certificate expires (negative once expired)."""
        seconds = (self.not_after - (now or utc_now())).total_seconds()
        return int(seconds // 86400)

    def expiry_status(self, now: datetime | None = None) -> ExpiryStatus:
        """ "expired" once past not-after, "warning" within EXPIRY_WARNING_DAYS, else "ok"."""

        moment = now or utc_now()
        if moment >= self.not_after:
            return "expired"
        if self.days_left(moment) <= EXPIRY_WARNING_DAYS:
            return "warning"
        return "ok"

    def file_paths(self) -> dict[str, str]:
        """The files this profile depends on, by role."""
        paths = {"certificate": self.cert_path, "key": self.key_path}
        if self.pfx_path:
            paths["pfx"] = self.pfx_path
        return paths

    def missing_files(self) -> list[str]:
        """The paths of the files that are no longer where they were."""
        return [path for path in self.file_paths().values() if not Path(path).is_file()]


def profile_name_problem(name: str) -> str | None:
    """None when `name` can name a profile, else the message to show beside the field."""
    if not name or not name.strip():
        return "Enter a profile name, for example ScriptServer01."
    if name != name.strip():
        return "The profile name starts or ends with a space; remove it."
    if len(name) > MAX_PROFILE_NAME_LENGTH:
        return f"A profile name holds at most {MAX_PROFILE_NAME_LENGTH} characters."
    if not name.isprintable():
        return "The profile name contains an invisible or control character; retype it."
    return None


CERTIFICATE_SUFFIXES = (".pem", ".cer")


def certificate_folder_of(cert_path: str | None) -> Path | None:
    """The certificate's own folder when `cert_path` is laid out as the tool writes it
    (`<folder>/<folder name>.pem` or `.cer`, a real folder, not a link), else None.

    Only such a folder is written into (the summary) or emptied (the rotation's archive): a
    path from a hand-edited profile can point anywhere.
    """
    if not cert_path:
        return None
    path = Path(os.path.abspath(cert_path))
    folder = path.parent
    if path.name not in {f"{folder.name}{suffix}" for suffix in CERTIFICATE_SUFFIXES}:
        return None
    if folder.is_symlink() or not folder.is_dir():
        return None
    return folder
