"""The file edge of the reader: read_path, iter_export_files, and real export files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from syncd.core.records import MedlineRecord, Problem
from syncd.errors import InputError
from syncd.reading import iter_export_files, read_path
from tests.conftest import EXAMPLES, shared_path


def split(path: Path) -> tuple[list[MedlineRecord], list[Problem]]:
    out = list(read_path(path))
    return (
        [o for o in out if isinstance(o, MedlineRecord)],
        [o for o in out if isinstance(o, Problem)],
    )


def test_read_path_streams_a_file(tmp_path: Path) -> None:
    path = tmp_path / "a.nbib"
    path.write_bytes(b"\xef\xbb\xbf\r\nPMID- 1\r\nTI  - One\r\n\r\nPMID- 2\r\nTI  - Two")
    recs, problems = split(path)
    assert problems == []
    assert [(r.get("PMID"), r.source, r.line) for r in recs] == [
        ("1", str(path), 2),
        ("2", str(path), 5),
    ]


def test_missing_file_directory_and_not_medline_are_input_errors(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="cannot read") as info:
        list(read_path(tmp_path / "missing.nbib"))
    assert info.value.source == str(tmp_path / "missing.nbib")
    with pytest.raises(InputError, match="is a directory"):
        list(read_path(tmp_path))
    html = tmp_path / "page.txt"
    html.write_text("<html><body>Not an export</body></html>\n")
    with pytest.raises(InputError, match="not a MEDLINE/PubMed export"):
        list(read_path(html))
    empty = tmp_path / "empty.nbib"
    empty.write_bytes(b"")
    with pytest.raises(InputError, match="empty"):
        list(read_path(empty))


def test_iter_export_files_expands_directories_sorted(tmp_path: Path) -> None:
    for name in ["b.nbib", "a.TXT", "c.medline", "notes.pdf", ".hidden.nbib"]:
        (tmp_path / name).write_text("PMID- 1\n")
    (tmp_path / "sub").mkdir()
    single = tmp_path / "sub" / "x.nbib"
    single.write_text("PMID- 2\n")
    got = list(iter_export_files([tmp_path, single]))
    assert [p.name for p in got] == ["a.TXT", "b.nbib", "c.medline", "x.nbib"]
    with pytest.raises(InputError, match="no such file"):
        list(iter_export_files([tmp_path / "nope"]))


def test_every_example_is_a_valid_export() -> None:
    files = list(iter_export_files([EXAMPLES]))
    assert len(files) >= 3
    for path in files:
        recs, problems = split(path)
        assert recs, path
        assert all(p.severity == "warning" for p in problems), (path, problems)


def test_pubmed_sample_has_what_the_demo_needs() -> None:
    recs, problems = split(EXAMPLES / "pubmed-sample.nbib")
    assert problems == []
    assert 5 <= len(recs) <= 10
    assert len({r.get("PMID") for r in recs}) == len(recs)
    assert any("Book Chapter" in r.getall("PT") for r in recs)
    assert any(r.get("CN") for r in recs)
    assert any(
        not any(v.endswith("[doi]") for v in r.getall("AID") + r.getall("LID")) for r in recs
    )


CONFORMANCE = [
    ("medline-nbib", "01-input.nbib", 1),
    ("medline-nbib", "02-input.nbib", 2),
    ("medline-nbib", "03-input.nbib", 1),
    ("medline-nbib", "04-input.nbib", 1),
    ("medline-nbib", "05-input.nbib", 3),
    ("medline-nbib", "06-input.nbib", 1),
    ("medline-nbib", "07-input.nbib", 4),
    ("medline-nbib", "08-input.nbib", 2),
    ("medline-nbib", "09-input.nbib", 1),
    ("medline-nbib-derived", "01-input.nbib", 1),
    ("medline-nbib-derived", "02-input.nbib", 1),
    ("medline-nbib-derived", "03-input.nbib", 3),
    ("medline-nbib-derived", "06-input.nbib", 3),
    ("medline-nbib-derived", "07-input.nbib", 1),
    ("medline-nbib-derived", "08-input.nbib", 10),
    ("medline-nbib-derived", "09-input.nbib", 1),
    ("biopython-medline", "pubmed_result1.txt", 1),
    ("biopython-medline", "pubmed_result2.txt", 4),
    ("biopython-medline", "pubmed_result3.txt", 1),
]


@pytest.mark.parametrize(("folder", "name", "count"), CONFORMANCE, ids=lambda x: str(x))
def test_conformance_inputs_read_without_problems(folder: str, name: str, count: int) -> None:
    recs, problems = split(shared_path("conformance", folder, name))
    # (Zotero's case 01 has the PMID 000000000000, which is none: issue 8 §2)
    assert [p.message for p in problems] == (
        [
            "PMID '000000000000' is not a PMID (1 to 9 digits): ignored, the record is read and "
            "identified without it"
        ]
        if (folder, name) == ("medline-nbib", "01-input.nbib")
        else []
    )
    assert len(recs) == count
    assert all(r.get("PMID") or r.get("TI") or r.get("BTI") for r in recs)


def test_derived_awkward_inputs() -> None:
    # 04: preamble skipped (warning), whitespace-only line is a continuation, records without
    # a blank line between them are split at the second PMID (Zotero would merge them).
    recs, problems = split(shared_path("conformance", "medline-nbib-derived", "04-input.nbib"))
    assert [p.severity for p in problems] == ["warning"] and problems[0].line == 1
    assert [(r.get("PMID"), r.get("TI"), r.line) for r in recs] == [
        ("1", "A", 2),
        ("2", "B", 6),
        ("3", "C", 11),
    ]
    assert recs[0].get("AU") == "X Y"
    # 05: a record whose line breaks were lost is recovered (Zotero keeps one garbage field).
    recs, problems = split(shared_path("conformance", "medline-nbib-derived", "05-input.nbib"))
    (rec,) = recs
    assert [p.severity for p in problems] == ["warning"]
    assert list(rec.pairs()) == [
        ("PMID", "37424412"),
        ("OWN", "NLM"),
        ("STAT", "PubMed-not-MEDLINE"),
        ("LR", "20230901"),
        ("IS", "1738-1088 (Print)"),
        ("TI", "One line title."),
        ("FAU", "Kim, Min"),
        ("AU", "Kim M"),
    ]


@pytest.mark.parametrize("case", [f"{n:02d}" for n in range(1, 10)])
def test_values_are_exactly_zoteros(case: str) -> None:
    # Zotero copies TI, AB, CI, VI and IP verbatim into title, abstractNote, rights, volume and
    # issue, so its expected items pin our values down exactly (double spaces included).
    folder = shared_path("conformance", "medline-nbib")
    recs, _ = split(folder / f"{case}-input.nbib")
    items = json.loads((folder / f"{case}-expected.json").read_text(encoding="utf-8"))
    assert len(recs) == len(items)
    compared = 0
    for rec, item in zip(recs, items, strict=True):
        for tag, key in [
            ("TI", "title"),
            ("AB", "abstractNote"),
            ("CI", "rights"),
            ("VI", "volume"),
            ("IP", "issue"),
        ]:
            if rec.get(tag) is not None and key in item and not rec.get("BTI"):
                assert rec.last(tag) == item[key], (tag, key)
                compared += 1
    assert compared
