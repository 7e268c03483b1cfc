"""The profiles file: one human-readable JSON file in the user's config folder, written atomically.

It holds names, IDs, thumbprints, paths and dates only: never a passphrase, key material or
token. A damaged or hand-edited file is reported (file, place, what is wrong) and never
replaced: a save onto a file we cannot read refuses too, so nobody loses their profiles to a
typo. Fields are read and written from their declarations in model.py.
"""

from __future__ import annotations

import contextlib
import json
import os
import re
from collections.abc import Callable, Iterator
from dataclasses import MISSING, Field, fields
from datetime import datetime, timezone
from pathlib import Path
from typing import Any, TypeVar, get_type_hints

from wizard.clock import utc_now
from wizard.errors import UserError
from wizard.paths import config_dir
from wizard.profiles.model import TEST_VERDICTS, Profile, RotationState, profile_name_problem
from wizard.reading import FileTooLarge, NotARegularFile, read_regular_file

PROFILES_FILE_NAME = "profiles.json"
FILE_FORMAT = "entra-cert-wizard profiles"
FILE_VERSION = 1
MAX_PROFILES_FILE_BYTES = 4 * 1024 * 1024  # thousands of profiles; a larger file is not ours

_Record = TypeVar("_Record", Profile, RotationState)


def profiles_file() -> Path:
    """The one file that holds every profile: <config dir>/profiles.json."""
    return config_dir() / PROFILES_FILE_NAME


def _stored_key(declared: Field[Any]) -> str:
    return str(declared.metadata.get("stored_as", declared.name))


def _fix_hint(path: Path) -> str:
    return (
        f"Fix the file by hand, or move it aside (e.g. mv '{path}' '{path}.broken') to start "
        "with no profiles; it is never replaced automatically."
    )


# --- reading --------------------------------------------------------------------------------


class _Reader:
    """Turns the parsed JSON into profiles, naming the exact place of any problem."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> UserError:
        return UserError(
            f"The profiles file {self.path} is damaged: {where}: {problem}.",
            hint=_fix_hint(self.path),
        )

    def text(
        self, data: dict[str, Any], key: str, where: str, *, optional: bool = False
    ) -> str | None:
        if key not in data or data[key] is None:
            if optional:
                return None
            raise self.fail(where, f'"{key}" is missing')
        value = data[key]
        if not isinstance(value, str):
            raise self.fail(where, f'"{key}" must be a string, not {json.dumps(value)[:40]}')
        if not value.isprintable():
            # No name, ID or path holds one; a NUL in a path would crash the first file call.
            raise self.fail(where, f'"{key}" holds a control or invisible character')
        return value

    def required_text(self, data: dict[str, Any], key: str, where: str) -> str:
        value = self.text(data, key, where)
        assert value is not None
        if not value.strip():
            raise self.fail(where, f'"{key}" is empty')
        return value

    def moment(
        self, data: dict[str, Any], key: str, where: str, *, optional: bool = False
    ) -> datetime | None:
        value = self.text(data, key, where, optional=optional)
        if value is None:
            return None
        return parse_time(
            value,
            lambda: self.fail(
                where,
                f'"{key}" is not a date and time like 2026-01-31T12:00:00+00:00 '
                f'(got "{value[:40]}")',
            ),
        )

    def flag(self, data: dict[str, Any], key: str, where: str) -> bool:
        value = data.get(key, False)
        if not isinstance(value, bool):
            raise self.fail(where, f'"{key}" must be true or false')
        return value

    def retired(self, data: dict[str, Any], key: str, where: str) -> list[dict[str, str]]:
        retired = data.get(key, [])
        if not isinstance(retired, list) or not all(
            isinstance(item, dict)
            and all(isinstance(v, str) and v.isprintable() for v in item.values())
            for item in retired
        ):
            raise self.fail(where, f'"{key}" must be a list of objects with plain string values')
        return [dict(item) for item in retired]

    def rotation(self, data: dict[str, Any], key: str, where: str) -> RotationState | None:
        value = data.get(key)
        if value is None:
            return None
        where = f"{where}, rotation"
        if not isinstance(value, dict):
            raise self.fail(where, "must be an object")
        return RotationState(**self.values(RotationState, value, where))

    def value(self, declared: Field[Any], hint: object, data: dict[str, Any], where: str) -> Any:
        """One field's value from `data`, by its declared type; absent only where allowed."""
        key = _stored_key(declared)
        has_default = declared.default is not MISSING or declared.default_factory is not MISSING
        if hint is str:
            if not has_default:
                return self.required_text(data, key, where)
            return self.text(data, key, where, optional=True) or declared.default
        if hint == (str | None):
            return self.text(data, key, where, optional=True)
        if hint in (datetime, datetime | None):
            return self.moment(data, key, where, optional=hint != datetime)
        if hint is bool:
            return self.flag(data, key, where)
        if hint == (RotationState | None):
            return self.rotation(data, key, where)
        if hint == list[dict[str, str]]:
            return self.retired(data, key, where)
        raise TypeError(f"no way to read a {hint} field ({declared.name})")

    def values(
        self, record: type[_Record], data: dict[str, Any], where: str, *, done: tuple[str, ...] = ()
    ) -> dict[str, Any]:
        """Every field of `record` but `done` from `data`, checked against its choices."""
        hints = get_type_hints(record)
        values: dict[str, Any] = {}
        for declared in fields(record):
            if declared.name in done:
                continue
            value = self.value(declared, hints[declared.name], data, where)
            choices = declared.metadata.get("choices")
            if choices is not None and value is not None and value not in choices:
                raise self.fail(
                    where,
                    f'"{_stored_key(declared)}" must be one of {", ".join(choices)} '
                    f'(got "{value}")',
                )
            pattern = declared.metadata.get("pattern")
            if pattern is not None and value and not re.fullmatch(pattern, value):
                raise self.fail(
                    where, f'"{_stored_key(declared)}" must be {declared.metadata["shape"]}'
                )
            values[declared.name] = value
        return values

    def profile(self, data: object, index: int) -> Profile:
        where = f"profile #{index + 1}"
        if not isinstance(data, dict):
            raise self.fail(where, "must be an object")
        name = self.required_text(data, "name", where)
        if profile_name_problem(name):
            raise self.fail(where, '"name" is not a usable profile name')
        where = f'profile "{name}"'  # from here on, the problem is named by its profile
        return Profile(name=name, **self.values(Profile, data, where, done=("name",)))


