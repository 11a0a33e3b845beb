"""Which files in the watched folder are exports, and when a file is ready to be read.

The daemon (:mod:`syncd.daemon`) treats file system events as hints: any event, or a scan of
the folder, only puts a path in front of :class:`Settler`, which decides from ``stat`` alone.
Everything here is small and synchronous; the clock is passed in, so tests drive it.

* :func:`is_candidate` — the configured patterns, minus what browsers and editors write while a
  download is in progress (``.crdownload``, ``.part``, ``.download``, ``.partial``, ``.tmp``,
  dotfiles, ``~$*``): those are never read; the rename to the final name triggers the import.
* :func:`looks_like_medline` — a content sniff for ``.txt`` files (Downloads is full of them):
  a PubMed/MEDLINE export has a ``PMID- `` field (or, flattened, ``PMID- 123 TI - ...``) near
  its start.
* :class:`Settler` — a file is ready once its size and mtime have not changed for
  ``settle_seconds`` (counted from its mtime when that is plausible, so a finished download
  that arrives by rename is read at once).
"""

from __future__ import annotations

import contextlib
import fnmatch
import os
import re
import stat
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

from syncd.state import FileRow

TEMPORARY_SUFFIXES = (".crdownload", ".part", ".download", ".partial", ".tmp")
# Suffixes that always mean "an export": read and, if unreadable, reported as failed.
EXPORT_SUFFIXES = (".nbib", ".medline")
_SNIFF_BYTES = 64 * 1024
# A MEDLINE field line ("PMID- 12345", "TI  - ...") at a line start, or a flattened record's
# PMID followed by another field on the same line.
_MEDLINE_LINE = re.compile(rb"(?m)^(?:\xef\xbb\xbf)?[ \t]*PMID ?- ?\S")
_MEDLINE_FLAT = re.compile(rb"PMID- ?\d{1,9} +[A-Z]{2,4} {0,3}- ")
_FIELD_LINE = re.compile(rb"(?m)^[A-Z]{2,4} {0,3}- \S")


def is_temporary(name: str) -> bool:
    """A name a browser or editor uses while the file is still being written."""
    lower = name.lower()
    return (
        name.startswith(".")
        or name.startswith("~$")
        or lower.endswith(TEMPORARY_SUFFIXES)
        or lower.endswith("~")
    )


def is_candidate(name: str, patterns: Sequence[str]) -> bool:
    """Whether a file of this name may be an export (the content decides for ``.txt``)."""
    if is_temporary(name):
        return False
    lower = name.lower()
    return any(fnmatch.fnmatch(lower, p.lower()) for p in patterns)


def needs_sniff(name: str) -> bool:
    """``.nbib``/``.medline`` are exports by name; anything else must look like one."""
    return not name.lower().endswith(EXPORT_SUFFIXES)


def looks_like_medline(head: bytes) -> bool:
    """Whether the first bytes of a file look like a PubMed/MEDLINE export."""
    head = head[:_SNIFF_BYTES]
    if _MEDLINE_LINE.search(head) or _MEDLINE_FLAT.search(head):
        return True
    # Other MEDLINE exports (a PMC export puts PMC before PMID, a book starts with PT): several
    # field lines among the first ones.
    return len(_FIELD_LINE.findall(head, 0, 8192)) >= 3


def sniff(path: Path) -> bool:
    """:func:`looks_like_medline` on the start of ``path`` (False when it cannot be read)."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return False
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        return looks_like_medline(os.read(fd, _SNIFF_BYTES))
    except OSError:
        return False
    finally:
        os.close(fd)


@dataclass(frozen=True)
class Seen:
    """What ``stat`` said about a file: enough to tell a change without reading it.

    ``reachable`` is False for a symlink whose target syncd may not even look at (a link
    into a folder it cannot read): then the rest is the link's own ``lstat``, so that it is
    reported once, and again when the link changes. ``uid`` is the owner (of the link and its
    target: -1 when they differ)."""

    size: int
    mtime_ns: int
    regular: bool = True
    reachable: bool = True
    uid: int = -1
    inode: int = 0
    ctime_ns: int = 0


def look(path: Path) -> Seen | None:
    """``stat`` of ``path`` (following symlinks), or None when it is gone."""
    try:
        st = path.stat()
    except PermissionError:
        try:
            link = path.lstat()
        except OSError:
            return None
        if not stat.S_ISLNK(link.st_mode):
            return None
        return Seen(
            link.st_size,
            link.st_mtime_ns,
            True,
            reachable=False,
            uid=link.st_uid,
            inode=link.st_ino,
            ctime_ns=link.st_ctime_ns,
        )
    except OSError:
        return None
    uid = st.st_uid
    if path.is_symlink():
        with contextlib.suppress(OSError):
            if path.lstat().st_uid != uid:
                uid = -1
    return Seen(
        st.st_size,
        st.st_mtime_ns,
        stat.S_ISREG(st.st_mode),
        uid=uid,
        inode=st.st_ino,
        ctime_ns=st.st_ctime_ns,
    )


def ends_whole(path: Path, size: int) -> bool:
    """Whether the file's last byte ends a line (a writer that paused mid-line has not)."""
    if size <= 0:
        return True
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError:
        return True  # not for this check to say: reading it will
    try:
        return os.pread(fd, 1, size - 1) in (b"\n", b"\r", b"")
    except OSError:
        return True
    finally:
        os.close(fd)


