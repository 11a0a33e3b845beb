"""The state database: what syncd imported, what it is about to send, and the library index.

One SQLite file (``state.path`` in the config) in WAL mode with a busy timeout, so that two
syncd processes (an import and the daemon, or two imports) can share it: readers never wait,
writers queue. Every write is a short explicit transaction (``BEGIN IMMEDIATE`` … ``COMMIT``).

Tables (all keyed by library, ``users/1`` or ``groups/2``, so one database can serve several):

``files``      every export file seen: path, size, mtime, sha256 and the outcome of its import,
               so that an unchanged, fully imported file costs one hash and no request.
``records``    one row per article (its identity: ``pmid:…``, else ``doi:…``, else the title
               fingerprint): the planned Zotero key, where it came from (file and line) and its
               status: ``pending`` (key chosen and recorded, POST not yet confirmed), ``pushed``
               (the item exists under that key), ``duplicate`` (the library already held it,
               under ``key``) or ``failed`` (with the error). ``payload`` keeps the item JSON
               of pending rows, so that after a crash they are re-sent exactly as planned.
``items``      the index of the target library: key, version, PMID, PMCID, DOI, fingerprint,
               trashed, and the tags and collections (for merges without a request).
``libraries``  the library version the index reflects.
``deleted``    keys the server reported as deleted: everything in ``/deleted`` when the index
               was first built (so that articles syncd created and the user deleted are known
               even after the state database was lost), then what each refresh reports.
``searches`` / ``search_seen``  saved PubMed searches (see :mod:`syncd.state_searches`).
``history``    one row per input imported, with its counts (see :mod:`syncd.state_history`).
``written``    digests of what syncd wrote to each item it created (:mod:`syncd.state_written`).
``index_builds`` / ``index_queue`` / ``index_staging``  a first build of the index in
               progress: the library version it started from, the keys still to read and the
               items read so far (each page of items is staged with its keys taken off the
               queue in one transaction, so that a build interrupted by a crash resumes where
               it stopped; the finished build moves into ``items`` in one transaction).

The index is queried where it lies (indexed PMID, PMCID, DOI, fingerprint and key columns),
batch by batch; it is never loaded whole into memory (see :mod:`syncd.index`).

History can be pruned (:meth:`StateStore.prune_history`): the ``duplicate`` and ``failed``
rows of ``records`` are notes for reports, and can go once they are old; ``pending`` and
``pushed`` rows, the index and ``deleted`` are what exactly-once rests on and are never pruned.

The schema version is SQLite's ``PRAGMA user_version``. Opening an older database migrates it
forward after copying it to ``state.db.v<N>.bak``; a database from a newer syncd is refused.

Every failure of the database or the disk under it leaves this module as a
:class:`~syncd.errors.StateError` naming the file and the cause, with a hint that fits it (see
:func:`state_error`): :class:`~syncd.errors.StateDamagedError` (corrupt pages, not a database,
a missing table), :class:`~syncd.errors.StateNotWritableError` (read-only file, folder or file
system), :class:`~syncd.errors.StateNoSpaceError` (full disk, file-size limit, I/O error).
Public methods are wrapped (see :func:`_guard_public_methods`), so a method added later is
covered too.
Trouble worth waiting out (a full disk, an I/O error, a read-only file, folder or file system)
has ``transient`` set on the error; :meth:`StateStore.still_at_path` tells whether the file at
the path is still the database that was opened (it may have been deleted while syncd ran).

File names that are not UTF-8 (lone surrogates from ``os.fsdecode``) are stored as BLOBs of
their raw bytes in every column that holds a name or a message, and read back as the same str.
"""

from __future__ import annotations

import contextlib
import json
import logging
import os
import re
import sqlite3
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any

from syncd.errors import StateDamagedError, StateError
from syncd.state_failures import BUGS, BUSY_TIMEOUT_MS, damaged_hint, guarded, state_error
from syncd.state_history import HistoryRow as HistoryRow  # re-exported: the rows are the store's
from syncd.state_history import HistoryStates
from syncd.state_history import db_text as _db
from syncd.state_history import read_text as _text
from syncd.state_searches import MIGRATION as SEARCHES_MIGRATION
from syncd.state_searches import SearchStates
from syncd.state_written import MIGRATION as WRITTEN_MIGRATION
from syncd.state_written import WrittenStates

logger = logging.getLogger(__name__)

SCHEMA_VERSION = 8
_ITEM_IDS = ("pmid", "pmcid", "doi", "fingerprint")  # indexed as items_by_<column> (schema 3)

