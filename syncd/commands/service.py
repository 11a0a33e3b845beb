"""Run syncd as a systemd user service: the daemon (`syncd run`) starts with your session, or
at boot with lingering, restarts after a crash, and logs to the journal.

  syncd service install [--enable] [--print]
  syncd service uninstall

install writes the unit syncd.service, with ExecStart= the syncd you are running (the pipx or
virtualenv one), to $XDG_CONFIG_HOME/systemd/user/ (~/.config/systemd/user/) and runs
'systemctl --user daemon-reload'; --enable also runs 'systemctl --user enable --now
syncd.service'; --print writes the unit to stdout and changes nothing. uninstall stops and
disables the service and removes the unit file.

The unit reads the Zotero API key as a systemd credential from
$XDG_CONFIG_HOME/syncd/zotero-api-key (only the key in it, chmod 600); with [zotero] target =
"desktop", the Zotero app's key file (zotero.desktop_key_file) instead. Logs:
'journalctl --user -u syncd'. See docs/daemon-systemd.md.

Exit status: 0 done; 2 systemctl is missing or failed (its message is shown), or --enable
without the API key file.
"""

from __future__ import annotations

import argparse
import os
import shutil
import stat
import subprocess
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from syncd.errors import EXIT_OK, SyncdError

HELP = "install or uninstall the systemd user service that runs the daemon"

UNIT = "syncd.service"
# The line of the packaged unit that install replaces; the template keeps a working default.
TEMPLATE_EXEC = "ExecStart=%h/.local/bin/syncd run"
TEMPLATE_CREDENTIAL = "LoadCredential=zotero-api-key:%E/syncd/zotero-api-key"
# Where systemd-logind marks users whose manager runs without a login session.
LINGER_DIR = Path("/var/lib/systemd/linger")

