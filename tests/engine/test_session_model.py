"""A Hypothesis state machine over import sessions on the memory twin: exactly once, and counts
that add up (issue 13 §2).

Two syncd installations (each its own state database and its own client of one
:class:`~syncd.targets.memory.MemoryLibrary`, deriving the same item keys) import files of
overlapping records: articles with a PMID, with only a DOI, and with only a title. Meanwhile the
server fails, loses an answer after applying a write, the process dies at any call (before or
after a write is applied), another client adds an article, the user deletes an item, and a state
database is lost. The config is drawn once per run: ``on_duplicate``, ``match`` and
``recreate_deleted``.

What must hold:

* at every step, no article is held twice, and nothing the user deleted comes back unless
  ``recreate_deleted``;
* every report accounts for each record once: ``new + duplicates + failed + pending ==
  records``, nothing failed (every record here is importable);
* once the faults stop and every file is read again, every article is in the library, and the
  counts agree with what the library gained: with one writer ``new`` summed over the history
  rows of its runs (what ``syncd status`` adds up; uncertain included) *equals* the items it
  added; with two, the certain ``new`` of both is at most what was gained, and what was gained
  at most their ``new`` with the uncertain ones. A lost state database forgets what it had not
  yet counted, and an item the user deleted before any run counted it was never gained: after
  either, only the lower bound holds.
"""

from __future__ import annotations

import itertools
import os
import re
import socket
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest
from hypothesis import settings
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, initialize, invariant, precondition, rule

from syncd.config import Config, DedupConfig, Secret, StateConfig, ZoteroConfig
from syncd.engine import Importer, Report
from syncd.errors import RemoteError
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget, SimulatedCrash

# Twelve articles: six with a PMID (and a DOI), three with only a DOI, three with only a title.
PMID_ARTICLES = range(0, 6)
DOI_ARTICLES = range(6, 9)
TITLE_ARTICLES = range(9, 12)
POOL = list(range(12))
_TOKEN = re.compile(r"article (\d+) of the model")
PROOF = os.environ.get("SYNCD_PROOF") == "1"


def record(n: int) -> str:
    """The MEDLINE record of article ``n`` (its title names it: ``article N of the model``)."""
    lines = [f"PMID- {53000000 + n}"] if n in PMID_ARTICLES else []
    lines += [
        "DP  - 2021 Mar",
        f"TI  - A trial of compound {'ABCDEFGHIJKL'[n]}: article {n} of the model.",
        f"FAU - Author{'ABCDEFGHIJKL'[n]}, Ann",
        "PT  - Journal Article",
        "JT  - Journal of models",
        f"MH  - Heading {n % 4}",
    ]
    if n not in TITLE_ARTICLES:
        lines.append(f"AID - 10.5555/model.{n} [doi]")
    return "\n".join(lines) + "\n"


def article_of(data: dict[str, Any]) -> int | None:
    m = _TOKEN.search(str(data.get("title", "")))
    return int(m.group(1)) if m else None


@dataclass
class Session:
    """One syncd installation: its state database, and what its runs reported."""

    name: str
    db: Path
    store: StateStore | None = None
    new: int = 0
    certain: int = 0
    gained: int = 0
    lost_uncounted: bool = False
    """Its state database was lost while it held rows not yet counted."""
    reads: set[str] = field(default_factory=set)