# MIGRATIONS[n] takes a database at version n-1 to version n. Only ever append.
MIGRATIONS: dict[int, tuple[str, ...]] = {
    1: (
        """CREATE TABLE files (
            library TEXT NOT NULL,
            path TEXT NOT NULL,
            size INTEGER NOT NULL,
            mtime_ns INTEGER NOT NULL,
            sha256 TEXT NOT NULL,
            outcome TEXT NOT NULL,          -- imported | partial | failed
            records INTEGER NOT NULL DEFAULT 0,
            detail TEXT,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (library, path)
        )""",
        """CREATE TABLE records (
            library TEXT NOT NULL,
            identity TEXT NOT NULL,
            key TEXT NOT NULL,
            status TEXT NOT NULL CHECK (status IN ('pending', 'pushed', 'duplicate', 'failed')),
            pmid TEXT, doi TEXT, pmcid TEXT, fingerprint TEXT,
            source TEXT, line INTEGER,
            error TEXT,
            payload TEXT,
            attempt INTEGER NOT NULL DEFAULT 0,
            updated_at TEXT NOT NULL,
            PRIMARY KEY (library, identity)
        )""",
        "CREATE INDEX records_by_status ON records (library, status)",
        "CREATE INDEX records_by_key ON records (library, key)",
        """CREATE TABLE items (
            library TEXT NOT NULL,
            key TEXT NOT NULL,
            version INTEGER NOT NULL,
            pmid TEXT, pmcid TEXT, doi TEXT, fingerprint TEXT,
            trashed INTEGER NOT NULL DEFAULT 0,
            tags TEXT NOT NULL DEFAULT '[]',
            collections TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (library, key)
        )""",
        """CREATE TABLE libraries (
            library TEXT PRIMARY KEY,
            version INTEGER NOT NULL,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE deleted (
            library TEXT NOT NULL,
            key TEXT NOT NULL,
            PRIMARY KEY (library, key)
        )""",
    ),
    # The daemon (`syncd run`): its status for `syncd status`, the folders whose existing files
    # were taken as a baseline at the first start, and one history row per file imported.
    2: (
        """CREATE TABLE daemon (
            id INTEGER PRIMARY KEY CHECK (id = 1),
            pid INTEGER NOT NULL,
            started_at TEXT NOT NULL,
            stopped_at TEXT,
            library TEXT,
            directory TEXT,
            last_scan TEXT,
            settling INTEGER NOT NULL DEFAULT 0,
            waiting INTEGER NOT NULL DEFAULT 0,
            last_file TEXT,
            trouble TEXT,
            trouble_since TEXT,
            retry_at TEXT,
            updated_at TEXT NOT NULL
        )""",
        """CREATE TABLE baselines (
            directory TEXT PRIMARY KEY,
            taken_at TEXT NOT NULL,
            files INTEGER NOT NULL
        )""",
        """CREATE TABLE history (
            id INTEGER PRIMARY KEY,
            library TEXT NOT NULL,
            path TEXT NOT NULL,
            sha256 TEXT,
            at TEXT NOT NULL,
            outcome TEXT NOT NULL,   -- imported | partial | unreadable | unchanged
            records INTEGER NOT NULL DEFAULT 0,
            new INTEGER NOT NULL DEFAULT 0,
            duplicates INTEGER NOT NULL DEFAULT 0,
            merged INTEGER NOT NULL DEFAULT 0,
            failed INTEGER NOT NULL DEFAULT 0,
            detail TEXT
        )""",
        "CREATE INDEX history_by_time ON history (library, at)",
    ),
    # The library index is queried in the database, not held in memory: every identifier it is
    # looked up by is indexed, and a first build is resumable.
    3: (
        *(f"CREATE INDEX items_by_{c} ON items (library, {c})" for c in _ITEM_IDS),
        "CREATE INDEX records_by_pmid ON records (library, pmid)",
        "CREATE INDEX records_by_doi ON records (library, doi)",
        "CREATE INDEX records_by_fingerprint ON records (library, fingerprint)",
        """CREATE TABLE index_builds (
            library TEXT PRIMARY KEY,
            version INTEGER NOT NULL,       -- the library version the listed keys reflect
            listed INTEGER NOT NULL DEFAULT 0,  -- 1 once every key is in index_queue
            started_at TEXT NOT NULL
        )""",
        """CREATE TABLE index_staging (
            library TEXT NOT NULL,
            key TEXT NOT NULL,
            version INTEGER NOT NULL,
            pmid TEXT, pmcid TEXT, doi TEXT, fingerprint TEXT,
            trashed INTEGER NOT NULL DEFAULT 0,
            tags TEXT NOT NULL DEFAULT '[]',
            collections TEXT NOT NULL DEFAULT '[]',
            PRIMARY KEY (library, key)
        )""",
        """CREATE TABLE index_queue (
            library TEXT NOT NULL,
            key TEXT NOT NULL,
            PRIMARY KEY (library, key)
        ) WITHOUT ROWID""",
    ),
    # A file's inode and ctime: a file replaced or rewritten with the same size and
    # mtime, or whose permissions were fixed, is read again. 0 = not known (an older row).
    4: (
        "ALTER TABLE files ADD COLUMN inode INTEGER NOT NULL DEFAULT 0",
        "ALTER TABLE files ADD COLUMN ctime_ns INTEGER NOT NULL DEFAULT 0",
    ),
    # How many of a file's new items were uncertain (created under the planned key after a
    # lost answer or a crash), so that syncd status can say it.
    5: ("ALTER TABLE history ADD COLUMN uncertain INTEGER NOT NULL DEFAULT 0",),
    # syncd's own rows are found by PMCID too (it is matched with the PMID).
    6: ("CREATE INDEX records_by_pmcid ON records (library, pmcid)",),
    7: SEARCHES_MIGRATION,  # saved PubMed searches: syncd/state_searches.py
    8: WRITTEN_MIGRATION,  # what syncd wrote to its items, history.completed: state_written.py
}
assert max(MIGRATIONS) == SCHEMA_VERSION

TABLES: tuple[str, ...] = tuple(
    m.group(1)
    for statements in MIGRATIONS.values()
    for statement in statements
    if (m := re.match(r"\s*CREATE TABLE (\w+)", statement))
)
"""The tables a database at :data:`SCHEMA_VERSION` has (checked when it is opened)."""


class RecordStatus(StrEnum):
    """``records.status``: the one vocabulary (the table's CHECK constraint holds the same)."""

    PENDING = "pending"  # key chosen and recorded, POST not yet confirmed
    PUSHED = "pushed"  # the item exists under that key
    DUPLICATE = "duplicate"  # the library already held it, under ``key``
    FAILED = "failed"  # with the error