def cannot_read(path: Path) -> str | None:
    """Why ``path`` cannot be opened for reading (``Permission denied``), or None."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)
    except OSError as exc:
        return exc.strerror or str(exc)
    os.close(fd)
    return None


def scan(directory: Path, patterns: Sequence[str], recursive: bool) -> Iterator[Path]:
    """The candidate files in ``directory`` (stat-free: names only), sorted."""
    try:
        entries = sorted(os.scandir(directory), key=lambda e: e.name)
    except OSError:
        return
    for entry in entries:
        try:
            if entry.is_dir(follow_symlinks=False):
                if recursive and not is_temporary(entry.name):
                    yield from scan(Path(entry.path), patterns, recursive)
                continue
        except OSError:
            continue
        if is_candidate(entry.name, patterns):
            yield Path(entry.path)


@dataclass
class _Watch:
    seen: Seen
    changed_at: float  # when it last changed, on the settler's clock


class Settler:
    """The files waiting to settle: each is ready once unchanged for ``settle_seconds``.

    ``now`` is wall-clock seconds (``time.time()``), the clock of ``st_mtime``: a file whose
    mtime is already ``settle_seconds`` old and whose stat has been seen unchanged once is
    ready at once; a file still being written keeps moving its mtime forward.
    """

    def __init__(self, settle_seconds: float) -> None:
        self.settle = settle_seconds
        self._files: dict[Path, _Watch] = {}

    def __len__(self) -> int:
        return len(self._files)

    def __contains__(self, path: object) -> bool:
        return path in self._files

    def paths(self) -> list[Path]:
        return list(self._files)

    def offer(self, path: Path, seen: Seen, now: float, *, finished: bool = False) -> None:
        """A path an event or a scan pointed at (seen by ``stat`` just now). ``finished``: it
        is known to be complete (a browser renamed it from its temporary name): ready now."""
        held = self._files.get(path)
        if held is not None and held.seen == seen and not finished:
            return
        mtime = seen.mtime_ns / 1e9
        # An mtime in the future (a clock elsewhere, an archive) cannot say how quiet it is.
        changed_at = now - self.settle if finished else min(mtime, now)
        self._files[path] = _Watch(seen, changed_at)

    def hold(self, path: Path, seen: Seen, until: float) -> None:
        """Wait for ``path`` until ``until`` (settler clock), unless it changes first (then it
        waits as any changed file does)."""
        self._files[path] = _Watch(seen, until - self.settle)

    def drop(self, path: Path) -> None:
        self._files.pop(path, None)

    def due(self) -> float | None:
        """When the next file may be ready (settler clock), or None when none waits."""
        if not self._files:
            return None
        return min(w.changed_at for w in self._files.values()) + self.settle

    def ready(self, now: float, stat_of: object = look) -> tuple[list[Path], list[Path]]:
        """Re-``stat`` the files that may be ready: (ready paths, vanished paths).

        A file that changed since it was offered starts its wait again; one that vanished is
        dropped quietly (a browser that deleted its temporary file, a cancelled copy).
        """
        ready: list[Path] = []
        vanished: list[Path] = []
        for path, held in list(self._files.items()):
            if now < held.changed_at + self.settle:
                continue
            seen = stat_of(path)  # type: ignore[operator]
            if seen is None:
                vanished.append(path)
                del self._files[path]
            elif seen != held.seen:
                # Still being written: wait again from its new mtime (an mtime set back, as
                # `cp -p` does at the end, makes it ready at the next look if unchanged).
                self._files[path] = _Watch(seen, min(seen.mtime_ns / 1e9, now))
            else:
                ready.append(path)
                del self._files[path]
        return ready, vanished


def file_row(
    path: Path, seen: Seen, outcome: str, *, sha: str = "", detail: str | None = None
) -> FileRow:
    """The state row of a file as ``seen``: its stat (inode and ctime included, so that a file
    replaced or changed in place counts as changed), sha256 and outcome."""
    return FileRow(
        str(path),
        seen.size,
        seen.mtime_ns,
        sha,
        outcome,
        0,
        detail,
        inode=seen.inode,
        ctime_ns=seen.ctime_ns,
    )
