"""`syncd service`: the unit it writes, the systemctl calls it makes (to a stand-in systemctl that
records them and answers `show` as told), what `syncd status` says of an enabled service that
runs no daemon, the key file a shell shares with the service, and `systemd-analyze verify` on
the unit when systemd-analyze is installed. The unit under a real user manager:
test_systemd_user.py."""

from __future__ import annotations

import json
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
# A stand-in systemctl: records its arguments, one call a line; fails when told to; answers
# `show` with $SYSTEMCTL_SHOW.
echo "$*" >> "$SYSTEMCTL_LOG"
case " $* " in
  *" $SYSTEMCTL_FAIL "*)
    echo "$SYSTEMCTL_STDERR" >&2
    exit 1 ;;
esac
case "$2" in
  show) printf '%s\\n' "$SYSTEMCTL_SHOW" ;;
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
        "RestartPreventExitStatus=2 243",
        "LoadCredential=zotero-api-key:%E/syncd/zotero-api-key",
        "WantedBy=default.target",
    ):
        assert line in lines
    for key in ("StartLimitIntervalSec=", "StartLimitBurst=", "WatchdogSec=", "TimeoutStopSec="):
        assert any(line.startswith(key) for line in lines), key
    assert "API_KEY" not in service.template()  # no key in the unit or its environment


def _setting(name: str) -> str:
    (value,) = (
        ln.split("=", 1)[1] for ln in service.template().splitlines() if ln.startswith(name)
    )
    return value


def _seconds(value: str) -> float:
    units = {"s": 1, "sec": 1, "min": 60, "h": 3600}
    number = value.rstrip("abcdefghijklmnopqrstuvwxyz")
    return float(number) * units[value[len(number) :] or "s"]


def test_reload_sends_sighup_which_syncd_reads_as_reload() -> None:
    # `systemctl --user reload syncd` needs ExecReload=; syncd reloads its config on SIGHUP.
    assert _setting("ExecReload=") == "/bin/kill -HUP $MAINPID"


def test_the_start_limit_allows_manual_restarts_and_stops_a_crash_loop() -> None:
    # systemd counts a manual restart as a start: 5 in 10 minutes left the service dead after
    # the 6th `systemctl --user restart`. A crash loop restarts every RestartSec=, so it must
    # still reach the burst well within the interval.
    burst = int(_setting("StartLimitBurst="))
    interval = _seconds(_setting("StartLimitIntervalSec="))
    restart_every = _seconds(_setting("RestartSec="))
    assert burst >= 15, "a person restarting by hand while editing the config must not hit it"
    assert burst * restart_every <= interval / 2, "a crash loop must hit it within the interval"


def test_a_missing_credential_is_not_retried() -> None:
    # 243/CREDENTIALS: the key file is missing; a restart every 10 s cannot bring it back.
    assert _setting("RestartPreventExitStatus=").split() == ["2", "243"]


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


