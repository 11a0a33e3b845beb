"""bench/run.py gives every benchmark a process of its own, so a peak RSS is that benchmark's."""

from __future__ import annotations

import importlib.util
import os
from pathlib import Path
from types import ModuleType

import pytest

from tests.conftest import ROOT


def _runner() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_run", ROOT / "bench" / "run.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_each_benchmark_runs_in_a_fresh_process(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    for name in ("bench_a", "bench_b"):
        # Each grows its own heap, and reports its pid and what else was imported before it.
        (tmp_path / f"{name}.py").write_text(
            "import os, sys\n"
            "def main(argv):\n"
            "    print(os.getpid(), sorted(m for m in sys.modules if m.startswith('bench_')))\n",
            encoding="utf-8",
        )
    runner = _runner()
    assert runner.run_fresh("bench_a", tmp_path) == 0
    assert runner.run_fresh("bench_b", tmp_path) == 0
    lines = capfd.readouterr().out.splitlines()
    (pid_a, *seen_a), (pid_b, *seen_b) = (line.split(" ", 1) for line in lines)
    assert len({pid_a, pid_b, str(os.getpid())}) == 3
    assert seen_a == ["['bench_a']"] and seen_b == ["['bench_b']"]


def test_a_missing_benchmark_is_skipped_with_its_reason(
    tmp_path: Path, capfd: pytest.CaptureFixture[str]
) -> None:
    assert _runner().run_fresh("bench_nothing", tmp_path) == 0
    assert "(bench_nothing skipped: No module named 'bench_nothing')" in capfd.readouterr().out
