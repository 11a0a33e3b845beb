"""One daemon per state database, by whatever path it is named (issue 14 §3): a symlinked or
hard-linked ``state.path`` meets the same lock."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.locks import DaemonLock, LockError, holder
from syncd.state import StateStore


@pytest.fixture(autouse=True)
def runtime_dir(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("XDG_RUNTIME_DIR", str(tmp_path / "run"))


@pytest.mark.parametrize("how", ["symlink", "hard link", "another spelling"])
def test_a_second_path_to_the_same_database_meets_the_lock(tmp_path: Path, how: str) -> None:
    db = tmp_path / "a" / "state.db"
    db.parent.mkdir()
    with StateStore(db):
        pass
    other_dir = tmp_path / "b"
    other_dir.mkdir()
    other = other_dir / "state.db"
    if how == "symlink":
        other.symlink_to(db)
    elif how == "hard link":
        os.link(db, other)
    else:
        other = tmp_path / "b" / ".." / "a" / "state.db"
    first = DaemonLock(db)
    first.acquire()
    try:
        with pytest.raises(LockError, match=f"already running \\(pid {os.getpid()}\\)"):
            DaemonLock(other).acquire()
        assert holder(other) == os.getpid()  # syncd status by the other path sees it too
    finally:
        first.release()
    assert holder(other) is None
    second = DaemonLock(other)
    second.acquire()  # free again once the first is gone
    second.release()


def test_a_new_database_is_created_for_its_lock(tmp_path: Path) -> None:
    db = tmp_path / "new" / "state.db"
    lock = DaemonLock(db)
    lock.acquire()
    try:
        assert db.exists()
        with StateStore(db) as store:  # the empty file is a new database
            assert store.schema_version > 0
        with pytest.raises(LockError):
            DaemonLock(db).acquire()
    finally:
        lock.release()
