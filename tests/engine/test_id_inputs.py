"""ID inputs (PMID lists, PubMed CSV, ``--pmid``) through the engine on the memory twin, with an
in-process stand-in for E-utilities that counts what it is asked (no socket): held articles
are never fetched, unknown PMIDs fail with their line, a rerun asks nothing and writes nothing.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import replace
from pathlib import Path

import pytest

from syncd.config import Config, Secret, StateConfig, TagsConfig, ZoteroConfig
from syncd.core.id_files import CSV_HEADER
from syncd.engine import Importer, Report
from syncd.sources.ids import Inputs
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget
from tests.helpers import medline, write_export


class FakeEutils:
    """efetch from a dict of PMIDs (the double's rule: unknown ids are left out)."""

    def __init__(self, known: Sequence[int]) -> None:
        self.known = {str(p) for p in known}
        self.asked: list[list[str]] = []
        self.requests = 0

    def efetch(self, pmids: Sequence[str]) -> bytes:
        self.asked.append(list(pmids))
        self.requests += 1
        return medline([int(p) for p in pmids if p in self.known]).encode()

    def close(self) -> None:
        pass


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        zotero=ZoteroConfig(
            library_id=1, api_key=Secret("M" * 24), api_url="http://memory", collection="PubMed"
        ),
        tags=TagsConfig(extra=("from-syncd",)),
        state=StateConfig(tmp_path / "state.db"),
    )


@pytest.fixture
def store(config: Config) -> Iterator[StateStore]:
    with StateStore(config.state.path) as s:
        yield s


def run(
    config: Config,
    store: StateStore,
    library: MemoryLibrary,
    eutils: FakeEutils,
    *paths: Path,
    pmids: Sequence[str] = (),
) -> Report:
    inputs = Inputs(config, store, MemoryTarget(library).library, eutils=lambda: eutils)
    importer = Importer(config, store, MemoryTarget(library), sleep=lambda s: None, inputs=inputs)
    return importer.run(list(paths), pmids=pmids)


