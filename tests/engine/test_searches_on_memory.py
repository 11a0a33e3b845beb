"""Polling saved searches on the memory twin, with an E-utilities fake in the test: windows,
what is fetched, what advances a search, crashes, the schedule. No socket."""

from __future__ import annotations

import random
import socket
import time
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import pytest

from syncd.config import Config, Secret, StateConfig, ZoteroConfig
from syncd.config_search import SearchConfig
from syncd.core.searches import day_number
from syncd.errors import RemoteError
from syncd.searches import (
    Poller,
    SearchRunner,
    import_through_engine,
    importer_factory,
    next_wakeup,
    poll_line,
    search_config,
)
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget, SimulatedCrash
from tests.helpers import medline

DAY = 86_400.0
TODAY = float(day_number("2026-12-07")) * DAY + 3600  # 01:00 UTC


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("a socket was opened")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@dataclass
class Hits:
    count: int
    pmids: list[str]


@dataclass
class FakeEutils:
    """PubMed as far as a poll sees it: PMIDs with an Entrez day; a query matches them all."""

    edat: dict[str, str] = field(default_factory=dict)
    deleted: set[str] = field(default_factory=set)  # found by esearch, not returned by efetch
    calls: list[tuple[str, Any]] = field(default_factory=list)
    down: bool = False
    fetch_down: bool = False
    requests: int = 0

    def close(self) -> None:
        pass

    def add(self, day: str, pmids: Sequence[int]) -> None:
        self.edat.update((str(p), day) for p in pmids)

    def esearch(
        self,
        term: str,
        *,
        mindate: str | None = None,
        maxdate: str | None = None,
        datetype: str = "edat",
        retmax: int = 10000,
    ) -> Hits:
        self.calls.append(("esearch", (mindate, maxdate)))
        if self.down:
            raise RemoteError("NCBI did not answer", transient=True)
        assert datetype == "edat" and mindate and maxdate
        lo, hi = mindate.replace("/", "-"), maxdate.replace("/", "-")
        found = sorted((p for p, d in self.edat.items() if lo <= d <= hi), key=int, reverse=True)
        return Hits(len(found), found[:retmax])

    def efetch(self, pmids: Sequence[str]) -> bytes:
        self.calls.append(("efetch", list(pmids)))
        if self.fetch_down:
            raise RemoteError("NCBI did not answer within 120 s", transient=True)
        known = [int(p) for p in pmids if p in self.edat and p not in self.deleted]
        return medline(known).encode() if known else b""

    def count(self, utility: str) -> int:
        return sum(1 for u, _ in self.calls if u == utility)


class CountingTarget(MemoryTarget):
    requests = 0

    def _enter(self, write: bool = False) -> bool:
        CountingTarget.requests += 1
        return super()._enter(write)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        zotero=ZoteroConfig(library_id=1, api_key=Secret("M" * 24), api_url="http://memory"),
        state=StateConfig(tmp_path / "state.db"),
        searches=(
            SearchConfig(
                "ket",
                "ketamine",
                collection="Ketamine alerts",
                tags=("alert:ket",),
                since="2026-11-01",
            ),
        ),
    )


@pytest.fixture
def store(config: Config) -> Iterator[StateStore]:
    with StateStore(config.state.path) as s:
        yield s


class World:
    def __init__(self, config: Config, store: StateStore, tmp_path: Path) -> None:
        self.config, self.store, self.tmp = config, store, tmp_path
        self.library = MemoryLibrary()
        self.pubmed = FakeEutils()
        self.clock = TODAY

    def poller(self, **kw: Any) -> Poller:
        importer_for = importer_factory(
            self.store,
            lambda cfg: CountingTarget(self.library),
            self.pubmed,
            dry_run=kw.get("dry_run", False),
            sleep=lambda s: None,
        )
        return Poller(
            kw.pop("config", self.config),
            self.store,
            self.pubmed,
            import_through_engine,
            importer_for,
            now=lambda: self.clock,
            rng=random.Random(4),
            **kw,
        )

    def search(self) -> SearchConfig:
        return self.config.searches[0]

    def tagged(self) -> dict[str, list[str]]:
        out = {}
        for _, data in self.library.items.values():
            if "title" in data:
                out[data["title"].split()[-6].rstrip(",")] = sorted(t["tag"] for t in data["tags"])
        return out


@pytest.fixture
def world(config: Config, store: StateStore, tmp_path: Path) -> World:
    return World(config, store, tmp_path)


