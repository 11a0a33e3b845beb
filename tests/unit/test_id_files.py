"""PMID lists and PubMed CSV: recognised by content and read with their lines, whatever the
BOM, line ends, blank lines and quoting (Hypothesis writes them every way PubMed might)."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.id_files import (
    CSV_COLUMNS,
    CSV_HEADER,
    Kind,
    read_pmid_list,
    read_pubmed_csv,
    sniff,
)
from syncd.core.identity import normalize_doi

pmids = st.integers(min_value=1, max_value=999_999_999)
ends = st.sampled_from(["\n", "\r\n"])


@given(
    st.lists(st.tuples(pmids, st.integers(0, 2)), min_size=1, max_size=40),
    ends,
    st.booleans(),
    st.booleans(),
)
def test_a_pmid_list_is_read_with_its_lines(
    rows: list[tuple[int, int]], end: str, bom: bool, zeros: bool
) -> None:
    lines: list[str] = []
    expected: list[tuple[str, int]] = []
    for pmid, blanks in rows:
        lines += [""] * blanks
        lines.append(f"  {pmid:09d} " if zeros else str(pmid))
        expected.append((str(pmid), len(lines)))
    text = ("\ufeff" if bom else "") + end.join(lines) + end
    assert sniff(text) is Kind.PMID_LIST
    got = read_pmid_list(text, "f.txt")
    assert [(e.ids.pmid, e.line) for e in got] == expected
    assert all(e.where == f"f.txt:{e.line}" for e in got)


@pytest.mark.parametrize(
    "text",
    ["", "\n\n", "12345\nabc\n", "1234567890\n", "0\n", "PMID- 123\nTI  - x\n", "12 34\n"],
)
def test_other_text_is_no_pmid_list(text: str) -> None:
    assert sniff(text, whole=True) is None
    with pytest.raises(ValueError):
        read_pmid_list(text, "f.txt")


def test_a_head_cut_in_the_middle_of_a_line_still_sniffs() -> None:
    assert sniff("123\n4567\n89") is Kind.PMID_LIST
    assert sniff("123\n4567\nPMI") is None


cells = st.text(
    alphabet=st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00\r"),
    max_size=20,
)


def _csv_cell(value: str, quote: bool) -> str:
    if quote or any(c in value for c in ',"\n'):
        return '"' + value.replace('"', '""') + '"'
    return value


@given(
    st.lists(
        st.tuples(
            pmids,
            cells,
            st.one_of(st.none(), st.from_regex(r"10\.\d{4}/[a-z0-9.]{1,10}", fullmatch=True)),
        ),
        max_size=20,
    ),
    ends,
    st.booleans(),
    st.booleans(),
)
def test_a_pubmed_csv_is_read_with_its_lines(
    rows: list[tuple[int, str, str | None]], end: str, bom: bool, quote: bool
) -> None:
    header = ",".join(_csv_cell(c, quote) for c in CSV_COLUMNS)
    lines = [header]
    expected = []
    for pmid, title, doi in rows:
        values = [
            str(pmid),
            title,
            "A B.",
            "C",
            "A B",
            "J",
            "2021",
            "2021/03/01",
            "",
            "",
            doi or "",
        ]
        lines.append(",".join(_csv_cell(v, quote) for v in values))
        start = sum(line.count("\n") + 1 for line in lines[:-1]) + 1
        expected.append((str(pmid), normalize_doi(doi), start))
    text = ("\ufeff" if bom else "") + end.join(lines) + end
    assert sniff(text) is Kind.PUBMED_CSV
    got = read_pubmed_csv(text, "f.csv")
    assert [(e.ids.pmid, e.ids.doi, e.line) for e in got] == expected
    assert all(e.error is None for e in got)


def test_a_csv_row_whose_pmid_is_not_one_is_a_failed_entry() -> None:
    text = CSV_HEADER + '\n"abc",t,,,,,,,,,10.1000/x\n,t,,,,,,,,,\n"7",t,,,,,,,PMC0012,,\n'
    got = read_pubmed_csv(text, "f.csv")
    assert [(e.line, e.error) for e in got] == [
        (2, "the PMID cell 'abc' is not a PMID"),
        (3, "the PMID cell is empty"),
        (4, None),
    ]
    assert got[0].ids.doi == "10.1000/x" and got[2].ids.pmcid == "PMC12"


def test_another_csv_is_not_a_pubmed_csv() -> None:
    assert sniff("PMID,Title,Authors\n1,x,y\n") is None
    with pytest.raises(ValueError):
        read_pubmed_csv("a,b\n1,2\n", "f.csv")