def test_a_pmid_list_fetches_only_what_the_library_lacks(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    eutils = FakeEutils(range(61000001, 61000010))
    held = tmp_path / "held.nbib"
    write_export(held, [61000001, 61000002])
    run(config, store, library, eutils, held)
    assert eutils.asked == []
    ids = tmp_path / "pmid-ketamine-set.txt"
    ids.write_bytes(b"\xef\xbb\xbf61000001\r\n\r\n61000003\r\n99999999\r\n61000002\r\n61000004\r\n")
    report = run(config, store, library, eutils, ids)
    assert eutils.asked == [["61000003", "99999999", "61000004"]]
    c = report.counts()
    assert (c["records"], c["new"], c["duplicates"], c["failed"]) == (5, 2, 2, 1)
    assert [f"{e.where}: {e.reason}" for e in report.failed] == [
        f"{ids}:4: PMID 99999999 is not in PubMed"
    ]
    assert {e.where for e in report.created} == {f"{ids}:3", f"{ids}:6"}
    assert report.exit_code == 1
    assert sorted(library.pmids()) == [f"6100000{i}" for i in (1, 2, 3, 4)]


def test_a_rerun_asks_nothing_and_writes_nothing(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    eutils = FakeEutils(range(61000101, 61000105))
    ids = tmp_path / "pmid-x-set.txt"
    ids.write_text("61000101\n61000102\n61000199\n")
    first = run(config, store, library, eutils, ids)
    assert first.counts()["new"] == 2 and first.counts()["failed"] == 1
    asked, writes = len(eutils.asked), library.writes
    again = run(config, store, library, eutils, ids)
    assert len(eutils.asked) == asked  # no NCBI request
    assert library.writes == writes  # no write
    c = again.counts()
    assert (c["new"], c["duplicates"], c["failed"]) == (0, 2, 1)
    assert again.failed[0].reason == "PMID 61000199 is not in PubMed"


def test_held_articles_get_the_collection_and_the_configured_tags_not_mesh(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    eutils = FakeEutils([])
    nbib = tmp_path / "a.nbib"
    write_export(nbib, [61000201])
    run(
        replace(config, zotero=replace(config.zotero, collection=None), tags=TagsConfig()),
        store,
        library,
        eutils,
        nbib,
    )
    (item,) = [d for _, d in library.items.values()]
    assert item["collections"] == [] and {t["tag"] for t in item["tags"]} == set()
    ids = tmp_path / "ids.txt"  # any name, for syncd import
    ids.write_text("61000201\n")
    report = run(config, store, library, eutils, ids)
    assert eutils.asked == []
    assert report.merged and report.counts()["duplicates"] == 1
    (item,) = [d for _, d in library.items.values()]
    assert len(item["collections"]) == 1
    assert {t["tag"] for t in item["tags"]} == {"from-syncd"}


def test_a_pubmed_csv_dedups_by_pmid_and_doi_and_fails_a_bad_pmid_cell(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    eutils = FakeEutils(range(61000301, 61000310))
    nbib = tmp_path / "a.nbib"
    write_export(nbib, [61000301])
    run(config, store, library, eutils, nbib)
    csv = tmp_path / "csv-x-set.csv"
    rows = [
        '"61000301","T","A","C","F","J","2021","2021/03/01",,,""',  # held by PMID
        '"61000302","T","A","C","F","J","2021","2021/03/01",,,"10.5555/syncd.61000302"',
        '"n/a","T","A","C","F","J","2021","2021/03/01",,,',
        "61000303,T,A,C,F,J,2021,2021/03/01,PMC1,,10.5555/syncd.61000303",
    ]
    csv.write_text('"' + CSV_HEADER.replace(",", '","') + '"\r\n' + "\r\n".join(rows) + "\r\n")
    report = run(config, store, library, eutils, csv)
    assert eutils.asked == [["61000302", "61000303"]]
    c = report.counts()
    assert (c["records"], c["new"], c["duplicates"], c["failed"]) == (4, 2, 1, 1)
    assert [f"{e.where}: {e.reason}" for e in report.failed] == [
        f"{csv}:4: the PMID cell 'n/a' is not a PMID"
    ]


def test_pmids_on_the_command_line_are_inputs_of_their_own(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    eutils = FakeEutils([61000401, 61000402])
    report = run(config, store, library, eutils, pmids=["61000401", "61000402", "61000499"])
    assert eutils.asked == [["61000401", "61000402", "61000499"]]
    assert sorted(e.where for e in report.created) == ["--pmid 61000401", "--pmid 61000402"]
    assert [(e.where, e.reason) for e in report.failed] == [
        ("--pmid 61000499", "PMID 61000499 is not in PubMed")
    ]
    assert [f.path for f in report.files] == [
        "--pmid 61000401",
        "--pmid 61000402",
        "--pmid 61000499",
    ]
    history = store.history(MemoryTarget(library).library)
    assert {h.path for h in history} >= {"--pmid 61000401", "--pmid 61000499"}
    again = run(config, store, library, eutils, pmids=["61000401"])
    assert len(eutils.asked) == 1 and again.counts()["duplicates"] == 1


class DownEutils(FakeEutils):
    """NCBI past the one-shot's deadline."""

    def efetch(self, pmids: Sequence[str]) -> bytes:
        from syncd.errors import RemoteError

        self.asked.append(list(pmids))
        raise RemoteError("NCBI's E-utilities did not answer usably for 600 s", transient=True)


def test_pmids_not_fetched_when_ncbi_is_down_are_pending_for_the_next_run(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    nbib = tmp_path / "a.nbib"
    write_export(nbib, [61000501])
    run(config, store, library, FakeEutils([]), nbib)
    ids = tmp_path / "ids.txt"
    ids.write_text("61000501\n" + "".join(f"{61000600 + i}\n" for i in range(600)))
    down = DownEutils([])
    report = run(config, store, library, down, ids)
    assert len(down.asked) == 1  # given up once, not asked again for the second batch
    c = report.counts()
    assert (c["records"], c["duplicates"], c["pending"], c["failed"]) == (601, 1, 600, 0)
    assert report.exit_code == 1
    assert "did not answer" in report.pending[0].reason
    up = FakeEutils(range(61000600, 61001200))
    again = run(config, store, library, up, ids)
    assert again.counts()["new"] == 600 and again.exit_code == 0