def test_a_search_polled_twice_creates_exactly_the_new_entries(world: World) -> None:
    world.pubmed.add("2026-11-05", [71000001, 71000002])
    world.pubmed.add("2026-10-01", [71000009])  # before since: not taken
    first = world.poller().poll(world.search())
    assert first.exit_code == 0 and first.advanced and first.full
    assert sorted(world.library.pmids()) == ["71000001", "71000002"]
    collections = {name for name, _, _ in world.library.collections.values()}
    assert collections == {"Ketamine alerts"}
    assert all("alert:ket" in tags for tags in world.tagged().values())
    assert "2 hits, 2 not seen before: 2 new" in poll_line(first)

    world.clock += DAY
    world.pubmed.add("2026-12-08", [71000003])
    world.pubmed.calls.clear()
    second = world.poller().poll(world.search())
    assert second.report is not None and second.report.counts()["new"] == 1
    assert sorted(world.library.pmids()) == ["71000001", "71000002", "71000003"]
    # Only the new PMID was fetched; the window is the last success minus the overlap.
    assert [c for c in world.pubmed.calls if c[0] == "efetch"] == [("efetch", ["71000003"])]
    assert world.pubmed.calls[0] == ("esearch", ("2026/11/30", "2026/12/08"))


def test_an_unchanged_search_costs_one_esearch_and_no_zotero_request(world: World) -> None:
    world.pubmed.add("2026-12-05", [71000011, 71000012])
    world.poller().poll(world.search())
    world.clock += DAY
    world.pubmed.calls.clear()
    CountingTarget.requests = 0
    writes = world.library.writes
    result = world.poller().poll(world.search())
    assert result.exit_code == 0 and result.advanced and result.hits == 2
    assert len(world.pubmed.calls) <= 2 and world.pubmed.count("efetch") == 0
    assert CountingTarget.requests <= 1 and world.library.writes == writes
    row = world.store.search_row("users/1", "ket", "ketamine")
    assert row is not None and (row.last_new, row.last_duplicates) == (0, 2)


def test_a_window_over_the_cap_is_split_and_nothing_is_cut(world: World) -> None:
    for n in range(12):
        world.pubmed.add(f"2026-11-{n + 1:02d}", [71000100 + n])
    poller = world.poller()
    poller.cap = 5
    result = poller.poll(world.search())
    assert result.exit_code == 0 and result.windows >= 3 and result.hits == 12
    assert len(world.library.pmids()) == 12


def test_one_day_over_the_cap_fails_the_poll_naming_the_day(world: World) -> None:
    world.pubmed.add("2026-11-03", list(range(71000200, 71000207)))
    poller = world.poller()
    poller.cap = 5
    result = poller.poll(world.search())
    assert result.exit_code == 2 and not result.advanced
    assert result.error == "narrow the query: 7 hits on 2026-11-03"
    row = world.store.search_row("users/1", "ket", "ketamine")
    assert row is not None and row.last_ok is False and row.last_success is None
    assert row.last_error == result.error and world.library.pmids() == []


def test_a_pmid_efetch_does_not_return_fails_alone_and_is_not_fetched_again(world: World) -> None:
    world.pubmed.add("2026-11-05", [71000301, 71000302])
    world.pubmed.deleted.add("71000302")
    result = world.poller().poll(world.search())
    assert result.exit_code == 1 and result.advanced  # a failed record, settled for good
    assert result.report is not None
    assert [e.reason for e in result.report.failed] == ["PMID 71000302 is not in PubMed"]
    world.clock += DAY
    world.pubmed.calls.clear()
    again = world.poller().poll(world.search())
    assert again.exit_code == 0 and world.pubmed.count("efetch") == 0


def test_ncbi_down_leaves_the_search_where_it_was(world: World) -> None:
    world.pubmed.add("2026-11-05", [71000401])
    world.pubmed.down = True
    result = world.poller().poll(world.search())
    assert result.exit_code == 1 and result.error and "PubMed could not be reached" in result.error
    row = world.store.search_row("users/1", "ket", "ketamine")
    assert row is not None and row.failures == 1 and row.next_poll is not None
    assert row.next_poll < TODAY + 24 * 3600  # tried again sooner than its interval
    world.pubmed.down = False
    assert world.poller().poll(world.search()).exit_code == 0
    assert world.library.pmids() == ["71000401"]


@pytest.mark.parametrize("crash_in", [1, 2, 3, 4, 5, 6])
def test_a_crash_anywhere_in_a_poll_loses_nothing_and_creates_nothing_twice(
    world: World, crash_in: int
) -> None:
    world.pubmed.add("2026-11-05", list(range(71000500, 71000520)))
    world.library.crash_in = crash_in
    world.library.crash_after_apply = crash_in % 2 == 0
    with pytest.raises(SimulatedCrash):
        world.poller().poll(world.search())
    row = world.store.search_row("users/1", "ket", "ketamine")
    assert row is None or row.last_success is None  # not advanced
    result = world.poller().poll(world.search())
    assert result.advanced
    pmids = world.library.pmids()
    assert sorted(pmids) == [str(p) for p in range(71000500, 71000520)]


def test_a_changed_query_is_a_new_search(world: World, config: Config) -> None:
    world.pubmed.add("2026-11-05", [71000601])
    world.poller().poll(world.search())
    changed = replace(config, searches=(replace(world.search(), query="ketamine AND rats"),))
    world.pubmed.calls.clear()
    result = world.poller(config=changed).poll(changed.searches[0])
    assert result.full and result.candidates == 1  # its window starts again
    assert len(world.store.search_rows("users/1")) == 2


