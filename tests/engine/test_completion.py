"""Completing an item syncd created when a later version of its record arrives (issue 14 §2),
on the memory twin: a truncated export's item gets the rest, a field the user changed stays."""

from __future__ import annotations

import logging
import os
import time
from collections.abc import Iterator, Mapping
from dataclasses import replace
from pathlib import Path
from typing import Any

import pytest

from syncd.config import Config, DedupConfig, Secret, StateConfig, ZoteroConfig
from syncd.engine import Importer, Report
from syncd.errors import RemoteError
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget
from tests.helpers import model_config, ticks, worker

PMID = "53200001"
FULL = [
    f"PMID- {PMID}",
    "OWN - NLM",
    "STAT- MEDLINE",
    "VI  - 12",
    "IP  - 3",
    "DP  - 2021 Mar",
    "TI  - Completing items that a half-written export made.",
    "PG  - 100-110",
    "AB  - What the rest of the record brings.",
    "FAU - Lovelace, Ada",
    "AU  - Lovelace A",
    "FAU - Babbage, Charles",
    "AU  - Babbage C",
    "FAU - Hopper, Grace",
    "AU  - Hopper G",
    "LA  - eng",
    "PT  - Journal Article",
    "TA  - J Synth Tests",
    "JT  - Journal of synthetic tests",
    f"AID - 10.5555/complete.{PMID} [doi]",
    "SO  - J Synth Tests. 2021 Mar;12(3):100-110.",
]


def export(drop: tuple[str, ...] = ()) -> str:
    """The record without the lines starting with any of ``drop``."""
    return "\n".join(line for line in FULL if not line.startswith(drop)) + "\n"


TRUNCATED = export(("FAU - Hopper", "AU  - Hopper", "PG  -"))  # 2 of 3 authors, no pages


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


class Runner:
    """Imports exports into one memory library, a file per run."""

    def __init__(self, tmp_path: Path, config: Config, store: StateStore) -> None:
        self.tmp_path, self.config, self.store = tmp_path, config, store
        self.library = MemoryLibrary()
        self.n = 0

    def run(self, text: str, target: MemoryTarget | None = None) -> Report:
        self.n += 1
        path = self.tmp_path / f"export{self.n}.nbib"
        path.write_text(text, encoding="utf-8")
        gw = target or MemoryTarget(self.library)
        return Importer(self.config, self.store, gw, sleep=lambda s: None).run([path])

    def item(self) -> tuple[str, dict[str, Any]]:
        (key,) = self.library.items
        return key, self.library.items[key][1]

    def user_edits(self, **fields: Any) -> None:
        """The user changes the item in Zotero (a new item version)."""
        key, data = self.item()
        self.library.add({**data, **fields}, key=key)


@pytest.fixture
def runner(tmp_path: Path, config: Config, store: StateStore) -> Runner:
    return Runner(tmp_path, config, store)


def _last_names(data: Mapping[str, Any]) -> list[str]:
    return [c["lastName"] for c in data["creators"]]


def test_the_full_record_completes_the_item_a_truncated_one_made(runner: Runner) -> None:
    first = runner.run(TRUNCATED)
    assert first.counts()["new"] == 1
    key, data = runner.item()
    assert _last_names(data) == ["Lovelace", "Babbage"] and not data.get("pages")
    report = runner.run(export())
    counts = report.counts()
    assert (counts["new"], counts["duplicates"], counts["completed"]) == (0, 1, 1)
    assert counts["new"] + counts["duplicates"] + counts["failed"] + counts["pending"] == 1
    (entry,) = report.completed
    assert entry.key == key and entry.pmid == PMID
    assert "creators" in entry.reason and "pages" in entry.reason
    _, data = runner.item()
    assert _last_names(data) == ["Lovelace", "Babbage", "Hopper"]
    assert data["pages"] == "100-110"
    assert len(runner.library.items) == 1
    assert report.as_dict()["counts"]["completed"] == 1
    assert report.as_dict()["completed"][0]["key"] == key
    assert report.files[0].completed == 1
    assert runner.store.history_totals("users/1")["completed"] == 1
    assert runner.store.history("users/1")[0].completed == 1


def test_a_rerun_completes_nothing_more(runner: Runner) -> None:
    runner.run(TRUNCATED)
    runner.run(export())
    writes = runner.library.writes
    again = runner.run(export())
    assert again.counts()["completed"] == 0 and again.counts()["duplicates"] == 1
    assert runner.library.writes == writes, "a rerun writes nothing"
    older = runner.run(TRUNCATED)  # the truncated file read again takes nothing away
    assert older.counts()["completed"] == 0 and runner.library.writes == writes
    _, data = runner.item()
    assert len(data["creators"]) == 3 and data["pages"] == "100-110"


def test_a_field_the_user_edited_in_between_stays(runner: Runner) -> None:
    runner.run(TRUNCATED)
    runner.user_edits(title="My own title", volume="")  # one edited, one cleared
    report = runner.run(export())
    assert report.counts()["completed"] == 1
    _, data = runner.item()
    assert data["title"] == "My own title" and data["volume"] == ""
    assert data["pages"] == "100-110" and len(data["creators"]) == 3
    assert "title" not in report.completed[0].reason