_NOT_INSTALLED = ("does not exist", "not loaded", "No such file")
_NO_USER_MANAGER_HINT = (
    "no systemd user manager answers in this session (over ssh or su, log in directly or run "
    "'loginctl enable-linger $USER' and log in again; XDG_RUNTIME_DIR must be set)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    actions = parser.add_subparsers(dest="action", metavar="ACTION", required=True)
    install = actions.add_parser(
        "install",
        help="write the user unit and reload systemd (--enable: also start it now and at login)",
        description="Write ~/.config/systemd/user/syncd.service for the syncd you are running, "
        "then 'systemctl --user daemon-reload'.",
    )
    install.add_argument(
        "--enable",
        action="store_true",
        help="also 'systemctl --user enable --now syncd.service' (start now and at every login)",
    )
    install.add_argument(
        "--print",
        action="store_true",
        dest="print_only",
        help="write the unit to stdout and change nothing",
    )
    actions.add_parser(
        "uninstall",
        help="stop and disable the service and remove its unit file",
        description="'systemctl --user disable --now syncd.service', remove the unit file, "
        "'systemctl --user daemon-reload'.",
    )


def run(args: argparse.Namespace) -> int:
    if args.action == "install":
        return _install(enable=args.enable, print_only=args.print_only)
    return _uninstall()


# --- the unit --------------------------------------------------------------------------------


def template() -> str:
    """The packaged unit (``syncd/data/syncd.service``, the same file as systemd/syncd.service)."""
    from importlib.resources import files

    return files("syncd").joinpath("data", UNIT).read_text(encoding="utf-8")


def render(command: Sequence[str], desktop_key: Path | None = None) -> str:
    """The unit with ``ExecStart=`` running ``command`` followed by ``run``; with
    ``desktop_key`` (``target = "desktop"``), the credential it loads is the Zotero app's key
    file instead of the Web API key."""
    text = template()
    if text.count(TEMPLATE_EXEC + "\n") != 1:  # a guard for whoever edits the template
        raise AssertionError(f"the packaged {UNIT} has no single line {TEMPLATE_EXEC!r}")
    line = "ExecStart=" + " ".join(_quote(arg) for arg in [*command, "run"])
    text = text.replace(TEMPLATE_EXEC + "\n", line + "\n")
    if desktop_key is not None:
        from syncd.config import DESKTOP_KEY_NAME, default_desktop_key_path

        source = "%E/syncd/" + DESKTOP_KEY_NAME
        if desktop_key != default_desktop_key_path():
            source = _quote(str(desktop_key))
        text = text.replace(TEMPLATE_CREDENTIAL, f"LoadCredential={DESKTOP_KEY_NAME}:{source}")
    return text


def _desktop_key_file() -> Path | None:
    """The Zotero app's key file when the config (the one the service reads) names the
    desktop target; None for the Web API, or when the config cannot be read."""
    from syncd.config import load
    from syncd.errors import ConfigError

    try:
        z = load().zotero
    except ConfigError:
        return None
    return z.desktop_key_file if z.target == "desktop" else None


def exec_start(unit: str) -> str:
    """The ``ExecStart=`` line of ``unit`` (not the header comment that names it)."""
    return next(line for line in unit.splitlines() if line.startswith("ExecStart="))


def _quote(arg: str) -> str:
    """``arg`` as one word of a systemd command line: ``%`` and ``$`` would be expanded by
    systemd, and whitespace, quotes and backslashes need double quotes and escapes."""
    arg = arg.replace("%", "%%").replace("$", "$$")
    if arg and not any(c.isspace() or c in "\"'\\;" for c in arg):
        return arg
    return '"' + arg.replace("\\", "\\\\").replace('"', '\\"') + '"'


def syncd_command(
    argv0: str | None = None,
    executable: str | None = None,
    which: Callable[[str], str | None] = shutil.which,
) -> list[str]:
    """The absolute command that runs this syncd: its script as run (``sys.argv[0]``), else the
    ``syncd`` script beside the interpreter (a venv's or pipx's bin/), else ``syncd`` on PATH,
    else ``python -m syncd`` with this interpreter."""
    argv0 = sys.argv[0] if argv0 is None else argv0
    executable = sys.executable if executable is None else executable
    # Not resolved: pipx's ~/.local/bin/syncd is a symlink worth keeping (it survives upgrades),
    # and a venv's python is a symlink to the system one, which knows nothing of the venv.
    candidates = []
    if argv0 and Path(argv0).name == "syncd":
        candidates.append(Path(os.path.abspath(argv0)))
    if executable:
        candidates.append(Path(os.path.abspath(executable)).parent / "syncd")
    if found := which("syncd"):
        candidates.append(Path(os.path.abspath(found)))
    for path in candidates:
        if path.is_file() and os.access(path, os.X_OK):
            return [str(path)]
    return [os.path.abspath(executable or "python3"), "-m", "syncd"]


# --- install / uninstall ---------------------------------------------------------------------


def _config_home() -> Path:
    from syncd.config import default_config_path

    return default_config_path().parent.parent  # $XDG_CONFIG_HOME, else ~/.config


def unit_path() -> Path:
    return _config_home() / "systemd" / "user" / UNIT


def _install(*, enable: bool, print_only: bool) -> int:
    from syncd.config import default_key_path

    desktop_key = _desktop_key_file()
    unit = render(syncd_command(), desktop_key)
    if print_only:
        sys.stdout.write(unit)
        return EXIT_OK
    systemctl = _systemctl()
    path = unit_path()
    key_file = desktop_key or default_key_path()
    if enable and not key_file.is_file():
        # The unit would fail at once with status 243/CREDENTIALS: say why before, not after.
        raise SyncdError(
            f"not enabled: the API key file {key_file} is missing, and the service cannot "
            "start without it (it is loaded as a systemd credential)",
            hint=f"{_key_hint(key_file, desktop_key is not None)}, then run 'syncd service "
            "install --enable' again",
        )
    old = path.read_text(encoding="utf-8") if path.is_file() else None
    if old != unit:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_name(f".{UNIT}.tmp")
        tmp.write_text(unit, encoding="utf-8")
        tmp.replace(path)
    print(f"{'unchanged' if old == unit else 'updated' if old else 'wrote'} {path}")
    print(f"  {exec_start(unit)}")
    _call(systemctl, "daemon-reload")
    if enable:
        if old is not None and old != unit:
            # A running daemon keeps its old command line until restarted; enable --now would
            # not restart it. try-restart restarts it only if it runs.
            _call(systemctl, "try-restart", UNIT)
        _call(systemctl, "enable", "--now", UNIT)
        print(f"enabled and started {UNIT}: it starts again at every login")
        print("  see it work: syncd status; journalctl --user -u syncd -f")
    else:
        print("not enabled; start it now and at every login with: syncd service install --enable")
        if old is not None and old != unit:
            print(f"  if it is running, restart it: systemctl --user restart {UNIT}")
    if not key_file.is_file():
        hint = _key_hint(key_file, desktop_key is not None)
        print(f"hint: {hint}; the service does not start without it")
    elif stat.S_IMODE(key_file.stat().st_mode) & 0o077:
        print(f"hint: others can read {key_file}: run 'chmod 600 {key_file}'")
    _linger_hint()
    return EXIT_OK


def _uninstall() -> int:
    systemctl = _systemctl()
    path = unit_path()
    proc = _call(systemctl, "disable", "--now", UNIT, check=False)
    if proc.returncode != 0 and not any(s in proc.stderr for s in _NOT_INSTALLED):
        _fail(["disable", "--now", UNIT], proc)
    if path.is_file():
        path.unlink()
        print(f"stopped, disabled and removed {path}")
    else:
        print(f"{UNIT} was not installed in {path.parent}")
    _call(systemctl, "daemon-reload")
    return EXIT_OK


def _key_hint(key_file: Path, desktop: bool = False) -> str:
    if desktop:
        return f"run 'syncd setup --desktop' with Zotero running (it writes {key_file})"
    return f"put your Zotero API key (only the key) in {key_file} and run 'chmod 600 {key_file}'"


def _linger_hint() -> None:
    user = os.environ.get("USER") or os.environ.get("LOGNAME") or ""
    if user and (LINGER_DIR / user).exists():
        return
    print(
        "hint: the service runs while you are logged in. On a machine without a desktop "
        "session (a server, over ssh), let it run without a login and start at boot: "
        "loginctl enable-linger $USER"
    )


# --- the service's state, for `syncd status` ---------------------------------------------------

_SHOWN = ("UnitFileState", "ActiveState", "SubState", "Result", "ExecMainStatus")
# systemd's words in Result=, as a user would say them.
_RESULTS = {
    "signal": "it was killed by a signal",
    "core-dump": "it crashed",
    "watchdog": "it hung and the watchdog killed it",
    "timeout": "it did not start or stop in time",
    "oom-kill": "it ran out of memory",
    "protocol": "it did not say it was ready",
}


@dataclass(frozen=True)
class ServiceState:
    """What the user manager says about the installed unit; empty strings where it could not
    say (no systemctl, no user manager in this session)."""

    unit_file: str  # UnitFileState: enabled, disabled, ...
    active: str = ""  # ActiveState: active, activating, failed, inactive, ...
    sub: str = ""  # SubState: running, auto-restart, failed, dead, ...
    result: str = ""  # Result: success, exit-code, signal, watchdog, start-limit-hit, ...
    exit_status: int | None = None  # ExecMainStatus: the exit status, or the signal

    @property
    def enabled(self) -> bool:
        return self.unit_file in ("enabled", "enabled-runtime")

    def problem(self, key_file: Path) -> tuple[str, str]:
        """Why no daemon runs although the service is enabled, and what to do: ``(message,
        hint)``. ``key_file`` is where the unit loads the API key from."""
        logs = "journalctl --user -u syncd -e"
        restart = f"systemctl --user restart {UNIT}"
        if self.result == "exit-code" and self.exit_status == 243:
            return (
                f"{UNIT} did not start: systemd could not load the API key from {key_file} "
                "(status 243/CREDENTIALS; it is not retried)",
                f"{_key_hint(key_file)}, then: {restart}",
            )
        if self.result == "start-limit-hit":
            return (
                f"{UNIT} failed too often in a row and systemd stopped restarting it "
                "(start-limit-hit)",
                f"see why: {logs}; once fixed: systemctl --user reset-failed {UNIT} && "
                f"systemctl --user start {UNIT}",
            )
        if self.active == "failed" or self.sub == "auto-restart":
            if self.result == "exit-code" and self.exit_status == 2:
                why = "it exited with status 2: a configuration error, or another syncd holds "
                why += "the state database"
            elif self.result == "exit-code":
                why = f"it exited with status {self.exit_status}"
            else:
                why = _RESULTS.get(self.result, f"result {self.result or 'unknown'}")
            if self.sub == "auto-restart":
                return f"{UNIT} failed ({why}); systemd restarts it in a moment", f"see {logs}"
            return f"{UNIT} failed ({why})", f"see why: {logs}; once fixed: {restart}"
        if self.active in ("inactive", "deactivating"):
            return f"{UNIT} is enabled but stopped", f"start it: systemctl --user start {UNIT}"
        if self.active in ("activating", "reloading"):
            return f"{UNIT} is starting", f"see {logs}"
        if self.active == "active":
            return (
                f"{UNIT} runs, but not on this state database",
                "does the service use another config or state.path? see systemctl --user "
                f"status {UNIT}",
            )
        return (
            f"{UNIT} is enabled, but no daemon runs and systemctl --user cannot say why",
            f"see systemctl --user status {UNIT}",
        )


def service_state() -> ServiceState | None:
    """The installed unit's state, or None when its unit file is not installed. Never raises:
    without systemctl or a user manager, only whether it is enabled is known (from the symlink
    that 'enable' makes)."""
    path = unit_path()
    if not path.is_file():
        return None
    said: dict[str, str] = {}
    systemctl = shutil.which("systemctl")
    if systemctl is not None:
        try:
            proc = subprocess.run(
                [systemctl, "--user", "show", "--property=" + ",".join(_SHOWN), UNIT],
                capture_output=True,
                text=True,
                check=False,
                timeout=10,
            )
        except (OSError, subprocess.TimeoutExpired):
            proc = None
        if proc is not None and proc.returncode == 0:
            said = {k: v for k, _, v in (ln.partition("=") for ln in proc.stdout.splitlines())}
    linked = (path.parent / "default.target.wants" / UNIT).exists()
    status = said.get("ExecMainStatus", "")
    return ServiceState(
        unit_file=said.get("UnitFileState") or ("enabled" if linked else "disabled"),
        active=said.get("ActiveState", ""),
        sub=said.get("SubState", ""),
        result=said.get("Result", ""),
        exit_status=int(status) if status.isdigit() else None,
    )


# --- systemctl -------------------------------------------------------------------------------


def _systemctl() -> str:
    found = shutil.which("systemctl")
    if found is None:
        raise SyncdError(
            "systemctl not found: 'syncd service' needs systemd",
            hint="without systemd, start 'syncd run' from your session's autostart, or run "
            "'syncd run --once' from cron",
        )
    return found


def _call(systemctl: str, *args: str, check: bool = True) -> subprocess.CompletedProcess[str]:
    proc = subprocess.run([systemctl, "--user", *args], capture_output=True, text=True, check=False)
    if check and proc.returncode != 0:
        _fail(list(args), proc)
    return proc


def _fail(args: list[str], proc: subprocess.CompletedProcess[str]) -> None:
    said = (proc.stderr or proc.stdout).strip() or "(no message)"
    no_bus = "Failed to connect to bus" in said or "No medium found" in said
    raise SyncdError(
        f"'systemctl --user {' '.join(args)}' failed (exit {proc.returncode}): {said}",
        hint=_NO_USER_MANAGER_HINT
        if no_bus
        else f"see 'systemctl --user status {UNIT}' and 'journalctl --user -u syncd'",
    )