def test_due_searches_are_scheduled_once_and_spread(world: World, config: Config) -> None:
    many = replace(
        config,
        searches=(
            *(SearchConfig(f"s{i}", f"q{i}") for i in range(3)),
            SearchConfig("off", "q", enabled=False),
        ),
    )
    poller = world.poller(config=many)
    due = poller.due()
    assert [s.name for s in due] == ["s0"]  # the others spread over the next minutes
    dues = [world.store.search_row("users/1", f"s{i}", f"q{i}") for i in range(3)]
    times = [r.next_poll for r in dues if r]
    assert len(set(times)) == 3 and max(times) - min(times) < 600  # type: ignore[operator]
    assert world.store.search_row("users/1", "off", "q") is None
    # A restart does not make them due at once: the schedule is in the state database.
    assert [s.name for s in world.poller(config=many).due()] == ["s0"]
    poller.poll(many.searches[0])
    world.clock += 600
    assert [s.name for s in world.poller(config=many).due()] == ["s1", "s2"]
    world.clock += 26.4 * 3600
    assert {s.name for s in world.poller(config=many).due()} == {"s0", "s1", "s2"}


def test_search_config_adds_tags_and_collection(config: Config) -> None:
    base = replace(config, tags=replace(config.tags, extra=("pubmed",)))
    cfg = search_config(base, base.searches[0])
    assert cfg.tags.extra == ("pubmed", "alert:ket")
    assert cfg.zotero.collection == "Ketamine alerts"
    plain = search_config(base, SearchConfig("x", "y"))
    assert plain.zotero.collection is None and plain.tags.extra == ("pubmed",)


def test_a_dry_run_writes_nothing(world: World) -> None:
    world.pubmed.add("2026-11-05", [71000701])
    result = world.poller(dry_run=True).poll(world.search())
    assert result.report is not None and result.hits == 1
    assert world.store.search_rows("users/1") == []


def test_ncbi_lost_while_fetching_leaves_the_pmids_for_the_next_poll(world: World) -> None:
    world.pubmed.add("2026-11-05", [71000801, 71000802])
    world.pubmed.fetch_down = True
    result = world.poller().poll(world.search())
    assert result.exit_code == 1 and not result.advanced
    assert result.report is not None and len(result.report.pending) == 2
    assert world.store.search_seen("users/1", "ket", "ketamine", ["71000801", "71000802"]) == set()
    row = world.store.search_row("users/1", "ket", "ketamine")
    assert row is not None and row.last_success is None and row.last_ok is False
    assert row.last_error is not None
    assert row.last_error.startswith("2 records left pending: not fetched: NCBI did not answer")
    world.pubmed.fetch_down = False
    again = world.poller().poll(world.search())
    assert again.exit_code == 0 and again.advanced
    assert sorted(world.library.pmids()) == ["71000801", "71000802"]


def test_zotero_failing_is_raised_after_the_search_says_so(world: World) -> None:
    world.pubmed.add("2026-11-05", [71000901])
    world.library.fail_next = 1000
    with pytest.raises(RemoteError):
        world.poller().poll(world.search())
    row = world.store.search_row("users/1", "ket", "ketamine")
    assert row is not None and row.last_ok is False and row.last_success is None
    assert row.last_error is not None and "503" in row.last_error
    world.library.fail_next = 0
    assert world.poller().poll(world.search()).exit_code == 0
    assert world.library.pmids() == ["71000901"]


def test_the_daemon_runner_polls_due_searches_and_never_leaves_one_due_after_a_failure(
    world: World, caplog: pytest.LogCaptureFixture
) -> None:
    world.pubmed.add("2026-11-05", [71001001])
    runner = SearchRunner(
        lambda cfg, sleep: world.pubmed, lambda cfg, sleep: CountingTarget(world.library)
    )
    world.library.fail_next = 1000  # Zotero down: the poll fails, the search is rescheduled
    with caplog.at_level("INFO", logger="syncd.searches"):
        assert runner.run_due(world.config, world.store, lambda s: None) == 1
    assert next_wakeup(world.config, world.store, time.time()) > time.time()
    assert "search 'ket': poll failed" in caplog.text
    row = world.store.search_row("users/1", "ket", "ketamine")
    assert row is not None and row.next_poll is not None
    world.store.put_search("users/1", replace(row, next_poll=0.0), "2026-12-07T00:00:00Z")
    world.library.fail_next = 0
    with caplog.at_level("INFO", logger="syncd.searches"):
        assert runner.run_due(world.config, world.store, lambda s: None) == 0
    assert "search 'ket': 1 hit, 1 not seen before: 1 new" in caplog.text
    assert world.library.pmids() == ["71001001"]
    # Polled: not due again for a day (plus its jitter).
    assert next_wakeup(world.config, world.store, time.time()) >= time.time() + 24 * 3600
    assert runner.run_due(world.config, world.store, lambda s: None) == 0
    runner.close()
