"""Where a record starts (issue 8 §1) and what is a PMID (issue 8 §2)."""

from __future__ import annotations

import pytest

from syncd.core.identity import normalize_pmid, record_identifiers
from syncd.core.mapping import MappingOptions, map_record
from syncd.core.medline import parse
from syncd.core.records import MedlineRecord, Problem


def read(text: str) -> tuple[list[MedlineRecord], list[Problem]]:
    out = list(parse([text], "t.nbib"))
    return (
        [o for o in out if isinstance(o, MedlineRecord)],
        [o for o in out if isinstance(o, Problem)],
    )


# --- §1: a PMID line starts a record only when the record so far has a PMID -----------------

PMC_FIRST = """\
PMC - PMC6055010
PMID- 30042925
IS  - 2215-0161 (Electronic)
VI  - 5
DP  - 2018
TI  - A method package.
FAU - Kim, Jeongseop
AU  - Kim J

PMC - PMC6088416
PMID- 30123504
TI  - Role of gender.
"""


def test_pubmed_central_record_with_pmc_first_reads_whole() -> None:
    recs, problems = read(PMC_FIRST)
    assert problems == []
    assert [(r.get("PMC"), r.get("PMID"), r.line) for r in recs] == [
        ("PMC6055010", "30042925", 1),
        ("PMC6088416", "30123504", 10),
    ]
    assert record_identifiers(recs[0]).pmcid == "PMC6055010"
    assert recs[0].getall("FAU") == ["Kim, Jeongseop"]


@pytest.mark.parametrize("first", ["PT  - Book", "TI  - A book title", "AU  - Holman, A."])
def test_record_with_pmid_after_other_fields_reads_whole(first: str) -> None:
    text = f"{first}\nTI  - A book title\nPB  - Press\nPMID- 21730035\nAB  - Text.\n"
    (rec,), problems = read(text)
    assert problems == []
    assert rec.get("PMID") == "21730035" and rec.get("AB") == "Text." and rec.line == 1


def test_book_with_pt_first_stays_a_book() -> None:
    text = "PT  - Book\nPMID- 123\nBTI - A Handbook\nPB  - Press\nFED - Ed, Ann\n"
    (rec,), _ = read(text)
    item, _ = map_record(rec, MappingOptions())
    assert item["itemType"] == "book" and item["title"] == "A Handbook"


def test_second_pmid_in_a_record_that_has_one_still_starts_a_new_record() -> None:
    recs, problems = read("PMC - PMC1\nPMID- 1\nTI  - a\nPMID- 2\nTI  - b\n")
    assert problems == []
    assert [(r.get("PMID"), r.get("TI"), r.line) for r in recs] == [("1", "a", 1), ("2", "b", 4)]
    assert recs[1].line_of("TI") == 5


# --- §2: a PMID that is not 1-9 digits is no PMID ---------------------------------------------


@pytest.mark.parametrize(
    "value", ["bis_12345678", "nasa", "12345678a", "1234567890", "0", "000000000000", "１２３"]
)
def test_a_pmid_that_is_not_one_is_dropped_with_a_warning_naming_its_line(value: str) -> None:
    text = f"PMID- 1\nTI  - first\n\nTI  - Second article.\nPMID- {value}\nAID - 10.1000/x [doi]\n"
    recs, problems = read(text)
    assert len(recs) == 2
    assert [(p.line, p.severity) for p in problems] == [(5, "warning")]
    assert f"PMID {value!r} is not a PMID" in problems[0].message
    ids = record_identifiers(recs[1])
    assert ids.pmid is None and ids.doi == "10.1000/x"
    assert normalize_pmid(value) is None
    item, _ = map_record(recs[1], MappingOptions())
    assert "PMID" not in item.get("extra", "") and "pubmed" not in item.get("url", "")
    assert item["title"] == "Second article"


@pytest.mark.parametrize(
    ("value", "want"),
    [("12345678", "12345678"), ("000123", "123"), ("999999999", "999999999"), ("PMID: 42", "42")],
)
def test_real_pmids_stay(value: str, want: str) -> None:
    assert normalize_pmid(value) == want


def test_valid_pmids_give_no_warning() -> None:
    _, problems = read("PMID- 000123\nTI  - a\n\nPMID- 999999999\nTI  - b\n")
    assert problems == []