def test_an_item_whose_creators_the_user_changed_is_not_touched(runner: Runner) -> None:
    runner.run(export(("FAU - Hopper", "AU  - Hopper")))  # only the third author missing
    key, data = runner.item()
    creators = [{**data["creators"][0], "firstName": "Augusta Ada"}, data["creators"][1]]
    runner.user_edits(creators=creators)
    before = runner.library.items[key]
    writes = runner.library.writes
    report = runner.run(export())
    assert report.counts()["completed"] == 0 and report.counts()["duplicates"] == 1
    assert runner.library.items[key] == before and runner.library.writes == writes


def test_on_duplicate_skip_completes_nothing(runner: Runner) -> None:
    runner.config = replace(runner.config, dedup=replace(DedupConfig(), on_duplicate="skip"))
    runner.run(TRUNCATED)
    writes = runner.library.writes
    report = runner.run(export())
    assert report.counts()["completed"] == 0 and runner.library.writes == writes
    _, data = runner.item()
    assert len(data["creators"]) == 2


def test_an_ahead_of_print_record_that_gained_volume_issue_and_pages_completes(
    runner: Runner,
) -> None:
    early = [
        line for line in FULL if not line.startswith(("VI  -", "IP  -", "PG  -", "SO  -", "DP  -"))
    ]
    early[2:2] = ["STAT- Publisher", "DP  - 2021 Jan 5"]
    early = [line for line in early if line != "STAT- MEDLINE"]
    early.append("SO  - J Synth Tests. 2021 Jan 5. doi: 10.5555/complete.53200001.")
    runner.run("\n".join(early) + "\n")
    _, data = runner.item()
    assert not data.get("volume") and not data.get("pages")
    report = runner.run(export())
    assert report.counts()["completed"] == 1
    _, data = runner.item()
    assert (data["volume"], data["issue"], data["pages"]) == ("12", "3", "100-110")
    assert data["date"] == "2021 Mar"


def test_an_item_syncd_did_not_create_is_never_completed(runner: Runner) -> None:
    runner.library.add(
        {
            "itemType": "journalArticle",
            "title": "Completing items that a half-written export made.",
            "PMID": PMID,
            "creators": [{"creatorType": "author", "lastName": "Lovelace", "firstName": "Ada"}],
            "tags": [],
            "collections": [],
        }
    )
    report = runner.run(export())
    assert report.counts()["duplicates"] == 1 and report.counts()["completed"] == 0
    _, data = runner.item()
    assert len(data["creators"]) == 1 and not data.get("pages")


class EditsBeforeTheWrite(MemoryTarget):
    """A client whose first PATCH meets an edit the user made just before it."""

    def __init__(self, runner: Runner) -> None:
        super().__init__(runner.library)
        self.runner = runner
        self.conflicts = 0

    def update_item(self, key: str, version: int, patch: Mapping[str, Any]) -> int:
        if self.conflicts == 0:
            self.conflicts += 1
            self.runner.user_edits(pages="e17", title="Edited meanwhile")
        return super().update_item(key, version, patch)


def test_a_change_during_the_completion_is_read_again_and_decided_again(
    runner: Runner,
) -> None:
    runner.run(TRUNCATED)
    target = EditsBeforeTheWrite(runner)
    report = runner.run(export(), target)
    assert target.conflicts == 1 and report.counts()["completed"] == 1
    _, data = runner.item()
    assert data["pages"] == "e17" and data["title"] == "Edited meanwhile"
    assert len(data["creators"]) == 3
    assert "pages" not in report.completed[0].reason


def test_an_item_whose_write_lost_its_answer_is_completed_after_it_is_settled(
    runner: Runner,
) -> None:
    runner.library.lose_next_answer = True  # created, but the run never heard so
    with pytest.raises(RemoteError):
        runner.run(TRUNCATED)
    runner.run("")  # the next run settles the pending row: the item is there
    report = runner.run(export())
    assert report.counts()["completed"] == 1
    _, data = runner.item()
    assert len(data["creators"]) == 3 and data["pages"] == "100-110"


def test_the_daemon_completes_the_item_when_the_rest_of_the_file_arrives(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path)
    library = MemoryLibrary()
    assert config.watch.directory is not None
    path = config.watch.directory / "pubmed.nbib"
    with worker(config, library) as w:
        path.write_text(TRUNCATED, encoding="utf-8")  # the browser paused between two lines
        ticks(w)
        (key,) = library.items
        assert len(library.items[key][1]["creators"]) == 2
        path.write_text(export(), encoding="utf-8")  # ... and wrote the rest
        os.utime(path, ns=(time.time_ns(), time.time_ns() + 10**9))
        with caplog.at_level(logging.INFO):
            ticks(w)
        data = library.items[key][1]
        assert len(data["creators"]) == 3 and data["pages"] == "100-110"
        assert len(library.items) == 1
        assert any("1 completing the item syncd made" in r.getMessage() for r in caplog.records)
        assert w.store is not None
        assert w.store.history_totals("users/1")["completed"] == 1


def test_a_dry_run_says_what_would_be_completed_and_writes_nothing(
    runner: Runner, tmp_path: Path
) -> None:
    runner.run(TRUNCATED)
    key, before = runner.item()
    writes = runner.library.writes
    path = tmp_path / "full.nbib"
    path.write_text(export(), encoding="utf-8")
    gw = MemoryTarget(runner.library)
    report = Importer(runner.config, runner.store, gw, dry_run=True).run([path])
    (entry,) = report.completed
    assert entry.key == key and entry.reason == "would be completed: creators, pages"
    assert runner.library.writes == writes and runner.item()[1] == before
    assert runner.run(export()).counts()["completed"] == 1  # the dry run kept nothing
