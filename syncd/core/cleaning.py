"""Small value cleaners the mapping needs: names, ISSN/ISBN, page ranges, whitespace.

Several of them reproduce exactly what Zotero's own import does (the ``cleanAuthor``,
``cleanISSN``, ``cleanISBN`` utilities of ``Zotero.Utilities`` and the page-range expansion of
its ``MEDLINEnbib.js`` translator), so that the ``zotero`` mapping profile matches Zotero item
for item; where Zotero has a bug, the function says so and a sibling without the bug serves the
``enhanced`` profile.

JavaScript details that matter for byte-equality: ``\\d`` and ``\\b`` are ASCII-only there, so
the patterns below use ``[0-9]`` and the ``re.ASCII`` flag.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

# --- whitespace -----------------------------------------------------------------------------


_SPACE_RUN: Final = re.compile(r"[ \t\n\r\f\v\xa0]+")
_SPACES: Final = " \t\n\r\f\v\xa0"


def has_odd_spaces(text: str) -> bool:
    """Whether :func:`collapse` would change more than the ends of ``text``."""
    return (
        "  " in text
        or "\t" in text
        or "\xa0" in text
        or "\n" in text
        or "\r" in text
        or "\f" in text
        or "\v" in text
    )


def collapse(text: str) -> str:
    """Every run of spaces, tabs, line breaks and no-break spaces as one space, ends trimmed
    (Zotero's ``trimInternal`` for the whitespace MEDLINE text contains).

    Other Unicode spaces (thin, ideographic) are typography inside a value and stay. The
    common case, nothing to collapse, costs a few memchr-fast scans: this runs on every value.
    """
    if (
        "\t" in text
        or "\xa0" in text
        or "\n" in text
        or "\r" in text
        or "\f" in text
        or "\v" in text
    ):
        return _SPACE_RUN.sub(" ", text).strip(_SPACES)
    # Only spaces: str.replace is much faster than a regex over a long abstract.
    while "  " in text:
        text = text.replace("  ", " ")
    return text.strip(" ")


# --- names ----------------------------------------------------------------------------------


# (first name, last name), split the way Zotero stores them. A plain tuple: building a
# NamedTuple costs a Python-level call, and names are the mapping's hottest path.
Name = tuple[str, str]


_EDGE_JUNK: Final = " \t\n\r\f\v\xa0.,/[]:"
_FIRST_SPACE_RUN: Final = re.compile(r"[\s\xa0]+")
_DOT_BEFORE_NONSPACE: Final = re.compile(r"\.([^ ])")
_COMMA_SPLIT: Final = re.compile(r"[,،] ?")
_ALL_CAPS: Final = re.compile(r"^[A-Z\u0400-\u042f]+$")
_INITIAL: Final = re.compile(r"^-?[A-Z\u0400-\u042f]$")
_DASH_SPACES: Final = re.compile(r"\s*([\u002d\u00ad\u2010-\u2015\u2212\u2e3a\u2e3b])\s*")
_NAME_PARTS: Final = re.compile(r"(?:[\s.]+|(?=-))")
_SUFFIXES: Final = frozenset({"Jr", "Sr", "II", "III", "IV", "V", "2nd", "3rd", "4th"})


def _is_initial(token: str, unicode_initials: bool) -> bool:
    if unicode_initials:
        letter = token[1:] if token.startswith("-") else token
        return len(letter) == 1 and letter.isupper()
    return _INITIAL.match(token) is not None


def clean_author(value: str, use_comma: bool, *, unicode_initials: bool = False) -> Name:
    """Split a personal name as Zotero's ``cleanAuthor`` does.

    ``use_comma``: the name is ``Last, First`` (Zotero passes ``value.includes(",")``).
    Initials get periods (``M J`` → ``M. J.``, ``JA`` → ``J. A.``, ``J-P`` → ``J.-P.``); a
    third comma part (``Smith, John, Jr``) is dropped. Zotero only treats A-Z and Cyrillic
    capitals as initials (``É`` gets no period); ``unicode_initials=True`` treats every
    upper-case letter as one (the enhanced profile).
    """
    if (
        use_comma
        and value.count(",") == 1
        and "." not in value
        and "  " not in value
        and value.isprintable()  # no tabs, NBSP or other whitespace but " "
        and "،" not in value
    ):
        # Most MEDLINE full names ("Last, First M") have nothing for the general path below
        # to clean: one comma then a space, given names of letters and single spaces.
        last, sep, first = value.partition(", ")
        if (
            sep
            and last
            and last[0] not in _EDGE_JUNK
            and first.replace(" ", "").isalpha()
            and (unicode_initials or first.isascii())  # then isupper() is "an initial"
        ):
            if len(first) < 4 and first.isupper() and " " not in first:
                if len(first) == 1 or last.upper() != last:
                    return (" ".join([f"{c}." for c in first]), last)
                return (first, last)
            if " " in first:
                parts = first.split(" ")
                first = " ".join([f"{t}." if len(t) == 1 and t.isupper() else t for t in parts])
            return (first, last)
    return _clean_author(value, use_comma, unicode_initials)


def _clean_author(value: str, use_comma: bool, unicode_initials: bool) -> Name:
    author = value.strip(_EDGE_JUNK)
    author = _FIRST_SPACE_RUN.sub(" ", author, count=1)
    first = ""
    if use_comma:
        author = _DOT_BEFORE_NONSPACE.sub(r". \1", author, count=1)
        parts = _COMMA_SPLIT.split(author)
        if len(parts) > 1:
            last, first = parts[0], parts[1]
        else:
            last = author
    else:
        # "First Last"; the last name is the last word that starts with a letter.
        space = len(author)
        while True:
            space = author.rfind(" ", 0, space)
            last = author[space + 1 :]
            first = author[:space] if space >= 0 else ""
            if (last[:1].isalpha()) or space <= 0:
                break
    if (
        first
        and len(first) < 4
        and (_ALL_CAPS.match(first) or (unicode_initials and first.isalpha() and first.isupper()))
        and (len(first) == 1 or last.upper() != last)
    ):
        first = " ".join(f"{c}." for c in first)  # "JA" -> "J. A."
    if first:
        tidy = _DASH_SPACES.sub("-", first.lstrip(" \t\n\r\f\v.").rstrip(" \t\n\r\f\v,"), count=1)
        tokens = _NAME_PARTS.split(tidy)
        if tokens and tokens[0] == "" and tidy.startswith("-"):
            tokens = tokens[1:]  # JavaScript's split drops an empty match at the start
        out = "".join(
            f"{tok}. " if _is_initial(tok, unicode_initials) else f"{tok} " for tok in tokens
        )
        first = out.replace(" -", "-").strip()
    return (first, last)


def name_suffix(value: str) -> str | None:
    """The generational suffix of a ``Last, First, Jr`` name (``Jr``), or None."""
    parts = value.split(",")
    if len(parts) >= 3:
        suffix = parts[2].strip().rstrip(".")
        if suffix in _SUFFIXES:
            return suffix
    return None


# --- ISSN / ISBN ----------------------------------------------------------------------------

_DASHES: Final = re.compile(r"[\u002d\u00ad\u2010-\u2015\u2043\u2212]+")
_ISSN: Final = re.compile(r"\b(?:[0-9]\s*){7}[0-9X]\b", re.ASCII)
_ISBN: Final = re.compile(r"\b(?:97[89]\s*(?:[0-9]\s*){9}[0-9]|(?:[0-9]\s*){9}[0-9X])\b", re.ASCII)
_SPACE: Final = re.compile(r"\s+")
_PLAIN_ISSN: Final = re.compile(r"([0-9]{4})-([0-9]{3}[0-9X])(?![0-9A-Za-z])", re.ASCII)


def _issn_check(digits: str) -> str:
    total = sum(int(d) * (8 - i) for i, d in enumerate(digits[:7]))
    check = (11 - total % 11) % 11
    return "X" if check == 10 else str(check)


@lru_cache(maxsize=4096)  # an export repeats the same few hundred journals' ISSNs
def clean_issn(value: str) -> str | None:
    """The first ISSN in ``value`` whose check digit is right, as ``NNNN-NNNN``; else None."""
    if (m := _PLAIN_ISSN.match(value)) and _issn_check(m.group(1) + m.group(2)) == m.group(2)[3]:
        return m.group(0)[:9]  # "1738-1088 (Print)": the usual MEDLINE form
    text = _DASHES.sub("", value.upper())
    for m in _ISSN.finditer(text):
        digits = _SPACE.sub("", m.group(0))
        if digits[7] == _issn_check(digits):
            return f"{digits[:4]}-{digits[4:]}"
    return None


def clean_isbn(value: str) -> str | None:
    """The first ISBN-10/13 in ``value`` with a valid checksum, digits only; else None."""
    text = _DASHES.sub("", value.upper())
    for m in _ISBN.finditer(text):
        isbn = _SPACE.sub("", m.group(0))
        if len(isbn) == 10:
            total = sum((10 - i) * (10 if c == "X" else int(c)) for i, c in enumerate(isbn))
            if total % 11 == 0:
                return isbn
        elif len(isbn) == 13:
            total = sum(int(c) * (3 if i % 2 else 1) for i, c in enumerate(isbn))
            if total % 10 == 0:
                return isbn
    return None


# --- pages ----------------------------------------------------------------------------------

_RANGE: Final = re.compile(r"([0-9]+)-([0-9]+)")


def expand_pages_zotero(pages: str) -> str:
    """MEDLINE's abbreviated ranges expanded exactly as Zotero's importer does, bugs included.

    ``475-82`` → ``475-482``. Zotero rebuilds the result from the *original* string for every
    range it expands and shifts its search position by the length difference, so with two
    abbreviated ranges only the last one is expanded (``12-4, 20-5`` → ``12-4, 20-25``) and
    ``101-1`` becomes ``101-101``.
    """
    result: str | None = None
    pos = 0
    while (m := _RANGE.search(pages, pos)) is not None:
        start, end = m.group(1), m.group(2)
        pos = m.end()
        diff = len(start) - len(end)
        if diff > 0:
            new = f"{start}-{start[:diff]}{end}"
            result = pages[: m.start()] + new + pages[m.end() :]
            pos += len(new) - len(m.group(0))
    return result if result is not None else pages


def _expand_one(m: re.Match[str]) -> str:
    start, end = m.group(1), m.group(2)
    diff = len(start) - len(end)
    if diff > 0:
        end = start[:diff] + end
    if end == start:
        return start
    if int(end) < int(start):
        return m.group(0)  # not an abbreviation we understand: leave it alone
    return f"{start}-{end}"


def expand_pages(pages: str) -> str:
    """Every abbreviated range expanded (``12-4, 20-5`` → ``12-14, 20-25``; ``101-1`` → ``101``)."""
    if "-" not in pages:
        return pages
    if m := _RANGE.fullmatch(pages):  # the usual "475-82"
        return _expand_one(m)
    return _RANGE.sub(_expand_one, pages)
