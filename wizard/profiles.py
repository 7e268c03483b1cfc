"""Saved profiles: what was set up and proven, so it can be re-tested, watched and rotated.

One human-readable JSON file in the user's config folder, written atomically. It holds
names, IDs, thumbprints, paths and dates only: never a passphrase, key material or token.
A damaged or hand-edited file is reported (file, place, what is wrong) and never replaced:
a save onto a file we cannot read refuses too, so nobody loses their profiles to a typo.
"""

from __future__ import annotations

import json
import shlex
from dataclasses import dataclass, field
from datetime import datetime, timezone
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol

from wizard.errors import UserError
from wizard.paths import config_dir, data_dir

if TYPE_CHECKING:
    from wizard.emulator import DemoInfo
    from wizard.signin.plan import NegativeResult, PositiveResult
    from wizard.storage import CertificateFiles

PROFILES_FILE_NAME = "profiles.json"
FILE_FORMAT = "entra-cert-wizard profiles"
FILE_VERSION = 1
EXPIRY_WARNING_DAYS = 30
MAX_PROFILE_NAME_LENGTH = 64
CLOUD_KEYS = ("global", "usgov", "usgov-dod", "china")
TEST_VERDICTS = ("pass", "fail", "inconclusive")
ROTATION_STEPS = ("generate", "upload", "test", "switch", "retire", "archive")
ROTATION_DONE = "done"

ExpiryStatus = Literal["ok", "warning", "expired"]


def utc_now() -> datetime:
    """Now, in UTC, to the second (what the profiles file stores)."""
    return datetime.now(timezone.utc).replace(microsecond=0)


@dataclass
class RotationState:
    """Where a rotation stands, saved in the profile so it can be left and resumed.

    `step` is the next step to do (one of ROTATION_STEPS, or "done").
    """

    step: str
    started_at: datetime
    new_cert_path: str = ""
    new_key_path: str = ""
    new_pfx_path: str | None = None
    new_cer_path: str | None = None
    new_thumbprint_sha1: str = ""
    new_thumbprint_sha256: str = ""
    new_not_after: datetime | None = None
    uploaded_at: datetime | None = None
    tested_at: datetime | None = None
    test_verdict: str | None = None
    switched_at: datetime | None = None
    retired_at: datetime | None = None
    retire_proof: str | None = None
    old_thumbprint_sha1: str | None = None
    old_thumbprint_sha256: str | None = None
    old_cert_path: str | None = None
    old_key_path: str | None = None
    old_pfx_path: str | None = None
    old_cer_path: str | None = None
    old_not_after: datetime | None = None
    archive_folder: str | None = None


@dataclass
class Profile:
    """One app registration set up with one certificate, and when it was last proven."""

    name: str
    cloud: str
    tenant: str
    client_id: str
    thumbprint_sha1: str
    thumbprint_sha256: str
    cert_path: str
    key_path: str
    pfx_path: str | None
    not_after: datetime
    last_test: str | None = None
    last_test_at: datetime | None = None
    demo: bool = False
    demo_state_dir: str | None = None
    organization_domain: str | None = None
    certificate_name: str = ""
    cer_path: str | None = None
    created_at: datetime | None = None
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


# --- the file ---------------------------------------------------------------------------


def profiles_file() -> Path:
    """The one file that holds every profile: <config dir>/profiles.json."""
    return config_dir() / PROFILES_FILE_NAME


