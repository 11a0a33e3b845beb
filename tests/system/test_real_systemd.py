"""syncd's own unit under a real ``systemd --user``, as a user would have it: installed into a
venv of the user's, ``syncd service install --enable``, an export imported from the download
folder, ``kill -9`` and a hung daemon (SIGSTOP, killed by the watchdog) restarted by systemd, a
full disk under the state database waited out, ``stop`` with exit status 0, the key never in
the journal, and uninstalled. Every article once, throughout.

It runs as root on a machine not booted with systemd (CI runners, containers with root; see
``user_manager.py``), where the systemd package is installed (``.ci/run`` installs it), and
skips elsewhere with the reason.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from syncd.sandbox import SandboxServer
from tests.helpers import medline
from tests.system.processes import KEY, ROOT, assert_exactly_once, library_pmids, running_sandbox
from tests.system.user_manager import UserManager, user_python, why_not

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]

USER = "syncdsdtest"
STATE = ".local/state/syncd"  # where the state database is by default
FIRST = [53400001, 53400002, 53400003]
SECOND = [53400011, 53400012]
THIRD = list(range(53410000, 53411500))  # more than the database's WAL holds already
FOURTH = [53400031]


def _until(condition: Callable[[], bool], timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError(f"timed out after {timeout:.0f} s: {what}")
        time.sleep(0.2)


def _arrived(sandbox: SandboxServer, pmids: list[int]) -> Callable[[], bool]:
    return lambda: {str(p) for p in pmids} <= set(library_pmids(sandbox))


@pytest.fixture(scope="module")
def wheels() -> Iterator[Path]:
    """syncd and what it needs as wheels in a folder the test user can read (the user has no
    access to this checkout, as another user on a machine would not)."""
    reason = why_not()
    if reason:
        pytest.skip(f"no real systemd user manager here: {reason}")
    with tempfile.TemporaryDirectory(prefix="syncd-wheels-") as folder:
        os.chmod(folder, 0o755)
        subprocess.run(
            [sys.executable, "-m", "pip", "wheel", "-q", "--wheel-dir", folder, str(ROOT)],
            check=True,
            timeout=600,
        )
        for wheel in Path(folder).iterdir():
            wheel.chmod(0o644)
        yield Path(folder)


@pytest.fixture
def manager(wheels: Path, tmp_path: Path) -> Iterator[UserManager]:
    um = UserManager(USER, tmp_path / "logs", tmpfs={STATE: "32m"})  # a disk to fill later
    try:
        yield um.start()
    finally:
        um.close()


def test_the_unit_under_a_real_user_manager(
    manager: UserManager, wheels: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    try:
        _as_a_user_would(manager, wheels, monkeypatch)
    except AssertionError as failure:
        journal = manager.run(["journalctl", "--user", "--no-pager", "-n", "60"], check=False)
        raise AssertionError(f"{failure}\n--- the user's journal ---\n{journal.stdout}") from None


def _as_a_user_would(um: UserManager, wheels: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = um.home
    python = user_python()
    assert python is not None
    um.run([python, "-m", "venv", f"{home}/venv"], timeout=300)
    # The wheels built here; whatever its Python needs otherwise comes from the index.
    pip = [f"{home}/venv/bin/pip", "install", "-q", "--find-links", str(wheels), "syncd"]
    um.run(pip, timeout=300)
    syncd = f"{home}/venv/bin/syncd"
    um.write(home / ".config/syncd/zotero-api-key", KEY + "\n", mode=0o600)
    um.run(["mkdir", "-p", f"{home}/Downloads"])
    state = home / STATE
    with running_sandbox(monkeypatch) as sandbox:
        um.write(
            home / ".config/syncd/config.toml",
            f'[zotero]\nlibrary_id = 1\napi_url = "{sandbox.url}"\n\n'
            "[watch]\nsettle_seconds = 0.5\nretry_max_seconds = 3\n",
        )
        um.run([syncd, "service", "install", "--enable"])
        assert um.show("ActiveState") == "active"
        pid = um.main_pid()
        environ = Path(f"/proc/{pid}/environ").read_bytes().split(b"\0")
        assert any(v.startswith(b"CREDENTIALS_DIRECTORY=") for v in environ), "LoadCredential="

        # An export lands in the download folder.
        um.write(home / "Downloads/first.nbib", medline(FIRST))
        _until(_arrived(sandbox, FIRST), 60, "the first export imported by the service")
        journal = um.run(["journalctl", "--user", "-u", "syncd", "--no-pager", "-o", "cat"])
        assert "first.nbib" in journal.stdout, journal.stdout[-2000:]

        # kill -9: systemd restarts it (RestartSec=10s), and it goes on.
        os.kill(pid, signal.SIGKILL)
        _until(lambda: um.main_pid() not in (0, pid), 60, "a restart after kill -9")
        um.write(home / "Downloads/second.nbib", medline(SECOND))
        _until(_arrived(sandbox, SECOND), 60, "an export after the restart")

        # A hung daemon: the watchdog (4 s here, in a drop-in) kills it and systemd restarts it.
        dropin = home / ".config/systemd/user/syncd.service.d/watchdog.conf"
        um.write(dropin, "[Service]\nWatchdogSec=4s\n")
        um.run(["systemctl", "--user", "daemon-reload"])
        um.run(["systemctl", "--user", "restart", "syncd"])
        _until(lambda: um.show("ActiveState") == "active", 30, "the restart with the drop-in")
        hung = um.main_pid()
        os.kill(hung, signal.SIGSTOP)
        _until(lambda: um.main_pid() not in (0, hung), 90, "the watchdog's restart")
        watchdog = um.run(["journalctl", "--user", "--no-pager", "-o", "cat"]).stdout
        assert "atchdog timeout" in watchdog, watchdog[-2000:]
        dropin.unlink()
        um.run(["systemctl", "--user", "daemon-reload"])
        um.run(["systemctl", "--user", "restart", "syncd"])
        _until(lambda: um.show("ActiveState") == "active", 30, "the restart without it")

        # A full disk under the state database is waited out, not the end of the service.
        um.run(["dd", "if=/dev/zero", f"of={state}/filler", "bs=64k"], check=False)
        assert os.statvfs(state).f_bavail == 0
        um.write(home / "Downloads/third.nbib", medline(THIRD))
        _until(
            lambda: "writable again" in um.show("StatusText"),
            60,
            f"STATUS= to say the state database waits (it says {um.show('StatusText')!r})",
        )
        assert um.show("ActiveState") == "active"
        (state / "filler").unlink()
        _until(_arrived(sandbox, THIRD), 180, "the export once the disk had room again")

        # Stop: exit status 0, and nothing imported is lost on the way.
        um.write(home / "Downloads/fourth.nbib", medline(FOURTH))
        _until(_arrived(sandbox, FOURTH), 60, "the last export")
        um.run(["systemctl", "--user", "stop", "syncd"])
        assert um.show("ExecMainStatus") == "0"
        assert_exactly_once(sandbox, FIRST + SECOND + THIRD + FOURTH)

    # The key was never written to the journal (the manager's or syncd's lines).
    for path in Path("/var/log/journal").rglob("*.journal*"):
        assert KEY.encode() not in path.read_bytes(), f"the API key is in {path}"
    um.run([syncd, "service", "uninstall"])
    assert not (home / ".config/systemd/user/syncd.service").exists()
