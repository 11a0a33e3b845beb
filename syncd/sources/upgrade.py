"""Patterns an upgrade of syncd added to the default ``watch.patterns`` (``*.csv``, with PubMed
CSV support): the files of the watched folder that only such a pattern matches, and that were
already there at the first start after the upgrade, are recorded as a baseline and never
imported: a Downloads folder holds years of CSV files nobody meant for Zotero.

Each added pattern gets its own baseline mark (``<folder>\\0<pattern>``) beside the folder's
own: at the very first start in a folder the folder's baseline covers every pattern, so the
marks are only set; at a later start without a mark the pattern is new and its files are
baselined then.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Sequence
from pathlib import Path

from syncd.state import FileRow, StateStore
from syncd.watch import Seen, look, scan

log = logging.getLogger(__name__)

ADDED_PATTERNS = ("*.csv",)


def baseline_added_patterns(
    store: StateStore,
    library: str,
    directory: Path,
    patterns: Sequence[str],
    recursive: bool,
    *,
    first_start: bool,
    inside: Callable[[Path], bool],
    row: Callable[[Path, Seen, str], FileRow],
) -> int:
    """Baseline the files only an added pattern matches (none at the first start); how many."""
    baselined = 0
    for pattern in (p for p in ADDED_PATTERNS if p in patterns):
        key = f"{directory}\0{pattern}"
        if store.baseline(key) is not None:
            continue
        rows: list[FileRow] = []
        if not first_start:
            for path in scan(directory, [pattern], recursive):
                seen = look(path)
                if seen is not None and seen.regular and inside(path):
                    rows.append(row(path, seen, "baseline"))
        store.put_baseline(library, key, rows)
        if rows:
            log.info(
                "%s: %d %s file%s already there when syncd began to watch for them recorded "
                "as a baseline and not imported ('syncd import FILE' imports one)",
                directory,
                len(rows),
                pattern,
                "" if len(rows) == 1 else "s",
            )
        baselined += len(rows)
    return baselined
