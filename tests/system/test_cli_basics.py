"""The command line's shared behaviour: help, version and usage errors."""

from __future__ import annotations

import subprocess
import sys

import pytest

from syncd import __version__
from syncd.cli import main


def test_version(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as exc:
        main(["--version"])
    assert exc.value.code == 0
    assert __version__ in capsys.readouterr().out


def test_unknown_option_is_a_usage_error_with_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["--no-such-option"]) == 2
    err = capsys.readouterr().err
    assert "syncd: error:" in err and "--help" in err


def test_no_command_prints_help_and_exits_2(capsys: pytest.CaptureFixture[str]) -> None:
    assert main([]) == 2
    assert "usage: syncd" in capsys.readouterr().err


def test_python_dash_m_runs_the_cli() -> None:
    proc = subprocess.run(
        [sys.executable, "-m", "syncd", "--help"], capture_output=True, text=True, check=False
    )
    assert proc.returncode == 0
    assert "usage: syncd" in proc.stdout
