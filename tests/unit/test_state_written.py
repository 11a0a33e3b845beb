"""What syncd wrote to its items (schema 8): the digests kept, and the migration from 7."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from syncd import state
from syncd.state import HistoryRow, StateStore

LIB = "users/1"
AT = "2026-01-01T00:00:00Z"


def test_digests_are_kept_per_item_and_a_completion_adds_its_fields(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db") as store:
        assert store.written(LIB, ["ABCD2345"]) == {}
        store.put_written(LIB, {"ABCD2345": {"title": "aa", "creators": "2:bb"}}, AT)
        store.put_written("groups/2", {"ABCD2345": {"title": "zz"}}, AT)
        store.put_written(LIB, {"ABCD2345": {"creators": "3:cc", "pages": "dd"}}, AT, add=True)
        assert store.written(LIB, ["ABCD2345", "EFGH2345"]) == {
            "ABCD2345": {"title": "aa", "creators": "3:cc", "pages": "dd"}
        }
        store.put_written(LIB, {"ABCD2345": {"title": "ee"}}, AT)  # created again: replaced
        assert store.written(LIB, ["ABCD2345"]) == {"ABCD2345": {"title": "ee"}}
        assert store.written("groups/2", ["ABCD2345"]) == {"ABCD2345": {"title": "zz"}}
        many = {f"K{n:07d}": {"title": str(n)} for n in range(1200)}  # more than one IN (...)
        store.put_written(LIB, many, AT)
        assert len(store.written(LIB, many)) == 1200


def test_history_counts_the_completed(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db") as store:
        store.add_history(LIB, [HistoryRow("/d/a.nbib", AT, "imported", 3, 1, 2, completed=2)])
        assert store.history(LIB)[0].completed == 2
        totals = store.history_totals(LIB)
        assert (totals["duplicates"], totals["completed"]) == (2, 2)


def _version_7(db: Path) -> None:
    conn = sqlite3.connect(db)
    for version in range(1, 8):
        for statement in state.MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO history (library, path, at, outcome, records, new, duplicates) "
        "VALUES (?, '/d/a.nbib', ?, 'imported', 3, 1, 2)",
        (LIB, AT),
    )
    conn.execute("PRAGMA user_version = 7")
    conn.commit()
    conn.close()


def test_a_version_7_database_is_read_by_status_and_migrates(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _version_7(db)
    with StateStore(db, readonly=True) as store:  # status beside an older daemon
        assert store.written(LIB, ["ABCD2345"]) == {}
        assert store.history(LIB)[0].completed == 0
        assert store.history_totals(LIB)["completed"] == 0
        assert store.history_totals(LIB)["duplicates"] == 2
    with StateStore(db) as store:
        assert store.schema_version == state.SCHEMA_VERSION == 8
        assert store.history(LIB)[0].duplicates == 2  # kept
        store.put_written(LIB, {"ABCD2345": {"title": "aa"}}, AT)
        assert store.written(LIB, ["ABCD2345"]) == {"ABCD2345": {"title": "aa"}}
    assert (tmp_path / "state.db.v7.bak").exists()
