"""The file edge of the MEDLINE reader: open an export and hand its lines to the pure core.

:func:`read_path` streams a file (one record in memory at a time) through
:func:`syncd.core.medline.parse`. This first version assumes UTF-8 (a BOM is skipped);
encoding fallbacks and detection of files that are not MEDLINE at all come later.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from syncd.core.medline import parse
from syncd.core.records import MedlineRecord, Problem
from syncd.errors import InputError


def read_path(path: Path) -> Iterator[MedlineRecord | Problem]:
    """Yield the records and problems of the export at ``path``.

    Raises :class:`InputError` when the file cannot be opened.
    """
    try:
        handle = path.open(encoding="utf-8-sig", errors="replace", newline="")
    except OSError as exc:
        raise InputError(f"{path}: cannot read: {exc.strerror or exc}", source=str(path)) from exc
    with handle:
        yield from parse(handle, str(path))
