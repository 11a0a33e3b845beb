"""The MEDLINE reader on well-formed and awkward layouts (not flattened records, see
test_medline_flattened.py; not bytes and encodings, see test_medline_bytes.py)."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.medline import KNOWN_TAGS, parse, parse_bytes
from syncd.core.records import Field, MedlineRecord, Problem
from tests.unit.medline_strategies import layout, pubmed_record


def records(text: str, source: str = "t.nbib") -> list[MedlineRecord]:
    out = list(parse([text], source))
    assert all(isinstance(o, MedlineRecord) for o in out), [str(o) for o in out]
    return [o for o in out if isinstance(o, MedlineRecord)]


def reference(text: str) -> list[list[tuple[str, str, int]]]:
    """A plain line-by-line reading with Zotero's value rules, to check the fast reader
    against: tag lines start a field, other lines continue it, empty lines end a record, a
    PMID line starts a new one when the record so far has a PMID."""
    out: list[list[tuple[str, str, int]]] = []
    fields: list[list[object]] = []
    for n, line in enumerate(re.split(r"\r\n|\r|\n", text), 1):
        if line == "":
            if fields:
                out.append([(str(t), str(v).strip(), int(str(k))) for t, v, k in fields])
            fields = []
            continue
        m = re.match(r"([A-Z0-9]{2,4})[ \t]*-(.*)", line)
        if m:
            if m.group(1) == "PMID" and any(f[0] == "PMID" for f in fields):
                out.append([(str(t), str(v).strip(), int(str(k))) for t, v, k in fields])
                fields = []
            fields.append([m.group(1), m.group(2).strip(), n])
        elif fields:
            fields[-1][1] = f"{fields[-1][1]} {line.lstrip()}"
    if fields:
        out.append([(str(t), str(v).strip(), int(str(k))) for t, v, k in fields])
    return out


def as_tuples(recs: list[MedlineRecord]) -> list[list[tuple[str, str, int]]]:
    return [[tuple(f) for f in r.fields] for r in recs]  # type: ignore[misc]


# --- Zotero's value rules ------------------------------------------------------------------


def test_continuations_join_like_zotero() -> None:
    # First line trimmed (single space at the join), later wrapped lines keep their trailing
    # space (double space), leading indentation dropped, final value stripped.
    text = (
        "PMID- 1\n"
        "TI  - Mickey Mouse had an \n"
        "      O-some day!\n"
        "AB  - first line \n"
        "      the \n"
        "      third   \n"
        "CI  -\n"
        "      only continuation\n"
    )
    (rec,) = records(text)
    assert rec.get("TI") == "Mickey Mouse had an O-some day!"
    assert rec.get("AB") == "first line the  third"
    assert rec.get("CI") == "only continuation"


def test_value_is_text_after_the_first_dash() -> None:
    (rec,) = records("PMID- 1\nTI  -  A-B - C \nISSN - EISSN-2375-5636\nAB-x\n")
    assert rec.fields == (
        Field("PMID", "1", 1),
        Field("TI", "A-B - C", 2),
        Field("ISSN", "EISSN-2375-5636", 3),
        Field("AB", "x", 4),
    )


def test_whitespace_only_line_is_a_continuation() -> None:
    # As in Zotero: "      " inside a record adds a space, it does not end the record.
    (rec,) = records("PMID- 1\nTI  - A\n      \n      B\nAU  - X Y\n")
    assert rec.get("TI") == "A  B"
    assert rec.get("AU") == "X Y"


def test_repeatable_tags_keep_their_order() -> None:
    (rec,) = records("PMID- 1\nTI  - t\nAU  - B\nAU  - A\nAU  - C\nMH  - x\nAU  - D\n")
    assert rec.getall("AU") == ["B", "A", "C", "D"]
    assert rec.get("AU") == "B" and rec.last("AU") == "D"
    assert rec.getall("XX") == [] and rec.get("XX") is None and rec.last("XX") is None
    assert rec.line_of("MH") == 6 and rec.line_of("XX") == 1


@pytest.mark.parametrize("tag", sorted(KNOWN_TAGS))
def test_every_known_tag_is_read(tag: str) -> None:
    head = f"{tag:<4}- "
    text = f"PMID- 9\nTI  - t\n{head}value of {tag}\n      continued\n"
    out = list(parse([text], "t.nbib"))
    rec = out[-1]
    assert isinstance(rec, MedlineRecord)
    assert rec.last(tag) == f"value of {tag} continued"
    # (only a second PMID starts a record of its own, whose PMID is not one: a warning)
    assert [str(o) for o in out[1:-1]] == (
        [
            "t.nbib:3: PMID 'value of PMID continued' is not a PMID (1 to 9 digits): ignored, the "
            "record is read and identified without it"
        ]
        if tag == "PMID"
        else []
    )


# --- Layout: line endings, blank lines, junk ------------------------------------------------

TWO = "PMID- 1\nTI  - One\n      wrapped.\nAU  - A\n\nPMID- 2\nTI  - Two.\n"


@pytest.mark.parametrize("newline", ["\n", "\r\n", "\r"])
@pytest.mark.parametrize("final", [True, False])
def test_line_endings_and_missing_final_newline(newline: str, final: bool) -> None:
    text = TWO.replace("\n", newline)
    if not final:
        text = text.rstrip(newline)
    first, second = records(text)
    assert first.get("TI") == "One wrapped." and second.get("TI") == "Two."
    assert (first.line, second.line, second.line_of("TI")) == (1, 6, 7)


def test_many_blank_lines_and_leading_blank_lines() -> None:
    text = "\n\n" + TWO.replace("\n\n", "\n\n\n\n\n") + "\n\n\n"
    first, second = records(text)
    assert (first.line, first.line_of("AU"), second.line) == (3, 6, 11)


def test_line_numbers_follow_the_source() -> None:
    text = "\n" + TWO + "\nPMID- 3\nTI  - x\n      y\n      z\nAU  - q\n"
    recs = records(text)
    assert [r.line for r in recs] == [2, 7, 10]
    assert [f.line for f in recs[2].fields] == [10, 11, 14]


def test_lines_given_one_by_one_or_as_one_text_agree() -> None:
    text = "\n" + TWO
    by_line = list(parse(text.splitlines(keepends=True), "t"))
    without_endings = list(parse(text.split("\n"), "t"))
    assert by_line == list(parse([text], "t")) == without_endings


def test_leading_junk_is_skipped_with_a_warning() -> None:
    out = list(parse(["Search results\nItems: 1 to 2\n\nPMID- 1\nTI  - t\n"], "j.txt"))
    assert isinstance(out[0], Problem) and out[0].severity == "warning"
    assert str(out[0]).startswith("j.txt:1: skipped 2 lines before the first record")
    assert isinstance(out[1], MedlineRecord) and out[1].line == 4


def test_junk_between_records_is_reported_with_its_line() -> None:
    out = list(parse(["PMID- 1\nTI  - t\n\n<p>junk</p>\n\nPMID- 2\nTI  - u\n"], "j"))
    kinds = [type(o).__name__ for o in out]
    assert kinds == ["MedlineRecord", "Problem", "MedlineRecord"]
    assert out[1].line == 4 and out[1].severity == "warning"  # type: ignore[union-attr]
    assert out[2].line == 6  # type: ignore[union-attr]


def test_second_pmid_without_blank_line_starts_a_new_record() -> None:
    first, second = records("PMID- 1\nTI  - A\nPMID- 2\nTI  - B\n      b\nAU  - X\n")
    assert (first.get("PMID"), first.get("TI"), first.line) == ("1", "A", 1)
    assert (second.get("PMID"), second.get("TI"), second.line) == ("2", "B b", 3)
    assert second.line_of("AU") == 6


def test_record_without_pmid_or_title_is_an_error_and_others_still_come_out() -> None:
    out = list(parse(["PMID- 1\nTI  - a\n\nAU  - Doe J\nLA  - eng\n\nPMID- 3\n"], "x.nbib"))
    assert [type(o) for o in out] == [MedlineRecord, Problem, MedlineRecord]
    problem = out[1]
    assert isinstance(problem, Problem) and problem.severity == "error"
    assert str(problem).startswith("x.nbib:4: record has neither a PMID nor a title")


def test_eric_record_without_pmid_but_with_title() -> None:
    (rec,) = records("OWN - ERIC\nTI  - A report\nOID - ED576982\n")
    assert rec.get("TI") == "A report" and rec.get("PMID") is None


def test_records_across_chunk_boundaries() -> None:
    # Many records, fed as small pieces cut anywhere: the same records as in one piece.
    text = "".join(
        f"\nPMID- {i}\nTI  - title {i}\n      more\r\nAU  - A\r\n" for i in range(1, 501)
    )
    data = text.encode()
    pieces = [data[i : i + 7] for i in range(0, len(data), 7)]
    assert list(parse_bytes(pieces, "t")) == list(parse([text], "t"))
    assert len(records(text)) == 500


# --- Against the reference reading -----------------------------------------------------------


@given(st.lists(pubmed_record(), min_size=1, max_size=4), st.booleans(), st.integers(20, 80))
def test_fast_reader_agrees_with_line_by_line_reading(
    recs: list[list[tuple[str, str]]], trailing: bool, width: int
) -> None:
    text = "\n".join(layout(r, width, trailing) for r in recs)
    assert as_tuples(records(text)) == reference(text)


@given(
    st.lists(
        st.one_of(
            st.sampled_from(["", "   ", "PMID- 7", "TI  - x", "AU  -", "      cont ", "AB  - a  "]),
            st.text(alphabet="AB- \t\u00a0x", max_size=12),
        ),
        max_size=30,
    )
)
def test_fast_reader_agrees_on_odd_line_mixtures(lines: list[str]) -> None:
    text = "\n".join(lines)
    out = list(parse([text], "t"))
    got = [[tuple(f) for f in o.fields] for o in out if isinstance(o, MedlineRecord)]
    # The reference keeps records without PMID/title and has no junk; compare what both keep.
    want = [r for r in reference(text) if any(t in ("PMID", "TI", "BTI") for t, _, _ in r)]
    flattened_or_junk = any(isinstance(o, Problem) and "line breaks" in o.message for o in out)
    if not flattened_or_junk:
        assert got == want


def test_junk_after_several_blank_lines_has_its_own_line() -> None:
    out = list(parse(["PMID- 1\nTI  - t\n      u\n\n\n\njunk\n\nPMID- 2\nTI  - v\n"], "j"))
    assert [(type(o).__name__, o.line) for o in out] == [
        ("MedlineRecord", 1),
        ("Problem", 7),
        ("MedlineRecord", 9),
    ]
    assert out[2].line_of("TI") == 10  # type: ignore[union-attr]


@pytest.mark.parametrize(
    ("indent", "want"),
    [("      ", "a b c"), ("\t", "a b c"), ("        ", "a b c"), ("  ", "a b c"), ("", "a b c")],
)
def test_any_indentation_of_continuations_is_stripped(indent: str, want: str) -> None:
    (rec,) = records(f"PMID- 1\nTI  - a\n{indent}b\n{indent}c\n")
    assert rec.get("TI") == want


def test_no_break_space_at_the_end_of_a_value_is_stripped_like_zotero() -> None:
    (rec,) = records("PMID- 1\nTI  - a\u00a0\nAU  - X\n")
    assert rec.get("TI") == "a"


def test_text_with_a_bom_left_by_the_caller() -> None:
    (rec,) = records("\ufeffPMID- 1\nTI  - t\n")
    assert rec.get("PMID") == "1" and rec.line == 1