def parse_time(text: str, error: Callable[[], Exception] | None = None) -> datetime:
    """An ISO 8601 date-time (a trailing Z is accepted), as tz-aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
        if value.tzinfo is None:
            value = value.replace(tzinfo=timezone.utc)
        # A moment past the calendar's edge in UTC (9999-12-31T23:59:59-01:00) is damage.
        value = value.astimezone(timezone.utc)
    except (ValueError, OverflowError):
        if error is not None:
            raise error() from None
        raise ValueError(f"not a usable date and time: {text[:40]!r}") from None
    return value


def _read_file(path: Path) -> list[Profile]:
    try:
        raw = read_regular_file(path, what="profiles file", limit=MAX_PROFILES_FILE_BYTES)
    except FileNotFoundError:
        return []
    except (NotARegularFile, FileTooLarge) as error:
        raise UserError(f"The profiles file is damaged: {error}", hint=_fix_hint(path)) from None
    except OSError as error:
        raise UserError(
            f"Cannot read the profiles file {path}: {error.strerror or error}.",
            hint="Check its permissions.",
        ) from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as error:
        raise UserError(
            f"The profiles file {path} is damaged: it is not UTF-8 text (byte {error.start}).",
            hint=_fix_hint(path),
        ) from None
    if not text.strip():
        raise UserError(
            f"The profiles file {path} is empty, not a list of profiles.", hint=_fix_hint(path)
        )
    try:
        document = json.loads(text)
    except json.JSONDecodeError as error:
        raise UserError(
            f"The profiles file {path} is not valid JSON: line {error.lineno}, "
            f"column {error.colno}: {error.msg}.",
            hint=_fix_hint(path),
        ) from None
    reader = _Reader(path)
    if not isinstance(document, dict) or not isinstance(document.get("profiles"), list):
        raise reader.fail("the top level", 'expected an object with a "profiles" list')
    version = document.get("version", FILE_VERSION)
    if version != FILE_VERSION:
        raise UserError(
            f"The profiles file {path} has version {version!r}; this entra-cert-wizard "
            f"reads version {FILE_VERSION}.",
            hint="Upgrade entra-cert-wizard, or move the file aside.",
        )
    profiles = [reader.profile(item, index) for index, item in enumerate(document["profiles"])]
    seen: set[str] = set()
    for profile in profiles:
        if profile.name.casefold() in seen:
            raise reader.fail(f'profile "{profile.name}"', "the name is used twice")
        seen.add(profile.name.casefold())
    return profiles


# --- writing --------------------------------------------------------------------------------


def _time_text(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat(timespec="seconds")


def _record_json(record: Profile | RotationState) -> dict[str, object]:
    document: dict[str, object] = {}
    for declared in fields(record):
        value = getattr(record, declared.name)
        if isinstance(value, datetime):
            value = _time_text(value)
        elif isinstance(value, RotationState):
            value = _record_json(value)
        document[_stored_key(declared)] = value
    return document


def profile_to_json(profile: Profile) -> dict[str, object]:
    """The profile as the file stores it (also used by `profiles --json`)."""
    return _record_json(profile)


def _write_file(path: Path, profiles: list[Profile]) -> None:
    from wizard.storage import atomic_write_text, ensure_private_dir

    ensure_private_dir(path.parent)
    document = {
        "format": FILE_FORMAT,
        "version": FILE_VERSION,
        "note": "Saved by entra-cert-wizard. No secrets: names, IDs, thumbprints, paths, dates.",
        "profiles": [profile_to_json(profile) for profile in profiles],
    }
    atomic_write_text(path, json.dumps(document, indent=2, ensure_ascii=False) + "\n", mode=0o600)


# --- the operations -------------------------------------------------------------------------


def load_profiles() -> list[Profile]:
    """Every saved profile, in file order; [] when none was saved yet.

    Raises UserError naming the file and the problem when it cannot be read.
    """
    return _read_file(profiles_file())


def get_profile(name: str) -> Profile:
    """The profile called `name` (exact, else case-insensitive); UserError listing the names."""
    profiles = load_profiles()
    for profile in profiles:
        if profile.name == name:
            return profile
    folded = [profile for profile in profiles if profile.name.casefold() == name.casefold()]
    if len(folded) == 1:
        return folded[0]
    known = ", ".join(profile.name for profile in profiles) or "none yet"
    raise UserError(
        f'There is no saved profile called "{name}" (saved profiles: {known}).',
        hint="A profile is saved after a successful positive test; "
        "run 'entra-cert-wizard profiles' to list them.",
    )


def save_profile(profile: Profile) -> Path:
    """Insert or replace (by name, case-insensitive) `profile`; return the file written.

    Refuses (UserError) when the existing file cannot be read, rather than replacing it.
    """
    problem = profile_name_problem(profile.name)
    if problem:
        raise UserError(problem, exit_code=2)
    path = profiles_file()
    with _saving(path):
        profiles = _read_file(path)
        replaced = False
        for index, existing in enumerate(profiles):
            if existing.name.casefold() == profile.name.casefold():
                profiles[index] = profile
                replaced = True
                break
        if not replaced:
            profiles.append(profile)
        _write_file(path, profiles)
    return path


@contextlib.contextmanager
def _saving(path: Path) -> Iterator[None]:
    """One save at a time across processes (two scheduled rotations of different profiles
    must not lose each other's change): an flock beside the file, released however the
    process ends. Where flock does not exist, saves are not serialized."""
    try:
        import fcntl
    except ImportError:
        yield
        return
    from wizard.storage import ensure_private_dir

    ensure_private_dir(path.parent)
    descriptor = os.open(path.parent / ".profiles.lock", os.O_RDWR | os.O_CREAT, 0o600)
    try:
        fcntl.flock(descriptor, fcntl.LOCK_EX)
        yield
    finally:
        os.close(descriptor)


def record_test_result(name: str, verdict: str, when: datetime | None = None) -> Profile:
    """Remember the verdict ("pass" | "fail" | "inconclusive") of a test run of profile `name`."""
    if verdict not in TEST_VERDICTS:
        raise ValueError(f"verdict must be one of {TEST_VERDICTS}, not {verdict!r}")
    profile = get_profile(name)
    profile.last_test = verdict
    profile.last_test_at = when or utc_now()  # kept to the second by the model
    save_profile(profile)
    return profile
