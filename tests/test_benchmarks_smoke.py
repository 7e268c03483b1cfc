"""CI's smoke run of the benchmarks: each one once, with tiny bounds, giving sane numbers.

The full run is `uv run python benchmarks/run.py` (see benchmarks/README.md); this only
proves that every benchmark still runs end to end and measures what it says.
"""

from __future__ import annotations

import json
import math
import shutil
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))

from benchmarks import run  # noqa: E402

EXPECTED = {
    "startup": {f"startup.{key}.{kind}" for kind in run.TINY.bytecode
                for key in ("first-frame", "first-frame-demo", "complete", "complete-demo",
                            "cpu-first-frame", "header-footer")},
    "generate": {f"generate.{key}.{kind}" for kind in run.TINY.bytecode
                 for key in ("no-passphrase", "passphrase")},
    "test": {f"test.{key}.{kind}" for kind in run.TINY.bytecode
             for key in ("running-tenant", "demo")},
    "throughput": {f"throughput.{kind}.{level}" for kind in ("rps", "p50", "p99")
                   for level in run.TINY.levels} | {"throughput.goal"},
    "memory": {"memory.peak"},
}


@pytest.mark.parametrize("name", run.BENCHMARKS)
def test_benchmark_runs_and_gives_sane_ratios(name: str, tmp_path: Path) -> None:
    figures = run.RUNNERS[name](run.TINY, tmp_path)
    assert {figure.key for figure in figures} == EXPECTED[name]
    for figure in figures:
        if figure.skipped:
            assert name == "generate" and shutil.which("openssl") is None, figure.skipped
            continue
        assert figure.rounds >= 1
        for value in (figure.ours, figure.baseline, figure.ratio):
            assert math.isfinite(value) and value > 0, figure
        assert 0.01 < figure.ratio < 100, figure  # same order of magnitude as the yardstick
        document = figure.to_json()
        assert document["ratio"] == pytest.approx(figure.ratio, rel=1e-3)
    if name == "throughput":  # the goal's line says what it rests on, measured
        (goal,) = [figure for figure in figures if figure.key == "throughput.goal"]
        for words in ("ratio to goal", "min-max", "n=", "CPU client", "RS256 sign",
                      "TLS and HTTP", "load average", "warm"):
            assert words in goal.detail, (words, goal.detail)
    if name == "memory":
        (peak,) = figures
        assert 20 < peak.baseline < peak.ours < 2000  # MiB: a full run holds more than a bare app


def test_the_command_prints_a_table_and_writes_json(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(run, "QUICK", run.TINY)
    out = tmp_path / "results.json"
    assert run.main(["--quick", "--only", "generate", "--json-out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "ratio" in printed and "generate" in printed and "SMOKE RUN" in printed
    document = json.loads(out.read_text())
    assert document["smoke_only"] is True and document["machine"]["cpus"]
    assert {figure["key"] for figure in document["figures"]} == EXPECTED["generate"]
