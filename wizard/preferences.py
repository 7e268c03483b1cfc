"""The wizard's look, kept across restarts: the chosen theme, in preferences.json in the config
folder.

A preference is a nicety: a missing, oversized or damaged file means "no preference" (never an
error), and a theme name is taken only if it is short, plain text; the app still checks that it
names a theme it knows.
"""

from __future__ import annotations

import json
from pathlib import Path

from wizard.paths import config_dir

PREFERENCES_FILE_NAME = "preferences.json"
MAX_PREFERENCES_BYTES = 4096  # a few short settings; anything bigger is not ours
MAX_THEME_NAME = 64


def preferences_file() -> Path:
    """Where the preferences live: preferences.json in the config folder."""
    return config_dir() / PREFERENCES_FILE_NAME


def _read_preferences() -> dict[str, object]:
    """The stored preferences; {} when the file is missing, too big, unreadable or damaged."""
    try:
        with preferences_file().open("rb") as stream:
            data = stream.read(MAX_PREFERENCES_BYTES + 1)
        if len(data) > MAX_PREFERENCES_BYTES:
            return {}
        document = json.loads(data.decode("utf-8"))
    except (OSError, ValueError):  # ValueError covers bad UTF-8 and bad JSON
        return {}
    return document if isinstance(document, dict) else {}


def _plain_name(value: object) -> str | None:
    if not isinstance(value, str) or not 0 < len(value) <= MAX_THEME_NAME:
        return None
    return value if all(ch.isalnum() or ch in "-_" for ch in value) else None


def saved_theme() -> str | None:
    """The theme chosen last time, or None (nothing saved, or not a plausible theme name)."""
    return _plain_name(_read_preferences().get("theme"))


def save_theme(name: str) -> str | None:
    """Remember the theme for the next start; None when saved, else why it could not be."""
    from wizard.errors import UserError
    from wizard.storage import atomic_write_text, ensure_private_dir

    if _plain_name(name) is None:
        return f"The theme name {name!r} is not one the wizard can keep."
    preferences = _read_preferences()
    preferences["theme"] = name
    path = preferences_file()
    try:
        ensure_private_dir(path.parent)
        atomic_write_text(path, json.dumps(preferences, indent=2) + "\n", mode=0o600)
    except UserError as error:  # the config folder cannot be made
        return error.message
    except OSError as error:
        return f"Could not save the theme in {path} ({error.strerror or error})."
    return None
