"""CI's offline dependency audit: the lock holds no version with a known advisory, the check
really fails on one, and no declared floor lets an affected version in."""

from __future__ import annotations

import importlib.util
import subprocess
import sys
from pathlib import Path
from types import ModuleType

import pytest
from packaging.requirements import Requirement
from packaging.utils import canonicalize_name
from packaging.version import Version

try:
    import tomllib
except ModuleNotFoundError:
    import tomli as tomllib

ROOT = Path(__file__).resolve().parent.parent
SCRIPT = ROOT / ".ci" / "audit_lock.py"


@pytest.fixture(scope="module")
def audit() -> ModuleType:
    spec = importlib.util.spec_from_file_location("audit_lock", SCRIPT)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # its dataclasses look their module up there
    spec.loader.exec_module(module)
    return module


def _lock(path: Path, *packages: tuple[str, str]) -> Path:
    body = "version = 1\n" + "".join(
        f'\n[[package]]\nname = "{name}"\nversion = "{version}"\n' for name, version in packages
    )
    path.write_text(body, encoding="utf-8")
    return path


def test_the_projects_lock_passes_and_ci_runs_the_check() -> None:
    result = subprocess.run(
        [sys.executable, str(SCRIPT)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "none apply" in result.stdout
    assert "python .ci/audit_lock.py" in (ROOT / ".ci" / "run").read_text()


@pytest.mark.parametrize(
    ("package", "version", "advisory"),
    [
        ("cryptography", "42.0.3", "CVE-2024-26130"),
        ("cryptography", "44.0.0", "CVE-2024-12797"),
        ("Requests", "2.32.3", "CVE-2024-47081"),
        ("urllib3", "2.5.0", "CVE-2025-66418"),
        ("PyJWT", "2.10.0", "CVE-2024-53861"),
    ],
)
def test_a_vulnerable_locked_version_fails_the_check(
    tmp_path: Path, package: str, version: str, advisory: str
) -> None:
    # The same package locked twice (uv does so per Python version): one bad copy is enough.
    lock = _lock(tmp_path / "uv.lock", ("textual", "8.2.8"), (package, "99.0"), (package, version))
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(lock)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 1, result.stdout
    assert advisory in result.stdout and f"{canonicalize_name(package)} {version}" in result.stdout


def test_an_unreadable_lock_is_exit_2(tmp_path: Path) -> None:
    bad = tmp_path / "uv.lock"
    bad.write_text("[[package]\nname = ", encoding="utf-8")
    result = subprocess.run(
        [sys.executable, str(SCRIPT), str(bad)], capture_output=True, text=True, timeout=60
    )
    assert result.returncode == 2 and "cannot read" in result.stderr


def test_no_declared_floor_admits_a_version_with_an_advisory(audit: ModuleType) -> None:
    project = tomllib.loads((ROOT / "pyproject.toml").read_text(encoding="utf-8"))
    declared = project["project"]["dependencies"] + project["dependency-groups"]["dev"]
    checked = set()
    for line in declared:
        requirement = Requirement(line)
        floors = [Version(s.version) for s in requirement.specifier if s.operator == ">="]
        assert floors, f"{line}: every dependency declares a floor"
        floor = str(max(floors))
        found = audit.findings([(canonicalize_name(requirement.name), floor)])
        assert not found, f"{line} admits a known-vulnerable version: {found}"
        checked.add(canonicalize_name(requirement.name))
    assert {"cryptography", "requests"} <= checked
