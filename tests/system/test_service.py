"""`syncd service`: the unit it writes, the systemctl calls it makes (to a stand-in systemctl that
records them: no systemd user manager runs on test machines), and `systemd-analyze verify` on
the unit when systemd-analyze is installed."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from syncd.cli import main
from syncd.commands import service

pytestmark = pytest.mark.usefixtures("isolated_env")

ROOT = Path(__file__).resolve().parents[2]
# The syncd script of the environment running the tests: a real executable for ExecStart=.
SYNCD = Path(sys.executable).parent / "syncd"

FAKE_SYSTEMCTL = """#!/bin/sh
# A stand-in systemctl: records its arguments, one call a line; fails when told to.
echo "$*" >> "$SYSTEMCTL_LOG"
case " $* " in
  *" $SYSTEMCTL_FAIL "*)
    echo "$SYSTEMCTL_STDERR" >&2
    exit 1 ;;
esac
exit 0
"""


@pytest.fixture
def config_home(tmp_path: Path) -> Path:
    return tmp_path / "xdg-config"  # isolated_env's $XDG_CONFIG_HOME


@pytest.fixture
def systemctl(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A stand-in systemctl first on PATH; returns the file its calls are recorded in."""
    bin_dir = tmp_path / "bin"
    bin_dir.mkdir()
    script = bin_dir / "systemctl"
    script.write_text(FAKE_SYSTEMCTL)
    script.chmod(0o755)
    log = tmp_path / "systemctl.log"
    monkeypatch.setenv("PATH", f"{bin_dir}{os.pathsep}{os.environ['PATH']}")
    monkeypatch.setenv("SYSTEMCTL_LOG", str(log))
    monkeypatch.setenv("SYSTEMCTL_FAIL", "no-such-call")
    monkeypatch.setattr(service, "LINGER_DIR", tmp_path / "linger")
    monkeypatch.setattr(sys, "argv", [str(SYNCD), "service"])
    return log


