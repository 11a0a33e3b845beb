"""A Hypothesis state machine over the daemon's worker and an in-memory Zotero.

The daemon (its worker's steps, driven one ``tick`` at a time, without threads or events) runs
against :class:`~syncd.targets.memory.MemoryLibrary`, the in-package memory twin of a Zotero
library, with the server semantics that exactly-once rests on (versions,
``If-Unmodified-Since-Version``, per-object "already exists" for a key that is taken,
``/deleted``). Meanwhile files appear, change and vanish in the watched folder; the server
fails, loses answers after applying a write, and is written by another client; the user deletes
items; the process dies at any call and starts again on the same state database and folder.

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
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget
from syncd.targets.memory import SimulatedCrash as Crash
from tests.helpers import medline

POOL = list(range(51000001, 51000013))  # a dozen articles, so that files overlap


class DaemonModel(RuleBasedStateMachine):
    def __init__(self) -> None:
        super().__init__()
        self.tmp = Path(self._tmp_factory())
        self.folder = self.tmp / "inbox"
        self.folder.mkdir()
        self.server = MemoryLibrary()
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
        self.mtime = itertools.count(1_700_000_000)
        self.daemon: Daemon | None = None
        self.restarts = 0
        self._start()

    _tmp_factory: Any = None  # set by the test: a tmp_path factory

    # ---- the process ------------------------------------------------------------------------

    def _start(self) -> None:
        self.server.crash_in = None
        d = Daemon(self.config, lambda config, sleep: MemoryTarget(self.server))
        d.store = StateStore(self.config.state.path)
        self.daemon = d
        try:
            d.begin()
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
            self.daemon.step()
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
        s.add({"itemType": "journalArticle", "PMID": str(pmid)})  # a key of its own

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
        s.delete(key)
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


@pytest.mark.slow
@pytest.mark.timeout(600)
def test_the_daemon_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    DaemonModel._tmp_factory = staticmethod(lambda: tmp_path_factory.mktemp("model"))
    state = settings(max_examples=100, stateful_step_count=40, deadline=None)
    DaemonModel.TestCase.settings = state
    DaemonModel.TestCase().runTest()
