"""The wheel works on its own, on every Python tested: built once, installed in a fresh venv of
each, assets found, and `--version`, `generate` and `test --demo` run from an empty folder.

Uses uv (as the README and CI do). Installs the locked versions from uv's cache when it can
(offline, fast) and falls back to the package index otherwise; never downloads a Python. The
other Pythons come from `pythons.py` and are skipped, saying so, where this machine lacks them.
Bounded to about a minute per Python.
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import urllib.parse
from dataclasses import dataclass
from pathlib import Path

import pytest
import requests
from pythons import OTHER_PYTHONS, find_python

from wizard import __version__

ROOT = Path(__file__).resolve().parent.parent
UV = shutil.which("uv")
pytestmark = pytest.mark.skipif(UV is None, reason="uv is not installed")

RUNNING = f"{sys.version_info.major}.{sys.version_info.minor}"
# The Python running the tests first, then the others it is not.
PYTHONS = (RUNNING, *(version for version in OTHER_PYTHONS if version != RUNNING))


def uv(*args: str, cwd: Path = ROOT, timeout: float = 60) -> subprocess.CompletedProcess[str]:
    assert UV is not None
    # No inherited virtualenv or project environment from the test run, and no Python downloads.
    env = {
        k: v
        for k, v in os.environ.items()
        if k not in {"VIRTUAL_ENV", "UV_PROJECT_ENVIRONMENT", "UV_PYTHON"}
    }
    env["UV_PYTHON_DOWNLOADS"] = "never"
    return subprocess.run(
        [UV, *args], cwd=cwd, capture_output=True, text=True, timeout=timeout, env=env
    )


def must(completed: subprocess.CompletedProcess[str]) -> str:
    assert completed.returncode == 0, f"{completed.args}\n{completed.stdout}\n{completed.stderr}"
    return completed.stdout


@dataclass(frozen=True)
class Built:
    """The wheel and the locked runtime requirements, made once for every Python."""

    wheel: Path
    requirements: Path


@pytest.fixture(scope="module")
def built(tmp_path_factory: pytest.TempPathFactory) -> Built:
    folder = tmp_path_factory.mktemp("wheel")
    dist = folder / "dist"
    must(uv("build", "--wheel", "--out-dir", str(dist), "--quiet"))
    (wheel,) = dist.glob("entra_cert_wizard-*.whl")
    requirements = folder / "requirements.txt"
    requirements.write_text(
        must(uv("export", "--frozen", "--no-dev", "--no-hashes", "--no-emit-project", "--quiet"))
    )
    return Built(wheel, requirements)


def interpreter(version: str) -> Path:
    """The running Python, or an installed one of `version`; skips when there is none."""
    if version == RUNNING:
        return Path(sys.executable)
    found = find_python(version)
    if found is None:
        pytest.skip(
            f"Python {version} is not installed here (looked with `uv python find` and in "
            "pyenv's versions): the wheel is not checked on it"
        )
    return found


@pytest.mark.parametrize("version", PYTHONS)
def test_wheel_installs_and_runs(version: str, built: Built, tmp_path: Path) -> None:
    python_used = interpreter(version)
    venv = tmp_path / "venv"
    must(uv("venv", "--quiet", "--python", str(python_used), str(venv)))
    bin_dir = venv / ("Scripts" if os.name == "nt" else "bin")
    python = bin_dir / ("python.exe" if os.name == "nt" else "python")

    install = [
        "pip",
        "install",
        "--quiet",
        "--python",
        str(python),
        "-r",
        str(built.requirements),
        str(built.wheel),
    ]
    if uv(*install, "--offline", cwd=tmp_path).returncode != 0:
        must(uv(*install, cwd=tmp_path, timeout=120))  # not all in the cache: use the index

    # Run from an empty folder so nothing can come from the checkout. Wheels hold no empty
    # folders, so assets/help is looked for only once it has files.
    help_shipped = any((ROOT / "assets" / "help").glob("*"))
    probe = (
        "import sys, wizard, wizard.paths as p\n"
        "from pathlib import Path\n"
        f"assert '%d.%d' % sys.version_info[:2] == {version!r}, sys.version\n"
        f"assert Path(wizard.__file__).is_relative_to(Path({str(venv)!r})), wizard.__file__\n"
        "root = p.assets_root()\n"
        "assert root.name == '_assets' and root.parent == Path(wizard.__file__).parent, root\n"
        f"assert p.asset_path('help').is_dir() or not {help_shipped!r}\n"
        "import screens\n"
        "print(root)\n"
    )
    workdir = tmp_path / "elsewhere"
    workdir.mkdir()
    # The data folder stays the test's own (conftest sets it in the environment).
    clean_env = {k: v for k, v in os.environ.items() if k not in {"PYTHONPATH", "VIRTUAL_ENV"}}

    def run(*argv: str) -> subprocess.CompletedProcess[str]:
        return subprocess.run(
            list(argv), cwd=workdir, capture_output=True, text=True, timeout=60, env=clean_env
        )

    probed = run(str(python), "-c", probe)
    assert probed.returncode == 0, probed.stderr

    command = str(bin_dir / ("entra-cert-wizard.exe" if os.name == "nt" else "entra-cert-wizard"))
    version_shown = run(command, "--version")
    assert version_shown.returncode == 0, version_shown.stderr
    assert version_shown.stdout.strip() == f"entra-cert-wizard {__version__}"

    argv = ["generate", "--name", "FromWheel", "--out", str(workdir), "--no-passphrase", "--json"]
    generated = run(command, *argv)
    assert generated.returncode == 0, generated.stderr
    made = json.loads(generated.stdout)
    assert (workdir / "FromWheel" / "FromWheel.cer").is_file()

    upload_to_demo_tenant(command, Path(made["files"]["cer"]), made["thumbprint_sha1"], clean_env)
    files = made["files"]
    tested = run(command, "test", "--demo", "--cert", files["pem"], "--key", files["key"], "--json")
    assert tested.returncode == 0, tested.stdout + tested.stderr
    verdict = json.loads(tested.stdout)
    assert verdict["verdict"] == "pass" and verdict["cloud"] == "demo"
    assert verdict["certificate"]["thumbprint_sha1"] == made["thumbprint_sha1"]


def upload_to_demo_tenant(command: str, cer: Path, thumbprint: str, env: dict[str, str]) -> None:
    """Upload as the wizard would: the wheel's own demo tenant, through its portal API, on the
    state that `test --demo` then starts from."""
    emulator = subprocess.Popen(
        [command, "emulator", "--json"],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
        env=env,
    )
    try:
        line = emulator.stdout.readline() if emulator.stdout else ""
        assert line, emulator.stderr.read() if emulator.stderr else ""
        info = json.loads(line)
        client_id = urllib.parse.quote(info["client_id"], safe="")
        uploaded = requests.post(
            f"{info['portal']}/applications/{client_id}/certificates",
            data=cer.read_bytes(),
            headers={"Content-Type": "application/octet-stream"},
            verify=info["ca_bundle"],
            timeout=30,
        )
        assert uploaded.status_code == 201, uploaded.text
        assert uploaded.json()["thumbprint"] == thumbprint
    finally:
        emulator.send_signal(signal.SIGTERM)
        try:
            assert emulator.wait(timeout=30) == 0
        finally:
            emulator.kill()
            emulator.communicate()
