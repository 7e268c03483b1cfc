"""Where the tool keeps its files, and where it finds the assets it ships with.

One seam for tests and portable installs: ENTRA_CERT_WIZARD_HOME, when set, holds both the
data and the config folders, so nothing ever touches the user's real ones by accident.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "entra-cert-wizard"
HOME_ENV = "ENTRA_CERT_WIZARD_HOME"
# Set by a workshop seat to its own folder: the attendee's typed folders must lie inside it,
# so one seat cannot read or write another's files (every seat runs as the trainer's user).
CONFINE_ENV = "ENTRA_CERT_WIZARD_CONFINE"


def _override() -> Path | None:
    value = os.environ.get(HOME_ENV)
    return Path(value).expanduser() if value else None


def user_path(text: str, option: str = "path") -> Path:
    """A path the user typed, with ~ expanded; UserError (usage) for ~name of no such user."""
    try:
        return Path(text).expanduser()
    except RuntimeError:  # "~someone" where someone has no home directory
        from wizard.errors import UserError

        raise UserError(
            f"{option}: {text} starts with '~' but there is no user {text.split('/')[0][1:]!r}.",
            hint="Write ~/folder for your home folder, or give the full path.",
            exit_code=2,
        ) from None


def confinement_problem(folder: Path) -> str | None:
    """Why `folder` is out of bounds for this process (a workshop seat's), or None."""
    root = os.environ.get(CONFINE_ENV)
    if not root:
        return None
    try:
        inside = folder.expanduser().resolve().is_relative_to(Path(root).resolve())
    except (OSError, RuntimeError, ValueError):
        inside = False
    if inside:
        return None
    return f"In a workshop seat, files stay in the seat's own folder ({root}); choose a folder in it."


def data_dir() -> Path:
    """The per-user data folder (certificates, the demo tenant's state)."""
    override = _override()
    if override is not None:
        return override / "data"
    from platformdirs import user_data_path

    return user_data_path(APP_NAME, appauthor=False)


def demo_tenant_dir() -> Path:
    """Where the demo tenant keeps its state (CA, keys, apps) unless told otherwise."""
    return data_dir() / "demo-tenant"


def config_dir() -> Path:
    """The per-user config folder (saved profiles)."""
    override = _override()
    if override is not None:
        return override / "config"
    from platformdirs import user_config_path

    return user_config_path(APP_NAME, appauthor=False)


def default_cert_root() -> Path:
    """The folder that holds one sub-folder per certificate unless --out says otherwise."""
    return data_dir() / "certificates"


def assets_root() -> Path:
    """The shipped assets: `wizard/_assets` inside a wheel, `assets/` beside the package in a checkout."""
    package_dir = Path(__file__).resolve().parent
    for candidate in (package_dir / "_assets", package_dir.parent / "assets"):
        if candidate.is_dir():
            return candidate
    raise FileNotFoundError("The wizard's assets folder is missing; reinstall entra-cert-wizard.")


def asset_path(*parts: str) -> Path:
    """The path of one shipped asset, e.g. asset_path("help", "name.md")."""
    return assets_root().joinpath(*parts)
