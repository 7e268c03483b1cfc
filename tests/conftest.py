"""Shared test set-up: every test runs with its own data and config folders."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from wizard.paths import HOME_ENV


@pytest.fixture(autouse=True)
def isolated_home(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Keep the user's own certificates, profiles and demo state out of every test."""
    home = tmp_path_factory.mktemp("home")
    monkeypatch.setenv(HOME_ENV, str(home))
    yield home
