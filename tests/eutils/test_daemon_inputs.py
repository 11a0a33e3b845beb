"""The daemon's worker (one tick at a time, on the memory twin of Zotero) with ID files in its
folder, fetched from the E-utilities double: a PMID list only under PubMed's name, a PubMed CSV
by content, other CSV and number lists ignored, and *.csv files already there when an upgrade
added the pattern baselined, not imported."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from syncd.config import Config
from syncd.config_pubmed import PubmedConfig
from syncd.core.id_files import CSV_HEADER
from syncd.sandbox.eutils import EutilsDouble
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary
from tests.eutils.conftest import corpus_with
from tests.helpers import model_config, ticks, worker


@pytest.fixture
def double() -> Iterator[EutilsDouble]:
    with EutilsDouble(corpus_with(range(62000001, 62000011))) as d:
        yield d


def with_eutils(config: Config, double: EutilsDouble) -> Config:
    return replace(config, pubmed=PubmedConfig(eutils_url=double.url))


def test_the_daemon_takes_pmid_lists_by_name_and_pubmed_csv_by_content(
    tmp_path: Path, double: EutilsDouble
) -> None:
    config = with_eutils(model_config(tmp_path), double)
    folder = config.watch.directory
    assert folder is not None
    (folder / "pmid-ketamine-set (1).txt").write_text("62000001\n62000002\n")
    (folder / "numbers.txt").write_text("62000003\n62000004\n")  # not PubMed's name: ignored
    (folder / "csv-ketamine-set.csv").write_text(
        CSV_HEADER + "\n62000005,T,A,C,F,J,2021,2021/03/01,,,\n"
    )
    (folder / "budget.csv").write_text("month,amount\njan,3\n")  # another CSV: ignored
    library = MemoryLibrary()
    with worker(config, library) as w:
        ticks(w)
    assert sorted(library.pmids()) == ["62000001", "62000002", "62000005"]
    assert sorted(double.fetched_ids()) == ["62000001", "62000002", "62000005"]
    assert double.throttled == 0


def test_csv_files_older_than_the_upgrade_are_a_baseline(
    tmp_path: Path, double: EutilsDouble
) -> None:
    config = with_eutils(model_config(tmp_path), double)
    folder = config.watch.directory
    assert folder is not None
    old = replace(config, watch=replace(config.watch, patterns=("*.nbib", "*.txt")))
    library = MemoryLibrary()
    # Before the upgrade: syncd watched only *.nbib and *.txt; a CSV export lies there.
    with worker(old, library) as w:
        ticks(w, 2)
    (folder / "csv-old-set.csv").write_text(CSV_HEADER + "\n62000006,T,A,C,F,J,2021,,,,\n")
    # The first start after the upgrade (*.csv added): the old CSV is a baseline ...
    with worker(config, library) as w:
        ticks(w)
        assert library.pmids() == []
        # ... and a CSV downloaded afterwards is imported.
        (folder / "csv-new-set.csv").write_text(CSV_HEADER + "\n62000007,T,A,C,F,J,2021,,,,\n")
        ticks(w)
    with worker(config, library) as w:  # a later start does not baseline it again
        ticks(w)
    assert library.pmids() == ["62000007"]
    assert double.fetched_ids() == ["62000007"]


def test_the_first_start_baselines_no_csv_twice(tmp_path: Path, double: EutilsDouble) -> None:
    config = with_eutils(model_config(tmp_path), double)
    folder = config.watch.directory
    assert folder is not None
    (folder / "csv-a-set.csv").write_text(CSV_HEADER + "\n62000008,T,A,C,F,J,2021,,,,\n")
    library = MemoryLibrary()
    with worker(config, library) as w:  # a configured folder is imported whole
        ticks(w)
    assert library.pmids() == ["62000008"]
    with StateStore(config.state.path) as store:
        assert store.baseline(f"{folder}\0*.csv") is not None
