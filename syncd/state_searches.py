"""The state of saved PubMed searches, in the state database (schema 7).

Two tables, keyed by library and by the search's identity (name, query): a search whose
query changed in the config is a new row, and the old row stays (a search removed from the
config keeps its state too).

``searches``      per search: its origin (``since``, else the day it first ran), the day of
                  the last successful poll (every record settled) and of the last full run,
                  the last poll's time, hits, new, duplicates and failed records, whether it
                  failed and why, how many polls failed in a row, and when it is next due.
``search_seen``   the PMIDs a search has settled (created, duplicate, or failed for good, such
                  as "not in PubMed"): the next poll does not fetch them again. Only settled
                  PMIDs are written, after their records are settled, never merely fetched
                  ones.

:class:`SearchStates` is mixed into :class:`syncd.state.StateStore`, so these are methods of
the one store (same connection, same transactions). A database of schema 6 opened read-only
(``syncd status`` beside an older daemon) has no such tables: it reads as "never polled".
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable, Iterator
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.state_failures import guarded

MIGRATION: tuple[str, ...] = (
    """CREATE TABLE searches (
        library TEXT NOT NULL,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        origin TEXT,                -- YYYY-MM-DD: since, else the day of the first poll
        last_success TEXT,          -- YYYY-MM-DD of the last poll whose records all settled
        last_full TEXT,             -- YYYY-MM-DD of the last poll over the whole window
        last_poll_at TEXT,          -- the time of the last poll (UTC stamp)
        last_hits INTEGER, last_new INTEGER, last_duplicates INTEGER, last_failed INTEGER,
        last_ok INTEGER,            -- 1: the last poll settled everything; 0: it did not
        failures INTEGER NOT NULL DEFAULT 0,  -- polls failed in a row
        next_poll REAL,             -- epoch seconds when it is due (NULL: at once)
        last_error TEXT,
        updated_at TEXT NOT NULL,
        PRIMARY KEY (library, name, query)
    )""",
    """CREATE TABLE search_seen (
        library TEXT NOT NULL,
        name TEXT NOT NULL,
        query TEXT NOT NULL,
        pmid TEXT NOT NULL,
        PRIMARY KEY (library, name, query, pmid)
    ) WITHOUT ROWID""",
)
"""Schema 7: ``MIGRATIONS[7]`` in :mod:`syncd.state`."""

_IN_CHUNK = 500
_COLUMNS = (
    "name, query, origin, last_success, last_full, last_poll_at, last_hits, last_new, "
    "last_duplicates, last_failed, last_ok, failures, next_poll, last_error"
)


@dataclass(frozen=True)
class SearchRow:
    """What the state database holds of one search."""

    name: str
    query: str
    origin: str | None = None
    last_success: str | None = None
    last_full: str | None = None
    last_poll_at: str | None = None
    last_hits: int | None = None
    last_new: int | None = None
    last_duplicates: int | None = None
    last_failed: int | None = None
    last_ok: bool | None = None
    failures: int = 0
    next_poll: float | None = None
    last_error: str | None = None


def _row(r: tuple[Any, ...]) -> SearchRow:
    name, query, origin, success, full, at, hits, new, dups, failed, ok, fails, due, error = r
    return SearchRow(
        name,
        query,
        origin,
        success,
        full,
        at,
        hits,
        new,
        dups,
        failed,
        None if ok is None else bool(ok),
        fails,
        due,
        error,
    )


class SearchStates:
    """The searches' methods of :class:`syncd.state.StateStore` (see the module doc)."""

    path: Path
    _conn: sqlite3.Connection

    if TYPE_CHECKING:  # the store's own methods

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def has_table(self, name: str) -> bool: ...

    @guarded
    def search_rows(self, library: str) -> list[SearchRow]:
        """Every search the database knows in ``library`` (also ones no longer configured)."""
        if not self.has_table("searches"):
            return []
        rows = self._conn.execute(
            f"SELECT {_COLUMNS} FROM searches WHERE library = ? ORDER BY name, updated_at",  # noqa: S608
            (library,),
        )
        return [_row(tuple(r)) for r in rows]

    @guarded
    def search_row(self, library: str, name: str, query: str) -> SearchRow | None:
        if not self.has_table("searches"):
            return None
        r = self._conn.execute(
            f"SELECT {_COLUMNS} FROM searches WHERE library = ? AND name = ? AND query = ?",  # noqa: S608
            (library, name, query),
        ).fetchone()
        return None if r is None else _row(tuple(r))

    @guarded
    def put_search(self, library: str, row: SearchRow, updated_at: str) -> None:
        """Write ``row`` whole (insert or replace)."""
        with self.transaction() as conn:
            conn.execute(
                f"INSERT OR REPLACE INTO searches (library, {_COLUMNS}, updated_at) "  # noqa: S608
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    library,
                    row.name,
                    row.query,
                    row.origin,
                    row.last_success,
                    row.last_full,
                    row.last_poll_at,
                    row.last_hits,
                    row.last_new,
                    row.last_duplicates,
                    row.last_failed,
                    None if row.last_ok is None else int(row.last_ok),
                    row.failures,
                    row.next_poll,
                    row.last_error,
                    updated_at,
                ),
            )

    @guarded
    def search_seen(self, library: str, name: str, query: str, pmids: Iterable[str]) -> set[str]:
        """Which of ``pmids`` the search has settled before."""
        if not self.has_table("search_seen"):
            return set()
        found: set[str] = set()
        for chunk in _chunks(list(pmids)):
            marks = ", ".join("?" * len(chunk))
            found.update(
                r[0]
                for r in self._conn.execute(
                    "SELECT pmid FROM search_seen WHERE library = ? AND name = ? "  # noqa: S608
                    f"AND query = ? AND pmid IN ({marks})",
                    (library, name, query, *chunk),
                )
            )
        return found

    @guarded
    def add_search_seen(self, library: str, name: str, query: str, pmids: Iterable[str]) -> None:
        """Note ``pmids`` as settled by the search (call only once their records are)."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO search_seen (library, name, query, pmid) "
                "VALUES (?, ?, ?, ?)",
                ((library, name, query, p) for p in pmids),
            )

    @guarded
    def search_seen_count(self, library: str, name: str, query: str) -> int:
        if not self.has_table("search_seen"):
            return 0
        return int(
            self._conn.execute(
                "SELECT COUNT(*) FROM search_seen WHERE library = ? AND name = ? AND query = ?",
                (library, name, query),
            ).fetchone()[0]
        )


def _chunks(values: list[str]) -> Iterator[list[str]]:
    for i in range(0, len(values), _IN_CHUNK):
        yield values[i : i + _IN_CHUNK]