class FileOutcome(StrEnum):
    """What became of a file: ``files.outcome`` and ``history.outcome`` (``unchanged`` only
    in history: a file read again with content already imported)."""

    IMPORTED = "imported"
    PARTIAL = "partial"
    UNREADABLE = "unreadable"
    IGNORED = "ignored"  # not a MEDLINE export
    FOREIGN = "foreign"  # another user's file, skipped (``watch.other_owners = false``)
    BASELINE = "baseline"  # there before the daemon's first start: never imported
    CLEARED = "cleared"  # its problems cleared by ``syncd status --clear``
    RETRY = "retry"  # to be read again (``syncd status --retry``), whatever its stat says
    UNCHANGED = "unchanged"


_UNGUARDED = frozenset({"transaction", "close"})


def _guard_public_methods(cls: type[StateStore]) -> type[StateStore]:
    """Wrap every public method and property of ``cls`` with :func:`guarded`."""
    for name, value in list(vars(cls).items()):
        if name.startswith("_") or name in _UNGUARDED:
            continue
        if isinstance(value, property) and value.fget is not None:
            setattr(cls, name, property(guarded(value.fget)))
        elif callable(value):
            setattr(cls, name, guarded(value))
    return cls


_BUILD_CACHE_KB = 16_000  # SQLite page cache while a first build moves into the index
_IN_CHUNK = 500  # values per ``IN (...)``: well under SQLite's limit on parameters
_ITEM_COLUMNS = "key, version, pmid, pmcid, doi, fingerprint, trashed, tags, collections"


STAMP = "%Y-%m-%dT%H:%M:%SZ"
"""Every time in the state database: UTC to the second, sortable as text."""


def utc_stamp(ts: float | None = None) -> str:
    """``ts`` (seconds since the epoch; now when None) as the state database writes times."""
    when = datetime.now(UTC) if ts is None else datetime.fromtimestamp(ts, UTC)
    return when.strftime(STAMP)


def today_utc() -> str:
    """Local midnight today, as the UTC time stamp the history table uses."""
    local = datetime.now().astimezone()
    midnight = local.replace(hour=0, minute=0, second=0, microsecond=0)
    return midnight.astimezone(UTC).strftime(STAMP)


def _now() -> str:
    return utc_stamp()


@dataclass(frozen=True)
class FileRow:
    path: str
    size: int
    mtime_ns: int
    sha256: str
    outcome: str  # a FileOutcome (the files DDL's comment is older than the vocabulary)
    records: int = 0
    detail: str | None = None
    inode: int = 0  # 0: not known (a row older than schema 4)
    ctime_ns: int = 0

    def same_file(self, size: int, mtime_ns: int, inode: int, ctime_ns: int) -> bool:
        """Whether a file with this ``stat`` is still the file this row describes: same size
        and mtime, and (when the row knows them) the same inode and ctime, which change when
        the file is replaced, rewritten in place, or its permissions change. A row marked to be
        read again (``syncd status --retry``) is never the same file."""
        if (self.size, self.mtime_ns) != (size, mtime_ns) or self.outcome == "retry":
            return False
        return not self.inode or (self.inode, self.ctime_ns) == (inode, ctime_ns)


@dataclass(frozen=True)
class RecordRow:
    identity: str
    key: str
    status: str  # a RecordStatus
    pmid: str | None = None
    doi: str | None = None
    pmcid: str | None = None
    fingerprint: str | None = None
    source: str | None = None
    line: int | None = None
    error: str | None = None
    payload: dict[str, Any] | None = field(default=None, repr=False)
    attempt: int = 0
    updated_at: str | None = field(default=None, compare=False)
    """When the row was last written (read back; writing sets it to now)."""


@dataclass(frozen=True)
class DaemonRow:
    """What the running (or last) ``syncd run`` said about itself."""

    pid: int
    started_at: str
    stopped_at: str | None = None
    library: str | None = None
    directory: str | None = None
    last_scan: str | None = None
    settling: int = 0
    waiting: int = 0
    last_file: str | None = None
    trouble: str | None = None
    trouble_since: str | None = None
    retry_at: str | None = None
    updated_at: str | None = None


@dataclass(frozen=True)
class IndexedItem:
    key: str
    version: int
    pmid: str | None = None
    pmcid: str | None = None
    doi: str | None = None
    fingerprint: str | None = None
    trashed: bool = False
    tags: tuple[tuple[str, int], ...] = ()  # (name, type)
    collections: tuple[str, ...] = ()


def _file_row(r: Sequence[Any]) -> FileRow:
    return FileRow(*(_text(v) for v in r))


def _indexed(r: Sequence[Any]) -> IndexedItem:
    """An ``items`` row (the columns of ``_ITEM_COLUMNS``) as an :class:`IndexedItem`."""
    tags = tuple((t[0], t[1]) for t in json.loads(r[7])) if r[7] != "[]" else ()
    collections = tuple(json.loads(r[8])) if r[8] != "[]" else ()
    return IndexedItem(r[0], r[1], r[2], r[3], r[4], r[5], bool(r[6]), tags, collections)


