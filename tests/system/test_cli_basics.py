"""The command line's shared behaviour: help, version and usage errors."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

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


@pytest.mark.slow
def test_one_v_is_syncd_detail_and_two_bring_the_http_detail(tmp_path: Path) -> None:
    """``--help`` says HTTP detail comes with -vv: a single -v must not flood with it."""
    root = Path(__file__).resolve().parents[2]
    env = {
        "PATH": os.environ.get("PATH", ""),
        "HOME": str(tmp_path),
        "XDG_STATE_HOME": str(tmp_path / "state"),
        "XDG_CONFIG_HOME": str(tmp_path / "config"),
        "PYTHONPATH": str(root),
        "NO_PROXY": "127.0.0.1,localhost",
    }
    sample = root / "examples" / "pubmed-sample.nbib"

    def run(*flags: str) -> str:
        done = subprocess.run(
            [sys.executable, "-m", "syncd", *flags, "import", "--sandbox", str(sample)],
            env=env,
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
        assert done.returncode == 0, done.stderr
        return done.stderr

    one = run("-v")
    assert "reading " in one  # syncd's own debug lines
    assert "connect_tcp" not in one and "send_request" not in one
    assert '"GET /keys/current' not in one
    two = run("-vv")
    assert "send_request" in two or "connect_tcp" in two
    assert '"GET /keys/current' in two


def test_config_problems_are_one_a_line(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    config = tmp_path / "config.toml"
    config.write_text('[zotero]\nlibrary_id = "me"\n[dedup]\non_dupe = 1\n', encoding="utf-8")
    export = tmp_path / "a.nbib"
    export.write_text("PMID- 1\nTI  - T.\n", encoding="utf-8")
    assert main(["import", "--config", str(config), str(export)]) == 2
    err = capsys.readouterr().err
    assert "\\n" not in err, err  # never a line break shown as the two characters \n
    lines = err.splitlines()
    assert lines[0].startswith("syncd: error:") and "2 problems" in lines[0], err
    assert any(line.startswith("  - 'zotero.library_id'") for line in lines), err
    assert any(line.startswith("  - 'dedup.on_dupe'") for line in lines), err
