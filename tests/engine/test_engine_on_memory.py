"""The import engine on the memory twin of a library: no socket, no server, milliseconds a test.

What the engine decides and counts (new, duplicate, uncertain, recovered, merged), with lost
answers, a second writer, a crash between a write and its record, and a target that cannot
promise exactly-once. Every test runs with sockets forbidden: the engine knows its target only
through :class:`syncd.targets.base.Target`.
"""

from __future__ import annotations

import socket
from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from syncd.config import Config, Secret, StateConfig, ZoteroConfig
from syncd.engine import Importer, Report
from syncd.errors import ConfigError, RemoteError
from syncd.state import StateStore
from syncd.targets.base import Capabilities, VersionConflict
from syncd.targets.memory import MemoryLibrary, MemoryTarget, SimulatedCrash
from tests.helpers import medline


@pytest.fixture(autouse=True)
def no_sockets(monkeypatch: pytest.MonkeyPatch) -> None:
    def refuse(*args: Any, **kwargs: Any) -> None:
        raise AssertionError("the engine opened a socket")

    monkeypatch.setattr(socket, "socket", refuse)
    monkeypatch.setattr(socket, "create_connection", refuse)


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        zotero=ZoteroConfig(library_id=1, api_key=Secret("M" * 24), api_url="http://memory"),
        state=StateConfig(tmp_path / "state.db"),
    )


@pytest.fixture
def store(config: Config) -> Iterator[StateStore]:
    with StateStore(config.state.path) as s:
        yield s


def export(tmp_path: Path, name: str, pmids: list[int]) -> Path:
    path = tmp_path / name
    path.write_text(medline(pmids), encoding="utf-8")
    return path


def run(config: Config, store: StateStore, library: MemoryLibrary, *paths: Path) -> Report:
    return Importer(config, store, MemoryTarget(library), sleep=lambda s: None).run(list(paths))


