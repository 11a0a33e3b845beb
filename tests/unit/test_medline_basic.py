"""Basic behaviour of the MEDLINE reader on well-formed input."""

from __future__ import annotations

from syncd.core.medline import parse
from syncd.core.records import MedlineRecord, Problem

TWO = """
PMID- 1
TI  - A title that is long
      and wraps.
FAU - Doe, Jane
FAU - Roe, Richard
MH  - Humans

PMID- 2
TI  - Second.
"""


def test_two_records_with_continuation_and_repeats() -> None:
    out = list(parse(TWO.splitlines(keepends=True), "two.nbib"))
    assert [type(o) for o in out] == [MedlineRecord, MedlineRecord]
    first, second = out
    assert isinstance(first, MedlineRecord) and isinstance(second, MedlineRecord)
    assert first.get("TI") == "A title that is long and wraps."
    assert first.getall("FAU") == ["Doe, Jane", "Roe, Richard"]
    assert (first.source, first.line, second.line) == ("two.nbib", 2, 9)
    assert first.line_of("MH") == 7


def test_record_without_pmid_or_title_is_a_problem_with_its_line() -> None:
    out = list(parse(["\n", "AU  - Doe J\n", "\n", "PMID- 3\n"], "x.nbib"))
    assert isinstance(out[0], Problem)
    assert str(out[0]).startswith("x.nbib:2: ")
    assert isinstance(out[1], MedlineRecord) and out[1].get("PMID") == "3"
