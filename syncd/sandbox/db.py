"""SQLite persistence for the sandbox.

The live state is held in memory (see :mod:`syncd.sandbox.library`); every write request is
written here in ONE transaction before its response is sent, and everything is loaded back at
start-up, so a killed sandbox restarts with its libraries, keys and write tokens intact.
WAL journal with ``synchronous=FULL``: a committed request survives a power cut.
"""

from __future__ import annotations

import json
import sqlite3
import threading
from collections.abc import Iterable
from pathlib import Path
from typing import Any

_SCHEMA = """
CREATE TABLE IF NOT EXISTS users (id INTEGER PRIMARY KEY, username TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS groups_ (id INTEGER PRIMARY KEY, name TEXT NOT NULL,
    owner INTEGER NOT NULL, members TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS api_keys (key TEXT PRIMARY KEY, user_id INTEGER NOT NULL,
    access TEXT NOT NULL);
CREATE TABLE IF NOT EXISTS libraries (lib TEXT PRIMARY KEY, version INTEGER NOT NULL);
CREATE TABLE IF NOT EXISTS objects (lib TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    version INTEGER NOT NULL, seq INTEGER NOT NULL, data TEXT NOT NULL,
    PRIMARY KEY (lib, kind, key));
CREATE TABLE IF NOT EXISTS deleted (lib TEXT NOT NULL, kind TEXT NOT NULL, key TEXT NOT NULL,
    version INTEGER NOT NULL, PRIMARY KEY (lib, kind, key));
CREATE TABLE IF NOT EXISTS write_tokens (hash TEXT PRIMARY KEY, expires REAL NOT NULL);
"""


class Database:
    """One SQLite connection shared by the server threads behind a lock."""

    def __init__(self, data_dir: Path | None) -> None:
        if data_dir is None:
            target = ":memory:"
        else:
            data_dir.mkdir(parents=True, exist_ok=True)
            target = str(data_dir / "sandbox.sqlite3")
        self._lock = threading.Lock()
        self._conn = sqlite3.connect(target, check_same_thread=False, isolation_level=None)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=FULL")
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        with self._lock:
            self._conn.close()

    def load(self) -> dict[str, list[tuple[Any, ...]]]:
        with self._lock:
            cur = self._conn.cursor()
            return {
                table: cur.execute(f"SELECT * FROM {table}").fetchall()  # noqa: S608
                for table in (
                    "users",
                    "groups_",
                    "api_keys",
                    "libraries",
                    "objects",
                    "deleted",
                    "write_tokens",
                )
            }

    def put_user(self, user_id: int, username: str) -> None:
        self._run([("INSERT OR REPLACE INTO users VALUES (?, ?)", (user_id, username))])

    def put_group(self, group_id: int, name: str, owner: int, members: list[int]) -> None:
        self._run(
            [
                (
                    "INSERT OR REPLACE INTO groups_ VALUES (?, ?, ?, ?)",
                    (group_id, name, owner, json.dumps(members)),
                )
            ]
        )

    def put_key(self, key: str, user_id: int, access: dict[str, Any]) -> None:
        self._run(
            [
                (
                    "INSERT OR REPLACE INTO api_keys VALUES (?, ?, ?)",
                    (key, user_id, json.dumps(access)),
                )
            ]
        )

    def write(
        self,
        lib: str,
        version: int,
        puts: Iterable[tuple[str, str, int, int, dict[str, Any]]],
        removes: Iterable[tuple[str, str]],
        deleted_add: Iterable[tuple[str, str, int]],
        deleted_remove: Iterable[tuple[str, str]],
        token: tuple[str, float] | None = None,
    ) -> None:
        """Apply one request's changes to library ``lib`` atomically."""
        stmts: list[tuple[str, tuple[Any, ...]]] = [
            ("INSERT OR REPLACE INTO libraries VALUES (?, ?)", (lib, version))
        ]
        for kind, key, obj_version, seq, data in puts:
            stmts.append(
                (
                    "INSERT OR REPLACE INTO objects VALUES (?, ?, ?, ?, ?, ?)",
                    (lib, kind, key, obj_version, seq, json.dumps(data)),
                )
            )
        for kind, key in removes:
            stmts.append(("DELETE FROM objects WHERE lib=? AND kind=? AND key=?", (lib, kind, key)))
        for kind, key, del_version in deleted_add:
            stmts.append(
                (
                    "INSERT OR REPLACE INTO deleted VALUES (?, ?, ?, ?)",
                    (lib, kind, key, del_version),
                )
            )
        for kind, key in deleted_remove:
            stmts.append(("DELETE FROM deleted WHERE lib=? AND kind=? AND key=?", (lib, kind, key)))
        if token is not None:
            stmts.append(("INSERT OR REPLACE INTO write_tokens VALUES (?, ?)", token))
        self._run(stmts)

    def put_token(self, token_hash: str, expires: float) -> None:
        self._run([("INSERT OR REPLACE INTO write_tokens VALUES (?, ?)", (token_hash, expires))])

    def _run(self, stmts: list[tuple[str, tuple[Any, ...]]]) -> None:
        with self._lock:
            cur = self._conn.cursor()
            cur.execute("BEGIN IMMEDIATE")
            try:
                for sql, params in stmts:
                    cur.execute(sql, params)
            except BaseException:
                cur.execute("ROLLBACK")
                raise
            cur.execute("COMMIT")