def test_a_first_import_creates_each_article_once_and_says_so(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    path = export(tmp_path, "a.nbib", [52000001, 52000002, 52000003, 52000001])
    report = run(config, store, library, path)
    c = report.counts()
    assert (c["records"], c["new"], c["duplicates"], c["uncertain"]) == (4, 3, 1, 0)
    assert sorted(library.pmids()) == ["52000001", "52000002", "52000003"]
    assert report.exit_code == 0
    assert "same article as" in report.duplicates[0].reason


def test_the_same_file_again_writes_nothing(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    path = export(tmp_path, "a.nbib", [52000011, 52000012])
    run(config, store, library, path)
    writes = library.writes
    again = run(config, store, library, path).counts()
    assert (again["new"], again["duplicates"]) == (0, 2)
    assert library.writes == writes


def test_tags_and_the_collection_by_name_are_merged_into_what_is_there(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    theirs = library.add({"itemType": "journalArticle", "title": "x", "extra": "PMID: 52000021"})
    config = replace(config, zotero=replace(config.zotero, collection="Reviews/Ketamine"))
    report = run(config, store, library, export(tmp_path, "a.nbib", [52000021]))
    assert report.counts()["duplicates"] == 1 and report.merged == [theirs]
    coll = next(k for k, (name, _, _) in library.collections.items() if name == "Ketamine")
    assert library.items[theirs][1]["collections"] == [coll]


def test_a_lost_answer_is_new_but_uncertain_never_twice(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    library.lose_next_answer = True
    path = export(tmp_path, "a.nbib", [52000031, 52000032])
    with pytest.raises(RemoteError) as lost:  # applied, its answer lost
        run(config, store, library, path)
    assert lost.value.transient
    assert store.status_counts("users/1") == {"pending": 2}
    second = run(config, store, library, path)
    c = second.counts()
    assert sorted(library.pmids()) == ["52000031", "52000032"]
    assert (c["new"], c["uncertain"], c["duplicates"]) == (2, 2, 0)
    assert second.exit_code == 0


def test_a_crash_after_the_write_is_settled_by_the_next_run(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    path = export(tmp_path, "a.nbib", [52000041, 52000042, 52000043])
    target = MemoryTarget(library)
    calls_to_the_write = 1
    while True:  # die at the write, whichever call it is
        library.crash_in, library.crash_after_apply = calls_to_the_write, True
        try:
            Importer(config, store, target, sleep=lambda s: None).run([path])
        except SimulatedCrash:
            if library.items:
                break
        calls_to_the_write += 1
        assert calls_to_the_write < 20
    library.crash_in = None
    report = Importer(config, store, MemoryTarget(library)).run([path])
    c = report.counts()
    assert sorted(library.pmids()) == ["52000041", "52000042", "52000043"]
    assert (c["new"], c["duplicates"]) == (3, 0), "its own items are not duplicates"
    assert c["uncertain"] == 3


def test_a_second_writer_between_index_and_write_never_makes_a_twin(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()

    class Racing(MemoryTarget):
        """Another client creates one of the articles just before our first write."""

        raced = False

        def create_items(self, items: Any, *, if_unmodified_since: int | None = None) -> Any:
            if not self.raced:
                Racing.raced = True
                library.add({"itemType": "journalArticle", "extra": "PMID: 52000052"})
            return super().create_items(items, if_unmodified_since=if_unmodified_since)

    path = export(tmp_path, "a.nbib", [52000051, 52000052])
    report = Importer(config, store, Racing(library), sleep=lambda s: None).run([path])
    assert sorted(library.pmids()) == ["52000051", "52000052"]
    c = report.counts()
    assert (c["new"], c["duplicates"]) == (1, 1)


def test_an_item_the_user_deleted_is_not_brought_back(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    path = export(tmp_path, "a.nbib", [52000061])
    run(config, store, library, path)
    (key,) = library.items
    library.delete(key)
    report = run(config, store, library, export(tmp_path, "b.nbib", [52000061]))
    assert library.pmids() == [] and report.counts()["duplicates"] == 1
    assert "deleted" in report.duplicates[0].reason


def test_a_key_that_may_not_write_is_refused_before_anything_is_read(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    target = MemoryTarget(library, can_write=False)
    with pytest.raises(RemoteError, match="may not write"):
        Importer(config, store, target).run([export(tmp_path, "a.nbib", [52000071])])
    assert library.writes == 0


def test_a_target_that_cannot_promise_exactly_once_is_refused(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    target = MemoryTarget(library)
    target.capabilities = Capabilities(library_guard=False)
    with pytest.raises(ConfigError, match="library_guard"):
        Importer(config, store, target).run([export(tmp_path, "a.nbib", [52000081])])
    assert library.items == {}


def test_an_item_known_by_its_pmcid_is_the_article_of_a_record_with_it(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    text = medline([52000091])
    title = next(line for line in text.splitlines() if line.startswith("TI  - "))[6:]
    held = library.add(
        {
            "itemType": "journalArticle",
            "title": title + " crashes along the way.",
            "extra": "PMCID: PMC52000091",
        }
    )
    path = tmp_path / "a.nbib"
    path.write_text(text.replace("LA  - eng", "PMC - PMC52000091\nLA  - eng"), encoding="utf-8")
    report = run(config, store, library, path)
    assert report.counts()["duplicates"] == 1 and report.created == []
    assert (
        "PMCID PMC52000091" in report.duplicates[0].reason and held in report.duplicates[0].reason
    )


def test_its_own_merges_do_not_make_syncd_think_another_writer_is_there(
    tmp_path: Path, config: Config, store: StateStore, caplog: pytest.LogCaptureFixture
) -> None:
    library = MemoryLibrary()
    library.add({"itemType": "journalArticle", "title": "x", "extra": "PMID: 52000101"})
    refused: list[int] = []

    class Counting(MemoryTarget):
        def create_items(self, items: Any, *, if_unmodified_since: int | None = None) -> Any:
            try:
                return super().create_items(items, if_unmodified_since=if_unmodified_since)
            except VersionConflict:
                refused.append(1)
                raise

    config = replace(config, zotero=replace(config.zotero, collection="Inbox"))
    path = export(tmp_path, "a.nbib", [52000101, 52000102])  # one merge, then one create
    caplog.set_level("INFO", logger="syncd")
    report = Importer(config, store, Counting(library), sleep=lambda s: None).run([path])
    assert (report.counts()["new"], report.counts()["duplicates"], len(report.merged)) == (1, 1, 1)
    assert refused == [], "the library moved only by syncd's own PATCH"
    assert "another writer" not in caplog.text


def test_the_recheck_before_a_write_looks_rows_up_only_by_what_dedup_matches(
    tmp_path: Path, config: Config, store: StateStore, monkeypatch: pytest.MonkeyPatch
) -> None:
    # With titles off, a lookup by title fingerprint is work for nothing (and grows with the
    # square of a batch whose records share a title, as PubMed's "Erratum." notices do).
    asked: list[tuple[str, ...]] = []
    real = store.records_like

    def records_like(library: str, ids: Any, columns: Any = ("pmid", "doi", "fingerprint")) -> Any:
        asked.append(tuple(columns))
        return real(library, ids, columns)

    monkeypatch.setattr(store, "records_like", records_like)
    run(config, store, MemoryLibrary(), export(tmp_path, "a.nbib", [52000111, 52000112]))
    assert asked and all("fingerprint" not in c for c in asked), asked


# ---- other writers: when the version guard goes (syncd.core.writers) ---------------------------


class BusyLibrary(MemoryTarget):
    """A target whose library another writer changes just before each of this client's creates
    (``other`` adds one item per call, while ``calls`` lasts); records each create's guard."""

    def __init__(self, library: MemoryLibrary, other: Any, calls: int) -> None:
        super().__init__(library)
        self.other, self.calls = other, calls
        self.guards: list[int | None] = []

    def create_items(self, items: Any, *, if_unmodified_since: int | None = None) -> Any:
        self.guards.append(if_unmodified_since)
        if len(self.guards) <= self.calls:
            self.other(len(self.guards))
        return super().create_items(items, if_unmodified_since=if_unmodified_since)


def _pmid_item(pmid: int) -> dict[str, Any]:
    return {"itemType": "journalArticle", "title": f"Other {pmid}", "extra": f"PMID: {pmid}"}


def test_another_syncd_mid_write_does_not_starve_this_one(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    # Another syncd writes all the time (as against the real server, where its 50-item writes
    # take seconds): each guarded create of this one would be refused, forever.
    from syncd.core.keys import item_key

    library = MemoryLibrary()
    other = iter(range(53000100, 53000200))

    def another_syncd(_: int) -> None:
        pmid = next(other)
        library.add(_pmid_item(pmid), key=item_key(library.library, f"pmid:{pmid}"))

    target = BusyLibrary(library, another_syncd, calls=100)
    path = export(tmp_path, "a.nbib", [53000001, 53000002, 53000003])
    report = Importer(config, store, target, sleep=lambda s: None, give_up_after=60).run([path])
    assert report.counts()["new"] == 3 and report.gave_up is None
    assert target.guards[0] is not None and target.guards[1] is None  # refused, then unguarded
    assert sorted(library.pmids()).count("53000001") == 1


def test_a_foreign_writer_keeps_the_guard(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    target = BusyLibrary(library, lambda n: library.add(_pmid_item(53000300 + n)), calls=2)
    path = export(tmp_path, "a.nbib", [53000011, 53000012])
    report = Importer(config, store, target, sleep=lambda s: None).run([path])
    assert report.counts()["new"] == 2
    assert len(target.guards) == 3 and None not in target.guards  # two refused, all guarded


def test_a_foreign_item_added_during_an_unguarded_write_is_a_possible_duplicate(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    from syncd.core.keys import item_key

    library = MemoryLibrary()

    def writers(n: int) -> None:
        if n == 1:  # another syncd: the guarded create is refused, the retry goes unguarded
            library.add(_pmid_item(53000400), key=item_key(library.library, "pmid:53000400"))
        else:  # meanwhile a foreign client adds one of this import's articles
            library.add(_pmid_item(53000021))

    target = BusyLibrary(library, writers, calls=2)
    path = export(tmp_path, "a.nbib", [53000021, 53000022])
    report = Importer(config, store, target, sleep=lambda s: None).run([path])
    assert target.guards[1] is None and report.counts()["new"] == 2
    (possible,) = report.possible_duplicates
    assert possible.where == f"{path}:1" and "another writer added item Z" in possible.reason