def _fix_hint(path: Path) -> str:
    return (
        f"Fix the file by hand, or move it aside (e.g. mv '{path}' '{path}.broken') to start "
        "with no profiles; it is never replaced automatically."
    )


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

    def rotation(self, data: object, where: str) -> RotationState | None:
        if data is None:
            return None
        where = f"{where}, rotation"
        if not isinstance(data, dict):
            raise self.fail(where, "must be an object")
        step = self.required_text(data, "step", where)
        if step not in (*ROTATION_STEPS, ROTATION_DONE):
            raise self.fail(
                where,
                f'"step" must be one of {", ".join((*ROTATION_STEPS, ROTATION_DONE))} '
                f'(got "{step}")',
            )
        started_at = self.moment(data, "started_at", where)
        assert started_at is not None
        state = RotationState(step=step, started_at=started_at)
        for key in (
            "new_cert_path",
            "new_key_path",
            "new_thumbprint_sha1",
            "new_thumbprint_sha256",
        ):
            setattr(state, key, self.text(data, key, where, optional=True) or "")
        for key in (
            "new_pfx_path",
            "new_cer_path",
            "test_verdict",
            "retire_proof",
            "old_thumbprint_sha1",
            "old_thumbprint_sha256",
            "old_cert_path",
            "old_key_path",
            "old_pfx_path",
            "old_cer_path",
            "archive_folder",
        ):
            setattr(state, key, self.text(data, key, where, optional=True))
        for key in (
            "new_not_after",
            "uploaded_at",
            "tested_at",
            "switched_at",
            "retired_at",
            "old_not_after",
        ):
            setattr(state, key, self.moment(data, key, where, optional=True))
        return state

    def profile(self, data: object, index: int) -> Profile:
        where = f"profile #{index + 1}"
        if not isinstance(data, dict):
            raise self.fail(where, "must be an object")
        name = self.required_text(data, "name", where)
        where = f'profile "{name}"'
        cloud = self.required_text(data, "cloud", where)
        if cloud not in CLOUD_KEYS:
            raise self.fail(
                where, f'"cloud" must be one of {", ".join(CLOUD_KEYS)} (got "{cloud}")'
            )
        last_test = self.text(data, "last_test", where, optional=True)
        if last_test is not None and last_test not in TEST_VERDICTS:
            raise self.fail(
                where, f'"last_test" must be one of {", ".join(TEST_VERDICTS)} (got "{last_test}")'
            )
        not_after = self.moment(data, "not_after", where)
        assert not_after is not None
        retired = data.get("retired", [])
        if not isinstance(retired, list) or not all(
            isinstance(item, dict) and all(isinstance(v, str) for v in item.values())
            for item in retired
        ):
            raise self.fail(where, '"retired" must be a list of objects with string values')
        return Profile(
            name=name,
            cloud=cloud,
            tenant=self.required_text(data, "tenant", where),
            client_id=self.required_text(data, "client_id", where),
            thumbprint_sha1=self.required_text(data, "thumbprint_sha1", where),
            thumbprint_sha256=self.text(data, "thumbprint_sha256", where, optional=True) or "",
            cert_path=self.required_text(data, "cert_path", where),
            key_path=self.required_text(data, "key_path", where),
            pfx_path=self.text(data, "pfx_path", where, optional=True),
            not_after=not_after,
            last_test=last_test,
            last_test_at=self.moment(data, "last_test_at", where, optional=True),
            demo=self.flag(data, "demo", where),
            demo_state_dir=self.text(data, "demo_state_dir", where, optional=True),
            organization_domain=self.text(data, "organization_domain", where, optional=True),
            certificate_name=self.text(data, "certificate_name", where, optional=True) or "",
            cer_path=self.text(data, "cer_path", where, optional=True),
            created_at=self.moment(data, "created_at", where, optional=True),
            rotation=self.rotation(data.get("rotation"), where),
            retired=[dict(item) for item in retired],
        )


def parse_time(text: str, error: Any = None) -> datetime:
    """An ISO 8601 date-time (a trailing Z is accepted), as tz-aware UTC."""
    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00").replace("z", "+00:00"))
    except ValueError:
        if error is not None:
            raise error() from None
        raise
    if value.tzinfo is None:
        value = value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


def _time_text(value: datetime | None) -> str | None:
    return None if value is None else value.astimezone(timezone.utc).isoformat(timespec="seconds")


def _read_file(path: Path) -> list[Profile]:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        return []
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


def _rotation_json(state: RotationState | None) -> dict[str, object] | None:
    if state is None:
        return None
    return {
        "step": state.step,
        "started_at": _time_text(state.started_at),
        "new_cert_path": state.new_cert_path,
        "new_key_path": state.new_key_path,
        "new_pfx_path": state.new_pfx_path,
        "new_cer_path": state.new_cer_path,
        "new_thumbprint_sha1": state.new_thumbprint_sha1,
        "new_thumbprint_sha256": state.new_thumbprint_sha256,
        "new_not_after": _time_text(state.new_not_after),
        "uploaded_at": _time_text(state.uploaded_at),
        "tested_at": _time_text(state.tested_at),
        "test_verdict": state.test_verdict,
        "switched_at": _time_text(state.switched_at),
        "retired_at": _time_text(state.retired_at),
        "retire_proof": state.retire_proof,
        "old_thumbprint_sha1": state.old_thumbprint_sha1,
        "old_thumbprint_sha256": state.old_thumbprint_sha256,
        "old_cert_path": state.old_cert_path,
        "old_key_path": state.old_key_path,
        "old_pfx_path": state.old_pfx_path,
        "old_cer_path": state.old_cer_path,
        "old_not_after": _time_text(state.old_not_after),
        "archive_folder": state.archive_folder,
    }


