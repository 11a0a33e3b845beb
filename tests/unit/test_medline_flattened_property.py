"""Issue 8 §3: a record whose line breaks were lost converts to the same item as the record
itself, for every record of every shared conformance file and bundled example, and for
generated records.

Flattening joins every line break, with the blanks around it (a continuation's indentation,
a wrapped line's trailing space), into one space, as a copy from a web page or a PDF does.
Items must be equal in the enhanced profile, and equal after collapsing runs of whitespace in
the zotero profile (Zotero keeps a wrapped line's trailing space, which a flattened copy cannot
have; Zotero's own tests compare that way).
"""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.mapping import MappingOptions, map_record
from syncd.core.medline import parse
from syncd.core.records import MedlineRecord
from tests.conftest import EXAMPLES, SHARED, shared_path
from tests.unit.medline_strategies import book_record, layout, pubmed_record

_BREAK = re.compile(r"[ \t]*(?:\r\n|\r|\n)[ \t]*")
_SPACES = re.compile(r"\s+")
ENHANCED = MappingOptions()
ZOTERO = MappingOptions(profile="zotero")


def flatten(text: str) -> str:
    return _BREAK.sub(" ", text).strip()


def squashed(value: Any) -> Any:
    if isinstance(value, str):
        return _SPACES.sub(" ", value).strip()
    if isinstance(value, list):
        return [squashed(v) for v in value]
    if isinstance(value, dict):
        return {k: squashed(v) for k, v in value.items()}
    return value


def records_of(text: str, source: str) -> list[MedlineRecord]:
    return [o for o in parse([text], source) if isinstance(o, MedlineRecord)]


def record_texts(path: Path) -> list[tuple[str, MedlineRecord]]:
    """Each record of ``path`` with its own text: its lines up to the next record or blank
    line."""
    text = path.read_text(encoding="utf-8-sig", errors="replace")
    lines = re.split(r"\r\n|\r|\n", text)
    recs = records_of(text, str(path))
    out = []
    for k, rec in enumerate(recs):
        end = recs[k + 1].line - 1 if k + 1 < len(recs) else len(lines)
        own = lines[rec.line - 1 : end]
        if "" in own:
            own = own[: own.index("")]
        out.append(("\n".join(own), rec))
    return out


def files() -> list[Path]:
    found = sorted(EXAMPLES.glob("*.nbib"))
    conformance = SHARED / "conformance"
    if conformance.is_dir():
        found += sorted(
            p
            for p in conformance.rglob("*")
            if p.is_file() and p.suffix not in (".md", ".json", ".bib") and p.name[0] != "."
        )
    return found


def assert_same_items(record: MedlineRecord, flat: list[MedlineRecord], where: str) -> None:
    assert len(flat) == 1, f"{where}: {len(flat)} records from the flattened text"
    for options in (ENHANCED, ZOTERO):
        want, _ = map_record(record, options)
        got, _ = map_record(flat[0], options)
        if options is ZOTERO:
            want, got = squashed(want), squashed(got)
        assert got == want, f"{where} ({options.profile})"


@pytest.mark.parametrize("path", files(), ids=lambda p: f"{p.parent.name}/{p.name}")
def test_every_shared_record_flattened_converts_to_the_same_item(path: Path) -> None:
    if path.name.endswith("-flattened.nbib"):
        pytest.skip("already flattened")
    for text, record in record_texts(path):
        flat = records_of(flatten(text), "flat")
        assert_same_items(record, flat, f"{path.name}:{record.line}")


def test_the_shared_files_are_there() -> None:
    shared_path("conformance")
    assert len(files()) > 40


@given(st.one_of(pubmed_record(), book_record()), st.integers(20, 80), st.booleans())
def test_generated_records_flattened_convert_to_the_same_item(
    fields: list[tuple[str, str]], width: int, trailing: bool
) -> None:
    text = layout(fields, width, trailing)
    (record,) = records_of(text, "t")
    assert_same_items(record, records_of(flatten(text), "flat"), "generated")


BOOK_CHAPTER = """\
PMID- 20301770
STAT- Publisher
DRDT- 20130627
PB  - University of Washington, Seattle
DP  - 1993
TI  - Feingold Syndrome 1.
BTI - GeneReviews(R)
CTI - Feingold Syndrome 1
EN  - 2nd
ISBN- 978-0-12-345678-9
CP  - Seattle (WA)
LID - NBK7102 [bookaccession]
AB  - CLINICAL CHARACTERISTICS: Feingold syndrome 1 is characterized by digital
      anomalies.
FED - Adam, Margaret P
ED  - Adam MP
FAU - Marcelis, Carlo LM
AU  - Marcelis CLM
LA  - eng
PT  - Book Chapter
TT  - Syndrome de Feingold.
PL  - Seattle (WA)
MH  - *tau Proteins/metabolism
MH  - beta-Alanine
EDAT- 2010/03/20 06:00
AID - NBK7102 [bookaccession]
"""


@pytest.mark.parametrize("collapse", [False, True], ids=["line breaks lost", "all collapsed"])
def test_book_chapter_translated_title_and_lower_case_mesh(collapse: bool) -> None:
    # The shapes issue 8 §3 names: BTI, CTI, ED/FED, ISBN, PB, PL, CP, EN, LID; TT; "*tau ...".
    flat = _SPACES.sub(" ", BOOK_CHAPTER).strip() if collapse else flatten(BOOK_CHAPTER)
    (record,) = records_of(BOOK_CHAPTER, "t")
    (again,) = records_of(flat, "flat")
    assert list(again.pairs()) == [(t, squashed(v)) for t, v in record.pairs()]
    assert_same_items(record, [again], "book chapter")
