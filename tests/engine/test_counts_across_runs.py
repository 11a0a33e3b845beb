"""Counts across runs on the memory twin: what the files' history says is what the library
gained, when an answer is lost and the article is read again from another file, and an
article whose identity ``dedup.match`` leaves out is still syncd's own (found by the model of
``test_session_model.py``, each pinned here)."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import replace
from pathlib import Path

import pytest

from syncd.config import Config, DedupConfig, Secret, StateConfig, ZoteroConfig
from syncd.engine import Importer, Report
from syncd.errors import RemoteError
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget
from tests.helpers import medline

DOI_ONLY = """\
DP  - 2021 Mar
TI  - A trial with no PMID, known by its DOI alone.
FAU - Author, Ann
PT  - Journal Article
JT  - Journal of models
AID - 10.5555/doi.only [doi]
"""


@pytest.fixture
def config(tmp_path: Path) -> Config:
    return Config(
        zotero=ZoteroConfig(library_id=1, api_key=Secret("M" * 24), api_url="http://memory"),
        state=StateConfig(tmp_path / "state.db"),
        dedup=replace(DedupConfig(), match=("pmid",)),
    )


@pytest.fixture
def store(config: Config) -> Iterator[StateStore]:
    with StateStore(config.state.path) as s:
        yield s


def write(tmp_path: Path, name: str, text: str) -> Path:
    path = tmp_path / name
    path.write_text(text, encoding="utf-8")
    return path


def run(config: Config, store: StateStore, library: MemoryLibrary, *paths: Path) -> Report:
    return Importer(config, store, MemoryTarget(library), sleep=lambda s: None).run(list(paths))


def history_new(store: StateStore) -> int:
    return store.history_totals("users/1")["new"]


def test_an_article_settled_for_a_second_file_is_not_counted_again_for_the_first(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    first = write(tmp_path, "first.nbib", medline([53100001]))
    second = write(tmp_path, "second.nbib", medline([53100001]))
    library.lose_next_answer = True
    with pytest.raises(RemoteError):
        run(config, store, library, first)
    counted = run(config, store, library, second)
    assert counted.counts()["new"] == 1
    again = run(config, store, library, first, second)
    assert again.counts()["new"] == 0
    assert len(library.items) == 1 and history_new(store) == 1


def test_a_settled_article_of_a_file_not_read_counts_when_that_file_is_read(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    first = write(tmp_path, "first.nbib", medline([53100011]))
    second = write(tmp_path, "second.nbib", medline([53100012]))
    library.lose_next_answer = True
    with pytest.raises(RemoteError):
        run(config, store, library, first, second)
    only_first = run(config, store, library, first)
    assert [e.outcome for e in only_first.recovered] == ["created"]
    both = run(config, store, library, first, second)
    assert len(library.items) == 2 and history_new(store) == 2
    assert both.counts()["new"] == 1, "the second file's article, counted once, there"


def test_an_article_whose_identity_match_leaves_out_is_created_once_in_a_run(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    path = write(tmp_path, "twice.nbib", DOI_ONLY + "\n" + DOI_ONLY)
    report = run(config, store, library, path)
    assert len(library.items) == 1
    assert (report.counts()["new"], report.counts()["duplicates"]) == (1, 1)
    assert "same article as" in report.duplicates[0].reason


def test_a_deleted_article_whose_identity_match_leaves_out_stays_deleted(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    path = write(tmp_path, "a.nbib", medline([53100021]) + "\n" + DOI_ONLY)
    run(config, store, library, path)
    (doi_only,) = [k for k, (_, d) in library.items.items() if "DOI alone" in d.get("title", "")]
    library.delete(doi_only)
    report = run(config, store, library, write(tmp_path, "b.nbib", DOI_ONLY))
    assert doi_only not in library.items and len(library.items) == 1
    assert "deleted in Zotero" in report.duplicates[0].reason


def test_an_article_whose_identity_match_leaves_out_counts_once_after_a_lost_answer(
    tmp_path: Path, config: Config, store: StateStore
) -> None:
    library = MemoryLibrary()
    path = write(tmp_path, "a.nbib", DOI_ONLY)
    other = write(tmp_path, "b.nbib", medline([53100031]))
    library.lose_next_answer = True
    with pytest.raises(RemoteError):
        run(config, store, library, path)
    run(config, store, library, other)  # settles the DOI-only row; its file is not read
    run(config, store, library, path, other)
    assert len(library.items) == 2 and history_new(store) == 2