def profile_to_json(profile: Profile) -> dict[str, object]:
    """The profile as the file stores it (also used by `profiles --json`)."""
    return {
        "name": profile.name,
        "certificate_name": profile.certificate_name,
        "cloud": profile.cloud,
        "tenant": profile.tenant,
        "client_id": profile.client_id,
        "organization_domain": profile.organization_domain,
        "thumbprint_sha1": profile.thumbprint_sha1,
        "thumbprint_sha256": profile.thumbprint_sha256,
        "cert_path": profile.cert_path,
        "key_path": profile.key_path,
        "pfx_path": profile.pfx_path,
        "cer_path": profile.cer_path,
        "not_after": _time_text(profile.not_after),
        "created_at": _time_text(profile.created_at),
        "last_test": profile.last_test,
        "last_test_at": _time_text(profile.last_test_at),
        "demo": profile.demo,
        "demo_state_dir": profile.demo_state_dir,
        "rotation": _rotation_json(profile.rotation),
        "retired": profile.retired,
    }


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


# --- public API -------------------------------------------------------------------------


def load_profiles() -> list[Profile]:
    """Every saved profile, in file order; [] when none was saved yet.

    Raises UserError naming the file and the problem when it cannot be read.
    """
    return _read_file(profiles_file())


def validate_profile_name(name: str) -> str | None:
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
    problem = validate_profile_name(profile.name)
    if problem:
        raise UserError(problem, exit_code=2)
    path = profiles_file()
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


def delete_profile(name: str) -> None:
    """Forget the profile `name` (its certificate files are left alone)."""
    target = get_profile(name)
    path = profiles_file()
    _write_file(path, [p for p in _read_file(path) if p.name != target.name])


def record_test_result(name: str, verdict: str, when: datetime | None = None) -> Profile:
    """Remember the verdict ("pass" | "fail" | "inconclusive") of a test run of profile `name`."""
    if verdict not in TEST_VERDICTS:
        raise ValueError(f"verdict must be one of {TEST_VERDICTS}, not {verdict!r}")
    profile = get_profile(name)
    profile.last_test = verdict
    profile.last_test_at = (when or utc_now()).astimezone(timezone.utc).replace(microsecond=0)
    save_profile(profile)
    return profile


def default_demo_state_dir() -> Path:
    """Where the demo tenant keeps its state unless told otherwise (as DemoTenant does)."""
    return data_dir() / "demo-tenant"


# --- building a profile from the wizard ---------------------------------------------------


class WizardStateLike(Protocol):
    """What profile_from_state reads from screens.base.WizardState (kept Textual-free here)."""

    @property
    def demo(self) -> bool: ...
    @property
    def demo_info(self) -> DemoInfo | None: ...
    @property
    def name(self) -> str: ...
    @property
    def files(self) -> CertificateFiles | None: ...
    @property
    def client_id(self) -> str: ...
    @property
    def tenant(self) -> str: ...
    @property
    def cloud_key(self) -> str: ...
    @property
    def positive(self) -> PositiveResult | None: ...
    @property
    def negative(self) -> NegativeResult | None: ...
    @property
    def profile_name(self) -> str | None: ...


def organization_domain_from(positive: PositiveResult | None) -> str | None:
    """The tenant's initial *.onmicrosoft.com domain (or the first verified one), if known."""
    organization = getattr(positive, "organization", None) if positive is not None else None
    if not isinstance(organization, dict):
        return None
    domains: list[str] = []
    for item in organization.get("verified_domains") or organization.get("verifiedDomains") or []:
        if isinstance(item, str):
            domains.append(item)
        elif isinstance(item, dict) and isinstance(item.get("name"), str):
            if item.get("isInitial"):
                return str(item["name"])
            domains.append(str(item["name"]))
    for domain in domains:
        if domain.lower().endswith(".onmicrosoft.com"):
            return domain
    return domains[0] if domains else None