@pytest.fixture
def fail_on(systemctl: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[[str, str], None]:
    """``fail_on(word, message)``: the stand-in systemctl fails calls with ``word``, saying
    ``message`` on stderr."""

    def fail(word: str, message: str) -> None:
        monkeypatch.setenv("SYSTEMCTL_FAIL", word)
        monkeypatch.setenv("SYSTEMCTL_STDERR", message)

    return fail


def _calls(log: Path) -> list[str]:
    return log.read_text().splitlines() if log.exists() else []


def _key(config_home: Path, mode: int = 0o600) -> Path:
    key = config_home / "syncd" / "zotero-api-key"
    key.parent.mkdir(parents=True, exist_ok=True)
    key.write_text("ServiceTestKey0123456789\n")
    key.chmod(mode)
    return key


def _unit(config_home: Path) -> Path:
    return config_home / "systemd" / "user" / "syncd.service"


# --- the unit --------------------------------------------------------------------------------


def test_repository_unit_is_the_packaged_one() -> None:
    # systemd/syncd.service is there for readers of the repository; the packaged copy is what
    # `syncd service install` renders. Edit both, or copy one over the other.
    assert (ROOT / "systemd" / "syncd.service").read_bytes() == service.template().encode()


def test_the_unit_says_what_issue_7_asks_for() -> None:
    lines = service.template().splitlines()
    for line in (
        "Type=notify",
        "NotifyAccess=main",
        service.TEMPLATE_EXEC,
        "Restart=on-failure",
        "RestartPreventExitStatus=2",
        "LoadCredential=zotero-api-key:%E/syncd/zotero-api-key",
        "WantedBy=default.target",
    ):
        assert line in lines
    for key in ("StartLimitIntervalSec=", "StartLimitBurst=", "WatchdogSec=", "TimeoutStopSec="):
        assert any(line.startswith(key) for line in lines), key
    assert "API_KEY" not in service.template()  # no key in the unit or its environment


def test_print_writes_the_unit_and_changes_nothing(
    systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--print"]) == 0
    out = capsys.readouterr().out
    assert out == service.render([str(SYNCD)])
    assert f"\nExecStart={SYNCD} run\n" in out
    assert not config_home.exists()
    assert _calls(systemctl) == []


def test_print_needs_no_systemctl(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))  # nothing on it
    assert main(["service", "install", "--print"]) == 0
    assert "[Service]" in capsys.readouterr().out


@pytest.mark.parametrize(
    ("command", "expected"),
    [
        (["/opt/syncd/bin/syncd"], "ExecStart=/opt/syncd/bin/syncd run"),
        (
            ["/home/a b/.venv/bin/python", "-m", "syncd"],
            'ExecStart="/home/a b/.venv/bin/python" -m syncd run',
        ),
        (["/srv/100%/syncd"], "ExecStart=/srv/100%%/syncd run"),
        (["/srv/$HOME/syncd"], "ExecStart=/srv/$$HOME/syncd run"),
        (['/srv/say "hi"\\/syncd'], 'ExecStart="/srv/say \\"hi\\"\\\\/syncd" run'),
    ],
)
def test_exec_start_is_quoted_for_systemd(command: list[str], expected: str) -> None:
    assert expected in service.render(command).splitlines()


# --- which syncd -----------------------------------------------------------------------------


def _executable(path: Path) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("#!/bin/sh\n")
    path.chmod(0o755)
    return path


def test_the_running_syncd_script_first(tmp_path: Path) -> None:
    script = _executable(tmp_path / "pipx-bin" / "syncd")
    venv_python = tmp_path / "venv" / "bin" / "python"
    _executable(venv_python.parent / "syncd")
    found = service.syncd_command(str(script), str(venv_python), lambda _: None)
    assert found == [str(script)]


def test_then_the_script_beside_the_interpreter(tmp_path: Path) -> None:
    # `python -m syncd service install` from a venv: argv[0] is syncd/__main__.py.
    venv_python = tmp_path / "venv" / "bin" / "python"
    script = _executable(venv_python.parent / "syncd")
    found = service.syncd_command("/src/syncd/__main__.py", str(venv_python), lambda _: None)
    assert found == [str(script)]


def test_then_syncd_on_path(tmp_path: Path) -> None:
    on_path = _executable(tmp_path / "bin" / "syncd")
    found = service.syncd_command("-c", str(tmp_path / "py" / "python3"), lambda _: str(on_path))
    assert found == [str(on_path)]


def test_else_python_dash_m(tmp_path: Path) -> None:
    python = str(tmp_path / "py" / "python3")
    assert service.syncd_command("-c", python, lambda _: None) == [python, "-m", "syncd"]


def test_a_relative_argv0_is_made_absolute(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    _executable(tmp_path / "bin" / "syncd")
    monkeypatch.chdir(tmp_path)
    found = service.syncd_command("bin/syncd", "/nowhere/python", lambda _: None)
    assert found == [str(tmp_path / "bin" / "syncd")]


# --- install ---------------------------------------------------------------------------------


def test_install_writes_the_unit_and_reloads(
    systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _key(config_home)
    assert main(["service", "install"]) == 0
    assert _unit(config_home).read_text() == service.render([str(SYNCD)])
    assert _calls(systemctl) == ["--user daemon-reload"]
    out = capsys.readouterr().out
    assert f"wrote {_unit(config_home)}" in out
    assert "syncd service install --enable" in out
    assert "loginctl enable-linger" in out


def test_install_enable_starts_it(
    systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _key(config_home)
    assert main(["service", "install", "--enable"]) == 0
    assert _calls(systemctl) == ["--user daemon-reload", "--user enable --now syncd.service"]
    assert "journalctl --user -u syncd" in capsys.readouterr().out


def test_install_again_changes_nothing_but_reloads(systemctl: Path, config_home: Path) -> None:
    _key(config_home)
    assert main(["service", "install", "--enable"]) == 0
    before = _unit(config_home).stat().st_mtime_ns
    assert main(["service", "install", "--enable"]) == 0
    assert _unit(config_home).stat().st_mtime_ns == before
    assert _calls(systemctl)[2:] == ["--user daemon-reload", "--user enable --now syncd.service"]


def test_an_updated_unit_restarts_a_running_service(systemctl: Path, config_home: Path) -> None:
    _key(config_home)
    _unit(config_home).parent.mkdir(parents=True)
    _unit(config_home).write_text("[Service]\nExecStart=/old/syncd run\n")
    assert main(["service", "install", "--enable"]) == 0
    assert f"ExecStart={SYNCD} run" in _unit(config_home).read_text()
    assert _calls(systemctl) == [
        "--user daemon-reload",
        "--user try-restart syncd.service",
        "--user enable --now syncd.service",
    ]


def test_enable_without_the_key_file_is_refused(
    systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install", "--enable"]) == 2
    err = capsys.readouterr().err
    assert "zotero-api-key is missing" in err
    assert "chmod 600" in err
    assert _calls(systemctl) == []
    assert not _unit(config_home).exists()


def test_install_without_the_key_file_says_where_it_goes(
    systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["service", "install"]) == 0
    out = capsys.readouterr().out
    assert (
        f"hint: put your Zotero API key (only the key) in {config_home}/syncd/zotero-api-key"
        in (out)
    )


def test_a_key_file_others_can_read_gets_a_hint(
    systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    key = _key(config_home, 0o644)
    assert main(["service", "install"]) == 0
    assert f"chmod 600 {key}" in capsys.readouterr().out


def test_no_linger_hint_when_lingering(
    systemctl: Path,
    config_home: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _key(config_home)
    monkeypatch.setenv("USER", "reader")
    (tmp_path / "linger").mkdir()
    (tmp_path / "linger" / "reader").touch()
    assert main(["service", "install"]) == 0
    assert "enable-linger" not in capsys.readouterr().out


def test_missing_systemctl_is_a_clear_error(
    monkeypatch: pytest.MonkeyPatch,
    tmp_path: Path,
    config_home: Path,
    capsys: pytest.CaptureFixture[str],
) -> None:
    monkeypatch.setenv("PATH", str(tmp_path))
    assert main(["service", "install"]) == 2
    err = capsys.readouterr().err
    assert "systemctl not found" in err and "hint:" in err
    assert not _unit(config_home).exists()
    assert main(["service", "uninstall"]) == 2


def test_a_systemctl_failure_shows_its_message(
    config_home: Path,
    fail_on: Callable[[str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _key(config_home)
    fail_on("enable", "Job for syncd.service failed because the control process exited")
    assert main(["service", "install", "--enable"]) == 2
    err = capsys.readouterr().err
    assert "'systemctl --user enable --now syncd.service' failed (exit 1)" in err
    assert "Job for syncd.service failed" in err
    assert "journalctl --user -u syncd" in err


def test_no_user_manager_gets_the_linger_hint(
    fail_on: Callable[[str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fail_on("daemon-reload", "Failed to connect to bus: No medium found")
    assert main(["service", "install"]) == 2
    err = capsys.readouterr().err
    assert "Failed to connect to bus" in err and "loginctl enable-linger" in err


# --- uninstall -------------------------------------------------------------------------------


def test_uninstall(systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]) -> None:
    _key(config_home)
    assert main(["service", "install", "--enable"]) == 0
    assert main(["service", "uninstall"]) == 0
    assert not _unit(config_home).exists()
    assert _calls(systemctl)[2:] == [
        "--user disable --now syncd.service",
        "--user daemon-reload",
    ]
    assert "removed" in capsys.readouterr().out


def test_uninstall_what_is_not_installed(
    systemctl: Path,
    fail_on: Callable[[str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    fail_on("disable", "Failed to disable unit: Unit file syncd.service does not exist.")
    assert main(["service", "uninstall"]) == 0
    assert "was not installed" in capsys.readouterr().out
    assert _calls(systemctl) == ["--user disable --now syncd.service", "--user daemon-reload"]


def test_uninstall_stops_on_another_failure(
    config_home: Path,
    fail_on: Callable[[str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    _key(config_home)
    assert main(["service", "install"]) == 0
    fail_on("disable", "Access denied")
    assert main(["service", "uninstall"]) == 2
    assert "Access denied" in capsys.readouterr().err
    assert _unit(config_home).exists()  # nothing removed behind a service that still runs


# --- systemd-analyze verify ------------------------------------------------------------------

needs_systemd_analyze = pytest.mark.skipif(
    shutil.which("systemd-analyze") is None,
    reason="systemd-analyze is not installed (Debian/Ubuntu: apt-get install systemd)",
)


def _verify(unit: Path, config_home: Path, tmp_path: Path) -> subprocess.CompletedProcess[str]:
    """``systemd-analyze verify --user`` with a home, config and runtime folder of the test's
    own (without $XDG_RUNTIME_DIR it cannot even start its user-manager emulation)."""
    runtime = tmp_path / "runtime"
    runtime.mkdir(mode=0o700, exist_ok=True)
    home = tmp_path / "home"
    home.mkdir(exist_ok=True)
    env = {
        "PATH": os.environ["PATH"],
        "HOME": str(home),
        "XDG_CONFIG_HOME": str(config_home),
        "XDG_RUNTIME_DIR": str(runtime),
        "SYSTEMD_LOG_LEVEL": "notice",
    }
    return subprocess.run(
        ["systemd-analyze", "verify", "--user", str(unit)],
        capture_output=True,
        text=True,
        env=env,
        check=False,
        timeout=60,
    )


@needs_systemd_analyze
def test_systemd_analyze_verify_is_clean_on_the_installed_unit(
    systemctl: Path, config_home: Path, tmp_path: Path
) -> None:
    assert SYNCD.is_file(), "the test environment has no syncd script to point ExecStart at"
    _key(config_home)
    assert main(["service", "install"]) == 0
    proc = _verify(_unit(config_home), config_home, tmp_path)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")


@needs_systemd_analyze
def test_systemd_analyze_verify_would_see_a_broken_unit(config_home: Path, tmp_path: Path) -> None:
    # The control for the test above: a clean verify is worth something only if it can fail.
    broken = tmp_path / "syncd.service"
    unit = service.render(["/nonexistent/syncd"]).replace("UMask=0077", "UMask=0077\nUMaks=1")
    broken.write_text(unit)
    proc = _verify(broken, config_home, tmp_path)
    assert proc.returncode != 0
    assert "UMaks" in proc.stderr and "/nonexistent/syncd" in proc.stderr
