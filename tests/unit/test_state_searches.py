"""The searches' state (schema 7): rows by (name, query), seen PMIDs, and the migration."""

from __future__ import annotations

import sqlite3
from pathlib import Path

from syncd import state
from syncd.state import StateStore
from syncd.state_searches import SearchRow

LIB = "users/1"


def test_a_search_row_round_trips_and_is_keyed_by_name_and_query(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db") as store:
        assert store.search_rows(LIB) == []
        row = SearchRow(
            "k",
            "ketamine",
            "2025-01-01",
            "2026-12-01",
            "2026-11-20",
            "2026-12-01T10:00:00Z",
            12,
            3,
            8,
            1,
            True,
            0,
            1234.5,
            None,
        )
        store.put_search(LIB, row, "2026-12-01T10:00:00Z")
        assert store.search_row(LIB, "k", "ketamine") == row
        assert store.search_row(LIB, "k", "ketamine AND x") is None  # a new search
        store.put_search(LIB, SearchRow("k", "ketamine AND x"), "2026-12-02T00:00:00Z")
        assert [(r.name, r.query) for r in store.search_rows(LIB)] == [
            ("k", "ketamine"),
            ("k", "ketamine AND x"),
        ]
        assert store.search_rows("users/2") == []
        failed = SearchRow("k", "ketamine", last_ok=False, failures=2, last_error="NCBI down")
        store.put_search(LIB, failed, "2026-12-03T00:00:00Z")
        assert store.search_row(LIB, "k", "ketamine") == failed


def test_seen_pmids_are_per_search(tmp_path: Path) -> None:
    with StateStore(tmp_path / "state.db") as store:
        store.add_search_seen(LIB, "k", "q", [str(n) for n in range(1200)])
        store.add_search_seen(LIB, "k", "q", ["1", "5000"])  # again: no error, no double
        assert store.search_seen_count(LIB, "k", "q") == 1201
        asked = ["1", "999", "1199", "5000", "7000"]
        assert store.search_seen(LIB, "k", "q", asked) == {"1", "999", "1199", "5000"}
        assert store.search_seen(LIB, "k", "q2", asked) == set()
        assert store.search_seen(LIB, "j", "q", asked) == set()


def _version_6(db: Path) -> None:
    conn = sqlite3.connect(db)
    for version in range(1, 7):
        for statement in state.MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO records (library, identity, key, status, pmid, updated_at) "
        "VALUES (?, 'pmid:1', 'ABCD2345', 'pushed', '1', '2026-01-01T00:00:00Z')",
        (LIB,),
    )
    conn.execute("PRAGMA user_version = 6")
    conn.commit()
    conn.close()


def test_a_version_6_database_is_read_by_status_and_migrates(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _version_6(db)
    with StateStore(db, readonly=True) as store:  # status beside an older daemon
        assert store.search_rows(LIB) == []
        assert store.search_row(LIB, "k", "q") is None
        assert store.search_seen(LIB, "k", "q", ["1"]) == set()
    with StateStore(db) as store:
        assert store.schema_version == state.SCHEMA_VERSION == 8
        assert store.record(LIB, "pmid:1") is not None  # kept
        store.put_search(LIB, SearchRow("k", "q", origin="2026-01-01"), "2026-01-01T00:00:00Z")
        store.add_search_seen(LIB, "k", "q", ["1"])
        assert store.search_seen(LIB, "k", "q", ["1", "2"]) == {"1"}
    assert (tmp_path / "state.db.v6.bak").exists()