def profile_from_files(
    *,
    name: str,
    files: CertificateFiles,
    cloud: str,
    tenant: str,
    client_id: str,
    demo: bool = False,
    demo_state_dir: Path | None = None,
    organization_domain: str | None = None,
    last_test: str | None = None,
    last_test_at: datetime | None = None,
) -> Profile:
    """A profile for the certificate in `files` (thumbprints and expiry read from its .cer)."""
    from wizard import certs

    certificate = certs.load_certificate_file(files.cer)
    cloud_key = cloud if cloud in CLOUD_KEYS else "global"
    return Profile(
        name=name,
        cloud=cloud_key,
        tenant=tenant,
        client_id=client_id,
        thumbprint_sha1=certs.thumbprint_sha1(certificate),
        thumbprint_sha256=certs.thumbprint_sha256(certificate),
        cert_path=str(Path(files.pem).resolve()),
        key_path=str(Path(files.key).resolve()),
        pfx_path=str(Path(files.pfx).resolve()) if files.pfx else None,
        cer_path=str(Path(files.cer).resolve()),
        not_after=certs.not_valid_after(certificate),
        certificate_name=certs.subject_cn(certificate),
        demo=demo,
        demo_state_dir=str(demo_state_dir or default_demo_state_dir()) if demo else None,
        organization_domain=organization_domain,
        created_at=utc_now(),
        last_test=last_test,
        last_test_at=last_test_at,
    )


def profile_from_state(state: WizardStateLike, name: str | None = None) -> Profile:
    """The profile for what the wizard has set up and tested (does not save it)."""
    if state.files is None:
        raise UserError("No certificate was made in this session, so there is nothing to save.")
    verdict: str | None = None
    if state.positive is not None:
        from wizard.signin.plan import overall_verdict

        verdict = overall_verdict(state.positive, state.negative)
    existing_name = name or state.profile_name or state.name or state.files.stem
    info = state.demo_info
    demo_domain = info.tenant_domain if info is not None else None
    demo_state_dir = Path(info.state_dir) if info is not None and info.state_dir else None
    profile = profile_from_files(
        name=existing_name,
        files=state.files,
        cloud="global" if state.demo else state.cloud_key,
        tenant=state.tenant,
        client_id=state.client_id,
        demo=state.demo,
        demo_state_dir=demo_state_dir,
        organization_domain=organization_domain_from(state.positive) or demo_domain,
        last_test=verdict,
        last_test_at=utc_now() if verdict else None,
    )
    return _merged_with_saved(profile)


def _merged_with_saved(profile: Profile) -> Profile:
    """Keep what a re-save must not lose: history, and a rotation of this same certificate."""
    try:
        saved = next(
            (p for p in load_profiles() if p.name.casefold() == profile.name.casefold()), None
        )
    except UserError:
        return profile  # the save will report the damaged file
    if saved is None:
        return profile
    profile.name = saved.name
    profile.created_at = saved.created_at or profile.created_at
    profile.retired = list(saved.retired)
    profile.organization_domain = profile.organization_domain or saved.organization_domain
    if saved.thumbprint_sha1 == profile.thumbprint_sha1:
        profile.rotation = saved.rotation
    return profile


def save_profile_from_state(state: WizardStateLike, name: str | None = None) -> Profile:
    """Build the profile from the wizard's answers after a positive test, save and return it."""
    profile = profile_from_state(state, name)
    save_profile(profile)
    return profile


# --- `test --profile NAME` ------------------------------------------------------------------


@dataclass(frozen=True)
class ProfileConnectionInputs:
    """Everything `entra-cert-wizard test --profile NAME` needs besides the passphrase."""

    name: str
    cloud_key: str
    tenant: str
    client_id: str
    cert_path: Path
    key_path: Path
    pfx_path: Path | None
    demo: bool
    demo_state_dir: Path | None


def connection_inputs_for_profile(name: str) -> ProfileConnectionInputs:
    """The tenant, app, cloud and files of profile `name`; UserError if its files moved."""
    profile = get_profile(name)
    missing = profile.missing_files()
    if missing:
        raise UserError(
            f'Profile "{profile.name}": {", ".join(missing)} '
            f"{'is' if len(missing) == 1 else 'are'} no longer there.",
            hint="Move the files back, or run the wizard again to set up a new certificate.",
        )
    return ProfileConnectionInputs(
        name=profile.name,
        cloud_key=profile.cloud,
        tenant=profile.tenant,
        client_id=profile.client_id,
        cert_path=Path(profile.cert_path),
        key_path=Path(profile.key_path),
        pfx_path=Path(profile.pfx_path) if profile.pfx_path else None,
        demo=profile.demo,
        demo_state_dir=Path(profile.demo_state_dir)
        if profile.demo_state_dir
        else (default_demo_state_dir() if profile.demo else None),
    )
