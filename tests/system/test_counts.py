"""Counts a systematic reviewer can put in a PRISMA diagram: the per-file line, the import
summary, ``--json``, the history and ``syncd status`` agree, for the daemon and ``syncd import``
alike, also after a crash.

The rule (docs/import.md): an item found under syncd's planned key after a lost answer or a
crash is ``new`` with ``uncertain``; with one writer, new equals what the library gained.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

import pytest

from syncd.engine import Importer
from syncd.state import StateStore
from syncd.targets.memory import MemoryLibrary, MemoryTarget, SimulatedCrash
from tests.helpers import medline, model_config, ticks, worker

PMIDS = list(range(53000001, 53000121))  # 120 articles: more than one write of 50


class DiesInSecondWrite(MemoryTarget):
    """The process dies right after the library applied its second write of 50."""

    def create_items(self, items: Any, *, if_unmodified_since: int | None = None) -> Any:
        result = super().create_items(items, if_unmodified_since=if_unmodified_since)
        if self.s.writes == 2:
            raise SimulatedCrash
        return result


def test_an_import_counts_in_the_history_status_reads(tmp_path: Path) -> None:
    config = model_config(tmp_path)
    path = tmp_path / "a.nbib"
    path.write_text(medline(PMIDS[:3] + PMIDS[:1]), encoding="utf-8")
    library = MemoryLibrary()
    with StateStore(config.state.path) as store:
        Importer(config, store, MemoryTarget(library)).run([path])
        totals = store.history_totals("users/1")
        (row,) = store.history("users/1")
    assert (totals["files"], totals["records"], totals["new"], totals["duplicates"]) == (1, 4, 3, 1)
    assert row.path == str(path) and row.outcome == "imported" and row.sha256


def test_after_a_crash_the_daemon_counts_what_it_created_as_new(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    config = model_config(tmp_path)
    export = config.watch.directory / "big.nbib"  # type: ignore[operator]
    library = MemoryLibrary()
    with worker(config, library, DiesInSecondWrite) as w:
        export.write_text(medline(PMIDS), encoding="utf-8")
        with pytest.raises(SimulatedCrash):
            ticks(w, 3)
    assert len(library.items) == 100  # two writes of 50 applied, nothing recorded as done
    caplog.set_level(logging.INFO, logger="syncd")
    with worker(config, library) as w:  # the service restarts
        ticks(w, 4)
        assert w.store is not None
        totals = w.store.history_totals("users/1")
    assert sorted(library.pmids()) == sorted(str(p) for p in PMIDS)
    assert (totals["records"], totals["new"], totals["duplicates"]) == (120, 120, 0)
    line = next(r.getMessage() for r in caplog.records if "big.nbib: 120 records" in r.getMessage())
    assert "120 new, 0 duplicates, 0 failed (50 of the new uncertain" in line


def test_after_a_crash_an_import_counts_what_it_created_as_new(tmp_path: Path) -> None:
    config = model_config(tmp_path)
    path = tmp_path / "big.nbib"
    path.write_text(medline(PMIDS), encoding="utf-8")
    library = MemoryLibrary()
    with StateStore(config.state.path) as store, pytest.raises(SimulatedCrash):
        Importer(config, store, DiesInSecondWrite(library)).run([path])
    with StateStore(config.state.path) as store:
        report = Importer(config, store, MemoryTarget(library)).run([path])
        totals = store.history_totals("users/1")
    c = report.counts()
    assert (c["new"], c["uncertain"], c["duplicates"]) == (120, 50, 0)
    assert (report.files[0].new, report.files[0].uncertain) == (120, 50)
    assert (totals["new"], totals["duplicates"]) == (120, 0)
    assert len(library.items) == 120 == len(set(library.pmids()))


def test_records_counted_before_stay_duplicates_when_their_file_grows(tmp_path: Path) -> None:
    config = model_config(tmp_path)
    path = tmp_path / "a.nbib"
    library = MemoryLibrary()
    with StateStore(config.state.path) as store:
        path.write_text(medline(PMIDS[:2]), encoding="utf-8")
        Importer(config, store, MemoryTarget(library)).run([path])
        path.write_text(medline(PMIDS[:3]), encoding="utf-8")
        again = Importer(config, store, MemoryTarget(library)).run([path])
        totals = store.history_totals("users/1")
    assert (again.counts()["new"], again.counts()["duplicates"]) == (1, 2)
    assert (totals["files"], totals["new"], totals["duplicates"]) == (2, 3, 2)
    assert len(library.items) == 3


def test_status_counts_uncertain_items_as_new_and_says_how_many(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    from syncd.commands import status

    config = model_config(tmp_path)
    path = tmp_path / "big.nbib"
    path.write_text(medline(PMIDS), encoding="utf-8")
    library = MemoryLibrary()
    with StateStore(config.state.path) as store:
        with pytest.raises(SimulatedCrash):
            Importer(config, store, DiesInSecondWrite(library)).run([path])
        Importer(config, store, MemoryTarget(library)).run([path])
    with StateStore(config.state.path, readonly=True) as store:
        s = status.collect(store, "users/1", None, config.state.path)
    assert (s["total"]["new"], s["total"]["uncertain"]) == (120, 50)
    assert s["today"]["new"] == 120
    status._print(s)
    assert "120 records: 120 new (50 uncertain), 0 duplicates" in capsys.readouterr().out


def test_a_retry_shows_in_status_until_the_file_is_read_and_clear_counts_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    import argparse

    from syncd.commands import status
    from syncd.state import FileRow

    config = model_config(tmp_path)
    with StateStore(config.state.path) as store:
        store.put_file("users/1", FileRow("/d/a.nbib", 1, 2, "abc", "partial", 3, "1 failed"))
        status._act(argparse.Namespace(clear=False), store, "users/1", None)
        s = status.collect(store, "users/1", None, config.state.path)
        assert s["files_to_read_again"] == ["/d/a.nbib"] and s["files_with_problems"] == []
        status._print(s)
        assert "To be read again (1 file, syncd status --retry):" in capsys.readouterr().out
        # A row to read again is never "the same file", whatever its stat.
        row = store.file("users/1", "/d/a.nbib")
        assert row is not None and not row.same_file(1, 2, 0, 0)
        assert status._act(argparse.Namespace(clear=True), store, "users/1", None) == 0
        assert "and 1 file with problems" in capsys.readouterr().out
