"""What went wrong with the state database, said plainly: each SQLite or OS failure met while
using it becomes one :class:`~syncd.errors.StateError` with what to do (no space, a read-only
folder, a damaged file, a file size limit, a link loop), naming the file; :func:`guarded`
wraps the store's methods (and its parts') so that every one of them says it so.

Kept apart from :mod:`syncd.state` so that the store stays about its tables: this module only
reads the failure and the file system around the database, to explain.
"""

from __future__ import annotations

import errno
import functools
import os
import resource
import sqlite3
import stat
from collections.abc import Callable
from pathlib import Path
from typing import Any, TypeVar

from syncd.errors import (
    StateDamagedError,
    StateError,
    StateNoSpaceError,
    StateNotWritableError,
)

BUSY_TIMEOUT_MS = 30_000
"""How long a write waits for another process's transaction before it is a locked error."""


def damaged_hint(path: Path) -> str:
    """What to do about a damaged database: keep it, and let syncd start a new one."""
    return (
        f"keep the damaged file, but out of the way: 'mv {path} {path}.damaged' (a copy may "
        f"be saved with: sqlite3 {path}.damaged .recover | sqlite3 {path}.recovered); then run "
        "syncd again: it starts a new state database and rebuilds its index from the Zotero "
        "library, where it finds the articles already imported"
    )


def _errno_of(exc: BaseException) -> int | None:
    return exc.errno if isinstance(exc, OSError) else None


def _os_cause(path: Path) -> OSError | None:
    """What the operating system says when asked for ``path`` and the folders above it, or
    None when it sees nothing wrong (a missing file is fine: it will be created)."""
    try:
        os.stat(path)
    except FileNotFoundError:
        pass
    except OSError as exc:
        return exc
    for folder in path.parents:
        try:
            os.stat(folder)
        except FileNotFoundError:
            continue
        except OSError as exc:
            return exc
        return None
    return None


def _first_existing(path: Path) -> Path:
    for candidate in (path, *path.parents):
        if candidate.exists():
            return candidate
    return Path("/")


def _read_only_fs(path: Path) -> bool:
    try:
        return bool(os.statvfs(_first_existing(path)).f_flag & os.ST_RDONLY)
    except OSError:
        return False


def _size_limit() -> int | None:
    """The file-size limit of this process (``ulimit -f``) in bytes, or None when unlimited."""
    soft, _ = resource.getrlimit(resource.RLIMIT_FSIZE)
    return None if soft == resource.RLIM_INFINITY else int(soft)


def _not_writable(path: Path, detail: str) -> StateNotWritableError:
    folder = path.parent
    elsewhere = "or set state.path in the config to a file in a folder you can write to"
    if _read_only_fs(path):
        return StateNotWritableError(
            f"{path}: cannot write the state database: it is on a read-only file system ({detail})",
            hint=f"remount that disk read-write, {elsewhere}",
            transient=True,
        )
    if path.exists() and not os.access(path, os.W_OK):
        mode = stat.S_IMODE(path.stat().st_mode)
        return StateNotWritableError(
            f"{path}: cannot write the state database: the file is read-only (mode {mode:o})",
            hint=f"make it writable for you ('chmod u+w {path}'), {elsewhere}",
            transient=True,
        )
    where = _first_existing(folder)
    if not os.access(where, os.W_OK):
        return StateNotWritableError(
            f"{path}: cannot write the state database: the folder {where} is read-only for "
            "you (SQLite keeps its journal files beside the database, so the folder must be "
            f"writable too; {detail})",
            hint=f"make the folder writable for you ('chmod u+w {where}'), {elsewhere}",
            transient=True,
        )
    return StateNotWritableError(
        f"{path}: cannot write the state database ({detail})",
        hint=f"check the permissions of the file and of its folder, {elsewhere}",
        transient=True,
    )


