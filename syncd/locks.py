"""The two locks on a state database: one ``syncd run`` per database, and the count of runs.

* ``<state.db>.lock`` and a lock named after the database file's device and inode (in
  ``$XDG_RUNTIME_DIR/syncd``): held by the one daemon (:class:`DaemonLock`); :func:`holder`
  names its PID for ``syncd status`` and ``doctor``.
* ``<state.db>.runs``: every import run holds it shared (:func:`state_users`); only a run that
  is alone may settle the rows an interrupted run left pending.
"""

from __future__ import annotations

import contextlib
import fcntl
import os
import tempfile
from collections.abc import Iterator
from pathlib import Path

from syncd.errors import SyncdError


class LockError(SyncdError):
    """Another ``syncd run`` uses this state database."""


# --- one daemon per database -----------------------------------------------------------------


def lock_path(state_path: Path) -> Path:
    return state_path.with_name(state_path.name + ".lock")


def _runtime_dir() -> Path:
    """Where this user's locks live: ``$XDG_RUNTIME_DIR/syncd``, else ``/tmp/syncd-UID``."""
    base = os.environ.get("XDG_RUNTIME_DIR")
    return Path(base) / "syncd" if base else Path(tempfile.gettempdir()) / f"syncd-{os.getuid()}"


def identity_lock_path(state_path: Path) -> Path | None:
    """The lock named after the database file itself (device and inode), so that every path to
    one database (a symlink, a hard link, another spelling) meets the same lock; None while
    the database does not exist."""
    try:
        st = os.stat(state_path)
    except OSError:
        return None
    return _runtime_dir() / f"state-{st.st_dev:x}-{st.st_ino:x}.lock"


class DaemonLock:
    """An exclusive ``flock`` on ``<state.db>.lock`` and on the lock named after the database's
    device and inode (not on SQLite's own file: its POSIX locks would be dropped when any
    second descriptor of the file is closed); each file holds the holder's PID."""

    def __init__(self, state_path: Path) -> None:
        self.state_path = state_path
        self.path = lock_path(state_path)
        self._fds: list[int] = []

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        # The database is created here when it does not exist yet (an empty file is a new
        # SQLite database), so that it has the inode its second lock is named after.
        os.close(os.open(self.state_path, os.O_RDWR | os.O_CREAT, 0o600))
        by_identity = identity_lock_path(self.state_path)
        paths = [self.path] if by_identity is None else [self.path, by_identity]
        if by_identity is not None:
            by_identity.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        try:
            for path in paths:
                fd = os.open(path, os.O_RDWR | os.O_CREAT, 0o600)
                try:
                    fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                except BlockingIOError:
                    os.close(fd)
                    pid = _holder_of(path)
                    raise LockError(
                        f"syncd run is already running (pid {pid or '?'}) with the state "
                        f"database {self.state_path}",
                        hint="stop it first ('systemctl --user stop syncd', or kill "
                        f"{pid or 'it'}), or give this one another state.path",
                    ) from None
                os.ftruncate(fd, 0)
                os.write(fd, f"{os.getpid()}\n".encode())
                self._fds.append(fd)
        except BaseException:
            self.release()
            raise

    def renew(self) -> None:
        """Take the locks again for the database now at the path (after it was replaced)."""
        self.release()
        self.acquire()

    def release(self) -> None:
        for fd in self._fds:
            with contextlib.suppress(OSError):
                os.ftruncate(fd, 0)
            os.close(fd)
        self._fds = []


def holder(state_path: Path) -> int | None:
    """The PID of the ``syncd run`` holding ``state_path``'s lock (by any path to the same
    database), or None when none runs."""
    for path in (lock_path(state_path), identity_lock_path(state_path)):
        if path is not None and (pid := _holder_of(path)) is not None:
            return pid
    return None


def _holder_of(path: Path) -> int | None:
    try:
        fd = os.open(path, os.O_RDONLY)
    except OSError:
        return None
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
        except BlockingIOError:
            text = os.read(fd, 32).decode(errors="replace").strip()
            return int(text) if text.isdigit() else -1
        fcntl.flock(fd, fcntl.LOCK_UN)
        return None
    finally:
        os.close(fd)


# --- the runs using a database ------------------------------------------------------------------


@contextlib.contextmanager
def state_users(path: Path) -> Iterator[bool]:
    """Count this run among the runs using the state database at ``path`` (a shared ``flock`` on
    ``<path>.runs``, released when the run ends or its process dies); yield whether it is the
    only one. Only then are the rows left pending an interrupted run's to settle: with others
    running, they may be rows another run is sending at this moment, which it will count."""
    try:
        import fcntl

        fd = os.open(f"{path}.runs", os.O_RDWR | os.O_CREAT, 0o600)
    except (ImportError, OSError):  # no flock here, or a read-only folder: settle as before
        yield True
        return
    try:
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
            alone = True
        except OSError:
            alone = False
        fcntl.flock(fd, fcntl.LOCK_SH)  # from exclusive to shared, or wait for one to convert
        yield alone
    finally:
        os.close(fd)
