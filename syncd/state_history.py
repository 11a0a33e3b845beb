"""The ``history`` table of the state database: one row per input imported, with its counts.

:class:`HistoryStates` is mixed into :class:`syncd.state.StateStore` (same connection, same
transactions); ``syncd status`` and the daemon's status line sum these rows. A read-only store
(``syncd status`` beside an older daemon) may look at a database not migrated yet: columns
added later (``uncertain``, schema 5; ``completed``, schema 8) read as 0 there.

Also here: how a name or message is stored (:func:`db_text`, :func:`read_text`), the one rule
for every table.
"""

from __future__ import annotations

import sqlite3
from collections.abc import Iterable
from contextlib import AbstractContextManager
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from syncd.state_failures import guarded


def db_text(text: str | None) -> str | bytes | None:
    """``text`` as stored: as it is when it is valid UTF-8, else (a file name that is not
    UTF-8: ``os.fsdecode`` hands its bytes over as lone surrogates, which SQLite cannot take)
    as a BLOB of the name's raw bytes. The rule is one function of the text, so a lookup by
    the same name finds the row."""
    if text is None or text.isascii():
        return text
    try:
        text.encode("utf-8")
    except UnicodeEncodeError:
        try:
            return text.encode("utf-8", "surrogateescape")
        except UnicodeEncodeError:  # a surrogate no file name holds: kept, if not exactly
            return text.encode("utf-8", "surrogatepass")
    return text


def read_text(value: Any) -> Any:
    """A stored text read back: a BLOB of raw name bytes becomes the same ``str`` that
    ``os.fsdecode`` gives for them."""
    return value.decode("utf-8", "surrogateescape") if isinstance(value, bytes) else value


@dataclass(frozen=True)
class HistoryRow:
    """One file imported (by the daemon or ``syncd import``): when, and what became of it."""

    path: str
    at: str
    outcome: str  # a FileOutcome: imported | partial | unreadable | unchanged
    records: int = 0
    new: int = 0
    duplicates: int = 0
    merged: int = 0
    failed: int = 0
    detail: str | None = None
    sha256: str | None = None
    uncertain: int = 0
    """Of ``new``: created under the planned key after a lost answer or a crash."""
    completed: int = 0
    """Of ``duplicates``: records that completed the item syncd had created for them."""


_TOTALS = ("files", "records", "new", "uncertain", "duplicates", "completed", "merged", "failed")


class HistoryStates:
    """The history's methods of :class:`syncd.state.StateStore` (see the module doc)."""

    path: Path
    _conn: sqlite3.Connection
    _schema_at_open: int

    if TYPE_CHECKING:  # the store's own methods

        def transaction(self) -> AbstractContextManager[sqlite3.Connection]: ...

        def has_table(self, name: str) -> bool: ...

    def _since(self, schema: int, column: str) -> str:
        """``column``, or 0 in a database older than ``schema`` (opened read-only)."""
        return column if self._schema_at_open >= schema else "0"

    @guarded
    def add_history(self, library: str, rows: Iterable[HistoryRow]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO history (library, path, sha256, at, outcome, records, new, "
                "duplicates, merged, failed, detail, uncertain, completed) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        library,
                        db_text(h.path),
                        h.sha256,
                        h.at,
                        h.outcome,
                        h.records,
                        h.new,
                        h.duplicates,
                        h.merged,
                        h.failed,
                        db_text(h.detail),
                        h.uncertain,
                        h.completed,
                    )
                    for h in rows
                ],
            )

    @guarded
    def history(self, library: str, limit: int = 20) -> list[HistoryRow]:
        """The last ``limit`` files imported, newest first."""
        if not self.has_table("history"):
            return []
        rows = self._conn.execute(
            "SELECT path, at, outcome, records, new, duplicates, merged, failed, detail, sha256, "  # noqa: S608
            f"{self._since(5, 'uncertain')}, {self._since(8, 'completed')} "
            "FROM history WHERE library = ? ORDER BY id DESC LIMIT ?",
            (library, limit),
        )
        return [HistoryRow(*(read_text(v) for v in r)) for r in rows]

    @guarded
    def last_counted(self, library: str, path: str) -> str:
        """When ``path`` last got a history row ("" when never): records pushed for it later
        were created by a run that ended before counting them."""
        if not self.has_table("history"):
            return ""
        row = self._conn.execute(
            "SELECT max(at) FROM history WHERE library = ? AND path = ?",
            (library, db_text(path)),
        ).fetchone()
        return str(row[0] or "")

    @guarded
    def history_totals(self, library: str, since: str | None = None) -> dict[str, int]:
        """Files, records, new (and how many of them uncertain), duplicates (and how many of
        them completed syncd's item), merged and failed, summed (from ``since`` on)."""
        if not self.has_table("history"):
            return dict.fromkeys(_TOTALS, 0)
        sql = (
            "SELECT count(*), total(records), total(new), "  # noqa: S608
            f"{self._since(5, 'total(uncertain)')}, total(duplicates), "
            f"{self._since(8, 'total(completed)')}, total(merged), total(failed) "
            "FROM history WHERE library = ?"
        )
        args: list[Any] = [library]
        if since is not None:
            sql += " AND at >= ?"
            args.append(since)
        row = self._conn.execute(sql, args).fetchone()
        return {n: int(v or 0) for n, v in zip(_TOTALS, row, strict=True)}

    @guarded
    def prune_history(self, before: str) -> int:
        """Drop history rows older than ``before`` (an ISO time); exactly-once never needs
        them. Returns how many went."""
        with self.transaction() as conn:
            return conn.execute("DELETE FROM history WHERE at < ?", (before,)).rowcount
