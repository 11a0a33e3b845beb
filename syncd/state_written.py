"""What syncd wrote to each item it created: per-field digests, in the state database (schema 8).

``written``   per library and item key, the digest of each field syncd wrote when it created
              the item, and of each field a completion wrote since
              (:func:`syncd.core.complete.written_digests`): enough to tell whether the item
              still holds syncd's write, so that a later version of its record may complete it
              without touching what the user changed (:mod:`syncd.engine_merge`). An item
              created before schema 8 has no row: it is never completed.

:class:`WrittenStates` is mixed into :class:`syncd.state.StateStore` (same connection, same
transactions).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping
from contextlib import AbstractContextManager
from pathlib import Path
from typing import TYPE_CHECKING

from syncd.state_failures import guarded

MIGRATION: tuple[str, ...] = (
    """CREATE TABLE written (
        library TEXT NOT NULL,
        key TEXT NOT NULL,
        digests TEXT NOT NULL,      -- JSON {field: digest of the value syncd wrote}
        updated_at TEXT NOT NULL,
        PRIMARY KEY (library, key)
    ) WITHOUT ROWID""",
    # How many of a file's duplicates completed the item syncd had created for them.
    "ALTER TABLE history ADD COLUMN completed INTEGER NOT NULL DEFAULT 0",
)
"""Schema 8: ``MIGRATIONS[8]`` in :mod:`syncd.state`."""

_IN_CHUNK = 500


class WrittenStates:
    """The ``written`` table's methods of :class:`syncd.state.StateStore`."""

    path: Path
    _conn: sqlite3.Connection

    if TYPE_CHECKING:  # the store's own methods

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def has_table(self, name: str) -> bool: ...

    @guarded
    def written(self, library: str, keys: Iterable[str]) -> dict[str, dict[str, str]]:
        """The digests of what syncd wrote to each of ``keys`` (a key syncd holds no row for,
        e.g. an item created before schema 8, is absent)."""
        if not self.has_table("written"):
            return {}
        out: dict[str, dict[str, str]] = {}
        keys = list(dict.fromkeys(keys))
        for start in range(0, len(keys), _IN_CHUNK):
            chunk = keys[start : start + _IN_CHUNK]
            marks = ", ".join("?" * len(chunk))
            for key, digests in self._conn.execute(
                f"SELECT key, digests FROM written WHERE library = ? AND key IN ({marks})",  # noqa: S608
                (library, *chunk),
            ):
                out[key] = json.loads(digests)
        return out

    @guarded
    def put_written(
        self, library: str, digests: Mapping[str, Mapping[str, str]], at: str, *, add: bool = False
    ) -> None:
        """Keep ``digests`` (key -> {field: digest}) as what syncd wrote: in place of what was
        kept for those keys, or (``add``) over it field by field (a completion's fields)."""
        if not digests:
            return
        with self.transaction() as conn:
            held = self.written(library, digests) if add else {}
            conn.executemany(
                "INSERT OR REPLACE INTO written (library, key, digests, updated_at) "
                "VALUES (?, ?, ?, ?)",
                (
                    (library, key, json.dumps({**held.get(key, {}), **d}, sort_keys=True), at)
                    for key, d in digests.items()
                ),
            )
