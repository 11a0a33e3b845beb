"""The files `syncd setup` writes, and how: all at the end, each one atomically (a temporary
file in the same folder, flushed, then renamed over the old one), folders created 0700, key
files 0600, an existing config or key file that changes kept as a numbered backup, and Ctrl-C
held back while they are written, so that an interrupted setup leaves either nothing or
everything.
"""

from __future__ import annotations

import contextlib
import errno
import os
import signal
import threading
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from types import FrameType
from typing import Any


@dataclass(frozen=True)
class SecretFile:
    """A file holding a credential (an API key; the desktop key's JSON), written 0600."""

    path: Path
    content: str
    what: str  # "the Zotero API key", for the messages


@dataclass(frozen=True)
class SetupResult:
    """What a target's setup settled on; :mod:`syncd.commands.setup` writes it.

    ``values`` are the dotted config keys to set, ``decided`` every key this target decides
    (those of an existing config are replaced or removed, the rest kept), ``secrets`` the key
    files, ``folders`` folders to create (the watch folder), ``summary`` lines shown before
    writing.
    """

    values: dict[str, Any]
    decided: tuple[str, ...]
    secrets: tuple[SecretFile, ...] = ()
    folders: tuple[Path, ...] = ()
    summary: tuple[str, ...] = field(default=())


def backup_path(path: Path) -> Path:
    """``NAME.bak``, else ``NAME.bak.1``, ``NAME.bak.2``...: a backup is never overwritten."""
    candidate = path.with_name(path.name + ".bak")
    n = 0
    while os.path.lexists(candidate):
        n += 1
        candidate = path.with_name(f"{path.name}.bak.{n}")
    return candidate


def make_private_dirs(folder: Path) -> None:
    """Create ``folder`` and its missing parents 0700 (existing ones are left as they are)."""
    missing = []
    for parent in [folder, *folder.parents]:
        if parent.exists():
            if not parent.is_dir():
                raise NotADirectoryError(errno.ENOTDIR, "not a folder", str(parent))
            break
        missing.append(parent)
    for parent in reversed(missing):
        parent.mkdir(mode=0o700)
        os.chmod(parent, 0o700)  # mkdir's mode is cut by the umask


def write_atomically(path: Path, content: str, mode: int) -> Path | None:
    """Write ``content`` to ``path`` with ``mode``; the old file, when it differs, is renamed
    to a backup first (returned). The new file appears whole or not at all."""
    make_private_dirs(path.parent)
    backup = None
    if path.exists():
        if path.read_bytes() == content.encode("utf-8"):
            os.chmod(path, mode)
            return None
        backup = backup_path(path)
        _keep(path, backup)
    tmp = path.with_name(f".{path.name}.setup-{os.getpid()}.tmp")
    fd = os.open(tmp, os.O_WRONLY | os.O_CREAT | os.O_EXCL, mode)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as fh:
            fh.write(content)
            fh.flush()
            os.fsync(fh.fileno())
        os.chmod(tmp, mode)
        os.replace(tmp, path)
    except BaseException:
        with contextlib.suppress(OSError):
            tmp.unlink()
        raise
    with contextlib.suppress(OSError):  # the rename itself durable too
        dir_fd = os.open(path.parent, os.O_RDONLY)
        try:
            os.fsync(dir_fd)
        finally:
            os.close(dir_fd)
    return backup


def _keep(path: Path, backup: Path) -> None:
    """``backup`` becomes the old ``path``: a hard link keeps its mode exactly; where the file
    system has none, a copy readable by its owner only (it may hold a key)."""
    if not path.is_symlink():
        try:
            os.link(path, backup)
            return
        except OSError:
            pass
    fd = os.open(backup, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as fh:
        fh.write(path.read_bytes())


@contextlib.contextmanager
def ctrl_c_held() -> Iterator[None]:
    """Ctrl-C (SIGINT) waits until the block is done, then interrupts as usual: the files of
    one setup are written all together."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    pressed: list[int] = []

    def hold(signum: int, frame: FrameType | None) -> None:
        pressed.append(signum)

    previous = signal.signal(signal.SIGINT, hold)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)
    if pressed:
        raise KeyboardInterrupt
