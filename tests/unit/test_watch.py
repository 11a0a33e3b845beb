"""Which files the daemon reads, and when: names, the content sniff, the settle rule."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from syncd.watch import Seen, Settler, is_candidate, is_temporary, looks_like_medline, scan

PATTERNS = ("*.nbib", "*.txt")


@pytest.mark.parametrize(
    "name",
    [
        "Unconfirmed 812345.crdownload",
        "citations.nbib.crdownload",
        "citations.nbib.part",
        "citations.nbib.download",
        "citations.nbib.partial",
        "citations.nbib.tmp",
        ".citations.nbib",
        "~$citations.nbib",
        "citations.nbib~",
    ],
)
def test_browser_and_editor_temporary_names_are_never_read(name: str) -> None:
    assert is_temporary(name)
    assert not is_candidate(name, PATTERNS)


@pytest.mark.parametrize(
    ("name", "wanted"),
    [
        ("citations.nbib", True),
        ("citations (2).nbib", True),
        ("CITATIONS.NBIB", True),
        ("pubmed-cancer-set.txt", True),
        ("paper.pdf", False),
        ("citations.ris", False),
    ],
)
def test_the_configured_patterns_choose_the_rest(name: str, wanted: bool) -> None:
    assert is_candidate(name, PATTERNS) is wanted


@pytest.mark.parametrize(
    "head",
    [
        b"PMID- 12345678\nOWN - NLM\n",
        b"\xef\xbb\xbfPMID- 12345678\r\nTI  - x\r\n",
        b"\n\nPMID- 1\n",
        b"PMID- 37424412 OWN - NLM STAT- MEDLINE TI  - A flattened record",
        b"PMC - PMC123\nPMID- 1\n",
        b"PT  - Book\nTI  - A book\nAU  - Someone\nPB  - NCBI\n",
    ],
)
def test_medline_exports_are_recognised(head: bytes) -> None:
    assert looks_like_medline(head)


@pytest.mark.parametrize(
    "head",
    [
        b"shopping list: milk, eggs\n",
        b"",
        b"Dear PMID- reviewer,\n",
        b"%PDF-1.7 binary",
        b"TI - just one line that looks like a tag\n",
    ],
)
def test_other_text_is_not_an_export(head: bytes) -> None:
    assert not looks_like_medline(head)


def seen(size: int, mtime: float) -> Seen:
    return Seen(size, int(mtime * 1e9))


def test_a_file_renamed_into_place_is_ready_at_once() -> None:
    settler = Settler(2.0)
    path = Path("a.nbib")
    settler.offer(path, seen(100, 1000.0), now=1010.0)  # written ten seconds ago
    assert settler.due() == 1002.0
    assert settler.ready(1010.0, stat_of=lambda p: seen(100, 1000.0)) == ([path], [])
    assert len(settler) == 0


def test_a_download_the_browser_finished_is_ready_without_waiting() -> None:
    # Renamed from pubmed.nbib.crdownload just now (its mtime is now): complete, no wait.
    settler = Settler(2.0)
    path = Path("a.nbib")
    settler.offer(path, seen(100, 1000.0), now=1000.0, finished=True)
    assert settler.ready(1000.0, stat_of=lambda p: seen(100, 1000.0)) == ([path], [])
    # Without the rename it waits its settle time.
    settler.offer(path, seen(100, 1000.0), now=1000.0)
    assert settler.ready(1000.0, stat_of=lambda p: seen(100, 1000.0)) == ([], [])


def test_a_file_still_written_waits_until_quiet_for_settle_seconds() -> None:
    settler = Settler(2.0)
    path = Path("a.nbib")
    settler.offer(path, seen(10, 1000.0), now=1000.0)
    assert settler.ready(1001.0, stat_of=lambda p: seen(10, 1000.0)) == ([], [])  # too soon
    # At 1002 it has grown (written at 1001.5): it waits again from its new mtime.
    assert settler.ready(1002.0, stat_of=lambda p: seen(20, 1001.5)) == ([], [])
    assert settler.due() == 1003.5
    assert settler.ready(1003.5, stat_of=lambda p: seen(20, 1001.5)) == ([path], [])


def test_a_file_that_vanishes_before_it_settles_is_dropped_quietly() -> None:
    settler = Settler(1.0)
    path = Path("a.nbib")
    settler.offer(path, seen(10, 1000.0), now=1000.0)
    assert settler.ready(1001.0, stat_of=lambda p: None) == ([], [path])
    assert settler.due() is None


def test_an_mtime_in_the_future_counts_from_when_it_was_seen() -> None:
    settler = Settler(2.0)
    settler.offer(Path("a.nbib"), seen(10, 5000.0), now=1000.0)
    assert settler.due() == 1002.0


def test_scan_sees_names_only_and_descends_when_recursive(tmp_path: Path) -> None:
    (tmp_path / "a.nbib").write_text("x")
    (tmp_path / "b.txt.part").write_text("x")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "c.nbib").write_text("x")
    os.mkfifo(tmp_path / "pipe.nbib")  # listed (by name); the daemon never opens it
    assert [p.name for p in scan(tmp_path, PATTERNS, recursive=False)] == ["a.nbib", "pipe.nbib"]
    assert [p.name for p in scan(tmp_path, PATTERNS, recursive=True)] == [
        "a.nbib",
        "pipe.nbib",
        "c.nbib",
    ]
