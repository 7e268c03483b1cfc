"""The Pythons the package is tested on besides the default, and where to find them on this machine.

One home for CI (`.ci/run` runs the whole suite on each) and the wheel test (installs the wheel
on each). Only interpreters already installed are used: nothing is ever downloaded.

Run it to list them: `python tests/pythons.py` prints `VERSION PATH` for each one found and
`VERSION -` for each one missing.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

# The floor of `requires-python` and the newest CPython the package supports. 3.11 is the
# default every run uses; 3.12 sits between and is not run separately.
OTHER_PYTHONS = ("3.10", "3.13")


def _reports_version(python: Path, version: str) -> bool:
    """True when `python` starts and is `version` (a pyenv shim for another version does not)."""
    try:
        ran = subprocess.run(
            [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
            capture_output=True,
            text=True,
            timeout=30,
        )
    except (OSError, subprocess.TimeoutExpired):
        return False
    return ran.returncode == 0 and ran.stdout.strip() == version


def _found_by_uv(version: str) -> Path | None:
    """uv's own discovery (managed installs, PATH), outside any virtualenv, never downloading."""
    uv = shutil.which("uv")
    if uv is None:
        return None
    env = {k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PYTHON"}}
    env["UV_PYTHON_DOWNLOADS"] = "never"
    try:
        # pyenv's shims for inactive versions make uv give up: the pyenv builds are tried next.
        found = subprocess.run(
            [uv, "python", "find", "--system", "--no-project", version],
            capture_output=True,
            text=True,
            timeout=30,
            env=env,
        )
    except (OSError, subprocess.TimeoutExpired):
        return None
    return Path(found.stdout.strip()) if found.returncode == 0 and found.stdout.strip() else None


def _pyenv_builds(version: str) -> list[Path]:
    """pyenv's final releases of `version` (no release candidates or free-threaded builds), newest first."""
    root = Path(os.environ.get("PYENV_ROOT") or Path.home() / ".pyenv")
    release = re.compile(rf"{re.escape(version)}\.(\d+)")
    builds: list[tuple[int, Path]] = []
    for folder in root.glob(f"versions/{version}.*"):
        matched = release.fullmatch(folder.name)
        python = folder / "bin" / f"python{version}"
        if matched and python.is_file():
            builds.append((int(matched.group(1)), python))
    return [python for _, python in sorted(builds, reverse=True)]


def find_python(version: str) -> Path | None:
    """An installed interpreter of `version` ("3.10"), or None when this machine has none."""
    found = _found_by_uv(version)
    candidates = ([found] if found else []) + _pyenv_builds(version)
    return next((python for python in candidates if _reports_version(python, version)), None)


if __name__ == "__main__":
    for wanted in sys.argv[1:] or OTHER_PYTHONS:
        print(wanted, find_python(wanted) or "-")