class SessionModel(RuleBasedStateMachine):
    _tmp_factory: Callable[[], Path] | None = None  # set by the test

    def __init__(self) -> None:
        super().__init__()
        assert self._tmp_factory is not None
        self.tmp = Path(self._tmp_factory())
        self.library = MemoryLibrary()
        self.sessions = {n: Session(n, self.tmp / f"{n}.db") for n in ("a", "b")}
        self.files: dict[str, list[int]] = {}
        self.names = itertools.count()
        self.user_deleted: set[int] = set()
        self.config = Config(
            zotero=ZoteroConfig(library_id=1, api_key=Secret("M" * 24), api_url="http://model"),
            state=StateConfig(self.tmp / "unused.db"),
        )
        self.second_writer = False
        self.foreign: set[int] = set()  # articles another client added
        self.deleted_uncounted = False
        self.either: set[int] = set()  # another client's item deleted: syncd may bring it back

    @initialize(
        on_duplicate=st.sampled_from(["merge", "skip"]),
        match=st.sampled_from([("pmid",), ("pmid", "doi"), ("pmid", "doi", "title")]),
        recreate_deleted=st.booleans(),
    )
    def the_config(self, on_duplicate: str, match: tuple[str, ...], recreate_deleted: bool) -> None:
        dedup = replace(
            DedupConfig(), on_duplicate=on_duplicate, match=match, recreate_deleted=recreate_deleted
        )
        self.config = replace(self.config, dedup=dedup)

    # ---- syncd ------------------------------------------------------------------------------

    def _store(self, s: Session) -> StateStore:
        if s.store is None:
            s.store = StateStore(s.db)
        return s.store

    def _import(self, s: Session, names: list[str]) -> Report | None:
        store = self._store(s)
        before = set(self.library.items)
        config = replace(self.config, state=StateConfig(s.db))
        importer = Importer(config, store, MemoryTarget(self.library), sleep=lambda _: None)
        report: Report | None = None
        try:
            report = importer.run([self.tmp / n for n in names])
        except SimulatedCrash:
            store.close()  # the process died: its connection goes with it
            s.store = None
        except RemoteError as err:
            assert err.transient, err
        finally:
            s.gained += len(set(self.library.items) - before)
        if report is not None:
            c = report.counts()
            assert c["new"] + c["duplicates"] + c["failed"] + c["pending"] == c["records"], c
            assert c["failed"] == 0, [e.reason for e in report.failed]
            # What the files' history rows say (``syncd status`` sums them): a record settled
            # from an earlier run counts for the file it was read from, when that is read.
            counted = [f for f in report.files if f.recorded]
            s.new += sum(f.new for f in counted)
            s.certain += sum(f.new - f.uncertain for f in counted)
        return report

    @rule(articles=st.lists(st.sampled_from(POOL), min_size=1, max_size=6))
    def a_file_is_exported(self, articles: list[int]) -> None:
        name = f"export-{next(self.names)}.nbib"
        (self.tmp / name).write_text("\n".join(record(n) for n in articles), encoding="utf-8")
        self.files[name] = articles

    @precondition(lambda self: self.files)
    @rule(data=st.data(), who=st.sampled_from(["a", "a", "b"]))
    def a_session_imports(self, data: st.DataObject, who: str) -> None:
        names = data.draw(
            st.lists(st.sampled_from(sorted(self.files)), min_size=1, max_size=3, unique=True)
        )
        self.second_writer |= who == "b"
        self._import(self.sessions[who], names)

    # ---- faults -----------------------------------------------------------------------------

    @rule(n=st.integers(1, 8))
    def the_server_fails(self, n: int) -> None:
        self.library.fail_next = n

    @rule()
    def an_answer_is_lost(self) -> None:
        self.library.lose_next_answer = True

    @rule(calls=st.integers(1, 10), after=st.booleans())
    def the_process_will_die(self, calls: int, after: bool) -> None:
        self.library.crash_in, self.library.crash_after_apply = calls, after

    @rule(who=st.sampled_from(["a", "b"]))
    def a_state_database_is_lost(self, who: str) -> None:
        s = self.sessions[who]
        store = self._store(s)
        # An item it created and never reported (its run died) is a duplicate for the next
        # run once the memory of it is gone.
        if s.gained > s.new:
            s.lost_uncounted = True
        store.close()
        s.store = None
        for suffix in ("", "-wal", "-shm"):
            Path(f"{s.db}{suffix}").unlink(missing_ok=True)

    # ---- other people -----------------------------------------------------------------------

    def _held(self) -> dict[int, list[str]]:
        held: dict[int, list[str]] = {}
        for key, (_, data) in self.library.items.items():
            if (n := article_of(data)) is not None and not data.get("deleted"):
                held.setdefault(n, []).append(key)
        return held

    @rule(n=st.sampled_from(list(PMID_ARTICLES)))
    def another_client_adds_an_article(self, n: int) -> None:
        if n in self._held() or n in self.user_deleted:
            return
        self.foreign.add(n)
        self.library.add(
            {
                "itemType": "journalArticle",
                "title": f"Compound trial, article {n} of the model",
                "extra": f"PMID: {53000000 + n}",
            }
        )

    @rule(data=st.data())
    def the_user_deletes_an_item(self, data: st.DataObject) -> None:
        held = self._held()
        if not held:
            return
        n = data.draw(st.sampled_from(sorted(held)))
        for key in held[n]:
            self.library.delete(key)
        if n in self.foreign:
            # Not syncd's item: syncd brings the article in again unless a run recorded its
            # record as a duplicate of that item (then the user deleted what syncd holds for it).
            self.foreign.discard(n)
            self.either.add(n)
            return
        self.either.discard(n)
        self.user_deleted.add(n)
        if any(s.gained > s.new for s in self.sessions.values()):
            # An item created by a run that died before counting it, deleted before any run
            # counted it: the library never gained it, and no run will say it was new.
            self.deleted_uncounted = True

    # ---- what must hold ---------------------------------------------------------------------

    @invariant()
    def no_article_twice_and_nothing_deleted_comes_back(self) -> None:
        held = self._held()
        twice = {n: keys for n, keys in held.items() if len(keys) > 1}
        assert not twice, f"held twice: {twice}"
        if not self.config.dedup.recreate_deleted:
            back = set(held) & self.user_deleted
            assert not back, f"deleted by the user and brought back: {back}"

    def teardown(self) -> None:
        try:
            self._settle_everything()
        finally:
            for s in self.sessions.values():
                if s.store is not None:
                    s.store.close()

    def _settle_everything(self) -> None:
        if not self.files:
            return
        lib = self.library
        lib.fail_next, lib.lose_next_answer, lib.crash_in = 0, False, None
        # Each file is read again by each session that ever ran (its uncounted rows are
        # counted then); a file changed by a byte so that no one takes it as unchanged.
        for name in list(self.files):
            path = self.tmp / name
            path.write_text(path.read_text(encoding="utf-8") + "\n", encoding="utf-8")
        for s in self.sessions.values():
            if s.name == "a" or s.store is not None or s.db.exists():
                report = self._import(s, sorted(self.files))
                assert report is not None and report.exit_code == 0
        self.no_article_twice_and_nothing_deleted_comes_back()
        wanted = {n for articles in self.files.values() for n in articles}
        if not self.config.dedup.recreate_deleted:
            wanted -= self.user_deleted
        missing = wanted - set(self._held()) - self.either
        assert not missing, f"never imported: {missing}"
        a, b = self.sessions["a"], self.sessions["b"]
        gained = a.gained + b.gained
        certain = a.certain + b.certain
        new = a.new + b.new
        assert certain <= gained, (certain, gained)
        if not (a.lost_uncounted or b.lost_uncounted or self.deleted_uncounted):
            assert gained <= new, (gained, new)
            if not self.second_writer:
                assert a.new == a.gained, (a.new, a.gained)


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the engine opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.mark.slow
@pytest.mark.timeout(900)
def test_the_import_session_model(tmp_path_factory: pytest.TempPathFactory) -> None:
    SessionModel._tmp_factory = staticmethod(lambda: tmp_path_factory.mktemp("session"))
    # Most sequences are short: a few hundred find what 60 missed; ``make proof`` runs more.
    examples, steps = (3000, 60) if PROOF else (300, 30)
    SessionModel.TestCase.settings = settings(
        max_examples=examples, stateful_step_count=steps, deadline=None
    )
    SessionModel.TestCase().runTest()
