"""The file edge of the MEDLINE reader: find export files and stream them through the pure core.

* :func:`read_path` reads one export in binary blocks and yields its records and problems
  (:func:`syncd.core.medline.parse_bytes` decodes and parses; one record in memory at a time).
* :func:`iter_export_files` expands the paths given on a command line: directories become the
  export files inside them (``*.nbib``, ``*.txt``, ``*.medline``), sorted.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator
from pathlib import Path

from syncd.core.medline import parse_bytes
from syncd.core.records import MedlineRecord, Problem
from syncd.errors import InputError

log = logging.getLogger(__name__)

#: File name suffixes of MEDLINE exports (PubMed's Citation manager gives .nbib, Save gives
#: .txt; other tools use .medline).
EXPORT_SUFFIXES = (".nbib", ".txt", ".medline")

_BLOCK = 1 << 20


def read_path(path: Path) -> Iterator[MedlineRecord | Problem]:
    """Yield the records and problems of the export at ``path``, in file order.

    Raises :class:`InputError` (naming the file) when it is missing, unreadable, a directory,
    empty, or not a MEDLINE export at all; the error comes before any record.
    """
    source = str(path)
    try:
        handle = path.open("rb")
    except IsADirectoryError as exc:
        raise InputError(
            f"{source}: is a directory, not an export file",
            "give the files, or let the command expand the directory",
            source=source,
        ) from exc
    except OSError as exc:
        raise InputError(
            f"{source}: cannot read: {exc.strerror or exc}",
            "check that the file exists and is readable",
            source=source,
        ) from exc
    with handle:
        log.debug("reading %s", source)
        yield from parse_bytes(_blocks(handle, source), source)


def _blocks(handle: Iterable[bytes], source: str) -> Iterator[bytes]:
    read = getattr(handle, "read")  # noqa: B009 - a binary file; typed loosely for tests
    while True:
        try:
            block = read(_BLOCK)
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

    Raises :class:`InputError` for a path that does not exist.
    """
    for path in paths:
        if path.is_dir():
            found = sorted(
                p
                for p in path.iterdir()
                if p.is_file()
                and p.suffix.lower() in EXPORT_SUFFIXES
                and not p.name.startswith(".")
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
