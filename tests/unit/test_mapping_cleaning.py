"""Value cleaners: Zotero's name splitting, ISSN/ISBN checks, page ranges, whitespace."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from syncd.core.cleaning import (
    _clean_author,
    clean_author,
    clean_isbn,
    clean_issn,
    collapse,
    expand_pages,
    expand_pages_zotero,
)
from syncd.core.languages import to_iso639_1


@pytest.mark.parametrize(
    ("value", "zotero", "unicode"),
    [
        ("van Raaij, M J", ("M. J.", "van Raaij"), None),
        ("Smith, JA", ("J. A.", "Smith"), None),
        ("ÖZTÜRK, AYŞE", ("AYŞE", "ÖZTÜRK"), None),
        ("Dupont, É", ("É", "Dupont"), ("É.", "Dupont")),
        ("Smith, J-P", ("J.-P.", "Smith"), None),
        ("Müller, Hans-Peter", ("Hans-Peter", "Müller"), None),
        ("Lee, J.", ("J.", "Lee"), None),
        ("Smith, John, Jr", ("John", "Smith"), None),
        ("Zhang, Wei (Will)", ("Wei (Will)", "Zhang"), None),
        ("Eggen, Theo J. H. M.", ("Theo J. H. M.", "Eggen"), None),
        ("Marcelis, Carlo LM", ("Carlo LM", "Marcelis"), None),
        ("Madonna", ("", "Madonna"), None),
        ("Collective Writers Group", ("Collective Writers", "Group"), None),
    ],
)
def test_clean_author(value: str, zotero: tuple[str, str], unicode: tuple[str, str] | None) -> None:
    assert clean_author(value, "," in value) == zotero
    assert clean_author(value, "," in value, unicode_initials=True) == (unicode or zotero)


name_text = st.text(
    st.sampled_from(list("AaBbÉéŁłZz ,.-'()\t\xa0،ЖжX")), min_size=0, max_size=16
) | st.from_regex(r"[A-Z][a-z]{1,8}( [A-Z][a-z]+)?, [A-Z][a-z]*( [A-Z]{1,3})?", fullmatch=True)


@given(name_text, st.booleans())
def test_fast_name_path_agrees_with_the_general_one(value: str, unicode: bool) -> None:
    assert clean_author(value, "," in value, unicode_initials=unicode) == _clean_author(
        value, "," in value, unicode
    )


@pytest.mark.parametrize(
    ("pages", "zotero", "fixed"),
    [
        ("S12-4", "S12-14", "S12-14"),
        ("12-4, 20-25", "12-14, 20-25", "12-14, 20-25"),
        ("12-4, 20-5", "12-4, 20-25", "12-14, 20-25"),  # Zotero expands only the last
        ("1234-56", "1234-1256", "1234-1256"),
        ("e1002", "e1002", "e1002"),
        ("iii-iv", "iii-iv", "iii-iv"),
        ("101-1", "101-101", "101"),
        ("23-8; discussion 28-30", "23-28; discussion 28-30", "23-28; discussion 28-30"),
        ("1234-5,67-8", "1234-1235,67-8", "1234-1235,67-68"),
    ],
)
def test_page_ranges(pages: str, zotero: str, fixed: str) -> None:
    assert expand_pages_zotero(pages) == zotero
    assert expand_pages(pages) == fixed


@given(st.from_regex(r"[0-9]{1,5}-[0-9]{1,5}(, [0-9]{1,5}-[0-9]{1,5})?", fullmatch=True))
def test_expanded_ranges_never_go_backwards_and_are_stable(pages: str) -> None:
    out = expand_pages(pages)
    assert expand_pages(out) == out
    for part in out.split(", "):
        if "-" in part:
            start, end = part.split("-")
            assert len(end) >= len(start) or int(end) < int(start)


@pytest.mark.parametrize(
    ("value", "want"),
    [
        ("0027-8424 (Print)", "0027-8424"),
        ("1476-5616 (Electronic)", "1476-5616"),
        ("2375-5636", "2375-5636"),
        ("0000-000x", "0000-0000") if False else ("1050-124X", "1050-124X"),
        ("1234-5678 (Print)", None),  # wrong check digit
        ("EISSN-2375-5636", None),  # Zotero needs the prefix removed first
        ("", None),
    ],
)
def test_clean_issn(value: str, want: str | None) -> None:
    assert clean_issn(value) == want


@given(st.from_regex(r"[0-9]{4}-[0-9]{3}[0-9X]( \((Print|Electronic|Linking)\))?", fullmatch=True))
def test_issn_fast_path_agrees_with_the_check_digit(value: str) -> None:
    digits = value[:4] + value[5:9]
    total = sum(int(d) * (8 - i) for i, d in enumerate(digits[:7]))
    check = (11 - total % 11) % 11
    valid = digits[7] == ("X" if check == 10 else str(check))
    assert clean_issn(value) == (value[:9] if valid else None)


def test_clean_isbn() -> None:
    assert clean_isbn("978-1-5985-7192-9") == "9781598571929"
    assert clean_isbn("ISBN 0-306-40615-2") == "0306406152"
    assert clean_isbn("978-1-5985-7192-8") is None


@pytest.mark.parametrize(
    ("text", "want"),
    [("a  b", "a b"), (" a\tb\n", "a b"), ("a\xa0 b", "a b"), ("plain", "plain"), ("", "")],
)
def test_collapse(text: str, want: str) -> None:
    assert collapse(text) == want


@given(st.text(st.sampled_from(list("ab \t\n\r\f\v\xa0\u2009"))))
def test_collapse_joins_whitespace_runs(text: str) -> None:
    out = collapse(text)
    assert "  " not in out and out == out.strip(" \t\n\r\f\v\xa0")
    assert not set(out) & set("\t\n\r\f\v\xa0")
    assert out.replace(" ", "") == "".join(c for c in text if c not in " \t\n\r\f\v\xa0")


def test_language_codes() -> None:
    assert [to_iso639_1(c) for c in ("eng", "fre", "ger", "chi", "jpn", "English")] == [
        "en", "fr", "de", "zh", "ja", "en",
    ]  # fmt: skip
    assert to_iso639_1(" und ") == "und"  # unknown codes are kept
