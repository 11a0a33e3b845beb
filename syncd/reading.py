"""The file edge of the MEDLINE reader: find export files and stream them through the pure core.

* :func:`read_path` reads one export in binary blocks and yields its records and problems
  (:func:`syncd.core.medline.parse_bytes` decodes and parses; one record in memory at a time).
* :func:`iter_export_files` expands the paths given on a command line: directories become the
  input files inside them (``*.nbib``, ``*.txt``, ``*.medline``, ``*.csv``), sorted.
* :func:`open_export` opens one export, refusing (never blocking on) a FIFO, socket or device;
  :func:`is_regular_file` is the same test without opening, for a watcher.
"""

from __future__ import annotations

import logging
import os
import stat
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import BinaryIO

from syncd.core.medline import parse_bytes
from syncd.core.records import MedlineRecord, Problem
from syncd.errors import InputError
from syncd.sources.registry import INPUT_SUFFIXES

log = logging.getLogger(__name__)

#: File name suffixes of inputs a folder is expanded to (the registry's: MEDLINE exports as
#: .nbib, .txt, .medline; PMID lists as .txt; PubMed CSV as .csv).
EXPORT_SUFFIXES = INPUT_SUFFIXES

_BLOCK = 1 << 20
# Open without waiting for a writer (a FIFO); not there on Windows, which has no FIFOs in
# the file system.
_NONBLOCK = getattr(os, "O_NONBLOCK", 0)


def read_path(path: Path) -> Iterator[MedlineRecord | Problem]:
    """Yield the records and problems of the export at ``path``, in file order.

    Raises :class:`InputError` (naming the file) when it is missing, unreadable, a directory,
    not a regular file (a FIFO, socket or device: refused at once, see :func:`open_export`),
    empty, or not a MEDLINE export at all; the error comes before any record.
    """
    source = str(path)
    handle = open_export(path)
    with handle:
        log.debug("reading %s", source)
        yield from parse_bytes(_blocks(handle, source), source)


def open_export(path: Path) -> BinaryIO:
    """``path`` opened for reading bytes, if it is a regular file.

    Never blocks: the file is opened without waiting (``O_NONBLOCK``, so a FIFO with no writer
    does not hang the caller) and refused unless it is a regular file. Raises
    :class:`InputError` (naming the file) for a directory, a FIFO, a socket or device, or a
    file that is missing or unreadable.
    """
    source = str(path)
    try:
        fd = os.open(path, os.O_RDONLY | _NONBLOCK)
    except IsADirectoryError as exc:
        raise _directory(source) from exc
    except OSError as exc:
        raise InputError(
            f"{source}: cannot read: {exc.strerror or exc}",
            "check that the file exists and is readable",
            source=source,
        ) from exc
    try:
        mode = os.fstat(fd).st_mode
        if stat.S_ISDIR(mode):
            raise _directory(source)
        if not stat.S_ISREG(mode):
            raise not_regular_error(path, mode)
        if _NONBLOCK:
            os.set_blocking(fd, True)
        return os.fdopen(fd, "rb")
    except BaseException:
        os.close(fd)
        raise


def not_regular_error(path: Path, mode: int) -> InputError:
    """The error for an export path that is not a regular file (``mode`` from its stat)."""
    kind = (
        "a FIFO (named pipe)"
        if stat.S_ISFIFO(mode)
        else "a socket"
        if stat.S_ISSOCK(mode)
        else "a device"
        if stat.S_ISCHR(mode) or stat.S_ISBLK(mode)
        else "not a regular file"
    )
    return InputError(
        f"{path}: is {kind}, not an export file; not read",
        "save the export as an ordinary file and give that",
        source=str(path),
    )


def is_regular_file(path: Path) -> bool:
    """Whether ``path`` is a regular file (following symlinks); never blocks or raises."""
    try:
        return stat.S_ISREG(path.stat().st_mode)
    except OSError:
        return False


def _directory(source: str) -> InputError:
    return InputError(
        f"{source}: is a directory, not an export file",
        "give the files, or let the command expand the directory",
        source=source,
    )


def _blocks(handle: BinaryIO, source: str) -> Iterator[bytes]:
    while True:
        try:
            block = handle.read(_BLOCK)
        except OSError as exc:
            raise InputError(
                f"{source}: cannot read: {exc.strerror or exc}", source=source
            ) from exc
        if not block:
            return
        yield block


def iter_export_files(paths: Iterable[Path]) -> Iterator[Path]:
    """The export files named by ``paths``: files as given, directories expanded to the
    export files directly inside them (by suffix, sorted by name; hidden files skipped).

    An entry of a directory with an export suffix that is not a regular file (a FIFO, a
    socket, a device) is listed too, so that :func:`read_path` refuses it with a message
    instead of it being passed over in silence; nothing here opens a file, so nothing blocks.

    Raises :class:`InputError` for a path that does not exist.
    """
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.suffix.lower() in EXPORT_SUFFIXES
                and not p.name.startswith(".")
                and not p.is_dir()
            )
            if not found:
                log.info(
                    "%s: no export files (%s) in this directory", path, ", ".join(EXPORT_SUFFIXES)
                )
            yield from found
        elif path.exists():
            yield path
        else:
            raise InputError(
                f"{path}: no such file or directory",
                "check the path",
                source=str(path),
            )
