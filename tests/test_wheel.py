"""The wheel works on its own: built, installed in a fresh venv, assets found, command runs.

Uses uv (as the README and CI do). Installs the locked versions from uv's cache when it can
(offline, fast) and falls back to the package index otherwise. Bounded to about a minute.
"""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from wizard import __version__

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv")
pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed")


def uv(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert UV is not None
    # No inherited virtualenv or project environment from the test run.
    env = {
        k: v for k, v in os.environ.items() if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT"}
    }
    return subprocess.run(
        [UV, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def must(completed: subprocess.CompletedProcess[str]) -> str:
    assert completed.returncode == 0, f"{completed.args}\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


def test_wheel_installs_and_finds_its_assets(tmp_path: Path) -> None:
    dist = tmp_path / "dist"
    must(uv("build", "--wheel", "--out-dir", str(dist), "--quiet"))
    (wheel,) = dist.glob("entra_cert_wizard-*.whl")

    venv = tmp_path / "venv"
    must(uv("venv", "--quiet", "--python", sys.executable, str(venv)))
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")

    requirements = tmp_path / "requirements.txt"
    requirements.write_text(
        must(uv("export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"))
    )
    install = [
        "pip",
        "install",
        "--quiet",
        "--python",
        str(python),
        "-r",
        str(requirements),
        str(wheel),
    ]
    if uv(*install, "--offline", cwd=tmp_path).returncode != 0:
        must(uv(*install, cwd=tmp_path, timeout=120))  # not all in the cache: use the index

    # Run from an empty folder so nothing can come from the checkout. Wheels hold no empty
    # folders, so assets/help is looked for only once it has files.
    help_shipped = any((ROOT / "assets" / "help").glob("*"))
    probe = (
        "import wizard, wizard.paths as p\n"
        "from pathlib import Path\n"
        f"assert Path(wizard.__file__).is_relative_to(Path({str(venv)!r})), wizard.__file__\n"
        "root = p.assets_root()\n"
        "assert root.name == '_assets' and root.parent == Path(wizard.__file__).parent, root\n"
        f"assert p.asset_path('help').is_dir() or not {help_shipped!r}\n"
        "import screens\n"
        "print(root)\n"
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    clean_env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}
    probed = subprocess.run(
        [str(python), "-c", probe],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env,
    )
    assert probed.returncode == 0, probed.stderr

    command = bin_dir / ("entra-cert-wizard.exe" if os.name == "nt" else "entra-cert-wizard")
    version = subprocess.run(
        [str(command), "--version"],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env,
    )
    assert version.returncode == 0, version.stderr
    assert version.stdout.strip() == f"entra-cert-wizard {__version__}"

    argv = ["generate", "--name", "FromWheel", "--out", str(workdir), "--no-passphrase", "--json"]
    generated = subprocess.run(
        [str(command), *argv],
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=60,
        env=clean_env,
    )
    assert generated.returncode == 0, generated.stderr
    assert (workdir / "FromWheel" / "FromWheel.cer").is_file()
