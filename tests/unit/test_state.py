"""The state database: schema, migrations, refusal of newer schemas, sharing between processes."""

from __future__ import annotations

import os
import sqlite3
import threading
from pathlib import Path

import pytest

from syncd import state, state_failures
from syncd.errors import StateDamagedError, StateError
from syncd.state import FileRow, HistoryRow, IndexedItem, RecordRow, StateStore

LIB = "users/1"


def test_new_database_is_wal_with_current_schema(tmp_path: Path) -> None:
    db = tmp_path / "sub" / "state.db"
    with StateStore(db) as store:
        assert store.schema_version == state.SCHEMA_VERSION
    conn = sqlite3.connect(db)
    assert conn.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
    tables = {r[0] for r in conn.execute("SELECT name FROM sqlite_master WHERE type='table'")}
    assert {"files", "records", "items", "libraries", "deleted"} <= tables
    # Reopening does not migrate again (no backup written).
    StateStore(db).close()
    assert not list(tmp_path.glob("sub/*.bak"))


def test_newer_schema_is_refused(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    StateStore(db).close()
    conn = sqlite3.connect(db)
    conn.execute(f"PRAGMA user_version = {state.SCHEMA_VERSION + 1}")
    conn.close()
    with pytest.raises(StateError, match="newer than this syncd") as exc:
        StateStore(db)
    assert "upgrade syncd" in (exc.value.hint or "")


def test_not_a_database_is_a_state_error(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    db.write_bytes(b"this is not sqlite" * 100)
    with pytest.raises(StateDamagedError, match="the state database is damaged") as exc:
        StateStore(db)
    assert f"mv {db} {db}.damaged" in (exc.value.hint or "")


def test_forward_migration_backs_up_first(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    db = tmp_path / "state.db"
    with StateStore(db) as store:
        store.put_records(LIB, [RecordRow("pmid:1", "AAAAAAAA", "pushed", pmid="1")])
    now, later = state.SCHEMA_VERSION, state.SCHEMA_VERSION + 1
    migrations = dict(state.MIGRATIONS)
    migrations[later] = ("ALTER TABLE records ADD COLUMN note TEXT",)
    monkeypatch.setattr(state, "MIGRATIONS", migrations)
    monkeypatch.setattr(state, "SCHEMA_VERSION", later)
    with StateStore(db) as store:
        assert store.schema_version == later
        assert store.records(LIB)[0].key == "AAAAAAAA"
    backup = tmp_path / f"state.db.v{now}.bak"
    assert backup.exists()
    old = sqlite3.connect(backup)
    assert old.execute("PRAGMA user_version").fetchone()[0] == now
    assert old.execute("SELECT key FROM records").fetchone()[0] == "AAAAAAAA"
    cols = [r[1] for r in sqlite3.connect(db).execute("PRAGMA table_info(records)")]
    assert "note" in cols


def test_a_version_1_database_migrates_with_its_index_and_records(tmp_path: Path) -> None:
    """A state database written by syncd before issue 10 (schema 1) keeps everything and
    gets the indexed lookups and the resumable build."""
    db = tmp_path / "state.db"
    conn = sqlite3.connect(db)
    for statement in state.MIGRATIONS[1]:
        conn.execute(statement)
    conn.execute(
        "INSERT INTO items (library, key, version, pmid, doi) VALUES (?, 'ABCD2345', 7, '1', "
        "'10.1/x')",
        (LIB,),
    )
    conn.execute("INSERT INTO libraries VALUES (?, 7, '2026-01-01T00:00:00Z')", (LIB,))
    conn.execute(
        "INSERT INTO records (library, identity, key, status, pmid, updated_at) "
        "VALUES (?, 'pmid:1', 'ABCD2345', 'pushed', '1', '2026-01-01T00:00:00Z')",
        (LIB,),
    )
    conn.execute("PRAGMA user_version = 1")
    conn.commit()
    conn.close()
    with StateStore(db) as store:
        assert store.schema_version == state.SCHEMA_VERSION == 8
        assert store.library_version(LIB) == 7
        assert [i.key for i in store.index_items(LIB, pmids=["1"])] == ["ABCD2345"]
        assert [i.key for i in store.index_items(LIB, dois=["10.1/x"])] == ["ABCD2345"]
        assert store.records_like(LIB, [IndexedItem("X", 0, pmid="1")])[0].key == "ABCD2345"
        assert store.index_build(LIB) is None
        plans = " ".join(
            r[-1]
            for r in store._conn.execute(
                "EXPLAIN QUERY PLAN SELECT key FROM items WHERE library = ? AND doi IN (?, ?)",
                (LIB, "a", "b"),
            )
        )
        assert "items_by_doi" in plans
    assert (tmp_path / "state.db.v1.bak").exists()


def _version_3(db: Path) -> None:
    """A state database as syncd wrote it before files knew their inode (schema 3)."""
    conn = sqlite3.connect(db)
    for version in (1, 2, 3):
        for statement in state.MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO files (library, path, size, mtime_ns, sha256, outcome, records, "
        "updated_at) VALUES (?, '/d/a.nbib', 10, 20, 'abc', 'imported', 3, '2026-01-01')",
        (LIB,),
    )
    conn.execute("PRAGMA user_version = 3")
    conn.commit()
    conn.close()


def test_a_version_3_database_is_read_by_status_and_migrates_its_files(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    _version_3(db)
    # syncd status beside a daemon of the older version: reads, never migrates.
    with StateStore(db, readonly=True) as store:
        (row,) = store.files(LIB)
        assert (row.path, row.size, row.inode) == ("/d/a.nbib", 10, 0)
        assert store.file(LIB, "/d/a.nbib") == row
    with StateStore(db) as store:
        assert store.schema_version == state.SCHEMA_VERSION
        row = store.file(LIB, "/d/a.nbib")
        assert row is not None and (row.sha256, row.inode, row.ctime_ns) == ("abc", 0, 0)
        # An old row knows no inode: its size and mtime decide, as before.
        assert row.same_file(10, 20, 99, 98)
        store.put_file(LIB, FileRow("/d/b.nbib", 10, 20, "def", "imported", 1, None, 5, 6))
        b = store.file(LIB, "/d/b.nbib")
        assert b is not None and (b.inode, b.ctime_ns) == (5, 6)
        assert b.same_file(10, 20, 5, 6)
        assert not b.same_file(10, 20, 5, 7)  # rewritten in place, or its mode changed
        assert not b.same_file(10, 20, 8, 6)  # replaced by another file
        assert not b.same_file(11, 20, 5, 6)


def test_a_version_4_history_is_read_by_status_and_migrates(tmp_path: Path) -> None:
    db = tmp_path / "state.db"
    conn = sqlite3.connect(db)
    for version in (1, 2, 3, 4):
        for statement in state.MIGRATIONS[version]:
            conn.execute(statement)
    conn.execute(
        "INSERT INTO history (library, path, sha256, at, outcome, records, new, duplicates, "
        "merged, failed) VALUES (?, '/d/a.nbib', 'abc', '2026-01-01T00:00:00Z', 'imported', "
        "5, 4, 1, 0, 0)",
        (LIB,),
    )
    conn.execute("PRAGMA user_version = 4")
    conn.commit()
    conn.close()
    with StateStore(db, readonly=True) as store:  # status beside an older daemon
        (row,) = store.history(LIB)
        assert (row.new, row.uncertain) == (4, 0)
        assert store.history_totals(LIB)["uncertain"] == 0
    with StateStore(db) as store:
        assert store.schema_version == state.SCHEMA_VERSION
        store.add_history(
            LIB, [HistoryRow("/d/b.nbib", "2026-01-02T00:00:00Z", "imported", 3, 3, uncertain=2)]
        )
        totals = store.history_totals(LIB)
        assert (totals["files"], totals["new"], totals["uncertain"]) == (2, 7, 2)
        assert [h.uncertain for h in store.history(LIB)] == [2, 0]


def test_prune_history_keeps_what_exactly_once_needs(tmp_path: Path) -> None:
    from datetime import UTC, datetime, timedelta

    with StateStore(tmp_path / "s.db") as store:
        store.put_records(
            LIB,
            [
                RecordRow("pmid:1", "AAAAAAAA", "pushed", pmid="1"),
                RecordRow("pmid:2", "BBBBBBBB", "pending", pmid="2", payload={"k": 1}),
                RecordRow("pmid:3", "CCCCCCCC", "duplicate", pmid="3"),
                RecordRow("pmid:4", "", "failed", pmid="4", error="400"),
            ],
        )
        assert store.prune_records(datetime.now(UTC) - timedelta(days=1)) == 0
        assert store.prune_records(datetime.now(UTC) + timedelta(seconds=2), LIB) == 2
        assert {r.status for r in store.records(LIB)} == {"pushed", "pending"}


def test_index_round_trip_and_deletions(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        assert store.library_version(LIB) is None
        item = IndexedItem(
            "ABCD2345", 7, pmid="1", doi="10.1/x", tags=(("a", 0), ("b", 1)), collections=("C",)
        )
        store.update_index(LIB, [item, IndexedItem("EFGH2345", 8, trashed=True)], version=8)
        assert store.library_version(LIB) == 8
        assert sorted(store.load_index(LIB), key=lambda i: i.key)[0] == item
        assert store.load_index("groups/1") == []
        store.update_index(LIB, removed=["ABCD2345"], version=9)
        assert [i.key for i in store.load_index(LIB)] == ["EFGH2345"]
        assert store.deleted_keys(LIB) == {"ABCD2345"}
        store.forget_deleted(LIB, ["ABCD2345"])
        assert store.deleted_keys(LIB) == set()


def test_records_and_status(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        payload = {"key": "ABCD2345", "version": 0, "title": "Ünïcode"}
        store.put_records(
            LIB,
            [
                RecordRow("pmid:1", "ABCD2345", "pending", pmid="1", payload=payload),
                RecordRow("pmid:2", "EFGH2345", "failed", pmid="2", error="400 bad"),
            ],
        )
        pending = store.records(LIB, ["pending"])
        assert [r.payload for r in pending] == [payload]
        store.set_status(LIB, [("pmid:1", "pushed", None)])
        row = store.record(LIB, "pmid:1")
        assert row is not None and row.status == "pushed" and row.payload is None
        assert store.status_counts(LIB) == {"pushed": 1, "failed": 1}
        with pytest.raises(sqlite3.IntegrityError):
            store.put_records(LIB, [RecordRow("pmid:3", "K", "bogus")])


def test_files(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        store.put_file(LIB, FileRow("/x/a.nbib", 10, 5, "h1", "imported", 3))
        store.put_file(LIB, FileRow("/x/b.nbib", 10, 5, "h2", "partial", 3, "1 failed"))
        assert store.file(LIB, "/x/a.nbib") == FileRow("/x/a.nbib", 10, 5, "h1", "imported", 3)
        assert store.imported_hashes(LIB) == {"h1"}
        assert store.imported_hashes("groups/9") == set()


def test_a_failed_transaction_leaves_nothing(tmp_path: Path) -> None:
    with StateStore(tmp_path / "s.db") as store:
        with pytest.raises(RuntimeError), store.transaction():
            store.put_records(LIB, [RecordRow("pmid:1", "ABCD2345", "pending")])
            raise RuntimeError("crash between the plan and the commit")
        assert store.records(LIB) == []


def test_two_connections_share_the_database(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    writer, reader = StateStore(db), StateStore(db)
    try:
        with writer.transaction():
            writer.put_records(LIB, [RecordRow("pmid:1", "ABCD2345", "pending")])
            # WAL: a reader is not blocked by an open write transaction, and does not see it.
            assert reader.records(LIB) == []
        assert [r.key for r in reader.records(LIB)] == ["ABCD2345"]
    finally:
        writer.close()
        reader.close()


def test_a_second_writer_waits_for_the_first(tmp_path: Path) -> None:
    # Each thread has its own connection, as two processes would.
    db = tmp_path / "s.db"
    StateStore(db).close()
    holding = threading.Event()
    release = threading.Event()

    def hold() -> None:
        with StateStore(db) as first, first.transaction():
            first.put_records(LIB, [RecordRow("pmid:1", "ABCD2345", "pending")])
            holding.set()
            release.wait(10)

    t1 = threading.Thread(target=hold)
    t1.start()
    assert holding.wait(10)
    with StateStore(db) as second:
        threading.Timer(0.2, release.set).start()
        # Blocks on the busy timeout until the first transaction commits, then succeeds.
        second.put_records(LIB, [RecordRow("pmid:2", "EFGH2345", "pending")])
        t1.join(10)
        assert {r.identity for r in second.records(LIB)} == {"pmid:1", "pmid:2"}


def test_lock_held_too_long_is_a_clear_state_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    db = tmp_path / "s.db"
    first = StateStore(db)
    monkeypatch.setattr(state, "BUSY_TIMEOUT_MS", 50)
    second = StateStore(db)
    try:
        with first.transaction(), pytest.raises(StateError, match="stayed locked"):
            second.put_records(LIB, [RecordRow("pmid:2", "EFGH2345", "pending")])
    finally:
        first.close()
        second.close()


BAD = os.fsdecode(b"/x/bad\xff\xfe.nbib")  # a name that is not UTF-8, as os.fsdecode gives it


def test_names_that_are_not_utf8_go_into_every_row_and_come_back(tmp_path: Path) -> None:
    from syncd.state import DaemonRow, HistoryRow

    with StateStore(tmp_path / "s.db") as store:
        store.put_file(LIB, FileRow(BAD, 10, 5, "h1", "unreadable", 0, f"{BAD}: denied"))
        assert store.file(LIB, BAD) == FileRow(BAD, 10, 5, "h1", "unreadable", 0, f"{BAD}: denied")
        assert [f.path for f in store.files(LIB)] == [BAD]
        where = f"{BAD}:3"
        store.put_records(
            LIB,
            [RecordRow(where, "ABCD2345", "pending", source=BAD, line=3, payload={"n": BAD})],
        )
        row = store.record(LIB, where)
        assert row is not None and row.source == BAD and row.payload == {"n": BAD}
        store.set_status(LIB, [(where, "failed", f"{BAD}:3: bad")])
        assert [(r.status, r.error) for r in store.records(LIB)] == [("failed", f"{BAD}:3: bad")]
        store.note_records(LIB, [RecordRow(f"{BAD}:4", "", "failed", source=BAD, error=BAD)])
        assert store.record(LIB, f"{BAD}:4") is not None
        folder = os.fsdecode(b"/x/dir\xff")
        store.put_baseline(LIB, folder, [FileRow(f"{folder}/a\xff", 1, 1, "", "baseline")])
        assert store.baseline(folder) is not None
        store.add_history(LIB, [HistoryRow(BAD, "2026-01-01T00:00:00Z", "partial", detail=BAD)])
        assert [(h.path, h.detail) for h in store.history(LIB)] == [(BAD, BAD)]
        store.put_daemon(DaemonRow(1, "t", directory=folder, last_file=BAD, trouble=BAD))
        daemon = store.daemon()
        assert daemon is not None
        assert (daemon.directory, daemon.last_file, daemon.trouble) == (folder, BAD, BAD)
    # The raw bytes are what the database keeps.
    raw = sqlite3.connect(tmp_path / "s.db").execute("SELECT path FROM history").fetchone()[0]
    assert raw == b"/x/bad\xff\xfe.nbib"


def test_still_at_path_notices_a_deleted_or_replaced_database(tmp_path: Path) -> None:
    db = tmp_path / "s.db"
    with StateStore(db) as store:
        assert store.still_at_path()
        moved = tmp_path / "moved.db"
        db.rename(moved)
        assert not store.still_at_path()
        moved.rename(db)
        assert store.still_at_path()
        db.unlink()
        assert not store.still_at_path()
        StateStore(db).close()  # a new file at the same path
        assert not store.still_at_path()
    with StateStore(db, readonly=True) as reader:
        assert reader.still_at_path()


def test_trouble_worth_waiting_out_is_transient(tmp_path: Path) -> None:
    import errno

    db = tmp_path / "s.db"
    full = state_failures.state_error(
        db, OSError(errno.ENOSPC, "No space left on device"), "writing"
    )
    assert full.transient and f"{db}: the disk is full" in full.message
    eio = state_failures.state_error(db, OSError(errno.EIO, "Input/output error"))
    assert eio.transient and "disk I/O error" in eio.message
    rofs = state_failures.state_error(db, OSError(errno.EROFS, "Read-only file system"))
    assert rofs.transient and "cannot write the state database" in rofs.message
    damaged = state_failures.state_error(db, sqlite3.DatabaseError("file is not a database"))
    assert not damaged.transient
    # A real full database: SQLite says "database or disk is full", as for a full disk.
    with StateStore(db) as store:
        pages = store._conn.execute("PRAGMA page_count").fetchone()[0]
        store._conn.execute(f"PRAGMA max_page_count = {pages}")
        rows = [RecordRow(f"pmid:{n}", "K", "pushed", error="x" * 500) for n in range(200)]
        with pytest.raises(StateError, match="the disk is full") as exc:
            store.put_records(LIB, rows)
    assert exc.value.transient


def test_a_file_size_limit_is_not_waited_out(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:

    monkeypatch.setattr(state_failures, "_size_limit", lambda: 20_000)
    error = state_failures.state_error(
        tmp_path / "s.db", sqlite3.OperationalError("disk I/O error")
    )
    assert "file-size limit (20000 bytes" in error.message and not error.transient


def test_record_statuses_are_the_ones_the_table_allows(tmp_path: Path) -> None:
    allowed = ", ".join(f"'{s}'" for s in state.RecordStatus)
    assert f"CHECK (status IN ({allowed}))" in state.MIGRATIONS[1][1]
    with StateStore(tmp_path / "s.db") as store:
        store.put_file(LIB, FileRow("/a", 1, 1, "h", state.FileOutcome.IMPORTED))
        store.put_baseline(LIB, "/d", [FileRow("/d/b", 1, 1, "", "")])
        assert store.imported_hashes(LIB) == {"h"}
        assert {f.path: f.outcome for f in store.files(LIB)} == {
            "/a": "imported",
            "/d/b": "baseline",
        }