def test_install_confirms_with_the_real_exec_start(
    systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    # Not the fragment "ExecStart= pointing at the" of the unit's header comment.
    _key(config_home)
    assert main(["service", "install"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == f"  ExecStart={SYNCD} run"
    assert not any("pointing at" in line for line in out)


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


# --- syncd status of an installed service ------------------------------------------------------


def _show(monkeypatch: pytest.MonkeyPatch, **said: str) -> None:
    """What the stand-in ``systemctl --user show`` answers."""
    monkeypatch.setenv("SYSTEMCTL_SHOW", "\n".join(f"{k}={v}" for k, v in said.items()))


def _installed(config_home: Path) -> None:
    _unit(config_home).parent.mkdir(parents=True, exist_ok=True)
    _unit(config_home).write_text(service.render([str(SYNCD)]))
    config = config_home / "syncd" / "config.toml"
    config.parent.mkdir(parents=True, exist_ok=True)
    config.write_text("[zotero]\nlibrary_id = 1\n")


def _state_db() -> None:
    from syncd.config import default_state_path
    from syncd.state import StateStore

    default_state_path().parent.mkdir(parents=True)
    with StateStore(default_state_path()):
        pass


def _status(capsys: pytest.CaptureFixture[str], *args: str) -> tuple[int, str, str]:
    code = main(["status", *args])
    out, err = capsys.readouterr()
    return code, out, err


ENABLED_STOPPED = {
    "UnitFileState": "enabled",
    "ActiveState": "inactive",
    "SubState": "dead",
    "Result": "success",
    "ExecMainStatus": "0",
}


def test_status_exits_1_when_the_enabled_service_runs_no_daemon(
    systemctl: Path,
    config_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    _installed(config_home)
    _state_db()
    _show(monkeypatch, **ENABLED_STOPPED)
    code, out, _ = _status(capsys)
    assert code == 1
    assert "syncd run: not running" in out
    assert "syncd.service is enabled but stopped" in out
    assert "systemctl --user start syncd.service" in out
    assert _calls(systemctl)[-1].startswith("--user show --property=UnitFileState,")
    # The same with --json: the service and why, and the exit code.
    code, out, _ = _status(capsys, "--json")
    report = json.loads(out)
    assert code == 1 and report["exit_code"] == 1
    assert report["service"]["problem"] == "syncd.service is enabled but stopped"


def test_status_of_a_disabled_service_is_as_before(
    systemctl: Path,
    config_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The control: installed but not enabled is the user's choice, not a problem.
    _installed(config_home)
    _state_db()
    _show(monkeypatch, **{**ENABLED_STOPPED, "UnitFileState": "disabled"})
    code, out, _ = _status(capsys)
    assert code == 0
    assert "SERVICE" not in out
    code, out, _ = _status(capsys, "--json")
    assert code == 0 and json.loads(out)["service"] is None


def test_status_without_the_unit_asks_no_systemctl(
    systemctl: Path, config_home: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    (config_home / "syncd").mkdir(parents=True)
    (config_home / "syncd" / "config.toml").write_text("[zotero]\nlibrary_id = 1\n")
    _state_db()
    assert _status(capsys)[0] == 0
    assert _calls(systemctl) == []


def test_status_says_the_credential_is_missing_instead_of_exit_2(
    systemctl: Path,
    config_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    # The service never started, so there is no state database: status used to exit 2
    # ("cannot tell") without a word about the service.
    _installed(config_home)
    _show(
        monkeypatch,
        **{
            **ENABLED_STOPPED,
            "ActiveState": "failed",
            "SubState": "failed",
            "Result": "exit-code",
            "ExecMainStatus": "243",
        },
    )
    code, out, err = _status(capsys)
    key_file = config_home / "syncd" / "zotero-api-key"
    assert code == 1
    assert f"could not load the API key from {key_file} (status 243/CREDENTIALS" in out
    assert f"chmod 600 {key_file}" in out and "systemctl --user restart syncd.service" in out
    assert "state database" in err  # what status cannot show, still said
    code, out, _ = _status(capsys, "--json")
    assert code == 1
    assert json.loads(out)["service"]["exit_status"] == 243


@pytest.mark.parametrize(
    ("said", "expected"),
    [
        (
            {"ActiveState": "failed", "Result": "start-limit-hit", "ExecMainStatus": "1"},
            "systemctl --user reset-failed syncd.service",
        ),
        (
            {"ActiveState": "failed", "Result": "exit-code", "ExecMainStatus": "2"},
            "status 2: a configuration error, or another syncd holds the state database",
        ),
        (
            {"ActiveState": "activating", "SubState": "auto-restart", "Result": "watchdog"},
            "the watchdog killed it); systemd restarts it in a moment",
        ),
    ],
)
def test_status_says_why_the_service_failed(
    systemctl: Path,
    config_home: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
    said: dict[str, str],
    expected: str,
) -> None:
    _installed(config_home)
    _state_db()
    _show(monkeypatch, **{**ENABLED_STOPPED, "SubState": "failed", **said})
    code, out, _ = _status(capsys)
    assert code == 1
    assert expected in out


def test_status_without_a_user_manager_reads_the_enable_symlink(
    config_home: Path,
    fail_on: Callable[[str, str], None],
    capsys: pytest.CaptureFixture[str],
) -> None:
    # Over ssh without lingering no manager answers; `enable` left its symlink.
    fail_on("show", "Failed to connect to bus: No medium found")
    _installed(config_home)
    _state_db()
    assert _status(capsys)[0] == 0  # installed, not enabled
    wants = _unit(config_home).parent / "default.target.wants"
    wants.mkdir()
    (wants / "syncd.service").symlink_to(_unit(config_home))
    code, out, _ = _status(capsys)
    assert code == 1
    assert "syncd.service is enabled, but no daemon runs" in out


# --- the key file a shell shares with the service ----------------------------------------------


def test_a_shell_finds_the_key_file_the_service_loads(config_home: Path) -> None:
    # The unit loads %E/syncd/zotero-api-key as its credential; doctor and import in a shell
    # (no $CREDENTIALS_DIRECTORY) read the same file.
    from syncd.config import Secret, load

    key = _key(config_home)
    cfg = load(None)
    assert cfg.zotero.api_key == Secret("ServiceTestKey0123456789")
    assert cfg.zotero.api_key_source == f"file {key}"


def test_in_the_service_the_credential_comes_first(
    config_home: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from syncd.config import Secret, load

    _key(config_home)
    creds = tmp_path / "creds"
    creds.mkdir()
    (creds / "zotero-api-key").write_text("CredentialKey0123456789a")
    monkeypatch.setenv("CREDENTIALS_DIRECTORY", str(creds))
    assert load(None).zotero.api_key == Secret("CredentialKey0123456789a")


def test_the_shared_key_file_must_be_private(config_home: Path) -> None:
    from syncd.config import load
    from syncd.errors import ConfigError

    key = _key(config_home, 0o644)
    with pytest.raises(ConfigError) as exc:
        load(None)
    assert f"chmod 600 {key}" in (exc.value.hint or "")
    assert "ServiceTestKey" not in str(exc.value)


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


@needs_systemd_analyze
def test_systemd_analyze_verify_checks_the_reload_command(
    config_home: Path, tmp_path: Path
) -> None:
    # A clean verify of the installed unit therefore also says that ExecReload= parses and its
    # /bin/kill exists.
    unit = service.render([str(SYNCD)]).replace("ExecReload=/bin/kill", "ExecReload=/no/kill")
    assert "ExecReload=/no/kill -HUP $MAINPID" in unit
    broken = tmp_path / "syncd.service"
    broken.write_text(unit)
    proc = _verify(broken, config_home, tmp_path)
    assert proc.returncode != 0
    assert "/no/kill" in proc.stderr