def state_error(path: Path, exc: BaseException, doing: str = "") -> StateError:
    """The :class:`StateError` for ``exc`` (an ``sqlite3.Error`` or ``OSError``) met while
    ``doing`` something with the state database at ``path``: its cause named, with a hint."""
    if isinstance(exc, StateError):
        return exc
    what = f" while {doing}" if doing else ""
    name = str(getattr(exc, "sqlite_errorname", "") or "")
    text = str(exc)
    code = _errno_of(exc)
    os_cause = _os_cause(path)
    if os_cause is not None and os_cause.errno == errno.ELOOP:
        return StateError(
            f"{path}: cannot open the state database: its path runs into a loop of symbolic "
            f"links ({os_cause.strerror})",
            hint="check where the links on the way point ('ls -l'), or set state.path to a "
            "real file",
            transient=True,
        )
    if code in (errno.EACCES, errno.EPERM, errno.EROFS) or name.startswith("SQLITE_READONLY"):
        return _not_writable(path, text)
    if name == "SQLITE_FULL" or code == errno.ENOSPC or "disk is full" in text:
        return StateNoSpaceError(
            f"{path}: the disk is full: the state database could not be written{what}",
            hint="free some space on that disk (or set state.path to a file on another one), "
            "then run again: what was recorded before is kept, and records being sent are "
            "settled on the next run",
            transient=True,
        )
    if code == errno.EIO:
        return StateNoSpaceError(
            f"{path}: a disk I/O error{what} ({text})",
            hint="check the disk (free space, 'dmesg' for errors), then run again",
            transient=True,
        )
    if name == "SQLITE_CANTOPEN" or code is not None:
        if path.is_dir():
            return StateError(
                f"{path}: cannot open the state database: it is a folder",
                hint="set state.path to a file name (for example state.db) inside it",
            )
        if _read_only_fs(path) or not os.access(_first_existing(path.parent), os.W_OK):
            return _not_writable(path, text)
        if os_cause is not None:
            return StateError(
                f"{path}: cannot open the state database: {os_cause.strerror or os_cause}",
                hint="check state.path in the config and the folders on its way",
            )
        return StateError(
            f"{path}: cannot open the state database{what}: {text}",
            hint="check state.path in the config and the permissions of its folder",
        )
    if name.startswith("SQLITE_IOERR") or code == errno.EFBIG or "disk I/O error" in text:
        limit = _size_limit()
        if limit is not None or code == errno.EFBIG:
            shown = f"{limit} bytes" if limit is not None else "a limit"
            return StateNoSpaceError(
                f"{path}: a file-size limit ({shown}, 'ulimit -f') stops writes to the state "
                f"database{what}",
                hint="raise the limit ('ulimit -f unlimited', or LimitFSIZE= in a systemd unit) "
                "and run again: records being sent are settled on the next run",
            )
        return StateNoSpaceError(
            f"{path}: a disk I/O error{what} ({text})",
            hint="check the disk (free space, 'dmesg' for errors), then run again",
            transient=True,
        )
    if name.startswith(("SQLITE_CORRUPT", "SQLITE_NOTADB")) or (
        isinstance(exc, sqlite3.DatabaseError) and ("malformed" in text or "not a database" in text)
    ):
        return StateDamagedError(
            f"{path}: the state database is damaged ({text})", hint=damaged_hint(path)
        )
    if "no such table" in text or "no such column" in text:
        return StateDamagedError(
            f"{path}: the state database is damaged: {text.replace('no such', 'missing')}",
            hint=damaged_hint(path),
        )
    if name.startswith(("SQLITE_BUSY", "SQLITE_LOCKED")) or "database is locked" in text:
        return StateError(
            f"{path}: the state database stayed locked for {BUSY_TIMEOUT_MS // 1000} s ({text})",
            hint="another syncd process holds it; try again when it has finished",
        )
    return StateError(
        f"{path}: the state database failed{what}: {text}",
        hint="run 'syncd doctor' to check it",
    )


F = TypeVar("F", bound=Callable[..., Any])
BUGS = (sqlite3.IntegrityError, sqlite3.ProgrammingError, sqlite3.InterfaceError)
"""Errors of syncd's own SQL, not of the database or the disk: left to show as bugs."""


def guarded(method: F) -> F:
    """``method`` (of an object with a ``path``: the store and its parts) with every
    ``sqlite3.Error`` / ``OSError`` turned into a StateError; syncd's own SQL errors (BUGS)
    pass as they are."""

    @functools.wraps(method)
    def wrapper(self: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return method(self, *args, **kwargs)
        except BUGS:
            raise
        except (sqlite3.Error, OSError) as exc:
            raise state_error(self.path, exc) from exc

    return wrapper  # type: ignore[return-value]
