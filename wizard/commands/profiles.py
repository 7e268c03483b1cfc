"""`entra-cert-wizard profiles`: every saved set-up, its expiry, and whether its files are there.

Exit 0 when every certificate is valid and its files are present (warnings for those expiring
within names.EXPIRY_WARNING_DAYS are printed, not signalled), 1 when any has expired or lost its
files, so a monitoring job can alert on the exit code alone.
"""

from __future__ import annotations

import argparse
import json
import sys
from datetime import datetime
from typing import Any

from wizard.clock import utc_now
from wizard.names import EXPIRY_WARNING_DAYS
from wizard.profiles import Profile, load_profiles, profile_to_json, profiles_file

EXIT_ATTENTION = 1


def profile_report(profile: Profile, now: datetime) -> dict[str, Any]:
    """One profile for `--json`: the stored fields plus days_left, status, files_present."""
    missing = profile.missing_files()
    report = profile_to_json(profile)
    report.update(
        days_left=profile.days_left(now),
        status=profile.expiry_status(now),
        files_present=not missing,
        missing_files=missing,
        rotation_step=profile.rotation.stage if profile.rotation is not None else None,
    )
    return report


def _needs_attention(profile: Profile, now: datetime) -> bool:
    return profile.expiry_status(now) == "expired" or bool(profile.missing_files())


def _line(profile: Profile, now: datetime) -> str:
    days = profile.days_left(now)
    status = profile.expiry_status(now)
    expiry = f"{profile.not_after:%Y-%m-%d}"
    if status == "expired":
        days_text = f"EXPIRED {(now - profile.not_after).days}d ago"
    elif status == "warning":
        days_text = f"{days}d left (!)"
    else:
        days_text = f"{days}d left"
    files = "files ok" if not profile.missing_files() else "FILES MISSING"
    test = (
        f"last test {profile.last_test} {profile.last_test_at:%Y-%m-%d}"
        if profile.last_test and profile.last_test_at
        else "not tested"
    )
    where = "demo" if profile.demo else profile.cloud
    return f"{profile.name:<20} {expiry}  {days_text:<17} {files:<13} {test:<28} {where}"


def _notes(profile: Profile, now: datetime) -> list[str]:
    notes: list[str] = []
    status = profile.expiry_status(now)
    if status == "expired":
        notes.append(
            f'error: "{profile.name}" expired on {profile.not_after:%Y-%m-%d}: scripts using it '
            f"cannot sign in. Rotate it: entra-cert-wizard rotate {profile.shell_name}"
        )
    elif status == "warning":
        notes.append(
            f'warning: "{profile.name}" expires in {profile.days_left(now)} day(s) '
            f"(within {EXPIRY_WARNING_DAYS}). "
            f"Rotate it: entra-cert-wizard rotate {profile.shell_name}"
        )
    for path in profile.missing_files():
        notes.append(f'error: "{profile.name}": {path} is no longer there.')
    if profile.rotation is not None:
        notes.append(
            f'note: "{profile.name}" has a rotation under way '
            f"(next step: {profile.rotation.stage}); "
            f"resume it: entra-cert-wizard rotate {profile.shell_name}"
        )
    return notes


def run(args: argparse.Namespace) -> int:
    profiles = load_profiles()
    now = utc_now()
    attention = any(_needs_attention(profile, now) for profile in profiles)
    if args.json:
        document = {
            "profiles_file": str(profiles_file()),
            "checked_at": now.isoformat(timespec="seconds"),
            "warning_days": EXPIRY_WARNING_DAYS,
            "profiles": [profile_report(profile, now) for profile in profiles],
            "attention": attention,
        }
        print(json.dumps(document, indent=2))
        return EXIT_ATTENTION if attention else 0
    if not profiles:
        print(
            "No saved profiles yet. A profile is saved after a successful positive test in the "
            "wizard (entra-cert-wizard) or with entra-cert-wizard test.",
            file=sys.stderr,
        )
        return 0
    print(f"{'PROFILE':<20} {'EXPIRES':<10}  {'DAYS':<17} {'FILES':<13} {'LAST TEST':<28} CLOUD")
    for profile in profiles:
        print(_line(profile, now))
    notes = [note for profile in profiles for note in _notes(profile, now)]
    if notes:
        print(file=sys.stderr)
    for note in notes:
        print(note, file=sys.stderr)
    return EXIT_ATTENTION if attention else 0
