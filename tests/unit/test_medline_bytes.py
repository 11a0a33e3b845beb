"""Reading exports from bytes: encodings, files that are not MEDLINE, and arbitrary garbage."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.medline import parse, parse_bytes
from syncd.core.records import MedlineRecord, Problem
from syncd.errors import InputError, SyncdError

RECORD = "PMID- 1\nTI  - Café au lait.\nFAU - Müller, Jürgen\n"


def chunked(data: bytes, size: int) -> list[bytes]:
    return [data[i : i + size] for i in range(0, len(data), size)]


def read(data: bytes, size: int = 1 << 20) -> list[MedlineRecord | Problem]:
    return list(parse_bytes(chunked(data, size), "in.nbib"))


@pytest.mark.parametrize("size", [1, 2, 3, 5, 1 << 20])
@pytest.mark.parametrize("bom", [b"", b"\xef\xbb\xbf"])
def test_utf8_with_or_without_bom_in_any_chunking(size: int, bom: bytes) -> None:
    (rec,) = read(bom + RECORD.encode("utf-8"), size)
    assert isinstance(rec, MedlineRecord)
    assert rec.get("PMID") == "1" and rec.get("TI") == "Café au lait."
    assert rec.get("FAU") == "Müller, Jürgen"


def test_utf16_with_bom() -> None:
    (rec,) = read(("\ufeff" + RECORD).encode("utf-16-le"), 7)
    assert isinstance(rec, MedlineRecord) and rec.get("FAU") == "Müller, Jürgen"


@pytest.mark.parametrize("size", [1, 4, 64, 1 << 20])
def test_cp1252_mid_file_falls_back_with_one_warning_and_right_lines(size: int) -> None:
    good = "\n".join(f"PMID- {i + 1}\nTI  - Naïve {i}\n" for i in range(30)).encode("utf-8")
    bad = "PMID- 99\nTI  - Caf\xe9 \u2013 cr\xe8me\nAB  - \u201cquoted\u201d\n".encode("cp1252")
    after = "\nPMID- 100\nTI  - Ünïcode read as cp1252\n".encode()
    out = read(good + b"\n" + bad + after, size)
    problems = [o for o in out if isinstance(o, Problem)]
    recs = [o for o in out if isinstance(o, MedlineRecord)]
    assert len(problems) == 1 and problems[0].severity == "warning"
    bad_line = good.count(b"\n") + 3  # the TI line of record 99
    assert str(problems[0]).startswith(f"in.nbib:{bad_line}: not valid UTF-8")
    assert "Windows-1252" in problems[0].message
    assert len(recs) == 32
    assert recs[29].get("TI") == "Naïve 29"  # before the bad byte: UTF-8
    assert recs[30].get("TI") == "Café – crème" and recs[30].get("AB") == "“quoted”"
    assert recs[30].line_of("TI") == bad_line
    assert recs[31].get("PMID") == "100" and recs[31].line == bad_line + 3


def test_undefined_cp1252_bytes_still_decode() -> None:
    out = read(b"PMID- 1\nTI  - a\x81b\x9dc\n")
    assert isinstance(out[-1], MedlineRecord) and out[-1].get("TI") == "a\x81b\x9dc"


def test_truncated_utf8_at_end_of_file() -> None:
    out = read("PMID- 1\nTI  - é".encode()[:-1])
    assert isinstance(out[0], Problem) and out[0].severity == "warning"
    assert isinstance(out[1], MedlineRecord) and out[1].get("TI") == "Ã"


@pytest.mark.parametrize(
    ("data", "why"),
    [
        (b"", "empty"),
        (b"\n\n  \r\n", "empty"),
        (b"%PDF-1.7\n%\xe2\xe3\xcf\xd3\n1 0 obj\n<< /Type /Catalog >>\nendobj\n", "MEDLINE tag"),
        (b"<!DOCTYPE html>\n<html><body><p>PubMed</p></body></html>\n", "MEDLINE tag"),
        (b"TY  - JOUR\nT1  - A RIS file\nER  - \n", "MEDLINE tag"),
        (bytes(range(256)) * 40, "MEDLINE tag"),
        (b"x" * (3 << 20), "first megabyte"),
    ],
)
def test_not_medline_is_one_input_error_naming_the_file(data: bytes, why: str) -> None:
    with pytest.raises(InputError) as info:
        read(data, 4096)
    assert info.value.source == "in.nbib"
    assert str(info.value).startswith("in.nbib: not a MEDLINE/PubMed export")
    assert why in str(info.value) and info.value.hint


def test_garbage_record_is_a_problem_and_the_rest_come_out() -> None:
    data = b"PMID- 1\nTI  - ok\n\nAU  - lonely\n\n\x00\x01garbage\n\nPMID- 2\nTI  - ok\n"
    out = read(data)
    kinds = [(type(o).__name__, getattr(o, "severity", None)) for o in out]
    assert kinds == [
        ("MedlineRecord", None),
        ("Problem", "error"),
        ("Problem", "warning"),
        ("MedlineRecord", None),
    ]
    assert [o.line for o in out] == [1, 4, 6, 8]


@given(st.binary(max_size=3000), st.integers(1, 600))
def test_arbitrary_bytes_give_records_problems_or_an_input_error(data: bytes, size: int) -> None:
    try:
        out = read(data, size)
    except SyncdError:
        return
    assert all(isinstance(o, (MedlineRecord, Problem)) for o in out)


@given(
    st.lists(
        st.one_of(
            st.text(max_size=40),
            st.sampled_from(["PMID- 12", "TI  - t", "AB  - PMID- 3 OWN - NLM", "      x", ""]),
        ),
        max_size=40,
    ),
    st.sampled_from(["\n", "\r\n", "\r"]),
)
def test_arbitrary_text_never_raises(lines: list[str], newline: str) -> None:
    text = newline.join(lines)
    out = list(parse([text], "t"))
    assert all(isinstance(o, (MedlineRecord, Problem)) for o in out)
    try:
        again = list(parse_bytes([text.encode("utf-8", "surrogatepass")], "t"))
    except SyncdError:
        return
    assert all(isinstance(o, (MedlineRecord, Problem)) for o in again)
    # Valid UTF-8 text gives the same records from bytes as from text.
    if not any(0xD800 <= ord(c) <= 0xDFFF for c in text):
        records = [o for o in out if isinstance(o, MedlineRecord)]
        assert [o for o in again if isinstance(o, MedlineRecord)] == records


def test_huge_line_without_newlines_does_not_hang() -> None:
    # Issue 8 §5: a field longer than MAX_FIELD fails its record; the rest is still read.
    out = read(b"PMID- 1\nAB  - " + b"word " * 2_000_000 + b"\n\nPMID- 2\nTI  - t\n", 1 << 16)
    assert [(type(o).__name__, o.line) for o in out] == [("Problem", 1), ("MedlineRecord", 4)]
    assert isinstance(out[0], Problem) and out[0].severity == "error"
    assert "too large" in out[0].message
