"""A real ``systemd --user`` for a throwaway user, on a machine whose PID 1 is not systemd (a CI
runner, a container with root), so that syncd's own unit can be run as a user would have it.

What a booted system gives a logged-in user is made by hand, as root: the user, its runtime
directory (a tmpfs, as logind mounts it), a delegated cgroup (what ``user@.service`` gets from
``Delegate=yes``), and, in a private mount namespace only, ``/run/systemd/system`` (the test
``sd_booted()`` makes) with a journald of its own. The machine's ``/run/systemd`` is never
touched: apt and systemctl elsewhere must not believe systemd is PID 1. Everything is undone by
:meth:`UserManager.close`, whatever happened.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import signal
import subprocess
import time
from collections.abc import Callable, Sequence
from pathlib import Path

SYSTEMD = Path("/usr/lib/systemd/systemd")
JOURNALD = Path("/usr/lib/systemd/systemd-journald")
TOOLS = ("unshare", "setpriv", "runuser", "useradd", "userdel", "systemctl", "journalctl")


def why_not() -> str | None:
    """Why no user manager can be started here (None: it can)."""
    if os.geteuid() != 0:
        return "needs root (it creates a user, mounts and cgroups)"
    if Path("/run/systemd/system").is_dir():
        return "this machine was booted with systemd: use its own user manager instead"
    for path in (SYSTEMD, JOURNALD):
        if not path.exists():
            return f"{path} is missing (the systemd package is not installed)"
    missing = [t for t in TOOLS if shutil.which(t) is None]
    if missing:
        return f"missing tools: {', '.join(missing)}"
    if user_python() is None:
        return "no Python 3.10+ with venv in /usr/bin (Debian: apt install python3-venv)"
    if not os.access("/sys/fs/cgroup", os.W_OK):
        return "/sys/fs/cgroup is not writable (an unprivileged container)"
    return None


def user_python() -> str | None:
    """An interpreter another user may run, with venv (the checkout's may be in root's home)."""
    for candidate in ("/usr/bin/python3", "/usr/local/bin/python3"):
        probe = (
            subprocess.run(
                [candidate, "-c", "import ensurepip, sys; print(sys.version_info >= (3, 10))"],
                capture_output=True,
                text=True,
            )
            if Path(candidate).exists()
            else None
        )
        if probe is not None and probe.stdout.strip() == "True":
            return candidate
    return None


def _hierarchies() -> list[Path]:
    """Where the user's delegated cgroup goes: the unified tree of a pure cgroup v2 host, or
    both trees systemd uses on a hybrid one."""
    root = Path("/sys/fs/cgroup")
    if (root / "cgroup.procs").exists() and not (root / "unified").is_dir():
        return [root]
    return [root / "unified", root / "systemd"]


def _wait(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s waiting for {what}")
        time.sleep(0.1)


class UserManager:
    """``systemd --user`` running for user ``name``; :meth:`run` runs a command as that user,
    in a login-like environment (``env -i``), from outside the manager's namespace."""

    def __init__(self, name: str, logs: Path, tmpfs: dict[str, str] | None = None) -> None:
        self.name = name
        self.logs = logs
        self.tmpfs = tmpfs or {}
        """Small disks for the user: folder under its home -> size (mounted before the manager
        starts: a mount made later would not reach the manager's own mount namespace)."""
        self.uid = -1
        self.home = Path("/nonexistent")
        self.runtime = Path("/nonexistent")
        self._created_user = False
        self._mounted: list[Path] = []
        self._cgroups: list[Path] = []
        self._pids: dict[str, int] = {}
        self._journals: set[Path] = set()

    # ---- life -----------------------------------------------------------------------------

    def start(self) -> UserManager:
        self.logs.mkdir(parents=True, exist_ok=True)
        if subprocess.run(["id", self.name], capture_output=True).returncode != 0:
            subprocess.run(["useradd", "-m", "-s", "/bin/sh", self.name], check=True)
            self._created_user = True
        self.uid = int(subprocess.check_output(["id", "-u", self.name], text=True))
        self.home = Path(os.path.expanduser(f"~{self.name}"))
        self.runtime = Path(f"/run/user/{self.uid}")
        self.runtime.mkdir(parents=True, exist_ok=True)
        self.mount_tmpfs(self.runtime, "64m")
        for folder, size in self.tmpfs.items():
            self.run(["mkdir", "-p", str(self.home / folder)])
            self.mount_tmpfs(self.home / folder, size)
        journal = Path("/var/log/journal")
        if not journal.is_dir():
            journal.mkdir(parents=True)
            journal.chmod(0o2755)
        self._journals = set(journal.rglob("*"))  # what close() leaves as it found it
        for tree in _hierarchies():
            cgroup = tree / "user.slice" / f"user-{self.uid}.slice" / f"user@{self.uid}.service"
            cgroup.mkdir(parents=True, exist_ok=True)
            for path in (cgroup.parent.parent, cgroup.parent, cgroup):
                if path not in self._cgroups:
                    self._cgroups.append(path)
            subprocess.run(["chown", "-R", f"{self.uid}:{self.uid}", str(cgroup)], check=True)
        (self.runtime / "systemd" / "private").unlink(missing_ok=True)
        self._spawn_manager()
        _wait(
            lambda: (
                (self.runtime / "systemd" / "private").exists()
                and (self.logs / "manager.pid").exists()
                and (self.logs / "journald.pid").exists()
            ),
            20,
            "the user manager's socket",
        )
        self._pids["manager"] = int((self.logs / "manager.pid").read_text())
        self._pids["journald"] = int((self.logs / "journald.pid").read_text())
        # Its log goes to the journal (set at its start, see below); its services must not
        # inherit that setting.
        self.run(["systemctl", "--user", "unset-environment", "SYSTEMD_LOG_TARGET"])
        return self

    def _spawn_manager(self) -> None:
        """In a private mount namespace: /run/systemd with system/ and a journald, the shell
        moved into the delegated cgroup, then the manager exec'd as the user."""
        cgroups = " ".join(
            str(t / "user.slice" / f"user-{self.uid}.slice" / f"user@{self.uid}.service")
            for t in _hierarchies()
        )
        script = f"""
set -eu
mount -t tmpfs -o mode=755 tmpfs /run/systemd
mkdir -p /run/systemd/system /run/systemd/journal
touch /run/systemd/journal/flushed
( {JOURNALD} >"{self.logs}/journald.log" 2>&1 & echo $! >"{self.logs}/journald.pid" )
i=0; while [ ! -S /run/systemd/journal/socket ] && [ $i -lt 100 ]; do sleep 0.1; i=$((i+1)); done
for g in {cgroups}; do echo $$ > "$g/cgroup.procs"; done
echo $$ > "{self.logs}/manager.pid"
exec setpriv --reuid={self.uid} --regid={self.uid} --init-groups --reset-env -- \\
  env HOME="{self.home}" USER="{self.name}" LOGNAME="{self.name}" SHELL=/bin/sh \\
  PATH=/usr/local/bin:/usr/bin:/bin XDG_RUNTIME_DIR="{self.runtime}" \\
  DBUS_SESSION_BUS_ADDRESS="unix:path={self.runtime}/bus" SYSTEMD_LOG_TARGET=journal \\
  {SYSTEMD} --user
"""
        with open(self.logs / "manager.log", "wb") as out:
            subprocess.Popen(
                [
                    "setsid",
                    "unshare",
                    "--mount",
                    "--propagation",
                    "private",
                    "--",
                    "sh",
                    "-c",
                    script,
                ],
                stdin=subprocess.DEVNULL,
                stdout=out,
                stderr=subprocess.STDOUT,
            )

    def close(self) -> None:
        """Undo everything :meth:`start` did, also after a failure half-way."""
        if "manager" in self._pids:
            self.run(["systemctl", "--user", "exit"], check=False, timeout=20)
            self._end(self._pids["manager"], 10)
        if "journald" in self._pids:
            self._end(self._pids["journald"], 10)
        subprocess.run(["pkill", "-KILL", "-u", str(self.uid)], capture_output=True)
        for path in reversed(self._mounted):
            subprocess.run(["umount", "-l", str(path)], capture_output=True)
        self.runtime.rmdir() if self.runtime.is_dir() and not any(self.runtime.iterdir()) else None
        for cgroup in sorted(self._cgroups, key=lambda p: len(p.parts), reverse=True):
            for child in sorted(cgroup.rglob("*"), key=lambda p: len(p.parts), reverse=True):
                if child.is_dir():
                    child.rmdir()
            if cgroup.is_dir():
                with contextlib.suppress(OSError):  # a slice something else still uses
                    cgroup.rmdir()
        if self._created_user:
            subprocess.run(["userdel", "-r", "-f", self.name], capture_output=True)
        for path in Path("/var/log/journal").rglob("*"):
            if path not in self._journals and path.is_file():
                path.unlink(missing_ok=True)  # the journals of our journald

    def _end(self, pid: int, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                os.kill(pid, 0)
            except ProcessLookupError:
                return
            time.sleep(0.1)
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)

    # ---- using it -------------------------------------------------------------------------

    def mount_tmpfs(self, path: Path, size: str) -> None:
        """A tmpfs of ``size`` at ``path``, owned by the user (undone by :meth:`close`)."""
        path.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            ["mount", "-t", "tmpfs", "-o", f"mode=700,size={size}", "tmpfs", str(path)], check=True
        )
        self._mounted.append(path)
        os.chown(path, self.uid if self.uid >= 0 else 0, self.uid if self.uid >= 0 else 0)

    def env(self) -> dict[str, str]:
        return {
            "HOME": str(self.home),
            "USER": self.name,
            "LOGNAME": self.name,
            "SHELL": "/bin/sh",
            "LANG": "C.UTF-8",
            "PATH": f"{self.home}/.local/bin:/usr/local/bin:/usr/bin:/bin",
            "XDG_RUNTIME_DIR": str(self.runtime),
            "DBUS_SESSION_BUS_ADDRESS": f"unix:path={self.runtime}/bus",
        }

    def run(
        self, argv: Sequence[str], *, check: bool = True, timeout: float = 120
    ) -> subprocess.CompletedProcess[str]:
        """Run ``argv`` as the user, from its home, in its login environment."""
        env = [f"{k}={v}" for k, v in self.env().items()]
        result = subprocess.run(
            [
                "runuser",
                "-u",
                self.name,
                "--",
                "env",
                "-i",
                *env,
                "sh",
                "-c",
                'cd && "$@"',
                "sh",
                *argv,
            ],
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        if check and result.returncode != 0:
            raise AssertionError(
                f"{' '.join(argv)} exited {result.returncode}:\n{result.stdout}{result.stderr}"
            )
        return result

    def write(self, path: Path, text: str, mode: int = 0o644) -> None:
        """A file of the user's (its folders made as the user)."""
        self.run(["mkdir", "-p", str(path.parent)])
        path.write_text(text, encoding="utf-8")
        os.chown(path, self.uid, self.uid)
        path.chmod(mode)

    def show(self, prop: str, unit: str = "syncd") -> str:
        result = self.run(["systemctl", "--user", "show", "-p", prop, "--value", unit])
        return result.stdout.strip()

    def main_pid(self) -> int:
        return int(self.show("MainPID") or 0)
