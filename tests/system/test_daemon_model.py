"""A Hypothesis state machine over the daemon's worker and an in-memory Zotero.

The daemon (its worker's steps, driven one ``tick`` at a time, without threads or events) runs
against :class:`MemoryZotero`, an in-memory library behind the engine's ``Gateway`` protocol
with the server semantics that exactly-once rests on (versions, ``If-Unmodified-Since-Version``,
per-object "already exists" for a key that is taken, ``/deleted``). Meanwhile files appear,
change and vanish in the watched folder; the server fails, loses answers after applying a
write, and is written by another client; the user deletes items; the process dies at any call
and starts again on the same state database and folder.

Invariants: at every step no article is held twice, and nothing the user deleted comes back;
once the faults stop, every article of the files in the folder is in the library exactly once.
"""

from __future__ import annotations

import itertools
import os
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
)

from syncd.config import Config, Secret, StateConfig, WatchConfig, ZoteroConfig
from syncd.core.identity import item_identifiers
from syncd.daemon import Daemon
from syncd.errors import RemoteError
from syncd.state import StateStore
from syncd.zotero import VersionConflict, WriteResult
from tests.system.test_exactly_once import medline

POOL = list(range(51000001, 51000013))  # a dozen articles, so that files overlap
_ALPHABET = "23456789ABCDEFGHIJKLMNPQRSTUVWXYZ"


class Crash(BaseException):
    """The process dies here (not an Exception: nothing on the way catches it)."""


class MemoryZotero:
    """One library as the server holds it, shared by every gateway (process) using it."""

    def __init__(self) -> None:
        self.version = 0
        self.items: dict[str, tuple[int, dict[str, Any]]] = {}
        self.deleted: dict[str, int] = {}
        self.fail_next = 0  # transient failures before the next calls
        self.lose_next_answer = False  # the next write is applied, its answer lost
        self.crash_in: int | None = None  # calls until the process dies
        self.crash_after_apply = False

    def pmids(self) -> list[str]:
        return [p for _, d in self.items.values() if (p := item_identifiers(d).pmid)]


class MemoryGateway:
    library = "users/1"

    def __init__(self, server: MemoryZotero) -> None:
        self.s = server

    def _enter(self, write: bool = False) -> bool:
        """Faults before a call; True when the process is to die after applying it."""
        s = self.s
        if s.crash_in is not None:
            s.crash_in -= 1
            if s.crash_in <= 0:
                s.crash_in = None
                if write and s.crash_after_apply:
                    return True
                raise Crash
        if s.fail_next > 0:
            s.fail_next -= 1
            raise RemoteError("HTTP 503 from the model", status=503, transient=True)
        return False

    def check_access(self, *, require_write: bool = True) -> None:
        self._enter()

    def has_native_ids(self) -> bool:
        self._enter()
        return True

    def item_versions(self, since: int) -> tuple[dict[str, int], int]:
        self._enter()
        return {k: v for k, (v, _) in self.s.items.items() if v > since}, self.s.version

    def stream_item_versions(self, since: int, sink: Any) -> int:
        self._enter()
        pairs = [(k, v) for k, (v, _) in self.s.items.items() if v > since]
        for start in range(0, len(pairs), 3):  # in small pieces, as a stream arrives
            sink(pairs[start : start + 3])
        return self.s.version

    def get_items(self, keys: Any) -> list[dict[str, Any]]:
        self._enter()
        out = []
        for k in keys:
            if k in self.s.items:
                v, d = self.s.items[k]
                out.append({"key": k, "version": v, "data": {**d, "key": k, "version": v}})
        return out

    def deleted_since(self, since: int) -> tuple[list[str], int]:
        self._enter()
        return [k for k, v in self.s.deleted.items() if v > since], self.s.version

    def create_items(self, items: Any, *, if_unmodified_since: int | None = None) -> WriteResult:
        die = self._enter(write=True)
        s = self.s
        if if_unmodified_since is not None and if_unmodified_since != s.version:
            raise VersionConflict("the library changed (model)", status=412)
        result = WriteResult()
        created = False
        for i, item in enumerate(items):
            key = item["key"]
            if key in s.items:
                result.existing[i] = key
                continue
            if not created:
                s.version += 1
                created = True
            data = {k: v for k, v in item.items() if k not in ("key", "version")}
            s.items[key] = (s.version, data)
            s.deleted.pop(key, None)
            result.created[i] = (key, s.version)
        result.library_version = s.version
        if die:
            raise Crash
        if s.lose_next_answer:
            s.lose_next_answer = False
            raise RemoteError("connection lost after the write (model)", transient=True)
        return result

    def update_item(self, key: str, version: int, patch: dict[str, Any]) -> int:
        self._enter(write=True)
        s = self.s
        if key not in s.items or s.items[key][0] != version:
            raise VersionConflict("the item changed (model)", status=412)
        s.version += 1
        s.items[key] = (s.version, {**s.items[key][1], **patch})
        return s.version

    def find_or_create_collection(self, spec: str) -> str:
        self._enter()
        return "COLL2345"


class DaemonModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(self._tmp_factory())
        self.folder = self.tmp / "inbox"
        self.folder.mkdir()
        self.server = MemoryZotero()
        self.config = Config(
            zotero=ZoteroConfig(library_id=1, api_key=Secret("M" * 24), api_url="http://model"),
            watch=replace(
                WatchConfig(),
                directory=self.folder,
                settle_seconds=0.0,
                events=False,
                rescan_seconds=1e-6,
            ),
            state=StateConfig(self.tmp / "state.db"),
        )
        self.files: dict[str, list[int]] = {}
        self.user_deleted: set[str] = set()
        self.names = itertools.count()
        self.other_keys = itertools.count()
        self.mtime = itertools.count(1_700_000_000)
        self.daemon: Daemon | None = None
        self.restarts = 0
        self._start()

    _tmp_factory: Any = None  # set by the test: a tmp_path factory

    # ---- the process ------------------------------------------------------------------------

    def _start(self) -> None:
        self.server.crash_in = None
        d = Daemon(self.config, lambda config, sleep: MemoryGateway(self.server))  # type: ignore[arg-type,return-value]
        d.store = StateStore(self.config.state.path)
        self.daemon = d
        try:
            d._start()
        except Crash:
            self._died()

    def _died(self) -> None:
        assert self.daemon is not None
        if self.daemon.store is not None:
            self.daemon.store.close()
        self.daemon = None
        self.restarts += 1

    def _tick(self) -> None:
        if self.daemon is None:
            self._start()
            return
        self.daemon.retry_at = 0.0  # as if the backoff had passed
        try:
            self.daemon._tick()
        except Crash:
            self._died()

    # ---- the folder ------------------------------------------------------------------------

    def _write(self, name: str, pmids: list[int]) -> None:
        path = self.folder / name
        path.write_text(medline(pmids), encoding="utf-8")
        t = next(self.mtime)
        os.utime(path, (t, t))
        self.files[name] = pmids

    @rule(pmids=st.lists(st.sampled_from(POOL), min_size=1, max_size=6, unique=True))
    def a_file_appears(self, pmids: list[int]) -> None:
        self._write(f"pubmed-{next(self.names)}.nbib", pmids)

    @precondition(lambda self: bool(self.files))
    @rule(data=st.data(), pmids=st.lists(st.sampled_from(POOL), min_size=1, max_size=6))
    def a_file_changes(self, data: st.DataObject, pmids: list[int]) -> None:
        name = data.draw(st.sampled_from(sorted(self.files)))
        self._write(name, sorted(set(pmids)))

    @precondition(lambda self: bool(self.files))
    @rule(data=st.data())
    def a_file_vanishes(self, data: st.DataObject) -> None:
        name = data.draw(st.sampled_from(sorted(self.files)))
        (self.folder / name).unlink()
        del self.files[name]

    # ---- the server and the world ------------------------------------------------------------

    @rule(n=st.integers(1, 6))
    def the_server_fails(self, n: int) -> None:
        self.server.fail_next = n

    @rule()
    def an_answer_is_lost(self) -> None:
        self.server.lose_next_answer = True

    @rule(calls=st.integers(1, 12), after=st.booleans())
    def the_process_will_die(self, calls: int, after: bool) -> None:
        self.server.crash_in = calls
        self.server.crash_after_apply = after

    @rule(pmid=st.sampled_from(POOL))
    def another_client_creates(self, pmid: int) -> None:
        s = self.server
        if str(pmid) in s.pmids() or str(pmid) in self.user_deleted:
            return  # a careful client looks first
        n = next(self.other_keys)  # a key of its own, never one used before
        key = "Z" + "".join(_ALPHABET[n // 33**i % 33] for i in range(7))
        s.version += 1
        s.items[key] = (s.version, {"itemType": "journalArticle", "PMID": str(pmid)})

    def _known(self) -> list[str]:
        """Items syncd created or matched an imported article to (``recreate_deleted`` is about
        articles syncd imported): one it never imported is, once deleted, simply not there."""
        if not self.config.state.path.exists():
            return []
        with StateStore(self.config.state.path, readonly=True) as store:
            seen = {r.key for r in store.records("users/1", ["pushed", "duplicate"])}
        return sorted(k for k in self.server.items if k in seen)

    @rule(data=st.data())
    def the_user_deletes_an_item(self, data: st.DataObject) -> None:
        s = self.server
        known = self._known()
        if not known:
            return
        key = data.draw(st.sampled_from(known))
        pmid = item_identifiers(s.items[key][1]).pmid
        del s.items[key]
        s.version += 1
        s.deleted[key] = s.version
        if pmid:
            self.user_deleted.add(pmid)

    @rule()
    def the_daemon_works(self) -> None:
        self._tick()

    # ---- what must hold ---------------------------------------------------------------------

    @invariant()
    def no_article_twice_and_nothing_deleted_comes_back(self) -> None:
        held = self.server.pmids()
        twice = {p for p in held if held.count(p) > 1}
        assert not twice, f"held twice: {twice}"
        back = set(held) & self.user_deleted
        assert not back, f"deleted by the user and brought back: {back}"

    def teardown(self) -> None:
        try:
            s = self.server
            s.fail_next, s.lose_next_answer, s.crash_in = 0, False, None
            for _ in range(8):
                self._tick()
            d = self.daemon
            assert d is not None
            assert not d.trouble and not d.waiting, (d.trouble, list(d.waiting))
            wanted = {str(p) for pmids in self.files.values() for p in pmids}
            missing = wanted - set(s.pmids()) - self.user_deleted
            assert not missing, f"never imported: {missing}"
            self.no_article_twice_and_nothing_deleted_comes_back()
        finally:
            if self.daemon is not None and self.daemon.store is not None:
                self.daemon.store.close()


@pytest.mark.timeout(600)
def test_the_daemon_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    DaemonModel._tmp_factory = staticmethod(lambda: tmp_path_factory.mktemp("model"))
    state = settings(max_examples=100, stateful_step_count=40, deadline=None)
    DaemonModel.TestCase.settings = state
    DaemonModel.TestCase().runTest()