@_guard_public_methods
class StateStore(SearchStates, HistoryStates, WrittenStates):
    """The state database at ``path`` (created with its folder when missing).

    Raises :class:`StateError` (or a subclass naming the cause) for a database that is
    corrupt, not syncd's, from a newer syncd, or that cannot be read or written, here and in
    every method.
    """

    def __init__(self, path: Path, *, readonly: bool = False) -> None:
        self.path = Path(path)
        self._in_tx = False
        if readonly:
            self._open_readonly()
            return
        try:
            self.path.parent.mkdir(parents=True, exist_ok=True)
            # isolation_level=None: no implicit transactions; every write is an explicit one.
            self._conn = sqlite3.connect(
                self.path, timeout=BUSY_TIMEOUT_MS / 1000, isolation_level=None
            )
        except (OSError, sqlite3.Error) as exc:
            raise state_error(self.path, exc, "opening it") from exc
        try:
            self._conn.execute(f"PRAGMA busy_timeout = {BUSY_TIMEOUT_MS}")
            mode = self._conn.execute("PRAGMA journal_mode = WAL").fetchone()[0]
            if mode != "wal":
                logger.warning(
                    "%s: WAL mode unavailable (%s); concurrent use will wait", path, mode
                )
            # NORMAL is durable against a crash of syncd (kill -9); only a power cut can lose
            # the last transactions, and those are re-derived from the library on the next run.
            self._conn.execute("PRAGMA synchronous = NORMAL")
            self._migrate()
            self._check_tables()
            self._schema_at_open = SCHEMA_VERSION
            self._opened = self._identity()
        except (sqlite3.Error, OSError) as exc:
            self._conn.close()
            error = state_error(self.path, exc, "opening it")
            if type(error) is StateError and isinstance(exc, sqlite3.DatabaseError):
                error = StateDamagedError(
                    f"{self.path}: not a usable syncd state database ({exc})",
                    hint=damaged_hint(self.path),
                )
            raise error from exc
        except BaseException:
            self._conn.close()
            raise

    def _open_readonly(self) -> None:
        """For ``syncd status``: never creates, migrates or writes (works beside a daemon)."""
        if not self.path.is_file():
            raise StateError(
                f"{self.path}: no state database yet",
                hint="nothing was imported with this configuration yet (see 'syncd run --help')",
            )
        try:
            self._conn = sqlite3.connect(
                f"{self.path.resolve().as_uri()}?mode=ro",
                uri=True,
                timeout=BUSY_TIMEOUT_MS / 1000,
                isolation_level=None,
            )
            version = self.schema_version
            self._schema_at_open = version
            self._opened = self._identity()
        except (sqlite3.DatabaseError, OSError) as exc:
            raise StateError(
                f"{self.path}: cannot read the state database ({exc})",
                hint="run 'syncd doctor' to check it",
            ) from exc
        if version > SCHEMA_VERSION:
            self._conn.close()
            raise StateError(
                f"{self.path}: the state database has schema version {version}, newer than "
                f"this syncd understands ({SCHEMA_VERSION})",
                hint="upgrade syncd",
            )

    def _identity(self) -> tuple[int, int]:
        st = os.stat(self.path)
        return (st.st_dev, st.st_ino)

    def still_at_path(self) -> bool:
        """Whether the file at ``path`` is still the database this store opened (same device
        and inode): False once it was deleted or replaced while syncd ran, when every write
        would go to a file nobody can open again."""
        try:
            return self._identity() == self._opened
        except (FileNotFoundError, NotADirectoryError):
            return False

    def has_table(self, name: str) -> bool:
        row = self._conn.execute(
            "SELECT 1 FROM sqlite_master WHERE type = 'table' AND name = ?", (name,)
        ).fetchone()
        return row is not None

    # --- lifecycle and transactions --------------------------------------------------------

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> StateStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @property
    def schema_version(self) -> int:
        return int(self._conn.execute("PRAGMA user_version").fetchone()[0])

    @contextmanager
    def transaction(self) -> Iterator[sqlite3.Connection]:
        """A write transaction: taken with ``BEGIN IMMEDIATE`` (so two processes serialise at
        the start, not at the first write) and committed on success, rolled back on error."""
        if self._in_tx:
            yield self._conn
            return
        try:
            self._conn.execute("BEGIN IMMEDIATE")
        except sqlite3.Error as exc:
            raise state_error(self.path, exc, "starting a transaction") from exc
        self._in_tx = True
        try:
            yield self._conn
        except BaseException as exc:
            # SQLite may have rolled back already (a full disk does): that must not hide why.
            with contextlib.suppress(sqlite3.Error):
                self._conn.execute("ROLLBACK")
            if isinstance(exc, sqlite3.Error | OSError) and not isinstance(exc, BUGS):
                raise state_error(self.path, exc) from exc
            raise
        else:
            try:
                self._conn.execute("COMMIT")
            except sqlite3.Error as exc:
                with contextlib.suppress(sqlite3.Error):
                    self._conn.execute("ROLLBACK")
                raise state_error(self.path, exc, "committing") from exc
        finally:
            self._in_tx = False

    def _migrate(self) -> None:
        current = self.schema_version
        if current > SCHEMA_VERSION:
            raise StateError(
                f"{self.path}: the state database has schema version {current}, newer than "
                f"this syncd understands ({SCHEMA_VERSION})",
                hint="upgrade syncd, or point state.path at another file",
            )
        if current == SCHEMA_VERSION:
            return
        if current > 0:
            # Before taking the write lock: SQLite's backup cannot read a database that its own
            # connection is writing.
            self._backup(current)
        with self.transaction() as conn:
            # Re-read under the write lock: another process may have migrated meanwhile.
            current = self.schema_version
            if current == SCHEMA_VERSION:
                return
            for version in range(current + 1, SCHEMA_VERSION + 1):
                # A new database is simply created; only an upgrade is worth a line in the log.
                (logger.info if current else logger.debug)(
                    "%s: migrating the state database to version %d", self.path, version
                )
                for statement in MIGRATIONS[version]:
                    conn.execute(statement)
                conn.execute(f"PRAGMA user_version = {version}")

    def _check_tables(self) -> None:
        """Refuse a database that lacks one of syncd's tables (dropped by hand, or damaged)."""
        present = {
            r[0] for r in self._conn.execute("SELECT name FROM sqlite_master WHERE type = 'table'")
        }
        missing = [t for t in TABLES if t not in present]
        if missing:
            raise StateDamagedError(
                f"{self.path}: the state database is damaged: "
                f"table{'s' if len(missing) > 1 else ''} {', '.join(missing)} "
                f"{'are' if len(missing) > 1 else 'is'} missing",
                hint=damaged_hint(self.path),
            )

    def _backup(self, version: int) -> None:
        target = self.path.with_name(f"{self.path.name}.v{version}.bak")
        logger.info("%s: backing up to %s before migrating", self.path, target)
        dest = sqlite3.connect(target)
        try:
            self._conn.backup(dest)
        finally:
            dest.close()

    # --- library index ---------------------------------------------------------------------

    def library_version(self, library: str) -> int | None:
        """The library version the index reflects, or None when it was never built."""
        row = self._conn.execute(
            "SELECT version FROM libraries WHERE library = ?", (library,)
        ).fetchone()
        return None if row is None else int(row[0])

    def library_updated(self, library: str) -> str | None:
        """When the index was last brought up to the library's version (UTC), if ever."""
        row = self._conn.execute(
            "SELECT updated_at FROM libraries WHERE library = ?", (library,)
        ).fetchone()
        return None if row is None else str(row[0])

    def load_index(self, library: str) -> list[IndexedItem]:
        """Every indexed item of ``library`` (for tests and tools: the engine queries)."""
        rows = self._conn.execute(
            f"SELECT {_ITEM_COLUMNS} FROM items WHERE library = ?",  # noqa: S608
            (library,),
        )
        return [_indexed(r) for r in rows]

    def _select_in(self, sql: str, library: str, values: Iterable[str]) -> Iterator[Any]:
        """Rows of ``sql`` (ending in ``IN``, its first parameter the library) for every
        value, a chunk of values per query."""
        wanted = sorted(set(values))
        for start in range(0, len(wanted), _IN_CHUNK):
            chunk = wanted[start : start + _IN_CHUNK]
            yield from self._conn.execute(
                f"{sql} ({', '.join('?' * len(chunk))})", [library, *chunk]
            )

    def index_items(
        self,
        library: str,
        *,
        keys: Iterable[str] = (),
        pmids: Iterable[str] = (),
        pmcids: Iterable[str] = (),
        dois: Iterable[str] = (),
        fingerprints: Iterable[str] = (),
    ) -> list[IndexedItem]:
        """Indexed items with any of these keys or identifiers (a few indexed queries)."""
        out: dict[str, IndexedItem] = {}
        for column, values in (
            ("key", keys),
            ("pmid", pmids),
            ("pmcid", pmcids),
            ("doi", dois),
            ("fingerprint", fingerprints),
        ):
            sql = f"SELECT {_ITEM_COLUMNS} FROM items WHERE library = ? AND {column} IN"  # noqa: S608
            for r in self._select_in(sql, library, values):
                if r[0] not in out:
                    out[r[0]] = _indexed(r)
        return list(out.values())

    def index_versions(self, library: str, keys: Iterable[str]) -> dict[str, int]:
        """key -> version of the indexed items among ``keys``."""
        sql = "SELECT key, version FROM items WHERE library = ? AND key IN"
        return dict(self._select_in(sql, library, keys))

    def deleted_among(self, library: str, keys: Iterable[str]) -> set[str]:
        """Which of ``keys`` the server reported as deleted."""
        sql = "SELECT key FROM deleted WHERE library = ? AND key IN"
        return {r[0] for r in self._select_in(sql, library, keys)}

    # --- a first build of the index, resumable ----------------------------------------------

    def index_build(self, library: str) -> tuple[int, bool] | None:
        """(library version, every key listed) of a first build in progress, or None."""
        row = self._conn.execute(
            "SELECT version, listed FROM index_builds WHERE library = ?", (library,)
        ).fetchone()
        return None if row is None else (int(row[0]), bool(row[1]))

    def start_index_build(self, library: str) -> None:
        """Start (or restart, when its listing was interrupted) a first build."""
        with self.transaction() as conn:
            conn.execute("DELETE FROM index_queue WHERE library = ?", (library,))
            conn.execute("DELETE FROM index_staging WHERE library = ?", (library,))
            conn.execute("DELETE FROM items WHERE library = ?", (library,))
            conn.execute(
                "INSERT OR REPLACE INTO index_builds (library, version, listed, started_at) "
                "VALUES (?, 0, 0, ?)",
                (library, _now()),
            )

    def queue_index_keys(self, library: str, keys: Iterable[str]) -> None:
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO index_queue (library, key) VALUES (?, ?)",
                [(library, k) for k in keys],
            )

    def finish_index_listing(self, library: str, version: int, deleted: Iterable[str]) -> None:
        """Every key is queued, as of library ``version``; ``deleted``: the server's list of
        deleted keys at that version."""
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR IGNORE INTO deleted (library, key) VALUES (?, ?)",
                [(library, k) for k in deleted],
            )
            conn.execute(
                "UPDATE index_builds SET version = ?, listed = 1 WHERE library = ?",
                (version, library),
            )

    def queued_index_keys(self, library: str, limit: int) -> list[str]:
        rows = self._conn.execute(
            "SELECT key FROM index_queue WHERE library = ? ORDER BY key LIMIT ?", (library, limit)
        )
        return [r[0] for r in rows]

    def queued_index_size(self, library: str) -> int:
        return int(
            self._conn.execute(
                "SELECT count(*) FROM index_queue WHERE library = ?", (library,)
            ).fetchone()[0]
        )

    @staticmethod
    def _put_items(
        conn: sqlite3.Connection, table: str, library: str, items: Iterable[IndexedItem]
    ) -> None:
        conn.executemany(
            # ``table`` is one of two constant names.
            f"INSERT OR REPLACE INTO {table} (library, key, version, pmid, pmcid, doi, "  # noqa: S608
            "fingerprint, trashed, tags, collections) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
            [
                (
                    library,
                    i.key,
                    i.version,
                    i.pmid,
                    i.pmcid,
                    i.doi,
                    i.fingerprint,
                    int(i.trashed),
                    json.dumps(i.tags, ensure_ascii=False) if i.tags else "[]",
                    json.dumps(list(i.collections)) if i.collections else "[]",
                )
                for i in items
            ],
        )

    def put_index_page(
        self, library: str, items: Iterable[IndexedItem], done: Sequence[str]
    ) -> None:
        """One page of a first build: its items staged, its keys off the queue, together.
        (Staged in a table without the identifier indexes: updating four random-order
        indexes page by page costs several times the whole build.)"""
        with self.transaction() as conn:
            self._put_items(conn, "index_staging", library, items)
            conn.executemany(
                "DELETE FROM index_queue WHERE library = ? AND key = ?",
                [(library, k) for k in done],
            )

    def finish_index_build(self, library: str, version: int) -> None:
        """Move the staged items into the index (one transaction) and record ``version``.

        Building the four identifier indexes pages the file in and out with SQLite's default
        2 MB page cache (0.5 s of system time for 100,000 items), so the cache is raised for
        the move and given back after it."""
        self._conn.execute(f"PRAGMA cache_size = -{_BUILD_CACHE_KB}")
        try:
            self._move_staged(library, version)
        finally:
            self._conn.execute("PRAGMA cache_size = -2000")
            self._conn.execute("PRAGMA shrink_memory")

    def _move_staged(self, library: str, version: int) -> None:
        with self.transaction() as conn:
            # The identifier indexes are built again after the move rather than kept up to
            # date row by row: sorting is several times faster than a million random inserts
            # (17 s -> 5 s for 1,000,000 items), and about even for small libraries.
            for column in _ITEM_IDS:
                conn.execute(f"DROP INDEX IF EXISTS items_by_{column}")
            conn.execute(
                f"INSERT OR REPLACE INTO items ({_ITEM_COLUMNS}, library) "  # noqa: S608
                f"SELECT {_ITEM_COLUMNS}, library FROM index_staging WHERE library = ?",
                (library,),
            )
            for column in _ITEM_IDS:
                conn.execute(f"CREATE INDEX items_by_{column} ON items (library, {column})")
            conn.execute("DELETE FROM index_staging WHERE library = ?", (library,))
            self.update_index(library, version=version)
            conn.execute("DELETE FROM index_queue WHERE library = ?", (library,))
            conn.execute("DELETE FROM index_builds WHERE library = ?", (library,))

    def index_size(self, library: str) -> int:
        return int(
            self._conn.execute(
                "SELECT count(*) FROM items WHERE library = ?", (library,)
            ).fetchone()[0]
        )

    def update_index(
        self,
        library: str,
        upserts: Iterable[IndexedItem] = (),
        removed: Iterable[str] = (),
        version: int | None = None,
    ) -> None:
        """Add or replace items, drop removed keys (remembered in ``deleted``) and, when
        ``version`` is given, record the library version the index now reflects."""
        with self.transaction() as conn:
            self._put_items(conn, "items", library, upserts)
            removed = list(removed)
            conn.executemany(
                "DELETE FROM items WHERE library = ? AND key = ?", [(library, k) for k in removed]
            )
            conn.executemany(
                "INSERT OR IGNORE INTO deleted (library, key) VALUES (?, ?)",
                [(library, k) for k in removed],
            )
            if version is not None:
                conn.execute(
                    "INSERT INTO libraries (library, version, updated_at) VALUES (?, ?, ?) "
                    "ON CONFLICT (library) DO UPDATE SET version = excluded.version, "
                    "updated_at = excluded.updated_at",
                    (library, version, _now()),
                )

    def deleted_keys(self, library: str) -> set[str]:
        rows = self._conn.execute("SELECT key FROM deleted WHERE library = ?", (library,))
        return {r[0] for r in rows}

    def forget_deleted(self, library: str, keys: Iterable[str]) -> None:
        """Keys that exist again (re-created on purpose) are no longer deleted."""
        with self.transaction() as conn:
            conn.executemany(
                "DELETE FROM deleted WHERE library = ? AND key = ?", [(library, k) for k in keys]
            )

    # --- records ---------------------------------------------------------------------------

    _RECORD_COLUMNS = (
        "identity, key, status, pmid, doi, pmcid, fingerprint, source, line, error, payload, "
        "attempt, updated_at"
    )

    @staticmethod
    def _record(r: Sequence[Any]) -> RecordRow:
        return RecordRow(
            identity=_text(r[0]),
            key=r[1],
            status=r[2],
            pmid=r[3],
            doi=r[4],
            pmcid=r[5],
            fingerprint=r[6],
            source=_text(r[7]),
            line=r[8],
            error=_text(r[9]),
            payload=json.loads(_text(r[10])) if r[10] else None,
            attempt=r[11],
            updated_at=r[12],
        )

    @staticmethod
    def _record_values(library: str, r: RecordRow) -> tuple[Any, ...]:
        """The columns ``library`` to ``error`` of a row, in the order the INSERTs name them."""
        return (
            library,
            _db(r.identity),
            r.key,
            r.status,
            r.pmid,
            r.doi,
            r.pmcid,
            r.fingerprint,
            _db(r.source),
            r.line,
            _db(r.error),
        )

    def records(self, library: str, statuses: Sequence[str] | None = None) -> list[RecordRow]:
        # Only constant column names and "?" placeholders are formatted in.
        sql = f"SELECT {self._RECORD_COLUMNS} FROM records WHERE library = ?"  # noqa: S608
        args: list[Any] = [library]
        if statuses:
            sql += f" AND status IN ({', '.join('?' * len(statuses))})"
            args += list(statuses)
        return [self._record(r) for r in self._conn.execute(sql + " ORDER BY rowid", args)]

    def noted_created(self, library: str, limit: int | None = None) -> tuple[int, list[RecordRow]]:
        """Articles syncd created that carry a note (a possible duplicate: it shares a DOI
        with an item whose title differs): how many, and the ``limit`` latest."""
        where = "FROM records WHERE library = ? AND status = 'pushed' AND error IS NOT NULL"
        total = self._conn.execute(f"SELECT count(*) {where}", (library,)).fetchone()[0]
        sql = f"SELECT {self._RECORD_COLUMNS} {where} ORDER BY updated_at DESC, rowid DESC"
        args: list[Any] = [library]
        if limit is not None:
            sql += " LIMIT ?"
            args.append(limit)
        return int(total), [self._record(r) for r in self._conn.execute(sql, args)]

    def records_like(
        self,
        library: str,
        ids: Iterable[Any],
        columns: Sequence[str] = ("pmid", "doi", "fingerprint"),
        statuses: Sequence[str] = (
            RecordStatus.PENDING,
            RecordStatus.PUSHED,
            RecordStatus.DUPLICATE,
        ),
    ) -> list[RecordRow]:
        """Rows of ``statuses`` that share a PMID, DOI or fingerprint (of ``columns``) with
        any of ``ids`` (objects with ``pmid``, ``doi``, ``fingerprint`` attributes).

        One indexed query per kind of identifier: a single query with ``OR`` and the status
        would let SQLite walk every pending and pushed row of the library instead."""
        ids = list(ids)
        out: dict[str, RecordRow] = {}
        for column in columns:
            assert column in ("pmid", "pmcid", "doi", "fingerprint")
            values = [v for i in ids if (v := getattr(i, column))]
            sql = (
                f"SELECT {self._RECORD_COLUMNS} FROM records "  # noqa: S608
                f"WHERE library = ? AND {column} IN"
            )
            for r in self._select_in(sql, library, values):
                if r[2] in statuses and r[0] not in out:
                    out[r[0]] = self._record(r)
        return list(out.values())

    def record(self, library: str, identity: str) -> RecordRow | None:
        row = self._conn.execute(
            f"SELECT {self._RECORD_COLUMNS} FROM records WHERE library = ? AND identity = ?",  # noqa: S608
            (library, _db(identity)),
        ).fetchone()
        return None if row is None else self._record(row)

    def put_records(self, library: str, rows: Iterable[RecordRow]) -> None:
        """Insert or replace records (within the caller's transaction when there is one)."""
        now = _now()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT OR REPLACE INTO records (library, identity, key, status, pmid, doi, "
                "pmcid, fingerprint, source, line, error, payload, attempt, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    (
                        *self._record_values(library, r),
                        _db(json.dumps(r.payload, ensure_ascii=False)) if r.payload else None,
                        r.attempt,
                        now,
                    )
                    for r in rows
                ],
            )

    def note_records(self, library: str, rows: Iterable[RecordRow]) -> None:
        """Record duplicates and failures without overwriting what matters more: a row that is
        pending or pushed keeps its status (its item exists or is about to)."""
        now = _now()
        with self.transaction() as conn:
            conn.executemany(
                "INSERT INTO records (library, identity, key, status, pmid, doi, pmcid, "
                "fingerprint, source, line, error, payload, attempt, updated_at) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, NULL, 0, ?) "
                "ON CONFLICT (library, identity) DO UPDATE SET key = excluded.key, "
                "status = excluded.status, error = excluded.error, source = excluded.source, "
                "line = excluded.line, updated_at = excluded.updated_at "
                "WHERE records.status IN ('duplicate', 'failed')",
                [(*self._record_values(library, r), now) for r in rows],
            )

    def set_status(
        self,
        library: str,
        updates: Iterable[tuple[str, str, str | None]],
    ) -> None:
        """Set (identity, status, error) on existing rows; the payload is dropped once the row
        is no longer pending (it is only needed to re-send)."""
        now = _now()
        with self.transaction() as conn:
            conn.executemany(
                "UPDATE records SET status = ?, error = ?, updated_at = ?, "
                "payload = CASE WHEN ? = 'pending' THEN payload ELSE NULL END "
                "WHERE library = ? AND identity = ?",
                [(s, _db(e), now, s, library, _db(i)) for i, s, e in updates],
            )

    def status_counts(self, library: str | None = None) -> dict[str, int]:
        sql = "SELECT status, count(*) FROM records"
        args: tuple[str, ...] = ()
        if library is not None:
            sql += " WHERE library = ?"
            args = (library,)
        return {r[0]: r[1] for r in self._conn.execute(sql + " GROUP BY status", args)}

    def prune_records(self, older_than: datetime, library: str | None = None) -> int:
        """Delete ``duplicate`` and ``failed`` record rows last touched before
        ``older_than`` (UTC); return how many went. These rows feed reports (and remember
        that the user deleted an item syncd had matched an article to, so that it is not
        created later: an old enough note is let go): a record met again is decided afresh
        against the library index. ``pending`` and ``pushed`` rows
        (what syncd created, and what it is about to) are never pruned. Run ``VACUUM`` after a
        large prune to give the space back to the file system."""
        cutoff = older_than.astimezone(UTC).strftime(STAMP)
        sql = "DELETE FROM records WHERE status IN ('duplicate', 'failed') AND updated_at < ?"
        args: list[Any] = [cutoff]
        if library is not None:
            sql += " AND library = ?"
            args.append(library)
        with self.transaction() as conn:
            return int(conn.execute(sql, args).rowcount)

    # --- files -----------------------------------------------------------------------------

    @property
    def _file_columns(self) -> str:
        # A read-only store (syncd status) may look at a database of schema 3, not migrated
        # yet by the daemon: its rows know no inode.
        if self._schema_at_open >= 4:
            return "path, size, mtime_ns, sha256, outcome, records, detail, inode, ctime_ns"
        return "path, size, mtime_ns, sha256, outcome, records, detail"

    def file(self, library: str, path: str) -> FileRow | None:
        row = self._conn.execute(
            f"SELECT {self._file_columns} FROM files WHERE library = ? AND path = ?",  # noqa: S608
            (library, _db(path)),
        ).fetchone()
        return None if row is None else _file_row(row)

    def imported_hashes(self, library: str) -> set[str]:
        """sha256 of every file whose records are all in (or known to be in) the library."""
        rows = self._conn.execute(
            "SELECT sha256 FROM files WHERE library = ? AND outcome = ?",
            (library, FileOutcome.IMPORTED),
        )
        return {r[0] for r in rows}

    def put_file(self, library: str, row: FileRow) -> None:
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO files (library, path, size, mtime_ns, sha256, outcome, "
                "records, detail, updated_at, inode, ctime_ns) "
                "VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    library,
                    _db(row.path),
                    row.size,
                    row.mtime_ns,
                    row.sha256,
                    row.outcome,
                    row.records,
                    _db(row.detail),
                    _now(),
                    row.inode,
                    row.ctime_ns,
                ),
            )

    def files(self, library: str, outcomes: Sequence[str] | None = None) -> list[FileRow]:
        sql = f"SELECT {self._file_columns} FROM files WHERE library = ?"  # noqa: S608
        args: list[Any] = [library]
        if outcomes:
            sql += f" AND outcome IN ({','.join('?' * len(outcomes))})"
            args += list(outcomes)
        return [_file_row(r) for r in self._conn.execute(sql, args)]

    # --- the daemon ------------------------------------------------------------------------

    def put_daemon(self, row: DaemonRow) -> None:
        """Record what the daemon says about itself (one row per state database)."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO daemon (id, pid, started_at, stopped_at, library, "
                "directory, last_scan, settling, waiting, last_file, trouble, trouble_since, "
                "retry_at, updated_at) VALUES (1, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                (
                    row.pid,
                    row.started_at,
                    row.stopped_at,
                    row.library,
                    _db(row.directory),
                    row.last_scan,
                    row.settling,
                    row.waiting,
                    _db(row.last_file),
                    _db(row.trouble),
                    row.trouble_since,
                    row.retry_at,
                    _now(),
                ),
            )

    def daemon(self) -> DaemonRow | None:
        if not self.has_table("daemon"):
            return None
        row = self._conn.execute(
            "SELECT pid, started_at, stopped_at, library, directory, last_scan, settling, "
            "waiting, last_file, trouble, trouble_since, retry_at, updated_at FROM daemon"
        ).fetchone()
        if row is None:
            return None
        return DaemonRow(*(_text(v) for v in row))

    def baseline(self, directory: str) -> tuple[str, int] | None:
        """When the first start in ``directory`` was, and how many files it found there and
        left alone as a baseline (0 when they were imported); None before the first start."""
        if not self.has_table("baselines"):
            return None
        row = self._conn.execute(
            "SELECT taken_at, files FROM baselines WHERE directory = ?", (_db(directory),)
        ).fetchone()
        return None if row is None else (str(row[0]), int(row[1]))

    def put_baseline(self, library: str, directory: str, files: Sequence[FileRow]) -> None:
        """Record the files already in ``directory`` at the first start: never imported."""
        with self.transaction() as conn:
            conn.execute(
                "INSERT OR REPLACE INTO baselines (directory, taken_at, files) VALUES (?, ?, ?)",
                (_db(directory), _now(), len(files)),
            )
            conn.executemany(
                "INSERT OR IGNORE INTO files (library, path, size, mtime_ns, sha256, outcome, "
                "records, detail, updated_at) VALUES (?, ?, ?, ?, ?, ?, 0, ?, ?)",
                [
                    (
                        library,
                        _db(f.path),
                        f.size,
                        f.mtime_ns,
                        f.sha256,
                        FileOutcome.BASELINE,
                        _db(f.detail),
                        _now(),
                    )
                    for f in files
                ],
            )

    def clear_failed(self, library: str) -> int:
        """Forget the failed records (``syncd status --clear``); returns how many."""
        with self.transaction() as conn:
            return conn.execute(
                "DELETE FROM records WHERE library = ? AND status = ?",
                (library, RecordStatus.FAILED),
            ).rowcount

    def integrity_problems(self) -> list[str]:
        """``PRAGMA quick_check`` results other than ``ok`` (for ``syncd doctor``)."""
        rows = [r[0] for r in self._conn.execute("PRAGMA quick_check")]
        return [r for r in rows if r != "ok"]
